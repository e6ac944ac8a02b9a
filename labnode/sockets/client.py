"""DateDataClient: ask a date-data node (labnode's or PyExpLabSys's) for its points."""

from __future__ import annotations

import ipaddress
import re
import socket
from typing import Any, Literal

from . import pull_replies
from .errors import (
    NodeTimeoutError,
    NodeUnreachableError,
    OldDataError,
    UnknownCommandError,
)
from .pull_replies import ChannelInfo, Point, escape
from .server import DEFAULT_PORT

#: Large enough for any UDP datagram, so one read always takes a whole reply.
RECEIVE_BUFFER = 65536

#: A host whose every dot-separated part is a number (decimal or 0x hex) is an IPv4 address to
#: the resolver, which reads "1.2.3" as 1.2.0.3 and "017.0.0.1" as 15.0.0.1; such a host must be a
#: plain dotted quad. No real host name looks like this (top-level domains are not numeric).
_NUMERIC_HOST = re.compile(r"(?:\d*|0[xX][0-9a-fA-F]*)(?:\.(?:\d*|0[xX][0-9a-fA-F]*))*")


def check_host(host: str) -> socket.AddressFamily:
    """The address family for ``host``, refusing a numeric host that is not a plain address.

    ``1.2.3`` or ``127.1`` would silently become another address (1.2.0.3, 127.0.0.1), so a host
    made only of numbers and dots must be a dotted quad (checked with :mod:`ipaddress`), and a
    host with ``:`` must be an IPv6 address; host names are left to the resolver. Raises
    :class:`NodeUnreachableError` naming the host and the form to use.
    """
    if ":" in host:
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise NodeUnreachableError(
                f"host {escape(host)!r} is not an IPv6 address; write one such as ::1 or "
                "fe80::1%eth0"
            ) from None
        return socket.AF_INET6
    if host and _NUMERIC_HOST.fullmatch(host):
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            raise NodeUnreachableError(
                f"host {escape(host)!r} looks like an IPv4 address but is not one; write four "
                "decimal numbers 0-255 without leading zeros, e.g. 192.0.2.10 (the resolver "
                "would read 1.2.3 as 1.2.0.3)"
            ) from None
    return socket.AF_INET


class DateDataClient:
    """A client for one node: ``get(codename)``, ``get_all()``, ``codenames()``, ``status()``.

    ``old_data='raise'`` (default) raises :class:`OldDataError` for a point the node reports as
    ``OLD_DATA``; ``old_data='none'`` returns None for it instead. Every reply goes through
    :mod:`labnode.sockets.pull_replies`, so a malformed reply is a
    :class:`~labnode.sockets.pull_replies.BadReplyError` (a :class:`NodeError`), never a crash.
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
        family = check_host(host)  # before any socket exists: nothing is sent to a wrong host
        self.host = host
        self.port = port
        self.timeout = timeout
        self.old_data = old_data
        self._sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            self._sock.connect((host, port))  # connected: only this node's replies are read
        except (socket.gaierror, UnicodeError) as error:
            self._sock.close()
            reason = getattr(error, "strerror", None) or error
            raise NodeUnreachableError(f"cannot resolve host {escape(host)!r}: {reason}") from None
        except OSError as error:
            self._sock.close()
            raise NodeUnreachableError(
                f"cannot reach udp {self.address}: {error.strerror}"
            ) from None

    @property
    def address(self) -> str:
        """``host:port`` of the node (``[host]:port`` for IPv6), escaped for printing."""
        host = escape(self.host)
        return f"[{host}]:{self.port}" if ":" in host else f"{host}:{self.port}"

    def request_bytes(self, command: str | bytes) -> bytes:
        """Send one request and return the node's reply datagram as it came, unparsed."""
        try:
            payload = command.encode("ascii") if isinstance(command, str) else bytes(command)
        except UnicodeEncodeError:
            raise ValueError(
                f"request {escape(command)!r} is not ASCII; requests are ASCII text"
            ) from None
        self._drain()
        try:
            self._sock.settimeout(self.timeout)
            self._sock.send(payload)
            return self._sock.recv(RECEIVE_BUFFER)
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

    def request(self, command: str | bytes) -> str:
        """Send one request and return the node's reply as text.

        ``UNKNOWN_COMMMAND`` and ``REPLY_TOO_LARGE`` replies raise their typed errors; the
        text is otherwise as received (decoded as UTF-8): escape it before printing it.
        """
        data = self.request_bytes(command)
        request = command if isinstance(command, str) else command.decode("ascii", "replace")
        return pull_replies.check_reply(data, request, self.address).decode("utf-8", "replace")

    def ask(self, command: str) -> Any:
        """Send one request and return its reply parsed by :func:`pull_replies.parse_reply`."""
        return pull_replies.parse_reply(command, self.request_bytes(command), self.address)

    def _drain(self) -> None:
        """Discard late replies to earlier requests that timed out."""
        self._sock.setblocking(False)
        try:
            while True:
                self._sock.recv(RECEIVE_BUFFER)
        except (BlockingIOError, ConnectionRefusedError):
            pass

    def _old(self, codenames: list[str]) -> OldDataError:
        names = ", ".join(repr(escape(c)) for c in codenames)
        verb = "is" if len(codenames) == 1 else "are"
        return OldDataError(
            f"{names} on {self.address} {verb} OLD_DATA: the last point is older than its timeout "
            "(the instrument stopped updating); pass old_data='none' to get None instead"
        )

    def get(self, codename: str) -> Point | None:
        """Return ``(timestamp, value)`` of one codename."""
        request = f"{codename}#json"
        point = pull_replies.parse_point(self.request_bytes(request), request, self.address)
        if point is None and self.old_data == "raise":
            raise self._old([codename])
        return point

    def value(self, codename: str) -> float | None:
        """Return the value of one codename (no timestamp)."""
        point = self.get(codename)
        return None if point is None else point[1]

    def get_all(self) -> dict[str, Point | None]:
        """Return ``{codename: (timestamp, value)}`` for every codename of the node."""
        table = pull_replies.parse_json_wn(self.request_bytes("json_wn"), node=self.address)
        if self.old_data == "raise":
            old = [codename for codename, point in table.items() if point is None]
            if old:
                raise self._old(old)
        return table

    def codenames(self) -> list[str]:
        """Return the node's codenames in order."""
        data = self.request_bytes("codenames_json")
        return pull_replies.parse_codenames_json(data, node=self.address)

    def name(self) -> str:
        """Return the node's name (as sent: escape it before printing it)."""
        return pull_replies.parse_name(self.request_bytes("name"), node=self.address)

    def status(self) -> dict[str, Any]:
        """Return the node's ``status`` object."""
        return pull_replies.parse_status(self.request_bytes("status"), node=self.address)

    def channels(self) -> dict[str, ChannelInfo]:
        """Return ``{codename: ChannelInfo(unit, description, writable, min, max)}``.

        An empty dict when the node does not describe its channels (it answers
        ``channels_json`` with ``UNKNOWN_COMMMAND``, as PyExpLabSys nodes do).
        """
        data = self.request_bytes("channels_json")
        try:
            return pull_replies.parse_channels_json(data, node=self.address)
        except UnknownCommandError:
            return {}

    def close(self) -> None:
        """Close the client's socket."""
        self._sock.close()

    def __enter__(self) -> DateDataClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
