"""NodeApp.call_on_instrument: jobs run on the polling thread, between readings, bounded."""

from __future__ import annotations

import threading

import pytest

from labnode.apps.node_app import JOB_QUEUE_SIZE, InstrumentCallError, NodeApp
from labnode.drivers import InstrumentTimeout, SerialDriver
from labnode.sockets import DateDataClient

from .conftest import wait_for
from .sample_drivers import RecordingGauge

FAST = {"interval": 0.001, "timeout": 0.5, "backoff_initial": 0.02, "backoff_max": 0.1}


@pytest.fixture
def node():
    driver = RecordingGauge("loop://")
    app = NodeApp(driver, host="127.0.0.1", port=0, **FAST)
    app.start()
    wait_for(lambda: driver.readings > 0)
    yield driver, app
    driver.hold.set()
    app.stop()


def test_writes_run_on_the_polling_thread_and_never_interleave_with_readings(node):
    driver, app = node
    results: list[float] = []
    errors: list[BaseException] = []

    def writer(base: int) -> None:
        try:
            for i in range(25):
                value = base + i
                results.append(
                    app.call_on_instrument(lambda v=value: driver.set_value("volt", v), 5)
                )
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(100 * n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors and len(results) == 100
    assert driver.overlaps == 0
    assert driver.threads == {
        app.instruments[0]._thread.ident
    }  # one thread talks to the instrument
    assert driver.readings > 1
    client = DateDataClient("127.0.0.1", app.socket.port, old_data="none")
    last = driver.volt
    wait_for(lambda: (p := client.get("volt")) and p[1] == last)  # the readback is served


def test_errors_of_the_job_reach_the_caller(node):
    driver, app = node

    def refuse():
        raise ValueError("over the limit")

    with pytest.raises(ValueError, match="over the limit"):
        app.call_on_instrument(refuse, 5)
    assert app.call_on_instrument(lambda: 42, 5) == 42  # the node goes on


def test_a_timeout_the_job_raises_reaches_the_caller_as_itself(node):
    driver, app = node

    def no_reply():  # e.g. set_value whose instrument did not answer
        raise InstrumentTimeout("no reply to VOLT 2", driver="RecordingGauge")

    with pytest.raises(InstrumentTimeout, match="no reply to VOLT 2"):
        app.call_on_instrument(no_reply, 5)  # not "no result within 5 s": it had one
    with pytest.raises(TimeoutError, match="mine"):
        app.call_on_instrument(lambda: (_ for _ in ()).throw(TimeoutError("mine")), 5)


def test_a_job_still_running_at_the_timeout_is_said_so_and_its_result_comes_later(node):
    driver, app = node
    release, finished = threading.Event(), threading.Event()

    def slow() -> int:
        release.wait(5)
        finished.set()
        return 7

    with pytest.raises(
        InstrumentCallError, match="no result within 0.2 s; the job is still running"
    ) as info:
        app.call_on_instrument(slow, 0.2)
    assert info.value.reason == "timeout"
    release.set()
    assert finished.wait(5)
    assert app.call_on_instrument(lambda: 8, 5) == 8


def test_a_full_queue_is_refused_at_once(node):
    assert JOB_QUEUE_SIZE == 16  # docs: at most 16 jobs wait
    driver, app = node
    driver.hold.clear()  # the polling thread is stuck in a reading
    assert driver.blocked.wait(5)
    waiting = [
        threading.Thread(target=lambda: _ignore(app.call_on_instrument, lambda: 1, 10))
        for _ in range(JOB_QUEUE_SIZE)
    ]
    for thread in waiting:
        thread.start()
    wait_for(lambda: len(app.instruments[0]._jobs) == JOB_QUEUE_SIZE)
    with pytest.raises(InstrumentCallError, match="already waiting") as info:
        app.call_on_instrument(lambda: 1, 10)
    assert info.value.reason == "busy"
    with pytest.raises(InstrumentCallError) as info:
        app.call_on_instrument(lambda: 1, 0.05)
    assert info.value.reason == "busy"
    driver.hold.set()
    for thread in waiting:
        thread.join(10)
    assert app.call_on_instrument(lambda: 2, 5) == 2


def test_a_job_that_times_out_waiting_is_never_run(node):
    driver, app = node
    driver.hold.clear()
    assert driver.blocked.wait(5)
    ran = []
    with pytest.raises(InstrumentCallError, match="nothing was done") as info:
        app.call_on_instrument(lambda: ran.append(1), 0.1)
    assert info.value.reason == "timeout"
    driver.hold.set()
    app.call_on_instrument(lambda: None, 5)
    assert ran == []


def test_stopping_fails_waiting_jobs_and_refuses_new_ones(node):
    driver, app = node
    driver.hold.clear()
    assert driver.blocked.wait(5)
    outcome: list[BaseException] = []
    waiter = threading.Thread(
        target=lambda: _record(outcome, app.call_on_instrument, lambda: 1, 30)
    )
    waiter.start()
    wait_for(lambda: len(app.instruments[0]._jobs) == 1)
    stopper = threading.Thread(target=app.stop)
    stopper.start()
    wait_for(lambda: app._stop.is_set())
    driver.hold.set()
    stopper.join(10)
    waiter.join(10)
    assert isinstance(outcome[0], InstrumentCallError) and outcome[0].reason == "stopping"
    with pytest.raises(InstrumentCallError) as info:
        app.call_on_instrument(lambda: 1, 1)
    assert info.value.reason == "stopping"


class AbsentGauge(SerialDriver):
    codenames = ["volt"]

    def get_values(self):
        return {"volt": 1.0}


def test_a_job_while_reconnecting_is_refused(tmp_path):
    driver = AbsentGauge(str(tmp_path / "ttyUSB9"))  # no such device: connecting fails
    with NodeApp(driver, host="127.0.0.1", port=0, **FAST) as app:
        wait_for(lambda: app.state.state == "reconnecting")
        with pytest.raises(InstrumentCallError, match="not connected") as info:
            app.call_on_instrument(lambda: 1, 1)
        assert info.value.reason == "reconnecting"


def _ignore(fn, *args):
    try:
        fn(*args)
    except InstrumentCallError:
        pass


def _record(outcome, fn, *args):
    try:
        outcome.append(fn(*args))
    except BaseException as error:
        outcome.append(error)


def test_a_job_raising_systemexit_stops_the_node_but_not_the_caller(node):
    from labnode.apps.node_app import DriverExit

    driver, app = node

    def bail():
        raise SystemExit(3)

    with pytest.raises(DriverExit, match="SystemExit"):
        app.call_on_instrument(bail, 5)
    wait_for(lambda: app._stop.is_set())
    assert isinstance(app.fatal_error, DriverExit)
