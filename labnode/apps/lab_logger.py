"""LabLogger: what `labnode log LAB.toml` runs: a LabPoller feeding a Recorder, with health.

Health goes to stdout (a line per node every ``report_interval``) and to a JSON file beside the
lab file (``<lab>.status.json``, replaced atomically every second), which `labnode log --status`
prints; nobody has to read the logs to see whether recording works.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any, TextIO

from labnode.apps.lab_config import LabConfig
from labnode.apps.lab_poller import LabPoller
from labnode.storage import Recorder, open_database

log = logging.getLogger(__name__)


def status_path(lab: LabConfig) -> Path:
    """Where the logger of ``lab`` writes its health."""
    path = Path(lab.path)
    return path.with_name(f"{path.stem}.status.json")


class LabLogger:
    """Record every node of a lab file into its database until ``request_stop()``."""

    def __init__(self, lab: LabConfig, report_interval: float = 10.0, out: TextIO | None = None):
        self.lab = lab
        self.database = open_database(lab.database_url, lab.table_prefix)
        self.recorder = Recorder(
            self.database, lab.spool_path, lab.spool_max_bytes, lab.flush_interval
        )
        self.poller = LabPoller(lab.nodes, self.recorder.add_many, self.recorder.describe)
        self.report_interval = report_interval
        self.out = out
        self.status_file = status_path(lab)
        self.started = time.time()
        self._stop = threading.Event()
        self._next_status = 0.0
        self._status_problem: str | None = None
        self._next_report = time.monotonic() + report_interval

    def request_stop(self) -> None:
        """Ask run() to finish (safe from a signal handler)."""
        self._stop.set()

    def run(self) -> bool:
        """Poll and record until stopped; then write what the database takes. True if all."""
        self._say(
            f"labnode log: recording {len(self.lab.nodes)} "
            f"node{'s' if len(self.lab.nodes) != 1 else ''} into "
            f"{self.database.display_url} (spool {self.lab.spool_path}, status "
            f"{self.status_file})"
        )
        self.recorder.start()
        try:
            self.poller.run(self._stop.is_set, self._idle)
        finally:
            self.poller.close()
            drained = self.recorder.stop(timeout=10.0)
            self._write_status()
            waiting = self.recorder.spool.pending_bytes
            self._say(
                "labnode log: stopped; everything written to the database"
                if drained
                else f"labnode log: stopped; {waiting} bytes of points wait in the spool for "
                "the next start"
            )
            self.database.close()
        return drained

    def _idle(self) -> None:
        now = time.monotonic()
        if now >= self._next_status:
            self._next_status = now + 1.0
            self._write_status()
        if now >= self._next_report:
            self._next_report = now + self.report_interval
            self._say(render_health(self.health()))

    def health(self) -> dict[str, Any]:
        """The logger's state: nodes (polling and storing counters), database, spool, sweeps."""
        recorder = self.recorder.health()
        stored = recorder.pop("nodes")
        nodes = self.poller.health()
        for node in nodes:
            node.update(stored.get(node["name"] or "", {}))
        return {
            "time": time.time(),
            "uptime": round(time.time() - self.started, 3),
            "pid": os.getpid(),
            **recorder,
            "sweep": self.poller.sweep_stats(),
            "nodes": nodes,
        }

    def _write_status(self) -> None:
        temporary = self.status_file.with_name(self.status_file.name + ".tmp")
        try:
            temporary.write_text(json.dumps(self.health(), indent=1), encoding="utf-8")
            os.replace(temporary, self.status_file)
            self._status_problem = None
        except OSError as error:
            if self._status_problem != str(error):  # once per kind of trouble, not every second
                log.warning("cannot write %s: %s", self.status_file, error)
            self._status_problem = str(error)

    def _say(self, text: str) -> None:
        if self.out is not None:
            print(text, file=self.out, flush=True)


def render_health(health: dict[str, Any]) -> str:
    """The health as a few lines a person can read."""
    sweep = health.get("sweep", {}).get("last_ms")
    lines = [
        f"database {health['database']}: {health['database_state']}; spool "
        f"{health['spool_bytes']} bytes waiting; last sweep "
        + ("-" if sweep is None else f"{sweep:.1f} ms")
    ]
    if health.get("last_error"):
        lines.append(f"  last storage error: {health['last_error']}")
    for node in health["nodes"]:
        state = {True: "answering", False: "NOT ANSWERING", None: "not answered yet"}
        lines.append(
            f"  {node['name'] or '?'} ({node['address']}): {state[node['answering']]}, "
            f"{node['channels']} channels, {node.get('stored', 0)} stored, "
            f"{node.get('waiting', 0)} waiting, {node.get('rejected', 0)} refused"
            + (f"; last error: {node['last_error']}" if node["last_error"] else "")
        )
    return "\n".join(lines)
