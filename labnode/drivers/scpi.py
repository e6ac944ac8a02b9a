"""A generic SCPI driver configured by a {codename: query} mapping; no code per instrument."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from labnode.drivers.base import Driver
from labnode.drivers.errors import DriverConfigError


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
        if not isinstance(queries, Mapping) or not queries:
            raise DriverConfigError(
                "queries must be a non-empty mapping {codename: SCPI query}, "
                f"e.g. {{'voltage': 'MEAS:VOLT?'}}; got {queries!r}",
                driver=type(self).__name__,
                resource=str(resource),
            )
        if isinstance(setup, str):
            setup = [setup]
        super().__init__(resource, **settings)
        self.queries: dict[str, str] = {str(k): str(v) for k, v in queries.items()}
        self.setup: list[str] = list(setup)

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
