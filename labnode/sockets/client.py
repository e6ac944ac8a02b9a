"""DateDataClient: ask a date-data node (labnode's or PyExpLabSys's) for its points."""

from __future__ import annotations

import json
import socket
from typing import Any, Literal

from .errors import (
    NodeError,
    NodeTimeoutError,
    NodeUnreachableError,
    OldDataError,
    ReplyTooLargeError,
    UnknownCommandError,
)
from .protocol import OLD_DATA, UNKNOWN_COMMAND
from .server import DEFAULT_PORT

#: Large enough for any UDP datagram, so one read always takes a whole reply.
RECEIVE_BUFFER = 65536

Point = tuple[float, float]


class DateDataClient:
    """A client for one node: ``get(codename)``, ``get_all()``, ``codenames()``, ``status()``.

    ``old_data='raise'`` (default) raises :class:`OldDataError` for a point the node reports as
    ``OLD_DATA``; ``old_data='none'`` returns None for it instead.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        timeout: float = 1.0,
        old_data: Literal["raise", "none"] = "raise",
    ) -> None:
        if old_data not in ("raise", "none"):
            raise ValueError(f"old_data={old_data!r}: use 'raise' or 'none'")
        self.host = host
        self.port = port
        self.timeout = timeout
        self.old_data = old_data
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            self._sock.connect((host, port))  # connected: only this node's replies are read
        except (socket.gaierror, UnicodeError) as error:
            self._sock.close()
            reason = getattr(error, "strerror", None) or error
            raise NodeUnreachableError(f"cannot resolve host {host!r}: {reason}") from None
        except OSError as error:
            self._sock.close()
            raise NodeUnreachableError(
                f"cannot reach udp {host}:{port}: {error.strerror}"
            ) from None

    @property
    def address(self) -> str:
        """``host:port`` of the node."""
        return f"{self.host}:{self.port}"

    def request(self, command: str | bytes) -> str:
        """Send one request and return the node's reply as text."""
        try:
            payload = command.encode("ascii") if isinstance(command, str) else command
        except UnicodeEncodeError:
            raise ValueError(f"request {command!r} is not ASCII; requests are ASCII text") from None
        self._drain()
        try:
            self._sock.settimeout(self.timeout)
            self._sock.send(payload)
            data = self._sock.recv(RECEIVE_BUFFER)
        except TimeoutError:
            raise NodeTimeoutError(
                f"no reply from udp {self.address} to {payload[:60]!r} within {self.timeout} s; "
                "is the node running, and is the host and port right?"
            ) from None
        except ConnectionRefusedError:
            raise NodeUnreachableError(
                f"nothing listens on udp {self.address} (port unreachable); start the node or "
                "check the port"
            ) from None
        text = data.decode("utf-8", errors="replace")
        if text.startswith("REPLY_TOO_LARGE"):
            raise ReplyTooLargeError(f"{self.address}: {text}")
        if data == UNKNOWN_COMMAND:
            raise UnknownCommandError(
                f"{self.address} answered UNKNOWN_COMMMAND to {payload[:60]!r}"
            )
        return text

    def _drain(self) -> None:
        """Discard late replies to earlier requests that timed out."""
        self._sock.setblocking(False)
        try:
            while True:
                self._sock.recv(RECEIVE_BUFFER)
        except (BlockingIOError, ConnectionRefusedError):
            pass

    def _json(self, command: str) -> Any:
        text = self.request(command)
        try:
            return json.loads(text)
        except ValueError:
            raise NodeError(
                f"{self.address} answered {command!r} with non-JSON {text[:80]!r}"
            ) from None

    def _point(self, codename: str, value: Any) -> Point | None:
        if value == OLD_DATA:
            if self.old_data == "raise":
                raise OldDataError(
                    f"{codename!r} on {self.address} is OLD_DATA: its last point is older than "
                    "its timeout (the instrument stopped updating)"
                )
            return None
        try:
            x, y = value
            return float(x), float(y)
        except (TypeError, ValueError):
            raise NodeError(
                f"{self.address} sent {value!r} for {codename!r}, not a point"
            ) from None

    def get(self, codename: str) -> Point | None:
        """Return ``(timestamp, value)`` of one codename."""
        return self._point(codename, self._json(f"{codename}#json"))

    def value(self, codename: str) -> float | None:
        """Return the value of one codename (no timestamp)."""
        point = self.get(codename)
        return None if point is None else point[1]

    def get_all(self) -> dict[str, Point | None]:
        """Return ``{codename: (timestamp, value)}`` for every codename of the node."""
        table = self._json("json_wn")
        if not isinstance(table, dict):
            raise NodeError(f"{self.address} answered json_wn with {type(table).__name__}")
        if self.old_data == "raise":
            old = [c for c, v in table.items() if v == OLD_DATA]
            if old:
                raise OldDataError(
                    f"{', '.join(map(repr, old))} on {self.address} are OLD_DATA; pass "
                    "old_data='none' to get the rest"
                )
        return {codename: self._point(codename, value) for codename, value in table.items()}

    def codenames(self) -> list[str]:
        """Return the node's codenames in order."""
        return list(self._json("codenames_json"))

    def name(self) -> str:
        """Return the node's name."""
        return self.request("name")

    def status(self) -> dict[str, Any]:
        """Return the node's ``status`` object."""
        return self._json("status")

    def close(self) -> None:
        """Close the client's socket."""
        self._sock.close()

    def __enter__(self) -> DateDataClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
