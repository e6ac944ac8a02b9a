"""Transport over pyvisa: any backend by name (`@py`, `@ivi`, `@sim`, `path.yaml@sim`)."""

from __future__ import annotations

import importlib.util
import logging
import re
import socket
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labnode.drivers.checks import SettingChecks
from labnode.drivers.errors import DriverError, one_line
from labnode.drivers.transports.base import COMMON_SETTINGS, Transport
from labnode.drivers.transports.port_holders import lock_exclusively
from labnode.drivers.transports.port_locks import count_exclusive, exclusive_users, port_key

if TYPE_CHECKING:  # pyvisa costs ~0.1 s to import; it is imported when a port is opened
    import pyvisa
    import pyvisa.resources

#: How long flush_input() keeps reading to drain replies that are still arriving.
DRAIN_SECONDS = 0.02

#: An ASRL resource on a device path (ASRL/dev/ttyUSB0::INSTR), as opposed to a number (ASRL1).
_ASRL_PATH = re.compile(r"^ASRL(?P<device>/.+?)::INSTR$", re.I)

#: How many resources of a pyvisa-sim file a "no such resource" message lists.
SIM_RESOURCES_LISTED = 6

#: What to use instead, said after every problem with a visa_library setting.
LIBRARY_CHOICES = (
    "use '@py' (pyvisa-py), '@ivi' (NI-VISA or Keysight IO Libraries), "
    "'@sim' or 'path/to/file.yaml@sim' (pyvisa-sim)"
)

#: The package that provides each pyvisa backend, and how to install it.
BACKEND_PACKAGES = {
    "py": "pip install pyvisa-py",
    "sim": "pip install pyvisa-sim (or labnode[sim])",
}

#: What pyvisa-py needs for a resource type it cannot open; the key starts the resource name.
INTERFACE_PACKAGES = {
    "GPIB": "linux-gpib or gpib-ctypes: pip install gpib-ctypes and install the linux-gpib "
    "kernel driver (or use '@ivi' with NI-VISA)",
    "USB": "PyUSB and libusb: pip install pyusb libusb-package (or use '@ivi' with NI-VISA)",
}

#: Phrases of pyvisa-py's messages for a resource type whose support package is missing.
_MISSING_SUPPORT = ("please install", "not seem to be properly installed", "could not locate")

_managers: dict[str, pyvisa.ResourceManager] = {}
_managers_lock = threading.Lock()


def library_problem(visa_library: object) -> str | None:
    """What is wrong with a visa_library value that can be seen without loading it, or None."""
    if not isinstance(visa_library, str):
        return f"visa_library must be a string; {LIBRARY_CHOICES}; got {visa_library!r}"
    if "@" not in visa_library:
        return None  # "" (pyvisa's default) or the path of a VISA shared library (the ivi backend)
    argument, _, backend = visa_library.rpartition("@")
    if backend != "ivi" and not _module_exists(f"pyvisa_{backend}"):
        if backend in BACKEND_PACKAGES:
            return (
                f"visa_library {visa_library!r} needs the pyvisa_{backend} package, which is not "
                f"installed; {BACKEND_PACKAGES[backend]}"
            )
        return (
            f"unknown VISA library {visa_library!r} (no pyvisa_{backend} package is installed); "
            + LIBRARY_CHOICES
        )
    if backend == "sim" and argument and not Path(argument).is_file():
        return (
            f"the pyvisa-sim file {argument!r} does not exist; give the path of a .yaml file "
            "(labnode.drivers.simulation_yaml('scpi') is one), or '@sim' for pyvisa-sim's default"
        )
    return None


def resource_manager(
    visa_library: str = "@py", *, checks: SettingChecks | None = None
) -> pyvisa.ResourceManager:
    """Return the ResourceManager for a VISA library string, created once per string.

    Raises DriverConfigError(setting="visa_library") if the library cannot be loaded.
    """
    checks = checks or SettingChecks("VISA library", None)
    with _managers_lock:
        manager = _managers.get(visa_library)
        if manager is None:
            problem = library_problem(visa_library)
            if problem is not None:
                raise checks.error("visa_library", problem)
            import pyvisa

            if visa_library.endswith("@sim"):
                silence_missing_eom_warnings()
            try:
                manager = pyvisa.ResourceManager(visa_library)
            except Exception as error:  # missing NI-VISA, a broken .yaml, a bad library path
                detail = _library_error(error).rstrip(" :;.")
                if visa_library.endswith("@ivi"):
                    detail += " (is NI-VISA or Keysight IO Libraries installed?)"
                raise checks.error(
                    "visa_library",
                    f"cannot load VISA library {visa_library!r}: {detail}; " + LIBRARY_CHOICES,
                ) from None
            _managers[visa_library] = manager
        return manager


