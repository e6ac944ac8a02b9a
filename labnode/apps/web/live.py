"""The dashboard's live view: one polling thread per node, and a snapshot of all of them.

Each node is polled on its own thread with :class:`~labnode.sockets.DateDataClient`, so a node that
does not answer only delays itself. The board keeps, per node, its health (answering or not, last
answer, last error, the driver's state from ``status``) and per channel the latest point, its
metadata from ``channels_json`` (when the node has it) and whether it is OLD_DATA.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from labnode.sockets import (
    DateDataClient,
    NodeTimeoutError,
    NodeUnreachableError,
    SocketError,
    UnknownCommandError,
    pull_replies,
)
from labnode.sockets.pull_replies import ChannelInfo

from .history import MemoryHistory

log = logging.getLogger(__name__)

#: Seconds between two ``status`` requests to a node (driver state and last error).
STATUS_EVERY = 5.0


@dataclass(frozen=True)
class NodeTarget:
    """A node to watch: where it is and how often to ask it."""

    host: str
    port: int
    name: str | None = None  # default: the node's answer to `name`
    interval: float = 1.0
    timeout: float = 1.0
    push: tuple[str, int] | None = None  # (host, port) of the node's push socket, for writes
    #: Seconds without an answer before the node counts as silent (0: at the first miss).
    down_after: float = 0.0

    @property
    def address(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass
class ChannelView:
    """What the page shows for one codename."""

    codename: str
    x: float | None = None  # the node's timestamp of the latest point seen
    y: float | None = None
    old: bool = False  # the node answers OLD_DATA for it now
    meta: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"codename": self.codename, "x": self.x, "y": self.y, "old": self.old, **self.meta}


@dataclass
class NodeView:
    """What the page shows for one node."""

    key: str  # unique name on the page
    target: NodeTarget
    name: str | None = None
    answering: bool | None = None  # None: not asked yet
    last_answer: float | None = None
    last_error: str | None = None
    last_error_time: float | None = None
    driver: dict[str, Any] | None = None
    has_metadata: bool | None = None
    channels: dict[str, ChannelView] = field(default_factory=dict)

    def channel(self, codename: str) -> ChannelView:
        """The view of ``codename``, added when the node names it for the first time."""
        channel = self.channels.get(codename)
        if channel is None:
            channel = self.channels[codename] = ChannelView(codename)
        return channel

    def state(self) -> str:
        """ok, old_data (answering, some channel OLD_DATA), silent, or waiting."""
        if self.answering is None:
            return "waiting"
        if not self.answering:
            return "silent"
        if any(c.old for c in self.channels.values()):
            return "old_data"
        return "ok"

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.key,
            "node_name": self.name,
            "address": self.target.address,
            "interval": self.target.interval,
            "push": None if self.target.push is None else "{}:{}".format(*self.target.push),
            "state": self.state(),
            "answering": self.answering,
            "last_answer": self.last_answer,
            "last_error": self.last_error,
            "last_error_time": self.last_error_time,
            "driver": self.driver,
            "has_metadata": self.has_metadata,
            "channels": [c.as_dict() for c in self.channels.values()],
        }


def _metadata(info: ChannelInfo) -> dict[str, Any]:
    """A channel's metadata as the page and the API show it (min/max only when set)."""
    meta = dataclasses.asdict(info)
    return {k: v for k, v in meta.items() if v is not None or k not in ("min", "max")}


def _gap_time(channel: ChannelView, now: float) -> float:
    """Where a gap marker goes: just after the channel's last point (the node's clock may differ
    from ours, so the node's next point must still come after the marker), else now."""
    return now if channel.x is None else channel.x + 1e-3


