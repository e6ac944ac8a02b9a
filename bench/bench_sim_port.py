"""Readings/s of a serial driver on the in-memory `sim://` port against the TCP and pty servers.

The same driver (Alicat, one query per reading) on the same model, three ports: `sim://`
(MemoryDeviceServer), `socket://127.0.0.1` (SocketDeviceServer) and a pty (PtyDeviceServer).
The ratios against the TCP server, measured in the same run, are what matters; absolute
figures depend on the machine. Usage: `python bench/bench_sim_port.py [--seconds S] [--repeat N]`.
"""

from __future__ import annotations

import argparse
import statistics
import time

from labnode.drivers.alicat.mass_flow import AlicatMassFlow
from labnode.drivers.alicat.mass_flow_sim import AlicatMassFlowModel
from labnode.drivers.simulation import MemoryDeviceServer, PtyDeviceServer, SocketDeviceServer

SERVERS = {
    "sim:// (memory)": MemoryDeviceServer,
    "socket:// (TCP)": SocketDeviceServer,
    "pty": PtyDeviceServer,
}


def readings_per_second(server_class: type, seconds: float) -> float:
    """Read as fast as possible for `seconds`; return readings per second."""
    with (
        server_class(AlicatMassFlowModel(seed=1)) as server,
        AlicatMassFlow(server.url, timeout=1.0) as driver,
    ):
        driver.get_values()  # warm up: fields learnt, port settled
        count, started = 0, time.perf_counter()
        deadline = started + seconds
        while time.perf_counter() < deadline:
            driver.get_values()
            count += 1
        return count / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="per run (default 2)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per port (default 3)")
    arguments = parser.parse_args()
    medians, repeat = {}, max(1, arguments.repeat)
    for label, server_class in SERVERS.items():
        runs = [readings_per_second(server_class, arguments.seconds)]
        runs += [readings_per_second(server_class, arguments.seconds) for _ in range(1, repeat)]
        medians[label] = statistics.median(runs)
    reference = medians["socket:// (TCP)"]
    print(f"{'port':<18}{'readings/s':>12}{'vs TCP':>9}{'us/reading':>12}")
    for label, rate in medians.items():
        print(f"{label:<18}{rate:>12.0f}{rate / reference:>8.2f}x{1e6 / rate:>12.0f}")


if __name__ == "__main__":
    main()
