"""NodeApp's fault handling step by step: the reconnect threshold, the failure counters, the
backoff doubling and its cap, the per-codename timeout table, and a bounded stop.

Each reading is one call of the polling step (``_read_once``) on the test's thread, with a
scripted driver in place of an instrument, so every count is exact (docs/testing.md).
"""

from __future__ import annotations

import logging
import threading
import time

import pytest

from labnode.apps.node_app import (
    DEFAULT_DRIVER_TIMEOUT,
    FAILURES_BEFORE_RECONNECT,
    STOP_GRACE,
    NodeApp,
    NodeSettingError,
    default_timeout,
    driver_timeout,
)
from labnode.drivers import (
    ConnectionLost,
    DriverConfigError,
    InstrumentTimeout,
    ReplyParseError,
)

from .conftest import wait_for


class Transport:
    def __init__(self, timeout: float) -> None:
        self.timeout = timeout


class ScriptedDriver:
    """Answers get_values() from ``script`` (an exception instance is raised); counts calls."""

    codenames = ["a", "b"]
    resource = "scripted://1"

    def __init__(self, *script, timeout: float = 0.2) -> None:
        self.script = list(script)
        self.transport = Transport(timeout)
        self.calls: list[str] = []

    def connect(self) -> None:
        self.calls.append("connect")

    def reconnect(self) -> None:
        self.calls.append("reconnect")

    def close(self) -> None:
        self.calls.append("close")

    def identify(self) -> str:
        return "scripted gauge"

    def diagnostics(self) -> dict:
        return {"port": "fine"}

    def get_values(self):
        self.calls.append("get_values")
        step = self.script.pop(0) if self.script else {"a": 1.0, "b": 2.0}
        if isinstance(step, BaseException):
            raise step
        return step


def _app(driver, **settings) -> NodeApp:
    settings.setdefault("interval", 0.1)
    return NodeApp(driver, host="127.0.0.1", port=0, **settings)


def _timeout() -> InstrumentTimeout:
    return InstrumentTimeout("no reply", driver="ScriptedDriver", resource="scripted://1")


GOOD = {"a": 1.0, "b": 2.0}


def test_the_port_is_reopened_after_exactly_three_failures_in_a_row():
    assert FAILURES_BEFORE_RECONNECT == 3
    driver = ScriptedDriver(GOOD, _timeout(), _timeout(), _timeout(), GOOD)
    app = _app(driver)
    state = app.state
    assert app.instruments[0]._read_once(1.0) == GOOD  # noqa: SLF001 (first connect, then a reading)
    assert driver.calls == ["connect", "get_values"]
    assert (state.state, state.identity, state.readings) == ("connected", "scripted gauge", 1)

    assert app.instruments[0]._read_once(2.0) is None  # noqa: SLF001
    assert (state.state, state.consecutive_failures, state.failed_readings) == ("failing", 1, 1)
    assert app.instruments[0]._read_once(3.0) is None  # noqa: SLF001
    assert (state.state, state.consecutive_failures) == ("failing", 2)
    assert "close" not in driver.calls  # two timeouts: the port stays open
    assert app.instruments[0]._read_once(4.0) is None  # noqa: SLF001
    assert (state.state, state.consecutive_failures, state.failed_readings) == (
        "reconnecting",
        3,
        3,
    )
    assert driver.calls[-1] == "close"
    assert state.last_error.startswith("InstrumentTimeout: ") and state.last_error_time == 4.0

    assert app.instruments[0]._read_once(5.0) == GOOD  # noqa: SLF001 (reopened, then read)
    assert driver.calls[-2:] == ["reconnect", "get_values"]
    assert (state.state, state.consecutive_failures, state.reconnects) == ("connected", 0, 1)
    assert (state.failed_readings, state.readings, state.retry_delay) == (3, 2, None)


