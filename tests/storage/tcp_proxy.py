"""A TCP proxy on 127.0.0.1 between a client and a database server that a test can cut,
stall and restore: the database outages of the recording tests, for real."""

from __future__ import annotations

import select
import socket
import threading


class TCPProxy:
    """Forward 127.0.0.1:``port`` to ``target``; ``cut()``, ``stall()``, ``restore()``."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._mode = "open"
        self._changed = threading.Condition()
        self._sockets: set[socket.socket] = set()
        self._closing = False
        threading.Thread(target=self._accept, daemon=True).start()

    def cut(self) -> None:
        """Drop every connection and refuse new ones (each is closed at once)."""
        with self._changed:
            self._mode = "cut"
            self._close_all()
            self._changed.notify_all()

    def stall(self) -> None:
        """Keep connections open but forward nothing (a hung server or network)."""
        with self._changed:
            self._mode = "stall"
            self._changed.notify_all()

    def restore(self) -> None:
        """Forward again."""
        with self._changed:
            self._mode = "open"
            self._changed.notify_all()

    def close(self) -> None:
        """Stop the proxy and drop everything."""
        with self._changed:
            self._closing = True
            self._mode = "cut"
            self._close_all()
            self._changed.notify_all()
        self._listener.close()

    def _close_all(self) -> None:
        for sock in list(self._sockets):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
        self._sockets.clear()

    def _accept(self) -> None:
        while not self._closing:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._changed:
                if self._mode == "cut":
                    client.close()
                    continue
            try:
                server = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._changed:
                self._sockets.update((client, server))
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while True:
                with self._changed:
                    while self._mode == "stall":
                        self._changed.wait()
                    if self._mode == "cut" or source not in self._sockets:
                        return
                readable, _, _ = select.select([source], [], [], 0.1)
                if not readable:
                    continue
                with self._changed:
                    if self._mode != "open":
                        continue
                data = source.recv(65536)
                if not data:
                    break
                sink.sendall(data)
        except (OSError, ValueError):
            pass
        with self._changed:
            for sock in (source, sink):
                if sock in self._sockets:
                    self._sockets.discard(sock)
                    try:
                        sock.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    sock.close()
