"""Any PyMeasure instrument as a labnode driver, configured with no code.

```toml
[driver]
type = "pymeasure"
instrument = "pymeasure.instruments.keithley.Keithley2000"   # or "module:Class"
resource = "GPIB::16::INSTR"
[driver.channels]
voltage = "voltage"            # codename = the instrument's property ("ch_1.voltage" for channels)
nplc = "voltage_nplc"          # a property PyMeasure can set is a writable channel
```

Every other `[driver]` key goes to the instrument's constructor, and through it to PyMeasure's
VISAAdapter and pyvisa, in their units (`timeout` in milliseconds, `baud_rate`,
`read_termination`, `asrl = {...}`); each is checked against the constructor's signature and
the pyvisa resource's attributes before anything is opened, so a wrong key is a
DriverConfigError naming it.

The port lock. PyMeasure's VISAAdapter owns a pyvisa resource of its own, which would bypass
labnode's per-port lock, its late-reply flushing and its typed errors. Holding the lock around
each PyMeasure call would fix only the first. Instead the instrument opens its resource as
PyMeasure documents (its connection defaults and the user's keywords applied by PyMeasure
itself, on labnode's pyvisa library and so labnode's ResourceManager), and labnode's
VisaTransport adopts that resource (`PyMeasureTransport`): the instrument's adapter is replaced
by one that talks through the transport. So two labnode drivers on one resource never
interleave (one lock per port, held across each whole reading and write), a reply that comes
after a timeout is dropped rather than read as the next answer, a timeout is InstrumentTimeout
and a vanished instrument ConnectionLost, and a reply PyMeasure cannot parse is a
ReplyParseError naming that reply.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from typing import Any

from labnode.drivers.base import Driver
from labnode.drivers.channel import Channel
from labnode.drivers.errors import DriverConfigError, DriverError, one_line
from labnode.drivers.pymeasure.properties import PropertyPath, find_property
from labnode.drivers.pymeasure.transport import PyMeasureTransport
from labnode.drivers.registry import check_keywords, load_class

#: How to get PyMeasure, said when it is missing.
INSTALL = "pip install 'labnode[pymeasure]' (or pip install pymeasure)"

#: Below this a `timeout` is surely meant in seconds: PyMeasure's (pyvisa's) are milliseconds.
MIN_TIMEOUT_MS = 10

#: Keywords of PyMeasure's VISAAdapter itself (visa_library is the driver's own).
_ADAPTER_KEYWORDS = ("log",)

#: What a garbled reply makes PyMeasure's parsing raise.
_PARSE_ERRORS = (ValueError, TypeError, KeyError, IndexError)


class PyMeasureDriver(Driver):
    """Any PyMeasure instrument: its properties as codenames, settable ones writable.

    `PyMeasureDriver("GPIB::16::INSTR", instrument="pymeasure.instruments.keithley.Keithley2000",
    channels={"voltage": "voltage"})`; `channels` may also be a list of property names (each
    its own codename). Other keywords go to the instrument's constructor.
    """

    transport_class = PyMeasureTransport

    def __init__(
        self,
        resource: str,
        *,
        instrument: str,
        channels: Mapping[str, str] | list[str],
        visa_library: str = "@py",
        **instrument_settings: Any,
    ) -> None:
        super().__init__(resource, visa_library=visa_library)
        self.instrument_class: type = self._instrument_class(instrument)
        self.properties: dict[str, PropertyPath] = self._checked_channels(channels)
        self._check_settings(instrument_settings)
        self._transport.instrument_class = self.instrument_class
        self._transport.instrument_settings = dict(instrument_settings)
        self._channels = [
            Channel(
                codename,
                description=found.description,
                writable=found.writable,
                min=found.min,
                max=found.max,
            )
            for codename, found in self.properties.items()
        ]

    # -- checks of the configuration, before anything is opened ---------------------------------
    def _instrument_class(self, path: object) -> type:
        self.checks.text(
            "instrument", path, "'pymeasure.instruments.keithley.Keithley2000'", empty=False
        )
        try:
            from pymeasure.instruments import Instrument
        except ImportError as error:
            raise self.checks.error(
                "instrument", f"PyMeasure is not installed ({one_line(error)}); {INSTALL}"
            ) from None
        if ":" not in path:  # a dotted path: the last name is the class
            module, _, name = path.strip().rpartition(".")
            if not module:
                raise self.checks.error(
                    "instrument",
                    f"instrument must be the class's full path, such as "
                    f"'pymeasure.instruments.keithley.Keithley2000', not {path!r} alone",
                )
            path = f"{module}:{name}"
        try:
            return load_class(path.strip(), Instrument)
        except LookupError as error:
            raise self.checks.error(
                "instrument",
                f"{error}; give a PyMeasure instrument class such as "
                "'pymeasure.instruments.keithley.Keithley2000' or 'mypackage.module:MyInstrument'",
            ) from None

    def _checked_channels(self, channels: object) -> dict[str, PropertyPath]:
        if isinstance(channels, (list, tuple)) and all(isinstance(c, str) for c in channels):
            channels = {name: name for name in channels}
        if not isinstance(channels, Mapping) or not channels:
            raise self.checks.error(
                "channels",
                "channels must map codenames to the instrument's properties, such as "
                "{voltage = 'voltage'} (a [driver.channels] table), or list property names; "
                f"got {channels!r}",
            )
        found: dict[str, PropertyPath] = {}
        for codename, path in channels.items():
            self.checks.codename("channels", codename)
            self.checks.text("channels", path, "'voltage' or 'ch_1.current'", empty=False)
            result = find_property(self.instrument_class, path.strip())
            if isinstance(result, str):
                raise self.checks.error("channels", f"{codename} = {path!r}: {result}")
            found[codename] = result
        return found

    def _check_settings(self, settings: dict[str, Any]) -> None:
        """Each keyword must be one the instrument, its VISAAdapter or its pyvisa resource takes."""
        try:
            check_keywords(self.instrument_class, settings)
        except DriverConfigError as error:
            raise self.checks.error(error.setting, error.reason) from None
        accepted = set(_constructor_keywords(self.instrument_class)) | set(_ADAPTER_KEYWORDS)
        accepted.discard("adapter")  # the resource
        resource_class = _pyvisa_resource_class(self._resource)
        interfaces = _interface_names()
        for key, value in settings.items():
            if key == "timeout" and _is_number(value) and value < MIN_TIMEOUT_MS:
                raise self.checks.error(
                    "timeout",
                    f"timeout is in milliseconds for a PyMeasure instrument (pyvisa's unit), "
                    f"so {value!r} is {value!r} ms; write {int(value * 1000)} for {value!r} s",
                )
            if key in interfaces and not isinstance(value, Mapping):
                raise self.checks.error(
                    key,
                    f"{key} must be a table of pyvisa settings for {key} resources, such as "
                    f"{{timeout = 2000}}, got {value!r}",
                )
            if key in accepted or key in interfaces:
                continue
            if resource_class is None or hasattr(resource_class, key):
                continue  # an attribute of the pyvisa resource (or pyvisa will judge it)
            raise self.checks.error(
                key,
                f"not a keyword of {self.instrument_class.__name__} nor an attribute of "
                f"pyvisa's {resource_class.__name__} ({self._resource!r}); it takes "
                f"{', '.join(sorted(accepted))}, an interface table "
                "(asrl, gpib, tcpip, usb, ...) or a pyvisa attribute such as timeout (ms), "
                "read_termination, write_termination"
                + (", baud_rate" if hasattr(resource_class, "baud_rate") else ""),
            )

    # -- the driver -----------------------------------------------------------------------------
    @property
    def channels(self) -> list[Channel]:
        """One channel per configured property; writable when PyMeasure can set it."""
        return list(self._channels)

    @property
    def instrument(self) -> Any:
        """The PyMeasure instrument while connected (None otherwise)."""
        return self._transport.instrument

    def get_values(self) -> dict[str, float]:
        """Read every configured property, holding the port lock across them all."""
        with self.lock:
            self._transport._require_open()
            instrument = self._transport.instrument
            return {codename: self._read(instrument, codename) for codename in self.properties}

    def _read(self, instrument: Any, codename: str) -> float:
        found = self.properties[codename]
        try:
            value = found.get(instrument)
        except DriverError:
            raise
        except _PARSE_ERRORS as error:
            raise self.parse_error(
                self._transport.last_reply, None, f"PyMeasure cannot parse it: {one_line(error)}"
            ) from error
        if isinstance(value, numbers.Real):  # float, int, bool, numpy numbers
            return float(value)
        try:
            return float(value)  # e.g. a property cast to str
        except (TypeError, ValueError):
            reply = self._transport.last_reply
            raise self.parse_error(
                reply if reply is not None else repr(value),
                None,
                f"{found.path} gave {value!r}, not a number",
            ) from None

    def write_channel(self, channel: Channel, value: float) -> None:
        """Set the channel's property; PyMeasure's validator may refuse the value."""
        self._transport._require_open()
        found = self.properties[channel.name]
        self._transport.last_command = None  # what the write sends, if anything
        try:
            found.set(self._transport.instrument, value)
        except DriverError:
            raise
        except (*_PARSE_ERRORS, LookupError) as error:
            raise self.write_refused(
                channel.name,
                f"PyMeasure refused {found.path} = {value!r}: {one_line(error)}",
                self._transport.last_command,
            ) from error

    def diagnostics(self) -> dict[str, Any]:
        """The PyMeasure class and the property behind each codename (no I/O)."""
        cls = self.instrument_class
        return {
            "pymeasure_instrument": f"{cls.__module__}.{cls.__qualname__}",
            "properties": {codename: found.path for codename, found in self.properties.items()},
        }

    def identify(self) -> str:
        """The instrument's `id` (`*IDN?` for SCPI instruments)."""
        with self.lock:
            self._transport._require_open()
            return str(self._transport.instrument.id).strip()


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _constructor_keywords(instrument_class: type) -> list[str]:
    """Named parameters of every __init__ in the class's MRO (the **kwargs chain PyMeasure uses)."""
    import inspect

    names: set[str] = set()
    for klass in instrument_class.__mro__:
        init = vars(klass).get("__init__")
        if init is None or klass is object:
            continue
        try:
            parameters = inspect.signature(init).parameters.values()
        except (TypeError, ValueError):
            continue
        names.update(
            p.name
            for p in parameters
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name != "self"
        )
    return sorted(names)


def _interface_names() -> set[str]:
    """PyMeasure's interface tables (`asrl = {...}`): pyvisa's interface type names."""
    import pyvisa.constants

    return set(pyvisa.constants.InterfaceType.__members__)


def _pyvisa_resource_class(resource: str) -> type | None:
    """The pyvisa resource class a resource name opens as, or None when pyvisa cannot tell."""
    import pyvisa.highlevel
    import pyvisa.rname

    try:
        name = pyvisa.rname.parse_resource_name(resource)
    except Exception:  # an alias such as "COM1": pyvisa checks the keywords when it opens it
        return None
    key = (name.interface_type_const, name.resource_class)
    return pyvisa.highlevel.ResourceManager._resource_classes.get(key)
