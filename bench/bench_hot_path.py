"""CPU per request of the serving thread alone: this checkout against another (old vs new).

Run from the repository root: ``python bench/bench_hot_path.py --baseline DIR`` (about 40 s),
where DIR holds another labnode checkout, e.g. main's (``git archive main | tar -x -C DIR``).

Throughput on a shared machine moves by 2x between runs; the CPU time the serving thread itself
spends per request moves much less. Both nodes are served at once, each in its own process on the
first CPU, as ``labnode`` of bench/table_servers.py (10 codenames, timeouts, 10 Hz updater thread,
as in bench_sockets.py); ``udp_load`` (in flight 16, the same request mix) loads each in turn,
alternating, for ``--rounds`` rounds. Each process reads its serving thread's CPU clock
(``pthread_getcpuclockid``) and ``requests_served`` before and after; the report gives CPU ns per
request, median and minimum over the rounds, for each, and this / baseline. Goal: the new serving
loop costs no more than 10 % more CPU per request.
"""

from __future__ import annotations

import argparse
import os
import sys

import harness
import table_servers

GOAL = 1.10


def counters(server: harness.ServerProcess) -> tuple[int, int]:
    """(serving-thread CPU ns, requests served) of one node now."""
    cpu_ns, served = server.ask().split()
    return int(cpu_ns), int(served)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", metavar="DIR", help="another labnode checkout")
    parser.add_argument("--rounds", type=int, default=9, help="alternating rounds (9)")
    parser.add_argument("--seconds", type=float, default=1.5, help="load per round (1.5)")
    parser.add_argument(
        "--busy-poll",
        type=float,
        help="the nodes' busy_poll in seconds (default: theirs); 0 leaves only the work per "
        "request, since a starved busy-polling thread also spins between requests",
    )
    args = parser.parse_args(argv)
    harness.c_tools()
    server_cpus, client_cpus = harness.cpu_plan("split")
    roots = {"this checkout": harness.REPO_ROOT}
    if args.baseline:
        roots["baseline"] = harness.checkout_dir(args.baseline)
    poll = [] if args.busy_poll is None else ["--busy-poll", args.busy_poll]
    servers = {}
    per_request: dict[str, list[float]] = {label: [] for label in roots}
    try:
        for label, root in roots.items():
            command = harness.python_command(
                table_servers.__file__, "labnode", "--root", root, "--counters", *poll
            )
            servers[label] = harness.ServerProcess(label, command, server_cpus)
        if client_cpus is not None:
            os.sched_setaffinity(0, client_cpus)
        for round_index in range(args.rounds):
            order = list(servers.items())
            if round_index % 2:
                order.reverse()
            for label, server in order:
                cpu0, served0 = counters(server)
                harness.udp_load(server.port, table_servers.REQUEST_MIX, 16, args.seconds, 0.2)
                cpu1, served1 = counters(server)
                per_request[label].append((cpu1 - cpu0) / max(served1 - served0, 1))
                print(f"[{round_index + 1}/{args.rounds}] {label:<14} "
                      f"{per_request[label][-1]:8.0f} ns/request", file=sys.stderr)  # fmt: skip
    finally:
        for server in servers.values():
            server.stop()
    busy_poll = "default" if args.busy_poll is None else f"{args.busy_poll:g} s"
    print(
        f"serving-thread CPU per request, in flight 16, busy_poll {busy_poll}, {args.rounds} "
        f"rounds of {args.seconds:g} s, 1-minute load average {os.getloadavg()[0]:.2f}:"
    )
    summary = {}
    for label, values in per_request.items():
        summary[label] = (harness.median(values), min(values))
        print(f"  {label:<14} median {summary[label][0]:8.0f} ns   min {summary[label][1]:8.0f} ns"
              f"   ({roots[label]})")  # fmt: skip
    if "baseline" in summary:
        median_ratio = summary["this checkout"][0] / summary["baseline"][0]
        min_ratio = summary["this checkout"][1] / summary["baseline"][1]
        print(f"  this / baseline: median {median_ratio:.3f}x, min {min_ratio:.3f}x   "
              f"goal <= {GOAL:.2f}x (median)   "
              f"{harness.verdict(median_ratio, GOAL, at_most=True)}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
