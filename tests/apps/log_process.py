"""`labnode log LAB.toml` as a subprocess, its output in files, stopped by signal."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path


class LogProcess:
    """Start `python -m labnode log LAB` and wait for its first line."""

    def __init__(self, lab: Path, *args: str) -> None:
        self.lab = lab
        count = len(list(lab.parent.glob("log-*.out")))
        self.out_path = lab.parent / f"log-{count}.out"
        self.err_path = lab.parent / f"log-{count}.err"
        with open(self.out_path, "w") as out, open(self.err_path, "w") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "labnode", "log", str(lab), *args],
                stdout=out,
                stderr=err,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        deadline = time.monotonic() + 20
        while "labnode log: recording" not in self.output():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.process.kill()
                raise AssertionError(f"labnode log did not start: {self.output()}{self.errors()}")
            time.sleep(0.02)

    def output(self) -> str:
        return self.out_path.read_text()

    def errors(self) -> str:
        return self.err_path.read_text()

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
        """Send ``sig`` and wait for the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
            raise AssertionError(f"labnode log did not stop on {sig!r}: {self.errors()}") from None

    def __enter__(self) -> LogProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)
