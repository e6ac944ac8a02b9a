"""Simulated Bronkhorst flow controller behind the propar ASCII protocol (document 9.17.027).

Requests are `:` + hex + CR LF (see `propar_codec`). The simulated node answers:

- command 04 (read) of one process-1 parameter: measure (FBnr 0) and setpoint (1), integers
  where 32000 is 100 %; capacity (13, float); fluid name (17) and capacity unit (31), strings.
  The answer is command 02 carrying the request's return process/parameter bytes and the value,
  as in the manual's examples 3.10.3 and 3.10.5.
- command 01 (write with status) of the setpoint: status 00 with the index of the end of the
  message, as in example 3.10.1 (`:0403000005`); a value above 32000 gets status 06
  (parameter value error).
- anything else addressed to it: a status message (02 command error, 04 parameter error,
  05 parameter type error, 0D read only parameter).

Simulator choices, not from the manual: a message to another node gets no answer (as on a
multi-drop bus), nor does a line that is not a valid message; the measure follows the
setpoint with a first-order lag and noise; with `setpoint_source = "analog"` a setpoint write
is answered status 00 but changes nothing (an instrument following its analog input).
"""

from __future__ import annotations

import time
from typing import ClassVar

from labnode.drivers.bronkhorst import propar_codec as codec
from labnode.drivers.simulation.model import LineDeviceModel
from labnode.drivers.simulation.moving_values import Clock, SettlingValue

PARAMETERS = {
    (p.process, p.number): p
    for p in (codec.MEASURE, codec.SETPOINT, codec.CAPACITY, codec.FLUID_NAME, codec.CAPACITY_UNIT)
}
WRITABLE = {(1, 1)}


class BronkhorstProparModel(LineDeviceModel):
    """One Bronkhorst controller (node `node`) whose measure settles to its setpoint."""

    name: ClassVar[str] = "bronkhorst"
    read_termination: ClassVar[bytes] = b"\r\n"
    write_termination: ClassVar[bytes] = b"\r\n"

    def __init__(
        self,
        node: int = 3,
        capacity: float = 100.0,
        unit: str = "mln/min",
        fluid: str = "N2",
        setpoint: int = 16000,
        noise: float = 20.0,
        tau: float = 0.5,
        seed: int | None = None,
        clock: Clock = time.monotonic,
    ) -> None:
        super().__init__()
        self.node = node
        self.capacity = capacity
        self.unit = unit
        self.fluid = fluid
        self.measure = SettlingValue(setpoint, noise=noise, tau=tau, seed=seed, clock=clock)
        self.forced_measure: int | None = None
        self.setpoint_source = "bus"

    @property
    def setpoint(self) -> int:
        """The setpoint, 0..32000."""
        return round(self.measure.target)

    @setpoint.setter
    def setpoint(self, raw: int) -> None:
        with self._lock:
            self.measure.target = raw

    def control(self, command: str, arguments: list[str]) -> str:
        """`setpoint <0..32000>`, `measure <raw 0..65535>` / `measure free`,
        `setpoint-source bus|analog`."""
        if command == "setpoint":
            self.setpoint = int(arguments[0])
            return f"setpoint {self.setpoint}"
        if command == "setpoint-source" and arguments[0] in ("bus", "analog"):
            self.setpoint_source = arguments[0]
            return f"setpoint-source {arguments[0]}"
        if command == "measure":
            with self._lock:
                self.forced_measure = None if arguments[0] == "free" else int(arguments[0])
            return f"measure {arguments[0]}"
        return super().control(command, arguments)

    def handle_line(self, line: str) -> str | None:
        """Answer one request, or None when it is addressed to another node."""
        try:
            message = codec.decode(line)
        except ValueError:
            return None
        if message.node != self.node:
            return None
        if message.command == codec.READ:
            return self._read(message.payload)
        if message.command in (codec.WRITE_WITH_STATUS, codec.WRITE):
            return self._write(message)
        return self._status(0x02, 3)

    def _read(self, payload: bytes) -> str:
        if len(payload) not in (4, 5):
            return self._status(0x02, 3)
        return_process, return_parameter, process, parameter_byte = payload[:4]
        parameter = PARAMETERS.get((process & 0x7F, parameter_byte & 0x1F))
        if parameter is None:
            return self._status(0x04, 6)
        if parameter_byte & 0x60 != parameter.type_bits:
            return self._status(0x05, 6)
        value = self._value(parameter)
        if parameter.kind == "string":
            data = value.encode("latin-1")
            body = bytes([len(data)]) + data
        else:
            body = codec.pack_value(parameter.kind, value)
        return codec.encode(
            self.node, codec.WRITE, bytes([return_process, return_parameter]) + body
        )

    def _write(self, message: codec.Message) -> str | None:
        payload = message.payload
        if len(payload) < 2:
            return self._status(0x02, 3)
        key = (payload[0] & 0x7F, payload[1] & 0x1F)
        parameter = PARAMETERS.get(key)
        if parameter is None:
            return self._status(0x04, 4)
        if key not in WRITABLE:
            return self._status(0x0D, 4)
        if payload[1] & 0x60 != parameter.type_bits:
            return self._status(0x05, 4)
        try:
            value, used = codec.unpack_value(parameter.kind, payload[2:])
        except ValueError:
            return self._status(0x06, 5)
        if used != len(payload) - 2 or not 0 <= value <= codec.FULL_SCALE:
            return self._status(0x06, 5)
        if self.setpoint_source == "bus":
            self.measure.target = value
        end = len(payload) + 1  # the last byte after the length byte, counted from 0 (3.10.1)
        return None if message.command == codec.WRITE else self._status(0x00, end)

    def _value(self, parameter: codec.Parameter) -> int | float | str:
        if parameter is codec.MEASURE:
            if self.forced_measure is not None:
                return self.forced_measure
            raw = min(max(round(self.measure.read()), -23593), 41942)  # -73.73 .. 131.07 %
            return raw + 65536 if raw < 0 else raw  # negatives as a bipolar instrument sends
        if parameter is codec.SETPOINT:
            return self.setpoint
        if parameter is codec.CAPACITY:
            return self.capacity
        if parameter is codec.FLUID_NAME:
            return self.fluid.ljust(10)  # padded with spaces, as in example 3.10.4
        return self.unit

    def _status(self, status: int, index: int) -> str:
        return codec.encode(self.node, codec.STATUS, bytes([status, index]))
