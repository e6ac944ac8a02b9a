"""Omega iSeries meters and controllers (CNi, DPi, ...): the reading, over the iSeries protocol.

Follows the Omega i-Series Communication Manual, part 5 "i-Series protocol": 5.1 (command
classes: `X` reads the measurement in decimal), 5.2 (command formats: `*X01<cr>` point to point,
`*nnX01<cr>` on an RS-485 bus where nn is the bus address in two hex digits 00-C7; `*` is the
recognition character, configurable on the meter) and 5.3 (response formats: with ECHO on the
meter answers `X01075.4<cr>`, or `nnX01075.4<cr>` on a bus; with ECHO off just `075.4<cr>`).

Each reading sends `X01` and serves the value as `name` (default `temperature`), in the unit the
meter is set to (the protocol does not say which: declare it with `unit`, e.g. "degC"). With
`echo = true` (the default) the driver checks that the answer repeats the command, so an answer
that does repeat it but carries no number is the meter's word for its input's state (e.g. an
open thermocouple): the reading is then left out (the node serves OLD_DATA), the word is kept in
`diagnostics()["channel_state"]` and each change is logged once. With `echo = false` a reply
that is not a number is a ReplyParseError.

Not verified against the manual: the default line settings 9600 baud, 7 data bits, odd parity,
1 stop bit (set `baudrate`, `bytesize`, `parity`, `stopbits` to what the meter's
communication menu shows), and the words the meter sends instead of a number.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from labnode.drivers.base import SerialDriver
from labnode.drivers.channel import Channel
from labnode.drivers.channel_states import OK, ChannelStates

log = logging.getLogger(__name__)

READ_COMMAND = "X01"
MAX_ADDRESS = 0xC7
NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)")
STATE_LENGTH = 40  # longer state words are cut (they end up in every status reply)
RECOGNITION_CHARACTERS = {chr(c) for c in range(0x21, 0x7E)} - {"^", "A", "E"}


class OmegaISeries(SerialDriver):
    """Omega iSeries/CNi meter or controller: its reading (`*X01`), e.g. a temperature."""

    default_settings = {
        "baudrate": 9600,
        "bytesize": 7,
        "parity": "O",
        "stopbits": 1,
        "read_termination": "\r",
        "write_termination": "\r",
        "encoding": "ascii",
    }

    def __init__(
        self,
        resource: str,
        *,
        name: str = "temperature",
        unit: str | None = None,
        echo: bool = True,
        address: int | None = None,
        recognition: str = "*",
        **settings: Any,
    ) -> None:
        """`address`: the RS-485 bus address 0-199 (None: point to point)."""
        super().__init__(resource, **settings)
        self.name = self.checks.codename("name", name)
        if unit is not None:
            self.checks.text("unit", unit, "'degC'", empty=False)
        self.unit = unit
        self.echo = self.checks.boolean("echo", echo)
        if address is not None:
            self.checks.int_range("address", address, 0, MAX_ADDRESS, "the meter's bus address")
        self.address = address
        if recognition not in RECOGNITION_CHARACTERS:
            raise self.checks.error(
                "recognition",
                "recognition must be the meter's recognition character, one printable character "
                f"other than ^, A and E (default '*'), got {recognition!r}",
            )
        self._bus = "" if address is None else f"{address:02X}"
        self.command = f"{recognition}{self._bus}{READ_COMMAND}"
        self._states = ChannelStates(log, type(self).__name__, self.resource)

    @property
    def channels(self) -> list[Channel]:
        """The one read-only reading."""
        return [Channel(self.name, self.unit, "reading (X01)")]

    def get_values(self) -> dict[str, float]:
        """The reading, or nothing when the meter answers a state word instead (echo on)."""
        reply = self.query(self.command).strip()
        if not self.echo:
            if not NUMBER.fullmatch(reply):
                raise self.parse_error(reply, self.command, "a reading such as 075.4")
            return {self.name: float(reply)}
        echoed = self._bus + READ_COMMAND
        if not reply.startswith(echoed):
            raise self.parse_error(reply, self.command, f"the echo {echoed!r} then the reading")
        value = reply[len(echoed) :].strip()
        if not value:
            raise self.parse_error(reply, self.command, "a reading after the echo")
        state = OK if NUMBER.fullmatch(value) else value[:STATE_LENGTH]
        if self._states.note(self.name, state):
            return {self.name: float(value)}
        return {}

    def diagnostics(self) -> dict[str, Any]:
        """{"channel_state": {name: "ok" or the meter's word}} as of the last reading."""
        return {"channel_state": self._states.as_dict()}

    def identify(self) -> str:
        """What is configured (the protocol has no identification query); no I/O."""
        where = "point to point" if self.address is None else f"bus address {self.address}"
        return f"Omega iSeries meter ({where}, reading {self.command!r})"
