"""A generic SCPI driver configured by a {codename: query} mapping; no code per instrument."""

from __future__ import annotations

import re
import string
from collections.abc import Mapping, Sequence
from typing import Any

from labnode.drivers.base import Driver
from labnode.drivers.channel import Channel

#: A SCPI error queue entry (`SYST:ERR?`): `+0,"No error"`, `-222,"Data out of range"`.
_ERROR_ENTRY = re.compile(r"\s*([+-]?\d+)\s*(,.*)?", re.S)
#: Bits of the standard event status register (`*ESR?`) that report an error: query (4),
#: device-dependent (8), execution (16) and command (32) errors.
_ESR_ERROR_BITS = 0b0011_1100


class ScpiDriver(Driver):
    """Generic SCPI instrument: each codename is read with its own query and parsed as a float.

    `ScpiDriver("GPIB::9::INSTR", queries={"voltage": ":VOLT:IMM:AMPL?"}, setup=["*CLS"])`.
    The transport follows the resource: VISA names go through pyvisa, anything else through
    pyserial (SCPI over RS-232). `setup` commands are written on every (re)connect.

    `writes` makes codenames writable: codename -> command template, such as
    `{"voltage": ":VOLT:IMM:AMPL {value:.3f}"}`; each written codename must also be in `queries`
    (its readback). `error_query` (`"SYST:ERR?"` or `"*ESR?"`) is asked after each write, and a
    reported error refuses the write; without it a write the instrument ignores goes unnoticed.
    """

    def __init__(
        self,
        resource: str,
        *,
        queries: Mapping[str, str],
        setup: Sequence[str] = (),
        writes: Mapping[str, str] | None = None,
        error_query: str | None = None,
        **settings: Any,
    ) -> None:
        super().__init__(resource, **settings)
        self.queries: dict[str, str] = self._checked_queries(queries)
        if isinstance(setup, str):  # one command
            setup = [setup]
        self.setup: list[str] = self.checks.text_list("setup", setup, "['*CLS', 'CONF:VOLT:DC']")
        self.writes: dict[str, str] = self._checked_writes(writes or {})
        if error_query is not None:
            self.checks.text("error_query", error_query, "'SYST:ERR?' or '*ESR?'", empty=False)
        self.error_query = error_query

    def _checked_queries(self, queries: object) -> dict[str, str]:
        example = "{voltage = 'MEAS:VOLT?'} (a [driver.queries] table)"
        if not isinstance(queries, Mapping) or not queries:
            raise self.checks.error(
                "queries",
                f"queries must be a non-empty mapping of codename -> SCPI query such as "
                f"{example}, got {queries!r}",
            )
        for codename, query in queries.items():
            self.checks.codename("queries", codename)
            if not isinstance(query, str) or not query.strip():
                raise self.checks.error(
                    "queries",
                    f"the query of {codename!r} must be a non-empty string such as 'MEAS:VOLT?', "
                    f"got {query!r}",
                )
        return dict(queries)

    def _checked_writes(self, writes: object) -> dict[str, str]:
        example = "{voltage = ':VOLT:IMM:AMPL {value:.3f}'} (a [driver.writes] table)"
        if not isinstance(writes, Mapping):
            raise self.checks.error(
                "writes",
                f"writes must be a mapping of codename -> SCPI command template such as "
                f"{example}, got {writes!r}",
            )
        for codename, template in writes.items():
            if codename not in self.queries:
                raise self.checks.error(
                    "writes",
                    f"{codename!r} in writes has no query: a written codename needs a "
                    f"[driver.queries] entry too, which reads it back (queries: "
                    f"{', '.join(self.queries)})",
                )
            if not _is_value_template(template):
                raise self.checks.error(
                    "writes",
                    f"the write template of {codename!r} must be a string with one {{value}} "
                    f"field such as ':VOLT:IMM:AMPL {{value:.3f}}', got {template!r}",
                )
        return dict(writes)

    @property
    def channels(self) -> list[Channel]:
        """One channel per query, writable when it has a write template."""
        return [Channel(name, writable=name in self.writes) for name in self.queries]

    def on_connect(self) -> None:
        """Write the setup commands."""
        for command in self.setup:
            self.write(command)

    def get_values(self) -> dict[str, float]:
        """Send every query and parse each reply as a float."""
        return {
            codename: self.parse_float(self.query(query), query)
            for codename, query in self.queries.items()
        }

    def write_channel(self, channel: Channel, value: float) -> None:
        """Write the codename's template with `value`; ask `error_query` if set."""
        command = self.writes[channel.name].format(value=value)
        self.write(command)
        if self.error_query is None:
            return
        reply = self.query(self.error_query)
        reported = _reports_error(reply)
        if reported is None:
            raise self.parse_error(reply, self.error_query, "an error code such as '+0,...'")
        if reported:
            raise self.write_refused(
                channel.name,
                f"the instrument reported {reply!r} to {self.error_query} after {command!r}",
                command,
            )


def _is_value_template(template: object) -> bool:
    """Whether `template` formats with `value=` alone and uses it."""
    if not isinstance(template, str) or not template.strip():
        return False
    try:
        fields = {
            field for _, field, _, _ in string.Formatter().parse(template) if field is not None
        }
        template.format(value=1.0)
    except (ValueError, KeyError, IndexError, AttributeError):
        return False
    return fields == {"value"}


def _reports_error(reply: str) -> bool | None:
    """Whether a `SYST:ERR?` entry (code != 0) or an `*ESR?` value (error bits) reports an error.

    None when the reply is neither.
    """
    match = _ERROR_ENTRY.fullmatch(reply)
    if match is None:
        return None
    code = int(match[1])
    if match[2] is not None:  # `code,"text"`: an error queue entry
        return code != 0
    return bool(code & _ESR_ERROR_BITS)
