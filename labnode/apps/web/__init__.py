"""`labnode web`: a live dashboard of a lab's nodes with history plots (needs `labnode[web]`)."""

from .history import HistorySource, MemoryHistory, thin
from .live import LiveBoard, NodeTarget
from .server import Dashboard, WebServer, WebSettings

__all__ = [
    "Dashboard",
    "HistorySource",
    "LiveBoard",
    "MemoryHistory",
    "NodeTarget",
    "WebServer",
    "WebSettings",
    "thin",
]
