"""What the benchmarks in bench/ share: server processes, CPU placement, udp_load, figures.

Any ``bench/*.py`` run as a script imports it as ``import harness`` (its folder is on
``sys.path``); importing it also puts the repository root on ``sys.path``, so ``labnode`` and the
tests' references (``tests.sockets.pyexplabsys_reference``) import from this checkout. It never
imports labnode itself. The names below are a stable API for every bench (see
docs/benchmarks.md, "Writing a benchmark"):

- paths and address: ``REPO_ROOT``, ``BENCH_DIR``, ``BUILD_DIR``, ``LOOPBACK``
- processes: ``ServerProcess`` (a server in its own process that prints ``PORT n`` and stops
  when its stdin closes), ``python_command`` (this script again, with ``--serve`` arguments),
  ``serve_until_stdin_closes`` (the server side of that handshake), ``import_labnode`` (labnode
  from a given checkout, for old-vs-new runs), ``checkout_dir`` (a ``--baseline DIR`` checked)
- CPU placement: ``cpu_plan``, ``pin_to``, ``add_pin_argument``
- the C tools: ``c_tools`` (builds ``udp_load`` and ``udp_fixed_server`` on demand),
  ``udp_load`` (one closed-loop load run, its JSON result)
- figures: ``median``, ``median_by``, ``ratio``, ``format_ratio``, ``verdict``, ``warn_if_busy``,
  ``write_json``
- micro-benchmarks on pyperf: ``cpu_clock``, ``pyperf_runner``, ``pyperf_ratio``, ``pyperf_goal``,
  ``pyperf_exit``
"""

from __future__ import annotations

import argparse
import json
import os
import select
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(BENCH_DIR)
BUILD_DIR = os.path.join(BENCH_DIR, "build")
LOOPBACK = "127.0.0.1"

if REPO_ROOT not in sys.path:
    sys.path.insert(1, REPO_ROOT)  # after bench/ itself; import_labnode(root) goes first

# --------------------------------------------------------------------------- processes


class ServerProcess:
    """A server in its own process, optionally pinned; it prints ``PORT n`` and exits at stdin EOF.

    ``ask(line)`` writes one line to its stdin and returns the line it answers, for servers that
    report counters on request (``bench_hot_path.py``).
    """

    def __init__(
        self, name: str, command: Sequence[str], cpus: set[int] | None = None, start_s: float = 30.0
    ) -> None:
        self.name = name
        self.process = subprocess.Popen(
            list(command),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=REPO_ROOT,
            preexec_fn=pin_to(cpus),
        )
        line = self._line(start_s)
        if not line.startswith("PORT "):
            self.stop()
            raise RuntimeError(f"{name} server did not start (got {line!r})")
        self.port = int(line.split()[1])

    def _line(self, timeout_s: float) -> str:
        ready, _, _ = select.select([self.process.stdout], [], [], timeout_s)
        return self.process.stdout.readline() if ready else ""

    def ask(self, line: str = "", timeout_s: float = 30.0) -> str:
        """Send one line to the server's stdin; return its one-line answer."""
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        answer = self._line(timeout_s)
        if not answer:
            raise RuntimeError(f"{self.name} server did not answer {line!r}")
        return answer.strip()

    def cpu_seconds(self) -> float:
        """User + system CPU seconds the process has used so far (Linux /proc)."""
        try:
            with open(f"/proc/{self.process.pid}/stat", encoding="ascii") as stat:
                fields = stat.read().rpartition(")")[2].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        """Close stdin (the stop signal) and wait; kill only this process if it hangs."""
        if self.process.stdin and not self.process.stdin.closed:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=10.0)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5.0)

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def python_command(script: str, *args: object) -> list[str]:
    """The command that runs ``script`` (a bench file's ``__file__``) with ``args`` again."""
    return [sys.executable, os.path.abspath(script), *map(str, args)]


def serve_until_stdin_closes(
    port: int, lifetime_s: float = 600.0, answer: Callable[[], str] | None = None
) -> None:
    """Server side of ServerProcess: announce ``port``, block until stdin closes or lifetime.

    With ``answer``, every line read from stdin is answered with one line, ``answer()``.
    """
    print(f"PORT {port}", flush=True)
    closed = threading.Event()

    def read_stdin() -> None:
        for _ in sys.stdin:
            if answer is not None:
                print(answer(), flush=True)
        closed.set()

    threading.Thread(target=read_stdin, daemon=True).start()
    closed.wait(lifetime_s)


