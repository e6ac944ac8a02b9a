"""Transport over pyvisa: any backend by name (`@py`, `@ivi`, `@sim`, `path.yaml@sim`)."""

from __future__ import annotations

import socket
import threading
import time
from typing import TYPE_CHECKING, Any

from labnode.drivers.errors import DriverConfigError, DriverError
from labnode.drivers.transports.base import COMMON_SETTINGS, Transport

if TYPE_CHECKING:  # pyvisa costs ~0.1 s to import; it is imported when a port is opened
    import pyvisa
    import pyvisa.resources

#: How long flush_input() keeps reading to drain replies that are still arriving.
DRAIN_SECONDS = 0.02

_managers: dict[str, pyvisa.ResourceManager] = {}
_managers_lock = threading.Lock()


def resource_manager(visa_library: str = "@py") -> pyvisa.ResourceManager:
    """Return the ResourceManager for a VISA library string, created once per string."""
    with _managers_lock:
        manager = _managers.get(visa_library)
        if manager is None:
            import pyvisa

            try:
                manager = pyvisa.ResourceManager(visa_library)
            except Exception as error:  # missing backend, missing .yaml, bad library path
                raise DriverConfigError(
                    f"cannot load VISA library {visa_library!r}: {error}; use '@py' (pyvisa-py), "
                    "'@ivi' (NI/Keysight VISA), '@sim' or 'path/to/file.yaml@sim' (pyvisa-sim)",
                    resource=visa_library,
                ) from error
            _managers[visa_library] = manager
        return manager


class VisaTransport(Transport):
    """VISA resource (GPIB, USB, TCPIP, ASRL...) through pyvisa, with seconds and typed errors."""

    settings = {**COMMON_SETTINGS, "visa_library": "@py", "baudrate": None}

    def __init__(self, resource: str, *, owner: str = "Driver", **settings: Any) -> None:
        super().__init__(resource, owner=owner, **settings)
        self.visa_library: str = str(self.options.pop("visa_library"))
        self.baudrate: int | None = self.options.pop("baudrate")
        self._instrument: pyvisa.resources.MessageBasedResource | None = None

    def open(self) -> None:
        """Open the resource (no-op when already open)."""
        import pyvisa

        with self.lock:
            if self.is_open:
                return
            manager = resource_manager(self.visa_library)
            if self.visa_library.endswith("@sim"):
                self._require_simulated(manager)
            try:
                instrument = manager.open_resource(self.resource)
            except pyvisa.errors.VisaIOError as error:
                if error.error_code == pyvisa.constants.StatusCode.error_invalid_resource_name:
                    self._config_error(f"invalid VISA resource name: {error}")
                self._lost(error, f"could not open with VISA library {self.visa_library!r}")
            except OSError as error:
                self._lost(error, f"could not open with VISA library {self.visa_library!r}")
            except (ValueError, TypeError, pyvisa.errors.Error) as error:
                self._config_error(f"cannot open with VISA library {self.visa_library!r}: {error}")
            if self._peer_closed(instrument):  # pyvisa-py "opens" a refused raw socket
                instrument.close()
                self._lost(ConnectionRefusedError("connection refused"), "could not open")
            try:
                self._configure(instrument)
            except Exception as error:
                instrument.close()
                self._config_error(f"could not apply the settings: {error}")
            self._instrument = instrument
            self._stale = False

    def _require_simulated(self, manager: pyvisa.ResourceManager) -> None:
        """pyvisa-sim opens any name and then answers nothing: refuse names not in its YAML."""
        from pyvisa.rname import parse_resource_name

        def normalized(name: str) -> str:
            try:
                return str(parse_resource_name(name.upper())).upper()
            except Exception:
                return name.upper()

        available = manager.list_resources("?*")
        if normalized(self.resource) not in {normalized(name) for name in available}:
            self._config_error(
                f"{self.visa_library!r} simulates no such resource; it has: {', '.join(available)}"
            )

    def _configure(self, instrument: pyvisa.resources.MessageBasedResource) -> None:
        if not hasattr(instrument, "read_termination"):
            raise ValueError(f"{type(instrument).__name__} is not a message-based resource")
        instrument.timeout = self.timeout * 1000
        instrument.read_termination = self.read_termination or None
        instrument.write_termination = self.write_termination
        instrument.encoding = self.encoding
        if self.baudrate is not None:
            if not hasattr(instrument, "baud_rate"):
                raise ValueError("baudrate applies to serial (ASRL) resources only")
            instrument.baud_rate = int(self.baudrate)

    def _apply_timeout(self) -> None:
        self._instrument.timeout = self.timeout * 1000

    def close(self) -> None:
        """Close the resource; idempotent."""
        with self.lock:
            instrument, self._instrument = self._instrument, None
            if instrument is not None:
                try:
                    instrument.close()
                except Exception:  # a vanished session may fail to close; it is closed either way
                    pass

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
        instrument = instrument or self._instrument
        try:
            session = instrument.visalib.sessions[instrument.session]
            sock = session.interface
            if not isinstance(sock, socket.socket):
                return False
            return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
        except BlockingIOError:
            return False
        except OSError:
            return True
        except Exception:  # another backend: no way to tell, keep the timeout
            return False

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
