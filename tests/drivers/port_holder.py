"""Another process holding a serial device exclusively, as a second program on the bench would."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

HOLDER = """\
import sys, serial
port = serial.Serial(sys.argv[1], exclusive=True)
print("holding", flush=True)
sys.stdin.read()
"""


@contextmanager
def held_by_another_process(device: str) -> Iterator[subprocess.Popen]:
    """A child process that holds ``device`` open exclusively until the block ends."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, device],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "holding"
        yield holder
    finally:
        holder.stdin.close()
        holder.wait(10)


def assert_kept_out(device: str) -> None:
    """A child process that tries to open ``device`` exclusively is refused: it is locked."""
    other = subprocess.run(
        [sys.executable, "-c", HOLDER, device],
        input="",
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert other.returncode != 0 and "exclusively lock" in other.stderr, other.stderr
