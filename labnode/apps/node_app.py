"""NodeApp: poll any driver's get_values() and serve the readings from a DateDataSocket."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from labnode.drivers.errors import DriverConfigError
from labnode.sockets import DateDataSocket

log = logging.getLogger(__name__)

#: How many failed readings in a row (timeouts, garbage) before the port is reopened.
FAILURES_BEFORE_RECONNECT = 3


class PolledDriver(Protocol):
    """What the node app needs of a driver (labnode.drivers.Driver provides it)."""

    def connect(self) -> None: ...
    def close(self) -> None: ...
    def reconnect(self) -> None: ...
    def get_values(self) -> dict[str, float]: ...
    def identify(self) -> str: ...
    def diagnostics(self) -> dict[str, Any]: ...

    @property
    def codenames(self) -> list[str] | None: ...


class NodeSettingError(ValueError):
    """A node setting does not fit the driver (``key`` names the setting, e.g. "timeout")."""

    def __init__(self, key: str, problem: str) -> None:
        self.key = key
        super().__init__(problem)


def default_timeout(interval: float) -> float:
    """Seconds after which a value that stopped updating reads OLD_DATA: a few intervals."""
    return max(5.0 * interval, 2.0)


@dataclass
class NodeState:
    """The driver's health as the node sees it; served under "driver" in ``status``."""

    driver: str
    resource: str
    state: str = "starting"  # starting | connected | failing | reconnecting | stopped
    identity: str | None = None
    last_error: str | None = None
    last_error_time: float | None = None
    last_good_reading: float | None = None
    consecutive_failures: int = 0
    readings: int = 0
    failed_readings: int = 0
    reconnects: int = 0
    retry_delay: float | None = None
    ignored_codenames: list[str] = field(default_factory=list)

    def as_dict(self, now: float) -> dict[str, Any]:
        """A JSON-able copy, with the age of the last good reading."""
        status = dict(self.__dict__)
        status["seconds_since_good_reading"] = (
            None if self.last_good_reading is None else round(now - self.last_good_reading, 3)
        )
        return status


