"""Push round trip (request to ACK) of labnode's DataPushSocket beside PyExpLabSys's, measured now.

Run from the repository root: ``python bench/bench_push.py`` (``--help`` for options).

Two servers, each in its own process, on 127.0.0.1 with an ephemeral port:

- ``labnode``: ``labnode.sockets.DataPushSocket`` (action ``store_last``, allow-list
  ``127.0.0.1``, so the guarded path is what is timed).
- ``reference``: ``tests/sockets/pyexplabsys_push_reference.py``, a ``socketserver.UDPServer``
  answering as PyExpLabSys's ``DataPushSocket`` does (written from its measured behaviour).
- ``reference-node``: the same reference in ``callback_direct`` mode doing a node's work the
  PyExpLabSys way: its callback writes the values to the same instant instrument and logs one
  line per write (as ``labnode serve`` does), then replies ``RET#``.
- ``node``: a whole node (``NodeApp`` + ``NodePush``, as ``labnode serve`` with ``[push]`` runs
  it) on an instrument that answers at once: each write is checked, run on the instrument's
  thread and ACKed after it returns.

One client in this process sends a write, waits for its ACK, and sends the next (1 client, one
request at a time), alternating rounds between the servers so that both see the same machine
load. It prints the median and 99th percentile round trip per server and request form, and the
ratio reference / labnode (above 1: labnode is faster), and each server process's CPU time per
request (warm-up included; Linux). Goal: ratio >= 1 at 1 client.

Then the node's pull socket (``volt#raw``, 1 client, one at a time) on the same node without a
push socket, with an idle one, and while another process pushes writes back to back: a push
socket must not slow the pull socket down (ratio near 1 for the idle case).
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
SERVERS = ("labnode", "reference", "reference-node", "node")
#: What each server's reply to a write starts with.
EXPECT = {"labnode": b"ACK#", "reference": b"ACK#", "reference-node": b"RET#", "node": b"ACK#"}
PULL_REQUEST = b"volt#raw"
REQUESTS = {
    "json_wn": b'json_wn#{"volt": 2.5, "curr": 0.1}',
    "raw_wn": b"raw_wn#volt:float:2.5;curr:float:0.1",
}
GOAL = 1.0  # reference median / labnode median
#: (reference, labnode) pairs whose median ratio is checked against GOAL.
COMPARED = (("reference", "labnode"), ("reference", "node"), ("reference-node", "node"))
PULL_GOAL = 0.9  # pull median without push / with an idle push socket (1.0 = no effect; noise)


class InstantSupply:
    """A driver whose instrument answers at once: writable volt (0..10 V) and curr (0..5 A)."""

    def __init__(self) -> None:
        from labnode.drivers import Channel

        self.values = {"volt": 1.0, "curr": 0.5}
        self.channels = [
            Channel("volt", "V", "output voltage", writable=True, min=0, max=10),
            Channel("curr", "A", "current limit", writable=True, min=0, max=5),
        ]
        self.codenames = ["volt", "curr"]

    def connect(self) -> None: ...
    def close(self) -> None: ...
    def reconnect(self) -> None: ...
    def identify(self) -> str:
        return "instant supply"

    def diagnostics(self) -> dict:
        return {}

    def get_values(self) -> dict[str, float]:
        return dict(self.values)

    def set_value(self, name: str, value: float) -> None:
        self.values[name] = float(value)


def serve_node(with_push: bool) -> None:
    """A node on InstantSupply (reading every 0.1 s), with or without a push socket."""
    import logging

    from labnode.apps.node_app import NodeApp
    from labnode.apps.node_push import NodePush
    from labnode.log_setup import configure_logging

    sys.setswitchinterval(0.0005)  # as `labnode serve` sets it
    # a node logs every write at INFO, as `labnode serve` does (here to /dev/null)
    configure_logging(logging.INFO, open(os.devnull, "w"))  # noqa: SIM115
    app = NodeApp(InstantSupply(), interval=0.1, host=LOOPBACK, port=0, name="bench node")
    app.start()
    push = NodePush(app, port=0, host=LOOPBACK, allow=[LOOPBACK]) if with_push else None
    if push is not None:
        push.start()
    print(f"PORT {push.port if push else 0} {app.socket.port}", flush=True)
    sys.stdin.read()
    if push is not None:
        push.stop()
    app.stop()


def push_load(port: int) -> None:
    """Write back to back to ``port`` until stdin closes (the busy-push case)."""
    import threading

    done = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
    print("PORT 0", flush=True)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
        client.connect((LOOPBACK, port))
        client.settimeout(2.0)
        while not done.is_set():
            client.send(REQUESTS["json_wn"])
            client.recv(65535)


def serve(kind: str) -> None:
    """Run one server in this process until stdin closes; print its port first."""
    sys.path.insert(0, REPO_ROOT)
    if kind in ("node", "node-without-push"):
        serve_node(kind == "node")
        return
    if kind == "labnode":
        from labnode.sockets import DataPushSocket

        server = DataPushSocket("bench push", port=0, host=LOOPBACK, allow=[LOOPBACK])
        server.start()
        port, stop = server.port, server.stop
    else:
        from tests.sockets.pyexplabsys_push_reference import ReferencePushServer

        callback = None
        if kind == "reference-node":
            import logging

            from labnode.log_setup import configure_logging

            configure_logging(logging.INFO, open(os.devnull, "w"))  # noqa: SIM115
            log = logging.getLogger("bench.reference_node")
            supply = InstantSupply()

            def callback(values: dict) -> None:
                for name, value in values.items():
                    supply.set_value(name, value)
                log.info("write %s -> applied", values)

        action = "callback_direct" if callback else "store_last"
        server = ReferencePushServer("bench push", action=action, callback=callback).__enter__()
        port, stop = server.port, lambda: server.__exit__(None, None, None)
    print(f"PORT {port}", flush=True)
    sys.stdin.read()
    stop()


class ServerProcess:
    def __init__(self, kind: str, *extra: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--serve", kind, *extra],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        line = self.process.stdout.readline()
        if not line.startswith("PORT "):
            self.process.kill()
            raise RuntimeError(f"{kind} server did not start: {line!r}")
        self.port = int(line.split()[1])
        self.pull_port = int(line.split()[2]) if len(line.split()) > 2 else None

    def close(self) -> None:
        self.process.stdin.close()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far (Linux /proc; 0 elsewhere)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def round_trips(port: int, request: bytes, count: int, expect: bytes = b"ACK#") -> list[float]:
    """Seconds per request -> reply, one at a time, for ``count`` requests."""
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
        if not reply.startswith(expect):
            raise RuntimeError(f"unexpected reply {reply!r}")
        return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--serve", choices=(*SERVERS, "node-without-push", "push-load"), help=argparse.SUPPRESS
    )
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--requests", type=int, default=2000, help="per round (default 2000)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per server (default 5)")
    parser.add_argument("--check", action="store_true", help="exit 1 when the goal is missed")
    args = parser.parse_args()
    if args.serve == "push-load":
        push_load(args.port)
        return 0
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
        print(
            f"{'form':8} {'server':14} {'median us':>10} {'p99 us':>9} {'req/s':>8} "
            f"{'cpu us/req':>11}"
        )
        for form, request in REQUESTS.items():
            samples: dict[str, list[float]] = {kind: [] for kind in SERVERS}
            cpu = dict.fromkeys(SERVERS, 0.0)
            for _ in range(args.rounds):
                for kind, server in servers.items():
                    before = process_cpu(server.process.pid)
                    samples[kind].extend(
                        round_trips(server.port, request, args.requests, EXPECT[kind])
                    )
                    cpu[kind] += process_cpu(server.process.pid) - before
            medians = {}
            for kind in SERVERS:
                times = sorted(samples[kind])
                medians[kind] = statistics.median(times)
                p99 = times[int(len(times) * 0.99)]
                print(
                    f"{form:8} {kind:14} {medians[kind] * 1e6:10.1f} {p99 * 1e6:9.1f} "
                    f"{len(times) / sum(times):8.0f} {cpu[kind] / len(times) * 1e6:11.1f}"
                )
            for reference, kind in COMPARED:
                ratio = medians[reference] / medians[kind]
                verdict = "ok" if ratio >= GOAL else "MISSED"
                missed |= ratio < GOAL
                print(
                    f"{form:8} ratio {reference}/{kind} (median) {ratio:.2f} "
                    f"(goal >= {GOAL}) {verdict}"
                )
        print(
            "(node: the ACK waits for the write on the instrument's thread and a log line follows "
            "it; reference, like PyExpLabSys's store_last, ACKs before anything is applied and "
            "logs nothing; reference-node applies and logs, as a PyExpLabSys node would)"
        )
        missed |= pull_beside_push(servers["node"], args)
    finally:
        for server in servers.values():
            server.close()
    return 1 if (missed and args.check) else 0


def pull_beside_push(node: ServerProcess, args: argparse.Namespace) -> bool:
    """The node's pull round trip without push, with idle push, under push load; True if missed."""
    plain = ServerProcess("node-without-push")
    try:
        samples: dict[str, list[float]] = {"without push": [], "idle push": [], "busy push": []}
        for _ in range(args.rounds):
            samples["without push"] += round_trips(
                plain.pull_port, PULL_REQUEST, args.requests, b""
            )
            samples["idle push"] += round_trips(node.pull_port, PULL_REQUEST, args.requests, b"")
        load = ServerProcess("push-load", "--port", str(node.port))
        try:
            for _ in range(args.rounds):
                samples["busy push"] += round_trips(
                    node.pull_port, PULL_REQUEST, args.requests, b""
                )
        finally:
            load.close()
    finally:
        plain.close()
    print(f"\npull round trip on the node ({PULL_REQUEST.decode()}, 1 client, one at a time)")
    print(f"{'case':14} {'median us':>10} {'p99 us':>9}")
    medians = {}
    for case, times in samples.items():
        times.sort()
        medians[case] = statistics.median(times)
        print(f"{case:14} {medians[case] * 1e6:10.1f} {times[int(len(times) * 0.99)] * 1e6:9.1f}")
    ratio = medians["without push"] / medians["idle push"]
    verdict = "ok" if ratio >= PULL_GOAL else "MISSED"
    print(f"ratio without/idle push (median) {ratio:.2f} (goal >= {PULL_GOAL}) {verdict}")
    busy = medians["without push"] / medians["busy push"]
    print(f"ratio without/busy push (median) {busy:.2f} (for information: writes share the CPU)")
    return ratio < PULL_GOAL


if __name__ == "__main__":
    sys.exit(main())
