"""A flood from one client must not starve another: NAME#raw latency, unloaded vs under a flood.

Run from the repository root: ``python bench/bench_flood.py`` (about 40 s; ``--help``).

- **Node**: ``DateDataSocket`` with 1,000 codenames (``channel_0000``...), timeout 5 s each, in
  its own process pinned to the first CPU, with an updater thread that sets all 1,000 values
  with ``set_points_now`` 10 times a second (a driver reading a big instrument at 10 Hz). Its
  ``json_wn`` reply is about 57 KB, its ``status`` about 0.8 KB.
- **Prober** (the second client, 127.0.0.1): ``bench/udp_load`` one request at a time asking
  ``channel_0042#raw`` for ``--seconds``; its median round trip is the figure.
- **Flooder** (the first client, from 127.0.0.2, another host as far as the node can tell): a
  Python process, open loop, paced in 1 ms steps, sending ``--rate`` requests per second
  (default 6,000/s: 2,000 ``status``, 2,000 ``json_wn`` and 2,000 junk datagrams a second, so
  about 0.9 Gbit/s of replies if all were answered) whether or not replies come back. It reads
  and counts what comes back. It runs on the second CPU, beside the prober.

Each round measures the prober unloaded, then with the flooder running; the report gives the
median over rounds of each median, the ratio loaded / unloaded (goal: <= 2x), what the flooder
got back, and the node's own ``dropped`` counts from ``status``. ``--baseline DIR`` runs the same
rounds against another checkout's labnode (e.g. main's) for comparison. Traffic stays on
127.0.0.0/8 and every process stops by itself.
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import threading
import time

import harness
from harness import LOOPBACK, REPO_ROOT, median

FLOODER_HOST = "127.0.0.2"
PROBE_REQUEST = "channel_0042#raw"
FLOOD_MIX = (b"status", b"json_wn", b"junk")
GOAL = 2.0


# --------------------------------------------------------------------------- node process


def serve_node(root: str, codenames: int, lifetime_s: float, reply_budget: str) -> None:
    """Serve a DateDataSocket from ``root`` with an updater thread; stop at stdin EOF."""
    names = [f"channel_{i:04d}" for i in range(codenames)]
    extra = {}
    if reply_budget != "default":
        extra["reply_budget"] = None if reply_budget == "none" else float(reply_budget)
    node = harness.import_labnode(root).DateDataSocket(
        names, port=0, host=LOOPBACK, timeouts=5.0, name="flood", **extra
    )
    stop = threading.Event()

    def update() -> None:
        step = 0
        while not stop.wait(0.1):
            step += 1
            node.set_points_now({name: step + i * 1e-3 for i, name in enumerate(names)})

    node.set_points_now(dict.fromkeys(names, 0.0))
    node.start()
    updater = threading.Thread(target=update, daemon=True)
    updater.start()
    harness.serve_until_stdin_closes(node.port, lifetime_s)
    stop.set()
    node.stop()


# --------------------------------------------------------------------------- flooder process


def flood(port: int, rate: float, seconds: float) -> None:
    """Send ``rate`` datagrams/s of FLOOD_MIX for ``seconds``, open loop; print a JSON summary."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((FLOODER_HOST, 0))
    sock.setblocking(False)
    target = (LOOPBACK, port)
    sent = replies = reply_bytes = send_errors = 0
    kinds: dict[str, int] = {}
    started = time.perf_counter()
    end = started + seconds
    while True:
        now = time.perf_counter()
        if now >= end:
            break
        due = int((now - started) * rate)
        while sent < due:
            try:
                sock.sendto(FLOOD_MIX[sent % len(FLOOD_MIX)], target)
            except OSError:
                send_errors += 1
            sent += 1
        while True:
            try:
                data = sock.recv(65536)
            except BlockingIOError:
                break
            replies += 1
            reply_bytes += len(data)
            if data.startswith(b'{"name"'):
                kind = "status"
            elif data.startswith(b"{"):
                kind = "json_wn"
            else:
                kind = data[:16].decode("ascii", "replace").partition(":")[0]
            kinds[kind] = kinds.get(kind, 0) + 1
        time.sleep(0.001)
    elapsed = time.perf_counter() - started
    print(json.dumps({"sent": sent, "rate": sent / elapsed, "replies": replies,
                      "reply_bytes": reply_bytes, "send_errors": send_errors,
                      "reply_kinds": kinds}))  # fmt: skip


# --------------------------------------------------------------------------- orchestration


def probe(port: int, seconds: float, warmup: float) -> dict:
    """One client asking PROBE_REQUEST one at a time: udp_load's JSON result."""
    return harness.udp_load(port, [PROBE_REQUEST], 1, seconds, warmup)


def node_status(port: int) -> dict:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(2.0)
        for _ in range(5):
            sock.sendto(b"status", (LOOPBACK, port))
            try:
                return json.loads(sock.recv(65536))
            except (TimeoutError, ValueError):
                continue
    return {}


