"""Transport over pyvisa: any backend by name (`@py`, `@ivi`, `@sim`, `path.yaml@sim`)."""

from __future__ import annotations

import re
import socket
import time
from typing import TYPE_CHECKING, Any

from labnode.drivers.errors import DriverError
from labnode.drivers.transports.base import COMMON_SETTINGS, Transport
from labnode.drivers.transports.port_holders import lock_exclusively
from labnode.drivers.transports.port_locks import (
    exclusive_users,
    join_exclusive,
    leave_exclusive,
    port_key,
)
from labnode.drivers.transports.visa_library import (
    INTERFACE_PACKAGES,
    MISSING_SUPPORT,
    library_error,
    library_problem,
    normalize_visa_name,
    pyvisa_py_interface,
    resource_manager,
    visa_name_problem,
)

if TYPE_CHECKING:  # pyvisa costs ~0.1 s to import; it is imported when a port is opened
    import pyvisa
    import pyvisa.resources

#: How long flush_input() keeps reading to drain replies that are still arriving.
DRAIN_SECONDS = 0.02

#: An ASRL resource on a device path (ASRL/dev/ttyUSB0::INSTR), as opposed to a number (ASRL1).
_ASRL_PATH = re.compile(r"^ASRL(?P<device>/.+?)::INSTR$", re.I)

#: How many resources of a pyvisa-sim file a "no such resource" message lists.
SIM_RESOURCES_LISTED = 6


