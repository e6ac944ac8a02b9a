"""Typed driver and transport errors; each names the driver, the resource and the command."""

from __future__ import annotations

import re
from typing import ClassVar

_LINE_BREAKS = re.compile(r"\s*[\r\n]+\s*")


def one_line(text: object) -> str:
    """`text` as one line: line breaks (e.g. inside a library's message) become single spaces."""
    return _LINE_BREAKS.sub(" ", str(text)).strip()


class DriverError(Exception):
    """Base of every driver error; carries the driver class name, the resource and the command.

    A subclass that names one more thing lists it in `names` (e.g. `("reply",)`): it is then a
    keyword of the constructor and an attribute (None when not given).
    """

    names: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        reason: str,
        *,
        driver: str | None = None,
        resource: str | None = None,
        command: str | None = None,
        **named: object,
    ) -> None:
        unknown = sorted(set(named) - set(self.names))
        if unknown:
            raise TypeError(f"{type(self).__name__} takes no keyword {unknown[0]!r}")
        for name in self.names:
            setattr(self, name, named.get(name))
        self.reason = one_line(reason)
        self.driver = driver
        self.resource = resource
        self.command = command
        super().__init__(self._message())

    def _message(self) -> str:
        where = self.driver or "driver"
        if self.resource is not None:
            where += f" on {self.resource!r}"
        if self.command is not None:
            where += f", command {self.command!r}"
        return f"{where}: {self.reason}"

    def __reduce__(self):  # keep the attributes through pickling (multiprocessing, logging)
        return _rebuild, (type(self), self.reason, self.__dict__.copy())


def _rebuild(cls: type[DriverError], reason: str, state: dict) -> DriverError:
    error = cls.__new__(cls)
    Exception.__init__(error, reason)
    error.__dict__.update(state)
    error.args = (error._message(),)
    return error


class InstrumentTimeout(DriverError, TimeoutError):
    """The instrument did not answer (completely) within the timeout."""


class ConnectionLost(DriverError, ConnectionError):
    """The port or connection is gone or could not be opened: transient, worth retrying."""


class ReplyParseError(DriverError, ValueError):
    """The instrument answered something the driver cannot parse (`reply`: what it answered)."""

    names = ("reply",)
    reply: str | bytes | None


class WriteRefused(DriverError):
    """A write was not applied: the channel is unknown or read-only, the value out of its limits,
    or the instrument refused it. `channel` names the channel (None when no single one is)."""

    names = ("channel",)
    channel: str | None


class DriverConfigError(DriverError, ValueError):
    """A driver was configured with an unknown keyword or an invalid value: retrying cannot help.

    `setting` names the constructor keyword or transport setting at fault ("baudrate",
    "visa_library", "queries", "resource", ...), or is None when no single one is.
    """

    names = ("setting",)
    setting: str | None


class UnknownDriverError(LookupError):
    """No driver is registered under the requested name, or its module cannot be imported."""

    def __init__(self, message: str) -> None:
        super().__init__(one_line(message))
