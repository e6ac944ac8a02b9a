"""Simulated Pfeiffer TPG 261/262: the ACK/ENQ handshake, NAK on errors, two pumping gauges.

Protocol (TPG 26x operating manual, "Communication"): the host sends a mnemonic ended by
CR (an LF may follow, it is ignored), e.g. `PR1\\r\\n`. The unit answers `ACK CR LF` when it
accepts the command and `NAK CR LF` when it does not (unknown mnemonic: syntax error;
bad parameter: parameter error). The host then sends `ENQ` and the unit sends the data,
e.g. `0,8.3400E-03\\r\\n`; each further `ENQ` sends fresh data for the same mnemonic.
`ETX` resets the interface. `ERR` reports (and clears) the last error as `0000` (ok),
`1000` (controller error), `0100` (no hardware), `0010` (parameter), `0001` (syntax).

Simulated mnemonics: PR1, PR2, PRX, TID, PNR, UNI (read and `UNI,n` to set), ERR.
An `ENQ` with no accepted command pending is answered with NAK.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import ClassVar, Protocol

from labnode.drivers.simulation.model import DeviceModel
from labnode.drivers.simulation.moving_values import Clock, PumpDownPressure

ACK = b"\x06"
NAK = b"\x15"
ENQ = 0x05
ETX = 0x03
CR = 0x0D
LF = 0x0A
EOL = b"\r\n"

NO_SENSOR_VALUE_MBAR = 2.0e-2
MBAR_TO_UNIT = {0: 1.0, 1: 0.750061683, 2: 100.0}  # UNI 0 mbar, 1 Torr, 2 Pa

ERROR_NONE = "0000"
ERROR_NO_HARDWARE = "0100"
ERROR_PARAMETER = "0010"
ERROR_SYNTAX = "0001"


class PressureSource(Protocol):
    """Anything that reads a pressure in mbar."""

    def read(self) -> float: ...


@dataclass
class SimulatedGauge:
    """One gauge head on the controller: its identification, its pressure and its status."""

    identification: str
    pressure_mbar: PressureSource
    status: int = 0

    def reading(self, unit: int) -> str:
        """The `status,value` field pair the controller sends for this gauge."""
        value = NO_SENSOR_VALUE_MBAR if self.status == 5 else self.pressure_mbar.read()
        return f"{self.status},{value * MBAR_TO_UNIT[unit]:.4E}"


def default_gauges(seed: int | None = None, clock: Clock = time.monotonic) -> list[SimulatedGauge]:
    """A full-range gauge and a Pirani on a chamber pumped down from atmosphere."""
    other_seed = None if seed is None else seed + 1
    return [
        SimulatedGauge(
            "PKR", PumpDownPressure(1000.0, 3.0e-7, tau=15.0, noise=0.03, seed=seed, clock=clock)
        ),
        SimulatedGauge(
            "TPR",
            PumpDownPressure(1000.0, 2.0e-3, tau=8.0, noise=0.01, seed=other_seed, clock=clock),
        ),
    ]


class TPG26xModel(DeviceModel):
    """A TPG 262 (two gauges) or TPG 261 (pass one gauge) behind the ACK/ENQ protocol."""

    name: ClassVar[str] = "tpg26x"
    write_termination: ClassVar[bytes] = EOL

    def __init__(
        self,
        gauges: list[SimulatedGauge] | None = None,
        seed: int | None = None,
        clock: Clock = time.monotonic,
        firmware: str = "BG5110-A",
    ) -> None:
        super().__init__()
        self.gauges = gauges if gauges is not None else default_gauges(seed, clock)
        self.firmware = firmware
        self.unit = 0
        self.error = ERROR_NONE
        self.pending: str | None = None
        self._line = bytearray()

    def set_status(self, gauge: int, status: int) -> None:
        """Force the status code (0-6) that gauge 1 or 2 reports."""
        with self._lock:
            self.gauges[gauge - 1].status = status

    def control(self, command: str, arguments: list[str]) -> str:
        """`gauge-status <gauge> <status>`: force a gauge status."""
        if command != "gauge-status":
            return super().control(command, arguments)
        gauge, status = (int(word) for word in arguments)
        if not (1 <= gauge <= len(self.gauges) and 0 <= status <= 6):
            raise ValueError(f"need gauge 1..{len(self.gauges)} and status 0..6")
        self.set_status(gauge, status)
        return f"gauge-status {gauge} {status}"

    def respond(self, data: bytes) -> bytes:
        """Run the handshake byte by byte."""
        reply = bytearray()
        for byte in data:
            if byte == ENQ:
                reply += self._answer_enquiry()
            elif byte == ETX:
                self._line.clear()
                self.pending = None
            elif byte == CR:
                line = self._line.decode("ascii", errors="replace")
                self._line.clear()
                if line:
                    self.requests_seen += 1
                    reply += self._accept(line)
            elif byte != LF:
                self._line.append(byte)
        return bytes(reply)

    def _forget_input(self) -> None:
        self._line.clear()
        self.pending = None

    def _accept(self, line: str) -> bytes:
        mnemonic, _, parameter = line.strip().upper().partition(",")
        if mnemonic == "UNI" and parameter:
            if parameter not in ("0", "1", "2"):
                return self._reject(ERROR_PARAMETER)
            self.unit = int(parameter)
        elif mnemonic in ("PR1", "PR2") and int(mnemonic[2]) > len(self.gauges):
            return self._reject(ERROR_NO_HARDWARE)
        elif mnemonic not in ("PR1", "PR2", "PRX", "TID", "PNR", "UNI", "ERR") or parameter:
            return self._reject(ERROR_SYNTAX)
        self.pending = mnemonic
        return ACK + EOL

    def _reject(self, error: str) -> bytes:
        self.error = error
        self.pending = None
        return NAK + EOL

    def _answer_enquiry(self) -> bytes:
        if self.pending is None:
            return NAK + EOL
        return self._data(self.pending).encode("ascii") + EOL

    def _data(self, mnemonic: str) -> str:
        if mnemonic in ("PR1", "PR2"):
            return self.gauges[int(mnemonic[2]) - 1].reading(self.unit)
        if mnemonic == "PRX":
            return ",".join(gauge.reading(self.unit) for gauge in self.gauges)
        if mnemonic == "TID":
            return ",".join(
                "noSen" if gauge.status == 5 else gauge.identification for gauge in self.gauges
            )
        if mnemonic == "PNR":
            return self.firmware
        if mnemonic == "UNI":
            return str(self.unit)
        error, self.error = self.error, ERROR_NONE  # ERR
        return error
