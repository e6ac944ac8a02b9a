"""Simulated Alicat mass flow meter/controller in polling mode (ASCII lines ended by CR).

Protocol (Alicat serial primer): every command starts with the unit ID (A-Z); units whose ID
does not match stay silent (RS-485 multi-drop). Replies end with CR.

- `A` -> data frame `A +014.70 +025.00 +020.00 +020.00 +020.00 N2`: unit ID, pressure (psia),
  temperature (degC), volumetric flow, mass flow, [setpoint, controllers only], gas, then
  any status codes (`MOV` mass flow over range, `VOV`, `POV`, `TOV`, `LCK`, `HLD`, ...).
- `AS <value>` (controllers) sets the setpoint (0 to full scale, else `?`) and answers a data
  frame whose setpoint column reads it back; while the setpoint source is not serial
  (`setpoint_source = "analog"`), the frame keeps the old setpoint, as a real unit does.
- `AG<n>` selects gas number n and answers a data frame.
- `A??M*` answers the ten manufacturer lines `A M00 ...` to `A M09 ...`.
- `AVE` answers the firmware version.
- anything else addressed to the unit answers `?`.
"""

from __future__ import annotations

import time
from typing import ClassVar

from labnode.drivers.simulation.model import LineDeviceModel
from labnode.drivers.simulation.moving_values import Clock, SettlingValue

GASES = (
    "Air", "Ar", "CH4", "CO", "CO2", "C2H6", "H2", "He", "N2", "N2O", "Ne", "O2", "C3H8",
)  # fmt: skip
STANDARD_TEMPERATURE_K = 298.15
STANDARD_PRESSURE_PSIA = 14.696
OVER_RANGE_FACTOR = 1.28


class AlicatMassFlowModel(LineDeviceModel):
    """An Alicat MC (controller) or M (meter) whose flow settles to its setpoint with noise.

    For a meter (`controller=False`) `setpoint` is the flow the meter sees.
    """

    name: ClassVar[str] = "alicat"
    read_termination: ClassVar[bytes] = b"\r"
    write_termination: ClassVar[bytes] = b"\r"

    def __init__(
        self,
        unit_id: str = "A",
        controller: bool = True,
        setpoint: float = 20.0,
        full_scale: float = 100.0,
        gas: str = "N2",
        seed: int | None = None,
        clock: Clock = time.monotonic,
        model_number: str = "MC-100SCCM-D",
        serial_number: str = "123456",
        firmware: str = "10v05.0-R24",
    ) -> None:
        super().__init__()
        seeds = [None] * 3 if seed is None else [seed, seed + 1, seed + 2]
        self.unit_id = unit_id
        self.controller = controller
        self.full_scale = full_scale
        self.gas = gas
        self.model_number = model_number
        self.serial_number = serial_number
        self.firmware = firmware
        self.status_codes: list[str] = []
        #: Where the unit takes its setpoint from: "serial" obeys `AS`, anything else ignores it.
        self.setpoint_source = "serial"
        self.pressure_psia = SettlingValue(14.70, noise=0.01, seed=seeds[0], clock=clock)
        self.temperature_c = SettlingValue(25.0, noise=0.02, seed=seeds[1], clock=clock)
        self.mass_flow = SettlingValue(
            setpoint,
            noise=0.02 * full_scale / 100.0,
            tau=0.5,
            seed=seeds[2],
            clock=clock,
        )

    @property
    def setpoint(self) -> float:
        """The flow setpoint (the flow a meter sees, for a meter)."""
        return self.mass_flow.target

    @setpoint.setter
    def setpoint(self, value: float) -> None:
        with self._lock:
            self.mass_flow.target = value

    def control(self, command: str, arguments: list[str]) -> str:
        """`setpoint <value>`, `setpoint-source serial|analog`, `status-codes [CODE ...]`."""
        if command == "setpoint":
            self.setpoint = float(arguments[0])
            return f"setpoint {self.setpoint:g}"
        if command == "setpoint-source":
            if arguments not in (["serial"], ["analog"]):
                raise ValueError("setpoint-source takes serial or analog")
            self.setpoint_source = arguments[0]
            return f"setpoint-source {self.setpoint_source}"
        if command == "status-codes":
            self.status_codes = [code.upper() for code in arguments]
            return "status-codes " + " ".join(self.status_codes)
        return super().control(command, arguments)

    def handle_line(self, line: str) -> str | None:
        """Answer one command line, or None when it is addressed to another unit."""
        line = line.strip()
        if not line.startswith(self.unit_id):
            return None
        command = line[len(self.unit_id) :].strip()
        if command == "":
            return self.data_frame()
        if command.startswith("S") and self.controller:
            return self._set_setpoint(command[1:])
        if command.startswith("G") and command[1:].strip().isdigit():
            number = int(command[1:])
            if number >= len(GASES):
                return "?"
            self.gas = GASES[number]
            return self.data_frame()
        if command == "??M*":
            return "\r".join(self.manufacturer_lines())
        if command == "VE":
            return f"{self.unit_id} {self.firmware}"
        return "?"

    def _set_setpoint(self, argument: str) -> str:
        try:
            value = float(argument)
        except ValueError:
            return "?"
        if not 0.0 <= value <= self.full_scale:
            return "?"
        if self.setpoint_source == "serial":
            self.mass_flow.target = value
        return self.data_frame()

    def data_frame(self) -> str:
        """The polling-mode data frame with the current (noisy) readings."""
        pressure = self.pressure_psia.read()
        temperature = self.temperature_c.read()
        mass = max(0.0, self.mass_flow.read()) if self.mass_flow.target else 0.0
        volumetric = (
            mass
            * (temperature + 273.15)
            / STANDARD_TEMPERATURE_K
            * STANDARD_PRESSURE_PSIA
            / pressure
        )
        numbers = [pressure, temperature, volumetric, mass]
        if self.controller:
            numbers.append(self.mass_flow.target)
        fields = [self.unit_id, *(f"{number:+07.2f}" for number in numbers), self.gas]
        statuses = list(self.status_codes)
        if mass > OVER_RANGE_FACTOR * self.full_scale and "MOV" not in statuses:
            statuses.append("MOV")
        return " ".join(fields + statuses)

    def manufacturer_lines(self) -> list[str]:
        """The ten `??M*` lines."""
        u = self.unit_id
        return [
            f"{u} M00 Alicat Scientific Inc.",
            f"{u} M01 www.alicat.com",
            f"{u} M02 Ph   520-290-6060",
            f"{u} M03 Fax  520-290-0109",
            f"{u} M04 Model Number {self.model_number}",
            f"{u} M05 Serial Number {self.serial_number}",
            f"{u} M06 Date Manufactured 01/15/2024",
            f"{u} M07 Date Calibrated   01/15/2024",
            f"{u} M08 Calibrated By     SIM",
            f"{u} M09 Software Revision {self.firmware}",
        ]
