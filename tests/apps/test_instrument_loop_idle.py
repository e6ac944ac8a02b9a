"""InstrumentLoop between readings: jobs run at once during a long interval, a stop ends the wait
(no further attempt at the instrument), and the age of the last good reading in status."""

from __future__ import annotations

import threading
import time

from labnode.apps.node_app import NodeApp, NodeState
from labnode.drivers import ConnectionLost

from .conftest import wait_for
from .test_node_app_edges import ScriptedDriver


def test_a_job_runs_at_once_while_the_loop_waits_a_long_interval():
    driver = ScriptedDriver()
    with NodeApp(driver, host="127.0.0.1", port=0, interval=5.0, timeout=30.0) as app:
        wait_for(lambda: app.state.readings == 1)
        for _ in range(3):
            started = time.monotonic()
            assert app.call_on_instrument(lambda: threading.current_thread().name, 3) == "NodeApp"
            assert time.monotonic() - started < 1.0  # not after the 5 s interval
        assert app.state.readings == 1  # a job does not cost a reading


def test_a_stop_during_the_backoff_makes_no_further_attempt_at_the_instrument():
    class NeverConnects(ScriptedDriver):
        def connect(self) -> None:
            self.calls.append("connect")
            raise ConnectionLost("no port")

        def reconnect(self) -> None:
            self.calls.append("reconnect")
            raise ConnectionLost("no port")

    driver = NeverConnects()
    app = NodeApp(
        driver, host="127.0.0.1", port=0, interval=0.02, backoff_initial=2.0, backoff_max=2.0
    )
    app.start()
    wait_for(lambda: app.state.state == "reconnecting")  # the first connect failed: backing off
    started = time.monotonic()
    app.stop()
    assert time.monotonic() - started < 1.0  # the stop ended the 2 s wait
    assert driver.calls == ["connect", "close"]  # and no reconnect came after it


def test_the_age_of_the_last_good_reading_is_rounded_to_the_millisecond():
    state = NodeState(driver="ScriptedDriver", resource="scripted://1")
    assert state.as_dict(5.0)["seconds_since_good_reading"] is None
    state.last_good_reading = 100.0
    assert state.as_dict(100.1234567)["seconds_since_good_reading"] == 0.123
    assert state.as_dict(100.0006)["seconds_since_good_reading"] == 0.001