class VisaTransport(Transport):
    """VISA resource (GPIB, USB, TCPIP, ASRL...) through pyvisa, with seconds and typed errors."""

    settings = {**COMMON_SETTINGS, "visa_library": "@py", "baudrate": None, "exclusive": None}

    def __init__(self, resource: str, *, owner: str = "Driver", **settings: Any) -> None:
        super().__init__(resource, owner=owner, **settings)
        problem = visa_name_problem(self.resource)
        if problem is not None:
            raise self.checks.error("resource", problem)
        visa_library = self.options.pop("visa_library")
        problem = library_problem(visa_library)
        if problem is not None:
            raise self.checks.error("visa_library", problem)
        self.visa_library: str = visa_library
        baudrate = self.options.pop("baudrate")
        if baudrate is not None:
            baudrate = self.checks.positive_int("baudrate", baudrate, "9600")
            name = self.resource.strip().upper()
            if "::" in name and not name.startswith("ASRL"):
                raise self.checks.error(
                    "baudrate",
                    "baudrate applies to serial resources (ASRL...::INSTR) only; "
                    f"remove it for {self.resource!r}",
                )
        self.baudrate: int | None = baudrate
        exclusive = self.options.pop("exclusive")
        #: Lock an ASRL device path like SerialTransport does (None: yes; False: share it).
        self.exclusive: bool | None = (
            None if exclusive is None else self.checks.boolean("exclusive", exclusive)
        )
        self._exclusive_key: str | None = None
        self._exclusive_port: object | None = None
        self._instrument: pyvisa.resources.MessageBasedResource | None = None

    def open(self) -> None:
        """Open the resource (no-op when already open)."""
        import pyvisa

        with self.lock:
            if self.is_open:
                return
            manager = resource_manager(self.visa_library, checks=self.checks)
            if self.visa_library.endswith("@sim"):
                self._require_simulated(manager)
            try:
                instrument = self._open_resource(manager)
            except pyvisa.errors.VisaIOError as error:
                if error.error_code == pyvisa.constants.StatusCode.error_invalid_resource_name:
                    self._config_error(
                        f"invalid VISA resource name {self.resource!r}; VISA names look like "
                        "'GPIB0::9::INSTR', 'TCPIP::192.168.1.20::INSTR', "
                        "'TCPIP::192.168.1.20::5025::SOCKET' or 'ASRL/dev/ttyUSB0::INSTR'",
                        setting="resource",
                    )
                self._lost(error, f"could not open with VISA library {self.visa_library!r}")
            except OSError as error:
                self._lost(error, f"could not open with VISA library {self.visa_library!r}")
            except ValueError as error:
                self._unopenable(error)
            except (TypeError, pyvisa.errors.Error) as error:
                self._config_error(
                    f"VISA library {self.visa_library!r} cannot open {self.resource!r}: "
                    f"{library_error(error)}",
                    setting="resource",
                )
            except Exception as error:  # pyvisa-py raises a bare Exception("could not connect")
                self._lost(error, f"could not open within {self.timeout:g} s")
            if self._peer_closed(instrument):  # pyvisa-py "opens" a refused raw socket
                instrument.close()
                self._lost(ConnectionRefusedError("connection refused"), "could not open")
            try:
                self._configure(instrument)
                self._lock_device(instrument)
            except DriverError:
                instrument.close()
                raise
            except Exception as error:
                instrument.close()
                self._lost(error, "could not configure the VISA session")
            self._instrument = instrument
            self._stale = False

    def _open_resource(self, manager: pyvisa.ResourceManager) -> pyvisa.resources.Resource:
        """Open the pyvisa resource within the driver's timeout; open() classifies what this
        raises (a subclass may open it another way, as the PyMeasure driver's transport does)."""
        return manager.open_resource(self.resource, open_timeout=max(1, round(self.timeout * 1000)))

    def _lock_device(self, instrument: pyvisa.resources.Resource) -> None:
        """Lock an ASRL device path exclusively, as SerialTransport does (pyvisa-py only)."""
        match = _ASRL_PATH.match(self.resource.strip())
        if match is None or self.exclusive is False:
            return
        port = pyvisa_py_interface(instrument)
        fd = getattr(port, "fd", None)
        if not isinstance(fd, int):
            return
        key = port_key(self.resource)
        if not exclusive_users(key):  # else another transport of this process holds the lock
            lock_exclusively(fd, match["device"], self.resource, self.owner)
        join_exclusive(key, port)
        self._exclusive_key = key
        self._exclusive_port = port

    def _unopenable(self, error: ValueError) -> None:
        """Classify pyvisa-py's ValueErrors: a missing support package, an unsupported type,
        or (anything else, e.g. "No device found.") an absent instrument."""
        text = str(error)
        if any(phrase in text.lower() for phrase in MISSING_SUPPORT):
            kind = next(
                (
                    prefix
                    for prefix in INTERFACE_PACKAGES
                    if self.resource.upper().startswith(prefix)
                ),
                None,
            )
            need = INTERFACE_PACKAGES[kind] if kind else library_error(error)
            self._config_error(
                f"VISA library {self.visa_library!r} cannot open {self.resource!r}: "
                f"it needs {need}",
                setting="visa_library",
            )
        if text.startswith("No class registered"):
            self._config_error(
                f"VISA library {self.visa_library!r} has no support for resources like "
                f"{self.resource!r}; check the resource name or use another visa_library",
                setting="resource",
            )
        self._lost(error, f"could not open with VISA library {self.visa_library!r}")

    def _require_simulated(self, manager: pyvisa.ResourceManager) -> None:
        """pyvisa-sim opens any name and then answers nothing: refuse names not in its YAML."""
        available = manager.list_resources("?*")
        wanted = normalize_visa_name(self.resource)
        if wanted not in {normalize_visa_name(name) for name in available}:
            listed = ", ".join(available[:SIM_RESOURCES_LISTED])
            if len(available) > SIM_RESOURCES_LISTED:
                listed += f" and {len(available) - SIM_RESOURCES_LISTED} more"
            self._config_error(
                f"{self.visa_library!r} simulates no such resource; it has {listed}",
                setting="resource",
            )

    def _configure(self, instrument: pyvisa.resources.MessageBasedResource) -> None:
        if not hasattr(instrument, "read_termination"):
            self._config_error(
                f"{self.resource!r} is a {type(instrument).__name__}, not a message-based "
                "resource; give an INSTR or SOCKET resource",
                setting="resource",
            )
        instrument.timeout = self.timeout * 1000
        instrument.read_termination = self.read_termination or None
        instrument.write_termination = self.write_termination
        instrument.encoding = self.encoding
        if self.baudrate is not None:
            if not hasattr(instrument, "baud_rate"):
                self._config_error(
                    f"baudrate applies to serial (ASRL) resources only, not {self.resource!r}",
                    setting="baudrate",
                )
            instrument.baud_rate = self.baudrate

    def _apply_timeout(self) -> None:
        self._instrument.timeout = self.timeout * 1000

    def close(self) -> None:
        """Close the resource; idempotent."""
        with self.lock:
            instrument, self._instrument = self._instrument, None
            key, self._exclusive_key = self._exclusive_key, None
            port, self._exclusive_port = self._exclusive_port, None
            if instrument is not None:
                try:
                    instrument.close()
                except Exception:  # a vanished session may fail to close; it is closed either way
                    pass
            if key is not None:
                leave_exclusive(key, port)

    @property
    def is_open(self) -> bool:
        """Whether the resource is open."""
        return self._instrument is not None

    def _handle(self, error: Exception, what: str) -> None:
        """Turn a pyvisa/OS error into InstrumentTimeout or ConnectionLost; re-raise others."""
        import pyvisa

        if isinstance(error, DriverError):
            raise error
        if isinstance(error, UnicodeDecodeError):
            raise self._undecodable(error.object) from error
        if isinstance(error, pyvisa.errors.VisaIOError):
            if error.error_code == pyvisa.constants.StatusCode.error_timeout:
                if self._peer_closed():
                    self._lost(ConnectionResetError("the instrument closed the connection"))
                self._timeout(what)
            self._lost(error)
        if isinstance(error, (pyvisa.errors.InvalidSession, OSError)):
            self._lost(error)
        raise error

    def _peer_closed(self, instrument: pyvisa.resources.Resource | None = None) -> bool:
        """Whether a pyvisa-py raw socket was closed by the peer (it reports that as a timeout)."""
        sock = pyvisa_py_interface(instrument or self._instrument)
        if not isinstance(sock, socket.socket):  # another backend: no way to tell
            return False
        try:
            return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
        except BlockingIOError:
            return False
        except OSError:
            return True

    def _device_clear(self, instrument: pyvisa.resources.MessageBasedResource) -> bool:
        if not instrument.resource_name.upper().endswith("::INSTR"):
            return False
        if instrument.resource_name.upper().startswith("ASRL"):
            return False
        try:
            instrument.clear()
        except Exception:  # pyvisa-sim and some backends do not implement viClear
            return False
        return True

    def write(self, command: str) -> None:
        """Send a command followed by the write termination."""
        with self._io():
            self._discard_stale_input()
            self.last_command = command
            try:
                self._instrument.write(command)
            except Exception as error:
                self._handle(error, "could not write")

    def read(self) -> str:
        """Read one reply up to the read termination (or END), which is stripped."""
        with self._io():
            try:
                reply = self._instrument.read()
            except Exception as error:
                self._handle(error, "no reply")
            self.last_reply = reply
            return reply

    def write_bytes(self, data: bytes) -> None:
        """Write raw bytes."""
        with self._io():
            self._discard_stale_input()
            try:
                self._instrument.write_raw(data)
            except Exception as error:
                self._handle(error, "could not write")

    def read_bytes(self, size: int) -> bytes:
        """Read exactly `size` bytes or raise InstrumentTimeout."""
        with self._io():
            try:
                return self._instrument.read_bytes(size)
            except Exception as error:
                self._handle(error, f"expected {size} bytes, no complete reply")

    def read_until(self, terminator: bytes) -> bytes:
        """Read up to and including `terminator` or raise InstrumentTimeout."""
        with self._io():
            instrument = self._instrument
            saved = instrument.read_termination
            deadline = time.monotonic() + self.timeout
            data = b""
            try:
                instrument.read_termination = terminator[-1:].decode(self.encoding)
                while not data.endswith(terminator):
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        self._timeout(f"no reply ending in {terminator!r}", data)
                    instrument.timeout = remaining * 1000
                    data += instrument.read_raw()
                return data
            except Exception as error:
                self._handle(error, f"no reply ending in {terminator!r}")
            finally:
                if self._instrument is not None:
                    instrument.read_termination = saved
                    instrument.timeout = self.timeout * 1000

    def flush_input(self) -> None:
        """Discard everything received and not yet read, including replies still arriving.

        GPIB, USB-TMC and VXI-11 instruments get a device clear (their output queue is emptied
        without a read, which would queue a SCPI -420 error); where the backend cannot clear,
        and for raw sockets and serial resources, the input is drained by reading until quiet.
        """
        import pyvisa

        with self._io():
            instrument = self._instrument
            if self._device_clear(instrument):
                return
            try:
                instrument.flush(pyvisa.constants.BufferOperation.discard_read_buffer_no_io)
            except Exception:  # not every backend implements viFlush; draining below suffices
                pass
            instrument.timeout = DRAIN_SECONDS * 1000
            deadline = time.monotonic() + max(self.timeout, DRAIN_SECONDS)
            try:
                while time.monotonic() < deadline:
                    instrument.read_raw()
            except pyvisa.errors.VisaIOError as error:
                if error.error_code != pyvisa.constants.StatusCode.error_timeout:
                    self._lost(error)
            except OSError as error:
                self._lost(error)
            finally:
                if self._instrument is not None:
                    instrument.timeout = self.timeout * 1000
