"""Drivers used by the CLI tests through `type = "tests.apps.sample_drivers:Class"`."""

from __future__ import annotations

import threading

from labnode.drivers import SerialDriver


class UndeclaredGauge(SerialDriver):
    """A minimal driver that does not declare its codenames."""

    def get_values(self) -> dict[str, float]:
        return {"pres": self.parse_float(self.query("PRES?"))}


class HangingGauge(SerialDriver):
    """Two good readings, then a get_values() that never returns (use resource "loop://")."""

    codenames = ["pres"]

    def __init__(self, resource: str, **settings) -> None:
        super().__init__(resource, **settings)
        self.calls = 0

    def identify(self) -> str:
        return "hanging gauge"

    def get_values(self) -> dict[str, float]:
        self.calls += 1
        if self.calls > 2:
            threading.Event().wait()  # never returns
        return {"pres": 1.0e-3}


class ExitingGauge(SerialDriver):
    """Two good readings, then get_values() raises SystemExit (or KeyboardInterrupt)."""

    codenames = ["pres"]

    def __init__(self, resource: str, *, raise_: str = "SystemExit", **settings) -> None:
        super().__init__(resource, **settings)
        self.error = {"SystemExit": SystemExit, "KeyboardInterrupt": KeyboardInterrupt}[raise_]
        self.calls = 0

    def identify(self) -> str:
        return "exiting gauge"

    def get_values(self) -> dict[str, float]:
        self.calls += 1
        if self.calls > 2:
            raise self.error(3)
        return {"pres": 1.0e-3}


class ScriptedGauge(SerialDriver):
    """Returns whatever the test put in ``reply`` (use resource "loop://")."""

    codenames = ["a", "b"]

    def __init__(self, resource: str, **settings) -> None:
        super().__init__(resource, **settings)
        self.reply: object = {"a": 1.0, "b": 2.0}

    def identify(self) -> str:
        return "scripted gauge"

    def get_values(self):
        return self.reply
