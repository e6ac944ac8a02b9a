"""NodeApp: poll one or more drivers and serve their readings from one DateDataSocket."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any, TypeVar

from labnode.drivers import Channel
from labnode.sockets import DateDataSocket
from labnode.values import DEFAULT_PORT, MAX_INTERVAL, is_finite_number

from .errors import SettingError
from .instrument_loop import (
    DEFAULT_DRIVER_TIMEOUT,
    FAILURES_BEFORE_RECONNECT,
    JOB_QUEUE_SIZE,
    MAX_ERROR_TEXT,
    MAX_IGNORED_CODENAMES,
    STOP_GRACE,
    DriverExit,
    InstrumentCallError,
    InstrumentLoop,
    NodeState,
    PolledDriver,
    default_timeout,
    driver_timeout,
)

__all__ = [
    "DEFAULT_DRIVER_TIMEOUT",
    "FAILURES_BEFORE_RECONNECT",
    "JOB_QUEUE_SIZE",
    "MAX_ERROR_TEXT",
    "MAX_IGNORED_CODENAMES",
    "MAX_INTERVAL",
    "STOP_GRACE",
    "DriverExit",
    "Instrument",
    "InstrumentCallError",
    "InstrumentLoop",
    "NodeApp",
    "NodeSettingError",
    "NodeState",
    "PolledDriver",
    "default_timeout",
    "driver_timeout",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Worst first: the state a node with several drivers shows for all of them together.
STATE_ORDER = ("stopped", "stopping", "stalled", "reconnecting", "failing", "starting", "connected")


class NodeSettingError(SettingError, ValueError):
    """A node setting does not fit the driver (``key`` names the setting, e.g. "timeout")."""


@dataclass(frozen=True)
class Instrument:
    """One driver of a node with several: ``prefix`` goes before each of its codenames;
    ``label`` names it in logs and ``status`` (e.g. "driver[1]", the config key)."""

    driver: PolledDriver
    prefix: str = ""
    label: str | None = None


def _refuse_unknown_codenames(key: str, names: Iterable[str], codenames: list[str]) -> None:
    """NodeSettingError at ``key.<name>`` for the first of ``names`` the node does not serve."""
    unknown = sorted(set(names) - set(codenames))
    if unknown:
        raise NodeSettingError(
            f"{key}.{unknown[0]}",
            f"unknown codename {unknown[0]!r}; the node's codenames are " + ", ".join(codenames),
        )


def _channel_meta(channel: Channel) -> dict[str, Any]:
    """A Channel as ``channels_json`` serves it (min and max only when set)."""
    meta = {k: v for k, v in asdict(channel).items() if k != "name"}
    return {k: v for k, v in meta.items() if v is not None or k == "unit"}


class NodeApp:
    """Every ``interval`` seconds read each driver and set its codenames' points in one socket.

    ``driver`` is one driver, or a sequence of drivers or :class:`Instrument` entries (several
    instruments in one node, e.g. two flow controllers on one RS-485 line). Each driver has its
    own polling thread (:class:`InstrumentLoop`), the only thread that talks to it: readings,
    reconnects and the jobs of :meth:`call_on_instrument` run there one after the other.

    Faults never stop the node: the socket keeps answering (the affected codenames go
    OLD_DATA after their timeout, the other instruments' stay fresh), the fault is logged once
    per change of state, and the port is reopened with capped exponential backoff until the
    instrument answers again. A reading that never returns is shown as "stalled" in ``status``,
    and stopping waits for it at most the driver's timeout plus :data:`STOP_GRACE` seconds.

    ``allow`` (client networks in CIDR notation, default everyone) and ``status_host_facts``
    are passed to the DateDataSocket.
    """

    def __init__(
        self,
        driver: PolledDriver | Sequence[PolledDriver | Instrument],
        *,
        interval: float = 1.0,
        timeout: float | dict[str, float] | None = None,
        name: str | None = None,
        host: str = "",
        port: int = DEFAULT_PORT,
        codenames: Sequence[str] | None = None,
        backoff_initial: float = 0.5,
        backoff_max: float = 5.0,
        stall_after: float | None = None,
        allow: Sequence[str] | None = None,
        status_host_facts: bool = True,
        channels: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        if not is_finite_number(interval) or not 0 <= interval <= MAX_INTERVAL:
            raise ValueError(
                f"interval={interval!r}: give seconds from 0 to {MAX_INTERVAL:g} (one day)"
            )
        entries = list(driver) if isinstance(driver, (list, tuple)) else [driver]
        if not entries:
            raise ValueError("a node needs at least one driver")
        self.interval = float(interval)
        self.timeout = default_timeout(self.interval) if timeout is None else timeout
        self.name = name
        self.host = host
        self.port = port
        self.codenames = list(codenames) if codenames is not None else None
        self.allow = None if allow is None else list(allow)
        self.status_host_facts = status_host_facts
        #: The config's [channels.NAME] tables: unit, description, min, max per served codename.
        self.channel_overrides = {name: dict(given) for name, given in (channels or {}).items()}
        self.socket: DateDataSocket | None = None
        self._stop = threading.Event()
        self._socket_opened = threading.Event()
        #: One polling loop per driver, in the order given.
        self.instruments: list[InstrumentLoop] = []
        for entry in entries:
            spec = entry if isinstance(entry, Instrument) else Instrument(entry)
            self.instruments.append(
                InstrumentLoop(
                    spec.driver,
                    stop=self._stop,
                    on_fatal=self.request_stop,
                    interval=self.interval,
                    prefix=spec.prefix,
                    label=spec.label,
                    backoff_initial=backoff_initial,
                    backoff_max=backoff_max,
                    stall_after=stall_after,
                )
            )
        if len(self.instruments) > 1:
            if self.codenames is not None:
                raise ValueError("codenames= applies to a node with one driver only")
            unknown = [
                i.label or type(i.driver).__name__ for i in self.instruments if not i.codenames
            ]
            if unknown:
                raise ValueError(
                    f"{unknown[0]} does not declare its codenames; in a node with several "
                    "drivers each must name its codenames up front"
                )
        #: Seconds the slowest driver takes at most per exchange.
        self.driver_timeout = max(i.driver_timeout for i in self.instruments)
        self.stall_after = max(i.stall_after for i in self.instruments)
        self._warn_short_timeout()

    # -- the first (or only) instrument, as the node app always had one -------------------------
    @property
    def driver(self) -> PolledDriver:
        """The first (or only) driver."""
        return self.instruments[0].driver

    @property
    def state(self) -> NodeState:
        """The first (or only) driver's health."""
        return self.instruments[0].state

    @property
    def fatal_error(self) -> BaseException | None:
        """The error that stopped the node (re-raised by run()): a DriverConfigError, a
        DriverExit, or the socket's error when it could not be opened."""
        return next((i.fatal_error for i in self.instruments if i.fatal_error), None)

    def instrument_of(self, error: BaseException) -> InstrumentLoop | None:
        """The loop whose driver raised ``error`` (the node's fatal error), if any."""
        return next((i for i in self.instruments if i.fatal_error is error), None)

    def call_on_instrument(self, fn: Callable[[], T], timeout: float) -> T:
        """Run ``fn()`` on the first driver's polling thread: see
        :meth:`InstrumentLoop.call_on_instrument` (``app.instruments[i]`` for the others)."""
        return self.instruments[0].call_on_instrument(fn, timeout)

    def channels(self) -> list[Channel]:
        """One Channel per served codename, in order: what its driver declares (named with the
        driver's prefix; a read-only Channel with no unit when it declares nothing), with the
        config's [channels.NAME] overrides applied."""
        declared = {c.name: c for loop in self.instruments for c in loop.channels()}
        served = self.codenames or [c for loop in self.instruments for c in loop.codenames or ()]
        overrides = self.channel_overrides
        channels = [declared.get(name) or Channel(name) for name in served]
        if not overrides:  # the usual case, on every write's check: no copies
            return channels
        return [replace(c, **overrides[c.name]) if c.name in overrides else c for c in channels]

    def instrument_for(self, codename: str) -> InstrumentLoop | None:
        """The loop whose driver serves ``codename`` (as served, with its prefix), or None."""
        for loop in self.instruments:
            if codename in (loop.codenames or ()) or any(
                c.name == codename for c in loop.channels()
            ):
                return loop
        return None

    def _warn_short_timeout(self) -> None:
        timeouts = self.timeout.values() if isinstance(self.timeout, dict) else [self.timeout]
        shortest = min((float(t) for t in timeouts), default=None)
        if self.interval and shortest is not None and shortest < self.interval:
            log.warning(
                "timeout %g s is shorter than interval %g s: values read OLD_DATA between "
                "readings; make timeout a few intervals (the default is max(5 x interval, 2 s))",
                shortest,
                self.interval,
            )

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> None:
        """Open the socket and run the polling loops in background threads.

        With codenames known up front the socket is open when this returns; otherwise it opens
        in the background after the first good reading.
        """
        self._reset()
        if self._known_codenames():
            self._open_socket()
        self._start_polling()

    def run(self, ready: Callable[[NodeApp], None] | None = None) -> None:
        """Serve until :meth:`request_stop`, then clean up; raise the error that stopped it.

        The drivers are connected first (for up to their timeout plus :data:`STOP_GRACE`), so
        a driver setting that is wrong stops the node before the UDP port is bound.
        """
        self._reset()
        try:
            self._start_polling()
            if self._known_codenames():
                deadline = time.monotonic() + self.driver_timeout + STOP_GRACE
                for loop in self.instruments:
                    self._wait(loop.first_connect_done, deadline - time.monotonic())
                if not self._stop.is_set():
                    self._open_socket()
            self._wait(self._socket_opened, None)
            if self.socket is not None and not self._stop.is_set() and ready is not None:
                ready(self)
            while not self._stop.wait(0.25):
                for loop in self.instruments:
                    loop.log_stall()
        finally:
            self._finish()
        if self.fatal_error is not None:
            raise self.fatal_error

    def request_stop(self) -> None:
        """Ask the loops to end (safe from signal handlers and other threads)."""
        self._stop.set()
        for loop in self.instruments:
            loop.wake()

    def stop(self) -> None:
        """Stop polling, stop the socket (closing its port) and close the drivers.

        Returns within the slowest driver's timeout plus :data:`STOP_GRACE` seconds even if a
        driver never returns (it is then left running in its daemon thread).
        """
        self.request_stop()
        self._finish()

    def __enter__(self) -> NodeApp:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _reset(self) -> None:
        self._stop.clear()
        self._socket_opened.clear()

    def _known_codenames(self) -> bool:
        return bool(self.codenames) or all(loop.codenames for loop in self.instruments)

    def _start_polling(self) -> None:
        first = self.instruments[0]
        first.on_learnt = None if self._known_codenames() else self._learnt
        for loop in self.instruments:
            loop.start()

    def _learnt(self, codenames: list[str]) -> None:
        """A single driver told its codenames in a first reading: serve them (its thread)."""
        try:
            self.codenames = codenames
            self._open_socket()
        finally:
            self._socket_opened.set()

    def _wait(self, event: threading.Event, seconds: float | None) -> None:
        """Wait for ``event``, for at most ``seconds`` (None: no limit), or until stopping."""
        deadline = None if seconds is None else time.monotonic() + seconds
        while not event.is_set() and not self._stop.is_set():
            if deadline is not None and time.monotonic() >= deadline:
                return
            event.wait(0.05)

    def _finish(self) -> None:
        """Join the polling threads (bounded), fail waiting jobs, stop the socket, close."""
        self.request_stop()
        deadline = time.monotonic() + self.driver_timeout + STOP_GRACE
        hung = [loop.join(deadline) for loop in self.instruments]
        if self.socket is not None:
            self.socket.stop()
        for loop, is_hung in zip(self.instruments, hung, strict=True):
            loop.finish(is_hung)
        self._socket_opened.set()

    # -- the socket -----------------------------------------------------------------------------
    def _open_socket(self) -> None:
        """Serve the codenames (declared, configured, or from a first reading)."""
        if self.codenames:
            codenames = list(self.codenames)
        else:
            codenames = [c for loop in self.instruments for c in loop.codenames or ()]
            self.codenames = codenames
        timeouts = self._timeouts_for(codenames)
        _refuse_unknown_codenames("channels", self.channel_overrides, codenames)
        sock = DateDataSocket(
            codenames,
            port=self.port,
            timeouts=timeouts,
            name=self.name or self._default_name(),
            host=self.host,
            allow=self.allow,
            status_host_facts=self.status_host_facts,
            channels={channel.name: _channel_meta(channel) for channel in self.channels()},
        )
        sock.set_status_provider(self._status)
        sock.start()
        self.socket = sock
        for loop in self.instruments:
            loop.attach(sock)
        self._socket_opened.set()

    def _default_name(self) -> str:
        return ", ".join(f"{i.state.driver} on {i.state.resource}" for i in self.instruments)

    def _timeouts_for(self, codenames: list[str]) -> list[float]:
        if isinstance(self.timeout, dict):
            _refuse_unknown_codenames("timeout", self.timeout, codenames)
            fallback = default_timeout(self.interval)
            return [float(self.timeout.get(c, fallback)) for c in codenames]
        return [float(self.timeout)] * len(codenames)

    def _status(self) -> dict[str, Any]:
        """The driver's status (one driver), or each driver's under "drivers" (several)."""
        if len(self.instruments) == 1:
            return self.instruments[0].status()
        drivers = []
        for loop in self.instruments:
            status = {"entry": loop.label, "prefix": loop.prefix}
            status.update(loop.status())
            drivers.append(status)
        worst = min(drivers, key=lambda d: STATE_ORDER.index(d["state"]))["state"]
        return {"state": worst, "drivers": drivers}
