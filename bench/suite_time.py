"""Wall time and machine-wide CPU time of one pytest run (docs/testing.md, "Suite time").

    python bench/suite_time.py                          # the README's command: pytest
    python bench/suite_time.py -- -n 2 tests/storage    # pytest with these arguments
    python bench/suite_time.py --ids bench/suite_time_ids_b38fb59.txt

Two CPU figures:

- "cpu": machine-wide busy seconds from /proc/stat before and after the run (user + nice +
  system + irq + softirq + steal, all cores), so chromium, the database servers and `labnode`
  subprocesses count: whatever the run makes the machine do. Anything else running on the
  machine counts too: on a shared machine it is about cores x wall and tells nothing.
- "own cpu": user + system seconds of pytest and every process it started, however deep
  (xdist workers, chromium, `labnode` subprocesses): this script makes itself the subreaper of
  the run (prctl PR_SET_CHILD_SUBREAPER), so a process orphaned on the way (chromium's, a killed
  node's) is reaped here and counted by getrusage(RUSAGE_CHILDREN). The database servers are not
  ours and do not count, nor does kernel time that no process is charged for. Other jobs on the
  machine do not count (beyond making everything a little slower), so it is the figure to
  compare when the machine is not quiet.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

#: /proc/stat fields that are busy time (idle and iowait are not; guest is inside user).
BUSY_FIELDS = (0, 1, 2, 5, 6, 7)
PR_SET_CHILD_SUBREAPER = 36


def busy_seconds() -> float:
    """Busy CPU seconds of all cores since boot, from the first line of /proc/stat."""
    with open("/proc/stat") as stat:
        fields = stat.readline().split()[1:]
    ticks = sum(int(fields[i]) for i in BUSY_FIELDS if i < len(fields))
    return ticks / os.sysconf("SC_CLK_TCK")


def become_subreaper() -> bool:
    """Orphaned descendants are re-parented to this process (Linux); whether that worked."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def run_and_reap(command: list[str], linger: float = 10.0) -> tuple[int, float, float, list[int]]:
    """Run ``command``; reap it and the orphans handed to us.

    Returns the exit status, wall and machine-wide busy seconds until the command ended, and the
    pids of orphans still running ``linger`` seconds after that: a process the run leaked (left
    alone and not counted).
    """
    cpu0, wall0 = busy_seconds(), time.monotonic()
    # SIGINT as in a terminal even when this runs in the background (`nohup ... &` ignores it,
    # and a child inherits that: a test's Ctrl-C to its subprocess would then do nothing).
    process = subprocess.Popen(
        command, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL)
    )
    returncode = None
    while returncode is None:
        pid, status = os.waitpid(-1, 0)
        if pid == process.pid:
            returncode = process.returncode = os.waitstatus_to_exitcode(status)
    wall, cpu = time.monotonic() - wall0, busy_seconds() - cpu0
    deadline = time.monotonic() + linger
    while time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:  # nothing left
            return returncode, wall, cpu, []
        if pid == 0:
            time.sleep(0.05)
    return returncode, wall, cpu, orphans()


def orphans() -> list[int]:
    """Pids of the processes whose parent is this one."""
    me, found = str(os.getpid()), []
    for name in os.listdir("/proc"):
        try:
            with open(f"/proc/{name}/stat") as stat:
                text = stat.read()
        except (OSError, NotADirectoryError):
            continue
        if text[text.rindex(")") + 2 :].split()[1] == me:
            found.append(int(name))
    return found


def read_ids(path: Path) -> list[str]:
    """Test ids, one a line; blank lines and lines starting with # are skipped."""
    lines = (line.strip() for line in path.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ids", type=Path, help="run only these test ids (one a line)")
    parser.add_argument("pytest_args", nargs="*", help="arguments for pytest (after --)")
    args = parser.parse_args(argv)
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args.pytest_args]
    if args.ids is not None:
        command += read_ids(args.ids)
    subreaper = become_subreaper()
    returncode, wall, cpu, left = run_and_reap(command)
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    own = usage.ru_utime + usage.ru_stime
    shown = command[:8] + ([f"... {len(command) - 8} more"] if len(command) > 8 else [])
    print(f"command: {' '.join(shown)}")
    print(
        f"wall {wall:.1f} s  cpu {cpu:.1f} s  own cpu {own:.1f} s"
        f"  ({os.cpu_count()} cores)  exit {returncode}"
    )
    if left:
        print(f"still running after the run (leaked, not counted): pids {left}")
    if not subreaper:
        print("(not a subreaper: own cpu misses processes orphaned during the run)")
    return returncode


if __name__ == "__main__":
    raise SystemExit(main())
