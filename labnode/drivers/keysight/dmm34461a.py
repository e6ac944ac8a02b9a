"""Keysight 34461A digital multimeter (Truevolt series), SCPI over USB, LAN or GPIB."""

from __future__ import annotations

from typing import Any

from labnode.drivers.base import VisaDriver
from labnode.drivers.errors import DriverConfigError

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

#: Functions that integrate, so accept `<function>:NPLC` (power-line cycles per reading).
INTEGRATING: frozenset[str] = frozenset({"VOLT:DC", "CURR:DC", "RES", "FRES", "TEMP"})

#: What the meter returns for an overload (SCPI "9.9E+37"): readings this large mean "OL".
OVERLOAD = 9.9e37


class Keysight34461A(VisaDriver):
    """Keysight 34461A 6.5-digit multimeter: one measurement function, read with READ?.

    `function` picks the codename and what is measured (`voltage_dc` by default; see FUNCTIONS),
    `measurement_range` is a number in the function's unit or "AUTO", `nplc` the integration time
    in power-line cycles (0.02, 0.2, 1, 10, 100; DC functions only). On every connect the meter
    is cleared (*CLS), configured (CONF:...) and its error queue checked. An overload reads as
    +/-9.9e37 (OVERLOAD), as the meter reports it. Also fits the 34460A, 34465A and 34470A.
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
        if function not in FUNCTIONS:
            raise self._config(f"unknown function {function!r}; choose one of {sorted(FUNCTIONS)}")
        self.function = function
        self.measurement_range = measurement_range
        if nplc is not None and FUNCTIONS[function] not in INTEGRATING:
            raise self._config(f"nplc applies to {sorted(INTEGRATING)} only, not {function!r}")
        self.nplc = nplc

    @property
    def codenames(self) -> list[str]:
        """One codename: the measurement function, e.g. ["voltage_dc"]."""
        return [self.function]

    def configure_commands(self) -> list[str]:
        """The SCPI commands that set the meter up for the chosen function."""
        scpi = FUNCTIONS[self.function]
        if scpi == "TEMP":  # the argument of CONF:TEMP is the probe type, not a range
            commands = ["CONF:TEMP DEF,DEF"]
        else:
            commands = [f"CONF:{scpi} {self.measurement_range}"]
        if self.nplc is not None:
            commands.append(f"{scpi}:NPLC {self.nplc:g}")
        return commands

    def on_connect(self) -> None:
        """Clear the status, configure the function and fail if the meter refused a command."""
        self.write("*CLS")
        for command in self.configure_commands():
            self.write(command)
        error = self.query("SYST:ERR?")
        if not error.lstrip("+").startswith("0"):
            raise self._config(f"the meter refused the configuration: {error}")

    def get_values(self) -> dict[str, float]:
        """Trigger one reading (READ?) and return {function: value}."""
        return {self.function: self.parse_float(self.query("READ?"), "READ?")}

    def _config(self, reason: str) -> DriverConfigError:
        return DriverConfigError(reason, driver=type(self).__name__, resource=self.resource)
