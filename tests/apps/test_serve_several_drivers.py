"""Several instruments in one node: `[[driver]]` entries served from one socket, each polled alone.

End to end through `labnode serve`: two Alicat units (A and B) share one pty (an RS-485 line
simulated by MultiDropModel), a SCPI supply (pyvisa-sim) and a serial gauge share one node.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from labnode.apps.config import ConfigError, parse_config
from labnode.apps.node_app import STOP_GRACE, Instrument, NodeApp
from labnode.apps.node_from_config import build_node_app
from labnode.drivers.alicat.mass_flow_sim import AlicatMassFlowModel
from labnode.drivers.simulation import PtyDeviceServer, create_model
from labnode.drivers.simulation.multidrop import MultiDropModel
from labnode.sockets import DataPushClient, DateDataClient

from .conftest import wait_for
from .node_configs import PSU_DRIVER
from .node_process import SERVING, NodeProcess, run_labnode
from .sample_drivers import HangingGauge, RecordingGauge

FIELDS = '["pressure", "temperature", "volumetric_flow", "mass_flow", "setpoint"]'

TWO_UNITS = f"""\
[node]
name = "two mass flow controllers on one line"
host = "127.0.0.1"
port = 0
interval = 0.05
timeout = 2.0
reconnect_max = 0.2

[push]
host = "127.0.0.1"
port = 0

[[driver]]
type = "alicat"
resource = "{{port}}"
unit_id = "A"
prefix = "mfc1_"
fields = {FIELDS}
timeout = 0.6

[[driver]]
type = "alicat"
resource = "{{port}}"
unit_id = "B"
prefix = "mfc2_"
fields = {FIELDS}
timeout = 0.6
"""

CODENAMES = [
    f"{prefix}{name}"
    for prefix in ("mfc1_", "mfc2_")
    for name in ("pressure", "temperature", "volumetric_flow", "mass_flow", "setpoint")
]


def fresh(point: tuple[float, float] | None, since: float) -> bool:
    return point is not None and point[0] > since


def push_port(node: NodeProcess) -> int:
    """The push port, from the line `labnode serve` prints after the pull port's."""
    assert node.process.stdout is not None
    line = node.process.stdout.readline()
    assert "setpoints" in line, line
    match = SERVING.search(line)
    assert match, line
    return int(match.group(1))


def drivers_status(client: DateDataClient) -> list[dict]:
    return client.status()["driver"]["drivers"]


