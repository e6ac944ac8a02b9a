"""Time per reading of a serial driver on the in-memory ``sim://`` port vs the TCP and pty servers.

Run from the repository root: ``python bench/bench_sim_port.py`` (about 40 s; ``--fast``,
``-o FILE`` and the rest of pyperf's options).

The same driver (Alicat, one query per reading) on the same model behind three ports, one pyperf
benchmark each: ``sim://`` (MemoryDeviceServer), ``socket://127.0.0.1`` (SocketDeviceServer) and
a pty (PtyDeviceServer). Timed on the wall clock: the TCP and pty servers answer from a thread of
their own. The ratios against the TCP server, measured in the same run, are what matters
(``sim://`` is meant for fast driver tests); absolute figures depend on the machine.
"""

from __future__ import annotations

import atexit
import contextlib
import sys
import time

import harness

PORTS = ("sim:// (memory)", "socket:// (TCP)", "pty")
_DRIVERS: dict = {}


def driver(port: str):
    """An Alicat driver on ``port``'s server, opened once per worker process."""
    if port not in _DRIVERS:
        from labnode.drivers.alicat.mass_flow import AlicatMassFlow
        from labnode.drivers.alicat.mass_flow_sim import AlicatMassFlowModel
        from labnode.drivers.simulation import (
            MemoryDeviceServer,
            PtyDeviceServer,
            SocketDeviceServer,
        )

        server_class = dict(zip(PORTS, (MemoryDeviceServer, SocketDeviceServer, PtyDeviceServer)))
        stack = contextlib.ExitStack()
        atexit.register(stack.close)
        server = stack.enter_context(server_class[port](AlicatMassFlowModel(seed=1)))
        _DRIVERS[port] = stack.enter_context(AlicatMassFlow(server.url, timeout=1.0))
        _DRIVERS[port].get_values()  # fields learnt, port settled
    return _DRIVERS[port]


def time_readings(loops: int, port: str) -> float:
    """Wall seconds for ``loops`` readings."""
    get_values, clock = driver(port).get_values, time.perf_counter
    started = clock()
    for _ in range(loops):
        get_values()
    return clock() - started


def main() -> int:
    runner = harness.pyperf_runner(__doc__.splitlines()[0])
    results = {port: runner.bench_time_func(port, time_readings, port) for port in PORTS}
    for port in ("sim:// (memory)", "pty"):  # readings/s against TCP's, as time TCP / time port
        harness.pyperf_ratio(runner, f"{port} vs TCP, readings/s",
                             results["socket:// (TCP)"], results[port])  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
