"""What checking a reply costs: pull_replies parsers vs a bare json.loads / split of the same bytes.

Run: python bench/bench_pull_replies.py [--rounds 5] [--number 200]

The replies are the server's own (DataUDPHandler) for 10 and 1,000 codenames. The reference is
what a trusting client does (json.loads, or split on ';' and ',' with float()), measured in the
same run, rounds alternating; the figure is the median time per reply and the ratio
parser / reference. Goal: on 1,000 codenames (where parsing costs milliseconds) the checked parse
of json_wn costs at most 3x the bare json.loads; on 10 codenames the figure is tens of us.
"""

from __future__ import annotations

import argparse
import json
import statistics
import timeit

from labnode.sockets import DataUDPHandler, PointTable
from labnode.sockets.pull_replies import parse_json_wn, parse_raw_wn

GOAL = 3.0
NOW = 1_763_926_800.123456


def replies(count: int) -> dict[str, bytes]:
    codenames = [f"channel_{i:04d}" for i in range(count)]
    table = PointTable(codenames, timeouts=10.0)
    for i, codename in enumerate(codenames):
        table.set_point(codename, (NOW - i * 1e-3, 1.234e-6 * (i + 1)))
    handler = DataUDPHandler(table, "bench", clock=lambda: NOW)
    return {form: handler.reply(form.encode()) for form in ("json_wn", "raw_wn")}


def bare_raw_wn(data: bytes) -> dict[str, tuple[float, float]]:
    result = {}
    for cell in data.decode().split(";"):
        name, _, point = cell.partition(":")
        x, _, y = point.partition(",")
        result[name] = (float(x), float(y))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--number", type=int, default=200, help="parses per timing")
    args = parser.parse_args()
    worst = 0.0
    for count in (10, 1000):
        data = replies(count)
        cases = [
            ("json_wn", lambda d=data["json_wn"]: json.loads(d), parse_json_wn, data["json_wn"]),
            ("raw_wn", lambda d=data["raw_wn"]: bare_raw_wn(d), parse_raw_wn, data["raw_wn"]),
        ]
        for form, bare, checked, reply in cases:
            bare_times, checked_times = [], []
            for _ in range(args.rounds):
                bare_times.append(timeit.timeit(bare, number=args.number) / args.number)
                checked_times.append(
                    timeit.timeit(lambda r=reply, c=checked: c(r), number=args.number) / args.number
                )
            bare_median = statistics.median(bare_times)
            checked_median = statistics.median(checked_times)
            ratio = checked_median / bare_median
            if form == "json_wn" and count == 1000:
                worst = ratio
            print(
                f"{form:8} {count:5} codenames {len(reply):6} bytes: bare {bare_median * 1e6:8.1f}"
                f" us, checked {checked_median * 1e6:8.1f} us, ratio {ratio:4.2f}"
            )
    verdict = "meets" if worst <= GOAL else "MISSES"
    print(f"json_wn, 1000 codenames, checked/bare {worst:.2f}: {verdict} the goal of <= {GOAL}x")


if __name__ == "__main__":
    main()
