"""The 10-codename servers that bench_sockets.py and bench_hot_path.py load, one per process.

Run by those benches as ``python bench/table_servers.py KIND [--root DIR] ...``; it prints
``PORT n`` and serves until its stdin closes. KIND is one of:

- ``labnode``: ``labnode.sockets.DateDataSocket`` (imported from ``--root``, default this
  checkout) serving CODENAMES, each with a timeout of POINT_TIMEOUT_S (so the OLD_DATA check is
  live), with a PointUpdater thread calling ``set_point_now`` on every codename at 10 Hz.
- ``reference``: the tests' PyExpLabSys-style ``socketserver`` reference
  (``tests/sockets/pyexplabsys_reference.py``), same codenames, timeouts and updater thread.
- ``bare-python``: the ceiling of any Python server: blocking ``recvfrom``, one dict lookup of a
  pre-built reply, ``sendto``; no updater.

``--counters`` (labnode only) answers each line on stdin with "serving-thread-CPU-ns
requests_served", for bench_hot_path.py.
"""

from __future__ import annotations

import argparse
import json
import math
import socket
import threading
import time
from collections.abc import Callable

from harness import LOOPBACK, REPO_ROOT, import_labnode, serve_until_stdin_closes

CODENAMES = [f"cn{index:02d}" for index in range(10)]
POINT_TIMEOUT_S = 0.5  # every codename has a timeout, so the OLD_DATA check runs on each reply
UPDATE_PERIOD_S = 0.1  # 10 Hz refresh of every codename
# One request per slot, sent round-robin, identical for every server:
# 40 % json_wn, 40 % raw, 20 % NAME#raw.
REQUEST_MIX = (
    "json_wn", "raw", "json_wn", "raw", "cn03#raw",
    "json_wn", "raw", "json_wn", "raw", "cn07#raw",
)  # fmt: skip
KINDS = ("labnode", "reference", "bare-python")
UNKNOWN_COMMAND = b"UNKNOWN_COMMMAND"


class PointUpdater(threading.Thread):
    """Call ``set_point_now`` for every codename every UPDATE_PERIOD_S seconds (a 10 Hz driver)."""

    def __init__(self, set_point_now: Callable[[str, float], None]) -> None:
        super().__init__(name="point-updater", daemon=True)
        self._set_point_now = set_point_now
        self._stopped = threading.Event()

    def run(self) -> None:
        next_update = time.monotonic()
        while not self._stopped.is_set():
            phase = time.time()
            for index, codename in enumerate(CODENAMES):
                self._set_point_now(codename, math.sin(phase + index) * 10.0**index)
            next_update += UPDATE_PERIOD_S
            self._stopped.wait(max(0.0, next_update - time.monotonic()))

    def stop(self) -> None:
        self._stopped.set()
        self.join(timeout=1.0)


def serve_labnode(root: str, lifetime_s: float, busy_poll: float | None, counters: bool) -> None:
    """DateDataSocket from ``root`` with a 10 Hz updater, until stdin closes."""
    sockets = import_labnode(root)
    extra = {} if busy_poll is None else {"busy_poll": busy_poll}
    node = sockets.DateDataSocket(
        CODENAMES, port=0, timeouts=POINT_TIMEOUT_S, name="bench", host=LOOPBACK, **extra
    )
    for codename in CODENAMES:
        node.set_point_now(codename, 0.0)
    node.start()
    answer = None
    if counters:
        clock = time.pthread_getcpuclockid(node._thread.ident)  # noqa: SLF001

        def answer() -> str:
            return f"{time.clock_gettime_ns(clock)} {node.requests_served}"

    updater = PointUpdater(node.set_point_now)
    updater.start()
    serve_until_stdin_closes(node.port, lifetime_s, answer)
    updater.stop()
    node.stop()


def serve_reference(lifetime_s: float) -> None:
    """The tests' PyExpLabSys-style reference with a 10 Hz updater, until stdin closes."""
    from tests.sockets.pyexplabsys_reference import ReferenceServer

    with ReferenceServer(CODENAMES, timeouts=POINT_TIMEOUT_S, name="bench") as server:
        for codename in CODENAMES:
            server.set_point_now(codename, 0.0)
        updater = PointUpdater(server.set_point_now)
        updater.start()
        serve_until_stdin_closes(server.port, lifetime_s)
        updater.stop()


def bare_replies() -> dict[bytes, bytes]:
    """Pre-built replies to each request of the mix, formatted as the reference formats them."""
    now = time.time()
    points = {name: (now, math.sin(index) * 10.0**index) for index, name in enumerate(CODENAMES)}
    replies = {
        b"raw": ";".join("{},{}".format(*points[name]) for name in CODENAMES),
        b"json_wn": json.dumps(points),
    }
    for name in CODENAMES:
        replies[f"{name}#raw".encode()] = "{},{}".format(*points[name])
    return {request: reply.encode("ascii") for request, reply in replies.items()}


def serve_bare_python(lifetime_s: float) -> None:
    """The Python ceiling: recvfrom, one dict lookup, sendto; until stdin closes."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((LOOPBACK, 0))  # blocking, no timeout: a timeout would add a poll() per call
    replies = bare_replies()
    stopping = threading.Event()

    def serve() -> None:
        recvfrom, sendto, lookup = sock.recvfrom, sock.sendto, replies.get
        while not stopping.is_set():
            try:
                request, address = recvfrom(2048)
                if address is not None:  # None only after shutdown
                    sendto(lookup(request, UNKNOWN_COMMAND), address)
            except OSError:
                continue

    thread = threading.Thread(target=serve, name="bare-python", daemon=True)
    thread.start()
    serve_until_stdin_closes(sock.getsockname()[1], lifetime_s)
    stopping.set()
    try:
        sock.shutdown(socket.SHUT_RDWR)  # wakes the blocked recvfrom (Linux)
    except OSError:
        pass
    thread.join(timeout=1.0)
    sock.close()


def check_replies(port: int) -> list[str]:
    """Send each distinct request of the mix once; the problems found (empty when all fine)."""
    problems = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(1.0)
        for request in dict.fromkeys(REQUEST_MIX):
            sock.sendto(request.encode("ascii"), (LOOPBACK, port))
            try:
                reply = sock.recvfrom(65535)[0].decode("ascii")
            except (TimeoutError, UnicodeDecodeError) as error:
                problems.append(f"{request}: {error!r}")
                continue
            if request == "json_wn":
                table = json.loads(reply)
                fine = list(table) == CODENAMES and all(
                    isinstance(point, list) and len(point) == 2 for point in table.values()
                )
            elif request == "raw":
                fields = reply.split(";")
                fine = len(fields) == len(CODENAMES) and all(f.count(",") == 1 for f in fields)
            else:
                fine = reply.count(",") == 1
            if not fine:
                problems.append(f"{request}: unexpected reply {reply[:80]!r}")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=KINDS)
    parser.add_argument("--root", default=REPO_ROOT, help="labnode checkout to serve (labnode)")
    parser.add_argument("--busy-poll", type=float, help="DateDataSocket busy_poll (labnode)")
    parser.add_argument("--counters", action="store_true", help="answer stdin lines (labnode)")
    parser.add_argument("--lifetime", type=float, default=600.0, help="stop after (seconds)")
    args = parser.parse_args()
    if args.kind == "labnode":
        serve_labnode(args.root, args.lifetime, args.busy_poll, args.counters)
    elif args.kind == "reference":
        serve_reference(args.lifetime)
    else:
        serve_bare_python(args.lifetime)


if __name__ == "__main__":
    main()
