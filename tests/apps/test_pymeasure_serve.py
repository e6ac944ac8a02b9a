"""`labnode serve` with a PyMeasure instrument (type = "pymeasure"), end to end over UDP."""

from __future__ import annotations

import signal

import pytest

from labnode.drivers import simulation_yaml
from labnode.drivers.simulation import ScriptedLineModel, SocketDeviceServer
from labnode.sockets import DateDataClient

from .conftest import wait_for
from .node_process import NodeProcess, run_labnode

NODE = """\
[node]
name = "keithley via pymeasure"
host = "127.0.0.1"
port = 0
interval = 0.05
timeout = 0.5
reconnect_max = 0.2

"""

DMM_CONFIG = (
    NODE
    + """\
[driver]
type = "pymeasure"
instrument = "pymeasure.instruments.keithley.Keithley2000"
resource = "GPIB::16::INSTR"
visa_library = "{yaml}@sim"
timeout = 500
[driver.channels]
voltage = "voltage"
nplc = "voltage_nplc"
"""
)

SOCKET_CONFIG = (
    NODE
    + """\
[driver]
type = "pymeasure"
instrument = "pymeasure.instruments.keithley:Keithley2000"
resource = "{resource}"
timeout = 200
read_termination = "\\n"
write_termination = "\\n"
[driver.channels]
voltage = "voltage"
"""
)


def test_serve_a_pymeasure_instrument_on_pyvisa_sim(tmp_path):
    config = tmp_path / "dmm.toml"
    config.write_text(DMM_CONFIG.format(yaml=simulation_yaml("pymeasure")))
    with NodeProcess("serve", str(config)) as node:
        client = DateDataClient("127.0.0.1", node.port, old_data="none")
        table = wait_for(lambda: (t := client.get_all()) and all(t.values()) and t)
        assert {c: p[1] for c, p in table.items()} == {"voltage": 1.23456, "nplc": 1.0}
        assert client.name() == "keithley via pymeasure"
        status = client.status()
        assert status["driver"]["driver"] == "PyMeasureDriver"
        assert status["driver"]["identity"].startswith("KEITHLEY INSTRUMENTS INC.,MODEL 2000")
        assert status["driver"]["diagnostics"] == {
            "pymeasure_instrument": "pymeasure.instruments.keithley.keithley2000.Keithley2000",
            "properties": {"voltage": "voltage", "nplc": "voltage_nplc"},
        }
        code, err = node.stop(signal.SIGINT)
    assert code == 0, err
    assert "Traceback" not in err


def test_a_silent_pymeasure_instrument_goes_old_data_and_comes_back(tmp_path):
    answers = {":READ?": "+2.5E+00", "*IDN?": "KEITHLEY INSTRUMENTS INC.,MODEL 2000,1,A"}
    with SocketDeviceServer(ScriptedLineModel(answers.get)) as dmm:
        config = tmp_path / "dmm.toml"
        config.write_text(SOCKET_CONFIG.format(resource=dmm.visa_resource))
        with NodeProcess("serve", str(config)) as node:
            client = DateDataClient("127.0.0.1", node.port, old_data="none")
            assert wait_for(lambda: client.get("voltage"))[1] == 2.5
            dmm.model.silent = True
            wait_for(lambda: client.get("voltage") is None, timeout=10)
            status = wait_for(lambda: (s := client.status()["driver"])["last_error"] and s)
            assert status["last_error"].startswith("InstrumentTimeout")
            assert node.process.poll() is None  # still running, still answering
            dmm.model.silent = False
            wait_for(lambda: client.get("voltage"), timeout=10)
            code, err = node.stop()
        assert code == 0, err
        assert "Traceback" not in err


@pytest.mark.parametrize(
    ("replace", "by", "key"),
    [
        ("timeout = 500", "baud_rate = 9600", "driver.baud_rate"),
        ("timeout = 500", "timeout = 2", "driver.timeout"),
        ('nplc = "voltage_nplc"', 'nplc = "nplc"', "driver.channels"),
        ("keithley.Keithley2000", "keithley.Keithley2", "driver.instrument"),
    ],
)
def test_a_bad_pymeasure_config_is_one_line_naming_the_key(tmp_path, replace, by, key):
    config = tmp_path / "dmm.toml"
    text = DMM_CONFIG.format(yaml=simulation_yaml("pymeasure"))
    assert replace in text
    config.write_text(text.replace(replace, by))
    result = run_labnode("serve", str(config))
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines[0].startswith(f"labnode: error: {config}: {key}"), lines


def test_labnode_drivers_lists_it():
    result = run_labnode("drivers")
    assert result.returncode == 0
    line = next(line for line in result.stdout.splitlines() if line.split()[:1] == ["pymeasure"])
    assert "Any PyMeasure instrument" in line
