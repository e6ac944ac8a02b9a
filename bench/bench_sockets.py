"""Throughput and latency of labnode's DateDataSocket beside a reference and two ceilings.

Run from the repository root: ``python bench/bench_sockets.py`` (``--help`` for options).

Servers, each in its own process, all on 127.0.0.1 with an ephemeral port:

- ``labnode``: ``labnode.sockets.DateDataSocket`` with a 10 Hz updater thread.
- ``reference``: ``socketserver.UDPServer`` with a handler that formats every reply from the
  table on each request, the way PyExpLabSys serves, with the same 10 Hz updater thread.
- ``bare-python``: a recvfrom / one dict lookup / sendto loop over pre-built replies (ceiling
  for any Python server).
- ``c-fixed``: a minimal C server answering one fixed reply (ceiling for the machine, and proof
  that the load generator is not the bottleneck).

The load generator (``bench/udp_load.c``, built into ``bench/build/``; a pure-Python fallback
when gcc is missing) runs in another process and keeps W requests in flight, closed loop, with
the same request mix for every server. Exit status is 0 unless something crashes, or with
``--check`` when a goal is missed.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import select
import selectors
import shutil
import socket
import socketserver
import subprocess
import sys
import threading
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(BENCH_DIR)
BUILD_DIR = os.path.join(BENCH_DIR, "build")
LOOPBACK = "127.0.0.1"

CODENAMES = [f"cn{index:02d}" for index in range(10)]
POINT_TIMEOUT_S = 0.5  # every codename has a timeout, so the OLD_DATA check runs on each reply
UPDATE_PERIOD_S = 0.1  # 10 Hz refresh of every codename
# One request per slot, sent round-robin, identical for every server:
# 40 % json_wn, 40 % raw, 20 % NAME#raw.
REQUEST_MIX = (
    "json_wn", "raw", "json_wn", "raw", "cn03#raw",
    "json_wn", "raw", "json_wn", "raw", "cn07#raw",
)  # fmt: skip
MODES = (("in-flight-16", 16), ("one-at-a-time", 1))
SERVERS = ("labnode", "reference", "bare-python", "c-fixed")
#: With --baseline DIR: labnode imported from DIR (e.g. main's checkout), measured beside it.
BASELINE = "labnode-base"
GOALS = {"in-flight-16": 3.0, "one-at-a-time": 1.5}  # labnode / reference
SET_POINT_GOAL_NS = 1500.0
OLD_DATA = "OLD_DATA"
UNKNOWN_COMMAND = "UNKNOWN_COMMMAND"


# --------------------------------------------------------------------------- servers


class PointUpdater(threading.Thread):
    """Call ``set_point_now`` for every codename every ``UPDATE_PERIOD_S`` seconds."""

    def __init__(self, set_point_now):
        super().__init__(name="point-updater", daemon=True)
        self._set_point_now = set_point_now
        self._stopped = threading.Event()

    def run(self):
        next_update = time.monotonic()
        while not self._stopped.is_set():
            phase = time.time()
            for index, codename in enumerate(CODENAMES):
                self._set_point_now(codename, math.sin(phase + index) * 10.0**index)
            next_update += UPDATE_PERIOD_S
            self._stopped.wait(max(0.0, next_update - time.monotonic()))

    def stop(self):
        self._stopped.set()
        self.join(timeout=1.0)


class ReferenceHandler(socketserver.BaseRequestHandler):
    """Format every reply from the table on each request, as PyExpLabSys does."""

    def handle(self):
        data, sock = self.request
        sock.sendto(self.reply_for(data), self.client_address)

    def reply_for(self, data):
        """Decode the request, dispatch by command, format the reply from the table."""
        try:
            command = data.decode("ascii")
        except UnicodeDecodeError:
            command = ""
        if command.count("#") == 1:
            reply = self._single_value(command)
        else:
            reply = self._all_values(command)
        return reply.encode("ascii")

    def _is_old(self, codename):
        timeout = self.server.timeouts.get(codename)
        if timeout is None:
            return False
        return time.time() - self.server.points[codename][0] > timeout

    def _single_value(self, command):
        codename, fmt = command.split("#")
        points = self.server.points
        if codename not in points:
            return UNKNOWN_COMMAND
        if fmt == "raw":
            return OLD_DATA if self._is_old(codename) else "{},{}".format(*points[codename])
        if fmt == "json":
            return json.dumps(OLD_DATA if self._is_old(codename) else points[codename])
        return UNKNOWN_COMMAND

    def _all_values(self, command):
        points, codenames = self.server.points, self.server.codenames
        if command == "raw":
            return ";".join(
                OLD_DATA if self._is_old(name) else "{},{}".format(*points[name])
                for name in codenames
            )
        if command == "json":
            return json.dumps(
                [OLD_DATA if self._is_old(name) else points[name] for name in codenames]
            )
        if command == "raw_wn":
            return ";".join(
                f"{name}:{OLD_DATA}"
                if self._is_old(name)
                else "{}:{},{}".format(name, *points[name])
                for name in codenames
            )
        if command == "json_wn":
            table = dict(points)
            for name in codenames:
                if self._is_old(name):
                    table[name] = OLD_DATA
            return json.dumps(table)
        if command == "codenames_raw":
            return ",".join(codenames)
        if command == "codenames_json":
            return json.dumps(codenames)
        return UNKNOWN_COMMAND


class ReferenceServer(socketserver.UDPServer):
    """The straightforward server: a socketserver.UDPServer over a dict of points."""

    def __init__(self, codenames, timeout):
        super().__init__((LOOPBACK, 0), ReferenceHandler)
        self.codenames = list(codenames)
        self.timeouts = dict.fromkeys(codenames, timeout)
        self.points = dict.fromkeys(codenames, (0.0, 0.0))
        self._thread = threading.Thread(
            target=self.serve_forever, name="reference-udp", daemon=True
        )

    @property
    def port(self):
        return self.server_address[1]

    def set_point_now(self, codename, value):
        self.points[codename] = (time.time(), value)

    def start(self):
        self._thread.start()

    def stop(self):
        self.shutdown()
        self.server_close()
        self._thread.join(timeout=1.0)


def build_bare_replies():
    """Pre-built replies, one per request of the mix, from a reference-formatted table."""
    now = time.time()
    points = {name: (now, math.sin(index) * 10.0**index) for index, name in enumerate(CODENAMES)}
    replies = {
        b"raw": ";".join("{},{}".format(*points[name]) for name in CODENAMES),
        b"json_wn": json.dumps(points),
    }
    for name in CODENAMES:
        replies[f"{name}#raw".encode()] = "{},{}".format(*points[name])
    return {request: reply.encode("ascii") for request, reply in replies.items()}


def serve_bare_python(lifetime_s):
    """The Python ceiling: recvfrom, one dict lookup, sendto; stops at stdin EOF or lifetime."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((LOOPBACK, 0))  # blocking, no timeout: a timeout would add a poll() per call
    replies = build_bare_replies()
    unknown = UNKNOWN_COMMAND.encode()
    stopping = threading.Event()

    def stop_when_told():
        wait_for_stdin_eof(lifetime_s)
        stopping.set()
        try:
            sock.shutdown(socket.SHUT_RDWR)  # wakes the blocked recvfrom (Linux)
        except OSError:
            pass

    threading.Thread(target=stop_when_told, daemon=True).start()
    print(f"PORT {sock.getsockname()[1]}", flush=True)
    recvfrom, sendto, lookup = sock.recvfrom, sock.sendto, replies.get
    while not stopping.is_set():
        try:
            request, address = recvfrom(2048)
            if address is not None:  # None only after shutdown
                sendto(lookup(request, unknown), address)
        except OSError:
            continue
    sock.close()


