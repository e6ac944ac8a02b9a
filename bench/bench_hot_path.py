"""CPU per request of the serving thread alone: this checkout against another (old vs new).

Run from the repository root: ``python bench/bench_hot_path.py --baseline DIR`` (about 40 s),
where DIR holds another labnode checkout, e.g. main's (``git archive main | tar -x -C DIR``).

Throughput on a shared machine moves by 2x between runs; the CPU time the serving thread itself
spends per request moves much less. Both nodes are served at once, each in its own process on the
first CPU, with the same 10 codenames, timeouts and 10 Hz updater thread as ``bench_sockets.py``;
``udp_load`` (in flight 16, the same request mix) loads each in turn, alternating, for ``--rounds``
rounds. Each process reads its serving thread's CPU clock (``pthread_getcpuclockid``) and
``requests_served`` before and after; the report gives CPU ns per request, median and minimum over
the rounds, for each, and this / baseline. Goal: the new serving loop costs no more than 10 %
more CPU per request.
"""

from __future__ import annotations

import argparse
import os
import select
import subprocess
import sys
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(BENCH_DIR)
sys.path.insert(0, BENCH_DIR)
from bench_sockets import (  # noqa: E402
    CODENAMES,
    LOOPBACK,
    POINT_TIMEOUT_S,
    PointUpdater,
    build_c_tools,
    cpu_plan,
    pin_to,
    run_c_load,
)

GOAL = 1.10


def serve(root: str, busy_poll: float | None) -> None:
    """Serve labnode from ``root``; answer each stdin line with 'thread_cpu_ns served'."""
    sys.path.insert(0, root)
    from labnode.sockets import DateDataSocket

    extra = {} if busy_poll is None else {"busy_poll": busy_poll}
    node = DateDataSocket(
        CODENAMES, port=0, timeouts=POINT_TIMEOUT_S, name="bench", host=LOOPBACK, **extra
    )
    for codename in CODENAMES:
        node.set_point_now(codename, 0.0)
    node.start()
    clock = time.pthread_getcpuclockid(node._thread.ident)  # noqa: SLF001
    updater = PointUpdater(node.set_point_now)
    updater.start()
    print(f"PORT {node.port}", flush=True)
    for _ in sys.stdin:
        print(f"{time.clock_gettime_ns(clock)} {node.requests_served}", flush=True)
    updater.stop()
    node.stop()


class Server:
    def __init__(self, root: str, cpus, busy_poll: float | None) -> None:
        self.root = root
        poll = [] if busy_poll is None else ["--busy-poll", str(busy_poll)]
        self.process = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--serve", root, *poll],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=REPO_ROOT,
            preexec_fn=pin_to(cpus),
        )  # fmt: skip
        self.port = int(self._line().split()[1])

    def _line(self) -> str:
        ready, _, _ = select.select([self.process.stdout], [], [], 30.0)
        line = self.process.stdout.readline() if ready else ""
        if not line:
            raise RuntimeError(f"server from {self.root} did not answer")
        return line

    def counters(self) -> tuple[int, int]:
        self.process.stdin.write("\n")
        self.process.stdin.flush()
        cpu_ns, served = self._line().split()
        return int(cpu_ns), int(served)

    def stop(self) -> None:
        self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", metavar="DIR", required=False)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--seconds", type=float, default=1.5)
    parser.add_argument(
        "--busy-poll",
        type=float,
        help="the nodes' busy_poll in seconds (default: theirs); 0 leaves only the work per "
        "request, since a starved busy-polling thread also spins between requests",
    )
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve, args.busy_poll)
        return 0
    binaries = build_c_tools()
    if binaries is None:
        raise SystemExit("bench_hot_path.py needs gcc (or cc) for bench/udp_load.c")
    server_cpus, client_cpus = cpu_plan("split")
    roots = {"this checkout": REPO_ROOT}
    if args.baseline:
        roots["baseline"] = os.path.abspath(args.baseline)
    servers = {label: Server(root, server_cpus, args.busy_poll) for label, root in roots.items()}
    if client_cpus is not None:
        os.sched_setaffinity(0, client_cpus)
    per_request: dict[str, list[float]] = {label: [] for label in servers}
    try:
        for round_index in range(args.rounds):
            order = list(servers.items())
            if round_index % 2:
                order.reverse()
            for label, server in order:
                cpu0, served0 = server.counters()
                run_c_load(binaries["udp_load"], server.port, 16, 10**7, args.seconds, 0.2, 200)
                cpu1, served1 = server.counters()
                per_request[label].append((cpu1 - cpu0) / max(served1 - served0, 1))
                print(f"[{round_index + 1}/{args.rounds}] {label:<14} "
                      f"{per_request[label][-1]:8.0f} ns/request", file=sys.stderr)  # fmt: skip
    finally:
        for server in servers.values():
            server.stop()
    poll = "default" if args.busy_poll is None else f"{args.busy_poll:g} s"
    print(f"serving-thread CPU per request, in flight 16, busy_poll {poll}, {args.rounds} rounds "
          f"of {args.seconds:g} s, 1-minute load average {os.getloadavg()[0]:.2f}:")  # fmt: skip
    summary = {}
    for label, values in per_request.items():
        ordered = sorted(values)
        summary[label] = (ordered[(len(ordered) - 1) // 2], ordered[0])
        print(f"  {label:<14} median {summary[label][0]:8.0f} ns   min {summary[label][1]:8.0f} ns"
              f"   ({roots[label]})")  # fmt: skip
    if "baseline" in summary:
        median_ratio = summary["this checkout"][0] / summary["baseline"][0]
        min_ratio = summary["this checkout"][1] / summary["baseline"][1]
        verdict = "met" if median_ratio <= GOAL else "MISSED"
        print(f"  this / baseline: median {median_ratio:.3f}x, min {min_ratio:.3f}x   "
              f"goal <= {GOAL:.2f}x (median)   {verdict}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
