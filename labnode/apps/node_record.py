"""NodeRecorder: a node stores its own readings (the ``[record]`` table of its config file).

It watches the node's point table (what the node serves) a few times per reading interval and
passes every new point through the same criteria, spool and database as `labnode log`, so a node
on an instrument's Raspberry Pi records at its full reading rate, and a point is stored with
exactly the timestamp and value the node serves.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from labnode.apps.lab_config import RecordSettings
from labnode.sockets import DateDataSocket
from labnode.storage import ChangeFilter, Recorder, open_database

log = logging.getLogger(__name__)


class NodeRecorder:
    """Record the points of one node's table; ``start(table, node_name)``, ``stop()``."""

    def __init__(self, settings: RecordSettings, interval: float) -> None:
        storage = settings.storage
        self.settings = settings
        self.node_name = ""
        #: Seconds between looks at the table: a quarter of the reading interval, 1 to 250 ms.
        self.period = min(0.25, max(0.001, interval / 4))
        self.database = open_database(storage.database_url, storage.table_prefix)
        self.recorder = Recorder(
            self.database, storage.spool_path, storage.spool_max_bytes, storage.flush_interval
        )
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, node_socket: Callable[[], DateDataSocket | None]) -> None:
        """Start recording in a thread: ``node_socket()`` gives the node's socket once it is open
        (call this before the node starts, so its first reading is recorded too)."""
        self.recorder.start()
        self._thread = threading.Thread(
            target=self._watch, args=(node_socket,), name="NodeRecorder", daemon=True
        )
        self._thread.start()

    def _watch(self, node_socket: Callable[[], DateDataSocket | None]) -> None:
        sock = node_socket()
        while sock is None:
            if self._stop.wait(self.period):
                return
            sock = node_socket()
        table = sock.table
        name = self.node_name = sock.name
        log.info(
            "recording %s into %s (spool %s)",
            name,
            self.database.display_url,
            self.settings.storage.spool_path,
        )
        filters = [ChangeFilter(self.settings.criteria_for(c)) for c in table.codenames]
        channels = list(zip(table.codenames, table.timeouts, filters))
        watch_old = any(t is not None for t in table.timeouts)
        generation = -1
        while True:
            now = time.time()
            current, points = table.snapshot()
            if current != generation or watch_old:  # new points, or some may go OLD_DATA
                generation = current
                rows = []
                for (codename, timeout, channel), (x, y) in zip(channels, points):
                    if timeout is not None and now - x > timeout:
                        gap = channel.gap(now)
                        if gap is not None:
                            rows.append((name, codename, gap, None))
                    elif channel.offer(x, y):
                        rows.append((name, codename, x, y))
                if rows:
                    self.recorder.add_many(rows)
            if self._stop.wait(self.period):
                return

    def stop(self) -> bool:
        """Stop watching; write what the database takes (the rest stays spooled). True if all."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2)
        drained = self.recorder.stop(timeout=10.0)
        self.database.close()
        return drained
