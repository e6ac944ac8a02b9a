"""Drivers used by the CLI tests through `type = "tests.apps.sample_drivers:Class"`."""

from __future__ import annotations

import threading
import time

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


class RecordingGauge(SerialDriver):
    """Records which thread reads and writes, and whether a write ever met a reading."""

    codenames = ["volt"]

    def __init__(self, resource: str, **settings) -> None:
        super().__init__(resource, **settings)
        self.reading = False
        self.overlaps = 0
        self.threads: set[int] = set()
        self.volt = 0.0
        self.hold = threading.Event()
        self.hold.set()
        self.blocked = threading.Event()  # set while get_values() waits for hold
        self.readings = 0

    def identify(self) -> str:
        return "recording gauge"

    def get_values(self) -> dict[str, float]:
        self.threads.add(threading.get_ident())
        if not self.hold.is_set():
            self.blocked.set()
            self.hold.wait()
            self.blocked.clear()
        self.reading = True
        time.sleep(0.002)  # a reading takes a while: a write from another thread would land in it
        self.reading = False
        self.readings += 1
        return {"volt": self.volt}

    def set_value(self, name: str, value: float) -> float:
        self.threads.add(threading.get_ident())
        if self.reading:
            self.overlaps += 1
        self.volt = value
        return value


class BadNamesGauge(SerialDriver):
    """Does not declare its codenames; its readings have a codename the protocol forbids."""

    def identify(self) -> str:
        return "bad names"

    def get_values(self) -> dict[str, float]:
        return {"pres#1": 1.0}
