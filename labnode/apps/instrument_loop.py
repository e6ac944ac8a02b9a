"""InstrumentLoop: one instrument's polling thread, its health, and the jobs run on it.

A node holds one loop per driver (:class:`~labnode.apps.node_app.NodeApp`); each loop alone talks
to its instrument, so one instrument's fault, reconnect or hang never stops another's readings.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import logging
import math
import select
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from labnode.drivers import Channel
from labnode.drivers.errors import DriverConfigError
from labnode.sockets import DateDataSocket
from labnode.values import is_finite_number

from .readings import check_reading

#: The node app's logger, as before the loop was its own module (log settings keep working).
log = logging.getLogger("labnode.apps.node_app")

T = TypeVar("T")

#: How many failed readings in a row (timeouts, garbage) before the port is reopened.
FAILURES_BEFORE_RECONNECT = 3
#: Seconds that stopping waits for a reading in progress, on top of the driver's timeout.
STOP_GRACE = 2.0
#: The driver's timeout when it does not tell (no ``driver.transport.timeout``).
DEFAULT_DRIVER_TIMEOUT = 1.0
#: Instrument jobs (call_on_instrument) that may wait for the polling thread at once.
JOB_QUEUE_SIZE = 16
#: Characters of an error message kept in ``status`` (a reply echoed in an error can be long).
MAX_ERROR_TEXT = 500
#: Extra codenames a driver returns that are remembered (and logged) at most.
MAX_IGNORED_CODENAMES = 100
#: Seconds a driver call may run before a stand-in thread answers a watched socket meanwhile.
STAND_IN_AFTER = 0.25
#: Seconds between the stand-in thread's looks at the polling thread.
STAND_IN_POLL = 0.1


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


class Watched(Protocol):
    """A socket the polling thread serves while idle (a push socket started without a thread)."""

    def fileno(self) -> int: ...
    def serve_pending(self, limit: int = ...) -> int: ...


class DriverExit(RuntimeError):
    """The driver raised SystemExit or KeyboardInterrupt: the node stopped (run() raises this)."""


class InstrumentCallError(RuntimeError):
    """call_on_instrument() could not run the job; ``reason`` is "busy", "stopping",
    "reconnecting" or "timeout"."""

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(message)


def default_timeout(interval: float) -> float:
    """Seconds after which a value that stopped updating reads OLD_DATA: a few intervals."""
    return max(5.0 * interval, 2.0)


def driver_timeout(driver: object) -> float:
    """The driver's I/O timeout in seconds (``driver.transport.timeout``), else 1 s."""
    seconds = getattr(getattr(driver, "transport", None), "timeout", None)
    if is_finite_number(seconds) and seconds > 0:  # type: ignore[operator]
        return float(seconds)  # type: ignore[arg-type]
    return DEFAULT_DRIVER_TIMEOUT


@dataclass
class NodeState:
    """The driver's health as the node sees it; served under "driver" in ``status``."""

    driver: str
    resource: str
    #: starting | connected | failing | reconnecting | stopped; status adds stalled and stopping
    state: str = "starting"
    identity: str | None = None
    last_error: str | None = None
    last_error_time: float | None = None
    last_good_reading: float | None = None
    consecutive_failures: int = 0
    readings: int = 0
    failed_readings: int = 0
    bad_readings: int = 0
    bad_values: int = 0
    empty_readings: int = 0
    reconnects: int = 0
    retry_delay: float | None = None
    ignored_codenames: list[str] = field(default_factory=list)

    def as_dict(self, now: float) -> dict[str, Any]:
        """A JSON-able copy, with the age of the last good reading."""
        status = dict(self.__dict__)
        status["ignored_codenames"] = list(self.ignored_codenames)
        status["seconds_since_good_reading"] = (
            None if self.last_good_reading is None else round(now - self.last_good_reading, 3)
        )
        return status