def test_two_alicat_units_on_one_pty_serve_write_and_fail_alone(tmp_path):
    line = MultiDropModel(
        [
            AlicatMassFlowModel(unit_id="A", setpoint=20.0, seed=1),
            AlicatMassFlowModel(unit_id="B", setpoint=60.0, seed=2),
        ]
    )
    unit_a, unit_b = line.devices
    with PtyDeviceServer(line) as device:
        config = tmp_path / "mfcs.toml"
        config.write_text(TWO_UNITS.format(port=device.port))
        with NodeProcess("serve", str(config)) as node:
            pushed = push_port(node)
            client = DateDataClient("127.0.0.1", node.port, old_data="none")
            table = wait_for(lambda: (t := client.get_all()) and all(t.values()) and t)
            assert sorted(table) == sorted(CODENAMES)
            assert table["mfc1_setpoint"][1] == pytest.approx(20.0)  # each unit's own values
            assert table["mfc2_setpoint"][1] == pytest.approx(60.0)
            expected = [("driver[0]", "mfc1_", "connected"), ("driver[1]", "mfc2_", "connected")]

            def states() -> list | None:
                status = drivers_status(client)
                shown = [(d["entry"], d["prefix"], d["state"]) for d in status]
                return status if shown == expected else None

            status = wait_for(states)  # status is cached for up to 0.5 s
            assert "MC-100SCCM-D" in status[1]["identity"]
            # one exchange at a time on the line: no reply ever reached the other unit's driver
            wait_for(lambda: min(d["readings"] for d in drivers_status(client)) > 10)
            status = drivers_status(client)
            assert [d["failed_readings"] + d["bad_readings"] for d in status] == [0, 0]

            # a write to the second driver reaches unit B, and only unit B
            with DataPushClient("127.0.0.1", pushed) as writer:
                assert writer.write({"mfc2_setpoint": 35.0}).startswith("ACK")
            assert unit_b.setpoint == pytest.approx(35.0)
            assert unit_a.setpoint == pytest.approx(20.0)
            wait_for(lambda: client.get("mfc2_setpoint")[1] == pytest.approx(35.0))
            with DataPushClient("127.0.0.1", pushed) as writer:  # one write, two instruments
                assert writer.write({"mfc1_setpoint": 25.0, "mfc2_setpoint": 40.0}).startswith(
                    "ACK"
                )
            assert (unit_a.setpoint, unit_b.setpoint) == pytest.approx((25.0, 40.0))

            # unit B goes silent: only its codenames go OLD_DATA, unit A's stay fresh
            unit_b.silent = True
            wait_for(lambda: client.get("mfc2_mass_flow") is None, timeout=10)
            wait_for(
                lambda: drivers_status(client)[1]["state"] in ("failing", "reconnecting"),
                timeout=10,
            )
            since = time.time()
            mfc1 = [c for c in CODENAMES if c.startswith("mfc1_")]
            wait_for(lambda: all(fresh(client.get(c), since) for c in mfc1), timeout=10)
            assert not any(client.get(c) for c in CODENAMES if c.startswith("mfc2_"))
            assert drivers_status(client)[0]["state"] == "connected"
            assert client.status()["driver"]["state"] in ("failing", "reconnecting")

            # and comes back by itself
            unit_b.silent = False
            since = time.time()
            wait_for(lambda: all(fresh(client.get(c), since) for c in CODENAMES), timeout=10)
            wait_for(lambda: drivers_status(client)[1]["state"] == "connected")
            assert drivers_status(client)[1]["reconnects"] >= 1
            status, err = node.stop()
        assert status == 0, err
        assert "Traceback" not in err


SCPI_AND_SERIAL = f"""\
[node]
host = "127.0.0.1"
port = 0
interval = 0.05
timeout = 0.6
reconnect_max = 0.2

[[driver]]
{PSU_DRIVER}
[[driver]]
type = "tpg26x"
resource = "{{port}}"
timeout = 0.2
"""


def test_a_scpi_supply_and_a_serial_gauge_in_one_node(tmp_path):
    with PtyDeviceServer(create_model("tpg26x", seed=2)) as gauge:
        config = tmp_path / "bench.toml"
        config.write_text(SCPI_AND_SERIAL.format(port=gauge.port))
        with NodeProcess("serve", str(config)) as node:
            client = DateDataClient("127.0.0.1", node.port, old_data="none")
            table = wait_for(lambda: (t := client.get_all()) and all(t.values()) and t)
            assert set(table) == {"volt", "curr", "pressure_1", "pressure_2"}
            assert (table["volt"][1], table["curr"][1]) == (1.0, 1.0)
            assert client.name() == "ScpiDriver on GPIB::9::INSTR, TPG26x on " + gauge.port
            gauge.model.silent = True  # the gauge fails; the supply keeps being read
            wait_for(lambda: client.get("pressure_1") is None, timeout=10)
            since = time.time()
            wait_for(lambda: fresh(client.get("volt"), since), timeout=10)
            gauge.model.silent = False
            wait_for(lambda: client.get("pressure_1"), timeout=10)
            status, err = node.stop()
        assert status == 0, err
        assert "Traceback" not in err


ALICAT_ENTRY = """
[[driver]]
type = "alicat"
resource = "/dev/null"
unit_id = "{unit}"
fields = ["pressure", "mass_flow"]
{extra}
"""


