"""A PyMeasure instrument's properties, found on its class before anything is opened.

`find_property(Keithley2000, "voltage_nplc")` says whether a property path can be read and set,
and within what bounds, from the property objects PyMeasure's `Instrument.control`,
`measurement` and `setting` build (their getter and setter carry the commands, the validator
and its values as default arguments). A path may go through channels: `"ch_1.voltage"` for a
`MultiChannelCreator` channel, `"output_A.voltage"` for a `ChannelCreator` one.
"""

from __future__ import annotations

import difflib
import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_FIRST_SENTENCE = re.compile(r"\.(?:\s|$)")

#: How many close names a "no such property" message suggests.
SUGGESTIONS = 5


@dataclass(frozen=True)
class PropertyPath:
    """A readable property of an instrument class or of one of its channels."""

    path: str
    writable: bool
    description: str = ""
    min: float | None = None
    max: float | None = None

    def get(self, instrument: object) -> Any:
        """Read the property from a constructed instrument (this is I/O)."""
        owner, _, name = self._owner(instrument)
        return getattr(owner, name)

    def set(self, instrument: object, value: float) -> None:
        """Set the property on a constructed instrument (this is I/O)."""
        owner, _, name = self._owner(instrument)
        setattr(owner, name, value)

    def _owner(self, instrument: object) -> tuple[object, str, str]:
        *channels, name = self.path.split(".")
        owner = instrument
        for channel in channels:
            owner = getattr(owner, channel)
        return owner, ".".join(channels), name


def find_property(instrument_class: type, path: str) -> PropertyPath | str:
    """The readable property at `path` of `instrument_class`, or why there is none (one line)."""
    from pymeasure.instruments.common_base import CommonBase

    *channels, name = path.split(".")
    owner = instrument_class
    for depth, channel in enumerate(channels):
        child = _channel_class(owner, channel, CommonBase)
        if child is None:
            where = ".".join([instrument_class.__name__, *channels[:depth]])
            known = [n for n, _ in _channel_names(owner, CommonBase)]
            return f"{where} has no channel {channel!r}" + _suggest(channel, known, "channels")
        owner = child
    found = inspect.getattr_static(owner, name, None) if name else None
    if not isinstance(found, property):
        what = (
            f"{owner.__name__}.{name} is a method, not a property"
            if callable(found)
            else f"{owner.__name__} has no property {name!r}"
        )
        return what + _suggest(name, readable_properties(owner), "readable properties")
    if not _can(found.fget, "get_command"):
        return f"{owner.__name__}.{name} can only be set (a PyMeasure setting); a channel is read"
    low, high = _bounds(found.fset)
    doc = " ".join((found.__doc__ or "").split())
    return PropertyPath(
        path,
        writable=_can(found.fset, "set_command"),
        description=_FIRST_SENTENCE.split(doc, maxsplit=1)[0],
        min=low,
        max=high,
    )


def readable_properties(owner: type) -> list[str]:
    """Names of the readable properties of an instrument or channel class."""
    names = {name for klass in owner.__mro__ for name in vars(klass)}  # getattr_static's view
    return sorted(
        name
        for name in names
        if not name.startswith("_")
        and isinstance(value := inspect.getattr_static(owner, name), property)
        and _can(value.fget, "get_command")
    )


def _can(function: Callable | None, command: str) -> bool:
    """Whether a getter/setter works: it exists and, if PyMeasure built it, has a command.

    PyMeasure's `measurement` gives its property a setter whose `set_command` default is None
    (and `setting` a getter whose `get_command` is None): they raise LookupError when called.
    """
    if function is None:
        return False
    try:
        parameter = inspect.signature(function).parameters.get(command)
    except (TypeError, ValueError):  # a builtin without a signature
        return True
    return parameter is None or parameter.default is not None


def _bounds(setter: Callable | None) -> tuple[float | None, float | None]:
    """(min, max) of a PyMeasure setter validated by strict_range or truncated_range."""
    if setter is None:
        return None, None
    from pymeasure.instruments.validators import strict_range, truncated_range

    try:
        parameters = inspect.signature(setter).parameters
    except (TypeError, ValueError):
        return None, None
    validator, values = parameters.get("validator"), parameters.get("values")
    if (
        validator is None
        or values is None
        or validator.default
        not in (
            strict_range,
            truncated_range,
        )
    ):
        return None, None
    bounds = values.default
    if (
        isinstance(bounds, (list, tuple))
        and len(bounds) == 2
        and all(isinstance(b, (int, float)) and not isinstance(b, bool) for b in bounds)
    ):
        return float(min(bounds)), float(max(bounds))
    return None, None


def _channel_names(owner: type, common_base: type) -> list[tuple[str, type]]:
    """(attribute name, class) of each channel PyMeasure creates on an instance of `owner`."""
    names = []
    for attribute, creator in common_base.get_channels(owner):
        prefix = creator.kwargs.get("prefix")
        for child_class, child_id in creator.pairs:
            if isinstance(creator, common_base.MultiChannelCreator) and prefix:
                names.append((f"{prefix}{child_id}", child_class))
            elif isinstance(creator, common_base.ChannelCreator):
                names.append((attribute, child_class))
    return names


def _channel_class(owner: type, name: str, common_base: type) -> type | None:
    return next((cls for each, cls in _channel_names(owner, common_base) if each == name), None)


def _suggest(name: str, known: list[str], what: str) -> str:
    close = difflib.get_close_matches(name, known, n=SUGGESTIONS)
    if close:
        return f"; did you mean {', '.join(close)}?"
    if not known:
        return f" (it has no {what})"
    shown = ", ".join(known[:10]) + (f" and {len(known) - 10} more" if len(known) > 10 else "")
    return f"; its {what}: {shown}"