def test_a_failure_right_after_a_reconnect_without_a_good_reading_reconnects_again():
    driver = ScriptedDriver(GOOD, _timeout(), _timeout(), _timeout(), _timeout())
    app = _app(driver)
    for now in range(4):
        app.instruments[0]._read_once(float(now))  # noqa: SLF001
    assert app.state.state == "reconnecting" and driver.calls.count("close") == 1
    app.instruments[0]._read_once(4.0)  # noqa: SLF001 (reopened, and the 4th timeout in a row)
    assert app.state.consecutive_failures == 4
    assert app.state.state == "reconnecting" and driver.calls.count("close") == 2


def test_a_lost_connection_reconnects_at_once():
    driver = ScriptedDriver(GOOD, ConnectionLost("gone"), GOOD)
    app = _app(driver)
    app.instruments[0]._read_once(1.0)  # noqa: SLF001
    app.instruments[0]._read_once(2.0)  # noqa: SLF001
    assert app.state.state == "reconnecting" and app.state.consecutive_failures == 1
    assert driver.calls[-1] == "close"
    assert app.instruments[0]._read_once(3.0) == GOOD  # noqa: SLF001
    assert driver.calls[-2:] == ["reconnect", "get_values"]


def test_a_good_reading_resets_the_counter_so_failures_must_be_in_a_row():
    bad = ReplyParseError("garbage", reply=b"?")
    driver = ScriptedDriver(GOOD, bad, bad, GOOD, bad, bad, GOOD)
    app = _app(driver)
    for now in range(7):
        app.instruments[0]._read_once(float(now))  # noqa: SLF001
    assert "close" not in driver.calls and app.state.reconnects == 0
    assert app.state.failed_readings == 4 and app.state.consecutive_failures == 0


def test_backoff_doubles_up_to_its_cap_and_starts_again_after_a_good_reading():
    driver = ScriptedDriver()
    app = _app(driver, backoff_initial=0.5, backoff_max=5.0)
    delays = [app.instruments[0]._next_backoff() for _ in range(7)]  # noqa: SLF001
    assert delays == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0, 5.0]
    assert app.state.retry_delay == 5.0
    app.instruments[0]._read_once(1.0)  # noqa: SLF001
    assert app.instruments[0]._next_backoff() == 0.5  # noqa: SLF001


def test_a_failing_connect_backs_off_and_reports_the_delay_in_status():
    class NeverConnects(ScriptedDriver):
        def connect(self) -> None:
            raise ConnectionLost("no port")

        def reconnect(self) -> None:
            self.calls.append("reconnect")
            raise ConnectionLost("no port")

    driver = NeverConnects()
    app = _app(driver, backoff_initial=0.05, backoff_max=0.2)
    app.start()
    try:
        wait_for(lambda: app.state.retry_delay == 0.2, timeout=10)
        status = app._status()  # noqa: SLF001
        assert status["state"] == "reconnecting" and status["retry_delay"] == 0.2
        assert status["consecutive_failures"] >= 3
        assert driver.calls.count("reconnect") >= 2 and "get_values" not in driver.calls
    finally:
        app.stop()


def test_timeouts_per_codename_with_the_default_for_the_rest():
    app = _app(ScriptedDriver(), interval=2.0, timeout={"b": 0.5})
    assert default_timeout(2.0) == 10.0 and default_timeout(0.1) == 2.0
    assert app._timeouts_for(["a", "b", "c"]) == [10.0, 0.5, 10.0]  # noqa: SLF001
    app = _app(ScriptedDriver(), interval=2.0, timeout=3)
    assert app._timeouts_for(["a", "b"]) == [3.0, 3.0]  # noqa: SLF001
    assert _app(ScriptedDriver(), interval=1.0).timeout == 5.0


def test_a_timeout_for_an_unknown_codename_names_the_first_one():
    app = _app(ScriptedDriver(), timeout={"zz": 1.0, "nope": 1.0, "a": 2.0})
    with pytest.raises(NodeSettingError) as caught:
        app._timeouts_for(["a", "b"])  # noqa: SLF001
    assert caught.value.key == "timeout.nope"
    assert str(caught.value) == "unknown codename 'nope'; the node's codenames are a, b"


def test_the_socket_serves_each_codename_with_its_own_timeout():
    app = _app(ScriptedDriver(), interval=0.05, timeout={"a": 0.25})
    with app:
        table = app.socket.table
        assert table.timeouts == (0.25, 2.0)


