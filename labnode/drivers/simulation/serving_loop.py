"""The serving thread of the simulator servers: a selector, a wake-up socket, delayed replies."""

from __future__ import annotations

import heapq
import itertools
import logging
import selectors
import socket
import threading
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar

from labnode.drivers.simulation.model import DeviceModel

T = TypeVar("T")
_Loop = TypeVar("_Loop", bound="ServingLoop")
log = logging.getLogger(__name__)

_WAKE = "wake"
_CALL_TIMEOUT_S = 5.0
_JOIN_TIMEOUT_S = 2.0


class ServingLoop(ABC):
    """One thread that serves a `DeviceModel`; subclasses own the file objects it watches.

    All changes to watched files happen on the serving thread: public methods hand their
    work over with `_call_in_loop`, so nothing is closed while the selector waits on it.
    """

    def __init__(self, model: DeviceModel) -> None:
        self.model = model
        self._selector: selectors.BaseSelector | None = None
        self._thread: threading.Thread | None = None
        self._stop_requested = False
        self._wake_reader: socket.socket | None = None
        self._wake_writer: socket.socket | None = None
        self._calls: deque[tuple[Callable[[], Any], threading.Event, list[Any]]] = deque()
        self._delayed: list[tuple[float, int, Any, bytes]] = []
        self._sequence = itertools.count()

    # -- lifecycle -------------------------------------------------------------------------

    def start(self: _Loop) -> _Loop:
        """Open the device side and start serving in a daemon thread; returns self."""
        if self._thread is not None:
            return self
        self._selector = selectors.DefaultSelector()
        self._wake_reader, self._wake_writer = socket.socketpair()
        self._wake_reader.setblocking(False)
        self._selector.register(self._wake_reader, selectors.EVENT_READ, _WAKE)
        self._stop_requested = False
        try:
            self._open()
        except BaseException:
            self._close_loop_resources()
            raise
        self._thread = threading.Thread(target=self._serve, name=self._thread_name(), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close every file descriptor (idempotent, returns within ~1 s)."""
        thread = self._thread
        if thread is None:
            return
        self._stop_requested = True
        self._wake()
        thread.join(_JOIN_TIMEOUT_S)
        self._thread = None
        self._close()
        self._close_loop_resources()

    def __enter__(self: _Loop) -> _Loop:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def is_serving(self) -> bool:
        """True while the serving thread runs."""
        return self._thread is not None and self._thread.is_alive()

    # -- for subclasses --------------------------------------------------------------------

    @abstractmethod
    def _open(self) -> None:
        """Open and register the device side (called before the thread starts)."""

    @abstractmethod
    def _close(self) -> None:
        """Close the device side (called after the thread ended)."""

    @abstractmethod
    def _on_ready(self, key: selectors.SelectorKey) -> None:
        """Handle a registered file that became readable."""

    @abstractmethod
    def _send(self, target: Any, data: bytes) -> None:
        """Write reply bytes to `target` now."""

    @abstractmethod
    def _target_alive(self, target: Any) -> bool:
        """Whether a delayed reply may still go to `target`."""

    def _thread_name(self) -> str:
        return type(self).__name__

    def _register(self, fileobj: Any, data: Any) -> None:
        assert self._selector is not None
        self._selector.register(fileobj, selectors.EVENT_READ, data)

    def _unregister(self, fileobj: Any) -> None:
        if self._selector is None:
            return
        try:
            self._selector.unregister(fileobj)
        except (KeyError, ValueError):
            pass

    def _answer(self, target: Any, request: bytes) -> None:
        """Feed request bytes to the model and send its reply; a model bug answers nothing."""
        try:
            reply = self.model.feed(request)
        except Exception:  # keep serving: one bad request must not kill the simulated device
            log.exception("%s model failed on %r; answering nothing", self.model.name, request)
            return
        self._reply(target, reply)

    def _reply(self, target: Any, data: bytes) -> None:
        """Send `data` to `target`, now or after the model's `reply_delay`."""
        if not data:
            return
        delay = self.model.reply_delay
        if delay > 0:
            item = (time.monotonic() + delay, next(self._sequence), target, data)
            heapq.heappush(self._delayed, item)
        else:
            self._send(target, data)

    def _forget_delayed(self) -> None:
        self._delayed.clear()

    def _call_in_loop(self, function: Callable[[], T]) -> T:
        """Run `function` on the serving thread (or here if not serving) and return its result."""
        thread = self._thread
        if thread is None or not thread.is_alive() or thread is threading.current_thread():
            return function()
        done = threading.Event()
        outcome: list[Any] = []
        self._calls.append((function, done, outcome))
        self._wake()
        if not done.wait(_CALL_TIMEOUT_S):
            raise TimeoutError(f"{type(self).__name__} serving thread did not answer in time")
        if outcome and isinstance(outcome[0], BaseException):
            raise outcome[0]
        return outcome[0] if outcome else None  # type: ignore[return-value]

    # -- the loop --------------------------------------------------------------------------

    def _wake(self) -> None:
        writer = self._wake_writer
        if writer is not None:
            try:
                writer.send(b"\0")
            except OSError:
                pass

    def _serve(self) -> None:
        assert self._selector is not None
        while not self._stop_requested:
            timeout = None
            if self._delayed:
                timeout = max(0.0, self._delayed[0][0] - time.monotonic())
            for key, _events in self._selector.select(timeout):
                if key.data == _WAKE:
                    self._drain_wake()
                else:
                    self._on_ready(key)
            self._run_calls()
            self._send_due()
        self._run_calls()

    def _drain_wake(self) -> None:
        assert self._wake_reader is not None
        try:
            while self._wake_reader.recv(512):
                pass
        except (BlockingIOError, InterruptedError):
            pass

    def _run_calls(self) -> None:
        while self._calls:
            function, done, outcome = self._calls.popleft()
            try:
                outcome.append(function())
            except BaseException as error:  # handed back to the caller's thread
                outcome.append(error)
            done.set()

    def _send_due(self) -> None:
        now = time.monotonic()
        while self._delayed and self._delayed[0][0] <= now:
            _due, _seq, target, data = heapq.heappop(self._delayed)
            if self._target_alive(target):
                self._send(target, data)

    def _close_loop_resources(self) -> None:
        for sock in (self._wake_reader, self._wake_writer):
            if sock is not None:
                sock.close()
        self._wake_reader = self._wake_writer = None
        if self._selector is not None:
            self._selector.close()
            self._selector = None
        self._delayed.clear()
