"""Drivers used by the CLI tests through `type = "tests.apps.sample_drivers:Class"`."""

from __future__ import annotations

from labnode.drivers import SerialDriver


class UndeclaredGauge(SerialDriver):
    """A minimal driver that does not declare its codenames."""

    def get_values(self) -> dict[str, float]:
        return {"pres": self.parse_float(self.query("PRES?"))}