def test_a_timeout_shorter_than_the_interval_is_warned_about(caplog):
    with caplog.at_level(logging.WARNING, logger="labnode.apps.node_app"):
        _app(ScriptedDriver(), interval=2.0, timeout={"a": 1.0, "b": 9.0})
    assert "timeout 1 s is shorter than interval 2 s" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="labnode.apps.node_app"):
        _app(ScriptedDriver(), interval=2.0, timeout=2.0)
        _app(ScriptedDriver(), interval=0, timeout=0.5)
    assert "shorter than interval" not in caplog.text


def test_the_driver_timeout_comes_from_its_transport():
    assert driver_timeout(ScriptedDriver(timeout=0.3)) == 0.3
    assert driver_timeout(ScriptedDriver(timeout=0)) == DEFAULT_DRIVER_TIMEOUT
    assert driver_timeout(ScriptedDriver(timeout=float("inf"))) == DEFAULT_DRIVER_TIMEOUT
    assert driver_timeout(ScriptedDriver(timeout=True)) == DEFAULT_DRIVER_TIMEOUT
    assert driver_timeout(object()) == DEFAULT_DRIVER_TIMEOUT
    app = _app(ScriptedDriver(timeout=0.3))
    assert app.stall_after == 2 * 0.3 + STOP_GRACE


@pytest.mark.parametrize("interval", [-1, 86400.5, float("nan"), "1", True])
def test_a_bad_interval_is_refused(interval):
    with pytest.raises(ValueError, match="give seconds from 0 to 86400"):
        _app(ScriptedDriver(), interval=interval)


def test_stop_joins_the_thread_closes_the_driver_and_says_stopped():
    driver = ScriptedDriver()
    app = _app(driver, interval=0.02)
    app.start()
    wait_for(lambda: app.state.readings >= 2)
    thread = app.instruments[0]._thread  # noqa: SLF001
    app.stop()
    assert not thread.is_alive()
    assert driver.calls[-1] == "close" and app.state.state == "stopped"
    assert app._status()["state"] == "stopped"  # noqa: SLF001
    readings = app.state.readings
    time.sleep(0.1)
    assert app.state.readings == readings  # no reading after the stop


def test_a_reading_that_never_returns_is_stalled_and_stop_is_bounded(caplog):
    release = threading.Event()

    class Hanging(ScriptedDriver):
        def get_values(self):
            self.calls.append("get_values")
            if len(self.calls) > 3:
                release.wait(30)
            return GOOD

    driver = Hanging(timeout=0.1)
    app = _app(driver, interval=0.02, stall_after=0.2)
    app.start()
    try:
        wait_for(lambda: app._status().get("state") == "stalled", timeout=10)  # noqa: SLF001
        status = app._status()  # noqa: SLF001
        assert status["busy"] == "get_values()" and status["stalled_for"] > 0.2
        app.instruments[0].log_stall()  # noqa: SLF001
        app.instruments[0].log_stall()  # noqa: SLF001 (once per stalled call)
        assert caplog.text.count("stalled; the node keeps answering") == 1
        started = time.monotonic()
        with caplog.at_level(logging.WARNING, logger="labnode.apps.node_app"):
            app.stop()
        took = time.monotonic() - started
        assert 0.1 + STOP_GRACE - 0.2 <= took < 0.1 + STOP_GRACE + 3
        assert "get_values() has not returned 2.1 s after the stop was asked" in caplog.text
        assert "close" not in driver.calls  # a hung reading holds the port: not closed
        assert app.state.state == "stopped"
    finally:
        release.set()


def test_a_status_while_stopping_says_stopping():
    app = _app(ScriptedDriver())
    app.request_stop()
    assert app._status()["state"] == "stopping"  # noqa: SLF001
    assert app._status()["diagnostics"] == {"port": "fine"}  # noqa: SLF001


