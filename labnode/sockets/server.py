"""DateDataSocket: a UDP server holding the latest (timestamp, value) point per codename."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Mapping, Sequence
from typing import Any

from labnode.values import DEFAULT_PORT, check_port

from .access import AllowList
from .guard import ErrorRateLimiter, OwnAddress, SourceBudget, is_pull_reply
from .protocol import MAX_DATAGRAM, UNKNOWN_COMMAND, DataUDPHandler
from .system_status import system_status
from .table import PointTable
from .udp_bind import UdpServing

log = logging.getLogger(__name__)

#: Seconds the serving thread keeps polling for the next request after a reply (see busy_poll).
DEFAULT_BUSY_POLL = 100e-6
#: Seconds without any set_point after which ``status`` reports the socket as INACTIVE.
ACTIVITY_TIMEOUT = 900.0
#: UNKNOWN_COMMMAND replies per second per client host (twice that at once), by default.
DEFAULT_ERROR_REPLIES = 20.0
#: Replies larger than this many bytes are paid from the client host's reply budget.
LARGE_REPLY = 1024
#: Bytes per second of large replies per client host, by default.
DEFAULT_REPLY_BUDGET = 2_000_000.0
#: All client hosts together get at most this many times one host's budget.
GLOBAL_BUDGET_FACTOR = 10.0
#: Why datagrams were not answered, as counted in ``status`` under "dropped".
DROP_REASONS = ("not_allowed", "own_address", "reply", "error_rate_limited", "reply_budget")


def _default_name(codenames: Sequence[str], host_facts: bool = True) -> str:
    shown = ",".join(codenames[:3]) + (",..." if len(codenames) > 3 else "")
    where = f" on {socket.gethostname()}" if host_facts else ""
    return f"labnode date data socket{where} ({shown})"


class DateDataSocket(UdpServing):
    """Serve the latest ``(timestamp, value)`` point of each codename over UDP.

    Speaks PyExpLabSys's date-data pull protocol byte for byte (see docs/protocol.md).
    ``set_point``/``set_point_now`` may be called from any thread while requests are served.
    ``busy_poll`` is how long (seconds) the serving thread keeps polling for a next request after
    each reply before it sleeps: it cuts the round trip of a client polling one request at a time
    by about half, for at most that much CPU per request; 0 turns it off.

    Hostile traffic (see docs/protocol.md, "Which datagrams are answered"): ``allow`` (CIDR
    networks, None = everyone) is checked before any work; datagrams from the socket's own
    address and replies of either protocol are never answered; ``UNKNOWN_COMMMAND`` is sent at
    most ``error_replies`` times per second per client host; replies over 1 KiB are paid from a
    budget of ``reply_budget`` bytes per second per client host (None = unlimited).
    ``status_host_facts=False`` keeps host name, pid, platform, load and memory out of
    ``status``. ``channels`` maps codenames to ``unit``/``description``/``writable``/``min``/
    ``max`` for the ``channels_json`` request.
    """

    status_provider_key = "driver"

    def __init__(
        self,
        codenames: Sequence[str],
        port: int = DEFAULT_PORT,
        timeouts: float | None | Sequence[float | None] = None,
        default_x: float = 0.0,
        default_y: float = 0.0,
        name: str | None = None,
        host: str = "",
        busy_poll: float = DEFAULT_BUSY_POLL,
        allow: Sequence[str] | None = None,
        status_host_facts: bool = True,
        channels: Mapping[str, Mapping[str, Any]] | None = None,
        error_replies: float = DEFAULT_ERROR_REPLIES,
        reply_budget: float | None = DEFAULT_REPLY_BUDGET,
    ) -> None:
        if isinstance(codenames, str) and isinstance(port, (list, tuple)):
            raise TypeError(
                f"DateDataSocket({codenames!r}, {list(port)!r}, ...) looks like PyExpLabSys's "
                "DateDataPullSocket(name, codenames, ...); here codenames come first: "
                f"DateDataSocket({list(port)!r}, name={codenames!r}, port=...)"
            )
        check_port(port)
        self.table = PointTable(codenames, timeouts, default_x, default_y)
        self.codenames: tuple[str, ...] = self.table.codenames
        self.status_host_facts = bool(status_host_facts)
        if name is None:
            name = _default_name(self.codenames, self.status_host_facts)
        self.name = str(name)
        self.host = host
        if not 0 <= busy_poll <= 0.01:
            raise ValueError(f"busy_poll={busy_poll!r}: give seconds from 0 to 0.01 (0 = off)")
        self.busy_poll = float(busy_poll)
        self.requested_port = port
        self.port: int | None = None if port == 0 else port
        #: Client networks served (None: everyone); checked before any other work.
        self.allow = None if allow is None else AllowList(allow)
        if not error_replies > 0:
            raise ValueError(f"error_replies={error_replies!r}: give replies per second, > 0")
        self._errors = ErrorRateLimiter(rate=error_replies, burst=2 * error_replies)
        self._reply_budget: SourceBudget | None = None
        if reply_budget is not None:
            if not reply_budget > 0:
                raise ValueError(f"reply_budget={reply_budget!r}: bytes per second > 0, or None")
            self._reply_budget = SourceBudget(
                rate=reply_budget,
                burst=max(reply_budget / 4, MAX_DATAGRAM),
                global_rate=GLOBAL_BUDGET_FACTOR * reply_budget,
            )
        #: Datagrams not answered, by reason (see DROP_REASONS).
        self.dropped: dict[str, int] = dict.fromkeys(DROP_REASONS, 0)
        self.handler = DataUDPHandler(self.table, self.name, status=self._status, channels=channels)
        self._init_serving()
        self.requests_served = 0

    # -- points ---------------------------------------------------------------------------------
    def set_point(self, codename: str, point: tuple[float, float]) -> None:
        """Set the point ``(x, y)`` of ``codename``; x is a Unix timestamp in seconds."""
        self.table.set_point(codename, point)

    def set_point_now(self, codename: str, value: float) -> None:
        """Set the value of ``codename``, stamped with the current time."""
        self.table.set_point_now(codename, value)

    def set_points_now(self, values: Mapping[str, float], now: float | None = None) -> None:
        """Set several values at once, all stamped ``now`` (default: the current time)."""
        self.table.set_points_now(values, now)

    # -- serving --------------------------------------------------------------------------------
    def _serving_started(self) -> None:
        log.info("serving %d codenames on udp %s:%s", len(self.codenames), self.host, self.port)

    def _serving_stopped(self) -> None:
        log.info("stopped serving on udp port %s", self.port)

    def _serve(self, sock: socket.socket) -> None:
        recvfrom = sock.recvfrom
        sendto = sock.sendto
        answer = self.handler.answer
        allows = None if self.allow is None else self.allow.allows
        own_port = self.port
        is_own_host = OwnAddress(sock.getsockname()[0], own_port).is_own_host
        budget = None if self._reply_budget is None else self._reply_budget.allow
        not_a_request = self._not_a_request
        dropped = self.dropped
        dont_wait = getattr(socket, "MSG_DONTWAIT", 0)  # not on Windows: no busy polling there
        busy_poll = self.busy_poll if dont_wait else 0.0
        clock = time.perf_counter
        served = 0
        while True:
            try:
                if busy_poll:
                    # A client that polls one request at a time sends its next request a few
                    # tens of microseconds after our reply: catching it without going to sleep
                    # saves the wake-up, which is most of a round trip on loopback.
                    deadline = clock() + busy_poll
                    while True:
                        try:
                            request, address = recvfrom(65535, dont_wait)
                            break
                        except BlockingIOError:
                            if clock() > deadline:
                                request, address = recvfrom(65535)
                                break
                else:
                    request, address = recvfrom(65535)
            except OSError:
                if self._stopping:
                    break
                continue
            if self._stopping:
                break
            # Refuse before any work: clients outside the allow-list, and our own address
            # (a forged source that would make us answer ourselves forever).
            if allows is not None and not allows(address[0]):
                dropped["not_allowed"] += 1
                continue
            if address[1] == own_port and is_own_host(address[0]):
                dropped["own_address"] += 1
                continue
            try:
                reply = answer(request)
                if reply is None:  # not a request: a reply (never answered) or junk
                    reply = not_a_request(request, address[0])
                    if reply is None:
                        continue
                elif (
                    len(reply) > LARGE_REPLY
                    and budget is not None
                    and not budget(address[0], len(reply))
                ):
                    dropped["reply_budget"] += 1
                    continue
                sendto(reply, address)
            except OSError as error:  # the client's address went away; keep serving the rest
                log.debug("could not reply to %s: %s", address, error)
            except Exception:  # never let one request kill the node
                log.exception("failed to answer %r from %s", request[:100], address)
            served += 1
            self.requests_served = served
        self.requests_served = served

    def _not_a_request(self, datagram: bytes, host: str) -> bytes | None:
        """UNKNOWN_COMMMAND for junk (rate-limited per host), None for a reply of any node."""
        if is_pull_reply(datagram):
            self.dropped["reply"] += 1
            return None
        if not self._errors.allow(host):
            self.dropped["error_rate_limited"] += 1
            return None
        return UNKNOWN_COMMAND

    # -- status ---------------------------------------------------------------------------------
    def _status(self, now: float) -> dict[str, Any]:
        last = self.table.last_update
        since = None if last is None else round(now - last, 3)
        channels = self.handler.channel_status(now)
        stale = last is None or since > ACTIVITY_TIMEOUT
        all_old = bool(channels) and all(c["old"] for c in channels.values())
        state = "INACTIVE" if stale or all_old else "OK"
        status: dict[str, Any] = {
            "name": self.name,
            "port": self.port,
            "host": self.host,
            "uptime": self.uptime(now),
            "requests_served": self.requests_served,
            "dropped": dict(self.dropped),
            "system_status": system_status(self.status_host_facts),
            "socket_server_status": {
                str(self.port): {
                    "name": self.name,
                    "type": "date",
                    "status": state,
                    "since_last_activity": since,
                }
            },
            "channels": channels,
        }
        return self._with_provided_status(status)

    def __repr__(self) -> str:
        return (
            f"DateDataSocket({list(self.codenames)!r}, port={self.port}, name={self.name!r}, "
            f"host={self.host!r})"
        )
