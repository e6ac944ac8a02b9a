"""pyserial's `sim://NAME` port: writes go to a simulated device model, reads return its replies.

pyserial finds this module through `serial.protocol_handler_packages` (as `loop://` is found in
its own `serial.urlhandler`); the device behind the name is a `MemoryDeviceServer`. Settings
(baud rate, framing) are accepted and ignored, as the pty simulator does. Timeouts are real: a
read waits up to `timeout` seconds for the model's (possibly delayed) reply.
"""

from __future__ import annotations

import bisect
import logging
import threading
import time
from collections.abc import Callable

from serial.serialutil import PortNotOpenError, SerialBase, SerialException

from labnode.drivers.simulation.memory_server import MemoryDeviceServer, server_for_url

log = logging.getLogger(__name__)


class Serial(SerialBase):
    """An in-memory serial port on a simulated device (`serial_for_url("sim://alicat")`)."""

    def __init__(self, *args, **kwargs) -> None:
        self._server: MemoryDeviceServer | None = None
        self._received = bytearray()
        self._in_flight: list[tuple[float, bytes]] = []  # (due, reply) held back by reply_delay
        self._hung_up = False
        self._changed = threading.Condition()
        super().__init__(*args, **kwargs)

    # -- open and close ------------------------------------------------------------------------

    def open(self) -> None:
        """Attach to the device named by the URL; SerialException if it is unknown or gone."""
        if self._port is None:
            raise SerialException("Port must be configured before it can be used.")
        if self.is_open:
            raise SerialException("Port is already open.")
        try:
            server = server_for_url(self._port)
            server.attach(self)
        except (LookupError, ConnectionRefusedError) as error:
            raise SerialException(f"could not open port {self._port!r}: {error}") from None
        with self._changed:
            self._server = server
            self._received.clear()
            self._in_flight.clear()
            self._hung_up = False
        self._reconfigure_port()
        self.is_open = True

    def close(self) -> None:
        """Detach from the device (idempotent)."""
        server, self._server = self._server, None
        if server is not None:
            server.detach(self)
        self.is_open = False

    def hang_up(self) -> None:
        """The device went away: pending and later reads and writes fail."""
        with self._changed:
            self._hung_up = True
            self._changed.notify_all()

    def _reconfigure_port(self) -> None:
        if not isinstance(self._baudrate, int) or not 0 < self._baudrate < 2**32:
            raise ValueError(f"invalid baudrate: {self._baudrate!r}")

    # -- I/O -----------------------------------------------------------------------------------

    def write(self, data: bytes) -> int:
        """Hand the bytes to the model; its reply arrives now or after its reply_delay."""
        server = self._checked_server()
        data = bytes(data)
        try:
            reply = server.model.feed(data)
        except Exception:  # a model bug answers nothing, as the other servers do
            log.exception("%s model failed on %r; answering nothing", server.model.name, data)
            reply = b""
        if reply:
            delay = server.model.reply_delay
            with self._changed:
                if delay > 0:
                    bisect.insort(self._in_flight, (time.monotonic() + delay, reply))
                else:
                    self._received += reply
                self._changed.notify_all()
        return len(data)

    def read(self, size: int = 1) -> bytes:
        """Up to `size` bytes: returns once `size` arrived, else what came by the timeout."""
        return self._read_when(lambda buffer: size if len(buffer) >= size else None, size)

    def read_until(self, expected: bytes = b"\n", size: int | None = None) -> bytes:
        """Up to and including `expected` (or `size` bytes), else what came by the timeout."""

        def ready(buffer: bytearray) -> int | None:
            end = buffer.find(expected)
            if end >= 0:
                length = end + len(expected)
                return length if size is None else min(length, size)
            return size if size is not None and len(buffer) >= size else None

        return self._read_when(ready, size)

    def _read_when(self, ready: Callable[[bytearray], int | None], limit: int | None) -> bytes:
        """Take `ready(buffer)` bytes once it says how many, else up to `limit` at the timeout."""
        self._checked_server()
        deadline = None if self._timeout is None else time.monotonic() + self._timeout
        with self._changed:
            while True:
                now = time.monotonic()
                self._land(now)
                count = ready(self._received)
                if count is not None:
                    break
                if self._hung_up:
                    raise SerialException("device disconnected: the simulated device vanished")
                wait = None if deadline is None else deadline - now
                if self._in_flight:
                    due = self._in_flight[0][0] - now
                    wait = due if wait is None else min(wait, due)
                if wait is not None and wait <= 0:
                    count = len(self._received) if limit is None else limit
                    break
                self._changed.wait(wait)
            data = bytes(self._received[:count])
            del self._received[:count]
            return data

    @property
    def in_waiting(self) -> int:
        """Bytes received and not read yet."""
        self._checked_server()
        with self._changed:
            self._land(time.monotonic())
            return len(self._received)

    def reset_input_buffer(self) -> None:
        """Discard what was received (replies still held back arrive later, as on a wire)."""
        self._checked_server()
        with self._changed:
            self._land(time.monotonic())
            self._received.clear()

    def reset_output_buffer(self) -> None:
        """Nothing is buffered on the way out."""
        self._checked_server()

    def _land(self, now: float) -> None:
        """Move replies whose delay is over into the input buffer (holding `_changed`)."""
        while self._in_flight and self._in_flight[0][0] <= now:
            self._received += self._in_flight.pop(0)[1]

    def _checked_server(self) -> MemoryDeviceServer:
        server = self._server
        if not self.is_open or server is None:
            raise PortNotOpenError()
        if self._hung_up:
            raise SerialException("device disconnected: the simulated device vanished")
        return server

    # -- modem lines: nothing to do ------------------------------------------------------------

    def _update_break_state(self) -> None:
        pass

    def _update_rts_state(self) -> None:
        pass

    def _update_dtr_state(self) -> None:
        pass

    @property
    def cts(self) -> bool:
        return True

    @property
    def dsr(self) -> bool:
        return True

    @property
    def ri(self) -> bool:
        return False

    @property
    def cd(self) -> bool:
        return True
