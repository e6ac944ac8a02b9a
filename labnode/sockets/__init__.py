"""UDP data sockets speaking PyExpLabSys's pull (date-data) and push protocols, and clients."""

from labnode._lazy import lazy_exports

#: Each public name and the module that defines it, imported on first use.
_EXPORTS = {
    "DEFAULT_PORT": "labnode.values",
    "DEFAULT_PUSH_PORT": "labnode.values",
    "DateDataClient": ".client",
    "BindError": ".errors",
    "CodenameError": ".errors",
    "NodeError": ".errors",
    "NodeTimeoutError": ".errors",
    "NodeUnreachableError": ".errors",
    "OldDataError": ".errors",
    "PortInUseError": ".errors",
    "ReplyTooLargeError": ".errors",
    "SocketError": ".errors",
    "TimeoutsError": ".errors",
    "UnknownCommandError": ".errors",
    "MAX_DATAGRAM": ".protocol",
    "OLD_DATA": ".protocol",
    "UNKNOWN_COMMAND": ".protocol",
    "DataUDPHandler": ".protocol",
    "DataPushClient": ".push_client",
    "WriteRefusedError": ".push_client",
    "DataPushHandler": ".push_protocol",
    "PushRefused": ".push_protocol",
    "DataPushSocket": ".push_server",
    "DateDataSocket": ".server",
    "PointTable": ".table",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = list(_EXPORTS)
