"""Alicat mass flow meters and controllers (M, MC series) in polling mode, over serial or VISA.

One ASCII line per request, CR-terminated both ways, 19200 8N1 by default. Polling unit `A`
(`A\\r`) answers a data frame: `A +014.70 +025.00 +020.00 +020.00 +020.00 N2 [codes]`, i.e.
unit ID, pressure (psia), temperature (degC), volumetric flow, mass flow, setpoint (controllers
only), gas, then status codes. Fields flagged over range (`MOV`, `VOV`, `POV`, `TOV`) are left
out of `get_values()`; `ADC` (converter error) leaves out every field. The last status codes
are in `diagnostics()` (which the node adds to its `status` reply); each change is logged once.

`AS <value>` sets a controller's setpoint and answers a data frame whose setpoint column
confirms it: the `setpoint` channel is writable through `set_value()`, which refuses
(WriteRefused) when the unit answers `?` (a meter, or a value beyond full scale) or keeps another
setpoint (its setpoint source is not serial).

The driver subclasses `Driver`, not `SerialDriver`: the resource picks the transport, so
`/dev/ttyUSB0` or `socket://host:port` go through pyserial and `ASRL/dev/ttyUSB0::INSTR` or
`TCPIP::host::port::SOCKET` through pyvisa.
"""

from __future__ import annotations

import logging
import re
import string
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from labnode.drivers.base import Driver
from labnode.drivers.channel import Channel
from labnode.drivers.checks import SettingChecks
from labnode.drivers.transports import VisaTransport, transport_for

log = logging.getLogger(__name__)

METER_FIELDS = ("pressure", "temperature", "volumetric_flow", "mass_flow")
CONTROLLER_FIELDS = (*METER_FIELDS, "setpoint")
OVER_RANGE_CODES = {
    "MOV": "mass_flow",
    "VOV": "volumetric_flow",
    "POV": "pressure",
    "TOV": "temperature",
}
ALL_FIELDS_INVALID_CODES = {"ADC"}
DEFAULT_BAUDRATE = 19200
UNIT_IDS = string.ascii_uppercase
MANUFACTURER_LINE = re.compile(r"(?P<unit>[A-Z]) M(?P<number>\d\d) ?(?P<text>.*)")
MANUFACTURER_LINE_COUNT = 10
#: The full scale and flow unit in a model number such as `MC-100SCCM-D` or `M-5SLPM-D/5M`.
MODEL_RANGE = re.compile(r"-(?P<scale>\d+(?:\.\d+)?)(?P<unit>SCCM|SLPM|CCM|LPM)\b")
#: Mass flow unit -> the volumetric flow unit of the same unit (standard -> actual).
VOLUMETRIC_UNIT = {"SCCM": "CCM", "SLPM": "LPM", "CCM": "CCM", "LPM": "LPM"}
#: Field -> (unit, description); flow units come from the model number (see identify()).
FIELD_MEANINGS = {
    "pressure": ("psia", "absolute pressure"),
    "temperature": ("degC", "gas temperature"),
    "volumetric_flow": (None, "volumetric flow"),
    "mass_flow": (None, "mass flow (standard conditions)"),
    "setpoint": (None, "flow setpoint"),
}


@dataclass
class DataFrame:
    """One parsed polling reply."""

    unit_id: str
    numbers: list[float]
    gas: str
    status_codes: list[str] = field(default_factory=list)


def parse_data_frame(reply: str) -> DataFrame:
    """Split `A +014.70 +025.00 ... N2 MOV` into its parts; raises ValueError if malformed."""
    tokens = reply.split()
    if len(tokens) < 3 or len(tokens[0]) != 1 or tokens[0] not in string.ascii_uppercase:
        raise ValueError("expected 'ID number... gas [status codes]'")
    numbers: list[float] = []
    for position, token in enumerate(tokens[1:], start=1):
        try:
            numbers.append(float(token))
        except ValueError:
            if not numbers:
                raise ValueError("expected numbers after the unit ID") from None
            return DataFrame(tokens[0], numbers, token, tokens[position + 1 :])
    raise ValueError("expected a gas name after the numbers")


