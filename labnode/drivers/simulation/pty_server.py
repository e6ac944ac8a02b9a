"""A pseudo-terminal that puts a device model behind a real serial device path (POSIX only)."""

from __future__ import annotations

import os
import selectors
from typing import Any

from labnode.drivers.simulation.model import DeviceModel
from labnode.drivers.simulation.serving_loop import ServingLoop

_MASTER = "master"


class PtyDeviceServer(ServingLoop):
    """Serve `model` on a pty; open `server.port` (e.g. `/dev/pts/7`) like any serial port.

    pyserial: `serial.serial_for_url(server.port)`; pyvisa-py: `server.visa_resource`
    (`ASRL/dev/pts/7::INSTR`). Baud rate and framing settings are accepted and ignored.
    `vanish()` hangs the terminal up (clients' reads and writes fail); `come_back()` opens a
    new pty, whose path may differ while an old client still holds the old one open.
    """

    def __init__(self, model: DeviceModel) -> None:
        super().__init__(model)
        self._master: int | None = None
        self._slave: int | None = None
        self._port = ""

    @property
    def port(self) -> str:
        """The serial device path of the simulated device ('' before start)."""
        return self._port

    @property
    def url(self) -> str:
        """What `serial.serial_for_url` opens: the device path."""
        return self._port

    @property
    def visa_resource(self) -> str:
        """The VISA resource name of the simulated device (pyvisa-py ASRL)."""
        return f"ASRL{self._port}::INSTR"

    @property
    def is_listening(self) -> bool:
        """True unless stopped or vanished."""
        return self._master is not None

    def vanish(self) -> None:
        """Hang up: close the pty, so clients see I/O errors."""
        self._call_in_loop(self._close)

    def come_back(self) -> None:
        """Open a fresh pty after `vanish()` (no-op if present); see `port` for its path."""

        def open_if_gone() -> None:
            if self._master is None:
                self._open()

        self._call_in_loop(open_if_gone)

    # -- ServingLoop -----------------------------------------------------------------------

    def _thread_name(self) -> str:
        return f"PtyDeviceServer({self.model.name}@{self._port})"

    def _open(self) -> None:
        import tty  # POSIX only: imported here so the package imports everywhere

        master, slave = os.openpty()
        tty.setraw(slave)  # no echo, no CR/LF translation, until a client sets its own mode
        os.set_blocking(master, False)
        self._master, self._slave = master, slave
        self._port = os.ttyname(slave)
        self.model.reset_input()
        self._register(master, _MASTER)

    def _close(self) -> None:
        self._forget_delayed()
        if self._master is not None:
            self._unregister(self._master)
            os.close(self._master)
            self._master = None
        if self._slave is not None:
            os.close(self._slave)
            self._slave = None

    def _on_ready(self, key: selectors.SelectorKey) -> None:
        assert self._master is not None
        try:
            data = os.read(self._master, 4096)
        except BlockingIOError:
            return
        except OSError:  # EIO: no slave open; cannot happen while we hold the slave
            return
        if data:
            self._answer(self._master, data)

    def _send(self, target: Any, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                written = os.write(target, view)
            except OSError:  # client not reading (queue full) or hung up: drop, as a UART would
                return
            view = view[written:]

    def _target_alive(self, target: Any) -> bool:
        return target == self._master
