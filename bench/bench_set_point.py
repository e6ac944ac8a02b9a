"""Cost of one ``DateDataSocket.set_point_now`` call while the socket is started (pyperf).

Run from the repository root: ``python bench/bench_set_point.py`` (about 40 s; ``--fast`` for a
quicker look, ``-o FILE`` to keep pyperf's JSON, ``--help`` for pyperf's options).

Three pyperf benchmarks, each timing calls over the 10 codenames of bench/table_servers.py in a
plain loop (so the loop and call overhead is in every figure, and shown alone as "empty call"):

- ``set_point_now labnode``: the method of a started ``DateDataSocket`` (serving, no traffic).
- ``set_point_now dict``: the reference, the same method call doing
  ``points[codename] = (time.time(), value)`` on a plain dict.
- ``empty call``: a method with the same signature and no work.

Goal: labnode <= 1.5 µs per call (median of pyperf's values, as before pyperf); labnode / dict
is printed beside it.
"""

from __future__ import annotations

import sys
import time

import harness
from harness import LOOPBACK
from table_servers import CODENAMES, POINT_TIMEOUT_S

GOAL_S = 1.5e-6
_TARGETS: dict = {}


class DictTable:
    """The reference: set_point_now as a plain dict assignment."""

    def __init__(self) -> None:
        self._points = dict.fromkeys(CODENAMES, (0.0, 0.0))

    def set_point_now(self, codename: str, value: float) -> None:
        self._points[codename] = (time.time(), value)

    def empty_call(self, codename: str, value: float) -> None:
        """Same signature, no work: the loop and call overhead."""


def target(kind: str):
    """The bound method timed as ``kind``, made once per worker process."""
    if kind not in _TARGETS:
        if kind == "labnode":
            from labnode.sockets import DateDataSocket

            node = DateDataSocket(CODENAMES, port=0, timeouts=POINT_TIMEOUT_S, host=LOOPBACK)
            node.start()  # stopped when the worker exits (daemon thread)
            _TARGETS[kind] = node.set_point_now
        else:
            table = DictTable()
            _TARGETS[kind] = table.set_point_now if kind == "dict" else table.empty_call
    return _TARGETS[kind]


def time_calls(loops: int, kind: str) -> float:
    """CPU seconds for ``loops`` x 10 calls (pyperf divides by inner_loops=10)."""
    set_point_now, value, clock = target(kind), 1.2345, harness.cpu_clock
    started = clock()
    for _ in range(loops):
        for codename in CODENAMES:
            set_point_now(codename, value)
    return clock() - started


def main() -> int:
    runner = harness.pyperf_runner(__doc__.splitlines()[0])
    inner = len(CODENAMES)
    labnode = runner.bench_time_func(
        "set_point_now labnode", time_calls, "labnode", inner_loops=inner
    )
    table = runner.bench_time_func("set_point_now dict", time_calls, "dict", inner_loops=inner)
    runner.bench_time_func("empty call", time_calls, "empty", inner_loops=inner)
    harness.pyperf_ratio(runner, "labnode / dict", labnode, table)
    met = harness.pyperf_goal(runner, "set_point_now labnode", labnode, GOAL_S)
    return harness.pyperf_exit(runner, met)


if __name__ == "__main__":
    sys.exit(main())
