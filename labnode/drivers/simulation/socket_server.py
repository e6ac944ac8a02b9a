"""A TCP server that puts a device model behind `socket://host:port` (pyserial) or a VISA SOCKET."""

from __future__ import annotations

import errno
import selectors
import socket
from typing import Any

from labnode.drivers.simulation.model import DeviceModel
from labnode.drivers.simulation.serving_loop import ServingLoop

_LISTEN = "listen"
_SEND_TIMEOUT_S = 1.0


class SocketDeviceServer(ServingLoop):
    """Serve `model` over TCP on `host` (127.0.0.1 by default); port 0 picks a free port.

    Open it from a driver as `server.url` (pyserial `socket://`) or `server.visa_resource`
    (pyvisa-py `TCPIP::host::port::SOCKET`). Faults: `drop_connections()` closes the
    current connections; `vanish()` also stops listening (connects are refused) until
    `come_back()` listens again on the same port.
    """

    def __init__(self, model: DeviceModel, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(model)
        self.host = host
        self._port = port
        self._listener: socket.socket | None = None
        self._connections: set[socket.socket] = set()

    @property
    def port(self) -> int:
        """The TCP port (the one picked by the system when created with port=0 and started)."""
        return self._port

    @property
    def url(self) -> str:
        """The pyserial URL of the simulated device."""
        return f"socket://{self.host}:{self._port}"

    @property
    def visa_resource(self) -> str:
        """The VISA resource name of the simulated device (pyvisa-py raw socket)."""
        return f"TCPIP::{self.host}::{self._port}::SOCKET"

    @property
    def connection_count(self) -> int:
        """How many clients are connected now."""
        return len(self._connections)

    @property
    def is_listening(self) -> bool:
        """True unless stopped or vanished."""
        return self._listener is not None

    def drop_connections(self) -> None:
        """Close every client connection, keep listening."""
        self._call_in_loop(self._close_connections)

    def vanish(self) -> None:
        """Go away: close all connections and the listening socket, so connects are refused."""

        def vanish_now() -> None:
            self._close_connections()
            self._close_listener()

        self._call_in_loop(vanish_now)

    def come_back(self) -> None:
        """Listen again on the same port after `vanish()` (no-op if listening)."""

        def listen_if_gone() -> None:
            if self._listener is None:
                self._listen()

        self._call_in_loop(listen_if_gone)

    # -- ServingLoop -----------------------------------------------------------------------

    def _thread_name(self) -> str:
        return f"SocketDeviceServer({self.model.name}@{self.host}:{self._port})"

    def _open(self) -> None:
        self._listen()

    def _close(self) -> None:
        self._close_connections()
        self._close_listener()

    def _on_ready(self, key: selectors.SelectorKey) -> None:
        if key.data == _LISTEN:
            self._accept()
            return
        conn: socket.socket = key.fileobj  # type: ignore[assignment]
        try:
            data = conn.recv(4096)
        except OSError:
            data = b""
        if not data:
            self._close_connection(conn)
            return
        self._answer(conn, data)

    def _send(self, target: Any, data: bytes) -> None:
        try:
            target.sendall(data)
        except OSError:
            self._close_connection(target)

    def _target_alive(self, target: Any) -> bool:
        return target in self._connections

    # -- sockets ---------------------------------------------------------------------------

    def _listen(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind((self.host, self._port))
        except OSError as error:
            listener.close()
            if error.errno == errno.EADDRINUSE:
                raise OSError(
                    error.errno,
                    f"port {self._port} on {self.host} is already in use by another process; "
                    "pass port=0 to pick a free one or stop that process",
                ) from error
            raise
        listener.listen(8)
        listener.setblocking(False)
        self._port = listener.getsockname()[1]
        self._listener = listener
        self._register(listener, _LISTEN)

    def _accept(self) -> None:
        assert self._listener is not None
        try:
            conn, _address = self._listener.accept()
        except (BlockingIOError, InterruptedError, ConnectionAbortedError):
            return
        conn.setblocking(True)
        conn.settimeout(_SEND_TIMEOUT_S)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._connections.add(conn)
        self.model.reset_input()
        self._register(conn, conn)

    def _close_connection(self, conn: socket.socket) -> None:
        self._unregister(conn)
        self._connections.discard(conn)
        conn.close()

    def _close_connections(self) -> None:
        for conn in list(self._connections):
            self._close_connection(conn)
        self._forget_delayed()

    def _close_listener(self) -> None:
        if self._listener is not None:
            self._unregister(self._listener)
            self._listener.close()
            self._listener = None
