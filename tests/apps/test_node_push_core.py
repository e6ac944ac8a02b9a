"""NodePush with scripted writable drivers in the test's process: writes split over several
drivers, what a partly applied write says, the counts and the log of each outcome, its defaults.

Real NodeApp threads, a real push socket and pull socket on 127.0.0.1.
"""

from __future__ import annotations

import logging
import socket

import pytest

from labnode.apps.config import parse_config
from labnode.apps.node_app import Instrument, NodeApp
from labnode.apps.node_push import (
    DEFAULT_ALLOW,
    DEFAULT_WRITE_TIMEOUT,
    NodePush,
    build_node_push,
)
from labnode.drivers import Channel, InstrumentTimeout, WriteRefused
from labnode.sockets import DataPushClient, DateDataClient, WriteRefusedError
from labnode.values import DEFAULT_PUSH_PORT

from .conftest import wait_for
from .test_node_app_edges import ScriptedDriver

LOOPBACK = "127.0.0.1"


class Supply(ScriptedDriver):
    """Two writable channels; ``set_value`` records each write, or raises ``fail[name]``."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.codenames = ["volt", "curr"]
        self.channels = [
            Channel("volt", "V", writable=True, min=0.0, max=10.0),
            Channel("curr", "A", writable=True, min=0.0, max=2.0),
        ]
        self.values = {"volt": 1.0, "curr": 0.5}
        self.fail: dict[str, BaseException] = {}
        self.written: list[tuple[str, float]] = []

    def get_values(self):
        return dict(self.values)

    def set_value(self, name: str, value: float) -> None:
        if name in self.fail:
            raise self.fail[name]
        self.written.append((name, value))
        self.values[name] = value


def _counts(push: NodePush, expected: dict[str, int]) -> None:
    """Wait for the write counts (the ACK goes out before the write is audited and counted)."""
    wait_for(lambda: push.counts == expected)


def _logged(caplog, count: int = 1) -> list[logging.LogRecord]:
    return wait_for(
        lambda: (
            len(r := [x for x in caplog.records if x.name == "labnode.apps.node_push"]) == count
            and r
        )
    )


def _write(push: NodePush, values: dict) -> str:
    with DataPushClient(LOOPBACK, push.port) as client:
        return client.write(values)


@pytest.fixture
def two_supplies():
    first, second = Supply(), Supply()
    app = NodeApp(
        [Instrument(first, "a_", "driver[0]"), Instrument(second, "b_", "driver[1]")],
        host=LOOPBACK,
        port=0,
        interval=0.02,
        timeout=0.5,
        name="bench",
    )
    with app, NodePush(app, port=0, host=LOOPBACK) as push:
        yield app, push, first, second


def test_a_write_over_two_drivers_goes_to_each_by_its_prefix(two_supplies, caplog):
    app, push, first, second = two_supplies
    caplog.set_level(logging.INFO, logger="labnode.apps.node_push")
    assert _write(push, {"a_volt": 2.0, "b_curr": 1.5, "a_curr": 0.25}) == (
        "ACK#{'a_volt': 2.0, 'b_curr': 1.5, 'a_curr': 0.25}"
    )
    assert first.written == [("volt", 2.0), ("curr", 0.25)]
    assert second.written == [("curr", 1.5)]
    # several instruments: the push socket has a thread of its own, no polling thread serves it
    assert push.socket._thread is not None  # noqa: SLF001
    assert all(loop._watched is None for loop in app.instruments)  # noqa: SLF001
    _counts(push, {"applied": 1, "refused": 0, "failed": 0, "dropped": 0})
    (record,) = _logged(caplog)
    assert record.levelno == logging.INFO
    pull = DateDataClient(LOOPBACK, app.socket.port, old_data="none")
    wait_for(lambda: pull.value("b_curr") == 1.5 and pull.value("a_volt") == 2.0)


def test_an_instrument_refusal_after_a_value_was_written_says_what_was_written(
    two_supplies, caplog
):
    app, push, first, second = two_supplies
    caplog.set_level(logging.INFO, logger="labnode.apps.node_push")
    second.fail["volt"] = WriteRefused("the unit kept 1 V", channel="volt")  # its own name
    with pytest.raises(WriteRefusedError) as refused:
        _write(push, {"a_volt": 3.0, "a_curr": 0.5, "b_volt": 4.0})
    assert refused.value.reason == (
        "a_volt, a_curr written, then b_volt: the instrument refused: the unit kept 1 V"
    )
    _counts(push, {"applied": 0, "refused": 0, "failed": 1, "dropped": 0})
    (record,) = _logged(caplog)
    assert record.levelno == logging.WARNING and "-> ERROR#a_volt, a_curr written" in (
        record.getMessage()
    )
    second.fail["volt"] = WriteRefused("not now")  # no channel named: "write"
    with pytest.raises(WriteRefusedError) as refused:
        _write(push, {"b_volt": 4.0})
    assert refused.value.reason == "write: the instrument refused: not now"


def test_an_instrument_fault_names_the_first_value_not_written(two_supplies):
    app, push, first, second = two_supplies
    first.fail["curr"] = InstrumentTimeout("no reply")
    with pytest.raises(WriteRefusedError) as refused:
        _write(push, {"a_volt": 3.0, "a_curr": 0.5})
    assert refused.value.reason == (
        "a_volt written, then a_curr: instrument fault: InstrumentTimeout: no reply"
    )
    first.fail["volt"] = InstrumentTimeout("no reply")
    with pytest.raises(WriteRefusedError) as refused:
        _write(push, {"a_volt": 3.0})
    assert refused.value.reason == "a_volt: instrument fault: InstrumentTimeout: no reply"
    _counts(push, {"applied": 0, "refused": 0, "failed": 2, "dropped": 0})


def test_a_refusal_by_the_checks_counts_as_refused_and_a_later_ack_as_applied(two_supplies):
    app, push, first, second = two_supplies
    with pytest.raises(WriteRefusedError) as refused:
        _write(push, {"a_volt": 11.0})
    assert refused.value.reason == "a_volt: 11.0 is above max 10"
    assert push.problem({}) == "no values given; write NAME=VALUE for a writable channel"
    assert _write(push, {"b_volt": 0.0}).startswith("ACK#")
    _counts(push, {"applied": 1, "refused": 1, "failed": 0, "dropped": 0})
    assert first.written == [] and second.written == [("volt", 0.0)]


def test_a_refusal_right_after_a_failed_write_is_refused_not_failed(two_supplies):
    app, push, first, second = two_supplies
    first.fail["volt"] = WriteRefused("no")
    with pytest.raises(WriteRefusedError):
        _write(push, {"a_volt": 1.0})
    with pytest.raises(WriteRefusedError):
        _write(push, {"a_volt": -1.0})
    _counts(push, {"applied": 0, "refused": 1, "failed": 1, "dropped": 0})


def test_writes_from_a_client_over_its_error_budget_are_dropped_and_counted_unlogged(
    two_supplies, caplog
):
    app, push, first, second = two_supplies
    caplog.set_level(logging.INFO, logger="labnode.apps.node_push")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
        client.bind((LOOPBACK, 0))
        for _ in range(200):
            client.sendto(b'json_wn#{"a_volt": 99}', (LOOPBACK, push.port))
        wait_for(lambda: sum(push.counts.values()) == 200)
    assert push.counts["dropped"] > 0 and push.counts["applied"] == 0
    assert push.counts["refused"] == 200 - push.counts["dropped"]
    _logged(caplog, push.counts["refused"])  # the dropped ones are not logged


def test_the_status_tells_port_allow_list_and_counts(two_supplies):
    app, push, first, second = two_supplies
    push.report_in_node_status()
    _write(push, {"a_volt": 2.0})
    _counts(push, {"applied": 1, "refused": 0, "failed": 0, "dropped": 0})
    pull = DateDataClient(LOOPBACK, app.socket.port)
    shown = pull.status()["driver"]
    assert shown["push"] == {
        "port": push.port,
        "allow": ["127.0.0.1/32"],
        "writes": {"applied": 1, "refused": 0, "failed": 0, "dropped": 0},
    }
    assert [d["entry"] for d in shown["drivers"]] == ["driver[0]", "driver[1]"]
    assert push.socket.name == "bench setpoints"


def test_the_defaults():
    assert DEFAULT_ALLOW == ("127.0.0.1",) and DEFAULT_WRITE_TIMEOUT == 1.5
    app = NodeApp(Supply(), host=LOOPBACK, port=0)
    push = NodePush(app)
    assert push.socket.requested_port == DEFAULT_PUSH_PORT and push.socket.host == ""
    assert push.write_timeout == 1.5
    assert [str(n) for n in push.socket.allow.networks] == ["127.0.0.1/32"]
    assert push.socket.name == "Supply setpoints"
    assert NodePush(app, name="mine").socket.name == "mine"
    with pytest.raises(TypeError):
        NodePush(app, 8500)  # type: ignore[misc] (the settings are keywords only)


def test_build_node_push_takes_the_nodes_host_unless_push_names_one():
    base = '[driver]\ntype = "scpi"\nresource = "GPIB::9::INSTR"\nvisa_library = "@sim"\n'
    base += '[driver.queries]\nvolt = ":VOLT:IMM:AMPL?"\n[node]\nhost = "127.0.0.1"\n'
    app = NodeApp(Supply(), host=LOOPBACK, port=0)
    assert build_node_push(app, parse_config(base)) is None
    push = build_node_push(app, parse_config(base + "[push]\nport = 9100\n"))
    assert (push.socket.host, push.socket.requested_port) == ("127.0.0.1", 9100)
    push = build_node_push(app, parse_config(base + '[push]\nhost = "127.0.0.2"\n'))
    assert push.socket.host == "127.0.0.2"


def test_the_log_line_shows_at_most_300_characters_of_request_and_reply(two_supplies, caplog):
    app, push, first, second = two_supplies
    caplog.set_level(logging.INFO, logger="labnode.apps.node_push")
    name = "n" * 400
    with pytest.raises(WriteRefusedError) as refused:
        _write(push, {name: 1.0})
    request = f'json_wn#{{"{name}": 1.0}}'
    (record,) = _logged(caplog)
    assert record.getMessage() == (
        f"write from 127.0.0.1: {request[:300]} -> {refused.value.reply[:300]}"
    )
    assert len(refused.value.reply) > 300


def test_one_driver_served_from_its_polling_thread_says_the_same(caplog):
    supply = Supply()
    app = NodeApp(Instrument(supply, "a_"), host=LOOPBACK, port=0, interval=0.02, timeout=0.5)
    with app, NodePush(app, port=0, host=LOOPBACK) as push:
        assert _write(push, {"a_volt": 2.0}) == "ACK#{'a_volt': 2.0}"
        supply.fail["curr"] = WriteRefused("the unit kept 0.5 A", channel="curr")
        with pytest.raises(WriteRefusedError) as refused:
            _write(push, {"a_volt": 3.0, "a_curr": 1.0})
        assert refused.value.reason == (
            "a_volt written, then a_curr: the instrument refused: the unit kept 0.5 A"
        )
        supply.fail["volt"] = InstrumentTimeout("no reply")
        with pytest.raises(WriteRefusedError) as refused:
            _write(push, {"a_volt": 3.0})
        assert refused.value.reason == "a_volt: instrument fault: InstrumentTimeout: no reply"
        _counts(push, {"applied": 1, "refused": 0, "failed": 2, "dropped": 0})
    assert supply.written == [("volt", 2.0), ("volt", 3.0)]
