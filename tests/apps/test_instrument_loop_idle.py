"""InstrumentLoop between readings: jobs run at once during a long interval, a stop ends the wait
(no further attempt at the instrument), and the age of the last good reading in status."""

from __future__ import annotations

import threading
import time

import pytest

from labnode.apps.node_app import Instrument, NodeApp, NodeState
from labnode.apps.node_push import NodePush
from labnode.drivers import Channel, ConnectionLost
from labnode.sockets import DataPushClient, DateDataClient

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


def test_the_age_of_the_last_good_reading_is_rounded_to_the_millisecond():
    state = NodeState(driver="ScriptedDriver", resource="scripted://1")
    assert state.as_dict(5.0)["seconds_since_good_reading"] is None
    state.last_good_reading = 100.0
    assert state.as_dict(100.1234567)["seconds_since_good_reading"] == 0.123
    assert state.as_dict(100.0006)["seconds_since_good_reading"] == 0.001


class Writable(ScriptedDriver):
    codenames = ["volt"]
    channels = [Channel("volt", "V", writable=True, min=0, max=10)]

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.volt = 0.0
        self.threads: set[str] = set()

    def get_values(self):
        self.calls.append("get_values")
        return {"volt": self.volt}

    def set_value(self, name: str, value: float) -> None:
        self.threads.add(threading.current_thread().name)
        self.volt = value


def test_a_watched_socket_is_answered_at_once_during_a_long_interval_by_the_polling_thread():
    driver = Writable()
    app = NodeApp(driver, host="127.0.0.1", port=0, interval=5.0, timeout=30.0)
    with app:
        wait_for(lambda: app.state.readings == 1)  # the polling thread now waits 5 s
        push = NodePush(app, port=0, host="127.0.0.1")
        push.start()  # watch() during that wait: served from now, not after it
        with DataPushClient("127.0.0.1", push.port, timeout=1.0) as client:
            for value in (1.0, 2.0, 3.0):
                started = time.monotonic()
                assert client.write({"volt": value}) == f"ACK#{{'volt': {value}}}"
                assert time.monotonic() - started < 0.5
        # a job from another thread, too: it does not wait for the interval
        started = time.monotonic()
        assert app.call_on_instrument(lambda: driver.volt, 3) == 3.0
        assert time.monotonic() - started < 0.5
        push.stop()  # unwatch(): the wait goes on without the socket, no early reading
        time.sleep(0.3)
        assert app.state.readings == 1
        started = time.monotonic()
    assert time.monotonic() - started < 1.0  # and a stop ends it at once
    assert driver.threads == {"NodeApp"}


def test_one_watched_socket_at_a_time_and_unwatch_is_idempotent():
    driver = Writable()
    app = NodeApp(driver, host="127.0.0.1", port=0, interval=0.02, timeout=30.0)
    loop = app.instruments[0]
    with app, NodePush(app, port=0, host="127.0.0.1") as push:
        with pytest.raises(RuntimeError, match="Writable on scripted://1 already serves a socket"):
            loop.watch(push.socket)
        assert loop._watched is push.socket  # noqa: SLF001 (the first one is kept)
    loop.unwatch()  # NodePush.stop() did it already: nothing left to do
    assert loop._stand_in is None and loop._watched is None  # noqa: SLF001


def test_a_watched_loop_still_reads_at_its_interval():
    driver = Writable()
    app = NodeApp(driver, host="127.0.0.1", port=0, interval=0.05, timeout=30.0)
    with app, NodePush(app, port=0, host="127.0.0.1"):
        wait_for(lambda: app.state.readings >= 1)
        started, first = time.monotonic(), app.state.readings
        wait_for(lambda: app.state.readings >= first + 10, timeout=3.0)  # not one a second
        assert time.monotonic() - started < 1.5


def test_jobs_after_the_push_socket_stopped_never_fill_the_wake_up_pair():
    # each job wakes the polling thread; with no socket watched nothing reads those wake-ups
    driver = Writable()
    app = NodeApp(driver, host="127.0.0.1", port=0, interval=0.001, timeout=30.0)
    with app:
        with NodePush(app, port=0, host="127.0.0.1"):
            wait_for(lambda: app.state.readings >= 1)
        for n in range(400):  # a socket pair holds about 280 one-byte wake-ups
            assert app.call_on_instrument(lambda n=n: n, 3) == n


class NeverConnects(Writable):
    """Every connect and reconnect fails: the loop backs off."""

    def connect(self) -> None:
        self.calls.append("connect")
        raise ConnectionLost("no port")

    def reconnect(self) -> None:
        self.calls.append("reconnect")
        raise ConnectionLost("no port")


@pytest.mark.parametrize("watched", [False, True], ids=["plain", "watched"])
def test_a_stop_during_the_backoff_makes_no_further_attempt_at_the_instrument(watched):
    driver = NeverConnects()
    app = NodeApp(
        driver, host="127.0.0.1", port=0, interval=0.02, backoff_initial=2.0, backoff_max=2.0
    )
    push = NodePush(app, port=0, host="127.0.0.1")
    if watched:
        push.start()  # the polling thread serves it while it backs off
    try:
        app.start()
        wait_for(lambda: app.state.state == "reconnecting")  # the first connect failed
        started = time.monotonic()
        app.stop()
        assert time.monotonic() - started < 1.0  # the stop ended the 2 s wait
        assert driver.calls == ["connect", "close"]  # and no reconnect came after it
    finally:
        push.stop()


def test_codenames_learnt_from_a_first_reading_are_served_with_the_prefix():
    class Learning(ScriptedDriver):
        codenames = None

    app = NodeApp(
        Instrument(Learning(), "line1_"), host="127.0.0.1", port=0, interval=0.02, timeout=5.0
    )
    with app:
        wait_for(lambda: app.socket is not None)
        assert list(app.socket.codenames) == ["line1_a", "line1_b"]
        client = DateDataClient("127.0.0.1", app.socket.port, old_data="none")
        assert wait_for(lambda: client.get("line1_b"))[1] == 2.0