class NodeApp:
    """Every ``interval`` seconds read the driver and set each codename's point in the socket.

    Faults never stop the node: the socket keeps answering (the affected codenames go
    OLD_DATA after their timeout), the fault is logged once per change of state, and the port is
    reopened with capped exponential backoff until the instrument answers again.
    """

    def __init__(
        self,
        driver: PolledDriver,
        *,
        interval: float = 1.0,
        timeout: float | dict[str, float] | None = None,
        name: str | None = None,
        host: str = "",
        port: int = 9000,
        codenames: Sequence[str] | None = None,
        backoff_initial: float = 0.5,
        backoff_max: float = 5.0,
    ) -> None:
        if interval < 0:
            raise ValueError(f"interval={interval!r}: must be zero or more seconds")
        self.driver = driver
        self.interval = float(interval)
        self.timeout = default_timeout(self.interval) if timeout is None else timeout
        self.name = name
        self.host = host
        self.port = port
        self.codenames = list(codenames) if codenames is not None else None
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.socket: DateDataSocket | None = None
        self.state = NodeState(driver=type(driver).__name__, resource=_resource_of(driver))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._connected = False
        self._backoff = backoff_initial
        self._first_values: dict[str, float] | None = None
        #: A configuration error that stopped the node (re-raised by run()).
        self.fatal_error: DriverConfigError | None = None

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> None:
        """Open the socket and run the polling loop in a background thread.

        With codenames known up front the socket is open when this returns; otherwise it opens
        in the background after the first good reading.
        """
        self._stop.clear()
        if self.codenames or self.driver.codenames:
            self._open_socket()
            target = self._loop
        else:
            target = self._open_socket_and_loop
        self._thread = threading.Thread(target=target, name="NodeApp", daemon=True)
        self._thread.start()

    def _open_socket_and_loop(self) -> None:
        self._open_socket()
        if self.socket is not None:
            self._loop()

    def run(self, ready: Callable[[NodeApp], None] | None = None) -> None:
        """Open the socket and poll in this thread until :meth:`request_stop`; then clean up."""
        self._stop.clear()
        try:
            self._open_socket()
            if self.socket is not None:
                if ready is not None:
                    ready(self)
                self._loop()
        finally:
            self._shutdown()
        if self.fatal_error is not None:
            raise self.fatal_error

    def request_stop(self) -> None:
        """Ask the loop to end (safe from signal handlers and other threads)."""
        self._stop.set()

    def stop(self) -> None:
        """Stop polling, stop the socket (closing its port) and close the driver."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(max(5.0, 2 * self.interval))
            self._thread = None
        self._shutdown()

    def __enter__(self) -> NodeApp:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- the socket -----------------------------------------------------------------------------
    def _open_socket(self) -> None:
        """Learn the codenames (declared, configured, or from a first reading) and serve them."""
        codenames = self.codenames or self.driver.codenames
        if not codenames:
            codenames = self._learn_codenames()
            if codenames is None:
                return
        self.codenames = list(codenames)
        timeouts = self._timeouts_for(self.codenames)
        name = self.name or f"{self.state.driver} on {self.state.resource}"
        sock = DateDataSocket(
            self.codenames, port=self.port, timeouts=timeouts, name=name, host=self.host
        )
        sock.set_status_provider(self._status)
        sock.start()
        self.socket = sock
        if self._first_values is not None:
            self._publish(self._first_values, time.time())
            self._first_values = None

    def _timeouts_for(self, codenames: list[str]) -> list[float]:
        if isinstance(self.timeout, dict):
            unknown = sorted(set(self.timeout) - set(codenames))
            if unknown:
                raise NodeSettingError(
                    f"timeout.{unknown[0]}",
                    f"unknown codename {unknown[0]!r}; the node's codenames are "
                    + ", ".join(codenames),
                )
            fallback = default_timeout(self.interval)
            return [float(self.timeout.get(c, fallback)) for c in codenames]
        return [float(self.timeout)] * len(codenames)

    def _learn_codenames(self) -> list[str] | None:
        """Poll (with backoff) until a first reading tells which codenames the driver has."""
        log.info(
            "%s does not declare its codenames: the node serves once a first reading tells them "
            "(give them as [node] codenames = [...] to serve OLD_DATA meanwhile)",
            self.state.driver,
        )
        while not self._stop.is_set():
            values = self._read_once(time.time())
            if values:
                self._first_values = values
                return list(values)
            if not self._connected:
                self._stop.wait(self._next_backoff())
            else:
                self._stop.wait(self.interval)
        return None

    def _status(self) -> dict[str, Any]:
        status = self.state.as_dict(time.time())
        diagnostics = getattr(self.driver, "diagnostics", None)
        if diagnostics is not None:
            status["diagnostics"] = diagnostics()
        return status

    # -- the loop -------------------------------------------------------------------------------
    def _loop(self) -> None:
        stop = self._stop
        interval = self.interval
        read_once = self._read_once
        monotonic = time.monotonic
        while not stop.is_set():
            started = monotonic()
            if not self._connected and self.state.state != "starting":
                stop.wait(self._next_backoff())
                if stop.is_set():
                    break
            values = read_once(time.time())
            if values is not None:
                self._publish(values, time.time())
            if interval:
                remaining = interval - (monotonic() - started)
                if remaining > 0:
                    stop.wait(remaining)

    def _read_once(self, now: float) -> dict[str, float] | None:
        """Connect if needed and read once; on a fault record it and return None."""
        state = self.state
        try:
            if not self._connected:
                self._connect()
            values = self.driver.get_values()
        except DriverConfigError as error:  # retrying cannot help: stop and say what to fix
            log.error("%s: %s", self._who(), error.reason)
            self.fatal_error = error
            self.state.last_error = f"{type(error).__name__}: {error}"
            self.state.last_error_time = now
            self._stop.set()
            return None
        except Exception as error:  # a fault must never stop the node
            self._fault(error, now)
            return None
        state.readings += 1
        if state.state != "connected":
            if state.last_error is not None:
                log.info("%s is answering again", self._who())
            state.state = "connected"
            state.retry_delay = None
        state.consecutive_failures = 0
        self._backoff = self.backoff_initial
        return values

    def _connect(self) -> None:
        state = self.state
        if state.state != "starting":
            state.reconnects += 1
            self.driver.reconnect()
        else:
            self.driver.connect()
        self._connected = True
        try:
            state.identity = str(self.driver.identify())
        except Exception as error:  # identification is nice to have, never required
            log.debug("%s: identify() failed: %s", self._who(), error)

    def _publish(self, values: dict[str, float], now: float) -> None:
        sock = self.socket
        if sock is None:
            return
        index = sock.table.index
        known = values
        if not values.keys() <= index.keys():
            known = {c: v for c, v in values.items() if c in index}
            extra = sorted(set(values) - set(known) - set(self.state.ignored_codenames))
            if extra:
                log.warning(
                    "%s returned codenames the node does not serve, ignored: %s",
                    self._who(),
                    ", ".join(extra),
                )
                self.state.ignored_codenames.extend(extra)
        try:
            sock.set_points_now(known, now)
        except (TypeError, ValueError) as error:
            self._fault(error, now)
            return
        self.state.last_good_reading = now

    def _fault(self, error: BaseException, now: float) -> None:
        state = self.state
        state.failed_readings += 1
        state.consecutive_failures += 1
        message = f"{type(error).__name__}: {error}"
        lost = isinstance(error, ConnectionError) or not self._connected
        if lost or state.consecutive_failures >= FAILURES_BEFORE_RECONNECT:
            new_state = "reconnecting"
            if self._connected:
                self._connected = False
                self.driver.close()
        else:
            new_state = "failing"
        changed = new_state != state.state or _kind(message) != _kind(state.last_error)
        if changed and not self._stop.is_set():
            serving = "keeps serving" if self.socket is not None else "is not serving yet"
            log.warning("%s: %s (%s; the node %s)", self._who(), message, new_state, serving)
        state.state = new_state
        state.last_error = message
        state.last_error_time = now

    def _next_backoff(self) -> float:
        delay = self._backoff
        self._backoff = min(self._backoff * 2, self.backoff_max)
        self.state.retry_delay = delay
        return delay

    def _shutdown(self) -> None:
        if self.socket is not None:
            self.socket.stop()
        try:
            self.driver.close()
        except Exception as error:
            log.debug("closing %s failed: %s", self._who(), error)
        self._connected = False
        self.state.state = "stopped"

    def _who(self) -> str:
        return f"{self.state.driver} on {self.state.resource}"


def _kind(message: str | None) -> str | None:
    """The error class name at the start of a fault message."""
    return None if message is None else message.partition(":")[0]


def _resource_of(driver: object) -> str:
    return str(getattr(driver, "resource", "?"))
