"""Readings/s of the pymeasure driver against the generic scpi driver, same instrument, same run.

PyMeasure's Keithley2000 reading `voltage` (`:READ?`) and `ScpiDriver(queries={"voltage":
":READ?"})` on two ports: the pyvisa-sim file shipped with the driver, and pyvisa-py's raw
socket to a SocketDeviceServer. The ratio pymeasure/scpi is the cost of PyMeasure's property
machinery and of the adapter that routes it through labnode's transport; absolute figures
depend on the machine. Usage: `python bench/bench_pymeasure.py [--seconds S] [--repeat N]`.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from labnode.drivers import Driver, simulation_yaml
from labnode.drivers.pymeasure import PyMeasureDriver
from labnode.drivers.scpi import ScpiDriver
from labnode.drivers.simulation import ScriptedLineModel, SocketDeviceServer

KEITHLEY = "pymeasure.instruments.keithley.Keithley2000"
ANSWERS = {":READ?": "+1.23456000E+00"}


@contextmanager
def pyvisa_sim() -> Iterator[tuple[str, dict]]:
    yield "GPIB::16::INSTR", {"visa_library": f"{simulation_yaml('pymeasure')}@sim"}


@contextmanager
def raw_socket() -> Iterator[tuple[str, dict]]:
    with SocketDeviceServer(ScriptedLineModel(ANSWERS.get)) as server:
        yield server.visa_resource, {}


PORTS = {"pyvisa-sim": pyvisa_sim, "raw socket (pyvisa-py)": raw_socket}


def pymeasure(resource: str, options: dict) -> Driver:
    terminations = {} if options else {"read_termination": "\n", "write_termination": "\n"}
    return PyMeasureDriver(
        resource, instrument=KEITHLEY, channels=["voltage"], **options, **terminations
    )


def scpi(resource: str, options: dict) -> Driver:
    # the pyvisa-sim file expects pyvisa's default CR LF, which PyMeasure leaves in place
    ending = "\r\n" if options else "\n"
    return ScpiDriver(resource, queries={"voltage": ":READ?"}, write_termination=ending, **options)


def readings_per_second(make: Callable[[str, dict], Driver], port, seconds: float) -> float:
    with port() as (resource, options), make(resource, options) as driver:
        driver.get_values()  # warm up
        count, started = 0, time.perf_counter()
        deadline = started + seconds
        while time.perf_counter() < deadline:
            driver.get_values()
            count += 1
        return count / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="per measurement")
    parser.add_argument("--repeat", type=int, default=3, help="measurements per figure (median)")
    args = parser.parse_args()
    warnings.simplefilter("ignore", FutureWarning)  # PyMeasure's note on the Keithley's SCPI
    print(f"readings/s, median of {args.repeat} x {args.seconds:g} s")
    for name, port in PORTS.items():
        figures = {}
        for label, make in (("scpi", scpi), ("pymeasure", pymeasure)):
            runs = [readings_per_second(make, port, args.seconds) for _ in range(args.repeat)]
            figures[label] = statistics.median(runs)
        ratio = figures["pymeasure"] / figures["scpi"]
        print(
            f"{name:24} scpi {figures['scpi']:8.0f}   pymeasure {figures['pymeasure']:8.0f}"
            f"   pymeasure/scpi {ratio:.2f}"
        )


if __name__ == "__main__":
    main()
