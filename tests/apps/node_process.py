"""Run the labnode command as a subprocess and read the UDP port it serves on."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

SERVING = re.compile(r"udp [^\s:]*:(\d+)")


class NodeProcess:
    """`python -m labnode ARGS...` in a subprocess; `.port` once it says it is serving."""

    def __init__(self, *args: str, cwd: Path | None = None) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "labnode", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=cwd,
            env=env,
        )
        self.port = self._read_port()

    def _read_port(self, timeout: float = 20.0) -> int:
        deadline = time.monotonic() + timeout
        assert self.process.stdout is not None
        lines = []
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                break
            lines.append(line)
            match = SERVING.search(line)
            if match:
                return int(match.group(1))
        self.process.kill()
        _, err = self.process.communicate(timeout=5)
        raise AssertionError(f"node did not start: {''.join(lines)}\n{err}")

    def stop(self, sig: int = signal.SIGTERM) -> tuple[int, str]:
        """Send ``sig``, wait for the exit; return (exit status, stderr)."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            _, err = self.process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            _, err = self.process.communicate(timeout=5)
        return self.process.returncode, err

    def __enter__(self) -> NodeProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.process.poll() is None:
            self.stop()


def run_labnode(*args: str, timeout: float = 30.0) -> subprocess.CompletedProcess:
    """Run `python -m labnode ARGS...` to completion."""
    return subprocess.run(
        [sys.executable, "-m", "labnode", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
