"""Keysight 34461A digital multimeter (Truevolt series), SCPI over USB, LAN or GPIB."""

from __future__ import annotations

import math
from typing import Any

from labnode.drivers.base import VisaDriver
from labnode.drivers.channel import Channel

#: Codename -> SCPI measurement function (the `CONFigure:<function>` node).
FUNCTIONS: dict[str, str] = {
    "voltage_dc": "VOLT:DC",
    "voltage_ac": "VOLT:AC",
    "current_dc": "CURR:DC",
    "current_ac": "CURR:AC",
    "resistance": "RES",
    "resistance_4w": "FRES",
    "frequency": "FREQ",
    "period": "PER",
    "capacitance": "CAP",
    "temperature": "TEMP",
}

#: Codename -> (unit, description) of the reading (temperature: the meter's default unit, Celsius).
READINGS: dict[str, tuple[str, str]] = {
    "voltage_dc": ("V", "DC voltage"),
    "voltage_ac": ("V", "AC voltage (RMS)"),
    "current_dc": ("A", "DC current"),
    "current_ac": ("A", "AC current (RMS)"),
    "resistance": ("Ohm", "resistance, 2-wire"),
    "resistance_4w": ("Ohm", "resistance, 4-wire"),
    "frequency": ("Hz", "frequency"),
    "period": ("s", "period"),
    "capacitance": ("F", "capacitance"),
    "temperature": ("degC", "temperature"),
}

#: Functions that integrate, so accept `<function>:NPLC` (power-line cycles per reading).
INTEGRATING: frozenset[str] = frozenset({"VOLT:DC", "CURR:DC", "RES", "FRES", "TEMP"})

#: Integration times the Truevolt meters accept, in power-line cycles (34461A: 0.02 to 100;
#: the 34465A and 34470A also 0.001, 0.002, 0.006 and 0.06).
NPLC_VALUES: tuple[float, ...] = (0.001, 0.002, 0.006, 0.02, 0.06, 0.2, 1, 10, 100)

#: Ranges given by name rather than by number.
NAMED_RANGES: tuple[str, ...] = ("AUTO", "MIN", "MAX", "DEF")

#: What the meter returns for an overload (SCPI "9.9E+37"): readings this large mean "OL".
OVERLOAD = 9.9e37


class Keysight34461A(VisaDriver):
    """Keysight 34461A 6.5-digit multimeter: one measurement function, read with READ?.

    `function` picks the codename and what is measured (`voltage_dc` by default; see FUNCTIONS),
    `measurement_range` is a number in the function's unit or "AUTO", `nplc` the integration time
    in power-line cycles (0.02, 0.2, 1, 10, 100; the 34465A/70A also 0.001 to 0.06; DC functions
    only). On every connect the meter is cleared (*CLS) and configured (CONF:...), and its error
    queue is checked after each command, so a refusal names the keyword it came from. An
    overload reads as +/-9.9e37 (OVERLOAD), as the meter reports it. Also fits the 34460A,
    34465A and 34470A.
    """

    default_settings = {"timeout": 5.0, "read_termination": "\n", "write_termination": "\n"}

    def __init__(
        self,
        resource: str,
        *,
        function: str = "voltage_dc",
        measurement_range: float | str = "AUTO",
        nplc: float | None = None,
        **settings: Any,
    ) -> None:
        super().__init__(resource, **settings)
        if not isinstance(function, str) or function not in FUNCTIONS:
            raise self.checks.error(
                "function", f"function must be one of {', '.join(FUNCTIONS)}, got {function!r}"
            )
        self.function = function
        self.measurement_range = self._checked_range(measurement_range)
        if nplc is not None:
            integrating = [name for name, scpi in FUNCTIONS.items() if scpi in INTEGRATING]
            if FUNCTIONS[function] not in INTEGRATING:
                raise self.checks.error(
                    "nplc",
                    f"nplc applies to {', '.join(integrating)} only, not to {function!r}; "
                    "remove it",
                )
            nplc = self.checks.choice("nplc", nplc, NPLC_VALUES)
        self.nplc = nplc

    def _checked_range(self, measurement_range: object) -> float | str:
        if isinstance(measurement_range, str) and measurement_range.upper() in NAMED_RANGES:
            measurement_range = measurement_range.upper()
        elif not (
            isinstance(measurement_range, (int, float))
            and not isinstance(measurement_range, bool)
            and math.isfinite(measurement_range)
            and measurement_range > 0
        ):
            raise self.checks.error(
                "measurement_range",
                "measurement_range must be a number > 0 in the function's unit (e.g. 10 for "
                f"10 V) or one of {', '.join(NAMED_RANGES)}, got {measurement_range!r}",
            )
        if self.function == "temperature" and measurement_range != "AUTO":
            raise self.checks.error(
                "measurement_range",
                "measurement_range does not apply to temperature (the meter picks the range "
                "for the probe); remove it",
            )
        return measurement_range

    @property
    def channels(self) -> list[Channel]:
        """One read-only channel: the measurement function, e.g. voltage_dc in V."""
        unit, description = READINGS[self.function]
        return [Channel(self.function, unit, description)]

    def configure_commands(self) -> list[str]:
        """The SCPI commands that set the meter up for the chosen function."""
        return [command for command, _ in self._configuration()]

    def _configuration(self) -> list[tuple[str, str]]:
        """(SCPI command, the keyword it comes from) for the chosen function."""
        scpi = FUNCTIONS[self.function]
        if scpi == "TEMP":  # the argument of CONF:TEMP is the probe type, not a range
            commands = [("CONF:TEMP DEF,DEF", "function")]
        else:
            setting = "function" if self.measurement_range == "AUTO" else "measurement_range"
            value = self.measurement_range
            text = f"{value:g}" if isinstance(value, (int, float)) else value
            commands = [(f"CONF:{scpi} {text}", setting)]
        if self.nplc is not None:
            commands.append((f"{scpi}:NPLC {self.nplc:g}", "nplc"))
        return commands

    def on_connect(self) -> None:
        """Clear the status, configure the function; fail naming the keyword the meter refused."""
        self.write("*CLS")
        for command, setting in self._configuration():
            self.write(command)
            error = self.query("SYST:ERR?")
            if not error.lstrip("+").startswith("0"):
                raise self.checks.error(
                    setting, f"the meter refused {command!r} ({error}); check {setting}"
                )

    def get_values(self) -> dict[str, float]:
        """Trigger one reading (READ?) and return {function: value}."""
        return {self.function: self.parse_float(self.query("READ?"), "READ?")}