def import_labnode(root: str = REPO_ROOT) -> Any:
    """``labnode.sockets`` imported from the checkout ``root`` (checked), for a server process."""
    root = os.path.abspath(root)
    sys.path.insert(0, root)
    import labnode.sockets

    if not os.path.abspath(labnode.sockets.__file__).startswith(root + os.sep):
        raise SystemExit(f"labnode was imported from {labnode.sockets.__file__}, not {root}")
    return labnode.sockets


def checkout_dir(path: str) -> str:
    """``--baseline DIR`` checked: an absolute path that holds labnode/sockets."""
    if not os.path.isdir(os.path.join(path, "labnode", "sockets")):
        raise SystemExit(f"--baseline {path}: no labnode/sockets in that directory")
    return os.path.abspath(path)


# --------------------------------------------------------------------------- CPU placement


def pin_to(cpus: set[int] | None) -> Callable[[], None] | None:
    """A ``preexec_fn`` that pins a child process to ``cpus``; None leaves it unpinned."""
    if cpus is None:
        return None
    return lambda: os.sched_setaffinity(0, cpus)


def cpu_plan(pin: str) -> tuple[set[int] | None, set[int] | None]:
    """(server CPUs, client CPUs) for ``--pin split|same|none``; (None, None) leaves it to Linux."""
    if pin == "none" or not hasattr(os, "sched_getaffinity"):
        return None, None
    available = sorted(os.sched_getaffinity(0))
    if len(available) < 2:
        return None, None
    if pin == "same":
        return {available[0]}, {available[0]}
    return {available[0]}, {available[1]}


def add_pin_argument(parser: argparse.ArgumentParser, choices=("split", "same", "none")) -> None:
    """The ``--pin`` option every process-level bench shares (default split)."""
    parser.add_argument(
        "--pin",
        choices=choices,
        default="split",
        help="split (default): servers on the first CPU, clients on the second; same: both on "
        "the first; none: leave placement to the scheduler",
    )


# --------------------------------------------------------------------------- the C tools


def c_tools() -> dict[str, str]:
    """Build ``udp_load`` and ``udp_fixed_server`` into bench/build when stale; their paths."""
    compiler = shutil.which("gcc") or shutil.which("cc")
    if compiler is None:
        raise SystemExit("this benchmark needs gcc (or cc) to build bench/udp_load.c")
    os.makedirs(BUILD_DIR, exist_ok=True)
    binaries = {}
    for name in ("udp_load", "udp_fixed_server"):
        source = os.path.join(BENCH_DIR, f"{name}.c")
        binary = os.path.join(BUILD_DIR, name)
        if not os.path.exists(binary) or os.path.getmtime(binary) < os.path.getmtime(source):
            subprocess.run([compiler, "-O2", "-Wall", "-o", binary, source], check=True)
        binaries[name] = binary
    return binaries


def udp_load(
    port: int,
    mix: Iterable[str],
    inflight: int = 1,
    seconds: float = 2.0,
    warmup_s: float = 0.5,
    requests: int = 10_000_000,
    loss_timeout_ms: float = 200.0,
) -> dict[str, Any]:
    """One closed-loop run of ``udp_load`` against 127.0.0.1:port; its JSON result.

    Keys: rps, requests, p50_us, p90_us, p99_us, p999_us, max_us, mean_us, lost,
    unknown_replies, warmup_replies, mean_reply_bytes, client_cpu_share (see bench/udp_load.c).
    """
    command = [
        c_tools()["udp_load"], "-p", str(port), "-w", str(inflight), "-n", str(requests),
        "-t", str(seconds), "-W", str(warmup_s), "-o", str(loss_timeout_ms),
        "-m", ",".join(mix),
    ]  # fmt: skip
    limit_s = warmup_s + seconds + 30
    finished = subprocess.run(command, capture_output=True, text=True, timeout=limit_s, check=True)
    return json.loads(finished.stdout)


# --------------------------------------------------------------------------- figures


