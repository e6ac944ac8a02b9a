"""Recorder: rows in, database out, through the spool; a database outage never blocks ``add``.

Two threads: the flusher moves new rows from memory to the spool file every ``flush_interval``
(fsynced, so a SIGKILL loses at most that much), and the writer moves them from the spool to the
database in batches, retrying with backoff while the database is away. Rows the database refuses
for good go to a ``.rejected`` file beside the spool, with the reason, and are counted.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .database import Database, Row
from .errors import DatabaseUnavailable, StorageError
from .spool import Spool

log = logging.getLogger(__name__)

#: Rows held in memory between flushes at most; more are dropped and counted (the spool is down).
MAX_PENDING = 1_000_000
BATCH_ROWS = 5000
RETRY_FIRST, RETRY_MAX = 0.5, 5.0


@dataclass
class NodeCounts:
    """Per node: rows stored in the database, waiting (memory + spool), refused, dropped."""

    stored: int = 0
    waiting: int = 0
    rejected: int = 0
    dropped: int = 0


class Recorder:
    """Store rows (node, codename, x, y) in a database via a spool file; see the module doc."""

    def __init__(
        self,
        database: Database,
        spool_path: str | Path,
        spool_max_bytes: int = 1024**3,
        flush_interval: float = 1.0,
        batch_rows: int = BATCH_ROWS,
    ) -> None:
        self.database = database
        self.spool = Spool(spool_path, spool_max_bytes)
        self.rejected_path = Path(f"{spool_path}.rejected")
        self.flush_interval = flush_interval
        self.batch_rows = batch_rows
        self.counts: dict[str, NodeCounts] = {}
        self.database_state = "not connected yet"
        self.last_error: str | None = None
        self._pending: list[Row] = []
        self._descriptions: dict[tuple[str, str], tuple[str, str]] = {}
        self._lock = threading.Lock()
        self._flushed = threading.Event()
        self._stop = threading.Event()
        self._flusher_done = threading.Event()
        self._threads: list[threading.Thread] = []
        self._schema_ready = False
        for node, waiting in self.spool.pending_rows_by_node().items():
            self._node(node).waiting += waiting

    def _node(self, node: str) -> NodeCounts:
        counts = self.counts.get(node)
        if counts is None:
            counts = self.counts[node] = NodeCounts()
        return counts

    # -- producers (any thread) -------------------------------------------------------------------
    def add(self, node: str, codename: str, x: float, y: float | None) -> None:
        """Queue one row; returns at once whatever the database is doing."""
        with self._lock:
            counts = self._node(node)
            if len(self._pending) >= MAX_PENDING:
                counts.dropped += 1
                return
            self._pending.append((node, codename, x, y))
            counts.waiting += 1

    def add_many(self, rows: list[Row]) -> None:
        """Queue rows (node, codename, x, y) at once; one lock for all of them."""
        with self._lock:
            room = max(0, MAX_PENDING - len(self._pending))
            for row in rows[room:]:
                self._node(row[0]).dropped += 1
            kept = rows[:room]
            self._pending.extend(kept)
            node, counts = None, None
            for row in kept:  # rows come a node at a time: one lookup per node
                if row[0] != node:
                    node = row[0]
                    counts = self._node(node)
                counts.waiting += 1  # type: ignore[union-attr]

    def describe(self, node: str, codename: str, unit: str, description: str) -> None:
        """Record a channel's unit and description (written with the next batch)."""
        with self._lock:
            self._descriptions[node, codename] = (unit, description)

    # -- threads ----------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the flusher and writer threads."""
        for target, name in ((self._flush_loop, "flusher"), (self._write_loop, "writer")):
            thread = threading.Thread(target=target, name=f"Recorder-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 10.0) -> bool:
        """Flush to the spool, write what the database takes within ``timeout``; True if all.

        Rows not written stay in the spool file for the next start: nothing is lost.
        """
        self._stop.set()
        self._flushed.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        if not self._threads:
            self.flush()
        drained = self.spool.pending_bytes == 0 and not self._pending
        if all(not t.is_alive() for t in self._threads):
            self.spool.close()
        return drained

    def flush(self) -> None:
        """Move rows from memory to the spool file (fsynced)."""
        with self._lock:
            rows, self._pending = self._pending, []
        if not rows:
            return
        try:
            dropped = self.spool.append(rows)
        except OSError as error:  # e.g. a full disk: keep them in memory (bounded) and retry
            self.last_error = f"cannot write the spool {self.spool.path}: {error}"
            log.error("%s", self.last_error)
            with self._lock:
                self._pending = rows + self._pending
                excess = len(self._pending) - MAX_PENDING
                if excess > 0:
                    for node, *_ in self._pending[-excess:]:
                        self._node(node).dropped += 1
                        self._node(node).waiting -= 1
                    del self._pending[-excess:]
            return
        if dropped:
            with self._lock:
                for node, *_ in rows[len(rows) - dropped :]:
                    counts = self._node(node)
                    counts.dropped += 1
                    counts.waiting -= 1
            self.last_error = (
                f"spool {self.spool.path} is full ({self.spool.max_bytes} bytes): "
                f"{dropped} points dropped"
            )
            log.error("%s", self.last_error)
        self._flushed.set()

    def _flush_loop(self) -> None:
        try:
            while not self._stop.wait(self.flush_interval):
                try:
                    self.flush()
                except Exception as error:  # say it, and go on flushing
                    self.last_error = f"flushing to the spool failed: {error!r}"
                    log.exception("flushing to the spool failed")
        finally:
            self.flush()
            self._flusher_done.set()
            self._flushed.set()

    def _write_loop(self) -> None:
        retry = RETRY_FIRST
        deadline_hit = False
        while True:
            rows, end = self.spool.read(self.batch_rows)
            if not rows and end == self.spool.offset:
                if self._flusher_done.is_set() and self.spool.pending_bytes == 0:
                    return
                self._flushed.wait(0.5)
                self._flushed.clear()
                continue
            try:
                self._write(rows)
            except DatabaseUnavailable as error:
                self._unavailable(str(error))
                self._schema_ready = False  # check the tables again when it is back
                if self._stop.is_set() and deadline_hit:
                    return
                deadline_hit = self._stop.is_set()
                time.sleep(retry)
                retry = min(RETRY_MAX, retry * 2)
                continue
            except Exception as error:  # never let the writer die silently; say it and retry
                self.last_error = f"writing to the database failed: {error!r}"
                log.exception("writing to the database failed; retrying in %.1f s", retry)
                if self._stop.is_set():
                    return
                time.sleep(retry)
                retry = min(RETRY_MAX, retry * 2)
                continue
            retry = RETRY_FIRST
            self.spool.consumed(end)

    def _write(self, rows: list[Row]) -> None:
        if not self._schema_ready:
            self.database.create()
            self._schema_ready = True
        with self._lock:
            descriptions, self._descriptions = self._descriptions, {}
        try:
            self.database.describe_channels((n, c, u, d) for (n, c), (u, d) in descriptions.items())
        except DatabaseUnavailable:
            with self._lock:  # again with the next attempt
                self._descriptions = {**descriptions, **self._descriptions}
            raise
        except StorageError as error:  # refused for good: say so, and store the points anyway
            self.last_error = str(error)
            log.error("%s", error)
        result = self.database.write_points(rows) if rows else None
        if self.database_state != "ok":
            log.info("database %s: writing", self.database.display_url)
        self.database_state = "ok"
        if result is None:
            return
        per_node: dict[str, int] = {}
        for row in rows:
            per_node[row[0]] = per_node.get(row[0], 0) + 1
        refused: dict[str, int] = {}
        for row, _ in result.rejected:
            refused[row[0]] = refused.get(row[0], 0) + 1
        with self._lock:
            for node, count in per_node.items():
                counts = self._node(node)
                counts.waiting -= count
                counts.stored += count - refused.get(node, 0)
                counts.rejected += refused.get(node, 0)
        if result.rejected:
            self._set_aside(result.rejected)

    def _set_aside(self, rejected: list[tuple[Row, str]]) -> None:
        lines = "".join(
            json.dumps({"row": row, "reason": reason}) + "\n" for row, reason in rejected
        )
        self.last_error = f"{len(rejected)} points refused by the database: {rejected[0][1]}"
        try:
            with open(self.rejected_path, "a", encoding="utf-8") as out:
                out.write(lines)
            log.error("%s; set aside in %s", self.last_error, self.rejected_path)
        except OSError as error:  # the rows go to the log instead; the rest is not held up
            self.last_error += f" (cannot write {self.rejected_path}: {error.strerror})"
            log.error("%s; the refused rows:\n%s", self.last_error, lines)

    def _unavailable(self, reason: str) -> None:
        if self.database_state != f"unavailable: {reason}":
            log.warning("database %s unavailable, spooling: %s", self.database.display_url, reason)
        self.database_state = f"unavailable: {reason}"
        self.last_error = reason

    # -- health -------------------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        """The recorder's state as a JSON-able dict: database, spool, per-node counts."""
        with self._lock:
            nodes = {name: vars(counts).copy() for name, counts in self.counts.items()}
        return {
            "database": self.database.display_url,
            "database_state": self.database_state,
            "spool": str(self.spool.path),
            "spool_bytes": self.spool.pending_bytes,
            "last_error": self.last_error,
            "nodes": nodes,
        }
