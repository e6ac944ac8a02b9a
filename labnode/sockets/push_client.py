"""DataPushClient: write values to a push socket (labnode's or PyExpLabSys's DataPushSocket)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .client import DateDataClient
from .errors import NodeError
from .protocol import MAX_DATAGRAM
from .push_protocol import PushReply, parse_push_reply
from .push_server import DEFAULT_PUSH_PORT

Value = float | int | bool | str


class WriteRefusedError(NodeError):
    """The push socket refused a write (``ERROR#...``) or its callback failed (``EXCEP#...``).

    ``kind`` is "ERROR" or "EXCEP", ``reason`` the text after ``#``, ``reply`` the whole reply.
    """

    def __init__(self, message: str, kind: str, reason: str, reply: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.reason = reason
        self.reply = reply


class DataPushClient:
    """A client for one push socket: ``write({"volt": 2.5})`` returns the ``ACK#...`` reply.

    Raises :class:`WriteRefusedError` when the socket refuses, ``NodeTimeoutError`` when it does
    not answer within ``timeout`` seconds, ``NodeUnreachableError`` when nothing listens.
    """

    def __init__(self, host: str, port: int = DEFAULT_PUSH_PORT, timeout: float = 2.0) -> None:
        self._client = DateDataClient(host, port, timeout=timeout)
        self.host = host
        self.port = port
        self.timeout = timeout

    @property
    def address(self) -> str:
        """``host:port`` of the push socket."""
        return self._client.address

    def request(self, command: str | bytes) -> PushReply:
        """Send one request and return its reply parsed (kind and text)."""
        text = self._client.request(command)
        try:
            return parse_push_reply(text.encode("ascii", errors="backslashreplace"))
        except ValueError:
            raise NodeError(
                f"{self.address} answered {text[:80]!r}, not a push reply; is it a push socket "
                "(default port 8500) rather than a data socket (9000)?"
            ) from None

    def write(self, values: Mapping[str, Value]) -> str:
        """Send ``json_wn#{...}`` and return the reply (``ACK#...``, or ``RET#...``) as text."""
        payload = "json_wn#" + json.dumps(_checked(values))
        if len(payload) > MAX_DATAGRAM:
            raise ValueError(
                f"{len(payload)} bytes of values do not fit one datagram; write fewer at once"
            )
        reply = self.request(payload)
        whole = f"{reply.kind}#{reply.text}"
        if reply.kind in ("ERROR", "EXCEP"):
            raise WriteRefusedError(
                f"{self.address} refused {_shown(values)}: {whole}", reply.kind, reply.text, whole
            )
        if not reply.ok:
            raise NodeError(f"{self.address} answered a write with {whole[:80]!r}")
        return whole

    def name(self) -> str:
        """The push socket's name."""
        return self._text("name")

    def commands(self) -> list[str]:
        """The commands the push socket knows."""
        return json.loads(self._text("commands"))

    def status(self) -> dict[str, Any]:
        """The push socket's ``status`` object."""
        reply = self.request("status")
        if reply.kind != "JSON":
            raise NodeError(f"{self.address} answered status with {reply.kind}#{reply.text[:60]}")
        return json.loads(reply.text)

    def _text(self, command: str) -> str:
        reply = self.request(command)
        if reply.kind != "RET":
            raise NodeError(f"{self.address} answered {command!r} with {reply.kind}#{reply.text}")
        return reply.text

    def close(self) -> None:
        """Close the client's socket."""
        self._client.close()

    def __enter__(self) -> DataPushClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _checked(values: Mapping[str, Value]) -> dict[str, Value]:
    """The values as a dict, or ValueError naming what the push protocol cannot carry."""
    if not isinstance(values, Mapping) or not values:
        raise ValueError(f"give the values as a non-empty mapping of name -> value, not {values!r}")
    for name, value in values.items():
        if not isinstance(name, str):
            raise ValueError(f"name {name!r} is not a string")
        if not isinstance(value, (bool, int, float, str)):
            raise ValueError(f"{name}={value!r}: a value must be a number, true/false or a string")
        for text in (name, value):
            if isinstance(text, str) and "#" in text:
                raise ValueError(
                    f"{name}={value!r}: '#' cannot be sent (the push protocol splits on it)"
                )
    return dict(values)


def _shown(values: Mapping[str, Value]) -> str:
    return ", ".join(f"{name}={value!r}" for name, value in values.items())