def wait_for_stdin_eof(lifetime_s):
    """Block until stdin is closed (the orchestrator's stop signal) or lifetime_s passed."""
    closed = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), closed.set()), daemon=True).start()
    closed.wait(lifetime_s)


def serve_with_updater(kind, lifetime_s, root=REPO_ROOT):
    """Run labnode's socket (from ``root``) or the reference here with a 10 Hz updater thread."""
    if kind in ("labnode", BASELINE):
        sys.path.insert(0, root)
        from labnode.sockets import DateDataSocket

        if not os.path.abspath(sys.modules["labnode"].__file__).startswith(os.path.abspath(root)):
            raise SystemExit(f"{kind}: labnode was not imported from {root}")

        server = DateDataSocket(
            CODENAMES, port=0, timeouts=POINT_TIMEOUT_S, name="bench", host=LOOPBACK
        )
    else:
        server = ReferenceServer(CODENAMES, POINT_TIMEOUT_S)
    for codename in CODENAMES:
        server.set_point_now(codename, 0.0)
    server.start()
    updater = PointUpdater(server.set_point_now)
    updater.start()
    print(f"PORT {server.port}", flush=True)
    wait_for_stdin_eof(lifetime_s)
    updater.stop()
    server.stop()


# --------------------------------------------------------------------------- load generation


def build_c_tools(force=False):
    """Compile the C load generator and fixed server into bench/build; None without gcc."""
    compiler = shutil.which("gcc") or shutil.which("cc")
    if compiler is None:
        return None
    os.makedirs(BUILD_DIR, exist_ok=True)
    binaries = {}
    for name in ("udp_load", "udp_fixed_server"):
        source = os.path.join(BENCH_DIR, f"{name}.c")
        binary = os.path.join(BUILD_DIR, name)
        stale = not os.path.exists(binary) or os.path.getmtime(binary) < os.path.getmtime(source)
        if force or stale:
            subprocess.run([compiler, "-O2", "-Wall", "-o", binary, source], check=True)
        binaries[name] = binary
    return binaries


