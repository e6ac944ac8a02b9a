"""InstrumentLoop's bounds on what a driver can make it keep: error texts (500 characters),
ignored codenames (100), the identity (200 characters)."""

from __future__ import annotations

import logging
import threading
import time

from labnode.apps.node_app import MAX_ERROR_TEXT, MAX_IGNORED_CODENAMES, NodeApp, driver_timeout
from labnode.drivers import DriverConfigError, InstrumentTimeout, ReplyParseError

from .conftest import wait_for
from .test_node_app_edges import GOOD, ScriptedDriver

LONG = "x" * 2000


def _loop(driver):
    return NodeApp(driver, host="127.0.0.1", port=0, interval=0.02).instruments[0]


def test_the_documented_bounds():
    assert (MAX_ERROR_TEXT, MAX_IGNORED_CODENAMES) == (500, 100)
    assert driver_timeout(object()) == 1.0  # a driver without a transport timeout: 1 s


def test_a_long_fault_is_kept_as_its_first_500_characters():
    error = ReplyParseError(LONG)
    loop = _loop(ScriptedDriver(GOOD, error))
    loop._read_once(1.0)  # noqa: SLF001
    loop._read_once(2.0)  # noqa: SLF001
    assert loop.state.last_error == f"ReplyParseError: {error}"[:500]
    assert len(str(error)) > 500


def test_a_long_config_error_and_a_long_exit_are_kept_as_500_characters():
    error = DriverConfigError(LONG, setting="unit_id")

    class Misconfigured(ScriptedDriver):
        def connect(self) -> None:
            raise error

    app = NodeApp(Misconfigured(), host="127.0.0.1", port=0, interval=0.02)
    app.start()
    wait_for(lambda: app.fatal_error is not None)
    app.stop()
    assert app.state.last_error == f"DriverConfigError: {error}"[:500]

    app = NodeApp(ScriptedDriver(GOOD, SystemExit(LONG)), host="127.0.0.1", port=0, interval=0.02)
    app.start()
    wait_for(lambda: app.fatal_error is not None)
    app.stop()
    assert app.state.last_error == f"SystemExit: {LONG}"[:500]


def test_at_most_100_ignored_codenames_are_kept_in_order():
    extra = {f"x{n:03d}": 1.0 for n in range(150)}
    driver = ScriptedDriver({**GOOD, **dict(list(extra.items())[:60])}, {**GOOD, **extra})
    with NodeApp(driver, host="127.0.0.1", port=0, interval=0.02) as app:
        wait_for(lambda: app.state.readings >= 3)
        assert app.state.ignored_codenames == sorted(extra)[:100]


def test_the_identity_is_kept_as_its_first_200_characters():
    class Chatty(ScriptedDriver):
        def identify(self) -> str:
            return LONG

    loop = _loop(Chatty())
    loop._read_once(1.0)  # noqa: SLF001
    assert loop.state.identity == LONG[:200]


def _warnings(caplog) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "labnode.apps.node_app" and r.levelno == logging.WARNING
    ]


def test_each_change_of_state_is_logged_also_for_the_same_error(caplog):
    caplog.set_level(logging.WARNING, logger="labnode.apps.node_app")
    timeout = InstrumentTimeout("no reply")
    driver = ScriptedDriver(GOOD, timeout, timeout, timeout, GOOD, timeout)
    loop = _loop(driver)
    for now in range(6):
        loop._read_once(float(now))  # noqa: SLF001
    assert [m.split("(")[-1] for m in _warnings(caplog)] == [
        "failing; the node is not serving yet)",  # the first timeout
        "reconnecting; the node is not serving yet)",  # the third: failing -> reconnecting
        "failing; the node is not serving yet)",  # connected -> failing, the same error again
    ]


def test_a_stall_is_logged_once_and_only_after_stall_after(caplog):
    caplog.set_level(logging.WARNING, logger="labnode.apps.node_app")
    release = threading.Event()

    class Slow(ScriptedDriver):
        def get_values(self):
            self.calls.append("get_values")
            if self.calls.count("get_values") == 2:
                release.wait(10)
            return GOOD

    app = NodeApp(Slow(), host="127.0.0.1", port=0, interval=0.02, stall_after=0.4)
    loop = app.instruments[0]
    try:
        app.start()
        wait_for(lambda: loop._busy is not None and loop.state.readings == 1)  # noqa: SLF001
        loop.log_stall()  # a reading that just began is not stalled
        assert not [m for m in _warnings(caplog) if "stalled" in m]
        wait_for(lambda: time.monotonic() - loop._busy[1] > 0.45)  # noqa: SLF001
        loop.log_stall()
        loop.log_stall()  # once per stalled call
        stalls = [m for m in _warnings(caplog) if "stalled" in m]
        assert len(stalls) == 1 and "get_values() has been running for 0 s" in stalls[0]
    finally:
        release.set()
        app.stop()
