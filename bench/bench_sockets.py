"""Requests/s of labnode's DateDataSocket beside the reference and two ceilings, process level.

Run from the repository root: ``python bench/bench_sockets.py`` (``--help`` for options; about
50 s). Each server runs in its own process on the first CPU (``--pin split``), all on 127.0.0.1
with an ephemeral port, serving the same 10 codenames (bench/table_servers.py):

- ``labnode``: ``DateDataSocket`` with a 10 Hz updater thread.
- ``reference``: the tests' PyExpLabSys-style ``socketserver`` server, which formats every reply
  from the table on each request, with the same updater.
- ``bare-python``: recvfrom / one dict lookup / sendto over pre-built replies (the ceiling of
  any Python server).
- ``c-fixed``: bench/udp_fixed_server.c, one fixed reply (the machine's ceiling, and proof
  that the load generator is not the bottleneck).

``udp_load`` (bench/udp_load.c) on the second CPU keeps 16 requests in flight, then 1, closed
loop, with the same request mix for every server; repetitions interleave the servers. Goals:
labnode / reference >= 3x in flight and >= 1.5x one at a time. Exit status 0 unless something
crashes, or with ``--check`` when a goal is missed.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import harness
import table_servers
from harness import format_ratio, ratio, verdict
from table_servers import REQUEST_MIX

MODES = (("in-flight-16", 16), ("one-at-a-time", 1))
SERVERS = ("labnode", "reference", "bare-python", "c-fixed")
BASELINE = "labnode-base"  # with --baseline DIR: labnode imported from DIR, measured beside
GOALS = {"in-flight-16": 3.0, "one-at-a-time": 1.5}  # labnode / reference


def start_server(kind: str, lifetime_s: float, cpus, baseline: str | None):
    """One server process of ``kind``."""
    if kind == "c-fixed":
        command = [harness.c_tools()["udp_fixed_server"], str(int(lifetime_s))]
    elif kind == BASELINE:
        command = harness.python_command(
            table_servers.__file__, "labnode", "--root", baseline, "--lifetime", lifetime_s
        )
    else:
        command = harness.python_command(table_servers.__file__, kind, "--lifetime", lifetime_s)
    return harness.ServerProcess(kind, command, cpus)


def measure(servers: dict, args) -> dict:
    """Every server in every mode, ``--repeat`` times, interleaved; the runs per (kind, mode)."""
    runs: dict[tuple[str, str], list[dict]] = {}
    for repetition in range(args.repeat):
        for mode, inflight in MODES:
            for kind, server in servers.items():
                print(f"[{repetition + 1}/{args.repeat}] {kind:<12} {mode:<14}", end=" ",
                      flush=True, file=sys.stderr)  # fmt: skip
                cpu_before_s, wall_before_s = server.cpu_seconds(), time.monotonic()
                result = harness.udp_load(
                    server.port, REQUEST_MIX, inflight, args.seconds, args.warmup,
                    args.requests, args.loss_timeout_ms,
                )  # fmt: skip
                cpu_s = server.cpu_seconds() - cpu_before_s
                wall_s = time.monotonic() - wall_before_s
                replies = result["requests"] + result.get("warmup_replies", 0)
                result["server_cpu_share"] = cpu_s / wall_s
                result["server_cpu_us_per_request"] = cpu_s / replies * 1e6 if replies else 0.0
                print(f"{result['rps']:,.0f} req/s", file=sys.stderr)
                runs.setdefault((kind, mode), []).append(result)
    return runs


def print_report(results: dict, args) -> bool:
    """The table, the ratios against the goals; whether every goal is met."""
    print(f"\nload generator: bench/build/udp_load; mix per {len(REQUEST_MIX)} requests: "
          f"{', '.join(REQUEST_MIX)}")  # fmt: skip
    print(f"CPU placement (--pin): {args.pin}; 1-minute load average before the run: "
          f"{args.load_before:.2f}")  # fmt: skip
    print(f"per measurement: {args.seconds:g} s after {args.warmup:g} s warm-up, at most "
          f"{args.requests} requests, loss timeout {args.loss_timeout_ms:g} ms; median of "
          f"{args.repeat} runs\n")  # fmt: skip
    header = (f"{'server':<12} {'mode':<14} {'req/s':>10} {'p50 µs':>9} {'p99 µs':>9} "
              f"{'lost':>6} {'srv CPU':>8} {'CPU µs/req':>11} {'client CPU':>11}")  # fmt: skip
    print(header + "\n" + "-" * len(header))
    for kind in SERVERS + ((BASELINE,) if args.baseline else ()):
        for mode, _ in MODES:
            r = results.get((kind, mode))
            if r is None:
                print(f"{kind:<12} {mode:<14} {'n/a':>10}")
                continue
            print(f"{kind:<12} {mode:<14} {r['rps']:>10,.0f} {r['p50_us']:>9.1f} "
                  f"{r['p99_us']:>9.1f} {r['lost']:>6} {r['server_cpu_share']:>8.0%} "
                  f"{r['server_cpu_us_per_request']:>11.1f} "
                  f"{r['client_cpu_share']:>11.0%}")  # fmt: skip

    def figure(kind: str, mode: str, key: str = "rps") -> float | None:
        result = results.get((kind, mode))
        return result[key] if result else None

    cpu = "server_cpu_us_per_request"
    all_met = True
    print("\nlabnode / reference (goal):")
    for mode, _ in MODES:
        value = ratio(figure("labnode", mode), figure("reference", mode))
        all_met &= verdict(value, GOALS[mode]) == "met"
        print(f"  {mode:<14} {format_ratio(value, 3):>7}   goal >= {GOALS[mode]:g}x   "
              f"{verdict(value, GOALS[mode])}")  # fmt: skip
    lines = {
        "best ceiling (c-fixed or bare-python) / reference: the most any server could reach": (
            lambda mode: ratio(
                max(filter(None, (figure(k, mode) for k in ("c-fixed", "bare-python"))), default=0),
                figure("reference", mode),
            )
        ),
        "labnode / bare-python ceiling": (
            lambda mode: ratio(figure("labnode", mode), figure("bare-python", mode))
        ),
        "server CPU per request, reference / labnode (less noisy on a busy machine)": (
            lambda mode: ratio(figure("reference", mode, cpu), figure("labnode", mode, cpu))
        ),
    }
    for title, value_of in lines.items():
        print(f"{title}:")
        for mode, _ in MODES:
            print(f"  {mode:<14} {format_ratio(value_of(mode)):>7}")
    if args.baseline:
        print(f"labnode (this checkout) / {BASELINE} ({args.baseline}), same run:")
        for mode, _ in MODES:
            rps_ratio = ratio(figure("labnode", mode), figure(BASELINE, mode))
            cpu_ratio = ratio(figure(BASELINE, mode, cpu), figure("labnode", mode, cpu))
            print(f"  {mode:<14} req/s {format_ratio(rps_ratio):>7}   "
                  f"CPU per request, base / this {format_ratio(cpu_ratio):>7}")  # fmt: skip
    against = "labnode" if ("labnode", "in-flight-16") in results else "reference"
    headroom = ratio(figure("c-fixed", "in-flight-16"), figure(against, "in-flight-16"))
    if headroom is not None:
        share = figure(against, "in-flight-16", "client_cpu_share")
        limit = "not the bottleneck" if args.pin == "same" or (headroom >= 1.2 and share < 0.9) \
            else "it MAY BE the bottleneck (or the machine is busy)"  # fmt: skip
        print(f"load generator: drives c-fixed at {format_ratio(headroom)} the in-flight-16 rate "
              f"of {against} and used {share:.0%} of its CPU against it: {limit}")  # fmt: skip
    return all_met


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    option = parser.add_argument
    option("--seconds", type=float, default=2.0, help="measured seconds per server and mode (2)")
    option("--warmup", type=float, default=0.5, help="unmeasured seconds before each (0.5)")
    option("--requests", type=int, default=1_000_000, help="cap on replies per measurement")
    option("--repeat", type=int, default=3, help="runs per server and mode, median shown (3)")
    option("--loss-timeout-ms", type=float, default=200.0, help="a later reply counts as lost")
    option("--servers", default=",".join(SERVERS), help=f"subset of {','.join(SERVERS)}")
    harness.add_pin_argument(parser)
    option("--baseline", metavar="DIR", help=f"another labnode checkout, served as {BASELINE}")
    option("--json-out", help="also write all results as JSON to this file")
    option("--check", action="store_true", help="exit 1 when a goal is missed")
    args = parser.parse_args(argv)
    if not 0 < args.seconds <= 120 or not 0 <= args.warmup <= 30 or args.requests < 1:
        parser.error("--seconds must be in (0, 120], --warmup in [0, 30], --requests >= 1")
    if not 1 <= args.repeat <= 20:
        parser.error("--repeat must be in [1, 20]")
    wanted = [kind for kind in args.servers.split(",") if kind]
    if set(wanted) - set(SERVERS):
        parser.error(f"unknown servers: {sorted(set(wanted) - set(SERVERS))}")
    if args.baseline:
        args.baseline = harness.checkout_dir(args.baseline)
        wanted.insert(wanted.index("labnode") + 1 if "labnode" in wanted else 0, BASELINE)
    args.wanted = wanted
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    harness.c_tools()
    args.load_before = harness.warn_if_busy()
    lifetime_s = 60.0 + (args.warmup + args.seconds + 1.0) * 2 * len(args.wanted) * args.repeat
    server_cpus, client_cpus = harness.cpu_plan(args.pin)
    servers = {}
    try:
        for kind in args.wanted:
            servers[kind] = start_server(kind, lifetime_s, server_cpus, args.baseline)
            if kind != "c-fixed":
                for problem in table_servers.check_replies(servers[kind].port):
                    print(f"warning: {kind}: {problem}", file=sys.stderr)
        if client_cpus is not None:  # udp_load runs from here, so it inherits this placement
            os.sched_setaffinity(0, client_cpus)
        runs = measure(servers, args)
    finally:
        for server in servers.values():
            server.stop()
    results = {key: harness.median_by(key_runs, "rps") for key, key_runs in runs.items()}
    all_met = print_report(results, args)
    harness.write_json(args.json_out, {
        "request_mix": list(REQUEST_MIX), "pin": args.pin, "rps_median_of": args.repeat,
        "cpu_count": os.cpu_count(), "python": sys.version.split()[0],
        "results": [{"server": kind, "mode": mode, "runs": runs[(kind, mode)], **result}
                    for (kind, mode), result in results.items()],
    })  # fmt: skip
    return 1 if args.check and not all_met else 0


if __name__ == "__main__":
    sys.exit(main())
