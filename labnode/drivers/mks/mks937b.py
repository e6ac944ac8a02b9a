"""MKS 937B (and 946) multi-sensor vacuum gauge controllers over RS-232/RS-485.

Follows the MKS 937B Operation Manual, chapter 9 "937B RS232/485 Serial Communication
Commands", 9.1 "Communication protocols": 8 data bits, 1 stop bit, no parity, no handshake,
9600 to 115200 baud; a query is `@<aaa><Command>?;FF` and its answer `@<aaa>ACK<Response>;FF`
(`@003PR1?;FF` -> `@003ACK7.602E+2;FF`, the pressure of channel A1); address 1 to 254. The
NAK form `@<aaa>NAK<code>;FF` and the `U` (pressure unit: Torr, MBAR, PASCAL, Micron), `MD`
(model: 937B or 946) and `SN` (serial number) queries follow the 946 Controller Instruction
Manual, 9.14 "System Commands", which also gives 253 as the default address and 9600 baud as
the default rate. MKS transducer manuals (902B) use the same framing and document
`@253NAK160;FF` for a mistyped command.

`channels` maps codenames to the controller's channels 1-6 (A1, A2, B1, B2, C1, C2); each
reading sends `PRn?` for each. An answer that is a number is served; any other ACK answer is
the controller's word for the channel's state (the sensor is off, below or above its range,
not connected): that channel is left out of `get_values()`, so a node serves OLD_DATA for it,
the word is kept in `diagnostics()["channel_state"]` and each change is logged once.

Not verified against the manual: the exact words the controller sends for those states (the
driver passes on whatever it sends, unchanged), and the meaning of NAK codes other than 160.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from labnode.drivers.base import SerialDriver
from labnode.drivers.channel import Channel
from labnode.drivers.channel_states import OK, ChannelStates
from labnode.drivers.errors import DriverError

log = logging.getLogger(__name__)

CHANNEL_NAMES = {1: "A1", 2: "A2", 3: "B1", 4: "B2", 5: "C1", 6: "C2"}
BROADCAST = 254
NAK_MEANINGS = {"160": "command had an error (possible typo)"}
REPLY = re.compile(r"@(?P<address>\d{3})(?P<kind>ACK|NAK)(?P<data>.*)", re.DOTALL)
STATE_LENGTH = 40  # longer state words are cut (they end up in every status reply)
NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


class CommandRejected(DriverError):
    """The controller answered NAK (`code`: the NAK code it sent, e.g. "160")."""

    names = ("code",)
    code: str | None


class MKS937B(SerialDriver):
    """MKS 937B/946 gauge controller: pressures of channels A1-C2 in the controller's unit."""

    default_settings = {
        "baudrate": 9600,
        "read_termination": ";FF",
        "write_termination": ";FF",
        "encoding": "ascii",
    }

    def __init__(
        self,
        resource: str,
        *,
        address: int = 253,
        channels: Mapping[str, int] | None = None,
        **settings: Any,
    ) -> None:
        """`address` 1-254 (254 broadcasts); `channels` {codename: channel 1-6}."""
        super().__init__(resource, **settings)
        self.address = self.checks.int_range("address", address, 1, 254, "the controller's address")
        if channels is None:
            channels = {f"pressure_{n}": n for n in CHANNEL_NAMES}
        self._channels = self._check_channels(channels)
        self._states = ChannelStates(log, type(self).__name__, self.resource)
        self._unit: str | None = None
        self._unit_asked = False

    def _check_channels(self, channels: object) -> dict[str, int]:
        example = "{chamber = 1, foreline = 2}"
        if not isinstance(channels, Mapping) or not channels:
            raise self.checks.error(
                "channels",
                f"channels must map codenames to channels 1-6, such as {example}, got {channels!r}",
            )
        checked: dict[str, int] = {}
        for name, channel in channels.items():
            self.checks.codename("channels", name)
            if channel not in CHANNEL_NAMES or isinstance(channel, bool):
                raise self.checks.error(
                    "channels", f"channel of {name!r} must be 1-6 (A1..C2), got {channel!r}"
                )
            checked[name] = channel
        return checked

    @property
    def channels(self) -> list[Channel]:
        """One read-only channel per configured codename, whether or not it reads now.

        The unit is the controller's (its `U` answer), known after the first reading.
        """
        return [
            Channel(name, self._unit, f"pressure of channel {CHANNEL_NAMES[channel]}")
            for name, channel in self._channels.items()
        ]

    def get_values(self) -> dict[str, float]:
        """Pressure of each configured channel whose controller answer is a number."""
        values: dict[str, float] = {}
        with self.lock:
            if not self._unit_asked:
                self._unit_asked = True
                try:
                    self._unit = self.ask("U").strip() or None
                except CommandRejected as error:  # the unit is a courtesy: never fail for it
                    log.info(
                        "%s: no pressure unit (%s); values are served without one", self, error
                    )
            for name, channel in self._channels.items():
                answer = self.ask(f"PR{channel}").strip()
                if not answer:
                    raise self.parse_error(
                        self.transport.last_reply, None, "a pressure or a state after ACK"
                    )
                state = OK if NUMBER.fullmatch(answer) else answer[:STATE_LENGTH]
                if self._states.note(name, state):
                    values[name] = float(answer)
        return values

    def diagnostics(self) -> dict[str, Any]:
        """{"channel_state": {codename: "ok" or the controller's word}, "pressure_unit": ...}."""
        facts: dict[str, Any] = {"channel_state": self._states.as_dict()}
        if self._unit is not None:
            facts["pressure_unit"] = self._unit
        return facts

    @property
    def unit(self) -> str | None:
        """The pressure unit the controller reports in (its `U` answer), after a reading."""
        return self._unit

    def identify(self) -> str:
        """Model (`MD`) and serial number (`SN`)."""
        model = self.ask("MD").strip()
        serial = self.ask("SN").strip()
        return f"MKS {model}, serial {serial}"

    def ask(self, command: str) -> str:
        """Send `@aaa<command>?;FF` and return the data of the ACK answer."""
        return self._exchange(f"{command}?")

    def set(self, command: str, parameter: str) -> str:
        """Send `@aaa<command>!<parameter>;FF` and return the data of the ACK answer."""
        return self._exchange(f"{command}!{parameter}")

    def _exchange(self, body: str) -> str:
        request = f"@{self.address:03d}{body}"
        reply = self.query(request)
        match = REPLY.fullmatch(reply)
        if match is None:
            raise self.parse_error(reply, request, "'@<address>ACK<data>' or '@<address>NAK<code>'")
        if self.address != BROADCAST and int(match["address"]) != self.address:
            raise self.parse_error(reply, request, f"an answer from address {self.address:03d}")
        if match["kind"] == "NAK":
            code = match["data"].strip()
            meaning = NAK_MEANINGS.get(code, "see the controller's manual")
            raise CommandRejected(
                f"the controller answered NAK{code} ({meaning})",
                driver=type(self).__name__,
                resource=self.resource,
                command=request,
                code=code,
            )
        return match["data"]

    def on_connect(self) -> None:
        """Forget the unit learnt from the previous connection."""
        self._unit = None
        self._unit_asked = False
