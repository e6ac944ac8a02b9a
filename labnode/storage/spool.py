"""Spool: an append-only file of rows on their way to the database, bounded in size.

Each line is a JSON list of up to 1000 rows ``[node, codename, x, y]``. New rows are appended
and fsynced together (once per flush interval); the database writer reads them in order from its
offset, and once it has stored everything the file is truncated to nothing. After a crash the
whole file is read again: rows already stored are skipped by the database's unique key, so a
replay never duplicates.
"""

from __future__ import annotations

import json
import logging
import os
import threading

try:
    import fcntl
except ImportError:  # pragma: no cover (Windows: no lock, one logger per spool is on you)
    fcntl = None
from collections.abc import Sequence
from pathlib import Path

from .database import Row
from .errors import StorageError

log = logging.getLogger(__name__)

#: Rows per line of the spool file (a line is written, read and parsed whole).
LINE_ROWS = 1000


class SpoolInUseError(StorageError):
    """Another process holds the spool file."""


class Spool:
    """Rows waiting for the database, kept in a file so a restart finds them."""

    def __init__(self, path: str | Path, max_bytes: int = 1024**3) -> None:
        self.path = Path(path)
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # unbuffered: a failed write leaves nothing behind in a buffer to be written later
        self._append_file = open(self.path, "ab", buffering=0)  # noqa: SIM115 (kept open)
        self._lock_file()
        self._read_file = open(self.path, "rb")  # noqa: SIM115
        self.size = self._drop_torn_tail()
        self.offset = 0
        self.bad_lines = 0

    def _lock_file(self) -> None:
        """Hold an exclusive lock on the file for the spool's life: one writer per spool."""
        if fcntl is None:
            return
        try:
            fcntl.flock(self._append_file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._append_file.close()
            raise SpoolInUseError(
                f"spool {self.path} is in use by another process (is `labnode log` already "
                "running for this lab file?); stop it, or give this one its own [database] spool"
            ) from None

    def _drop_torn_tail(self) -> int:
        """Cut a last line left half written by a crash; return the file's size."""
        size = os.fstat(self._append_file.fileno()).st_size
        # the end of the last whole line, searched backwards a block at a time: a line of rows
        # with long names is hundreds of kB, and a crash can tear it anywhere
        end = size
        while end > 0:
            start = max(0, end - 65536)
            self._read_file.seek(start)
            newline = self._read_file.read(end - start).rfind(b"\n")
            if newline >= 0 or start == 0:
                end = start + newline + 1
                break
            end = start
        if end < size:
            log.warning(
                "spool %s: dropping a half-written last line (%d bytes)", self.path, size - end
            )
            os.ftruncate(self._append_file.fileno(), end)
        return end

    def append(self, rows: Sequence[Row]) -> int:
        """Append rows and fsync; return how many did not fit under ``max_bytes`` (dropped).

        Rows are kept or dropped by whole lines of up to LINE_ROWS: the dropped ones are the
        last rows."""
        if not rows:
            return 0
        chunks = [rows[i : i + LINE_ROWS] for i in range(0, len(rows), LINE_ROWS)]
        lines = [json.dumps(chunk, separators=(",", ":")).encode() + b"\n" for chunk in chunks]
        with self._lock:
            room = self.max_bytes - self.size
            kept_lines, kept_rows, used = 0, 0, 0
            for chunk, line in zip(chunks, lines):
                if used + len(line) > room:
                    break
                used += len(line)
                kept_lines += 1
                kept_rows += len(chunk)
            if kept_lines:
                fd = self._append_file.fileno()
                try:
                    data = memoryview(b"".join(lines[:kept_lines]))
                    while data:
                        data = data[os.write(fd, data) :]
                    os.fsync(fd)
                except OSError:  # no half line may stay to spoil the next append
                    os.ftruncate(fd, self.size)
                    raise
                self.size += used
        return len(rows) - kept_rows

    def read(
        self, max_rows: int, max_bytes: int = 4 * 1024 * 1024, count_bad: bool = True
    ) -> tuple[list[Row], int]:
        """Up to ``max_rows`` rows from the writer's offset, and the offset after them.

        Reads about ``max_bytes``, but always at least one whole line. An unreadable line is
        skipped; with ``count_bad`` it is also logged and counted in ``bad_lines`` (the writer's
        read; a startup count passes False, or each would be said twice).
        """
        end = min(self.size, self.offset + max_bytes)
        if end <= self.offset:
            return [], self.offset
        self._read_file.seek(self.offset)
        data = chunk = self._read_file.read(end - self.offset)
        while b"\n" not in chunk and end < self.size:  # one line longer than max_bytes: all of it
            chunk = self._read_file.read(min(max_bytes, self.size - end))
            if not chunk:
                break
            data += chunk
            end += len(chunk)
        rows: list[Row] = []
        position = 0
        while len(rows) < max_rows:
            newline = data.find(b"\n", position)
            if newline < 0:
                break
            line = data[position:newline]
            position = newline + 1
            try:
                rows.extend(
                    [
                        (str(n), str(c), float(x), None if y is None else float(y))
                        for n, c, x, y in json.loads(line)
                    ]
                )
            except (ValueError, TypeError, RecursionError):
                if count_bad:
                    self.bad_lines += 1
                    log.error("spool %s: skipping an unreadable line %r", self.path, line[:100])
        return rows, self.offset + position

    def consumed(self, offset: int) -> None:
        """The rows before ``offset`` are in the database; empty the file once all are."""
        with self._lock:
            self.offset = offset
            if self.offset >= self.size:
                os.ftruncate(self._append_file.fileno(), 0)
                os.fsync(self._append_file.fileno())
                self.size = self.offset = 0

    @property
    def pending_bytes(self) -> int:
        """Bytes of rows not yet in the database."""
        return self.size - self.offset

    def pending_rows_by_node(self) -> dict[str, int]:
        """Rows waiting per node (reads the file: for startup, not for every status)."""
        counts: dict[str, int] = {}
        offset = self.offset
        while True:
            rows, end = self.read(100_000, count_bad=False)
            if not rows and end == self.offset:
                break
            for node, *_ in rows:
                counts[node] = counts.get(node, 0) + 1
            self.offset = end
        self.offset = offset
        return counts

    def close(self) -> None:
        """Close the file (its rows stay for the next start)."""
        self._append_file.close()
        self._read_file.close()
