"""The labnode command end to end: serve, demo, get, watch, drivers, and errors."""

from __future__ import annotations

import json
import signal
import socket

import pytest

from labnode.drivers.simulation import PtyDeviceServer, create_model
from labnode.sockets import DateDataClient

from .conftest import wait_for
from .node_configs import psu_node, serial_node, write_config
from .node_process import NodeProcess, run_labnode

PSU_CONFIG = psu_node()


def test_serve_a_pyvisa_sim_instrument(tmp_path):
    config = write_config(tmp_path, PSU_CONFIG, "psu.toml")
    with NodeProcess("serve", str(config)) as node:
        client = DateDataClient("127.0.0.1", node.port, old_data="none")
        table = wait_for(lambda: (t := client.get_all()) and all(t.values()) and t)
        assert {c: p[1] for c, p in table.items()} == {"volt": 1.0, "curr": 1.0}
        assert client.name() == "psu on bench 3"
        status, err = node.stop(signal.SIGINT)
    assert status == 0, err
    assert "Traceback" not in err
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", node.port))  # the port was closed


def test_serve_a_serial_gauge_that_goes_silent_and_comes_back(tmp_path):
    with PtyDeviceServer(create_model("tpg26x", seed=2)) as gauge:
        config = write_config(tmp_path, serial_node(gauge.port), "gauge.toml")
        with NodeProcess("serve", str(config)) as node:
            client = DateDataClient("127.0.0.1", node.port, old_data="none")
            wait_for(lambda: client.get("pressure_1"))
            gauge.model.silent = True
            wait_for(lambda: client.get("pressure_1") is None, timeout=10)
            wait_for(lambda: client.status()["driver"]["state"] in ("failing", "reconnecting"))
            assert node.process.poll() is None  # still running, still answering
            gauge.model.silent = False
            wait_for(lambda: client.get("pressure_1"), timeout=10)
            wait_for(lambda: client.status()["driver"]["state"] == "connected")
            status, err = node.stop()
        assert status == 0
        assert err.count("InstrumentTimeout") <= 2  # logged once per change, not per poll


BAD_CONFIGS = [
    ('[driver]\ntype = "nosuch"\nresource = "x"\n', "driver.type"),
    ('[driver]\ntype = "scpi"\n', "driver.resource"),
    ('[node]\nport = "x"\n[driver]\ntype = "scpi"\nresource = "x"\n', "node.port"),
    ("[node\n", "TOML"),
]


@pytest.mark.parametrize(("text", "key"), BAD_CONFIGS)
def test_bad_config_is_one_clear_line_and_exit_2(tmp_path, text, key):
    config = write_config(tmp_path, text, "bad.toml")
    result = run_labnode("serve", str(config))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines[0].startswith(f"labnode: error: {config}: ")
    assert key in lines[0]


def test_port_in_use_is_one_line(tmp_path):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        text = PSU_CONFIG.replace("port = 0", f"port = {taken.getsockname()[1]}")
        config = write_config(tmp_path, text, "psu.toml")
        result = run_labnode("serve", str(config))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if "error" in line]
    assert errors == [errors[0]] and errors[0].startswith(f"labnode: error: {config}: node.port: ")
    assert "already in use" in errors[0]


def test_driver_mistake_found_at_connect_is_reported_before_binding(tmp_path):
    # the port is taken AND the resource is one the simulation lacks: the driver mistake wins
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        config = tmp_path / "psu.toml"
        text = PSU_CONFIG.replace("port = 0", f"port = {taken.getsockname()[1]}")
        config.write_text(text.replace("GPIB::9::INSTR", "GPIB::29::INSTR"))
        result = run_labnode("serve", str(config))
    assert result.returncode == 2
    assert f"labnode: error: {config}: driver.resource: " in result.stderr
    assert "already in use" not in result.stderr


def test_a_host_that_is_not_an_address_is_a_config_error(tmp_path):
    text = PSU_CONFIG.replace('host = "127.0.0.1"', 'host = "bench-3 pc"')
    config = write_config(tmp_path, text, "psu.toml")
    result = run_labnode("serve", str(config))
    assert result.returncode == 2
    assert f"labnode: error: {config}: node.host: " in result.stderr
    assert "Traceback" not in result.stderr


def test_demo_get_and_watch():
    with NodeProcess("demo", "--port", "0") as demo:
        address = f"127.0.0.1:{demo.port}"
        client = DateDataClient("127.0.0.1", demo.port, old_data="none")
        wait_for(lambda: client.get("pressure_1"))
        result = run_labnode("get", address)
        assert result.returncode == 0, result.stderr
        lines = result.stdout.splitlines()
        header = lines[0].split()  # a unit column appears when the driver declares units
        assert header[:2] == ["codename", "value"] and header[-2:] == ["age", "state"]
        assert lines[1].startswith("pressure_1") and lines[1].endswith("ok")
        raw = run_labnode("get", address, "raw", "--raw")
        assert len(raw.stdout.strip().split(";")) == 2
        status = json.loads(run_labnode("get", address, "status", "--raw").stdout)
        assert status["driver"]["state"] == "connected"
        watch = run_labnode("watch", address, "--count", "2", "--interval", "0.1")
        assert watch.returncode == 0
        assert watch.stdout.count("pressure_2") == 2
        code, err = demo.stop(signal.SIGINT)
    assert code == 0 and "Traceback" not in err


def test_get_without_a_node_is_one_line():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = run_labnode("get", f"127.0.0.1:{port}", "--timeout", "0.5")
    assert result.returncode == 1
    assert result.stderr.startswith("labnode: error:") and "Traceback" not in result.stderr


def test_drivers_and_help():
    result = run_labnode("drivers")
    assert result.returncode == 0
    names = [line.split()[0] for line in result.stdout.splitlines() if line.strip()]
    assert {"scpi", "tpg26x"} <= set(names)
    for command in ("serve", "demo", "get", "watch", "drivers"):
        help_result = run_labnode(command, "--help")
        assert help_result.returncode == 0 and "usage: labnode" in help_result.stdout