def run_rounds(label: str, root: str, args, cpus) -> dict:
    server_cpus, client_cpus = cpus
    command = harness.python_command(__file__, "--serve", root, "--codenames", args.codenames,
                                     "--reply-budget", args.reply_budget)  # fmt: skip
    node = harness.ServerProcess(label, command, server_cpus)
    unloaded, loaded, floods = [], [], []
    try:
        for round_index in range(args.rounds):
            quiet = probe(node.port, args.seconds, args.warmup)
            unloaded.append(quiet)
            flood_seconds = args.seconds + args.warmup + 1.0
            flooder = subprocess.Popen(
                harness.python_command(__file__, "--flood", node.port, "--rate", args.rate,
                                       "--flood-seconds", flood_seconds),
                stdout=subprocess.PIPE, text=True, preexec_fn=harness.pin_to(client_cpus),
            )  # fmt: skip
            time.sleep(0.5)  # the flood is under way before the prober starts
            busy = probe(node.port, args.seconds, args.warmup)
            loaded.append(busy)
            out, _ = flooder.communicate(timeout=args.seconds + args.warmup + 30)
            floods.append(json.loads(out))
            print(f"[{label} {round_index + 1}/{args.rounds}] p50 unloaded "
                  f"{percentile(quiet, 'p50_us'):.1f} µs, under flood "
                  f"{percentile(busy, 'p50_us'):.1f} µs ({busy['lost']} lost)",
                  file=sys.stderr)  # fmt: skip
        status = node_status(node.port)
    finally:
        node.stop()
    return {"label": label, "root": root, "unloaded": unloaded, "loaded": loaded,
            "floods": floods, "status": status}  # fmt: skip


def percentile(run: dict, key: str) -> float:
    """A latency figure of one probe run; infinite when no request was answered at all."""
    return run[key] if run["requests"] else float("inf")


def report(result: dict, args) -> bool:
    p50_quiet = median([percentile(r, "p50_us") for r in result["unloaded"]])
    p50_busy = median([percentile(r, "p50_us") for r in result["loaded"]])
    p99_quiet = median([percentile(r, "p99_us") for r in result["unloaded"]])
    p99_busy = median([percentile(r, "p99_us") for r in result["loaded"]])
    lost = sum(r["lost"] for r in result["loaded"])
    answered = sum(r["requests"] for r in result["loaded"])
    ratio = p50_busy / p50_quiet if p50_quiet else float("inf")
    flood = result["floods"][len(result["floods"]) // 2]
    met = ratio <= GOAL
    print()
    print(f"{result['label']}: labnode from {result['root']}")
    print(f"  {PROBE_REQUEST} one at a time, median of {args.rounds} rounds of {args.seconds:g} s:")
    print(f"    unloaded      p50 {p50_quiet:8.1f} µs   p99 {p99_quiet:9.1f} µs")
    print(f"    under flood   p50 {p50_busy:8.1f} µs   p99 {p99_busy:9.1f} µs   "
          f"lost {lost} of {answered + lost:,}")  # fmt: skip
    print(f"    ratio p50 under flood / unloaded: {ratio:.2f}x   goal <= {GOAL:g}x   "
          f"{'met' if met else 'MISSED'}")  # fmt: skip
    print(f"  flooder ({FLOODER_HOST}): sent {flood['sent']:,} datagrams at "
          f"{flood['rate']:,.0f}/s, got {flood['replies']:,} replies, "
          f"{flood['reply_bytes'] / 1e6:.1f} MB: {flood['reply_kinds']}")  # fmt: skip
    status = result["status"]
    if "dropped" in status:
        print(f"  node status: requests_served {status.get('requests_served')}, "
              f"dropped {status['dropped']}")  # fmt: skip
    return met


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rate",
        type=float,
        default=6000.0,
        help="flood datagrams per second, status/json_wn/junk in turn (6000)",
    )
    parser.add_argument("--seconds", type=float, default=3.0, help="measured seconds per probe (3)")
    parser.add_argument("--warmup", type=float, default=0.5, help="probe warm-up seconds (0.5)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, median reported (3)")
    parser.add_argument("--codenames", type=int, default=1000, help="codenames on the node")
    parser.add_argument(
        "--reply-budget",
        default="default",
        help="node's reply_budget in bytes/s, 'none', or 'default'",
    )
    parser.add_argument(
        "--baseline", metavar="DIR", help="also run against labnode from DIR (e.g. main's checkout)"
    )
    harness.add_pin_argument(parser, choices=("split", "none"))
    parser.add_argument("--json-out", help="also write the results as JSON to this file")
    parser.add_argument("--check", action="store_true", help="exit 1 when the goal is missed")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--flood", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--flood-seconds", type=float, default=5.0, help=argparse.SUPPRESS)
    parser.add_argument("--lifetime", type=float, default=600.0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)  # fmt: skip
    if not 0 < args.rate <= 100_000 or not 0 < args.seconds <= 60 or not 1 <= args.rounds <= 20:
        parser.error("--rate in (0, 100000], --seconds in (0, 60], --rounds in [1, 20]")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.serve:
        serve_node(args.serve, args.codenames, args.lifetime, args.reply_budget)
        return 0
    if args.flood:
        flood(args.flood, args.rate, args.flood_seconds)
        return 0
    harness.c_tools()
    cpus = harness.cpu_plan(args.pin)
    load = harness.warn_if_busy()
    print(f"node: {args.codenames} codenames, 10 Hz set_points_now; flood: {args.rate:,.0f}/s of "
          f"{', '.join(m.decode() for m in FLOOD_MIX)} in turn from {FLOODER_HOST}; "
          f"--pin {args.pin}; load average before: {load:.2f}")  # fmt: skip
    results = [run_rounds("this checkout", REPO_ROOT, args, cpus)]
    if args.baseline:
        results.append(run_rounds("baseline", harness.checkout_dir(args.baseline), args, cpus))
    met = report(results[0], args)
    for result in results[1:]:
        report(result, args)
    harness.write_json(args.json_out, results)
    return 1 if args.check and not met else 0


if __name__ == "__main__":
    sys.exit(main())
