"""Transport over pyserial: a device path, a pty, socket://, rfc2217:// or loop://."""

from __future__ import annotations

import errno
import importlib.util
import os
import stat
from typing import Any
from urllib.parse import urlsplit

import serial

from labnode.drivers.transports.base import COMMON_SETTINGS, Transport
from labnode.drivers.transports.port_holders import busy_port_error
from labnode.drivers.transports.port_locks import (
    exclusive_users,
    join_exclusive,
    leave_exclusive,
    port_key,
)

#: Where pyserial documents its URLs and their options.
PYSERIAL_URLS = "https://pyserial.readthedocs.io/en/latest/url_handlers.html"


class SerialTransport(Transport):
    """Serial port (anything `serial.serial_for_url` opens) with raising timeouts.

    A device path is opened exclusively (``exclusive=None``, the default, means True for
    device paths): another process that opens it exclusively too is refused, with a message that
    names it. Transports of one process share the device and its port lock. ``exclusive=False``
    allows sharing with other processes.
    """

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
        self._check_url()
        self._check_device()
        self._check_options()
        self._port: serial.SerialBase | None = None
        self._exclusive_key: str | None = None

    @property
    def is_device(self) -> bool:
        """Whether the resource is a device path (not a socket://, rfc2217://... URL)."""
        return "://" not in self.resource

    def _check_device(self) -> None:
        """A device path that exists must not be a directory or a regular file."""
        if not self.is_device:
            return
        try:
            mode = os.stat(self.resource).st_mode
        except (OSError, ValueError):  # absent (unplugged?) or not a path: found at open
            return
        if stat.S_ISDIR(mode) or stat.S_ISREG(mode):
            kind = "a directory" if stat.S_ISDIR(mode) else "a regular file"
            raise self.checks.error(
                "resource",
                f"{self.resource!r} is {kind}, not a serial port; give a device such as "
                "'/dev/ttyUSB0' or a URL such as 'socket://192.168.1.20:4001'",
            )

    def _check_url(self) -> None:
        """A URL must name a scheme pyserial has, and socket:// and rfc2217:// a host and a port."""
        if "://" not in self.resource:
            return
        scheme = self.resource.partition("://")[0].lower()
        if not _has_url_handler(scheme):
            raise self.checks.error(
                "resource",
                f"pyserial has no {scheme + '://'!r} URLs; give a device path such as "
                "'/dev/ttyUSB0' or a URL such as 'socket://192.168.1.20:4001' or 'rfc2217://...'",
            )
        if scheme in ("socket", "rfc2217"):
            parts = urlsplit(self.resource)
            try:
                port = parts.port
            except ValueError:
                port = None
            if not parts.hostname or port is None or not 0 < port < 65536:
                raise self.checks.error(
                    "resource",
                    f"{scheme}:// needs a host and a port 1-65535, such as "
                    f"'{scheme}://192.168.1.20:4001', got {self.resource!r}",
                )
        if scheme == "hwgrep":  # it looks for the device, which may be plugged in later
            return
        try:  # the URL handler's own checks of the URL and its options; nothing is opened
            port = serial.serial_for_url(self.resource, do_not_open=True)
            from_url = getattr(port, "from_url", None)  # alt:// has none
            if from_url is not None:
                from_url(self.resource)
        except KeyError:  # pyserial 3.5: an unknown logging level, or its own message template
            raise self.checks.error(
                "resource",
                f"invalid serial port {self.resource!r}: pyserial refuses the options "
                f"{urlsplit(self.resource).query!r} (the options of each URL: {PYSERIAL_URLS})",
            ) from None
        except (OSError, ValueError) as error:  # SerialException is an OSError
            raise self.checks.error(
                "resource", f"invalid serial port {self.resource!r}: {error}"
            ) from None

    def _check_options(self) -> None:
        options, checks = self.options, self.checks
        options["baudrate"] = checks.positive_int("baudrate", options["baudrate"], "9600")
        options["bytesize"] = checks.choice("bytesize", options["bytesize"], (5, 6, 7, 8))
        parity = options["parity"]
        if isinstance(parity, str) and parity.upper() in serial.Serial.PARITIES:
            options["parity"] = parity.upper()
        else:
            raise checks.error(
                "parity",
                "parity must be one of 'N', 'E', 'O', 'M', 'S' "
                f"(none, even, odd, mark, space), got {parity!r}",
            )
        options["stopbits"] = checks.choice("stopbits", options["stopbits"], (1, 1.5, 2))
        for flag in ("xonxoff", "rtscts", "dsrdtr"):
            options[flag] = checks.boolean(flag, options[flag])
        if options["exclusive"] is not None:
            options["exclusive"] = checks.boolean("exclusive", options["exclusive"])

    def open(self) -> None:
        """Open the port (no-op when already open)."""
        with self.lock:
            if self.is_open:
                return
            options = dict(self.options)
            key = self._exclusive_port()
            options["exclusive"] = None
            if key is not None and not exclusive_users(key):  # else this process holds it
                options["exclusive"] = True
            try:
                port = serial.serial_for_url(
                    self.resource,
                    do_not_open=True,
                    timeout=self.timeout,
                    write_timeout=self.timeout,
                    **options,
                )
            except (ValueError, TypeError) as error:
                self._config_error(
                    f"invalid serial port {self.resource!r}: {error}", setting="resource"
                )
            try:
                port.open()
            except (serial.SerialException, OSError) as error:
                self._open_failed(error)
            except (ValueError, OverflowError, TypeError) as error:
                setting = "baudrate" if "baud" in str(error).lower() else "resource"
                if isinstance(error, OverflowError):
                    setting = "baudrate"
                self._config_error(
                    f"the port refused its settings ({type(error).__name__}: {error}); "
                    f"check {setting}",
                    setting=setting,
                )
            self._port = port
            self._stale = False
            if key is not None:
                join_exclusive(key, port)
                self._exclusive_key = key

    def _exclusive_port(self) -> str | None:
        """The port key when the device is to be opened exclusively, else None."""
        exclusive = self.options["exclusive"]
        if not self.is_device or exclusive is False:
            return None
        return port_key(self.resource)

    def _open_failed(self, error: BaseException) -> None:
        """Classify a failed open: busy (name the holder), not a serial port, or absent."""
        text = str(error)
        number = getattr(error, "errno", None)
        if "exclusively lock" in text or number in (errno.EWOULDBLOCK, errno.EBUSY):
            raise busy_port_error(self.resource, self.resource, self.owner) from error
        if number == errno.ENOTTY or os.strerror(errno.ENOTTY) in text:
            self._config_error(
                f"{self.resource!r} is not a serial port (not a terminal device); give a "
                "device such as '/dev/ttyUSB0' or a URL such as 'socket://192.168.1.20:4001'",
                setting="resource",
            )
        self._lost(error, "could not open the port")

    def _apply_timeout(self) -> None:
        self._port.timeout = self._port.write_timeout = self.timeout

    def close(self) -> None:
        """Close the port; idempotent."""
        with self.lock:
            port, self._port = self._port, None
            key, self._exclusive_key = self._exclusive_key, None
            if port is not None:
                try:
                    port.close()
                except Exception:  # closing a vanished port may fail; it is closed either way
                    pass
            if key is not None:
                leave_exclusive(key, port)

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


def _has_url_handler(scheme: str) -> bool:
    """Whether pyserial has a handler for ``scheme://`` (looked up as serial_for_url does)."""
    if not scheme.isidentifier():
        return False
    for package in serial.protocol_handler_packages:
        try:
            if importlib.util.find_spec(f"{package}.protocol_{scheme}") is not None:
                return True
        except ImportError:
            continue
    return False
