"""How much the node app's loop costs: NodeApp(interval=0) vs the driver's get_values() alone.

Run: python bench/bench_node_app.py [--seconds 2] [--rounds 5]

Both sides read the same pyvisa-sim instrument (pyvisa-sim's simulated power supply,
GPIB::9::INSTR, two SCPI queries per reading). Rounds alternate (bare, node, bare, node, ...) so
drift on a shared machine hits both; the goal is node >= 90% of bare (median of the rounds).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import harness

from labnode.apps import NodeApp
from labnode.drivers.scpi import ScpiDriver

GOAL = 0.90


def make_driver() -> ScpiDriver:
    """The simulated SCPI power supply every round reads."""
    return ScpiDriver(
        "GPIB::9::INSTR",
        visa_library="@sim",
        queries={"volt": ":VOLT:IMM:AMPL?", "curr": ":CURR:IMM:AMPL?"},
        read_termination="\n",
        write_termination="\n",
    )


def bare_rate(seconds: float) -> float:
    """Readings per second of get_values() called in a plain loop."""
    with make_driver() as driver:
        driver.get_values()
        count = 0
        start = time.perf_counter()
        deadline = start + seconds
        while time.perf_counter() < deadline:
            driver.get_values()
            count += 1
        return count / (time.perf_counter() - start)


def node_rate(seconds: float) -> float:
    """Readings per second of a NodeApp with interval=0 serving on 127.0.0.1."""
    app = NodeApp(make_driver(), interval=0, host=harness.LOOPBACK, port=0)
    app.start()
    try:
        while app.state.readings < 5:  # connected and polling
            time.sleep(0.01)
        first, start = app.state.readings, time.perf_counter()
        time.sleep(seconds)
        last, end = app.state.readings, time.perf_counter()
    finally:
        app.stop()
    return (last - first) / (end - start)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="length of each round")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of each side")
    parser.add_argument("--check", action="store_true", help="exit 1 if the goal is missed")
    args = parser.parse_args(argv)

    bare, node = [], []
    for _ in range(args.rounds):
        bare.append(bare_rate(args.seconds))
        node.append(node_rate(args.seconds))
    ratios = [n / b for n, b in zip(node, bare)]
    ratio = statistics.median(ratios)
    result = harness.verdict(ratio, GOAL)
    print(f"{'side':<28}{'readings/s (median)':>20}{'min':>10}{'max':>10}")
    print(
        f"{'driver.get_values() alone':<28}{statistics.median(bare):>20.0f}"
        f"{min(bare):>10.0f}{max(bare):>10.0f}"
    )
    print(
        f"{'NodeApp(interval=0)':<28}{statistics.median(node):>20.0f}"
        f"{min(node):>10.0f}{max(node):>10.0f}"
    )
    print(
        f"node / bare: {ratio:.3f} (median of {args.rounds} paired rounds; goal >= {GOAL})"
        f"  {result}"
    )
    return 1 if args.check and result != "met" else 0


if __name__ == "__main__":
    sys.exit(main())