def run_c_load(binary, port, inflight, requests, seconds, warmup_s, timeout_ms):
    """Run the C load generator once and return its JSON result."""
    command = [
        binary, "-p", str(port), "-w", str(inflight), "-n", str(requests),
        "-t", str(seconds), "-W", str(warmup_s), "-o", str(timeout_ms),
        "-m", ",".join(REQUEST_MIX),
    ]  # fmt: skip
    limit_s = warmup_s + seconds + 30
    finished = subprocess.run(command, capture_output=True, text=True, timeout=limit_s, check=True)
    return json.loads(finished.stdout)


def run_python_load(port, inflight, requests, seconds, warmup_s, timeout_ms):
    """Pure-Python fallback of udp_load: same loop, same result keys (it is much slower)."""
    selector = selectors.DefaultSelector()
    mix = [item.encode("ascii") for item in REQUEST_MIX]
    timeout_ns = int(timeout_ms * 1e6)
    sent_ns = [0] * inflight
    next_item = 0

    def open_slot(slot):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setblocking(False)
        sock.connect((LOOPBACK, port))
        selector.register(sock, selectors.EVENT_READ, slot)
        return sock

    def send(slot, request):
        sent_ns[slot] = time.perf_counter_ns()
        try:
            slot_socks[slot].send(request)
        except OSError:
            pass  # counted as lost by the timeout

    slot_socks = [open_slot(slot) for slot in range(inflight)]
    slot_request = [b""] * inflight
    for slot in range(inflight):
        slot_request[slot] = mix[next_item]
        next_item = (next_item + 1) % len(mix)
        send(slot, slot_request[slot])
    start_ns = time.perf_counter_ns()
    start_cpu_s = time.process_time()
    measure_ns = start_ns + int(warmup_s * 1e9)
    end_ns = measure_ns + int(seconds * 1e9)
    latencies_ns, lost, unknown, reply_bytes, stop_ns, warmup_replies = [], 0, 0, 0, 0, 0
    while not stop_ns:
        now = time.perf_counter_ns()
        if now >= end_ns:
            break
        for key, _ in selector.select(timeout=0.05):
            slot = key.data
            try:
                reply = key.fileobj.recv(65535)
            except OSError:
                continue
            done = time.perf_counter_ns()
            if sent_ns[slot] >= measure_ns:
                latencies_ns.append(done - sent_ns[slot])
                reply_bytes += len(reply)
                unknown += reply.startswith(UNKNOWN_COMMAND.encode())
                if len(latencies_ns) >= requests:
                    stop_ns = done
                    break
            else:
                warmup_replies += 1
            slot_request[slot] = mix[next_item]
            next_item = (next_item + 1) % len(mix)
            send(slot, slot_request[slot])
        now = time.perf_counter_ns()
        for slot in range(inflight):
            if now - sent_ns[slot] > timeout_ns:
                lost += 1
                selector.unregister(slot_socks[slot])
                slot_socks[slot].close()
                slot_socks[slot] = open_slot(slot)
                send(slot, slot_request[slot])
    stop_ns = stop_ns or time.perf_counter_ns()
    for sock in slot_socks:
        sock.close()
    selector.close()
    latencies_ns.sort()
    count = len(latencies_ns)
    elapsed_s = max((stop_ns - measure_ns) / 1e9, 1e-9)

    def percentile_us(fraction):
        return latencies_ns[int((count - 1) * fraction)] / 1e3 if count else 0.0

    return {
        "client": "python", "inflight": inflight, "requests": count, "elapsed_s": elapsed_s,
        "rps": count / elapsed_s, "p50_us": percentile_us(0.5), "p90_us": percentile_us(0.9),
        "p99_us": percentile_us(0.99), "p999_us": percentile_us(0.999),
        "max_us": percentile_us(1.0), "mean_us": sum(latencies_ns) / count / 1e3 if count else 0.0,
        "lost": lost, "unknown_replies": unknown, "send_errors": 0,
        "warmup_replies": warmup_replies,
        "mean_reply_bytes": reply_bytes / count if count else 0.0,
        "client_cpu_share": (time.process_time() - start_cpu_s) / ((stop_ns - start_ns) / 1e9),
    }  # fmt: skip


# --------------------------------------------------------------------------- orchestration


def pin_to(cpus):
    """A preexec_fn that pins the child process to cpus, or None to leave it unpinned."""
    if cpus is None:
        return None
    return lambda: os.sched_setaffinity(0, cpus)


