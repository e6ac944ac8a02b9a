"""`labnode serve` on serial ports that are not serial ports, or that another node holds."""

from __future__ import annotations

import signal

from labnode.drivers.simulation import PtyDeviceServer, create_model
from labnode.sockets import DateDataClient

from .conftest import wait_for
from .node_configs import serial_node, write_config
from .node_process import NodeProcess, run_labnode


def test_dev_null_as_the_serial_port_stops_with_exit_2(tmp_path):
    config = write_config(tmp_path, serial_node("/dev/null"), "gauge.toml")
    result = run_labnode("serve", str(config))
    assert result.returncode == 2, result.stderr
    assert f"labnode: error: {config}: driver.resource: " in result.stderr
    assert "not a serial port" in result.stderr and "check the cable" not in result.stderr


def test_a_directory_as_the_serial_port_stops_with_exit_2(tmp_path):
    config = write_config(tmp_path, serial_node(tmp_path), "gauge.toml")
    result = run_labnode("serve", str(config))
    assert result.returncode == 2, result.stderr
    assert "is a directory, not a serial port" in result.stderr


def test_a_second_node_on_one_serial_port_is_refused_naming_the_first(tmp_path):
    with PtyDeviceServer(create_model("tpg26x", seed=2)) as gauge:
        config = write_config(tmp_path, serial_node(gauge.port), "gauge.toml")
        with NodeProcess("serve", str(config)) as first:
            one = DateDataClient("127.0.0.1", first.port, old_data="none")
            wait_for(lambda: one.get("pressure_1"), timeout=10)
            with NodeProcess("serve", str(config)) as second:
                two = DateDataClient("127.0.0.1", second.port, old_data="none")
                status = wait_for(
                    lambda: (
                        f"pid {first.process.pid}"
                        in ((s := two.status()["driver"])["last_error"] or "")
                        and s
                    ),
                    timeout=10,
                )
                assert status["state"] == "reconnecting"
                assert two.get("pressure_1") is None  # it serves nothing it could not read
                before = one.get("pressure_1")
                wait_for(lambda: (p := one.get("pressure_1")) and p[0] > before[0])
                _, err = second.stop(signal.SIGTERM)
            assert err.count("is in use by") == 1, err  # logged once, not at every retry
