"""`labnode web LAB.toml`: the dashboard for the nodes and database of a lab file."""

from __future__ import annotations

import logging
import signal
import threading

from sqlalchemy.engine import make_url

from labnode.apps.lab_config import LabConfig

from .history import MemoryHistory
from .live import LiveBoard, NodeTarget
from .server import Dashboard, WebServer, WebSettings
from .stored import DatabaseHistory

log = logging.getLogger(__name__)

#: Longest wait for one node's reply; a node that does not answer in time counts as silent.
MAX_REQUEST_TIMEOUT = 1.0


def targets_from_lab(lab: LabConfig) -> list[NodeTarget]:
    """One target per ``[[nodes]]`` entry, polled at the entry's interval."""
    return [
        NodeTarget(
            host=entry.host,
            port=entry.port,
            name=entry.name,
            interval=entry.interval,
            timeout=min(MAX_REQUEST_TIMEOUT, entry.interval, entry.timeout),
            push=entry.push,
            down_after=entry.timeout,
        )
        for entry in lab.nodes
    ]


def dashboard_from_lab(
    lab: LabConfig, host: str | None = None, port: int | None = None
) -> tuple[WebServer, LiveBoard, DatabaseHistory]:
    """The server (not started), its board (not started) and its database history."""
    settings = WebSettings(
        host=lab.web.host if host is None else host,
        port=lab.web.port if port is None else port,
        writes=lab.web.writes,
        title=f"labnode: {lab.path}",
    )
    board = LiveBoard(targets_from_lab(lab), MemoryHistory())
    stored = DatabaseHistory(lab.database_url, lab.table_prefix)
    return WebServer(Dashboard(board, settings, stored)), board, stored


def serve_lab(lab: LabConfig, host: str | None = None, port: int | None = None) -> int:
    """Serve the dashboard until SIGINT or SIGTERM; print where it is."""
    server, board, stored = dashboard_from_lab(lab, host, port)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        server.start()
    except OSError as error:
        where = f"{server.dashboard.settings.host}:{server.dashboard.settings.port}"
        raise OSError(
            f"{lab.path}: web: cannot serve the dashboard on {where}: "
            f"{error.strerror or error}; pass --port or --host"
        ) from None
    board.start()
    print(
        f"labnode web: {len(lab.nodes)} nodes of {lab.path} on {server.url} "
        f"(history: {make_url(stored.url).render_as_string(hide_password=True)} where "
        f"`labnode log` records, else since start; writes "
        f"{'on' if server.dashboard.settings.writes else 'off'}). Stop with Ctrl-C.",
        flush=True,
    )
    try:
        stop.wait()
    finally:
        server.stop()
        board.stop()
        stored.close()
    return 0
