"""The Driver base class: one instrument's language on top of a transport."""

from __future__ import annotations

import functools
import inspect
import math
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, ClassVar

from labnode.drivers.channel import Channel
from labnode.drivers.checks import SettingChecks, is_number
from labnode.drivers.errors import DriverError, ReplyParseError, WriteRefused
from labnode.drivers.transports import SerialTransport, Transport, VisaTransport, transport_for


class Driver(ABC):
    """Base of every instrument driver: connect, get_values() -> {codename: float}, close.

    A driver may declare `channels` (a list of `Channel`, or a property when it learns them at
    connect); its `codenames` are then their names. Writable channels are written through
    `set_value()`, which checks the channel and calls the driver's `write_channel()`.
    """

    #: Transport class to use; None picks it from the resource string (VISA name or serial port).
    transport_class: ClassVar[type[Transport] | None] = None
    #: Settings this driver uses unless the caller overrides them (e.g. baudrate, terminations).
    default_settings: ClassVar[Mapping[str, Any]] = {}

    def __init__(self, resource: str, **settings: Any) -> None:
        #: Checks for the driver's own keywords: `raise self.checks.error("channels", "...")`.
        self.checks = SettingChecks(type(self).__name__, None)
        self._resource = self.checks.resource_name(resource)
        self.checks.resource = self._resource
        transport_class = self.transport_class or transport_for(self._resource)
        merged = {**self.default_settings, **settings}
        unknown = sorted(set(merged) - set(transport_class.settings))
        if unknown:
            own = _own_keywords(type(self))
            raise self.checks.error(
                unknown[0],
                f"unknown keyword {unknown[0]!r}; {type(self).__name__} accepts "
                + (f"{', '.join(own)} and " if own else "")
                + f"the {transport_class.__name__} settings "
                + ", ".join(sorted(transport_class.settings)),
            )
        self.settings: dict[str, Any] = merged
        self._transport: Transport = transport_class(
            self._resource, owner=type(self).__name__, **merged
        )
        self._observed_codenames: list[str] | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        get_values = cls.__dict__.get("get_values")
        if get_values is not None and not getattr(get_values, "__isabstractmethod__", False):
            cls.get_values = _recording_codenames(get_values)  # type: ignore[method-assign]

    # -- lifecycle ------------------------------------------------------------------------------
    def connect(self) -> None:
        """Open the port and run on_connect(); raise ConnectionLost if it cannot be opened."""
        with self._transport.lock:
            if self._transport.is_open:
                return
            self._transport.open()
            try:
                self.on_connect()
            except BaseException:
                self._transport.close()
                raise

    def on_connect(self) -> None:  # noqa: B027 (an optional hook)
        """Hook run after the port opens (configure the instrument); default does nothing."""

    def close(self) -> None:
        """Close the port; idempotent, never raises."""
        self._transport.close()

    def reconnect(self) -> None:
        """Close and reopen with the same settings."""
        with self._transport.lock:
            self.close()
            self.connect()

    def __enter__(self) -> Driver:
        self.connect()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # -- what the node app uses -----------------------------------------------------------------
    @abstractmethod
    def get_values(self) -> dict[str, float]:
        """Read the instrument once and return {codename: value}."""

    def identify(self) -> str:
        """Return the instrument's identification (default: the SCPI `*IDN?` reply)."""
        return self.query("*IDN?").strip()

    def diagnostics(self) -> dict[str, Any]:
        """Facts about the instrument's state for the node's `status` reply (default: none).

        Cheap and without I/O (it is called from the serving thread): report what the last
        reading learnt, e.g. {"gauge_status": {"pressure_2": "sensor off"}}. JSON-able values.
        """
        return {}

    @property
    def channels(self) -> list[Channel]:
        """What each codename means; by default a read-only Channel with no unit per codename."""
        return [Channel(name) for name in self.codenames or ()]

    @property
    def codenames(self) -> list[str] | None:
        """Codenames of get_values(): the declared channels' names, else the first reading's."""
        if _declares_channels(type(self)):
            return [channel.name for channel in self.channels]
        return None if self._observed_codenames is None else list(self._observed_codenames)

    def set_value(self, name: str, value: float) -> None:
        """Write one channel to the instrument; raise WriteRefused when it is not applied.

        Refused before any I/O: an unknown or read-only channel, a value that is not a finite
        number, or one outside the channel's min/max. Then `write_channel()` runs holding the
        port lock; it raises WriteRefused when the instrument refuses, and the usual
        InstrumentTimeout/ConnectionLost when it does not answer.
        """
        channels = self.channels
        channel = next((each for each in channels if each.name == name), None)
        if channel is None:
            known = ", ".join(each.name for each in channels) or "none known yet"
            raise self.write_refused(name, f"no channel named {name!r} (channels: {known})")
        if not channel.writable:
            raise self.write_refused(name, f"channel {name!r} is read-only")
        if not (is_number(value) and math.isfinite(value)):
            raise self.write_refused(name, f"{name} must be a finite number, got {value!r}")
        problem = channel.limit_problem(value)
        if problem is not None:
            raise self.write_refused(name, f"{name} = {value!r} is {problem}")
        with self.lock:
            self.write_channel(channel, float(value))

    def write_channel(self, channel: Channel, value: float) -> None:
        """Send `value` for a writable channel; drivers with writable channels override this.

        Called by `set_value()` after its checks, holding the port lock. Raise
        `self.write_refused(channel.name, reason, command)` when the instrument refuses.
        """
        raise self.write_refused(
            channel.name, f"{type(self).__name__} has no way to write {channel.name!r}"
        )

    def write_refused(
        self, channel: str | None, reason: str, command: str | None = None
    ) -> WriteRefused:
        """Build a WriteRefused for `channel` (to raise from write_channel)."""
        return WriteRefused(
            reason,
            channel=channel,
            driver=type(self).__name__,
            resource=self._resource,
            command=command,
        )

    @property
    def is_connected(self) -> bool:
        """Whether the port is open."""
        return self._transport.is_open

    @property
    def resource(self) -> str:
        """The port or VISA resource name this driver talks to."""
        return self._resource

    @property
    def transport(self) -> Transport:
        """The transport underneath (for timeouts, terminations, the port lock)."""
        return self._transport

    @property
    def lock(self) -> threading.RLock:
        """The port's lock; hold it (`with driver.lock:`) to make several exchanges atomic."""
        return self._transport.lock

    # -- helpers for driver authors -------------------------------------------------------------
    def write(self, command: str) -> None:
        """Send a command followed by the write termination."""
        self._transport.write(command)

    def read(self) -> str:
        """Read one reply up to the read termination (stripped)."""
        return self._transport.read()

    def query(self, command: str) -> str:
        """Write a command and read its reply, atomically with respect to other port users."""
        return self._transport.query(command)

    def write_bytes(self, data: bytes) -> None:
        """Write raw bytes, no termination added."""
        self._transport.write_bytes(data)

    def read_bytes(self, size: int) -> bytes:
        """Read exactly `size` bytes or raise InstrumentTimeout."""
        return self._transport.read_bytes(size)

    def read_until(self, terminator: bytes) -> bytes:
        """Read up to and including `terminator` or raise InstrumentTimeout."""
        return self._transport.read_until(terminator)

    def flush_input(self) -> None:
        """Discard everything received and not yet read."""
        self._transport.flush_input()

    def parse_float(self, reply: str, command: str | None = None) -> float:
        """Parse a reply as a float or raise ReplyParseError naming the reply and the command."""
        try:
            return float(reply)
        except (TypeError, ValueError) as error:
            raise self.parse_error(reply, command, "expected a number") from error

    def parse_error(
        self, reply: str | bytes | None, command: str | None = None, expected: str = "unexpected"
    ) -> ReplyParseError:
        """Build a ReplyParseError for `reply` (to raise from custom parsing code)."""
        if command is None:
            command = self._transport.last_command
        return ReplyParseError(
            f"cannot parse reply {reply!r} ({expected})",
            reply=reply,
            driver=type(self).__name__,
            resource=self._resource,
            command=command,
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._resource!r})"


