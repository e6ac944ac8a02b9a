"""VISA libraries (pyvisa backends) and resource names, checked without opening anything; the
one place that reaches into pyvisa-py's sessions. VisaTransport's diagnostics come from here."""

from __future__ import annotations

import logging
import re
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from labnode.drivers.checks import SettingChecks
from labnode.drivers.errors import one_line

if TYPE_CHECKING:  # pyvisa costs ~0.1 s to import; it is imported when it is needed
    import pyvisa
    import pyvisa.resources

log = logging.getLogger(__name__)

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
MISSING_SUPPORT = ("please install", "not seem to be properly installed", "could not locate")

_managers: dict[str, pyvisa.ResourceManager] = {}
_managers_lock = threading.Lock()


def library_problem(visa_library: object) -> str | None:
    """What is wrong with a visa_library value that can be seen without loading it, or None."""
    if not isinstance(visa_library, str):
        return f"visa_library must be a string; {LIBRARY_CHOICES}; got {visa_library!r}"
    if "@" not in visa_library:
        return None  # "" (pyvisa's default) or the path of a VISA shared library (the ivi backend)
    argument, _, backend = visa_library.rpartition("@")
    if not _has_backend(backend):
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
                detail = library_error(error).rstrip(" :;.")
                if visa_library.endswith("@ivi"):
                    detail += " (is NI-VISA or Keysight IO Libraries installed?)"
                raise checks.error(
                    "visa_library",
                    f"cannot load VISA library {visa_library!r}: {detail}; " + LIBRARY_CHOICES,
                ) from None
            _managers[visa_library] = manager
        return manager


def _has_backend(backend: str) -> bool:
    """Whether pyvisa finds the backend (its own lookup: ivi, or a pyvisa_<backend> package)."""
    from pyvisa.highlevel import get_wrapper_class

    try:
        get_wrapper_class(backend)
    except Exception:  # ValueError: no such package; anything its import raised
        return False
    return True


def library_error(error: BaseException) -> str:
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


def normalize_visa_name(name: str) -> str:
    """A VISA resource name in one spelling (pyvisa.rname), upper case; aliases and names pyvisa
    cannot parse are kept as written (upper case)."""
    try:
        from pyvisa.rname import parse_resource_name

        return str(parse_resource_name(name.upper())).upper()
    except Exception:  # an alias or a name pyvisa cannot parse: keep it as written
        return name.upper()


#: pyvisa-py versions whose sessions have ``.interface`` (the pyserial port, the socket...).
PYVISA_PY_SESSIONS = ((0, 5), (0, 8))
_untested_warned: list[str] = []


def pyvisa_py_interface(instrument: pyvisa.resources.Resource) -> object | None:
    """The object under a pyvisa-py session (a pyserial port for ASRL, a socket for SOCKET), or
    None for another backend, or a pyvisa-py whose sessions are not known here."""
    visalib = getattr(instrument, "visalib", None)
    if type(visalib).__module__.partition(".")[0] != "pyvisa_py":
        return None
    version = _pyvisa_py_version()
    if version is None or version < PYVISA_PY_SESSIONS[0]:
        return None
    if version[:2] > PYVISA_PY_SESSIONS[1] and not _untested_warned:
        _untested_warned.append(".".join(map(str, version)))
        log.warning(
            "pyvisa-py %s is newer than labnode knows (%d.%d): exclusive ASRL locks and closed-"
            "connection detection may not work",
            _untested_warned[0],
            *PYVISA_PY_SESSIONS[1],
        )
    try:
        return visalib.sessions[instrument.session].interface
    except Exception:  # a session pyvisa-py changed, or one already closed
        return None


def _pyvisa_py_version() -> tuple[int, ...] | None:
    from importlib import metadata  # here: a node on a serial instrument never needs it

    try:
        text = metadata.version("pyvisa-py")
    except metadata.PackageNotFoundError:
        return None
    numbers = re.findall(r"\d+", text)[:3]
    return tuple(int(number) for number in numbers) or None