def _is_serial_line(resource: str) -> bool:
    """Whether a baud rate applies: anything but a VISA network resource (TCPIP::...)."""
    if transport_for(resource) is not VisaTransport:
        return True
    return resource.strip().upper().startswith("ASRL")


class AlicatMassFlow(Driver):
    """Alicat mass flow meter or controller: pressure, temperature, flows (and setpoint)."""

    default_settings = {
        "read_termination": "\r",
        "write_termination": "\r",
        "encoding": "latin-1",
    }

    def __init__(
        self,
        resource: str,
        *,
        unit_id: str = "A",
        fields: Sequence[str] | None = None,
        prefix: str = "",
        **settings: Any,
    ) -> None:
        """`fields` names the numeric columns (default: 4 meter or 5 controller columns)."""
        resource = SettingChecks(type(self).__name__, None).resource_name(resource)
        if "baudrate" not in settings and _is_serial_line(resource):
            settings["baudrate"] = DEFAULT_BAUDRATE
        super().__init__(resource, **settings)
        if not (isinstance(unit_id, str) and len(unit_id) == 1 and unit_id in UNIT_IDS):
            raise self.checks.error(
                "unit_id", f"unit_id must be one capital letter A-Z (the unit ID), got {unit_id!r}"
            )
        self.unit_id = unit_id
        self.prefix = self.checks.text("prefix", prefix, "'line1_'")
        if prefix:
            self.checks.codename("prefix", prefix)
        self._fields: tuple[str, ...] | None = None
        if fields is not None:
            example = "['pressure', 'temperature', 'volumetric_flow', 'mass_flow']"
            self._fields = tuple(self.checks.text_list("fields", fields, example))
            if not self._fields or len(set(self._fields)) != len(self._fields):
                raise self.checks.error(
                    "fields",
                    f"fields must name every column once, such as {example}, got {fields!r}",
                )
            for name in self._fields:
                self.checks.codename("fields", prefix + name)
        self.last_frame: DataFrame | None = None
        #: Flow unit and full scale from the model number, once identify() has read it.
        self.flow_unit: str | None = None
        self.full_scale: float | None = None

    def diagnostics(self) -> dict[str, Any]:
        """{"status_codes": [...], "gas": "N2"} of the last data frame ({} before the first)."""
        frame = self.last_frame
        if frame is None:
            return {}
        return {"status_codes": list(frame.status_codes), "gas": frame.gas}

    @property
    def codenames(self) -> list[str] | None:
        """Prefixed field names (configured, else learnt from the first reading)."""
        if self._fields is None:
            return None
        return [self.prefix + name for name in self._fields]

    @property
    def channels(self) -> list[Channel]:
        """A channel per field (known once configured or read); `setpoint` is writable.

        Flow units and the setpoint's maximum (full scale) are known once identify() has read
        the model number, as the node does after every connect.
        """
        return [self._channel(name) for name in self._fields or ()]

    def _channel(self, name: str) -> Channel:
        unit, description = FIELD_MEANINGS.get(name, (None, ""))
        if name in ("mass_flow", "setpoint"):
            unit = self.flow_unit
        elif name == "volumetric_flow" and self.flow_unit is not None:
            unit = VOLUMETRIC_UNIT[self.flow_unit]
        if name != "setpoint":
            return Channel(self.prefix + name, unit, description)
        return Channel(self.prefix + name, unit, description, True, 0.0, self.full_scale)

    def get_values(self) -> dict[str, float]:
        """Poll one data frame; fields flagged invalid by status codes are left out."""
        return self._values_of(self.query(self.unit_id), self.unit_id)

    def set_setpoint(self, value: float) -> dict[str, float]:
        """Set a controller's setpoint; returns the values of the data frame it answers."""
        command = f"{self.unit_id}S {value:.4f}"
        return self._values_of(self.query(command), command)

    def write_channel(self, channel: Channel, value: float) -> None:
        """Set the setpoint (`AS <value>`) and check the setpoint column of the answer."""
        command = f"{self.unit_id}S {value:.4f}"
        reply = self.query(command)
        if reply.strip() == "?":
            raise self.write_refused(
                channel.name,
                f"the unit refused setpoint {value:g} (it answered '?': a meter, or a value "
                "beyond its full scale)",
                command,
            )
        self._values_of(reply, command)  # a well-formed frame from this unit, fields known
        fields = list(self._fields or ())
        token = reply.split()[1 + fields.index("setpoint")]
        decimals = len(token.partition(".")[2])
        if abs(float(token) - value) > 0.5 * 10.0**-decimals + 1e-9:
            raise self.write_refused(
                channel.name,
                f"the unit kept setpoint {token} instead of {value:g} (is its setpoint source "
                "serial? an analog or front-panel source ignores serial setpoints)",
                command,
            )

    def identify(self) -> str:
        """Model, serial number and software revision from the manufacturer lines (`??M*`)."""
        command = f"{self.unit_id}??M*"
        with self.lock:
            line = self.query(command)
            if line.strip() == "?":  # firmware without ??M*
                firmware = self.query(f"{self.unit_id}VE").split(maxsplit=1)[-1]
                return f"Alicat unit {self.unit_id}, firmware {firmware.strip()}"
            lines: dict[str, str] = {}
            for _ in range(MANUFACTURER_LINE_COUNT):
                match = MANUFACTURER_LINE.fullmatch(line.strip())
                if match is None or match["unit"] != self.unit_id:
                    raise self.parse_error(line, command, "a manufacturer line 'A Mnn text'")
                lines[match["number"]] = match["text"]
                if match["number"] == "09":
                    break
                line = self.read()
        model = lines.get("04", "").removeprefix("Model Number").strip()
        scale = MODEL_RANGE.search(model)
        if scale is not None:
            self.flow_unit, self.full_scale = scale["unit"], float(scale["scale"])
        serial = lines.get("05", "").removeprefix("Serial Number").strip()
        software = lines.get("09", "").removeprefix("Software Revision").strip()
        return f"Alicat Scientific {model}, serial {serial}, software {software}"

    def _note_status_codes(self, frame: DataFrame) -> None:
        """Keep the frame; log a change of its status codes once."""
        previous = self.last_frame.status_codes if self.last_frame is not None else []
        self.last_frame = frame
        if frame.status_codes == previous:
            return
        if frame.status_codes:
            log.warning(
                "%s on %s: unit %s reports status %s",
                type(self).__name__,
                self.resource,
                self.unit_id,
                " ".join(frame.status_codes),
            )
        else:
            log.info(
                "%s on %s: unit %s reports no status codes any more",
                type(self).__name__,
                self.resource,
                self.unit_id,
            )

    def _values_of(self, reply: str, command: str) -> dict[str, float]:
        try:
            frame = parse_data_frame(reply)
        except ValueError as error:
            raise self.parse_error(reply, command, str(error)) from None
        if frame.unit_id != self.unit_id:
            raise self.parse_error(reply, command, f"a reply from unit {self.unit_id}")
        names = self._fields
        if names is None:
            names = {4: METER_FIELDS, 5: CONTROLLER_FIELDS}.get(len(frame.numbers))
            if names is None:
                raise self.parse_error(
                    reply,
                    command,
                    "4 or 5 numbers; for a unit with other columns, name every column in fields",
                )
            self._fields = names
        elif len(names) != len(frame.numbers):
            raise self.parse_error(reply, command, f"{len(names)} numbers for fields {names}")
        self._note_status_codes(frame)
        codes = {code.upper() for code in frame.status_codes}
        if codes & ALL_FIELDS_INVALID_CODES:
            return {}
        invalid = {OVER_RANGE_CODES[code] for code in codes if code in OVER_RANGE_CODES}
        return {
            self.prefix + name: number
            for name, number in zip(names, frame.numbers, strict=True)
            if name not in invalid
        }
