"""A generic SCPI driver configured by a {codename: query} mapping; no code per instrument."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from labnode.drivers.base import Driver


class ScpiDriver(Driver):
    """Generic SCPI instrument: each codename is read with its own query and parsed as a float.

    `ScpiDriver("GPIB::9::INSTR", queries={"voltage": ":VOLT:IMM:AMPL?"}, setup=["*CLS"])`.
    The transport follows the resource: VISA names go through pyvisa, anything else through
    pyserial (SCPI over RS-232). `setup` commands are written on every (re)connect.
    """

    def __init__(
        self,
        resource: str,
        *,
        queries: Mapping[str, str],
        setup: Sequence[str] = (),
        **settings: Any,
    ) -> None:
        super().__init__(resource, **settings)
        self.queries: dict[str, str] = self._checked_queries(queries)
        if isinstance(setup, str):  # one command
            setup = [setup]
        self.setup: list[str] = self.checks.text_list("setup", setup, "['*CLS', 'CONF:VOLT:DC']")

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

    @property
    def codenames(self) -> list[str]:
        """The keys of `queries`."""
        return list(self.queries)

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
