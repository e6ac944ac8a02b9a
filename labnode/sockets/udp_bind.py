"""What the UDP servers share: binding with errors that say what to do, and a life cycle (start
serving from one thread, stop within a second, a context manager)."""

from __future__ import annotations

import errno
import socket
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from .errors import BindError, PortInUseError


def bind_udp(host: str, port: int) -> socket.socket:
    """A UDP socket bound to ``(host, port)``; '' binds all interfaces, port 0 any free port.

    Raises :class:`~labnode.sockets.errors.PortInUseError` for a port in use or privileged, and
    :class:`~labnode.sockets.errors.BindError` naming the host for an address not this machine's.
    """
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
                f"(`ss -ulpn 'sport = :{port}'` shows which)",
                host=host,
                port=port,
            ) from None
        if error.errno == errno.EACCES:
            raise PortInUseError(
                f"UDP port {port} on {where} needs privileges to bind; use a port above 1023",
                host=host,
                port=port,
            ) from None
        raise BindError(
            error.errno,
            f"cannot bind UDP port {port} on {where}: {error.strerror}; the host must be an "
            "address of this machine ('' for all, '127.0.0.1' for local)",
            host=host,
            port=port,
        ) from None
    except (socket.gaierror, UnicodeError) as error:
        sock.close()
        raise BindError(
            f"cannot bind UDP port {port} on {host!r}: {error}; the host must be an address of "
            "this machine ('' for all, '127.0.0.1' for local)",
            host=host,
            port=port,
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


def stop_receiver(sock: socket.socket, thread: threading.Thread) -> None:
    """End ``thread``, blocked receiving on ``sock``, within a second; then close ``sock``.

    The thread must check its own stop flag (set before this call) whenever a receive returns.
    """
    try:
        sock.shutdown(socket.SHUT_RDWR)  # wakes the blocked recvfrom on Linux
    except OSError:
        pass
    thread.join(0.2)
    if thread.is_alive():  # elsewhere, wake it with a datagram to ourselves
        wake_receiver(sock)
        thread.join(0.8)
    sock.close()


_Server = TypeVar("_Server", bound="UdpServing")


class UdpServing:
    """Start, stop and context manager of a UDP server whose ``_serve()`` runs in one thread.

    A subclass sets ``name``, ``host``, ``requested_port`` and ``port`` and calls
    ``_init_serving()``; its ``_serve(sock)`` (given the bound socket) ends when a receive
    returns with ``_stopping`` set.
    ``_serving_started()`` and ``_serving_stopped()`` are its hooks (logging, helper threads).
    """

    name: str
    host: str
    requested_port: int
    port: int | None
    #: The key of ``status`` under which the status provider's dict goes.
    status_provider_key = "owner"

    def _init_serving(self) -> None:
        self._status_provider: Callable[[], dict[str, Any]] | None = None
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._started_at: float | None = None

    def set_status_provider(self, provider: Callable[[], dict[str, Any]] | None) -> None:
        """Add ``provider()``'s dict to the ``status`` reply under ``status_provider_key``; it
        must be cheap."""
        self._status_provider = provider

    def _with_provided_status(self, status: dict[str, Any]) -> dict[str, Any]:
        provider = self._status_provider
        if provider is not None:
            status[self.status_provider_key] = provider()
        return status

    def _serve(self, sock: socket.socket) -> None:  # pragma: no cover (each subclass has its own)
        raise NotImplementedError

    def _serving_started(self) -> None:
        """Called after binding, before the serving thread starts."""

    def _serving_stopped(self) -> None:
        """Called after the serving thread ended and the port closed."""

    def start(self, *, thread: bool = True) -> None:
        """Bind the UDP port and serve from a background thread.

        With ``thread=False`` the port is bound non-blocking and nothing reads it: the owner
        serves it from a thread of its own (a subclass says how, e.g.
        :meth:`DataPushSocket.serve_pending`), watching :meth:`fileno` with ``select``.
        """
        if self._sock is not None:
            raise RuntimeError(f"{self.name!r} is already serving on port {self.port}")
        sock = bind_udp(self.host, self.requested_port)
        self._sock = sock
        self.port = sock.getsockname()[1]
        self._stopping = False
        self._started_at = time.time()
        self._serving_started()
        if not thread:
            sock.setblocking(False)
            return
        self._thread = threading.Thread(
            target=self._serve,
            args=(self._sock,),
            name=f"{type(self).__name__}:{self.port}",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving, close the port (free at once for a new socket) and join the thread."""
        thread, sock = self._thread, self._sock
        if sock is None:
            return
        self._stopping = True
        if thread is not None:
            stop_receiver(sock, thread)
        else:
            sock.close()
        self._serving_stopped()
        self._thread = None
        self._sock = None

    def fileno(self) -> int:
        """The bound socket's file descriptor (for ``select``), -1 when not started."""
        sock = self._sock
        return -1 if sock is None else sock.fileno()

    @property
    def is_serving(self) -> bool:
        """True while the port is bound and served: by the serving thread, or (``start(thread=
        False)``) by its owner."""
        if self._sock is None:
            return False
        return self._thread is None or self._thread.is_alive()

    def uptime(self, now: float) -> float | None:
        """Seconds since start(), None before."""
        return None if self._started_at is None else round(now - self._started_at, 3)

    def __enter__(self: _Server) -> _Server:
        if self._sock is None:
            self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
