"""What a port number and a number of seconds are: one set of checks for config, sockets, CLI,
drivers and the simulator. Like labnode/codenames.py it imports nothing from labnode's layers."""

from __future__ import annotations

import math

#: The UDP port of a date-data (pull) socket when none is given.
DEFAULT_PORT = 9000
#: The UDP port of a push socket (setpoints) when none is given.
DEFAULT_PUSH_PORT = 8500
#: The largest port number.
MAX_PORT = 65535

#: The longest interval between readings, in seconds (one day).
MAX_INTERVAL = 86400.0

#: The port rule in one phrase, for error messages.
PORT_RULE = f"give a UDP port number from 0 to {MAX_PORT} (0 = any free)"


def is_finite_number(value: object) -> bool:
    """An int or a float that is finite; not a bool, and not an int beyond a float's range."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int beyond the range of a float
        return False


def is_port(value: object) -> bool:
    """A whole number from 0 to 65535 (0: any free port); not a bool, not a string."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_PORT


def check_port(value: object, name: str = "port") -> int:
    """Return ``value`` if it is a port number, else raise ValueError naming ``name``."""
    if not is_port(value):
        raise ValueError(f"{name}={value!r}: {PORT_RULE}")
    return value  # type: ignore[return-value]


def seconds_rule(positive: bool = False) -> str:
    """The seconds rule in one phrase, for error messages."""
    return f"give a finite number of seconds {'> 0' if positive else '>= 0'}"


def check_seconds(
    value: object, name: str | None = None, *, positive: bool = False, maximum: float = math.inf
) -> float:
    """Return ``value`` as a float if it is a finite number of seconds >= 0 (> 0 if
    ``positive``) and at most ``maximum``; else raise ValueError ("name=value: give ...", or
    only the phrase when ``name`` is None)."""
    where = "" if name is None else f"{name}={value!r}: "
    if not is_finite_number(value) or value < 0 or (positive and value == 0):  # type: ignore[operator]
        raise ValueError(where + seconds_rule(positive))
    if value > maximum:  # type: ignore[operator]
        raise ValueError(where + f"at most {maximum:g} seconds")
    return float(value)  # type: ignore[arg-type]
