"""Bronkhorst digital mass flow meters and controllers (EL-FLOW and kin) over propar ASCII.

Follows Bronkhorst document 9.17.027, "RS232 interface with FLOW-BUS protocol": message layout
(section 3.4), parameter types (3.4.2), status message and its codes (3.6), and the worked
examples of 3.10 (send setpoint, request setpoint, request measure, chained parameters). The
codec is in `propar_codec`; `tests/drivers/test_bronkhorst.py` checks it against those examples
byte for byte.

Each reading asks node `node`, process 1, for the measure (FBnr 0) and the setpoint (FBnr 1),
both integers where 32000 is 100 % of the capacity (document 9.17.023, "Operational
instructions for digital multibus instruments", 4.1-4.2: the measure stops at 41942, 131.07 %;
a bipolar instrument sends -73.73 % to -0.003 % as 41943 to 65535). A measure at that ceiling
is over range: it is left out of `get_values()` (the node serves OLD_DATA for it), reported in
`diagnostics()` and logged once. The capacity (FBnr 13, float) and its unit (FBnr 31, string)
are read once per connection, so values are served in the capacity unit (e.g. ln/min).

The `setpoint` channel is writable: `set_value("setpoint", v)` (0..capacity) writes FBnr 1 with
command 01, expects status 00 and reads the setpoint back; a refusal, or a setpoint that did not
take (the instrument follows its analog input: 9.17.061 4.1.6 "default control mode"), is
`WriteRefused`. Any other status reply than 00 raises `ProparStatusError` naming the code and
its 3.6 meaning.

Not verified against a manual (from memory of Bronkhorst's documentation, or a choice):
- the default baud rate 38400 and node 3 (3 is the node of the manual's examples; the node is
  whatever the instrument is set to: set `node`);
- that the capacity's 0 % point (`capacity 0%` in 9.17.023) is 0, as for most instruments;
- which node address the instrument answers with when addressed as 128 (local); the driver
  requires the answer to come from the node it asked.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from labnode.drivers.base import SerialDriver
from labnode.drivers.bronkhorst import propar_codec as codec
from labnode.drivers.channel import Channel
from labnode.drivers.channel_states import OK, ChannelStates
from labnode.drivers.errors import DriverError

log = logging.getLogger(__name__)

MEASURE_MAX = 41942  # 131.07 %: the measure never goes higher (9.17.023, 4.1)
MEASURE_WRAP = 65536  # a bipolar instrument sends -73.73 % .. -0.003 % as 41943 .. 65535 (4.2)
OVER_RANGE = "over range (131.07 % of capacity or more)"
UNIT_LENGTH = 16  # longer unit strings are cut (they end up in every status reply)


class ProparStatusError(DriverError):
    """The instrument answered a status message other than 00 (`status`: the code)."""

    names = ("status",)
    status: int | None


class BronkhorstPropar(SerialDriver):
    """Bronkhorst flow controller (propar ASCII): measured flow and setpoint, capacity units."""

    default_settings = {
        "baudrate": 38400,
        "read_termination": "\r\n",
        "write_termination": "\r\n",
        "encoding": "ascii",
    }

    def __init__(self, resource: str, *, node: int = 3, prefix: str = "", **settings: Any) -> None:
        """`node`: FLOW-BUS node address (1-128); `prefix` goes before `flow` and `setpoint`."""
        super().__init__(resource, **settings)
        self.node = self.checks.int_range(
            "node", node, 1, 128, "the instrument's FLOW-BUS node address"
        )
        self.prefix = self.checks.text("prefix", prefix, "'mfc1_'")
        self.checks.codename("prefix", prefix + "flow")
        self._capacity: float | None = None
        self._unit: str | None = None
        self._states = ChannelStates(log, type(self).__name__, self.resource)

    @property
    def channels(self) -> list[Channel]:
        """`flow` and the writable `setpoint` (prefixed), in the capacity unit once known.

        The unit and the setpoint's maximum (the capacity) are known after the first reading
        or `identify()`, which the node runs after every connect.
        """
        return [
            Channel(self.prefix + "flow", self._unit, "measured flow"),
            Channel(
                self.prefix + "setpoint", self._unit, "flow setpoint", True, 0.0, self._capacity
            ),
        ]

    # -- reading ----------------------------------------------------------------------------------
    def get_values(self) -> dict[str, float]:
        """Measure and setpoint in the capacity unit; a measure over range is left out."""
        with self.lock:
            capacity = self.capacity
            measure = self.read_parameter(codec.MEASURE)
            setpoint = self.read_parameter(codec.SETPOINT)
        flow_name, setpoint_name = self.prefix + "flow", self.prefix + "setpoint"
        values = {}
        if measure > MEASURE_MAX:
            measure -= MEASURE_WRAP  # below zero, from a bipolar instrument
        if self._states.note(flow_name, OVER_RANGE if measure == MEASURE_MAX else OK):
            values[flow_name] = measure / codec.FULL_SCALE * capacity
        self._states.note(setpoint_name, OK)
        values[setpoint_name] = setpoint / codec.FULL_SCALE * capacity
        return values

    @property
    def capacity(self) -> float:
        """Full scale (FBnr 13) in the capacity unit; read once per connection."""
        if self._capacity is None:
            with self.lock:
                capacity = self.read_parameter(codec.CAPACITY)
                if not (isinstance(capacity, float) and math.isfinite(capacity) and capacity > 0):
                    raise self.parse_error(
                        self.transport.last_reply, None, f"a capacity > 0, got {capacity!r}"
                    )
                unit = str(self.read_parameter(codec.CAPACITY_UNIT))
                self._unit = unit[:UNIT_LENGTH]  # 7 characters (9.17.023, 4.20); bound it
                self._capacity = float(capacity)
        return self._capacity

    @property
    def unit(self) -> str | None:
        """The capacity unit (e.g. "ln/min"), known after the first reading."""
        return self._unit

    def diagnostics(self) -> dict[str, Any]:
        """{"channel_state": {codename: "ok" | "over range (...)"}, capacity, unit}."""
        facts: dict[str, Any] = {"channel_state": self._states.as_dict()}
        if self._capacity is not None:
            facts["capacity"] = self._capacity
            facts["capacity_unit"] = self._unit
        return facts

    def identify(self) -> str:
        """Fluid name, capacity and unit of process 1."""
        fluid = self.read_parameter(codec.FLUID_NAME)
        return f"Bronkhorst node {self.node}: {fluid}, capacity {self.capacity:g} {self.unit}"

    # -- writing ----------------------------------------------------------------------------------
    def write_channel(self, channel: Channel, value: float) -> None:
        """Write the setpoint (0..capacity), then read it back to see that it took."""
        capacity = self.capacity
        if not 0.0 <= value <= capacity:
            raise self.write_refused(
                channel.name,
                f"{channel.name} must be 0 to the capacity {capacity:g}, got {value!r}",
            )
        raw = round(value / capacity * codec.FULL_SCALE)
        request = codec.write_request(self.node, codec.SETPOINT, raw)
        try:
            self.write_parameter(codec.SETPOINT, raw)
        except ProparStatusError as error:
            raise self.write_refused(channel.name, error.reason, request) from error
        applied = self.read_parameter(codec.SETPOINT)
        if applied != raw:
            raise self.write_refused(
                channel.name,
                f"the instrument kept setpoint {applied}/32000 instead of {raw}/32000 (does it "
                "take its setpoint from the bus, not from an analog input?)",
                request,
            )

    # -- the protocol -----------------------------------------------------------------------------
    def read_parameter(self, parameter: codec.Parameter) -> int | float | str:
        """Read one parameter of this node (command 04) and return its value."""
        request = codec.read_request(self.node, parameter)
        reply = self.query(request)
        message = self._message(reply, request)
        if message.command != codec.WRITE:
            raise self.parse_error(
                reply, request, f"an answer (command 02) with the {parameter.name}"
            )
        expected = bytes([parameter.process, parameter.type_bits | codec.RETURN_INDEX])
        if message.payload[:2] != expected:
            raise self.parse_error(
                reply, request, f"process/parameter bytes {expected.hex().upper()}"
            )
        try:
            value, used = codec.unpack_value(parameter.kind, message.payload[2:])
        except ValueError as error:
            raise self.parse_error(reply, request, str(error)) from None
        if used != len(message.payload) - 2:
            raise self.parse_error(reply, request, f"one {parameter.kind} value, no more bytes")
        return value

    def write_parameter(self, parameter: codec.Parameter, value: int | float) -> None:
        """Write one parameter (command 01) and check the status reply is 00."""
        request = codec.write_request(self.node, parameter, value)
        reply = self.query(request)
        message = self._message(reply, request)
        if message.command != codec.STATUS:
            raise self.parse_error(reply, request, "a status message (command 00)")

    def _message(self, reply: str, request: str) -> codec.Message:
        """Decode a reply, check its node, and raise ProparStatusError for an error status."""
        try:
            message = codec.decode(reply)
        except ValueError as error:
            raise self.parse_error(reply, request, str(error)) from None
        if message.node != self.node:
            raise self.parse_error(reply, request, f"an answer from node {self.node}")
        if message.command == codec.STATUS:
            if len(message.payload) != 2:
                raise self.parse_error(reply, request, "a status message of 2 bytes")
            status = message.payload[0]
            if status != 0:
                meaning = codec.STATUS_TEXT.get(status, "unknown status")
                raise ProparStatusError(
                    f"the instrument answered status {status:02X}: {meaning}",
                    driver=type(self).__name__,
                    resource=self.resource,
                    command=request,
                    status=status,
                )
        return message

    def on_connect(self) -> None:
        """Forget the capacity and unit: the instrument may have changed."""
        self._capacity = None
        self._unit = None
