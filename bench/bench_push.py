"""Push round trip (request to ACK) of labnode's DataPushSocket beside PyExpLabSys's, measured now.

Run from the repository root: ``python bench/bench_push.py`` (``--help`` for options).

Two servers, each in its own process, on 127.0.0.1 with an ephemeral port:

- ``labnode``: ``labnode.sockets.DataPushSocket`` (action ``store_last``, allow-list
  ``127.0.0.1``, so the guarded path is what is timed).
- ``reference``: ``tests/sockets/pyexplabsys_push_reference.py``, a ``socketserver.UDPServer``
  answering as PyExpLabSys's ``DataPushSocket`` does (written from its measured behaviour).

One client in this process sends a write, waits for its ACK, and sends the next (1 client, one
request at a time), alternating rounds between the servers so that both see the same machine
load. It prints the median and 99th percentile round trip per server and request form, and the
ratio reference / labnode (above 1: labnode is faster). Goal: ratio >= 1 at 1 client.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(BENCH_DIR)
LOOPBACK = "127.0.0.1"
SERVERS = ("labnode", "reference")
REQUESTS = {
    "json_wn": b'json_wn#{"volt": 2.5, "curr": 0.1}',
    "raw_wn": b"raw_wn#volt:float:2.5;curr:float:0.1",
}
GOAL = 1.0  # reference median / labnode median


def serve(kind: str) -> None:
    """Run one server in this process until stdin closes; print its port first."""
    sys.path.insert(0, REPO_ROOT)
    if kind == "labnode":
        from labnode.sockets import DataPushSocket

        server = DataPushSocket("bench push", port=0, host=LOOPBACK, allow=[LOOPBACK])
        server.start()
        port, stop = server.port, server.stop
    else:
        from tests.sockets.pyexplabsys_push_reference import ReferencePushServer

        server = ReferencePushServer("bench push").__enter__()
        port, stop = server.port, lambda: server.__exit__(None, None, None)
    print(f"PORT {port}", flush=True)
    sys.stdin.read()
    stop()


class ServerProcess:
    def __init__(self, kind: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--serve", kind],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        line = self.process.stdout.readline()
        if not line.startswith("PORT "):
            self.process.kill()
            raise RuntimeError(f"{kind} server did not start: {line!r}")
        self.port = int(line.split()[1])

    def close(self) -> None:
        self.process.stdin.close()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()


def round_trips(port: int, request: bytes, count: int) -> list[float]:
    """Seconds per request -> ACK, one at a time, for ``count`` requests."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
        client.connect((LOOPBACK, port))
        client.settimeout(2.0)
        for _ in range(50):  # warm up
            client.send(request)
            client.recv(65535)
        times = []
        clock = time.perf_counter
        for _ in range(count):
            start = clock()
            client.send(request)
            reply = client.recv(65535)
            times.append(clock() - start)
        if not reply.startswith(b"ACK#"):
            raise RuntimeError(f"unexpected reply {reply!r}")
        return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--serve", choices=SERVERS, help=argparse.SUPPRESS)
    parser.add_argument("--requests", type=int, default=2000, help="per round (default 2000)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per server (default 5)")
    parser.add_argument("--check", action="store_true", help="exit 1 when the goal is missed")
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return 0
    servers = {kind: ServerProcess(kind) for kind in SERVERS}
    missed = False
    try:
        print(
            f"push round trip, 1 client, one request at a time: {args.rounds} rounds x "
            f"{args.requests} requests per server and form; cpus={os.cpu_count()}"
        )
        print(f"{'form':8} {'server':10} {'median us':>10} {'p99 us':>9} {'req/s':>8}")
        for form, request in REQUESTS.items():
            samples: dict[str, list[float]] = {kind: [] for kind in SERVERS}
            for _ in range(args.rounds):
                for kind, server in servers.items():
                    samples[kind].extend(round_trips(server.port, request, args.requests))
            medians = {}
            for kind in SERVERS:
                times = sorted(samples[kind])
                medians[kind] = statistics.median(times)
                p99 = times[int(len(times) * 0.99)]
                print(
                    f"{form:8} {kind:10} {medians[kind] * 1e6:10.1f} {p99 * 1e6:9.1f} "
                    f"{len(times) / sum(times):8.0f}"
                )
            ratio = medians["reference"] / medians["labnode"]
            verdict = "ok" if ratio >= GOAL else "MISSED"
            missed |= ratio < GOAL
            print(
                f"{form:8} ratio reference/labnode (median) {ratio:.2f} (goal >= {GOAL}) {verdict}"
            )
    finally:
        for server in servers.values():
            server.close()
    return 1 if (missed and args.check) else 0


if __name__ == "__main__":
    sys.exit(main())
