"""LabPoller: one UDP socket polls many nodes at once; a slow or dead node delays no other.

Each node due is sent its request in one burst (``json_wn``, or ``name`` / ``channels_json`` first
when needed), then replies are collected with a selector and matched to their node by source
address. Points pass each channel's :class:`ChangeFilter`; what is worth storing goes to ``sink``.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import selectors
import socket
import statistics
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from labnode.apps.lab_config import NodeEntry
from labnode.codenames import codename_problem
from labnode.sockets import NodeError, UnknownCommandError
from labnode.sockets.pull_replies import ChannelInfo, parse_channels_json, parse_json_wn, parse_name
from labnode.storage import ChangeFilter

log = logging.getLogger(__name__)

#: The most channels recorded per node (a node serving more is cut there and told so).
MAX_CHANNELS = 1000
#: The longest node name or codename recorded (the database's column width).
MAX_NAME = 200
#: Seconds between attempts to resolve a node's host name that did not resolve.
RESOLVE_RETRY = 30.0

#: Takes the rows to store, (node, codename, x, y) with y None for a gap marker.
Sink = Callable[[list[tuple[str, str, float, "float | None"]]], None]
Describe = Callable[[str, str, str, str], None]


class _BadName(NodeError):
    """A node's name that cannot key its rows."""


@dataclass
class PolledNode:
    """One node's polling state and counters."""

    entry: NodeEntry
    address: tuple[str, int] | None = None
    name: str | None = None
    described: bool = False
    up: bool | None = None
    next_due: float = 0.0
    sent_at: float | None = None
    awaiting: bool = False
    last_answer: float | None = None
    filters: dict[str, ChangeFilter] = field(default_factory=dict)
    polls: int = 0
    replies: int = 0
    bad_replies: int = 0
    points_kept: int = 0
    last_error: str | None = None
    last_table: bytes = b""

    @property
    def label(self) -> str:
        """Name and address, for messages."""
        return f"{self.name or '?'} ({self.entry.address})"

    def request(self) -> bytes:
        """What to ask the node next."""
        if self.name is None:
            return b"name"
        if not self.described:
            return b"channels_json"
        return b"json_wn"