@pytest.mark.parametrize(
    ("extra_a", "unit_b", "extra_b", "key", "words"),
    [
        ("", "B", "", "driver[1].prefix", "codename 'pressure' is served by driver[0] too"),
        ('prefix = "a_"', "B", 'prefix = "a_"', "driver[1].prefix", "'a_pressure' is served"),
        ("", "B", 'prefix = "b 1"', "driver[1].prefix", "contains whitespace"),
        ("", "B", "prefix = 5", "driver[1].prefix", "got 5"),
        ("", "B", 'prefix = "b_"\nbaud = 9600', "driver[1].baud", "unknown keyword 'baud'"),
        ("", "b", 'prefix = "b_"', "driver[1].unit_id", "one capital letter"),
        ("", "B", 'prefix = "b_"\ntype = "nope"', None, None),
    ],
)
def test_config_mistakes_in_driver_entries_name_the_entry_key(
    tmp_path, extra_a, unit_b, extra_b, key, words
):
    text = ALICAT_ENTRY.format(unit="A", extra=extra_a)
    text += ALICAT_ENTRY.format(unit=unit_b, extra=extra_b)
    path = tmp_path / "mfcs.toml"
    with pytest.raises(ConfigError) as caught:
        build_node_app(parse_config(text, path))
    if key is None:  # a key given twice in one entry: TOML itself refuses it
        assert "not valid TOML" in str(caught.value)
        return
    assert caught.value.key == key, str(caught.value)
    assert words in caught.value.problem
    assert str(caught.value).startswith(f"{path}: {key}: ")


def test_a_constructor_keyword_missing_from_an_entry_is_named_before_constructing(tmp_path):
    text = ALICAT_ENTRY.format(unit="A", extra='prefix = "a_"')
    text += '\n[[driver]]\ntype = "scpi"\nresource = "GPIB::9::INSTR"\nvisa_library = "@sim"\n'
    with pytest.raises(ConfigError) as caught:
        build_node_app(parse_config(text, tmp_path / "n.toml"))
    assert caught.value.key == "driver[1].queries", str(caught.value)
    assert caught.value.problem.startswith("missing; ScpiDriver needs queries")


def test_several_drivers_need_their_codenames_up_front(tmp_path):
    text = ALICAT_ENTRY.format(unit="A", extra='prefix = "a_"') + (
        '\n[[driver]]\ntype = "alicat"\nresource = "/dev/null"\nunit_id = "B"\nprefix = "b_"\n'
    )
    with pytest.raises(ConfigError) as caught:
        build_node_app(parse_config(text, tmp_path / "n.toml"))
    assert caught.value.key == "driver[1]"
    assert "fields = [...]" in caught.value.problem
    text = '[node]\ncodenames = ["x"]\n' + ALICAT_ENTRY.format(unit="A", extra="")
    text += ALICAT_ENTRY.format(unit="B", extra='prefix = "b_"')
    with pytest.raises(ConfigError) as caught:
        build_node_app(parse_config(text, tmp_path / "n.toml"))
    assert caught.value.key == "node.codenames"
    with pytest.raises(ConfigError) as caught:
        parse_config('[[driver]]\ntype = "alicat"\n', tmp_path / "n.toml")
    assert str(caught.value).endswith(
        'driver[0].resource: missing; each [[driver]] needs resource = "..."'
    )


def test_labnode_serve_says_which_entry_is_wrong_in_one_line(tmp_path):
    config = tmp_path / "mfcs.toml"
    config.write_text(
        ALICAT_ENTRY.format(unit="A", extra="") + ALICAT_ENTRY.format(unit="B", extra="")
    )
    result = run_labnode("serve", str(config))
    assert result.returncode == 2, result.stderr
    message = result.stderr.strip()
    assert "\n" not in message and "Traceback" not in message
    assert re.search(rf"{re.escape(str(config))}: driver\[1\]\.prefix: .*prefix = ", message)


def test_a_single_driver_table_may_take_a_prefix_too(tmp_path):
    text = '[driver]\ntype = "scpi"\nresource = "GPIB::9::INSTR"\nvisa_library = "@sim"\n'
    text += 'prefix = "psu_"\n[driver.queries]\nvolt = ":VOLT:IMM:AMPL?"\n'
    app = build_node_app(parse_config(text, tmp_path / "n.toml"))
    assert app.instruments[0].codenames == ["psu_volt"]
    app.port, app.host = 0, "127.0.0.1"
    with app:
        client = DateDataClient("127.0.0.1", app.socket.port, old_data="none")
        assert wait_for(lambda: client.get("psu_volt"))[1] == 1.0
        assert "driver" in client.status() and "drivers" not in client.status()["driver"]


