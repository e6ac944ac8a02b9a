"""Errors raised by labnode's data sockets and their client."""

from __future__ import annotations


class SocketError(Exception):
    """Base class of every error raised by labnode.sockets."""


class CodenameError(SocketError, ValueError):
    """A codename breaks a rule of the protocol (named in the message)."""


class TimeoutsError(SocketError, ValueError):
    """The timeouts given do not fit the codenames."""


class BindError(SocketError, OSError):
    """A UDP server socket cannot bind ``(host, port)``: the host is not this machine's."""

    def __init__(self, *args: object, host: str, port: int) -> None:
        super().__init__(*args)
        self.host = host
        self.port = port


class PortInUseError(BindError):
    """The UDP port is already bound by another socket, or needs privileges."""


class NodeError(SocketError):
    """A node answered something the client cannot use."""


class OldDataError(NodeError):
    """The node reports OLD_DATA: the point is older than its timeout."""


class UnknownCommandError(NodeError):
    """The node answered UNKNOWN_COMMMAND to a request."""


class ReplyTooLargeError(NodeError):
    """The node's table does not fit one datagram; ask per codename."""


class NodeTimeoutError(SocketError, TimeoutError):
    """The node did not answer within the client's timeout."""


class NodeUnreachableError(SocketError, ConnectionError):
    """Nothing listens on the node's UDP port (ICMP port unreachable)."""