class SerialDriver(Driver):
    """Driver of an instrument on a serial port (device path, pty, socket://, rfc2217://)."""

    transport_class = SerialTransport


class VisaDriver(Driver):
    """Driver of an instrument reached through VISA (GPIB, USB, TCPIP, ASRL; pyvisa-sim)."""

    transport_class = VisaTransport


def _declares_channels(cls: type[Driver]) -> bool:
    """Whether `cls` declares its channels (a class attribute or a property of its own)."""
    return inspect.getattr_static(cls, "channels") is not _BASE_CHANNELS


def _own_keywords(cls: type[Driver]) -> list[str]:
    """Keyword arguments that a driver's own __init__ methods take (e.g. ScpiDriver's queries)."""
    names: set[str] = set()
    for klass in cls.__mro__:
        if klass is Driver:
            break
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        for parameter in list(inspect.signature(init).parameters.values())[2:]:
            if parameter.kind in (parameter.KEYWORD_ONLY, parameter.POSITIONAL_OR_KEYWORD):
                names.add(parameter.name)
    return sorted(names)


def _recording_codenames(get_values: Callable[[Driver], dict[str, float]]) -> Callable:
    """Wrap get_values: record the first reading's keys; a bare ValueError becomes a parse error."""

    @functools.wraps(get_values)
    def wrapper(self: Driver) -> dict[str, float]:
        try:
            values = get_values(self)
        except DriverError:
            raise
        except ValueError as error:  # e.g. float(self.query(...)) on a garbage reply
            raise self.parse_error(self._transport.last_reply, None, str(error)) from error
        if self._observed_codenames is None and values:
            self._observed_codenames = list(values)
        return values

    return wrapper


_BASE_CHANNELS = Driver.__dict__["channels"]