class ServerProcess:
    """One benchmarked server in its own process; it exits when its stdin closes."""

    def __init__(self, kind, command, cpus=None):
        self.kind = kind
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=REPO_ROOT,
            preexec_fn=pin_to(cpus),
        )
        self.port = self._read_port()

    def _read_port(self):
        ready, _, _ = select.select([self.process.stdout], [], [], 15.0)
        line = self.process.stdout.readline() if ready else ""
        if not line.startswith("PORT "):
            self.stop()
            raise RuntimeError(f"{self.kind} server did not start (got {line!r})")
        return int(line.split()[1])

    def cpu_seconds(self):
        """User + system CPU seconds the server process has used so far (Linux /proc)."""
        try:
            with open(f"/proc/{self.process.pid}/stat", encoding="ascii") as stat:
                fields = stat.read().rpartition(")")[2].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self):
        """Close stdin (the stop signal), then wait; kill only this process if it hangs."""
        if self.process.stdin and not self.process.stdin.closed:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=5.0)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5.0)


def start_server(kind, binaries, lifetime_s, cpus, baseline=None):
    """Start one server process, or return None when it cannot run here."""
    if kind == "c-fixed":
        if binaries is None:
            return None
        return ServerProcess(kind, [binaries["udp_fixed_server"], str(int(lifetime_s))], cpus)
    command = [sys.executable, os.path.abspath(__file__), "--serve", kind,
               "--lifetime", str(lifetime_s)]  # fmt: skip
    if kind == BASELINE:
        command += ["--serve-root", baseline]
    return ServerProcess(kind, command, cpus)


def cpu_plan(pin):
    """(server CPUs, load-generator CPUs) for a --pin choice; (None, None) leaves it to Linux."""
    if pin == "none" or not hasattr(os, "sched_getaffinity"):
        return None, None
    available = sorted(os.sched_getaffinity(0))
    if len(available) < 2:
        return None, None
    if pin == "same":
        return {available[0]}, {available[0]}
    return {available[0]}, {available[1]}


def check_replies(port):
    """Send each distinct request of the mix once; return a list of problems (empty if fine)."""
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


