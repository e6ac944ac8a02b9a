"""What checking a reply costs: pull_replies parsers vs a bare json.loads / split of the same bytes.

Run from the repository root: ``python bench/bench_pull_replies.py`` (about 2 minutes;
``--fast`` halves it; ``-o FILE`` and the rest of pyperf's options).

The replies are the server's own (``DataUDPHandler``) for 10 and 1,000 codenames, forms
``json_wn`` and ``raw_wn``. For each, two pyperf benchmarks: ``checked`` (``parse_json_wn`` /
``parse_raw_wn``) and ``bare``, what a trusting client does (``json.loads``, or split on ``;``
and ``,`` with ``float()``). Printed: checked / bare per case. Goal: on 1,000 codenames (where
parsing costs milliseconds) the checked parse of ``json_wn`` costs at most 3x the bare
``json.loads``; on 10 codenames the figure is tens of µs.
"""

from __future__ import annotations

import json
import sys

import harness

GOAL = 3.0
NOW = 1_763_926_800.123456
SIZES = (10, 1000)
FORMS = ("json_wn", "raw_wn")
_REPLIES: dict[int, dict[str, bytes]] = {}


def reply(count: int, form: str) -> bytes:
    """The server's ``form`` reply for ``count`` codenames, made once per worker process."""
    if count not in _REPLIES:
        from labnode.sockets import DataUDPHandler, PointTable

        codenames = [f"channel_{i:04d}" for i in range(count)]
        table = PointTable(codenames, timeouts=10.0)
        for i, codename in enumerate(codenames):
            table.set_point(codename, (NOW - i * 1e-3, 1.234e-6 * (i + 1)))
        handler = DataUDPHandler(table, "bench", clock=lambda: NOW)
        _REPLIES[count] = {name: handler.reply(name.encode()) for name in FORMS}
    return _REPLIES[count][form]


def bare_raw_wn(data: bytes) -> dict[str, tuple[float, float]]:
    result = {}
    for cell in data.decode().split(";"):
        name, _, point = cell.partition(":")
        x, _, y = point.partition(",")
        result[name] = (float(x), float(y))
    return result


def parser(form: str, checked: bool):
    if checked:
        from labnode.sockets.pull_replies import parse_json_wn, parse_raw_wn

        return parse_json_wn if form == "json_wn" else parse_raw_wn
    return json.loads if form == "json_wn" else bare_raw_wn


def time_parse(loops: int, count: int, form: str, checked: bool) -> float:
    """CPU seconds for ``loops`` parses of one reply."""
    parse, data, clock = parser(form, checked), reply(count, form), harness.cpu_clock
    started = clock()
    for _ in range(loops):
        parse(data)
    return clock() - started


def main() -> int:
    runner = harness.pyperf_runner(__doc__.splitlines()[0])
    met = True
    for count in SIZES:
        for form in FORMS:
            name = f"{form} {count} codenames"
            checked = runner.bench_time_func(f"{name} checked", time_parse, count, form, True)
            bare = runner.bench_time_func(f"{name} bare", time_parse, count, form, False)
            goal = GOAL if (form, count) == ("json_wn", 1000) else None
            met &= harness.pyperf_ratio(
                runner, f"{name} checked / bare", checked, bare, goal, at_most=True
            )
    return harness.pyperf_exit(runner, met)


if __name__ == "__main__":
    sys.exit(main())
