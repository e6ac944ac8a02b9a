"""NodePush: a node's push socket; setpoints checked, written on the instrument's thread, logged.

Binds a :class:`~labnode.sockets.DataPushSocket` to a running :class:`NodeApp`: every value of a
write is checked first against the driver's channels (known, writable, a finite number, within
min/max; the socket's allow-list has already refused other clients), then all are written through
``driver.set_value`` by the thread that owns the instrument, and the ``ACK#`` goes out only after
the instrument accepted them. Any failure is one ``ERROR#`` line naming the channel and the rule,
and a write refused by a check writes nothing.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from labnode.drivers import Channel, DriverError, WriteRefused
from labnode.sockets import DataPushSocket, PushRefused
from labnode.values import DEFAULT_PUSH_PORT, is_finite_number

from .config import NodeConfig
from .node_app import InstrumentCallError, InstrumentLoop, NodeApp

log = logging.getLogger(__name__)

#: Who may write when the config says nothing: this machine only.
DEFAULT_ALLOW = ("127.0.0.1",)
#: Seconds a write waits for the instrument's thread and the instrument; below the 2 s a
#: DataPushClient (and `labnode set`) waits by default, so the client hears the outcome.
DEFAULT_WRITE_TIMEOUT = 1.5


class NodePush:
    """The push socket of one node (``start()``/``stop()``, or ``with``).

    It may start before the node runs: until the instrument's thread is up, writes are refused
    with ``ERROR#not written: ...`` (nothing is queued for later).
    """

    def __init__(
        self,
        app: NodeApp,
        *,
        port: int = DEFAULT_PUSH_PORT,
        host: str = "",
        allow: Sequence[str] = DEFAULT_ALLOW,
        write_timeout: float = DEFAULT_WRITE_TIMEOUT,
        name: str | None = None,
    ) -> None:
        self.app = app
        self.write_timeout = float(write_timeout)
        self._lock = threading.Lock()
        #: Set by _write when the instrument (or its thread) failed; read by _audit next.
        self._instrument_failed = False
        #: The loop whose polling thread serves the push port (one instrument), or None.
        self._watching: InstrumentLoop | None = None
        #: Write attempts by outcome: applied, refused (checks, clients, malformed), failed
        #: (the instrument or its thread did not apply them), dropped (refusals not answered).
        self.counts = {"applied": 0, "refused": 0, "failed": 0, "dropped": 0}
        self.socket = DataPushSocket(
            name or f"{app.name or type(app.driver).__name__} setpoints",
            port=port,
            host=host,
            allow=list(allow),
            check=self._write,
            audit=self._audit,
        )
        self.socket.set_status_provider(self.status)

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> None:
        """Bind the push port and take writes.

        With one instrument, its polling thread serves the port between readings, so a write
        runs with no hand-off between threads (a stand-in thread answers while a reading takes
        long: :meth:`InstrumentLoop.watch`); with several, the push socket's own thread serves
        it and hands each write to its instrument's thread.
        """
        if len(self.app.instruments) == 1:
            self._watching = self.app.instruments[0]
            self.socket.start(thread=False)
            self._watching.watch(self.socket)
        else:
            self.socket.start()

    def stop(self) -> None:
        """Close the push port."""
        watching, self._watching = self._watching, None
        if watching is not None:
            watching.unwatch()
        self.socket.stop()

    def __enter__(self) -> NodePush:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def report_in_node_status(self) -> None:
        """Add this push socket's counts to the node's pull ``status`` under "push".

        Call once the node's socket is open (e.g. from ``NodeApp.run``'s ``ready``).
        """
        app = self.app
        node_status = app._status  # the provider NodeApp gives its socket

        def with_push() -> dict[str, Any]:
            status = node_status()
            status["push"] = self.status()
            return status

        if app.socket is not None:
            app.socket.set_status_provider(with_push)

    @property
    def port(self) -> int | None:
        """The bound push port."""
        return self.socket.port

    # -- writes -------------------------------------------------------------------------------
    def channels(self) -> dict[str, Channel]:
        """Every served channel by name (as the drivers know them now: some learn theirs at
        connect), with the config's [channels.NAME] overrides (e.g. a narrower min/max)."""
        return {channel.name: channel for channel in self.app.channels()}

    def problem(self, values: Mapping[str, Any]) -> str | None:
        """Why ``values`` cannot be written ("volt: 9 is above max 6"), or None."""
        if not values:
            return "no values given; write NAME=VALUE for a writable channel"
        channels = self.channels()
        for name, value in values.items():
            channel = channels.get(name)
            if channel is None or not channel.writable:
                writable = ", ".join(n for n, c in channels.items() if c.writable) or "none"
                what = "no such channel" if channel is None else "read-only channel"
                return f"{name}: {what} (writable: {writable})"
            if not is_finite_number(value):
                return f"{name}: {value!r} is not a finite number"
            limit = channel.limit_problem(value)
            if limit is not None:
                return f"{name}: {value!r} is {limit}"
        return None

    def _write(self, values: dict[str, Any], address: Any) -> None:
        """The push socket's check: refuse, or write every value and return once applied."""
        problem = self.problem(values)
        if problem is not None:
            raise PushRefused(problem)
        by_loop: dict[InstrumentLoop, dict[str, Any]] = {}
        for name, value in values.items():  # each value to the driver that serves its name
            loop = self.app.instrument_for(name)
            if loop is None:  # its driver forgot the channel since problem() looked
                raise PushRefused(f"{name}: no such channel")
            by_loop.setdefault(loop, {})[name] = value
        written: list[str] = []

        self._instrument_failed = True  # until the instruments accepted every value
        prefix = ""
        try:
            for loop, loop_values in by_loop.items():  # each on its instrument's own thread
                prefix = loop.prefix
                loop.call_on_instrument(_writer(loop, loop_values, written), self.write_timeout)
        except WriteRefused as refusal:
            # the driver names its own channel: served, it has the loop's prefix
            channel = prefix + refusal.channel if refusal.channel else "write"
            raise PushRefused(
                self._partly(written) + f"{channel}: the instrument refused: {refusal.reason}"
            ) from None
        except DriverError as fault:
            name = next((n for n in values if n not in written), "write")
            raise PushRefused(
                self._partly(written) + f"{name}: instrument fault: {type(fault).__name__}: "
                f"{fault.reason}"
            ) from None
        except InstrumentCallError as error:
            raise PushRefused(self._partly(written) + f"not written: {error}") from None
        self._instrument_failed = False

    @staticmethod
    def _partly(written: list[str]) -> str:
        return f"{', '.join(written)} written, then " if written else ""

    def _audit(self, address: Any, request: bytes, reply: bytes | None) -> None:
        """Log every write attempt once, with the client, the values and the outcome; count it."""
        text = request[:300].decode("ascii", errors="backslashreplace")
        failed, self._instrument_failed = self._instrument_failed, False
        if reply is not None and reply.startswith(b"ACK#"):
            outcome = "applied"
        elif failed:
            outcome = "failed"
        elif reply is None:
            outcome = "dropped"
        else:
            outcome = "refused"
        with self._lock:
            self.counts[outcome] += 1
        if outcome == "dropped":
            return  # over the client's error budget: counted, not logged (a flood stays quiet)
        level = logging.INFO if outcome == "applied" else logging.WARNING
        log.log(
            level,
            "write from %s: %s -> %s",
            address[0],
            text,
            reply[:300].decode("ascii", errors="backslashreplace"),
        )

    def status(self) -> dict[str, Any]:
        """Push port, allow-list and write counts (for the node's and the push socket's status)."""
        allow = self.socket.allow
        with self._lock:
            counts = dict(self.counts)
        return {
            "port": self.socket.port,
            "allow": None if allow is None else [str(n) for n in allow.networks],
            "writes": counts,
        }


def _writer(loop: InstrumentLoop, values: dict[str, Any], written: list[str]) -> Any:
    """The job that writes ``values`` (served names) through the loop's driver, in order."""
    driver = loop.driver

    def apply() -> None:
        for name, value in values.items():
            driver.set_value(loop.driver_name(name), value)  # type: ignore[attr-defined]
            written.append(name)

    return apply


def build_node_push(app: NodeApp, config: NodeConfig) -> NodePush | None:
    """The push socket a config's [push] table asks for, or None without one (read-only)."""
    push = config.push
    if push is None:
        return None
    return NodePush(
        app,
        port=push.port,
        host=config.host if push.host is None else push.host,
        allow=push.allow,
    )