def median_ns_per_request(reply_for, rounds=200, mix_per_round=10):
    """Median over rounds of the time per request to compute replies to the mix, in ns."""
    requests = [item.encode("ascii") for item in REQUEST_MIX] * mix_per_round
    per_request_ns = []
    for _ in range(rounds):
        started = time.perf_counter_ns()
        for request in requests:
            reply_for(request)
        per_request_ns.append((time.perf_counter_ns() - started) / len(requests))
    return sorted(per_request_ns)[rounds // 2]


def measure_reply_compute():
    """In-process cost of computing one reply (no socket): labnode's handler vs the reference."""
    compute = {}
    reference_server = type("TableOnly", (), {})()
    reference_server.codenames = list(CODENAMES)
    reference_server.timeouts = dict.fromkeys(CODENAMES, POINT_TIMEOUT_S)
    reference_server.points = {name: (time.time() + 3600, 1.5) for name in CODENAMES}
    reference_handler = ReferenceHandler.__new__(ReferenceHandler)
    reference_handler.server = reference_server
    compute["reference_ns"] = median_ns_per_request(reference_handler.reply_for)
    sys.path.insert(0, REPO_ROOT)
    try:
        from labnode.sockets import DateDataSocket

        data_socket = DateDataSocket(CODENAMES, port=0, timeouts=3600.0, host=LOOPBACK)
        labnode_reply = data_socket.handler.reply  # not started: the handler alone
    except (ImportError, AttributeError) as error:
        compute["labnode_error"] = repr(error)
        return compute
    for codename in CODENAMES:
        data_socket.set_point_now(codename, 1.5)
    compute["labnode_cached_ns"] = median_ns_per_request(labnode_reply)

    def reply_after_set_point(request):
        data_socket.set_point_now("cn00", 1.5)
        return labnode_reply(request)

    compute["labnode_after_set_point_ns"] = median_ns_per_request(reply_after_set_point)
    return compute


SERVING_THREAD_PREFIX = {"labnode": "DateDataSocket:", "reference": "reference-udp"}
SYSCALL_LEAVES = ("sendto", "recvfrom", "poll", "select", "epoll_wait")


def profile_serving_thread(kind, binaries, seconds, server_cpus, client_cpus):
    """py-spy the serving thread of one server under in-flight-16 load; a summary dict."""
    py_spy = shutil.which("py-spy")
    if py_spy is None or binaries is None:
        return {"server": kind, "error": "needs py-spy on PATH and the C load generator"}
    server = start_server(kind, binaries, seconds + 60.0, server_cpus)
    samples_path = os.path.join(BUILD_DIR, f"profile-{kind}.txt")
    try:
        load = subprocess.Popen(
            [binaries["udp_load"], "-p", str(server.port), "-w", "16", "-t", str(seconds + 2.0),
             "-W", "0", "-m", ",".join(REQUEST_MIX)],
            stdout=subprocess.PIPE, text=True,
            preexec_fn=pin_to(client_cpus),
        )  # fmt: skip
        time.sleep(0.5)
        record = [py_spy, "record", "-p", str(server.process.pid), "-d", str(int(seconds)),
                  "-r", "250", "--idle", "--threads", "-f", "raw", "-o", samples_path]  # fmt: skip
        spied = subprocess.run(record + ["--native"], capture_output=True, text=True)
        if spied.returncode != 0:  # --native is not available everywhere
            spied = subprocess.run(record, capture_output=True, text=True)
        load.communicate(timeout=seconds + 30)
    finally:
        server.stop()
    if spied.returncode != 0:
        return {"server": kind, "error": spied.stderr.strip()[-300:]}
    return summarize_profile(kind, samples_path)


def summarize_profile(kind, samples_path):
    """Shares of the serving thread's samples: per syscall, and per Python function."""
    total = 0
    in_syscall = dict.fromkeys(SYSCALL_LEAVES, 0)
    per_function = {}
    with open(samples_path, encoding="utf-8") as samples:
        for line in samples:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            frames = stack.split(";")
            if SERVING_THREAD_PREFIX[kind] not in frames[0]:
                continue
            count = int(count)
            total += count
            for frame in reversed(frames):
                name = frame.split(" (")[0]
                if name in in_syscall and "(libc" in frame:
                    in_syscall[name] += count
                    break
            for function in {frame.split(":")[0] for frame in frames[1:] if ".py:" in frame}:
                per_function[function] = per_function.get(function, 0) + count
    if not total:
        return {"server": kind, "error": "no samples of the serving thread"}
    shares = {name: count / total for name, count in in_syscall.items() if count}
    shares["everything else (Python, interpreter)"] = 1.0 - sum(shares.values())
    top_functions = sorted(per_function.items(), key=lambda item: -item[1])
    handler_functions = [
        (function + ")", count / total)
        for function, count in top_functions
        if "threading.py" not in function
    ][:8]
    return {"server": kind, "samples": total, "samples_file": samples_path,
            "shares": shares, "python_functions_inclusive": handler_functions}  # fmt: skip


def print_reply_compute(compute):
    """Print the in-process cost of computing one reply."""
    print()
    print("computing one reply of the mix in-process, no socket (median ns per request):")
    rows = (
        ("reference handler (formats every reply)", "reference_ns"),
        ("labnode handler, cache valid", "labnode_cached_ns"),
        ("labnode handler, set_point_now before each", "labnode_after_set_point_ns"),
    )
    for label, key in rows:
        value = compute.get(key)
        print(f"  {label:<44} {value:>8.0f} ns" if value is not None else f"  {label:<44} n/a")
    if "labnode_error" in compute:
        print(f"  labnode: {compute['labnode_error']}")


def print_profiles(profiles):
    """Print where each profiled serving thread spends its time."""
    for profile in profiles:
        print()
        if "error" in profile:
            print(f"profile of {profile['server']}: {profile['error']}")
            continue
        print(f"profile of the {profile['server']} serving thread under in-flight-16 "
              f"(py-spy, {profile['samples']} samples, {profile['samples_file']}):")  # fmt: skip
        for name, share in profile["shares"].items():
            label = name if name.startswith("everything") else f"in {name}()"
            print(f"  {share:6.1%}  {label}")
        print("  Python functions, inclusive:")
        for function, share in profile["python_functions_inclusive"]:
            print(f"  {share:6.1%}  {function}")


def labnode_available():
    """Whether labnode.sockets.DateDataSocket can be imported from this checkout."""
    probe = (
        "import sys; sys.path.insert(0, sys.argv[1]); import labnode.sockets as s; s.DateDataSocket"
    )
    finished = subprocess.run([sys.executable, "-c", probe, REPO_ROOT], capture_output=True)
    return finished.returncode == 0


def run_set_point_bench(batches):
    """Run bench_set_point.py in its own process; its JSON result, or None if it failed."""
    script = os.path.join(BENCH_DIR, "bench_set_point.py")
    finished = subprocess.run(
        [sys.executable, script, "--json", "--batches", str(batches)],
        capture_output=True, text=True, timeout=120, cwd=REPO_ROOT,
    )  # fmt: skip
    if finished.returncode != 0:
        last_lines = finished.stderr.strip().splitlines()[-3:]
        print("set_point bench failed:", *last_lines, sep="\n  ", file=sys.stderr)
        return None
    return json.loads(finished.stdout)


def add_server_cpu(result, cpu_s, wall_s):
    """Add the server's CPU share and CPU µs per reply over the whole load run to result."""
    replies = result["requests"] + result.get("warmup_replies", 0)
    result["server_cpu_share"] = cpu_s / wall_s if wall_s > 0 else 0.0
    result["server_cpu_us_per_request"] = cpu_s / replies * 1e6 if replies else 0.0


def median_result(runs):
    """Combine repeated runs of one server and mode: the run with the median requests/s."""
    ordered = sorted(runs, key=lambda run: run["rps"])
    return ordered[(len(ordered) - 1) // 2]


def ratio(numerator, denominator):
    return numerator / denominator if numerator and denominator else None


def format_ratio(value):
    return f"{value:.2f}x" if value is not None else "n/a"


def print_report(results, set_point, client_kind, load_args):
    """Print the table, the ratios against the goals, and return whether every goal is met."""
    print()
    print(f"load generator: {client_kind}; mix per {len(REQUEST_MIX)} requests: "
          f"{', '.join(REQUEST_MIX)}")  # fmt: skip
    print(f"CPU placement (--pin): {load_args.pin}; 1-minute load average before the run: "
          f"{load_args.load_before:.2f}")  # fmt: skip
    print(
        f"per measurement: {load_args.seconds:g} s after {load_args.warmup:g} s warm-up, "
        f"at most {load_args.requests} requests, loss timeout {load_args.loss_timeout_ms:g} ms"
    )
    print()
    header = (
        f"{'server':<12} {'mode':<14} {'req/s':>10} {'p50 µs':>9} {'p99 µs':>9} {'lost':>6} "
        f"{'srv CPU':>8} {'CPU µs/req':>11} {'client CPU':>11}"
    )
    print(header)
    print("-" * len(header))
    shown_servers = SERVERS + ((BASELINE,) if load_args.baseline else ())
    for kind in shown_servers:
        for mode, _ in MODES:
            result = results.get((kind, mode))
            if result is None:
                print(f"{kind:<12} {mode:<14} {'n/a':>10}")
                continue
            print(f"{kind:<12} {mode:<14} {result['rps']:>10,.0f} {result['p50_us']:>9.1f} "
                  f"{result['p99_us']:>9.1f} {result['lost']:>6} "
                  f"{result.get('server_cpu_share', 0):>8.0%} "
                  f"{result.get('server_cpu_us_per_request', 0):>11.1f} "
                  f"{result.get('client_cpu_share', 0):>11.0%}")  # fmt: skip
    print()

    def rps(kind, mode):
        result = results.get((kind, mode))
        return result["rps"] if result else None

    all_met = True
    print("labnode / reference (goal):")
    for mode, _ in MODES:
        value = ratio(rps("labnode", mode), rps("reference", mode))
        met = value is not None and value >= GOALS[mode]
        all_met &= met
        verdict = "met" if met else ("MISSED" if value is not None else "not measured")
        shown = f"{value:.3f}x" if value is not None else "n/a"  # 3 decimals: 1.496 is not 1.5
        print(f"  {mode:<14} {shown:>7}   goal >= {GOALS[mode]:g}x   {verdict}")
    print("best ceiling (c-fixed or bare-python) / reference: the most any server could reach:")
    for mode, _ in MODES:
        ceilings = [rps(kind, mode) for kind in ("c-fixed", "bare-python") if rps(kind, mode)]
        value = ratio(max(ceilings, default=None), rps("reference", mode))
        print(f"  {mode:<14} {format_ratio(value):>7}")
    print("labnode / bare-python ceiling:")
    for mode, _ in MODES:
        value = ratio(rps("labnode", mode), rps("bare-python", mode))
        print(f"  {mode:<14} {format_ratio(value):>7}")

    def cpu_per_request(kind, mode):
        result = results.get((kind, mode))
        return result.get("server_cpu_us_per_request") if result else None

    print("server CPU per request, reference / labnode (less noisy on a busy machine):")
    for mode, _ in MODES:
        value = ratio(cpu_per_request("reference", mode), cpu_per_request("labnode", mode))
        print(f"  {mode:<14} {format_ratio(value):>7}")
    if load_args.baseline:
        print(f"labnode (this checkout) / {BASELINE} ({load_args.baseline}), same run:")
        for mode, _ in MODES:
            rps_ratio = ratio(rps("labnode", mode), rps(BASELINE, mode))
            cpu_ratio = ratio(cpu_per_request(BASELINE, mode), cpu_per_request("labnode", mode))
            print(f"  {mode:<14} req/s {format_ratio(rps_ratio):>7}   "
                  f"CPU per request, base / this {format_ratio(cpu_ratio):>7}")  # fmt: skip
    headroom = ratio(rps("c-fixed", "in-flight-16"), rps("labnode", "in-flight-16"))
    if headroom is None:
        headroom = ratio(rps("c-fixed", "in-flight-16"), rps("reference", "in-flight-16"))
        against = "reference"
    else:
        against = "labnode"
    if headroom is not None:
        client_share = results[(against, "in-flight-16")].get("client_cpu_share", 1.0)
        verdict = (
            f"and used {client_share:.0%} of its CPU against {against}: not the bottleneck"
            if load_args.pin == "same"  # it shares the server's CPU: its share says little
            or (headroom >= 1.2 and client_share < 0.9)
            else f"and used {client_share:.0%} of its CPU against {against}: it MAY BE the "
            "bottleneck (or the machine is busy)"
        )
        print(f"load generator: drives c-fixed at {format_ratio(headroom)} the in-flight-16 "
              f"rate of {against}, {verdict}")  # fmt: skip
    print()
    if set_point is None:
        print("set_point_now: not measured")
    else:
        print(
            f"set_point_now median per call, batches of {set_point['calls_per_batch']} "
            f"(median over {set_point['batches']} batches):"
        )
        for label, key in (("labnode DateDataSocket", "labnode_ns"),
                           ("reference dict + time.time()", "reference_ns"),
                           ("empty call (loop overhead)", "empty_call_ns")):  # fmt: skip
            value = set_point.get(key)
            print(f"  {label:<30} {value:>8.0f} ns" if value is not None else f"  {label:<30} n/a")
        labnode_ns = set_point.get("labnode_ns")
        met = labnode_ns is not None and labnode_ns <= SET_POINT_GOAL_NS
        all_met &= met
        verdict = "met" if met else ("MISSED" if labnode_ns is not None else "not measured")
        print(f"  goal: labnode <= {SET_POINT_GOAL_NS:.0f} ns   {verdict}")
    return all_met


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--seconds",
        type=float,
        default=2.0,
        help="measured seconds per server and mode (default 2)",
    )
    parser.add_argument(
        "--warmup",
        type=float,
        default=0.5,
        help="unmeasured warm-up seconds before each measurement (default 0.5)",
    )
    parser.add_argument(
        "--requests",
        type=int,
        default=1_000_000,
        help="stop a measurement after this many replies (default 1000000)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="measure each server and mode this often (default 3); report the median run",
    )
    parser.add_argument(
        "--loss-timeout-ms",
        type=float,
        default=200.0,
        help="a reply later than this counts as lost and is re-sent",
    )
    parser.add_argument(
        "--servers",
        default=",".join(SERVERS),
        help=f"comma-separated subset of {','.join(SERVERS)}",
    )
    parser.add_argument(
        "--client",
        choices=("auto", "c", "python"),
        default="auto",
        help="load generator: the C one (auto when gcc exists) or the Python one",
    )
    parser.add_argument(
        "--set-point-batches",
        type=int,
        default=200,
        help="batches of 1000 set_point_now calls (0 skips that section)",
    )
    parser.add_argument(
        "--pin",
        choices=("split", "same", "none"),
        default="split",
        help="split (default): servers on one CPU, load generator on another; "
        "same: both on one CPU; none: leave placement to the scheduler",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also py-spy the labnode and reference serving threads under "
        "in-flight-16 load (needs py-spy; samples go to bench/build/)",
    )
    parser.add_argument(
        "--profile-seconds",
        type=float,
        default=4.0,
        help="seconds of sampling per profiled server (default 4)",
    )
    parser.add_argument(
        "--baseline",
        metavar="DIR",
        help=f"another labnode checkout (e.g. main's: git worktree add, or git archive main | "
        f"tar -x -C DIR) served as {BASELINE} beside labnode, for old vs new in one run",
    )
    parser.add_argument("--json-out", help="also write all results as JSON to this file")
    parser.add_argument(
        "--check", action="store_true", help="exit 1 when a goal is missed (default: always exit 0)"
    )
    parser.add_argument(
        "--serve", choices=("labnode", "reference", "bare-python", BASELINE), help=argparse.SUPPRESS
    )
    parser.add_argument("--serve-root", default=REPO_ROOT, help=argparse.SUPPRESS)
    parser.add_argument("--lifetime", type=float, default=300.0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)  # fmt: skip
    if not 0 < args.seconds <= 120 or not 0 <= args.warmup <= 30 or args.requests < 1:
        parser.error("--seconds must be in (0, 120], --warmup in [0, 30], --requests >= 1")
    if not 1 <= args.repeat <= 20:
        parser.error("--repeat must be in [1, 20]")
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.serve == "bare-python":
        serve_bare_python(args.lifetime)
        return 0
    if args.serve:
        serve_with_updater(args.serve, args.lifetime, args.serve_root)
        return 0

    wanted = [kind for kind in args.servers.split(",") if kind]
    unknown_servers = set(wanted) - set(SERVERS)
    if unknown_servers:
        raise SystemExit(f"unknown servers: {sorted(unknown_servers)}")
    if args.baseline:
        if not os.path.isdir(os.path.join(args.baseline, "labnode", "sockets")):
            raise SystemExit(f"--baseline {args.baseline}: no labnode/sockets in that directory")
        args.baseline = os.path.abspath(args.baseline)
        wanted.insert(wanted.index("labnode") + 1 if "labnode" in wanted else 0, BASELINE)
    binaries = build_c_tools()
    if args.client == "c" and binaries is None:
        raise SystemExit("--client c needs gcc")
    use_c_client = binaries is not None and args.client != "python"
    client_kind = "C udp_load (bench/build/udp_load)" if use_c_client else "Python fallback"
    if "labnode" in wanted and not labnode_available():
        print(
            "labnode.sockets.DateDataSocket is not importable yet: skipping labnode",
            file=sys.stderr,
        )
        wanted.remove("labnode")

    args.load_before = os.getloadavg()[0]
    if args.load_before > 0.5:
        print(f"warning: 1-minute load average is {args.load_before:.2f}: other processes use "
              "the CPUs, figures will be noisy", file=sys.stderr)  # fmt: skip
    per_run_s = args.warmup + args.seconds + 1.0
    lifetime_s = 60.0 + per_run_s * len(MODES) * len(wanted) * args.repeat
    server_cpus, client_cpus = cpu_plan(args.pin)
    servers = {}
    runs = {}
    try:
        for kind in wanted:
            server = start_server(kind, binaries, lifetime_s, server_cpus, args.baseline)
            if server is None:
                print(f"{kind}: needs gcc, skipped", file=sys.stderr)
                continue
            servers[kind] = server
            if kind != "c-fixed":
                for problem in check_replies(server.port):
                    print(f"warning: {kind}: {problem}", file=sys.stderr)
        if client_cpus is not None:  # the load generator (C or Python) runs from here
            os.sched_setaffinity(0, client_cpus)
        # Interleave servers inside each repetition so slow drifts hit every server alike.
        for repetition in range(args.repeat):
            for mode, inflight in MODES:
                for kind, server in servers.items():
                    print(
                        f"[{repetition + 1}/{args.repeat}] {kind:<12} {mode:<14}",
                        end=" ",
                        flush=True,
                        file=sys.stderr,
                    )
                    load_args = (server.port, inflight, args.requests, args.seconds,
                                 args.warmup, args.loss_timeout_ms)  # fmt: skip
                    cpu_before_s, wall_before_s = server.cpu_seconds(), time.monotonic()
                    if use_c_client:
                        result = run_c_load(binaries["udp_load"], *load_args)
                    else:
                        result = run_python_load(*load_args)
                    add_server_cpu(result, server.cpu_seconds() - cpu_before_s,
                                   time.monotonic() - wall_before_s)  # fmt: skip
                    print(f"{result['rps']:,.0f} req/s", file=sys.stderr)
                    runs.setdefault((kind, mode), []).append(result)
    finally:
        for server in servers.values():
            server.stop()

    results = {key: median_result(key_runs) for key, key_runs in runs.items()}
    set_point = None
    if args.set_point_batches > 0:
        set_point = run_set_point_bench(args.set_point_batches)
    profiles = []
    if args.profile:
        for kind in ("labnode", "reference"):
            if kind in wanted:
                print(f"profiling {kind} for {args.profile_seconds:g} s", file=sys.stderr)
                profiles.append(
                    profile_serving_thread(
                        kind, binaries, args.profile_seconds, server_cpus, client_cpus
                    )
                )
    reply_compute = measure_reply_compute()
    all_met = print_report(results, set_point, client_kind, args)
    print_reply_compute(reply_compute)
    print_profiles(profiles)
    if args.json_out:
        document = {
            "request_mix": list(REQUEST_MIX),
            "client": client_kind,
            "results": [
                {"server": kind, "mode": mode, "runs": runs[(kind, mode)],
                 **results[(kind, mode)]}
                for kind, mode in results
            ],
            "set_point": set_point,
            "profiles": profiles,
            "reply_compute": reply_compute,
            "pin": args.pin,
            "rps_median_of": args.repeat,
            "cpu_count": os.cpu_count(),
            "python": sys.version.split()[0],
        }  # fmt: skip
        with open(args.json_out, "w", encoding="utf-8") as handle:
            json.dump(document, handle, indent=2)
    if args.check and not all_met:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
