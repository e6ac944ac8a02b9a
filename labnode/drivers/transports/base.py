"""The transport interface: one set of semantics for moving bytes to and from an instrument."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar, NoReturn

from labnode.drivers.checks import SettingChecks
from labnode.drivers.errors import ConnectionLost, InstrumentTimeout, ReplyParseError
from labnode.drivers.transports.port_locks import lock_for

#: The longest timeout in seconds of one read or write (an hour).
MAX_TIMEOUT = 3600.0

#: Settings every transport accepts, with their defaults.
COMMON_SETTINGS: dict[str, Any] = {
    "timeout": 1.0,
    "read_termination": "\n",
    "write_termination": "\n",
    "encoding": "latin-1",
}


class Transport(ABC):
    """Moves bytes to and from one port; timeouts in seconds, typed errors, one lock per port."""

    #: Accepted keyword settings and their defaults.
    settings: ClassVar[dict[str, Any]] = COMMON_SETTINGS

    def __init__(self, resource: str, *, owner: str = "Driver", **settings: Any) -> None:
        self.checks = SettingChecks(owner, None)
        self.resource: str = self.checks.resource_name(resource)
        self.checks.resource = self.resource
        self.owner = owner
        unknown = sorted(set(settings) - set(self.settings))
        if unknown:
            self._config_error(
                f"unknown setting {unknown[0]!r} for {type(self).__name__}; "
                f"accepted: {', '.join(sorted(self.settings))}",
                setting=unknown[0],
            )
        values = {**self.settings, **settings}
        self._timeout_seconds = self._checked_timeout(values.pop("timeout"))
        self.read_termination: str = self._termination(values, "read_termination")
        self.write_termination: str = self._termination(values, "write_termination")
        self.encoding: str = self.checks.encoding("encoding", values.pop("encoding"))
        self.options: dict[str, Any] = values
        self.lock: threading.RLock = lock_for(self.resource)
        self.last_command: str | None = None
        self.last_reply: str | None = None
        self._stale = False

    def _termination(self, values: dict[str, Any], name: str) -> str:
        value = values.pop(name)
        if value is None:
            return ""
        return self.checks.text(name, value, "'\\n' or '\\r\\n'")

    @property
    def timeout(self) -> float:
        """Seconds a read or write may take before InstrumentTimeout."""
        return self._timeout_seconds

    @timeout.setter
    def timeout(self, seconds: float) -> None:
        with self.lock:
            self._timeout_seconds = self._checked_timeout(seconds)
            if self.is_open:
                self._apply_timeout()

    def _checked_timeout(self, value: object) -> float:
        """A timeout in seconds, > 0 and at most MAX_TIMEOUT (pyvisa and select overflow)."""
        seconds = self.checks.positive_number("timeout", value, "seconds")
        if seconds > MAX_TIMEOUT:
            self._config_error(
                f"timeout must be at most {MAX_TIMEOUT:g} seconds, got {value!r}",
                setting="timeout",
            )
        return seconds

    def _apply_timeout(self) -> None:  # noqa: B027 (only transports that cache it override this)
        """Pass a changed timeout down to the open port."""

    # -- lifecycle ------------------------------------------------------------------------------
    @abstractmethod
    def open(self) -> None:
        """Open the port (no-op when already open); raises ConnectionLost if it cannot be opened."""

    @abstractmethod
    def close(self) -> None:
        """Close the port; idempotent, never raises."""

    @property
    @abstractmethod
    def is_open(self) -> bool:
        """Whether the port is open."""

    # -- raw bytes ------------------------------------------------------------------------------
    @abstractmethod
    def write_bytes(self, data: bytes) -> None:
        """Write raw bytes, no termination added."""

    @abstractmethod
    def read_bytes(self, size: int) -> bytes:
        """Read exactly `size` bytes or raise InstrumentTimeout."""

    @abstractmethod
    def read_until(self, terminator: bytes) -> bytes:
        """Read up to and including `terminator` or raise InstrumentTimeout."""

    @abstractmethod
    def flush_input(self) -> None:
        """Discard everything received and not yet read."""

    # -- text -----------------------------------------------------------------------------------
    def write(self, command: str) -> None:
        """Send a command followed by the write termination."""
        with self.lock:
            self.last_command = command
            self.write_bytes((command + self.write_termination).encode(self.encoding))

    def read(self) -> str:
        """Read one reply up to the read termination, which is stripped."""
        if not self.read_termination:
            self._config_error(
                "read_termination is empty, but replies are read line by line; "
                "set it to the instrument's line end, such as '\\n' or '\\r\\n'",
                setting="read_termination",
            )
        with self.lock:
            data = self.read_until(self.read_termination.encode(self.encoding))
            try:
                reply = data[: -len(self.read_termination)].decode(self.encoding)
            except UnicodeDecodeError as error:
                raise self._undecodable(data) from error
            self.last_reply = reply
            return reply

    def query(self, command: str) -> str:
        """Write a command and read its reply, holding the port lock across both."""
        with self.lock:
            self.write(command)
            return self.read()

    # -- shared machinery for subclasses --------------------------------------------------------
    def _discard_stale_input(self) -> None:
        """After a timeout, drop any late reply before the next command is sent."""
        if self._stale and self.is_open:
            self._stale = False
            self.flush_input()

    def _require_open(self) -> None:
        if not self.is_open:
            raise ConnectionLost(
                "not connected (the port was never opened, or was closed after a fault)",
                driver=self.owner,
                resource=self.resource,
                command=self.last_command,
            )

    def _timeout(self, what: str, received: bytes = b"") -> NoReturn:
        self._stale = True
        detail = f" (received only {received!r})" if received else ""
        raise InstrumentTimeout(
            f"{what} within {self.timeout:g} s{detail}; check the instrument is on and answering, "
            f"the address and the terminations (read_termination={self.read_termination!r})",
            driver=self.owner,
            resource=self.resource,
            command=self.last_command,
        )

    def _lost(self, error: BaseException, what: str = "connection lost") -> NoReturn:
        self.close()
        raise ConnectionLost(
            f"{what}: {error}; check the cable, the power and the address",
            driver=self.owner,
            resource=self.resource,
            command=self.last_command,
        ) from error

    def _undecodable(self, data: bytes) -> ReplyParseError:
        return ReplyParseError(
            f"cannot decode reply {bytes(data)!r} as {self.encoding}",
            reply=bytes(data),
            driver=self.owner,
            resource=self.resource,
            command=self.last_command,
        )

    def _config_error(self, reason: str, *, setting: str | None) -> NoReturn:
        raise self.checks.error(setting, reason)

    @contextmanager
    def _io(self) -> Iterator[None]:
        """Hold the lock and require an open port for one I/O operation."""
        with self.lock:
            self._require_open()
            yield

    def __repr__(self) -> str:
        state = "open" if self.is_open else "closed"
        return f"<{type(self).__name__} {self.resource!r} {state}>"
