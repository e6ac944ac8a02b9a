"""Pfeiffer Vacuum TPG 261/262 gauge controller over RS-232 (9600 8N1 by default).

The protocol is a two-step handshake, not one line per query: the host sends a mnemonic
(`PR1\\r\\n`); the unit answers ACK (`\\x06\\r\\n`) or NAK (`\\x15\\r\\n`); the host sends ENQ
(`\\x05`); the unit sends the data (`0,8.3400E-03\\r\\n`: status, pressure in the current unit).

Gauge status codes: 0 ok, 1 underrange, 2 overrange, 3 sensor error, 4 sensor off,
5 no sensor, 6 identification error. `get_values()` returns only the gauges whose status is 0;
a gauge with another status is left out (so a node serves OLD_DATA for it while the other gauge
keeps updating) and its status is kept in `gauge_status` (and in `diagnostics()`, which the
node adds to its `status` reply); each change of a gauge's status is logged once. A NAK raises
`CommandRejected`, with the unit's error status (`ERR`) in the message; reading a gauge the unit
does not have (two `names` on a one-gauge TPG 261) is a `DriverConfigError` on `names`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from labnode.drivers.base import SerialDriver
from labnode.drivers.channel import Channel
from labnode.drivers.checks import SettingChecks
from labnode.drivers.errors import DriverError

log = logging.getLogger(__name__)

ACK = "\x06"
NAK = "\x15"
ENQ = b"\x05"

GAUGE_STATUS = {
    0: "ok",
    1: "underrange",
    2: "overrange",
    3: "sensor error",
    4: "sensor off",
    5: "no sensor",
    6: "identification error",
}
PRESSURE_UNITS = {0: "mbar", 1: "Torr", 2: "Pa"}
NO_HARDWARE = "0100"
ERROR_STATUS = {
    "0000": "no error",
    "1000": "controller error (see the unit's display)",
    "0100": "no hardware (no such gauge on this unit)",
    "0010": "inadmissible parameter",
    "0001": "syntax error (unknown mnemonic)",
}


class CommandRejected(DriverError):
    """The controller answered NAK: it did not accept the command (`error_code`: its ERR)."""

    error_code: str | None = None


class TPG26x(SerialDriver):
    """Pfeiffer TPG 261/262: pressures of gauge 1 and 2 as {codename: pressure}."""

    default_settings = {
        "baudrate": 9600,
        "read_termination": "\r\n",
        "write_termination": "\r\n",
        "encoding": "latin-1",
    }

    def __init__(
        self,
        resource: str,
        *,
        names: Sequence[str | None] = ("pressure_1", "pressure_2"),
        **settings: Any,
    ) -> None:
        """`names[i]` is the codename of gauge i+1; None or "" leaves that gauge out."""
        super().__init__(resource, **settings)
        self._gauge_names = _check_names(names, self.checks)
        self._gauge_status: dict[str, int] = {}
        self._unit: str | None = None

    @property
    def channels(self) -> list[Channel]:
        """One read-only channel per configured gauge, whether or not it reads ok.

        The unit is the controller's (`UNI`), known once asked: `identify()` and `unit` ask it,
        and the node identifies the instrument at every connect; None before that.
        """
        return [
            Channel(name, self._unit, f"pressure of gauge {gauge}")
            for gauge, name in self._gauge_names.items()
        ]

    @property
    def gauge_status(self) -> dict[str, str]:
        """The status of each gauge at the last reading, e.g. {"pressure_2": "sensor off"}."""
        statuses = self._gauge_status.copy()  # one step: safe while another thread reads
        return {name: GAUGE_STATUS[code] for name, code in statuses.items()}

    def diagnostics(self) -> dict[str, Any]:
        """{"gauge_status": {codename: "ok" | "sensor off" | ...}} as of the last reading."""
        facts: dict[str, Any] = {"gauge_status": self.gauge_status}
        if self._unit is not None:
            facts["pressure_unit"] = self._unit
        return facts

    def get_values(self) -> dict[str, float]:
        """Read the configured gauges; gauges whose status is not 0 are left out."""
        gauges = sorted(self._gauge_names)
        mnemonic = "PRX" if gauges == [1, 2] else f"PR{gauges[0]}"
        try:
            reply = self.ask(mnemonic)
        except CommandRejected as error:
            if error.error_code == NO_HARDWARE:  # names a gauge this unit does not have
                raise self.checks.error(
                    "names",
                    f"the controller has no gauge {gauges[0]} (it rejected {mnemonic}: error "
                    "status 0100, no hardware); a TPG 261 has one gauge: list one codename",
                ) from None
            raise
        fields = reply.split(",")
        if len(gauges) == 2 and len(fields) == 2 and _parse_status(fields[0]) is not None:
            raise self.checks.error(
                "names",
                f"names lists two gauges but the controller answers PRX with one ({reply!r}): "
                "a TPG 261 has one gauge, so list one codename",
            )
        if len(fields) != 2 * len(gauges):
            raise self.parse_error(reply, mnemonic, f"expected {len(gauges)} status,value pairs")
        values: dict[str, float] = {}
        for index, gauge in enumerate(gauges):
            status_text, value_text = fields[2 * index], fields[2 * index + 1]
            status = _parse_status(status_text)
            if status is None:
                raise self.parse_error(reply, mnemonic, "expected a status code 0-6")
            value = self.parse_float(value_text.strip(), mnemonic)
            name = self._gauge_names[gauge]
            self._note_status(gauge, name, status)
            if status == 0:
                values[name] = value
        return values

    def _note_status(self, gauge: int, name: str, status: int) -> None:
        """Keep a gauge's status; log a change once (a warning, or info when it is ok again)."""
        previous = self._gauge_status.get(name)
        self._gauge_status[name] = status
        if status == previous or (previous is None and status == 0):
            return
        if status == 0:
            log.info(
                "%s on %s: gauge %d (%s) is ok again",
                type(self).__name__,
                self.resource,
                gauge,
                name,
            )
        else:
            log.warning(
                "%s on %s: gauge %d (%s) reports %s; %s is left out of the readings",
                type(self).__name__,
                self.resource,
                gauge,
                name,
                GAUGE_STATUS[status],
                name,
            )

    def identify(self) -> str:
        """Firmware (PNR), gauge identification (TID) and pressure unit (UNI)."""
        firmware = self.ask("PNR").strip()
        gauges = self.ask("TID").strip()
        return f"Pfeiffer TPG 26x, firmware {firmware}, gauges {gauges}, unit {self.unit}"

    @property
    def unit(self) -> str:
        """The pressure unit the controller reports in ("mbar", "Torr" or "Pa"); asked once."""
        if self._unit is None:
            reply = self.ask("UNI").strip()
            if reply not in ("0", "1", "2"):
                raise self.parse_error(reply, "UNI", "expected 0, 1 or 2")
            self._unit = PRESSURE_UNITS[int(reply)]
        return self._unit

    def ask(self, mnemonic: str) -> str:
        """Send a mnemonic, expect ACK, send ENQ and return the data line (without CR LF)."""
        with self.lock:
            self.write(mnemonic)
            acknowledgement = self.read()
            if acknowledgement == NAK:
                code = self._error_code()
                rejected = CommandRejected(
                    f"the controller answered NAK ({_error_words(code)})",
                    driver=type(self).__name__,
                    resource=self.resource,
                    command=mnemonic,
                )
                rejected.error_code = code
                raise rejected
            if acknowledgement != ACK:
                raise self.parse_error(acknowledgement, mnemonic, "expected ACK or NAK")
            self.write_bytes(ENQ)
            return self.read()

    def on_connect(self) -> None:
        """Forget what was learnt from the previous connection (the unit may have changed)."""
        self._unit = None

    def _error_code(self) -> str | None:
        """The unit's error status after a NAK, e.g. "0100" (best effort: None, never raises)."""
        try:
            self.write("ERR")
            if self.read() != ACK:
                return None
            self.write_bytes(ENQ)
            return self.read().strip()
        except DriverError:
            return None


def _error_words(code: str | None) -> str:
    if code is None:
        return "error status unavailable"
    return f"error status {code}: {ERROR_STATUS.get(code, 'unknown')}"


def _parse_status(text: str) -> int | None:
    text = text.strip()
    if len(text) == 1 and text.isdigit() and int(text) in GAUGE_STATUS:
        return int(text)
    return None


def _check_names(names: object, checks: SettingChecks) -> dict[int, str]:
    """Map gauge number -> codename, rejecting bad configurations."""
    if not isinstance(names, (list, tuple)) or not 1 <= len(names) <= 2:
        raise checks.error(
            "names",
            "names must list one codename per gauge (1 or 2 entries, '' to leave a gauge out), "
            f"such as ['chamber', 'foreline'], got {names!r}",
        )
    chosen = {}
    for gauge, name in enumerate(names, start=1):
        if name is None or name == "":
            continue
        chosen[gauge] = checks.codename("names", name)
    if not chosen or len(set(chosen.values())) != len(chosen):
        raise checks.error(
            "names", f"names needs at least one codename and no duplicates, got {names!r}"
        )
    return chosen
