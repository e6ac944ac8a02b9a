"""Median cost of one ``DateDataSocket.set_point_now`` call while the socket is started.

Run from the repository root: ``python bench/bench_set_point.py`` (``--json`` for machine output).

Each batch times 1000 calls with ``time.perf_counter_ns``; the figure is the median over the
batches of (batch time / 1000), so it includes the loop and call overhead, shown separately as
"empty call". The reference is the same method call on a plain dict assignment of
``(time.time(), value)``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CODENAMES = [f"cn{index:02d}" for index in range(10)]
CALLS_PER_BATCH = 1000
GOAL_NS = 1500.0


class DictTable:
    """The reference: set_point_now as a plain dict assignment."""

    def __init__(self, codenames):
        self._points = dict.fromkeys(codenames, (0.0, 0.0))

    def set_point_now(self, codename, value):
        self._points[codename] = (time.time(), value)

    def empty_call(self, codename, value):
        """Same signature, no work: the loop and call overhead."""


def median_ns_per_call(set_point_now, batches):
    """Median over batches of the time per call, in ns."""
    codename_per_call = [CODENAMES[index % len(CODENAMES)] for index in range(CALLS_PER_BATCH)]
    value = 1.2345
    clock = time.perf_counter_ns
    per_call_ns = []
    for _ in range(batches):
        started = clock()
        for codename in codename_per_call:
            set_point_now(codename, value)
        per_call_ns.append((clock() - started) / CALLS_PER_BATCH)
    return statistics.median(per_call_ns)


def measure(batches):
    """Return labnode, reference and empty-call medians (labnode is None if not importable)."""
    reference = DictTable(CODENAMES)
    result = {
        "batches": batches,
        "calls_per_batch": CALLS_PER_BATCH,
        "goal_ns": GOAL_NS,
        "labnode_ns": None,
    }
    sys.path.insert(0, REPO_ROOT)
    try:
        from labnode.sockets import DateDataSocket
    except ImportError as error:
        result["labnode_error"] = repr(error)
    else:
        with DateDataSocket(CODENAMES, port=0, timeouts=0.5, host="127.0.0.1") as data_socket:
            median_ns_per_call(data_socket.set_point_now, batches // 10 + 1)  # warm-up
            result["labnode_ns"] = median_ns_per_call(data_socket.set_point_now, batches)
    median_ns_per_call(reference.set_point_now, batches // 10 + 1)
    result["reference_ns"] = median_ns_per_call(reference.set_point_now, batches)
    result["empty_call_ns"] = median_ns_per_call(reference.empty_call, batches)
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=200, help="batches of 1000 calls")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--check", action="store_true", help="exit 1 when the goal is missed")
    args = parser.parse_args(argv)
    if not 1 <= args.batches <= 100_000:
        parser.error("--batches must be in [1, 100000]")
    result = measure(args.batches)
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"set_point_now, median ns per call over {args.batches} batches of {CALLS_PER_BATCH}:"
        )
        for label, key in (
            ("labnode DateDataSocket", "labnode_ns"),
            ("reference dict + time.time()", "reference_ns"),
            ("empty call (loop overhead)", "empty_call_ns"),
        ):
            value = result[key]
            print(f"  {label:<30} {value:>8.0f} ns" if value is not None else f"  {label:<30} n/a")
        print(f"  goal: labnode <= {GOAL_NS:.0f} ns")
    missed = result["labnode_ns"] is None or result["labnode_ns"] > GOAL_NS
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
