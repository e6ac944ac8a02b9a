"""Binding a UDP server socket with errors that say what to do, and waking its receiver."""

from __future__ import annotations

import errno
import socket


def bind_udp(host: str, port: int) -> socket.socket:
    """A UDP socket bound to ``(host, port)``; '' binds all interfaces, port 0 any free port.

    Raises :class:`~labnode.sockets.errors.PortInUseError` for a port in use or privileged, and
    OSError naming the host for an address that is not this machine's.
    """
    from .errors import PortInUseError

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    where = host or "all interfaces (0.0.0.0)"
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        if error.errno == errno.EADDRINUSE:
            raise PortInUseError(
                f"UDP port {port} on {where} is already in use by another process or socket; "
                f"choose another port (e.g. {port + 1}) or stop the process that holds it "
                f"(`ss -ulpn 'sport = :{port}'` shows which)"
            ) from None
        if error.errno == errno.EACCES:
            raise PortInUseError(
                f"UDP port {port} on {where} needs privileges to bind; use a port above 1023"
            ) from None
        raise OSError(
            error.errno,
            f"cannot bind UDP port {port} on {where}: {error.strerror}; the host must be an "
            "address of this machine ('' for all, '127.0.0.1' for local)",
        ) from None
    except (socket.gaierror, UnicodeError) as error:
        sock.close()
        raise OSError(
            f"cannot bind UDP port {port} on {host!r}: {error}; the host must be an address of "
            "this machine ('' for all, '127.0.0.1' for local)"
        ) from None
    return sock


def wake_receiver(sock: socket.socket) -> None:
    """Send an empty datagram to ``sock``'s own port, to wake a thread blocked receiving on it."""
    host, port = sock.getsockname()[:2]
    if host in ("0.0.0.0", "::", ""):
        host = "::1" if sock.family == socket.AF_INET6 else "127.0.0.1"
    with socket.socket(sock.family, socket.SOCK_DGRAM) as waker:
        try:
            waker.sendto(b"", (host, port))
        except OSError:
            pass