def test_a_hung_instrument_never_stops_the_others_readings_or_writes():
    hung = HangingGauge("loop://", timeout=0.2)
    recording = RecordingGauge("loop://", timeout=0.2)
    app = NodeApp(
        [Instrument(hung, "h_", "driver[0]"), Instrument(recording, "r_", "driver[1]")],
        interval=0.02,
        timeout=0.5,
        host="127.0.0.1",
        port=0,
        stall_after=0.5,
    )
    with app:
        client = DateDataClient("127.0.0.1", app.socket.port, old_data="none")
        wait_for(lambda: client.get("h_pres") and client.get("r_volt"))
        status = wait_for(lambda: (s := client.status()["driver"])["state"] == "stalled" and s)
        assert [d["state"] for d in status["drivers"]] == ["stalled", "connected"]
        wait_for(lambda: client.get("h_pres") is None, timeout=5)  # only the hung one is old
        since = time.time()
        wait_for(lambda: fresh(client.get("r_volt"), since))
        loop = app.instrument_for("r_volt")
        assert loop is app.instruments[1] and app.instrument_for("volt") is None
        loop.call_on_instrument(lambda: recording.set_value("volt", 4.5), 2.0)
        wait_for(lambda: client.get("r_volt")[1] == 4.5)
        assert recording.threads == {loop._thread.ident}  # its own thread, not the hung one's
        started = time.monotonic()
    took = time.monotonic() - started
    assert took < 0.2 + STOP_GRACE + 1.0, took  # bounded although one driver never returns
    assert app.instruments[1].state.state == "stopped"


def test_the_example_in_docs_config_builds(tmp_path):
    docs = (Path(__file__).parents[2] / "docs" / "config.md").read_text()
    section = docs.split("## Several instruments in one node", 1)[1]
    example = section.split("```toml\n", 1)[1].split("```", 1)[0]
    app = build_node_app(parse_config(example, tmp_path / "gas.toml"))
    assert [(i.label, i.prefix, i.driver.unit_id) for i in app.instruments] == [
        ("driver[0]", "mfc1_", "A"),
        ("driver[1]", "mfc2_", "B"),
    ]
    assert app.instruments[1].codenames[-1] == "mfc2_setpoint"


def test_a_prefix_also_names_codenames_learnt_from_a_first_reading(tmp_path):
    with PtyDeviceServer(create_model("alicat", seed=1)) as device:
        text = f'[driver]\ntype = "alicat"\nresource = "{device.port}"\nprefix = "line1_"\n'
        text += '[node]\nhost = "127.0.0.1"\nport = 0\ninterval = 0.05\n'
        app = build_node_app(parse_config(text, tmp_path / "n.toml"))
        assert app.instruments[0].codenames is None  # no fields: learnt from a first reading
        with app:
            wait_for(lambda: app.socket is not None)
            client = DateDataClient("127.0.0.1", app.socket.port, old_data="none")
            table = wait_for(lambda: (t := client.get_all()) and all(t.values()) and t)
            names = [c.replace("mfc1_", "line1_") for c in CODENAMES if c.startswith("mfc1_")]
            assert sorted(table) == sorted(names)
            assert table["line1_setpoint"][1] == 20.0


def test_a_driver_mistake_found_at_connect_names_its_entry(tmp_path):
    config = tmp_path / "bench.toml"
    config.write_text(SCPI_AND_SERIAL.format(port="/dev/null"))
    result = run_labnode("serve", str(config))
    assert result.returncode == 2, result.stderr
    assert f"labnode: error: {config}: driver[1].resource: " in result.stderr
    assert "not a serial port" in result.stderr and "Traceback" not in result.stderr