def test_counters_start_at_zero():
    status = _app(ScriptedDriver()).state.as_dict(0.0)
    counters = ["consecutive_failures", "readings", "failed_readings", "bad_readings"]
    counters += ["bad_values", "empty_readings", "reconnects"]
    assert [status[c] for c in counters] == [0] * len(counters)
    assert status["seconds_since_good_reading"] is None and status["ignored_codenames"] == []


def test_a_failing_diagnostics_call_is_shown_not_raised():
    class BadDiagnostics(ScriptedDriver):
        def diagnostics(self) -> dict:
            raise RuntimeError("no port info")

    status = _app(BadDiagnostics())._status()  # noqa: SLF001
    assert status["diagnostics"] == {"error": "RuntimeError: no port info"}


def test_instrument_jobs_run_with_interval_zero():
    app = _app(ScriptedDriver(), interval=0)
    app.start()
    try:
        wait_for(lambda: app.state.readings > 0)
        assert app.call_on_instrument(lambda: 42, timeout=5) == 42
    finally:
        app.stop()


def test_extra_codenames_are_ignored_and_listed_once():
    driver = ScriptedDriver({"a": 1.0, "b": 2.0, "extra": 3.0}, {"a": 1.0, "extra": 4.0})
    app = _app(driver, interval=0.05)
    app.start()
    try:
        wait_for(lambda: app.state.readings >= 3)
        assert app.state.ignored_codenames == ["extra"]
        assert app.socket.table.get_point("a")[1] == 1.0
    finally:
        app.stop()


def test_a_change_from_reconnecting_to_failing_is_logged_even_for_the_same_error(caplog):
    class Flaky(ScriptedDriver):
        def connect(self) -> None:
            raise RuntimeError("adapter")

    driver = Flaky(RuntimeError("adapter"), RuntimeError("adapter"))
    app = _app(driver)
    with caplog.at_level(logging.WARNING, logger="labnode.apps.node_app"):
        app.instruments[0]._first_connect()  # noqa: SLF001
        assert app.state.state == "reconnecting"
        app.instruments[0]._read_once(2.0)  # noqa: SLF001 (reconnected, then the reading fails)
    assert app.state.state == "failing"
    assert "(reconnecting; the node is not serving yet)" in caplog.text
    assert "(failing; the node is not serving yet)" in caplog.text


def test_run_stops_on_a_config_error_before_binding_the_port():
    class WrongSetting(ScriptedDriver):
        def connect(self) -> None:
            time.sleep(0.2)  # run() must wait for it before binding
            raise DriverConfigError("baudrate must be a positive integer, got -5")

    app = _app(WrongSetting())
    with pytest.raises(DriverConfigError, match="baudrate"):
        app.run()
    assert app.socket is None and app.state.state == "stopped"


@pytest.mark.parametrize("name, expected", [("bench gauge", "bench gauge"), (None, None)])
def test_the_node_name_is_the_given_one_or_driver_on_resource(name, expected):
    with _app(ScriptedDriver(), name=name) as app:
        assert app.socket.name == (expected or "ScriptedDriver on scripted://1")


def test_status_gives_the_age_of_the_last_good_reading_in_milliseconds():
    app = _app(ScriptedDriver())
    app.state.last_good_reading = 100.0
    assert app.state.as_dict(101.23456)["seconds_since_good_reading"] == 1.235


def test_values_left_out_of_a_reading_are_counted_one_by_one():
    driver = ScriptedDriver({"a": 1.0, "b": float("nan")}, {"a": "high", "b": None})
    app = _app(driver)
    assert app.instruments[0]._read_once(1.0) == {"a": 1.0}  # noqa: SLF001
    assert app.state.bad_values == 1 and app.state.bad_readings == 0
    assert app.instruments[0]._read_once(2.0) == {}  # noqa: SLF001 (nothing good: a bad reading)
    assert app.state.bad_values == 1 and app.state.bad_readings == 1


def test_a_node_that_learns_its_codenames_keeps_reading_after_the_first():
    class Undeclared(ScriptedDriver):
        codenames = None

    app = _app(Undeclared(), interval=0.02)
    app.start()
    try:
        wait_for(lambda: app.state.readings >= 3)
        assert app.socket.table.codenames == ("a", "b")
    finally:
        app.stop()