class InstrumentLoop:
    """Poll one driver every ``interval`` seconds on a thread of its own; publish to a socket.

    The driver is used by this thread only: readings, reconnects and the jobs of
    :meth:`call_on_instrument` run there one after the other, never interleaved. Faults never
    stop the loop: the fault is logged once per change of state, and the port is reopened with
    capped exponential backoff until the instrument answers again. ``prefix`` is put before each
    codename the driver returns (and taken off the names written back); ``label`` names the loop
    in logs (e.g. "driver[1]"). ``stop`` is the node's stop event, shared by all its loops;
    ``on_fatal`` is called when the node must stop (a config error, a driver that exits).
    """

    def __init__(
        self,
        driver: PolledDriver,
        *,
        stop: threading.Event,
        on_fatal: Callable[[], None],
        interval: float = 1.0,
        prefix: str = "",
        label: str | None = None,
        backoff_initial: float = 0.5,
        backoff_max: float = 5.0,
        stall_after: float | None = None,
    ) -> None:
        self.driver = driver
        self.prefix = prefix
        self.label = label
        self.interval = float(interval)
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        #: Seconds the driver takes at most per exchange (its transport's timeout).
        self.driver_timeout = driver_timeout(driver)
        #: Seconds after which a reading (or connect, or job) still running is "stalled".
        self.stall_after = (
            2 * self.driver_timeout + STOP_GRACE if stall_after is None else float(stall_after)
        )
        self.socket: DateDataSocket | None = None
        self.state = NodeState(driver=type(driver).__name__, resource=_resource_of(driver))
        self._stop = stop
        self._on_fatal = on_fatal
        #: Called with the codenames once a first reading told them (learning mode), on the
        #: loop's thread; it must attach a socket.
        self.on_learnt: Callable[[list[str]], None] | None = None
        self._wake = threading.Event()
        self.first_connect_done = threading.Event()
        self._thread: threading.Thread | None = None
        self._connected = False
        self._backoff = backoff_initial
        self._publish_lock = threading.Lock()
        self._pending: tuple[dict[str, float], float] | None = None
        #: Instrument jobs waiting for the polling thread (at most JOB_QUEUE_SIZE, appended under
        #: _jobs_lock; only the polling thread and finish() pop them).
        self._jobs: deque[tuple[Callable[[], Any], concurrent.futures.Future]] = deque()
        self._jobs_lock = threading.Lock()
        #: (what, monotonic start) of the driver call in progress, or None.
        self._busy: tuple[str, float] | None = None
        #: The socket served while idle (watch()), its wake-up pair, and who reads it now: the
        #: polling thread while idle, the stand-in thread while a driver call takes long.
        self._watched: Watched | None = None
        self._wake_pair: tuple[socket.socket, socket.socket] | None = None
        self._poller: select.poll | None = None
        self._reader = threading.Lock()
        #: True while the polling thread holds _reader (serving the watched socket); a job it
        #: runs lets go meanwhile, so the stand-in can answer while that job takes long.
        self._reading_here = False
        self._stand_in: threading.Thread | None = None
        self._stand_in_stop = threading.Event()
        self._stall_logged: float | None = None
        self._problem: str | None = None
        #: The class of the fault in state.last_error (None: a reading problem, or none yet).
        self._fault_class: type[BaseException] | None = None
        #: The error that stopped the node (a DriverConfigError, a DriverExit, or the socket's
        #: error when it could not be opened after learning the codenames).
        self.fatal_error: BaseException | None = None

    # -- codenames and channels, as served ------------------------------------------------------
    @property
    def codenames(self) -> list[str] | None:
        """The driver's codenames with the prefix, or None until it knows them."""
        names = self.driver.codenames
        if names is None or not self.prefix:
            return names
        return [self.prefix + name for name in names]

    def channels(self) -> list[Channel]:
        """The driver's channels, named as served (with the prefix)."""
        channels = getattr(self.driver, "channels", None) or []
        if not self.prefix:
            return list(channels)
        return [dataclasses.replace(c, name=self.prefix + c.name) for c in channels]

    def driver_name(self, codename: str) -> str:
        """The driver's own name for a served codename (the prefix taken off)."""
        return codename[len(self.prefix) :] if self.prefix else codename

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the polling thread."""
        self._wake.clear()
        self.first_connect_done.clear()
        self.fatal_error = None
        self._thread = threading.Thread(target=self._poll, name=self._thread_name(), daemon=True)
        self._thread.start()

    def _thread_name(self) -> str:
        return "NodeApp" if self.label is None else f"NodeApp {self.label}"

    def wake(self) -> None:
        """Wake the thread (to see the stop, a job or an unwatch at once)."""
        self._wake.set()
        pair = self._wake_pair
        if pair is not None:
            try:
                pair[1].send(b"\0")
            except OSError:  # full: a wake-up is pending anyway
                pass

    def join(self, deadline: float) -> bool:
        """Wait for the thread until ``deadline`` (monotonic); return True if it is hung."""
        thread, self._thread = self._thread, None
        if thread is None or thread is threading.current_thread():
            return False
        thread.join(max(deadline - time.monotonic(), 0.0))
        if not thread.is_alive():
            return False
        busy = self._busy[0] if self._busy else "the driver"
        log.warning(
            "%s: %s has not returned %g s after the stop was asked; stopping without it "
            "(the port is closed when the process exits)",
            self._who(),
            busy,
            self.driver_timeout + STOP_GRACE,
        )
        return True

    def finish(self, hung: bool) -> None:
        """After join(): fail the waiting jobs and close the driver (unless it is hung)."""
        self._fail_jobs("stopping", "the node is stopping")
        if not hung:  # closing takes the port lock, which a hung reading holds
            try:
                self.driver.close()
            except Exception as error:
                log.debug("closing %s failed: %s", self._who(), error)
        self._connected = False
        self.state.state = "stopped"

    def is_alive(self) -> bool:
        """Whether the polling thread runs."""
        thread = self._thread
        return thread is not None and thread.is_alive()

    # -- a socket served by the instrument's thread -----------------------------------------------
    def watch(self, watched: Watched) -> None:
        """Serve ``watched`` from the polling thread between readings (``serve_pending()`` when
        its :meth:`~Watched.fileno` is readable).

        A write it carries then runs on the polling thread with no hand-off between threads.
        While a driver call runs longer than :data:`STAND_IN_AFTER` (or before the thread runs,
        or after it ended), a stand-in thread serves it instead, so clients always get an
        answer; their jobs then wait for the polling thread as :meth:`call_on_instrument` says.
        """
        if self._watched is not None:
            raise RuntimeError(f"{self._who()} already serves a socket")
        if self._wake_pair is None:  # kept for the loop's life: no fd is reused under wake()
            pair = socket.socketpair()
            for end in pair:
                end.setblocking(False)
            self._wake_pair = pair
        poller = select.poll()
        poller.register(self._wake_pair[0], select.POLLIN)
        poller.register(watched, select.POLLIN)
        self._poller = poller
        self._watched = watched
        self._stand_in_stop.clear()
        self._stand_in = threading.Thread(
            target=self._stand_in_serve, name=f"{self._thread_name()} stand-in", daemon=True
        )
        self._stand_in.start()
        self.wake()  # an idle polling thread starts watching now

    def unwatch(self) -> None:
        """Stop serving the watched socket (before closing it); returns within about a second."""
        if self._watched is None:
            return
        self._watched = None
        self._stand_in_stop.set()
        self.wake()
        if self._reader.acquire(timeout=1.0):  # whoever was reading it has let go
            self._reader.release()
        stand_in, self._stand_in = self._stand_in, None
        if stand_in is not None and stand_in is not threading.current_thread():
            stand_in.join(1.0)

    def _stand_in_needed(self) -> bool:
        """Whether the polling thread cannot serve the watched socket soon."""
        thread = self._thread
        if thread is None or not thread.is_alive():
            return True
        busy = self._busy
        return busy is not None and time.monotonic() - busy[1] > STAND_IN_AFTER

    def _stand_in_serve(self) -> None:
        """The stand-in thread: serve the watched socket while the polling thread cannot."""
        stop = self._stand_in_stop
        while not stop.wait(STAND_IN_POLL):
            watched = self._watched
            if watched is None or not self._stand_in_needed():
                continue
            if not self._reader.acquire(blocking=False):
                continue  # the polling thread is serving it
            try:
                while not stop.is_set() and self._stand_in_needed():
                    readable, _, _ = select.select([watched], [], [], STAND_IN_POLL)
                    if readable:
                        watched.serve_pending()
            except (OSError, ValueError) as error:  # closed under us: unwatch() is coming
                log.debug("%s: stand-in stopped serving: %s", self._who(), error)
            finally:
                self._reader.release()

    # -- jobs on the instrument's thread --------------------------------------------------------
    def call_on_instrument(self, fn: Callable[[], T], timeout: float) -> T:
        """Run ``fn()`` on the polling thread between two readings and return its result.

        The polling thread is the only one that talks to the instrument, so ``fn`` (e.g.
        ``lambda: driver.set_value("volt", 2.5)``) never interleaves with a reading. Raises what
        ``fn`` raised, or InstrumentCallError: "busy" when :data:`JOB_QUEUE_SIZE` jobs already
        wait, "stopping", "reconnecting" when the instrument is not connected, "timeout" when
        no result came within ``timeout`` seconds (if ``fn`` had started it may still finish).
        """
        thread = self._thread
        if thread is threading.current_thread():  # a watched socket's write: run it now
            return self._run_here(fn)
        if self._stop.is_set() or thread is None or not thread.is_alive():
            raise InstrumentCallError("stopping", "the node is not running or is stopping")
        if not self._connected:
            raise InstrumentCallError(
                "reconnecting", f"{self._who()} is not connected ({self.state.state})"
            )
        future: concurrent.futures.Future = concurrent.futures.Future()
        with self._jobs_lock:
            if len(self._jobs) >= JOB_QUEUE_SIZE:
                raise InstrumentCallError(
                    "busy", f"{JOB_QUEUE_SIZE} instrument jobs are already waiting; try again later"
                )
            self._jobs.append((fn, future))
        self.wake()
        if self._stop.is_set() and future.cancel():
            raise InstrumentCallError("stopping", "the node is stopping")
        # wait() and done(), not result(timeout): a TimeoutError that fn raised (e.g. an
        # InstrumentTimeout) must reach the caller as itself, not as this wait's timeout
        concurrent.futures.wait((future,), timeout)
        if not future.done():
            if future.cancel():
                raise InstrumentCallError(
                    "timeout", f"the instrument was busy for {timeout:g} s; nothing was done"
                )
            if not future.done():  # running; else it finished just now: its outcome below
                raise InstrumentCallError(
                    "timeout", f"no result within {timeout:g} s; the job is still running"
                )
        if future.cancelled():
            raise InstrumentCallError("stopping", "the node is stopping")
        return future.result()

    def _run_jobs(self) -> None:
        """Run the queued jobs, in order (on the polling thread)."""
        jobs = self._jobs
        while jobs:
            try:
                fn, future = jobs.popleft()
            except IndexError:  # _finish took it
                return
            if not future.set_running_or_notify_cancel():
                continue
            try:
                result = self._run_here(fn)
            except BaseException as error:
                future.set_exception(error)
            else:
                future.set_result(result)

    def _run_here(self, fn: Callable[[], T]) -> T:
        """Run one job on the polling thread, marked busy; refuse it when stopping or not
        connected. A SystemExit or KeyboardInterrupt of the job stops the node and reaches the
        caller as :class:`DriverExit`."""
        if self._stop.is_set():
            raise InstrumentCallError("stopping", "the node is stopping")
        if not self._connected:
            raise InstrumentCallError(
                "reconnecting", f"{self._who()} is not connected ({self.state.state})"
            )
        let_go = self._reading_here  # only the polling thread sets it
        if let_go:
            self._reading_here = False
            self._reader.release()
        self._busy = ("an instrument job", time.monotonic())
        try:
            return fn()
        except (SystemExit, KeyboardInterrupt) as error:  # never re-raised in the caller
            raise self._driver_exit(error, "an instrument job") from None
        finally:
            self._busy = None
            if let_go:  # the stand-in lets go within STAND_IN_POLL once the job is over
                self._reader.acquire()
                self._reading_here = True

    def _fail_jobs(self, reason: str, message: str) -> None:
        while self._jobs:
            try:
                _, future = self._jobs.popleft()
            except IndexError:
                return
            if future.set_running_or_notify_cancel():
                future.set_exception(InstrumentCallError(reason, message))

    # -- the socket -----------------------------------------------------------------------------
    def attach(self, sock: DateDataSocket) -> None:
        """Publish to ``sock`` from now on (and the reading that waited for it)."""
        with self._publish_lock:
            self.socket = sock
            pending, self._pending = self._pending, None
        if pending is not None:
            self._serve(*pending)

    def status(self) -> dict[str, Any]:
        """The driver's health, with "busy"/"stalled" and its diagnostics."""
        status = self.state.as_dict(time.time())
        if self._stop.is_set() and status["state"] != "stopped":
            status["state"] = "stopping"
        busy = self._busy
        if busy is not None:
            what, since = busy
            running = time.monotonic() - since
            status["busy"] = what
            status["busy_for"] = round(running, 3)
            if running > self.stall_after and status["state"] != "stopped":
                status["state"] = "stalled"
                status["stalled_for"] = round(running, 3)
        diagnostics = getattr(self.driver, "diagnostics", None)
        if diagnostics is not None:
            try:
                status["diagnostics"] = diagnostics()
            except Exception as error:  # the status must be served whatever the driver does
                status["diagnostics"] = {"error": f"{type(error).__name__}: {error}"[:200]}
        return status

    def log_stall(self) -> None:
        """Log once per stalled call that the driver has not returned."""
        busy = self._busy
        if busy is None:
            return
        what, since = busy
        running = time.monotonic() - since
        if running > self.stall_after and self._stall_logged != since:
            self._stall_logged = since
            log.warning(
                "%s: %s has been running for %.0f s (the driver's timeout is %g s): stalled; "
                "the node keeps answering and its values go OLD_DATA",
                self._who(),
                what,
                running,
                self.driver_timeout,
            )

    def _learn_codenames(self) -> bool:
        """Poll (with backoff) until a first reading tells the codenames; then serve them."""
        log.info(
            "%s does not declare its codenames: the node serves once a first reading tells them "
            "(give them as [node] codenames = [...] to serve OLD_DATA meanwhile)",
            self.state.driver,
        )
        while not self._stop.is_set():
            values = self._read_once(time.time())
            if values:
                if self.prefix:
                    values = {self.prefix + c: v for c, v in values.items()}
                self._pending = (values, time.time())
                if self.on_learnt is not None:
                    self.on_learnt(list(values))
                return True
            delay = self._next_backoff() if not self._connected else self.interval
            if self._idle(delay):
                break
        return False

    # -- the loop -------------------------------------------------------------------------------
    def _poll(self) -> None:
        """The polling thread: first connect, learn codenames if needed, then read forever."""
        try:
            if not self._stop.is_set():
                self._first_connect()
            self.first_connect_done.set()
            learn = self.on_learnt is not None and self.socket is None
            if learn and not self._learn_codenames():
                return
            self._loop()
        except (SystemExit, KeyboardInterrupt) as error:
            self._driver_exit(error, "the driver")
        except BaseException as error:  # the socket could not open in the background
            if isinstance(error, (OSError, ValueError)):  # port in use, codenames it cannot serve
                log.error("%s: cannot serve: %s", self._who(), error)
            else:
                log.exception("%s: the polling thread failed", self._who())
            self.fatal_error = error
            self._on_fatal()
        finally:
            self.first_connect_done.set()

    def _first_connect(self) -> None:
        """Connect once before the loop (a config error found here stops the node)."""
        now = time.time()
        try:
            self._call("connect()", self._connect)
        except DriverConfigError as error:
            self._config_error(error, now)
        except Exception as error:
            self._fault(error, now)

    def _loop(self) -> None:
        stop = self._stop
        interval = self.interval
        monotonic = time.monotonic
        while not stop.is_set():
            started = monotonic()
            waiting = not self._connected and self.state.state != "starting"
            if waiting and self._idle(self._next_backoff()):
                break
            values = self._read_once(time.time())
            if values is not None:
                self._publish(values, time.time())
            if self._idle(interval - (monotonic() - started)):
                break

    def _idle(self, seconds: float) -> bool:
        """Run instrument jobs (and serve the watched socket) for ``seconds``, at least once;
        return True when stopping."""
        if seconds <= 0 and self._watched is None:  # interval = 0: no clock, no lock
            if self._jobs:
                self._run_jobs()
            return self._stop.is_set()
        wake = self._wake
        deadline = time.monotonic() + seconds
        while True:
            # serve the watched socket (also when watch() came during this wait); until the
            # deadline, or an unwatch() after which the wait goes on without it
            if self._watched is not None and self._reader.acquire(blocking=False):
                self._reading_here = True
                try:
                    stopping = self._idle_watching(deadline)
                finally:
                    self._reading_here = False
                    self._reader.release()
                if stopping is not None:
                    return stopping
            if wake.is_set():
                wake.clear()
            if self._jobs:
                self._run_jobs()
            if self._stop.is_set():
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            if self._watched is not None:  # the stand-in is serving it: look again soon
                remaining = min(remaining, STAND_IN_POLL)
            wake.wait(remaining)

    def _idle_watching(self, deadline: float) -> bool | None:
        """_idle() while serving the watched socket, poll() on it and on the wake-up pair, until
        ``deadline`` (monotonic): True when stopping, None when unwatch() came first."""
        watched, pair, poller = self._watched, self._wake_pair, self._poller
        if watched is None or pair is None or poller is None:  # unwatch() came first
            return None
        waker = pair[0].fileno()
        monotonic = time.monotonic
        while True:
            if self._jobs:
                self._run_jobs()
            if self._stop.is_set():
                return True
            if self._watched is not watched:  # unwatch(): let go of the socket
                return None
            remaining = deadline - monotonic()
            events = poller.poll(max(math.ceil(remaining * 1000), 0))
            for fd, _ in events:
                if fd == waker:
                    self._wake.clear()
                    _drain(pair[0])
                else:  # one datagram, then poll again: no failed receive per datagram
                    watched.serve_pending(1)
            if monotonic() >= deadline and not self._jobs:
                return self._stop.is_set()

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        """Call the driver, marking it busy (for "stalled" in status)."""
        self._busy = (what, time.monotonic())
        try:
            return fn()
        finally:
            self._busy = None

    def _read_once(self, now: float) -> dict[str, float] | None:
        """Connect if needed and read once; on a fault record it and return None."""
        state = self.state
        try:
            if not self._connected:
                self._call("connect()", self._connect)
            self._busy = ("get_values()", time.monotonic())  # _call, inlined on the hot path
            try:
                values = self.driver.get_values()
            finally:
                self._busy = None
        except DriverConfigError as error:  # retrying cannot help: stop and say what to fix
            self._config_error(error, now)
            return None
        except Exception as error:  # a fault must never stop the node
            self._fault(error, now)
            return None
        state.readings += 1
        if state.state != "connected":
            if state.last_error is not None and self._problem is None:
                log.info("%s is answering again", self._who())
            state.state = "connected"
            state.retry_delay = None
        state.consecutive_failures = 0
        self._backoff = self.backoff_initial
        good, problem = check_reading(values)
        if problem is not None or self._problem is not None or not good:
            self._reading_problem(problem, good, values, now)
        return good

    def _reading_problem(self, problem: str | None, good: dict, values: object, now: float) -> None:
        """Count and log (once per change) what was wrong with what get_values() returned."""
        state = self.state
        if problem is not None:
            if good:
                state.bad_values += max(len(values) - len(good), 1)  # type: ignore[arg-type]
            else:
                state.bad_readings += 1
                state.state = "failing"
            state.last_error = f"DriverFault: {problem}"[:MAX_ERROR_TEXT]
            self._fault_class = None
            state.last_error_time = now
            if problem != self._problem:
                log.warning(
                    "%s: %s (a fault of the driver: those values are not served and go OLD_DATA "
                    "after their timeout; the node keeps serving)",
                    self._who(),
                    problem,
                )
        elif self._problem is not None:
            log.info("%s: get_values() returns valid values again", self._who())
        self._problem = problem
        if problem is None and not good:
            state.empty_readings += 1

    def _connect(self) -> None:
        state = self.state
        if state.state != "starting":
            state.reconnects += 1
            self.driver.reconnect()
        else:
            self.driver.connect()
        self._connected = True
        try:
            state.identity = str(self.driver.identify())[:200]
        except Exception as error:  # identification is nice to have, never required
            log.debug("%s: identify() failed: %s", self._who(), error)

    def _publish(self, values: dict[str, float], now: float) -> None:
        """Serve a reading's values, named with the prefix."""
        if self.prefix:
            prefix = self.prefix
            values = {prefix + codename: value for codename, value in values.items()}
        self._serve(values, now)

    def _serve(self, values: dict[str, float], now: float) -> None:
        sock = self.socket  # once set it stays: the lock is needed only before
        if sock is None:
            with self._publish_lock:
                sock = self.socket
                if sock is None:
                    self._pending = (values, now)
                    return
        if not values:  # nothing fresh (e.g. every gauge off): not a good reading
            return
        index = sock.table.index
        known = values
        if not values.keys() <= index.keys():
            known = {c: v for c, v in values.items() if c in index}
            self._ignore(sorted(set(values) - set(known) - set(self.state.ignored_codenames)))
            if not known:
                return
        try:
            sock.set_points_now(known, now)
        except (TypeError, ValueError) as error:
            self._fault(error, now)
            return
        self.state.last_good_reading = now

    def _ignore(self, extra: list[str]) -> None:
        ignored = self.state.ignored_codenames
        extra = extra[: MAX_IGNORED_CODENAMES - len(ignored)]
        if extra:
            log.warning(
                "%s returned codenames the node does not serve, ignored: %s",
                self._who(),
                ", ".join(extra),
            )
            ignored.extend(extra)

    def _config_error(self, error: DriverConfigError, now: float) -> None:
        log.error("%s: %s", self._who(), error.reason)
        self.fatal_error = error
        self.state.last_error = f"{type(error).__name__}: {error}"[:MAX_ERROR_TEXT]
        self.state.last_error_time = now
        self._on_fatal()

    def _driver_exit(self, error: BaseException, where: str) -> DriverExit:
        """A driver raised SystemExit or KeyboardInterrupt: stop the node, saying so."""
        message = (
            f"{self._who()}: {where} raised {type(error).__name__}({error}); a driver must not "
            "end the process: the node stops"
        )
        log.error("%s", message)
        self.state.last_error = f"{type(error).__name__}: {error}"[:MAX_ERROR_TEXT]
        self.fatal_error = DriverExit(message)
        self._on_fatal()
        return self.fatal_error

    def _fault(self, error: BaseException, now: float) -> None:
        state = self.state
        state.failed_readings += 1
        state.consecutive_failures += 1
        message = f"{type(error).__name__}: {error}"[:MAX_ERROR_TEXT]
        lost = isinstance(error, ConnectionError) or not self._connected
        if lost or state.consecutive_failures >= FAILURES_BEFORE_RECONNECT:
            new_state = "reconnecting"
            if self._connected:
                self._connected = False
                self.driver.close()
        else:
            new_state = "failing"
        changed = new_state != state.state or type(error) is not self._fault_class
        if changed and not self._stop.is_set():
            serving = "keeps serving" if self.socket is not None else "is not serving yet"
            log.warning("%s: %s (%s; the node %s)", self._who(), message, new_state, serving)
        state.state = new_state
        state.last_error = message
        state.last_error_time = now
        self._fault_class = type(error)
        self._problem = None

    def _next_backoff(self) -> float:
        delay = self._backoff
        self._backoff = min(self._backoff * 2, self.backoff_max)
        self.state.retry_delay = delay
        return delay

    def _who(self) -> str:
        who = f"{self.state.driver} on {self.state.resource}"
        return who if self.label is None else f"{who} ({self.label})"


def _drain(sock: socket.socket) -> None:
    """Read a non-blocking socket empty (the wake-up bytes)."""
    try:
        while sock.recv(4096):
            pass
    except OSError:  # empty now (BlockingIOError), or closed
        pass


def _resource_of(driver: object) -> str:
    return str(getattr(driver, "resource", "?"))