class LiveBoard:
    """Polls every node on its own thread and keeps the latest view of all of them."""

    def __init__(
        self,
        targets: Iterable[NodeTarget],
        history: MemoryHistory | None = None,
    ) -> None:
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.history = history
        self.nodes: dict[str, NodeView] = {}
        for target in targets:
            key = target.name or target.address
            if key in self.nodes:
                raise ValueError(f"two nodes are named {key!r}; give each node its own name")
            self.nodes[key] = NodeView(key, target, name=target.name)
        #: Moves on every change a page would show; the broadcaster skips unchanged snapshots.
        self.generation = 0

    # -- running --------------------------------------------------------------------------------
    def start(self) -> None:
        """Start one polling thread per node."""
        for view in self.nodes.values():
            thread = threading.Thread(
                target=self._poll_loop, args=(view,), name=f"web-poll:{view.key}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        """Stop polling and wait for the threads (each finishes its current request)."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads.clear()

    def _poll_loop(self, view: NodeView) -> None:
        target = view.target
        try:
            client = DateDataClient(target.host, target.port, target.timeout, old_data="none")
        except SocketError as error:
            self._failed(view, error, time.time())
            return
        next_status = 0.0
        with client:
            while not self._stop.is_set():
                started = time.monotonic()
                try:
                    self._poll_once(view, client, started >= next_status)
                    if started >= next_status:
                        next_status = started + STATUS_EVERY
                except (NodeTimeoutError, NodeUnreachableError, SocketError) as error:
                    self._failed(view, error, time.time())
                except Exception as error:  # never let one node's surprise end its thread
                    log.exception("polling %s", target.address)
                    self._failed(view, error, time.time())
                self._stop.wait(max(0.0, target.interval - (time.monotonic() - started)))

    def _poll_once(self, view: NodeView, client: DateDataClient, ask_status: bool) -> None:
        if view.has_metadata is None:
            self._learn(view, client)
        table = client.get_all()
        now = time.time()
        driver = None
        if ask_status:
            try:
                status = client.status()
                driver = status.get("driver") if isinstance(status, dict) else None
            except SocketError:
                driver = None
        history = self.history
        with self._lock:
            if ask_status:
                view.driver = driver if isinstance(driver, dict) else None
            was_answering = view.answering
            view.answering = True
            view.last_answer = now
            for codename, point in table.items():
                channel = view.channel(codename)
                if point is None:
                    if not channel.old and history is not None:
                        history.add(view.key, codename, _gap_time(channel, now), None)
                    channel.old = True
                    continue
                channel.old = False
                x, y = point
                if x == 0:  # the node has never set this codename
                    continue
                if x != channel.x:
                    channel.x, channel.y = x, y
                    if history is not None:
                        history.add(view.key, codename, x, y)
            if was_answering is False:
                log.info("%s (%s) answers again", view.key, view.target.address)
            self.generation += 1

    def _learn(self, view: NodeView, client: DateDataClient) -> None:
        """Ask once for the node's name and channel metadata."""
        name = view.target.name or client.name()
        data = client.request_bytes("channels_json")
        try:
            infos = pull_replies.parse_channels_json(data, node=client.address)
            has_metadata = True
        except UnknownCommandError:  # a PyExpLabSys node: no metadata
            infos, has_metadata = {}, False
        meta = {codename: _metadata(info) for codename, info in infos.items()}
        with self._lock:
            view.name = name
            view.has_metadata = has_metadata
            for codename, values in meta.items():
                view.channel(codename).meta = values
            self.generation += 1

    def _failed(self, view: NodeView, error: Exception, now: float) -> None:
        message = str(error) or type(error).__name__
        with self._lock:
            view.last_error = message
            view.last_error_time = now
            last = view.last_answer
            if view.answering and last is not None and now - last < view.target.down_after:
                return  # a missed answer or two: not silent yet
            if view.answering is not False:
                log.warning("%s (%s): %s", view.key, view.target.address, message)
                if self.history is not None:
                    for channel in view.channels.values():
                        self.history.add(view.key, channel.codename, _gap_time(channel, now), None)
            view.answering = False
            view.has_metadata = None  # ask name and channels_json again when it is back
            self.generation += 1

    # -- reading --------------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """Every node and channel as plain data (what the websocket and /api/latest send)."""
        with self._lock:
            return {
                "now": time.time(),
                "generation": self.generation,
                "nodes": [view.as_dict() for view in self.nodes.values()],
            }

    def stored_name(self, node: str) -> str:
        """The name `labnode log` stores a node's rows under: its lab name, else its own name."""
        with self._lock:
            view = self.nodes.get(node)
            return node if view is None or view.name is None else view.name

    def target(self, node: str) -> NodeTarget | None:
        """Where a node is (and its push socket), or None if the board does not know it."""
        view = self.nodes.get(node)
        return None if view is None else view.target

    def channel(self, node: str, codename: str) -> dict[str, Any] | None:
        """One channel's view, or None if the board does not know it."""
        with self._lock:
            view = self.nodes.get(node)
            channel = None if view is None else view.channels.get(codename)
            return None if channel is None else channel.as_dict()