def _module_exists(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _library_error(error: BaseException) -> str:
    """A library's error as one line; pyvisa-sim embeds a whole traceback: keep its last line."""
    text = str(error)
    if "Traceback (most recent call last)" not in text:
        return one_line(text) or type(error).__name__
    lines = [re.sub(r"\\+'", "'", line).strip(" '\"\\") for line in re.split(r"\\+n|\n", text)]
    lines = [line for line in lines if line]
    for index in range(len(lines) - 1, -1, -1):
        if re.match(r"[A-Za-z_][\w.]*: ", lines[index]):
            return " ".join(lines[index:])
    return type(error).__name__


#: The fields of a VISA resource name that must be whole numbers, per resource class.
_NUMBER_FIELDS = {
    "GPIBInstr": ("board", "primary_address", "secondary_address"),
    "GPIBIntfc": ("board",),
    "TCPIPInstr": ("board",),
    "TCPIPSocket": ("board", "port"),
    "USBInstr": ("board", "manufacturer_id", "model_code", "usb_interface_number"),
    "USBRaw": ("board", "manufacturer_id", "model_code", "usb_interface_number"),
    "VXIInstr": ("board", "vxi_logical_address"),
    "PXIInstr": ("interface",),
}
_VISA_EXAMPLES = (
    "VISA names look like 'GPIB0::9::INSTR', 'TCPIP::192.168.1.20::INSTR', "
    "'TCPIP::192.168.1.20::5025::SOCKET' or 'ASRL/dev/ttyUSB0::INSTR'"
)


def visa_name_problem(name: str) -> str | None:
    """What is wrong with a VISA resource name, seen without any VISA library, or None.

    Names without "::" are aliases a VISA library may know; they are left to it.
    """
    if "::" not in name:
        return None
    from pyvisa import rname

    try:
        parsed = rname.parse_resource_name(name)
    except Exception:  # InvalidResourceName, or anything else pyvisa finds wrong
        return f"invalid VISA resource name {name!r}; {_VISA_EXAMPLES}"
    for field in _NUMBER_FIELDS.get(type(parsed).__name__, ()):
        value = getattr(parsed, field, None)
        if value is None or value == "":
            continue
        try:
            int(str(value), 0)
        except ValueError:
            return (
                f"invalid VISA resource name {name!r}: {field.replace('_', ' ')} {value!r} "
                f"is not a number; {_VISA_EXAMPLES}"
            )
    port = getattr(parsed, "port", None)
    if type(parsed).__name__ == "TCPIPSocket" and not 0 < int(str(port), 0) < 65536:
        return f"invalid VISA resource name {name!r}: port {port} is not 1-65535"
    return None


class _MissingEomFilter(logging.Filter):
    """Drops pyvisa-sim's "No eom provided for ..., RAW.Using LF." warning, nothing else."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (
            record.levelno == logging.WARNING and str(record.msg).startswith("No eom provided for ")
        )


_MISSING_EOM_FILTER = _MissingEomFilter()


def silence_missing_eom_warnings() -> None:
    """Install (once) the filter that drops pyvisa-sim's warning about RAW resources on "pyvisa"."""
    logger = logging.getLogger("pyvisa")
    if _MISSING_EOM_FILTER not in logger.filters:
        logger.addFilter(_MISSING_EOM_FILTER)


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
                    f"{_library_error(error)}",
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
        try:
            serial_port = instrument.visalib.sessions[instrument.session].interface
            fd = serial_port.fd
        except Exception:  # another backend (NI-VISA, pyvisa-sim): it decides by itself
            return
        if not isinstance(fd, int):
            return
        key = port_key(self.resource)
        if not exclusive_users(key):  # else another transport of this process holds the lock
            lock_exclusively(fd, match["device"], self.resource, self.owner)
        count_exclusive(key, +1)
        self._exclusive_key = key

    def _unopenable(self, error: ValueError) -> None:
        """Classify pyvisa-py's ValueErrors: a missing support package, an unsupported type,
        or (anything else, e.g. "No device found.") an absent instrument."""
        text = str(error)
        if any(phrase in text.lower() for phrase in _MISSING_SUPPORT):
            kind = next(
                (
                    prefix
                    for prefix in INTERFACE_PACKAGES
                    if self.resource.upper().startswith(prefix)
                ),
                None,
            )
            need = INTERFACE_PACKAGES[kind] if kind else _library_error(error)
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
        from pyvisa.rname import parse_resource_name

        def normalized(name: str) -> str:
            try:
                return str(parse_resource_name(name.upper())).upper()
            except Exception:
                return name.upper()

        available = manager.list_resources("?*")
        if normalized(self.resource) not in {normalized(name) for name in available}:
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
            if instrument is not None:
                try:
                    instrument.close()
                except Exception:  # a vanished session may fail to close; it is closed either way
                    pass
            if key is not None:
                count_exclusive(key, -1)

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