def median(values: Iterable[float]) -> float | None:
    """The median (the lower one of an even count: a figure that was measured), or None."""
    ordered = sorted(values)
    return ordered[(len(ordered) - 1) // 2] if ordered else None


def median_by(items: Sequence[dict], key: str) -> dict:
    """The item whose ``item[key]`` is the median (the lower one of an even count)."""
    return sorted(items, key=lambda item: item[key])[(len(items) - 1) // 2]


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """numerator / denominator, or None when either is missing or zero."""
    return numerator / denominator if numerator and denominator else None


def format_ratio(value: float | None, digits: int = 2) -> str:
    return f"{value:.{digits}f}x" if value is not None else "n/a"


def verdict(value: float | None, goal: float, at_most: bool = False) -> str:
    """'met', 'MISSED' or 'not measured' for ``value`` against ``goal`` (>= goal by default)."""
    if value is None:
        return "not measured"
    return "met" if (value <= goal if at_most else value >= goal) else "MISSED"


def warn_if_busy(limit: float = 0.5) -> float:
    """Warn on stderr when the 1-minute load average is above ``limit``; return it."""
    load = os.getloadavg()[0]
    if load > limit:
        print(f"warning: 1-minute load average is {load:.2f}: other processes use the CPUs, "
              "figures will be noisy", file=sys.stderr)  # fmt: skip
    return load


def write_json(path: str | None, document: Any) -> None:
    """Write ``document`` as indented JSON to ``path`` (nothing when path is None)."""
    if path:
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(document, handle, indent=2)


# --------------------------------------------------------------------------- pyperf


#: The clock of pyperf time functions: this thread's CPU time. On a shared machine a 100 ms value
#: timed by the wall clock also holds other processes' time slices (measured here: a 12.5 µs
#: reply took 16-22 µs of wall time at load average 4); single-threaded CPU-bound loops lose
#: nothing by leaving them out.
cpu_clock = time.thread_time


def pyperf_runner(description: str) -> Any:
    """A ``pyperf.Runner`` (worker processes, calibration, mean ± std dev) for a micro-bench.

    Its options (``--fast``, ``--rigorous``, ``-o FILE``, ``--affinity``, ``--quiet``...) are
    pyperf's, plus ``--check`` (exit 1 when a goal is missed). The same script runs as manager and
    as each worker; the ``pyperf_*`` helpers below print only in the manager.
    """
    try:
        import pyperf
    except ImportError:
        raise SystemExit("micro-benchmarks need pyperf: pip install -e '.[bench]'") from None
    runner = pyperf.Runner()
    runner.argparser.description = description
    runner.argparser.add_argument(
        "--check", action="store_true", help="exit 1 when a goal is missed"
    )
    return runner


def _reports(runner: Any, *benchmarks: Any) -> bool:
    """Whether this process is pyperf's manager and every benchmark was measured."""
    return not runner.args.worker and all(bench is not None for bench in benchmarks)


def pyperf_ratio(
    runner: Any,
    label: str,
    numerator: Any,
    denominator: Any,
    goal: float | None = None,
    at_most: bool = False,
) -> bool:
    """Print numerator / denominator of two pyperf benchmarks, with the goal's verdict.

    The ratio of medians is judged (robust on a busy machine, as the benches did before pyperf);
    the ratio of means is printed beside it. Returns whether the goal is met (True without one
    or in a worker).
    """
    if not _reports(runner, numerator, denominator):
        return True
    value = numerator.median() / denominator.median()
    line = f"{label}: {value:.2f}x (ratio of means {numerator.mean() / denominator.mean():.2f}x)"
    if goal is None:
        print(line)
        return True
    result = verdict(value, goal, at_most)
    print(f"{line}   goal {'<=' if at_most else '>='} {goal:g}x   {result}")
    return result == "met"


def pyperf_goal(runner: Any, label: str, benchmark: Any, goal_s: float) -> bool:
    """Print a benchmark's median against an absolute goal (at most ``goal_s`` seconds)."""
    if not _reports(runner, benchmark):
        return True
    median_s, mean_s, stdev_s = benchmark.median(), benchmark.mean(), benchmark.stdev()
    result = verdict(median_s, goal_s, at_most=True)
    print(
        f"{label}: median {median_s * 1e9:,.0f} ns (mean {mean_s * 1e9:,.0f} ± "
        f"{stdev_s * 1e9:,.0f} ns)   goal <= {goal_s * 1e9:,.0f} ns   {result}"
    )
    return result == "met"


def pyperf_exit(runner: Any, met: bool) -> int:
    """The exit status: 1 with ``--check`` when a goal is missed, else 0."""
    return 1 if runner.args.check and not met else 0
