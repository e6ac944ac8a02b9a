"""Transport over pyserial: a device path, a pty, socket://, rfc2217:// or loop://."""

from __future__ import annotations

from typing import Any

import serial

from labnode.drivers.transports.base import COMMON_SETTINGS, Transport


class SerialTransport(Transport):
    """Serial port (anything `serial.serial_for_url` opens) with raising timeouts."""

    settings = {
        **COMMON_SETTINGS,
        "baudrate": 9600,
        "bytesize": serial.EIGHTBITS,
        "parity": serial.PARITY_NONE,
        "stopbits": serial.STOPBITS_ONE,
        "xonxoff": False,
        "rtscts": False,
        "dsrdtr": False,
        "exclusive": None,
    }

    def __init__(self, resource: str, *, owner: str = "Driver", **settings: Any) -> None:
        super().__init__(resource, owner=owner, **settings)
        self._port: serial.SerialBase | None = None

    def open(self) -> None:
        """Open the port (no-op when already open)."""
        with self.lock:
            if self.is_open:
                return
            try:
                port = serial.serial_for_url(
                    self.resource,
                    do_not_open=True,
                    timeout=self.timeout,
                    write_timeout=self.timeout,
                    **self.options,
                )
            except (ValueError, TypeError) as error:
                self._config_error(f"invalid serial port or settings: {error}")
            try:
                port.open()
            except (serial.SerialException, OSError) as error:
                self._lost(error, "could not open the port")
            self._port = port
            self._stale = False

    def _apply_timeout(self) -> None:
        self._port.timeout = self._port.write_timeout = self.timeout

    def close(self) -> None:
        """Close the port; idempotent."""
        with self.lock:
            port, self._port = self._port, None
            if port is not None:
                try:
                    port.close()
                except Exception:  # closing a vanished port may fail; it is closed either way
                    pass

    @property
    def is_open(self) -> bool:
        """Whether the port is open."""
        return self._port is not None and self._port.is_open

    def write_bytes(self, data: bytes) -> None:
        """Write raw bytes."""
        with self._io():
            self._discard_stale_input()
            try:
                self._port.write(data)
                self._port.flush()
            except serial.SerialTimeoutException:
                self._timeout("could not write")
            except (serial.SerialException, OSError) as error:
                self._lost(error)

    def read_bytes(self, size: int) -> bytes:
        """Read exactly `size` bytes or raise InstrumentTimeout."""
        with self._io():
            try:
                data = self._port.read(size)
            except (serial.SerialException, OSError) as error:
                self._lost(error)
            if len(data) < size:
                self._timeout(f"expected {size} bytes, no complete reply", data)
            return data

    def read_until(self, terminator: bytes) -> bytes:
        """Read up to and including `terminator` or raise InstrumentTimeout."""
        with self._io():
            try:
                data = self._port.read_until(terminator)
            except (serial.SerialException, OSError) as error:
                self._lost(error)
            if not data.endswith(terminator):
                self._timeout(f"no reply ending in {terminator!r}", data)
            return data

    def flush_input(self) -> None:
        """Discard everything received and not yet read."""
        with self._io():
            try:
                self._port.reset_input_buffer()
            except (serial.SerialException, OSError) as error:
                self._lost(error)
