"""Where a serving thread spends its time under in-flight-16 load: py-spy of labnode and reference.

Run from the repository root: ``python bench/profile_serving.py`` (about 15 s; needs py-spy, in
the ``bench`` extra). Each server of bench/table_servers.py runs alone in its own process on the
first CPU while ``udp_load`` keeps 16 requests of the usual mix in flight from the second; py-spy
samples it at 250 Hz (with native frames where it can). Printed per server: the share of the
serving thread's samples in each system call, the rest (Python, interpreter), and the Python
functions with the largest inclusive share. Raw samples go to bench/build/profile-KIND.txt.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import threading
import time

import harness
import table_servers

#: A frame that only the serving thread's stacks hold (thread name or serving function).
SERVING_FRAME = {"labnode": "DateDataSocket:", "reference": "serve_forever"}
SYSCALLS = ("sendto", "recvfrom", "poll", "select", "epoll_wait")


def record(kind: str, seconds: float, py_spy: str) -> str:
    """py-spy samples of one server under load; the path of the raw samples file."""
    server_cpus, client_cpus = harness.cpu_plan("split")
    samples_path = os.path.join(harness.BUILD_DIR, f"profile-{kind}.txt")
    command = harness.python_command(table_servers.__file__, kind, "--lifetime", seconds + 60)
    with harness.ServerProcess(kind, command, server_cpus) as server:
        if client_cpus is not None:
            os.sched_setaffinity(0, client_cpus)
        load = threading.Thread(
            target=harness.udp_load,
            args=(server.port, table_servers.REQUEST_MIX, 16, seconds + 2.0, 0.0),
        )
        load.start()
        time.sleep(0.5)
        spy = [py_spy, "record", "-p", str(server.process.pid), "-d", str(int(seconds)),
               "-r", "250", "--idle", "--threads", "-f", "raw", "-o", samples_path]  # fmt: skip
        if subprocess.run([*spy, "--native"], capture_output=True).returncode != 0:
            subprocess.run(spy, capture_output=True, check=True)  # --native is not everywhere
        load.join()
    return samples_path


def summarize(kind: str, samples_path: str) -> None:
    """Print the serving thread's shares: per system call, and per Python function."""
    total, in_syscall, per_function = 0, dict.fromkeys(SYSCALLS, 0), {}
    with open(samples_path, encoding="utf-8") as samples:
        for line in samples:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            frames = stack.split(";")
            if not any(SERVING_FRAME[kind] in frame for frame in frames):
                continue
            total += int(count)
            for frame in reversed(frames):
                name = frame.split(" (")[0]
                if name in in_syscall and "(libc" in frame:
                    in_syscall[name] += int(count)
                    break
            for function in {frame.split(":")[0] for frame in frames[1:] if ".py:" in frame}:
                per_function[function] = per_function.get(function, 0) + int(count)
    if not total:
        print(f"{kind}: no samples of the serving thread in {samples_path}")
        return
    print(f"\n{kind} serving thread under in-flight-16 ({total} samples, {samples_path}):")
    for name, count in in_syscall.items():
        if count:
            print(f"  {count / total:6.1%}  in {name}()")
    print(f"  {1 - sum(in_syscall.values()) / total:6.1%}  everything else (Python, interpreter)")
    print("  Python functions, inclusive:")
    ranked = sorted(per_function.items(), key=lambda item: -item[1])
    for function, count in [item for item in ranked if "threading.py" not in item[0]][:8]:
        print(f"  {count / total:6.1%}  {function})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="sampling per server (4)")
    parser.add_argument("--servers", default="labnode,reference", help="labnode,reference")
    args = parser.parse_args()
    py_spy = shutil.which("py-spy") or shutil.which("py-spy", path=os.path.dirname(sys.executable))
    if py_spy is None:
        raise SystemExit("profile_serving.py needs py-spy: pip install -e '.[bench]'")
    harness.c_tools()
    for kind in args.servers.split(","):
        summarize(kind, record(kind, args.seconds, py_spy))
    return 0


if __name__ == "__main__":
    sys.exit(main())
