"""`python -m labnode.drivers.simulation` as a real subprocess, steered by stdin and signals."""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import labnode
from labnode.drivers import ConnectionLost, InstrumentTimeout, ReplyParseError, SerialTransport
from labnode.drivers.alicat.mass_flow import AlicatMassFlow
from labnode.drivers.pfeiffer.tpg26x import TPG26x
from labnode.drivers.simulation.command import main
from tests.drivers.driver_checks import reading_fails

TIMEOUT = 0.25
REPO_ROOT = Path(labnode.__file__).resolve().parent.parent


class Simulator:
    """A simulator subprocess with its stdout read line by line in a thread."""

    def __init__(self, *arguments: str, stdin: int | None = subprocess.PIPE) -> None:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), *sys.path])}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "labnode.drivers.simulation", *arguments],
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read_stdout, daemon=True).start()

    def _read_stdout(self) -> None:
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))

    def next_line(self, timeout: float = 10.0) -> str:
        """The next stdout line (fails the test if none comes)."""
        try:
            return self.lines.get(timeout=timeout)
        except queue.Empty:
            pytest.fail(f"no output from the simulator; stderr: {self.stderr_so_far()}")

    def command(self, line: str) -> str:
        """Send one control command and return its reply line."""
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        return self.next_line()

    def status(self) -> str:
        return self.command("status")

    def signal(self, number: int, until: str) -> None:
        """Send a signal and wait until `status` shows `until`."""
        self.process.send_signal(number)
        for _ in range(100):
            if until in self.status():
                return
            time.sleep(0.02)
        pytest.fail(f"the simulator status never showed {until!r}")

    def stderr_so_far(self) -> str:
        if self.process.poll() is None:
            return "(still running)"
        return self.process.stderr.read()

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.terminate()
        try:
            return self.process.wait(5)
        finally:
            for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
                if stream is not None:
                    stream.close()


@pytest.fixture
def tpg_simulator() -> Iterator[tuple[Simulator, str]]:
    simulator = Simulator("tpg26x", "--seed", "1")
    url = simulator.next_line()
    yield simulator, url
    simulator.stop()


def test_first_line_is_the_url_and_the_driver_reads_moving_values(tpg_simulator):
    simulator, url = tpg_simulator
    assert url.startswith("socket://127.0.0.1:")
    with TPG26x(url, timeout=TIMEOUT) as tpg:
        readings = [tpg.get_values() for _ in range(3)]
    assert all(set(reading) == {"pressure_1", "pressure_2"} for reading in readings)
    assert len({reading["pressure_1"] for reading in readings}) == 3


def test_control_commands_on_stdin(tpg_simulator):
    simulator, url = tpg_simulator
    tpg = TPG26x(url, timeout=TIMEOUT)
    tpg.connect()
    assert simulator.command("silent") == "ok silent"
    with pytest.raises(InstrumentTimeout):
        tpg.get_values()
    assert simulator.command("garbage") == "ok garbage"
    with pytest.raises(ReplyParseError):
        tpg.get_values()
    assert simulator.command("answer") == "ok answer"
    assert set(tpg.get_values()) == {"pressure_1", "pressure_2"}

    assert simulator.command("gauge-status 2 4") == "ok gauge-status 2 4"
    assert set(tpg.get_values()) == {"pressure_1"}
    assert simulator.command("gauge-status 2 0") == "ok gauge-status 2 0"

    assert simulator.command("vanish") == "ok vanish"
    assert "present=False" in simulator.status()
    with pytest.raises(ConnectionLost):
        tpg.get_values()
    with pytest.raises(ConnectionLost, match="refused"):
        tpg.reconnect()
    assert simulator.command("back") == f"ok back {url}"
    tpg.reconnect()
    assert set(tpg.get_values()) == {"pressure_1", "pressure_2"}

    assert simulator.command("drop") == "ok drop"
    with pytest.raises(ConnectionLost):
        tpg.get_values()
    tpg.reconnect()
    assert tpg.get_values()
    tpg.close()

    assert simulator.command("delay 0.5") == "ok delay"
    assert "delay=0.5" in simulator.status()
    assert simulator.command("frobnicate").startswith("error frobnicate: unknown control command")
    assert simulator.command("delay soon").startswith("error delay")
    assert simulator.command("quit") == "ok quit"
    assert simulator.process.wait(5) == 0


