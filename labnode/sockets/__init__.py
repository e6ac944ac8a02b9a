"""UDP data sockets speaking PyExpLabSys's date-data pull protocol, and a client for them."""

from .client import DateDataClient
from .errors import (
    CodenameError,
    NodeError,
    NodeTimeoutError,
    NodeUnreachableError,
    OldDataError,
    PortInUseError,
    ReplyTooLargeError,
    SocketError,
    TimeoutsError,
    UnknownCommandError,
)
from .protocol import MAX_DATAGRAM, OLD_DATA, UNKNOWN_COMMAND, DataUDPHandler
from .server import DEFAULT_PORT, DateDataSocket
from .table import PointTable

__all__ = [
    "DEFAULT_PORT",
    "MAX_DATAGRAM",
    "OLD_DATA",
    "UNKNOWN_COMMAND",
    "CodenameError",
    "DataUDPHandler",
    "DateDataClient",
    "DateDataSocket",
    "NodeError",
    "NodeTimeoutError",
    "NodeUnreachableError",
    "OldDataError",
    "PointTable",
    "PortInUseError",
    "ReplyTooLargeError",
    "SocketError",
    "TimeoutsError",
    "UnknownCommandError",
]
