"""Simulated MKS 937B gauge controller: `@aaa<cmd>?;FF` queries, ACK/NAK answers, six channels.

Protocol as in the 937B Operation Manual 9.1 and the 946 manual 9.14 (see `mks937b`): the
controller answers queries addressed to it (or to 254, broadcast) with `@aaaACK<data>;FF`
and errors with `@aaaNAK<code>;FF`.

Simulated queries: `PR1?` .. `PR6?` (pressure or the channel's state word), `U?` / `U!<unit>`
(Torr, MBAR, PASCAL, Micron), `MD?`, `SN?`. Simulator choices, not from the manual: NAK160
for an unknown command or a malformed message, NAK169 for a bad `U!` parameter; a message to
another address gets no answer; the state words "OFF", "LO<1.00E-04", "MISCONN" and
"NOGAUGE" are examples of what a channel may answer instead of a number.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import ClassVar, Protocol

from labnode.drivers.simulation.model import LineDeviceModel
from labnode.drivers.simulation.moving_values import Clock, PumpDownPressure

REQUEST = re.compile(r"@(?P<address>\d{3})(?P<command>[A-Za-z]+\d?)(?P<kind>[?!])(?P<arg>.*)")
#: U! parameter -> (U? answer, factor from Torr)
UNITS = {
    "TORR": ("Torr", 1.0),
    "MBAR": ("MBAR", 1.33322),
    "PASCAL": ("PASCAL", 133.322),
    "MICRON": ("Micron", 1000.0),
}
NO_GAUGE = "NOGAUGE"


class PressureSource(Protocol):
    """Anything that reads a pressure in Torr."""

    def read(self) -> float: ...


@dataclass
class SimulatedChannel:
    """One channel: its sensor's pressure (Torr), or a state word instead of a reading."""

    pressure_torr: PressureSource | None
    state: str | None = None  # e.g. "OFF": answered instead of the pressure


def default_channels(
    seed: int | None = None, clock: Clock = time.monotonic
) -> list[SimulatedChannel]:
    """A1 cold cathode and A2 Pirani on a chamber pumped down from atmosphere; B1 a Pirani on
    the foreline; B2-C2 without sensors."""
    seeds = [None] * 3 if seed is None else [seed, seed + 1, seed + 2]
    return [
        SimulatedChannel(
            PumpDownPressure(760.0, 2e-7, tau=15.0, noise=0.03, seed=seeds[0], clock=clock)
        ),
        SimulatedChannel(
            PumpDownPressure(760.0, 1e-3, tau=8.0, noise=0.01, seed=seeds[1], clock=clock)
        ),
        SimulatedChannel(
            PumpDownPressure(760.0, 5e-3, tau=4.0, noise=0.01, seed=seeds[2], clock=clock)
        ),
        SimulatedChannel(None, NO_GAUGE),
        SimulatedChannel(None, NO_GAUGE),
        SimulatedChannel(None, NO_GAUGE),
    ]


class MKS937BModel(LineDeviceModel):
    """A 937B at `address` with six channels (A1, A2, B1, B2, C1, C2)."""

    name: ClassVar[str] = "mks937b"
    read_termination: ClassVar[bytes] = b";FF"
    write_termination: ClassVar[bytes] = b";FF"

    def __init__(
        self,
        channels: list[SimulatedChannel] | None = None,
        address: int = 253,
        seed: int | None = None,
        clock: Clock = time.monotonic,
        serial_number: str = "1234567890",
    ) -> None:
        super().__init__()
        self.channels = channels if channels is not None else default_channels(seed, clock)
        self.address = address
        self.unit = "TORR"
        self.serial_number = serial_number

    def set_state(self, channel: int, state: str | None) -> None:
        """Make channel 1-6 answer `state` instead of its pressure (None: its pressure again)."""
        with self._lock:
            self.channels[channel - 1].state = state

    def control(self, command: str, arguments: list[str]) -> str:
        """`channel-state <1-6> <WORD|ok>`: what a channel answers instead of its pressure."""
        if command != "channel-state":
            return super().control(command, arguments)
        channel, word = int(arguments[0]), arguments[1]
        if not 1 <= channel <= len(self.channels):
            raise ValueError(f"need a channel 1..{len(self.channels)}")
        self.set_state(channel, None if word == "ok" else word)
        return f"channel-state {channel} {word}"

    def handle_line(self, line: str) -> str | None:
        """Answer one message, or None when it is for another address."""
        match = REQUEST.fullmatch(line.strip())
        if match is None:
            address = line.strip()[1:4]
            if line.startswith("@") and address.isdigit() and int(address) == self.address:
                return self._nak("160")
            return None
        if int(match["address"]) not in (self.address, 254):
            return None
        command, kind, argument = match["command"].upper(), match["kind"], match["arg"]
        if kind == "!":
            if command == "U" and argument.upper() in UNITS:
                self.unit = argument.upper()
                return self._ack(UNITS[self.unit][0])
            return self._nak("169" if command == "U" else "160")
        if argument:
            return self._nak("160")
        if command.startswith("PR") and command[2:].isdigit():
            channel = int(command[2:])
            if not 1 <= channel <= len(self.channels):
                return self._nak("160")
            return self._ack(self._reading(self.channels[channel - 1]))
        answers = {"U": UNITS[self.unit][0], "MD": "937B", "SN": self.serial_number}
        if command in answers:
            return self._ack(answers[command])
        return self._nak("160")

    def _reading(self, channel: SimulatedChannel) -> str:
        if channel.state is not None or channel.pressure_torr is None:
            return channel.state or NO_GAUGE
        return f"{channel.pressure_torr.read() * UNITS[self.unit][1]:.2E}"

    def _ack(self, data: str) -> str:
        return f"@{self.address:03d}ACK{data}"

    def _nak(self, code: str) -> str:
        return f"@{self.address:03d}NAK{code}"
