"""UDP data sockets speaking PyExpLabSys's pull (date-data) and push protocols, and clients."""

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
from .push_client import DataPushClient, WriteRefusedError
from .push_protocol import DataPushHandler, PushRefused
from .push_server import DEFAULT_PUSH_PORT, DataPushSocket
from .server import DEFAULT_PORT, DateDataSocket
from .table import PointTable

__all__ = [
    "DEFAULT_PORT",
    "DEFAULT_PUSH_PORT",
    "MAX_DATAGRAM",
    "OLD_DATA",
    "UNKNOWN_COMMAND",
    "CodenameError",
    "DataPushClient",
    "DataPushHandler",
    "DataPushSocket",
    "DataUDPHandler",
    "DateDataClient",
    "DateDataSocket",
    "NodeError",
    "NodeTimeoutError",
    "NodeUnreachableError",
    "OldDataError",
    "PointTable",
    "PortInUseError",
    "PushRefused",
    "ReplyTooLargeError",
    "SocketError",
    "TimeoutsError",
    "UnknownCommandError",
    "WriteRefusedError",
]