def test_signals_toggle_silence_and_presence(tpg_simulator):
    simulator, url = tpg_simulator
    tpg = TPG26x(url, timeout=TIMEOUT)
    tpg.connect()
    simulator.signal(signal.SIGUSR1, until="silent=True")
    with pytest.raises(InstrumentTimeout):
        tpg.get_values()
    simulator.signal(signal.SIGUSR1, until="silent=False")
    assert tpg.get_values()
    simulator.signal(signal.SIGUSR2, until="present=False")
    with pytest.raises(ConnectionLost):
        tpg.get_values()
    simulator.signal(signal.SIGUSR2, until="present=True")
    tpg.reconnect()
    assert tpg.get_values()
    tpg.close()
    simulator.process.send_signal(signal.SIGTERM)
    assert simulator.process.wait(5) == 0


def test_pty_simulator_serves_pyserial_and_pyvisa():
    simulator = Simulator("alicat", "--pty", "--seed", "2")
    try:
        path = simulator.next_line()
        assert path.startswith("/dev/")
        for resource in (path, f"ASRL{path}::INSTR"):
            with AlicatMassFlow(resource, timeout=TIMEOUT) as driver:
                assert set(driver.get_values()) >= {"pressure", "mass_flow"}
        assert simulator.command("setpoint 55") == "ok setpoint 55"
        assert simulator.command("silent") == "ok silent"
        reading_fails(AlicatMassFlow(path, timeout=TIMEOUT), InstrumentTimeout)
        assert simulator.command("answer") == "ok answer"
        with AlicatMassFlow(path, timeout=TIMEOUT) as driver:
            assert driver.get_values()["setpoint"] == 55.0
    finally:
        assert simulator.stop() == 0


def test_a_fixed_port_and_no_stdin():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    simulator = Simulator("alicat", "--port", str(port), stdin=subprocess.DEVNULL)
    try:
        assert simulator.next_line() == f"socket://127.0.0.1:{port}"
        time.sleep(0.1)  # stdin has ended: the simulator must keep serving
        with AlicatMassFlow(f"TCPIP::127.0.0.1::{port}::SOCKET", timeout=TIMEOUT) as driver:
            assert driver.get_values()
    finally:
        assert simulator.stop() == 0


def test_unknown_model_exits_with_a_message():
    simulator = Simulator("nosuch", stdin=subprocess.DEVNULL)
    assert simulator.process.wait(10) == 2
    assert "unknown simulated device 'nosuch'" in simulator.process.stderr.read()
    simulator.stop()


@pytest.mark.parametrize("port", ["70000", "-1", "65536"])
def test_a_port_out_of_range_is_one_line_and_exit_2(port, capsys):
    assert main(["tpg26x", "--port", port]) == 2
    error = capsys.readouterr().err
    assert error == f"error: --port {port} is not a TCP port (0-65535)\n"


def test_a_model_path_without_such_a_class_is_one_line_and_exit_2(capsys):
    assert main(["labnode.drivers.pfeiffer.tpg26x_sim:Nope"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "no DeviceModel subclass named 'Nope'" in error


def test_a_model_without_a_seed_is_served_and_the_seed_ignored():
    simulator = Simulator("tests.drivers.test_simulation_model:EchoModel", "--seed", "3")
    try:
        url = simulator.next_line()
        transport = SerialTransport(url, read_termination="\r", write_termination="\r")
        transport.open()
        assert transport.query("hello") == "HELLO"
        transport.close()
    finally:
        simulator.process.terminate()
        stderr = simulator.process.stderr.read()  # up to the end: the process has exited
        assert simulator.stop() == 0
    assert "note: EchoModel takes no seed; --seed ignored" in stderr
