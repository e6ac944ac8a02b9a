"""The labnode command's answers to mistakes: one line, the right exit status, no traceback."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time

import pytest

from labnode.apps.node_view import parse_address

from .node_process import run_labnode


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("127.0.0.1", ("127.0.0.1", 9000)),
        ("127.0.0.1:9001", ("127.0.0.1", 9001)),
        ("gauge-pi", ("gauge-pi", 9000)),
        ("[::1]:9002", ("::1", 9002)),
        ("[::1]", ("::1", 9000)),
        ("::1", ("::1", 9000)),
        (":9003", ("127.0.0.1", 9003)),
    ],
)
def test_parse_address(address, expected):
    assert parse_address(address) == expected


@pytest.mark.parametrize(
    "address", ["", "  ", "host:abc", "host:0", "host:70000", "[::1]:x", "[::1"]
)
def test_parse_address_rejects_with_the_form_to_use(address):
    with pytest.raises(ValueError, match="port|address|IPv6"):
        parse_address(address)


def one_line_error(result: subprocess.CompletedProcess, status: int = 1) -> str:
    assert result.returncode == status, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("labnode: error")]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_get_bad_address_and_arguments():
    assert "port must be a number" in one_line_error(run_labnode("get", "127.0.0.1:abc"))
    assert "port must be a number" in one_line_error(run_labnode("get", "[::1]:abc"))
    assert "not ASCII" in one_line_error(run_labnode("get", "127.0.0.1:9", "\u00e9"))
    usage = run_labnode("get", "127.0.0.1", "--timeout", "0")
    assert usage.returncode == 2 and "seconds > 0" in usage.stderr


def test_demo_port_out_of_range_is_a_usage_error():
    result = run_labnode("demo", "--port", "70000")
    assert result.returncode == 2 and "0 to 65535" in result.stderr
    assert "Traceback" not in result.stderr


def test_demo_port_in_use_points_at_the_option():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = str(taken.getsockname()[1])
        line = one_line_error(run_labnode("demo", "--port", port))
    assert "already in use" in line and "--port" in line


def test_config_error_found_at_connect_stops_with_exit_2(tmp_path):
    config = tmp_path / "psu.toml"
    config.write_text(
        '[driver]\ntype = "scpi"\nresource = "GPIB::7::INSTR"\nvisa_library = "@sim"\n'
        '[driver.queries]\nvolt = ":VOLT:IMM:AMPL?"\n[node]\nhost = "127.0.0.1"\nport = 0\n'
    )
    line = one_line_error(run_labnode("serve", str(config)), status=2)
    assert line.startswith(f"labnode: error: {config}: driver")


def test_node_setting_that_fits_only_after_the_first_reading(tmp_path):
    from labnode.drivers.simulation import SocketDeviceServer
    from labnode.drivers.simulation.model import LineDeviceModel

    class Gauge(LineDeviceModel):
        read_termination = b"\n"
        write_termination = b"\n"

        def handle_line(self, line):
            return "1.5" if line == "PRES?" else None

    with SocketDeviceServer(Gauge()) as gauge:
        config = tmp_path / "gauge.toml"
        config.write_text(
            '[node]\nhost = "127.0.0.1"\nport = 0\ntimeout = {presure = 1.0}\ninterval = 0.05\n'
            '[driver]\ntype = "tests.apps.sample_drivers:UndeclaredGauge"\n'
            f'resource = "{gauge.url}"\n'
        )
        line = one_line_error(run_labnode("serve", str(config)), status=2)
    assert f"{config}: node.timeout.presure: unknown codename" in line


def test_stopping_a_node_that_is_not_serving_yet(tmp_path):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]  # nothing listens here: the instrument is missing
    config = tmp_path / "gauge.toml"
    config.write_text(
        '[node]\nhost = "127.0.0.1"\nport = 0\n'
        '[driver]\ntype = "tests.apps.sample_drivers:UndeclaredGauge"\n'
        f'resource = "socket://127.0.0.1:{closed_port}"\n'
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "labnode", "serve", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # wait for the log line that says how to serve OLD_DATA meanwhile (not a fixed sleep: on a
    # loaded machine the interpreter may not have its signal handlers yet)
    assert process.stderr is not None
    seen = []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        seen.append(line)
        if not line or "codenames = [" in line:
            break
    assert "codenames = [" in seen[-1], "".join(seen)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=15)
    err = "".join(seen) + err
    assert process.returncode == 0, err
    assert "Traceback" not in err


def test_demo_interval_beyond_a_day_is_a_usage_error():
    result = run_labnode("demo", "--port", "0", "--interval", "1e12")
    assert result.returncode == 2
    assert "at most 86400 seconds" in result.stderr and "Traceback" not in result.stderr
