"""One lock per physical port: threads and driver objects sharing a port never interleave."""

from __future__ import annotations

import random
import threading

import pytest

from labnode.drivers import SerialDriver, simulation_yaml
from labnode.drivers.scpi import ScpiDriver
from labnode.drivers.simulation import PtyDeviceServer, ScriptedLineModel, SocketDeviceServer
from labnode.drivers.transports import lock_for, port_key


class Echo(SerialDriver):
    """Echoes: a reply that is not the command it answers means an interleaving."""

    def get_values(self):
        return {}


def jittery_echo(command: str) -> tuple[float, str]:
    """Echo after a random pause, so that unlocked exchanges would overlap."""
    return random.uniform(0, 0.002), command


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("GPIB::8::INSTR", "gpib0::8::instr"),
        ("TCPIP::127.0.0.1::5025::SOCKET", "socket://127.0.0.1:5025"),
        ("ASRL/dev/ttyS0::INSTR", "/dev/ttyS0"),
        ("/dev/../dev/ttyS0", "/dev/ttyS0"),
    ],
)
def test_same_port_same_key(first, second):
    assert port_key(first) == port_key(second)
    assert lock_for(first) is lock_for(second)


def test_different_ports_different_locks():
    assert lock_for("GPIB::8::INSTR") is not lock_for("GPIB::9::INSTR")
    assert lock_for("socket://127.0.0.1:1") is not lock_for("socket://127.0.0.1:2")


def hammer(drivers, rounds: int) -> list[str]:
    """Query from one thread per driver; return the mismatches (reply != command)."""
    mismatches: list[str] = []
    start = threading.Barrier(len(drivers))

    def worker(index: int, driver) -> None:
        start.wait()
        for number in range(rounds):
            command = f"T{index}-{number}-" + "x" * random.randint(0, 40)
            try:
                reply = driver.query(command)
            except Exception as error:  # a failure must fail the test, not just end the thread
                reply = repr(error)
            if reply != command:
                mismatches.append(f"{command!r} got {reply!r}")

    threads = [
        threading.Thread(target=worker, args=(index, driver), daemon=True)
        for index, driver in enumerate(drivers)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert not any(thread.is_alive() for thread in threads)
    return mismatches


def test_threads_sharing_one_driver_never_interleave():
    with (
        SocketDeviceServer(ScriptedLineModel(jittery_echo)) as instrument,
        Echo(instrument.url, timeout=2) as driver,
    ):
        assert hammer([driver] * 4, rounds=100) == []


def test_two_drivers_on_one_pty_never_interleave():
    # Two opens of one tty read from the same input queue, like two users of one serial port.
    with PtyDeviceServer(ScriptedLineModel(jittery_echo)) as instrument:
        first = Echo(instrument.port, timeout=2)
        second = Echo(instrument.port, timeout=2)
        assert first.lock is second.lock
        with first, second:
            assert hammer([first, second, first, second], rounds=50) == []


def test_threads_on_a_simulated_visa_instrument():
    psu = f"{simulation_yaml('scpi')}@sim"
    queries = {"voltage": ":VOLT:IMM:AMPL?", "current": ":CURR:IMM:AMPL?"}
    drivers = [ScpiDriver("GPIB::9::INSTR", visa_library=psu, queries=queries) for _ in range(3)]
    results: list[dict] = []
    for driver in drivers:
        driver.connect()

    def poll(driver) -> None:
        for _ in range(30):
            results.append(driver.get_values())

    threads = [threading.Thread(target=poll, args=(driver,), daemon=True) for driver in drivers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    for driver in drivers:
        driver.close()
    assert len(results) == 90
    assert all(values == {"voltage": 12.0, "current": 0.5} for values in results)
