"""One `labnode log` polling many nodes: its CPU share and the time of one full sweep.

Run: python bench/bench_logger.py [--nodes 200] [--channels 10] [--helpers 2] [--seconds 20]

The nodes are labnode's protocol objects (PointTable + DataUDPHandler, what a DateDataSocket
serves) each on its own UDP port of 127.0.0.1, shared by ``--helpers`` helper processes, each
node with ``--channels`` codenames whose values all change every second (so, with no criteria,
every point polled is stored: nodes x channels points/s into SQLite). `labnode log` polls them
all at 1 Hz. Measured over ``--seconds`` after a warm-up: the logger's CPU time per wall second
(/proc/PID/stat, user + system, as a share of one core), and the sweep time the logger reports
(first request sent to last reply received; median and max of the sweeps in the window).
References, in the same run: one sweep done the plain way, asking each node in turn with
DateDataClient (a blocking request per node, as a PyExpLabSys-style logger loop does); and the
floor: json_wn sent to every node and every reply received, nothing parsed or stored (how fast
the helper processes can answer at all on this machine).
Goals: under 10 % of one core and under 20 ms per sweep.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOAL_CPU = 0.10
GOAL_SWEEP_MS = 20.0
LIFETIME = 600.0


def serve(count: int, channels: int) -> None:
    """Helper process: ``count`` nodes; print their ports; update every value each second.

    Each node is labnode's own protocol object (PointTable + DataUDPHandler, what a
    DateDataSocket serves) on its own UDP port; one selector thread serves them all, so the
    helper answers a burst without a hundred threads queueing for the GIL.
    """
    import selectors
    import socket

    from labnode.sockets import DataUDPHandler, PointTable

    codenames = [f"ch{i}" for i in range(channels)]
    selector = selectors.DefaultSelector()
    tables, sockets = [], []
    for i in range(count):
        table = PointTable(codenames)
        handler = DataUDPHandler(table, f"n{i}")
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ, handler)
        tables.append(table)
        sockets.append(sock)
    selector.register(sys.stdin, selectors.EVENT_READ, None)
    print(json.dumps([sock.getsockname()[1] for sock in sockets]), flush=True)
    started = time.monotonic()
    next_update, value = 0.0, 0.0
    while time.monotonic() - started < LIFETIME:
        now = time.monotonic()
        if now >= next_update:
            value += 1
            for table in tables:
                table.set_points_now({codename: value for codename in codenames})
            next_update = now + 1.0
        for key, _ in selector.select(max(0.0, next_update - time.monotonic())):
            if key.data is None:
                if not sys.stdin.readline():
                    return  # the bench closed our stdin
                continue
            sock = key.fileobj
            while True:
                try:
                    request, address = sock.recvfrom(65536)
                except BlockingIOError:
                    break
                sock.sendto(key.data.reply(request), address)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def sequential_sweep_ms(ports: list[int]) -> float:
    """Median ms of a sweep asking each node in turn (json_wn), blocking per node."""
    from labnode.sockets import DateDataClient

    clients = [DateDataClient("127.0.0.1", port, timeout=1.0) for port in ports]
    times = []
    try:
        for _ in range(5):
            start = time.perf_counter()
            for client in clients:
                client.get_all()
            times.append((time.perf_counter() - start) * 1000)
            time.sleep(0.2)
    finally:
        for client in clients:
            client.close()
    return statistics.median(times)


def bare_sweep_ms(ports: list[int]) -> float:
    """Median ms of the floor: send json_wn to every node, receive every reply, parse nothing."""
    import selectors
    import socket

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setblocking(False)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
    selector = selectors.DefaultSelector()
    selector.register(sock, selectors.EVENT_READ)
    times = []
    try:
        for _ in range(5):
            start = time.perf_counter()
            for port in ports:
                sock.sendto(b"json_wn", ("127.0.0.1", port))
            received = 0
            while received < len(ports) and time.perf_counter() - start < 2:
                selector.select(0.1)
                while True:
                    try:
                        sock.recvfrom(65536)
                    except BlockingIOError:
                        break
                    received += 1
            times.append((time.perf_counter() - start) * 1000)
            time.sleep(0.2)
    finally:
        selector.close()
        sock.close()
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=200)
    parser.add_argument("--channels", type=int, default=10)
    parser.add_argument("--helpers", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.channels)
        return
    helpers, ports = [], []
    per_helper = -(-args.nodes // args.helpers)
    with tempfile.TemporaryDirectory() as folder:
        try:
            for first in range(0, args.nodes, per_helper):
                count = min(per_helper, args.nodes - first)
                helper = subprocess.Popen(
                    [sys.executable, __file__, "--serve", str(count)]
                    + ["--channels", str(args.channels)],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                )
                helpers.append(helper)
                ports += json.loads(helper.stdout.readline())
            lab = Path(folder) / "lab.toml"
            lab.write_text(
                "".join(
                    f'[[nodes]]\nname = "n{i}"\naddress = "127.0.0.1:{port}"\ninterval = 1.0\n'
                    for i, port in enumerate(ports)
                )
            )
            reference = sequential_sweep_ms(ports)
            floor = bare_sweep_ms(ports)
            logger = subprocess.Popen(
                [sys.executable, "-m", "labnode", "log", str(lab), "--report-interval", "3600"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                time.sleep(args.warmup)
                status = Path(folder) / "lab.status.json"
                sweeps_before = json.loads(status.read_text())["sweep"]["sweeps"]
                cpu0, wall0 = cpu_seconds(logger.pid), time.monotonic()
                time.sleep(args.seconds)
                cpu1, wall1 = cpu_seconds(logger.pid), time.monotonic()
                health = json.loads(status.read_text())
            finally:
                logger.terminate()
                logger.wait(30)
        finally:
            for helper in helpers:
                helper.stdin.close()
                helper.wait(10)
    share = (cpu1 - cpu0) / (wall1 - wall0)
    sweep = health["sweep"]
    stored = sum(node.get("stored", 0) for node in health["nodes"])
    answering = sum(1 for node in health["nodes"] if node["answering"])
    complete = sweep["sweeps"] - sweeps_before
    print(
        f"labnode log: {args.nodes} nodes x {args.channels} channels at 1 Hz, "
        f"{args.helpers} helper processes, {args.seconds:g} s measured after {args.warmup:g} s"
    )
    print(f"  nodes answering            {answering}/{args.nodes}")
    print(f"  complete sweeps in window  {complete}")
    print(f"  points stored (whole run)  {stored}")
    print(f"  logger CPU                 {share * 100:.1f} % of one core (goal < {GOAL_CPU:.0%})")
    print(
        f"  sweep time                 median {sweep['median_ms']} ms, max {sweep['max_ms']} ms "
        f"(last 100 sweeps; goal < {GOAL_SWEEP_MS:g} ms)"
    )
    print(f"  reference: one sweep node by node with DateDataClient  {reference:.1f} ms")
    print(f"  floor: send all, receive all, parse nothing (same socket scheme)  {floor:.1f} ms")
    if sweep["median_ms"]:
        print(f"  reference / labnode log median sweep  {reference / sweep['median_ms']:.1f}x")
        print(f"  labnode log median sweep / floor       {sweep['median_ms'] / floor:.1f}x")
    cpu_ok = share < GOAL_CPU
    sweep_ok = sweep["median_ms"] is not None and sweep["median_ms"] < GOAL_SWEEP_MS
    print(
        f"  goals: CPU {'met' if cpu_ok else 'NOT met'}, sweep {'met' if sweep_ok else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
