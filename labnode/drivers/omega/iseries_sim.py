"""Simulated Omega iSeries meter: `*X01` answered with the reading, ECHO on or off, CR ended.

Protocol as in the i-Series Communication Manual, 5.2 and 5.3 (see `iseries`): a command is
the recognition character, the bus address (two hex digits, RS-485 only), the command class
and its two-digit suffix; with ECHO the answer repeats the address and command before the data.

Simulator choices, not from the manual: the reading is formatted like the manual's example
`075.4` (one decimal, at least three integer digits); `state` (say "OPEN") is answered instead
of the number; commands other than `X01`, and commands for another address, get no answer.
"""

from __future__ import annotations

import time
from typing import ClassVar

from labnode.drivers.simulation.model import LineDeviceModel
from labnode.drivers.simulation.moving_values import Clock, SettlingValue


class OmegaISeriesModel(LineDeviceModel):
    """A meter whose reading settles toward `value` with noise."""

    name: ClassVar[str] = "omega_iseries"
    read_termination: ClassVar[bytes] = b"\r"
    write_termination: ClassVar[bytes] = b"\r"

    def __init__(
        self,
        value: float = 23.5,
        noise: float = 0.05,
        echo: bool = True,
        address: int | None = None,
        recognition: str = "*",
        seed: int | None = None,
        clock: Clock = time.monotonic,
    ) -> None:
        super().__init__()
        self.reading = SettlingValue(value, noise=noise, tau=2.0, seed=seed, clock=clock)
        self.echo = echo
        self.address = address
        self.recognition = recognition
        self.state: str | None = None

    def control(self, command: str, arguments: list[str]) -> str:
        """`value <number>` (the reading settles there), `state <WORD|ok>`, `echo on|off`."""
        if command == "value":
            with self._lock:
                self.reading.target = float(arguments[0])
            return f"value {float(arguments[0]):g}"
        if command == "state":
            with self._lock:
                self.state = None if arguments[0] == "ok" else arguments[0]
            return f"state {arguments[0]}"
        if command == "echo" and arguments[0] in ("on", "off"):
            self.echo = arguments[0] == "on"
            return f"echo {arguments[0]}"
        return super().control(command, arguments)

    def handle_line(self, line: str) -> str | None:
        """Answer `X01`, or None."""
        if not line.startswith(self.recognition):
            return None
        rest = line[len(self.recognition) :]
        bus = ""
        if self.address is not None:
            bus, rest = rest[:2], rest[2:]
            if bus.upper() != f"{self.address:02X}":
                return None
        if rest.upper() != "X01":
            return None
        data = self.state if self.state is not None else f"{self.reading.read():05.1f}"
        return f"{bus.upper()}X01{data}" if self.echo else data
