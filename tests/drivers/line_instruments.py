"""Small real peers for transport tests: a TCP and a pty instrument answering line commands."""

from __future__ import annotations

import os
import select
import socket
import threading
import time
from collections.abc import Callable

#: answer(command) -> reply, None (stay silent) or (delay_seconds, reply).
Answer = Callable[[str], "str | None | tuple[float, str]"]


def echo(command: str) -> str:
    """Answer every command with itself."""
    return command


def slow_first(command: str) -> str | tuple[float, str]:
    """Answer SLOW late (0.3 s), everything else at once with 'reply:<command>'."""
    if command == "SLOW":
        return 0.3, "late"
    return f"reply:{command}"


def _split(answer: Answer, command: str) -> tuple[float, str | None]:
    result = answer(command)
    if isinstance(result, tuple):
        return result
    return 0.0, result


class TcpLineInstrument:
    """An instrument on 127.0.0.1: newline-terminated commands in, `answer(command)` replies out."""

    def __init__(self, answer: Answer = echo, port: int = 0) -> None:
        self.answer = answer
        self.port = port
        self.commands: list[str] = []
        self._listener: socket.socket | None = None
        self._connections: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()

    @property
    def url(self) -> str:
        """The pyserial URL of this instrument."""
        return f"socket://127.0.0.1:{self.port}"

    @property
    def visa_resource(self) -> str:
        """The VISA resource name of this instrument (pyvisa-py raw socket)."""
        return f"TCPIP::127.0.0.1::{self.port}::SOCKET"

    def start(self) -> TcpLineInstrument:
        """Listen (again, on the same port once it has one) and serve in background threads."""
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen()
        listener.settimeout(0.05)
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._stop.clear()
        self._spawn(self._accept_loop, listener)
        return self

    def stop(self) -> None:
        """Close the listener and every connection (the instrument vanishes)."""
        self._stop.set()
        for connection in self._connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)  # wakes the serving thread at once
            except OSError:
                pass
        for thread in self._threads:
            thread.join(timeout=2)
        self._threads.clear()
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        for connection in self._connections:
            connection.close()
        self._connections.clear()

    def __enter__(self) -> TcpLineInstrument:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _spawn(self, target: Callable, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept_loop(self, listener: socket.socket) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = listener.accept()
            except (TimeoutError, OSError):
                continue
            connection.settimeout(0.05)
            self._connections.append(connection)
            self._spawn(self._serve, connection)

    def _serve(self, connection: socket.socket) -> None:
        pending = b""
        while not self._stop.is_set():
            try:
                chunk = connection.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            if not chunk:
                return
            pending += chunk
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                command = line.decode().rstrip("\r")
                self.commands.append(command)
                delay, reply = _split(self.answer, command)
                if reply is None:
                    continue
                if self._stop.wait(delay):
                    return
                try:
                    connection.sendall(reply.encode() + b"\n")
                except OSError:
                    return


class PtyLineInstrument:
    """An instrument behind a pseudo-terminal: open `path` with pyserial, the master answers."""

    def __init__(self, answer: Answer = echo) -> None:
        self.answer = answer
        self.master, self._slave = os.openpty()
        self.path = os.ttyname(self._slave)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def start(self) -> PtyLineInstrument:
        """Serve in a background thread."""
        self._thread.start()
        return self

    def vanish(self) -> None:
        """Close both ends, as when a USB adapter is unplugged."""
        self._stop.set()
        self._thread.join(timeout=2)
        for fd in (self.master, self._slave):
            try:
                os.close(fd)
            except OSError:
                pass

    def __enter__(self) -> PtyLineInstrument:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.vanish()

    def _serve(self) -> None:
        pending = b""
        while not self._stop.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if not ready:
                continue
            try:
                pending += os.read(self.master, 4096)
            except OSError:
                return
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                delay, reply = _split(self.answer, line.decode().rstrip("\r"))
                if reply is None:
                    continue
                if self._stop.wait(delay):
                    return
                os.write(self.master, reply.encode() + b"\n")


def wait_until(condition: Callable[[], bool], timeout: float = 2.0) -> bool:
    """Poll `condition` until it holds or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()
