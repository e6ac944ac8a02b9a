"""NodeApp's own part (node_app.py): its settings and their documented defaults, several drivers
in one node (status, which loop serves a codename, whose error stopped it), channels_json, and
run()'s waits: for the first connect before binding, for a stop, and for a reading at the end.

Scripted drivers in the test's process, a real DateDataSocket on 127.0.0.1 and real threads.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time

import pytest

from labnode.apps.node_app import STOP_GRACE, Instrument, NodeApp, NodeSettingError
from labnode.drivers import Channel, DriverConfigError, ReplyParseError
from labnode.sockets import DateDataClient

from .conftest import wait_for
from .test_node_app_edges import GOOD, ScriptedDriver


def _app(driver, **settings) -> NodeApp:
    settings.setdefault("interval", 0.02)
    return NodeApp(driver, host="127.0.0.1", port=0, **settings)


class ChannelDriver(ScriptedDriver):
    """Declares channels (``codenames`` as given, None to learn them from a first reading) and
    reads 1.0 for each of them."""

    def __init__(self, codenames, channels, **kwargs) -> None:
        super().__init__(**kwargs)
        self.codenames = codenames
        self.channels = channels

    def get_values(self):
        self.calls.append("get_values")
        return dict.fromkeys(self.codenames or [c.name for c in self.channels], 1.0)


class Undeclared(ScriptedDriver):
    codenames = None


def _running(app: NodeApp, ready=None) -> tuple[threading.Thread, list[BaseException]]:
    """app.run() in a thread; the list gets what it raised."""
    raised: list[BaseException] = []

    def target() -> None:
        try:
            app.run(ready)
        except BaseException as error:  # noqa: BLE001 (the test looks at it)
            raised.append(error)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, raised


# -- settings ------------------------------------------------------------------------------------
def test_an_interval_from_zero_to_one_day_inclusive_is_taken():
    assert _app(ScriptedDriver(), interval=0).interval == 0.0
    assert _app(ScriptedDriver(), interval=86400).interval == 86400.0
    for bad in (-1e-9, 86400.001, float("inf")):
        with pytest.raises(ValueError, match="from 0 to 86400 \\(one day\\)"):
            _app(ScriptedDriver(), interval=bad)


def test_the_settings_are_keywords_only():
    # docs/CONTRACTS.md: NodeApp(driver, *, interval=1.0, ...)
    with pytest.raises(TypeError):
        NodeApp(ScriptedDriver(), 0.5)  # type: ignore[misc]
    assert NodeApp(driver=ScriptedDriver(), interval=0.5).interval == 0.5


def test_the_documented_defaults(caplog):
    # docs/CONTRACTS.md: backoff_initial=0.5, backoff_max=5.0, status_host_facts=True
    app = NodeApp(ScriptedDriver(), host="127.0.0.1", port=0, timeout=10.0)
    loop = app.instruments[0]
    assert (loop.backoff_initial, loop.backoff_max) == (0.5, 5.0)
    assert [loop._next_backoff() for _ in range(5)] == [0.5, 1.0, 2.0, 4.0, 5.0]  # noqa: SLF001
    assert app.status_host_facts is True and app.allow is None
    with app:
        client = DateDataClient("127.0.0.1", app.socket.port)
        assert "hostname" in client.status()["system_status"]


def test_a_node_needs_a_driver_and_codenames_are_for_one_driver_only():
    for empty in ([], ()):
        with pytest.raises(ValueError, match="at least one driver"):
            _app(empty)
    two = [Instrument(ScriptedDriver(), "x_"), Instrument(ScriptedDriver(), "y_")]
    with pytest.raises(ValueError, match="codenames= applies to a node with one driver only"):
        _app(two, codenames=["x_a"])
    assert _app(ScriptedDriver(), codenames=["a"]).codenames == ["a"]  # one driver: fine


def test_several_drivers_must_declare_codenames_and_the_first_that_does_not_is_named():
    entries = [
        Instrument(ScriptedDriver(), "x_", "driver[0]"),
        Instrument(Undeclared(), "y_", "driver[1]"),
        Instrument(Undeclared(), "z_", "driver[2]"),
    ]
    with pytest.raises(ValueError) as caught:
        _app(entries)
    assert str(caught.value).startswith("driver[1] does not declare its codenames; ")
    with pytest.raises(ValueError) as caught:
        _app([ScriptedDriver(), Undeclared()])
    assert str(caught.value).startswith("Undeclared does not declare its codenames; ")


def test_an_instrument_entry_is_frozen():
    entry = Instrument(ScriptedDriver(), "x_", "driver[0]")
    with pytest.raises(dataclasses.FrozenInstanceError):
        entry.prefix = "y_"  # type: ignore[misc]
    assert (entry.prefix, entry.label) == ("x_", "driver[0]")
    assert Instrument(entry.driver).prefix == "" and Instrument(entry.driver).label is None


def test_a_channel_table_for_codenames_not_served_names_the_first_in_order():
    app = _app(ScriptedDriver(), channels={"zz": {"unit": "V"}, "nope": {"unit": "A"}})
    with pytest.raises(NodeSettingError) as caught:
        app.start()
    app.stop()
    assert caught.value.key == "channels.nope"
    assert str(caught.value) == "unknown codename 'nope'; the node's codenames are a, b"
    assert app.socket is None


# -- channels ------------------------------------------------------------------------------------
def test_channels_json_has_min_and_max_only_when_set_and_a_unit_always():
    channels = [Channel("volt", "V", "output", writable=True, min=0.0, max=6.0), Channel("curr")]
    driver = ChannelDriver(["volt", "curr", "temp"], channels)
    with _app(driver) as app:
        client = DateDataClient("127.0.0.1", app.socket.port)
        assert json.loads(client.request("channels_json")) == {
            "volt": {"unit": "V", "description": "output", "writable": True, "min": 0, "max": 6},
            "curr": {"unit": None, "description": "", "writable": False},
            "temp": {"unit": None, "description": "", "writable": False},
        }
        assert [c.name for c in app.channels()] == ["volt", "curr", "temp"]
        assert app.channels()[0] is channels[0]  # no overrides: the driver's own Channel


def test_codenames_given_for_one_driver_are_what_it_serves():
    driver = ChannelDriver(["a", "b"], [Channel("a", "V"), Channel("b", "A")])
    with _app(driver, codenames=["b"]) as app:
        client = DateDataClient("127.0.0.1", app.socket.port)
        assert json.loads(client.request("channels_json")) == {
            "b": {"unit": "A", "description": "", "writable": False}
        }
        assert list(app.socket.codenames) == ["b"] and [c.name for c in app.channels()] == ["b"]


# -- several drivers -----------------------------------------------------------------------------
def test_several_drivers_status_shows_the_worst_state_and_each_entry():
    class Failing(ScriptedDriver):
        def get_values(self):
            raise ReplyParseError("garbage", reply=b"?")

    first, second = ScriptedDriver(), Failing()
    app = _app([Instrument(first, "x_", "driver[0]"), Instrument(second, "y_", "driver[1]")])
    status = app._status()  # noqa: SLF001 (before the start: both "starting")
    assert status["state"] == "starting"
    assert [(d["entry"], d["prefix"], d["state"]) for d in status["drivers"]] == [
        ("driver[0]", "x_", "starting"),
        ("driver[1]", "y_", "starting"),
    ]
    with app:
        client = DateDataClient("127.0.0.1", app.socket.port, old_data="none")
        wait_for(lambda: client.get("x_a") and app.instruments[1].state.failed_readings)
        shown = client.status()["driver"]
        first_state, second_state = (d["state"] for d in shown["drivers"])
        assert first_state == "connected" and second_state in ("failing", "reconnecting")
        assert shown["state"] == second_state  # the worst of the two
        assert shown["drivers"][1]["driver"] == "Failing"


def test_the_first_driver_is_the_nodes_driver_state_and_job_thread():
    first, second = ScriptedDriver(), ScriptedDriver()
    app = _app([Instrument(first, "x_", "driver[0]"), Instrument(second, "y_", "driver[1]")])
    assert app.driver is first and app.state is app.instruments[0].state
    with app:
        name = app.call_on_instrument(lambda: threading.current_thread().name, 2.0)
    assert name == "NodeApp driver[0]"


def test_instrument_for_finds_the_loop_by_codename_or_by_channel():
    first = ScriptedDriver()
    second = ChannelDriver(["volt"], [Channel("volt", "V", writable=True)])
    app = _app([Instrument(first, "x_"), Instrument(second, "y_")])
    assert [c.name for c in app.channels()] == ["x_a", "x_b", "y_volt"]  # before the start too
    assert app.instrument_for("x_b") is app.instruments[0]
    assert app.instrument_for("y_volt") is app.instruments[1]
    assert app.instrument_for("volt") is None and app.instrument_for("x_volt") is None
    # a driver that learns its codenames from a first reading but declares its channels
    learning = ChannelDriver(None, [Channel("volt", "V", writable=True)])
    app = _app(Instrument(learning, "p_"))
    assert app.instruments[0].codenames is None
    assert app.instrument_for("p_volt") is app.instruments[0]
    assert app.instrument_for("p_curr") is None and app.instrument_for("volt") is None


def test_run_raises_the_error_of_the_driver_that_stopped_the_node_before_binding():
    class Misconfigured(ScriptedDriver):
        def connect(self) -> None:
            time.sleep(0.3)  # the mistake shows only after a while, within the first connect
            raise DriverConfigError("no such unit", setting="unit_id")

    bad = Misconfigured()
    app = _app([Instrument(ScriptedDriver(), "x_"), Instrument(bad, "y_", "driver[1]")])
    ready: list[NodeApp] = []
    with pytest.raises(DriverConfigError) as caught:
        app.run(ready.append)
    assert app.fatal_error is caught.value
    assert app.instrument_of(caught.value) is app.instruments[1]
    assert app.instrument_of(RuntimeError()) is None
    assert app.socket is None and not ready  # the port was never bound


# -- run(): its waits ----------------------------------------------------------------------------
def test_run_without_ready_serves_until_stopped_and_returns_quietly():
    app = _app(ScriptedDriver())
    thread, raised = _running(app)
    wait_for(lambda: app.socket is not None and app.state.readings >= 2)
    time.sleep(0.3)  # run() keeps serving: nothing stops it but a stop
    assert thread.is_alive() and app.socket.is_serving
    app.request_stop()
    thread.join(5)
    assert not thread.is_alive() and raised == []
    assert app.fatal_error is None and not app.socket.is_serving


def test_a_stop_during_a_hanging_first_connect_ends_run_at_once_without_binding():
    release = threading.Event()

    class SlowConnect(ScriptedDriver):
        def connect(self) -> None:
            release.wait(10)

    app = _app(SlowConnect(timeout=0.5))
    ready: list[NodeApp] = []
    thread, raised = _running(app, ready.append)
    time.sleep(0.3)
    app.request_stop()
    release.set()  # the connect returns: the thread ends, nothing is hung
    started = time.monotonic()
    thread.join(5)
    assert time.monotonic() - started < 0.6
    assert raised == [] and not ready and app.socket is None


def test_a_stop_while_learning_codenames_ends_run_at_once():
    class NeverReads(Undeclared):
        def get_values(self):
            raise ReplyParseError("garbage", reply=b"?")

    app = _app(NeverReads(), backoff_initial=0.02, backoff_max=0.05)
    thread, raised = _running(app)
    wait_for(lambda: app.state.failed_readings >= 2)
    started = time.monotonic()
    app.request_stop()
    thread.join(5)
    assert time.monotonic() - started < 0.5
    assert raised == [] and app.socket is None and app.state.state == "stopped"


def test_run_binds_after_the_first_connect_within_its_timeout_plus_the_grace():
    release = threading.Event()

    class HangingConnect(ScriptedDriver):
        def connect(self) -> None:
            release.wait(10)

    # two drivers: the second's wait is what is left of the one deadline (none), not its own
    app = _app([Instrument(HangingConnect(timeout=0.5), p) for p in ("x_", "y_")])
    opened = threading.Event()
    started, cpu = time.monotonic(), time.process_time()
    thread, raised = _running(app, lambda _: opened.set())
    try:
        assert opened.wait(8)
        took = time.monotonic() - started
        assert time.process_time() - cpu < 0.05 * took  # waiting, not spinning (~0.2 %)
        assert 0.5 + STOP_GRACE - 0.05 <= took < 0.5 + STOP_GRACE + 1.5, took
        assert app.socket.is_serving
    finally:
        release.set()
        app.request_stop()
        thread.join(5)
    assert raised == []


def test_stop_waits_for_a_reading_that_ends_within_the_bound_and_then_closes_the_driver():
    reading = threading.Event()

    class SlowReading(ScriptedDriver):
        def get_values(self):
            self.calls.append("get_values")
            if self.calls.count("get_values") == 3:
                reading.set()
                time.sleep(2.0)  # longer than the timeout, shorter than timeout + STOP_GRACE
            return GOOD

    driver = SlowReading(timeout=0.5)
    app = _app(driver)
    app.start()
    assert reading.wait(5)
    started = time.monotonic()
    app.stop()
    took = time.monotonic() - started
    assert 1.8 <= took < 0.5 + STOP_GRACE + 1.0, took
    assert driver.calls[-1] == "close" and app.state.state == "stopped"