class LabPoller:
    """Poll ``nodes`` over UDP; rows worth storing go to ``sink`` (a list per reply), units to
    ``describe``."""

    def __init__(
        self,
        nodes: list[NodeEntry],
        sink: Sink,
        describe: Describe | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.nodes = [PolledNode(entry, name=entry.name) for entry in nodes]
        self.sink = sink
        self.describe = describe or (lambda *args: None)
        self.clock = clock
        self.selector = selectors.DefaultSelector()
        self._sockets: dict[int, socket.socket] = {}
        self._loopback_bound: dict[int, bool] = {}
        self._by_address: dict[tuple[str, int], PolledNode] = {}
        self.sweeps = 0
        #: Datagrams from elsewhere, or from a node that was not asked (counted, dropped).
        self.unexpected = 0
        self._drain_limit = max(1000, 4 * len(nodes))
        self.last_sweep: float | None = None
        #: Seconds of the last complete sweeps (first request sent to last reply received).
        self.sweep_times: deque[float] = deque(maxlen=100)
        self._sweep_started: float | None = None
        self._sweep_waiting: set[int] = set()
        now = self._epoch = time.monotonic()
        for node in self.nodes:
            node.next_due = now
            node.last_answer = now  # counts as down `timeout` seconds after the start
            self._resolve(node)
            if node.address is None:
                node.next_due = now + RESOLVE_RETRY

    def _socket(self, family: int, loopback: bool) -> socket.socket:
        """The socket for ``family``: bound to loopback while every node is on loopback (so
        nothing listens on other interfaces), else to all interfaces."""
        sock = self._sockets.get(family)
        if sock is not None and (loopback or not self._loopback_bound.get(family)):
            return sock
        if sock is not None:  # a node off this machine appeared: widen the bind
            self.selector.unregister(sock)
            sock.close()
        six = family == socket.AF_INET6
        host = ("::1" if six else "127.0.0.1") if loopback else ("::" if six else "0.0.0.0")
        sock = socket.socket(family, socket.SOCK_DGRAM)
        sock.bind((host, 0))
        sock.setblocking(False)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
        self.selector.register(sock, selectors.EVENT_READ)
        self._sockets[family] = sock
        self._loopback_bound[family] = loopback
        return sock

    def _resolve(self, node: PolledNode) -> None:
        entry = node.entry
        try:
            family, _, _, _, address = socket.getaddrinfo(
                entry.host, entry.port, type=socket.SOCK_DGRAM
            )[0]
        except (OSError, UnicodeError) as error:
            node.last_error = f"cannot resolve {entry.host!r}: {error}"
            log.error("node %s: %s", node.label, node.last_error)
            return
        node.address = address[:2]
        self._socket(family, ipaddress.ip_address(node.address[0]).is_loopback)
        self._by_address[node.address] = node

    # -- the loop -------------------------------------------------------------------------------
    def run(
        self, should_stop: Callable[[], bool], on_idle: Callable[[], None] | None = None
    ) -> None:
        """Poll until ``should_stop()``; ``on_idle`` runs between steps (at least every 0.2 s)."""
        while not should_stop():
            self.step(0.2)
            if on_idle is not None:
                on_idle()

    def step(self, max_wait: float) -> None:
        """Send to the nodes due, then read replies until the next is due or ``max_wait``."""
        now = time.monotonic()
        self._send_due(now)
        self._check_down(now)
        next_due = min((n.next_due for n in self.nodes), default=now + max_wait)
        timeout = min(max(0.0, next_due - time.monotonic()), max_wait)
        for key, _ in self.selector.select(timeout):
            self._drain(key.fileobj)  # type: ignore[arg-type]

    def _send_due(self, now: float) -> None:
        burst = []
        for node in self.nodes:
            if node.next_due > now:
                continue
            if node.address is None:  # a host name that did not resolve: try again later
                node.next_due = now + RESOLVE_RETRY
                self._resolve(node)
                continue
            sock = self._sockets[socket.AF_INET6 if ":" in node.address[0] else socket.AF_INET]
            try:
                sock.sendto(node.request(), node.address)
            except OSError as error:
                node.last_error = f"cannot send: {error.strerror or error}"
            node.polls += 1
            node.sent_at = now
            node.awaiting = True
            # The next poll on a grid shared by all nodes of the same interval, so they are
            # asked together (one sweep) whenever each came up; a missed beat is skipped.
            interval = node.entry.interval
            node.next_due = (
                self._epoch + (math.floor((now - self._epoch) / interval) + 1) * interval
            )
            if node.up is not False:  # a sweep waits for the nodes that answer
                burst.append(id(node))
        if burst:
            if self._sweep_waiting:  # the previous sweep never completed (a node went silent)
                self.last_sweep = None
            self._sweep_started = now
            self._sweep_waiting = set(burst)

    def _drain(self, sock: socket.socket) -> None:
        # Bounded, so a flood cannot keep the loop here: the rest waits for the next step.
        for _ in range(self._drain_limit):
            try:
                data, address = sock.recvfrom(65536)
            except BlockingIOError:
                return
            except OSError:  # an ICMP error from an earlier send (port unreachable): go on
                continue
            node = self._by_address.get(address[:2])
            if node is None or not node.awaiting:
                self.unexpected += 1  # not a node of ours, or not asked: never stored
                continue
            node.awaiting = False  # one reply per request: a second one is not taken
            self._answer(node, data)

    def _answer(self, node: PolledNode, data: bytes) -> None:
        now = time.monotonic()
        request = node.request()
        try:
            if request == b"json_wn":
                if data != node.last_table:  # the same table again holds nothing new
                    self._points(node, parse_json_wn(data, node=node.entry.address))
                    node.last_table = data
            elif request == b"name":
                self._named(node, parse_name(data, node=node.entry.address))
            else:
                try:
                    channels = parse_channels_json(data, node=node.entry.address)
                except UnknownCommandError:  # a PyExpLabSys node: no units, not an error
                    channels = {}
                self._described(node, channels)
        except NodeError as error:
            node.bad_replies += 1
            node.last_error = f"bad reply to {request.decode()}: {error}"
            log.debug("node %s: %s", node.label, node.last_error)
            return
        node.replies += 1
        node.last_answer = now
        if node.up is not True:
            if node.up is False:
                log.info("node %s answers again", node.label)
            node.up = True
        if request != b"json_wn":
            node.next_due = now  # go on to the next request at once
        self._sweep_waiting.discard(id(node))
        if not self._sweep_waiting and self._sweep_started is not None:
            self.last_sweep = now - self._sweep_started
            self.sweep_times.append(self.last_sweep)
            self.sweeps += 1
            self._sweep_started = None

    def _named(self, node: PolledNode, name: str) -> None:
        name = name.strip()
        if not name or len(name) > MAX_NAME or not name.isprintable():
            raise _BadName(f"{name[:60]!r} is not a usable node name; set name in the lab file")
        if any(other.name == name for other in self.nodes if other is not node):
            raise _BadName(f"{name!r} is another node's name too; set name in the lab file")
        node.name = name
        log.info("node %s: named by the node itself", node.label)

    def _described(self, node: PolledNode, channels: dict[str, ChannelInfo]) -> None:
        node.described = True
        for codename, info in list(channels.items())[:MAX_CHANNELS]:
            if codename_problem(codename) is None and len(codename) <= MAX_NAME:
                unit = (info.unit or "")[:MAX_NAME]
                description = (info.description or "")[:1000]
                self.describe(node.name, codename, unit, description)  # type: ignore[arg-type]

    def _points(self, node: PolledNode, points: dict[str, tuple[float, float] | None]) -> None:
        name = node.name
        assert name is not None
        filters = node.filters
        wall = self.clock()
        kept: list[tuple[str, str, float, float | None]] = []
        for codename, point in points.items():
            channel = filters.get(codename)
            if channel is None:
                channel = self._new_channel(node, codename)
                if channel is None:
                    continue
            if point is None:
                x = channel.gap(wall)
                if x is not None:
                    kept.append((name, codename, x, None))
            elif channel.offer(*point):
                kept.append((name, codename, point[0], point[1]))
        if kept:
            node.points_kept += len(kept)
            self.sink(kept)

    def _new_channel(self, node: PolledNode, codename: str) -> ChangeFilter | None:
        if len(node.filters) >= MAX_CHANNELS or len(codename) > MAX_NAME:
            node.last_error = f"more than {MAX_CHANNELS} channels, or a codename too long"
            return None
        problem = codename_problem(codename)
        if problem is not None:
            node.last_error = f"codename {codename[:40]!r} {problem}"
            return None
        channel = node.filters[codename] = ChangeFilter(node.entry.criteria_for(codename))
        return channel

    def _check_down(self, now: float) -> None:
        for node in self.nodes:
            if node.up is False or node.last_answer is None:
                continue
            if now - node.last_answer > node.entry.timeout:
                node.up = False
                node.last_error = f"no answer for {node.entry.timeout:g} s"
                log.warning("node %s: %s; gap marked", node.label, node.last_error)
                if node.name is not None:
                    wall = self.clock()
                    gaps = [(node.name, c, f.gap(wall), None) for c, f in node.filters.items()]
                    gaps = [gap for gap in gaps if gap[2] is not None]
                    if gaps:
                        self.sink(gaps)

    def sweep_stats(self) -> dict[str, float | int | None]:
        """Milliseconds of the recent complete sweeps: last, median, max; and their count."""
        times = list(self.sweep_times)
        last = self.last_sweep
        return {
            "sweeps": self.sweeps,
            "unexpected_datagrams": self.unexpected,
            "last_ms": None if last is None else round(last * 1000, 3),
            "median_ms": round(statistics.median(times) * 1000, 3) if times else None,
            "max_ms": round(max(times) * 1000, 3) if times else None,
        }

    def health(self) -> list[dict[str, Any]]:
        """Per node: address, name, answering or not, counters and last error."""
        now = time.monotonic()
        return [
            {
                "name": node.name,
                "address": node.entry.address,
                "answering": node.up,
                "since_answer": None
                if node.last_answer is None
                else round(now - node.last_answer, 3),
                "channels": len(node.filters),
                "polls": node.polls,
                "replies": node.replies,
                "bad_replies": node.bad_replies,
                "points_kept": node.points_kept,
                "last_error": node.last_error,
            }
            for node in self.nodes
        ]

    def close(self) -> None:
        """Close the sockets."""
        self.selector.close()
        for sock in self._sockets.values():
            sock.close()
