"""Device models: objects that take request bytes and give reply bytes, with fault switches."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from typing import ClassVar

DEFAULT_GARBAGE = b"#?%garbage&!"


class DeviceModel(ABC):
    """A simulated instrument: bytes in, reply bytes out, with `silent` and `garbage` faults.

    Subclasses implement `respond()`. `feed()` is what a server calls; it applies the faults:

    - `silent`: requests are swallowed (and forgotten), nothing is answered;
    - `garbage`: every reply the device would send is replaced by `garbage_reply`.

    `reply_delay` (seconds) asks the server to hold each reply back that long.
    All public methods are safe to call from any thread.
    """

    name: ClassVar[str] = "device"
    write_termination: ClassVar[bytes] = b"\r\n"

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self.silent = False
        self.garbage = False
        self.reply_delay = 0.0
        self.garbage_reply = DEFAULT_GARBAGE + self.write_termination
        self.requests_seen = 0

    def feed(self, data: bytes) -> bytes:
        """Take bytes the host sent; return the bytes the device answers (maybe empty)."""
        with self._lock:
            if self.silent:
                self._forget_input()
                return b""
            reply = self.respond(data)
            if reply and self.garbage:
                return self.garbage_reply
            return reply

    def reset_input(self) -> None:
        """Forget any partial request, as a fresh connection or power cycle would."""
        with self._lock:
            self._forget_input()

    @abstractmethod
    def respond(self, data: bytes) -> bytes:
        """Process request bytes (called under the model lock); return reply bytes."""

    def control(self, command: str, arguments: list[str]) -> str:
        """Apply a model-specific control command (simulator stdin); return what was done."""
        raise LookupError(f"unknown control command {command!r} for the {self.name} model")

    def _forget_input(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Drop buffered partial input; override when the model buffers."""


class LineDeviceModel(DeviceModel):
    """A device that answers one text line per request line (`handle_line`)."""

    read_termination: ClassVar[bytes] = b"\r"
    write_termination: ClassVar[bytes] = b"\r"
    encoding: ClassVar[str] = "ascii"

    def __init__(self) -> None:
        super().__init__()
        self._buffer = bytearray()

    def respond(self, data: bytes) -> bytes:
        """Split buffered input into lines and join the replies of `handle_line`."""
        self._buffer += data
        replies = bytearray()
        while True:
            end = self._buffer.find(self.read_termination)
            if end < 0:
                return bytes(replies)
            raw = bytes(self._buffer[:end])
            del self._buffer[: end + len(self.read_termination)]
            line = raw.decode(self.encoding, errors="replace").strip("\r\n")
            if not line:
                continue
            self.requests_seen += 1
            reply = self.handle_line(line)
            if reply is not None:
                replies += reply.encode(self.encoding, errors="replace") + self.write_termination

    @abstractmethod
    def handle_line(self, line: str) -> str | None:
        """Answer one request line (terminations stripped); None means no answer."""

    def _forget_input(self) -> None:
        self._buffer.clear()
