"""FakeNode: a tiny UDP server on 127.0.0.1 that answers whatever a test tells it to."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable

Answer = Callable[[bytes], "bytes | None"]


class FakeNode:
    """Answers each request datagram with ``answer(request)`` (None: stay silent).

    ``answer`` may also be a dict of request -> reply (anything else: ``UNKNOWN_COMMMAND``).
    ``requests`` records ``(time.monotonic(), request)`` for every datagram received. Bound to
    127.0.0.1 on a free port; ``stop()`` (or leaving the ``with`` block) ends the thread.
    """

    def __init__(self, answer: Answer | dict[bytes, bytes]) -> None:
        if isinstance(answer, dict):
            table = answer
            self.answer: Answer = lambda request: table.get(request, b"UNKNOWN_COMMMAND")
        else:
            self.answer = answer
        self.requests: list[tuple[float, bytes]] = []
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.settimeout(0.05)
        self.port: int = self._sock.getsockname()[1]
        self.address = f"127.0.0.1:{self.port}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                request, source = self._sock.recvfrom(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            self.requests.append((time.monotonic(), request))
            reply = self.answer(request)
            if reply is not None:
                self._sock.sendto(reply, source)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self._sock.close()

    def __enter__(self) -> FakeNode:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
