"""What a driver's get_values() may return, checked in one place before anything is served."""

from __future__ import annotations

import decimal
import math
import numbers
from typing import Any

#: Problems named in one message at most (the rest are counted).
MAX_NAMED = 3


def check_reading(values: Any) -> tuple[dict[str, float], str | None]:
    """Split a reading into the finite numbers it holds and a description of what is wrong.

    A reading must be a dict ``{codename (str): number}``. A reading of another type, or with a
    key that is not a string, is rejected whole: ``({}, problem)``. Values that are not finite
    real numbers (bool, str, None, NaN, infinity, an int beyond float range, ...) are left out
    and described: ``(the good values, problem)``. The problem text names kinds, not the values
    themselves (except NaN and infinity), so it changes only when the kind of fault changes.
    An empty dict is valid and holds nothing fresh: ``({}, None)``.
    """
    if type(values) is dict:  # the common case: str keys and finite floats, checked inline
        for codename, value in values.items():
            if type(codename) is not str or type(value) is not float or value - value != 0.0:
                break
        else:
            return values, None
    if not isinstance(values, dict):
        return {}, f"get_values() returned {_kind(values)}, not a dict {{codename: number}}"
    good: dict[str, float] = {}
    problems: list[str] = []
    for codename, value in values.items():
        if not isinstance(codename, str):
            return {}, (
                f"get_values() returned a dict with a key of type {type(codename).__name__}; "
                "its keys must be codenames (str)"
            )
        number, problem = as_finite(value)
        if problem is None:
            good[codename] = number  # type: ignore[assignment]
        else:
            problems.append(f"{_short(codename)} is {problem}")
    if not problems:
        return good, None
    named = "; ".join(problems[:MAX_NAMED])
    more = f" and {len(problems) - MAX_NAMED} more" if len(problems) > MAX_NAMED else ""
    return good, f"get_values() returned values that are not finite numbers: {named}{more}"


def as_finite(value: Any) -> tuple[float | None, str | None]:
    """``(float(value), None)`` for a finite real number, else ``(None, what it is instead)``."""
    if type(value) is float:  # the common case first
        if math.isfinite(value):
            return value, None
        return None, f"{value!r} (not finite)"
    if isinstance(value, bool):
        return None, "a bool, not a number"
    if isinstance(value, (str, bytes)):
        return None, f"a {type(value).__name__}, not a number (convert replies with float())"
    if not isinstance(value, (numbers.Real, decimal.Decimal)):
        return None, f"{_kind(value)}, not a number"
    try:
        number = float(value)
    except OverflowError:
        return None, "an int beyond the range of a float"
    except (TypeError, ValueError):
        return None, f"{_kind(value)}, not a number"
    if not math.isfinite(number):
        return None, f"{number!r} (not finite)"
    return number, None


def _kind(value: Any) -> str:
    if value is None:
        return "None"
    name = type(value).__name__
    return f"an {name}" if name[:1].lower() in "aeiou" else f"a {name}"


def _short(codename: str, limit: int = 40) -> str:
    """A codename for a message: its repr, cut to ``limit`` characters."""
    text = repr(codename)
    return text if len(text) <= limit else text[: limit - 4] + "...'"
