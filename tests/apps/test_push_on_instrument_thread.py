"""A one-instrument node serves its push port from the instrument's own polling thread.

Writes then run with no hand-off between threads, never inside a reading; while a reading hangs,
a stand-in thread answers, so a client always hears the outcome.
"""

from __future__ import annotations

import socket
import threading
import time

import pytest

from labnode.apps.node_app import NodeApp
from labnode.apps.node_push import NodePush
from labnode.drivers import Channel
from labnode.sockets import DataPushClient, DateDataClient, WriteRefusedError

from .conftest import wait_for
from .sample_drivers import RecordingGauge

LOOPBACK = "127.0.0.1"
FAST = {"interval": 0.001, "timeout": 0.5, "backoff_initial": 0.05, "backoff_max": 0.1}


class WritableGauge(RecordingGauge):
    """RecordingGauge with ``volt`` writable; ``broken`` makes readings and reconnects fail."""

    channels = [Channel("volt", "V", "output", writable=True, min=0, max=1000)]

    def __init__(self, resource: str, **settings) -> None:
        super().__init__(resource, **settings)
        self.broken = False
        self.write_hold = threading.Event()  # clear: set_value() waits until it is set
        self.write_hold.set()
        self.write_waiting = threading.Event()  # set while set_value() waits for write_hold

    def set_value(self, name: str, value: float) -> float:
        if not self.write_hold.is_set():
            self.write_waiting.set()
            self.write_hold.wait(10)
        return super().set_value(name, value)

    def get_values(self) -> dict[str, float]:
        if self.broken:
            raise ConnectionError("the gauge is unplugged")
        return super().get_values()

    def reconnect(self) -> None:
        if self.broken:
            raise ConnectionError("the gauge is unplugged")
        super().reconnect()


@pytest.fixture
def node():
    driver = WritableGauge("loop://")
    app = NodeApp(driver, host=LOOPBACK, port=0, **FAST)
    app.start()
    push = NodePush(app, port=0, host=LOOPBACK, allow=[LOOPBACK], write_timeout=0.5)
    push.start()
    wait_for(lambda: driver.readings > 0)
    yield driver, app, push
    driver.hold.set()
    push.stop()
    app.stop()


def polling_thread(app: NodeApp) -> int:
    return app.instruments[0]._thread.ident


def test_writes_from_several_clients_run_on_the_polling_thread_between_readings(node):
    driver, app, push = node
    replies: list[str] = []
    errors: list[BaseException] = []

    def client(base: int) -> None:
        try:
            with DataPushClient(LOOPBACK, push.port) as writer:
                for i in range(20):
                    replies.append(writer.write({"volt": base + i}))
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=client, args=(100 * n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors and len(replies) == 80
    assert all(reply.startswith("ACK#{'volt': ") for reply in replies)
    assert driver.overlaps == 0  # no write ever landed inside a reading
    assert driver.threads == {polling_thread(app)}  # one thread talks to the instrument
    assert push.socket._thread is None  # no thread of the push socket's own
    wait_for(lambda: push.counts["applied"] == 80)
    pull = DateDataClient(LOOPBACK, app.socket.port, old_data="none")
    last = driver.volt
    wait_for(lambda: pull.value("volt") == last)  # the readback is served


def test_a_reading_that_hangs_gets_writes_an_answer_and_nothing_is_written(node):
    driver, app, push = node
    before = driver.volt
    driver.hold.clear()
    wait_for(lambda: driver.blocked.is_set())
    started = time.monotonic()
    with DataPushClient(LOOPBACK, push.port) as client, pytest.raises(WriteRefusedError) as error:
        client.write({"volt": 7.0})
    # the stand-in answered: within its look-in delay plus the write timeout, not silence
    assert time.monotonic() - started < 1.5
    assert error.value.reason.startswith("not written: the instrument was busy for 0.5 s")
    assert driver.volt == before
    wait_for(lambda: push.counts["failed"] == 1)

    driver.hold.set()  # the reading returns: the polling thread serves the port again
    with DataPushClient(LOOPBACK, push.port) as client:
        assert client.write({"volt": 8.0}) == "ACK#{'volt': 8.0}"
    assert driver.volt == 8.0
    assert driver.threads == {polling_thread(app)}


def test_a_write_that_hangs_on_the_polling_thread_does_not_leave_others_unanswered(node):
    driver, app, push = node
    driver.write_hold.clear()
    first: list[str] = []
    slow = threading.Thread(
        target=lambda: first.append(
            DataPushClient(LOOPBACK, push.port, timeout=10).write({"volt": 1.0})
        )
    )
    slow.start()  # its set_value() now hangs on the polling thread
    wait_for(driver.write_waiting.is_set)
    started = time.monotonic()
    with DataPushClient(LOOPBACK, push.port) as client, pytest.raises(WriteRefusedError) as error:
        client.write({"volt": 2.0})
    assert time.monotonic() - started < 1.5  # the stand-in answered
    assert error.value.reason.startswith("not written: the instrument was busy for 0.5 s")
    driver.write_hold.set()
    slow.join(10)
    assert first == ["ACK#{'volt': 1.0}"] and driver.volt == 1.0
    with DataPushClient(LOOPBACK, push.port) as client:  # the polling thread serves again
        assert client.write({"volt": 3.0}) == "ACK#{'volt': 3.0}"
    assert driver.threads == {polling_thread(app)}


def test_a_write_while_the_instrument_is_unplugged_is_refused_naming_it(node):
    driver, app, push = node
    driver.broken = True
    wait_for(lambda: app.instruments[0].state.state == "reconnecting")
    with DataPushClient(LOOPBACK, push.port) as client, pytest.raises(WriteRefusedError) as error:
        client.write({"volt": 5.0})
    assert error.value.reason.startswith("not written: WritableGauge on loop:// is not connected")
    assert driver.volt != 5.0
    driver.broken = False  # plugged back in: it reconnects by itself and takes writes again
    wait_for(lambda: app.instruments[0].state.state == "connected")
    with DataPushClient(LOOPBACK, push.port) as client:
        assert client.write({"volt": 5.0}) == "ACK#{'volt': 5.0}"


def test_a_node_that_is_not_polling_yet_refuses_writes():
    driver = WritableGauge("loop://")
    app = NodeApp(driver, host=LOOPBACK, port=0, **FAST)  # never started
    with (
        NodePush(app, port=0, host=LOOPBACK) as push,
        DataPushClient(LOOPBACK, push.port) as client,
        pytest.raises(WriteRefusedError) as e,
    ):
        client.write({"volt": 5.0})
    assert e.value.reason == "not written: the node is not running or is stopping"
    assert driver.volt == 0.0


def test_stop_frees_the_push_port_at_once_and_ends_the_stand_in(node):
    driver, app, push = node
    port = push.port
    loop = app.instruments[0]
    push.stop()
    assert loop._stand_in is None and loop._watched is None
    assert not any(t.name.endswith("stand-in") and t.is_alive() for t in threading.enumerate())
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as again:
        again.bind((LOOPBACK, port))  # free at once
    wait_for(lambda: driver.readings > 5)  # the node goes on reading without it
    push.start()  # and takes writes again
    with DataPushClient(LOOPBACK, push.port) as client:
        assert client.write({"volt": 3.0}) == "ACK#{'volt': 3.0}"
