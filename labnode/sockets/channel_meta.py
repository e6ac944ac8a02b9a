"""Channel metadata served by ``channels_json``: unit, description, writable, min, max."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

#: Keys a channel entry may have; ``name`` is accepted when it repeats the codename.
KEYS = ("unit", "description", "writable", "min", "max")


def _number(value: object, where: str) -> float | int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{where} = {value!r} is not a number")
    if not math.isfinite(value):
        raise ValueError(f"{where} = {value!r} is not a finite number")
    return value


def channels_table(
    codenames: Sequence[str], channels: Mapping[str, Mapping[str, Any]] | None
) -> dict[str, dict[str, Any]]:
    """Metadata for every codename, in order, checked; missing entries get the defaults.

    Defaults: ``unit`` None, ``description`` "", ``writable`` False; ``min``/``max`` only when
    given. Raises ValueError naming the codename and key for anything else.
    """
    channels = {} if channels is None else channels
    if not isinstance(channels, Mapping):
        raise ValueError(f"channels={channels!r}: give a mapping of codename -> {{'unit': ...}}")
    unknown = [c for c in channels if c not in codenames]
    if unknown:
        raise ValueError(
            f"channels[{unknown[0]!r}]: not a codename of this socket; its codenames are "
            + ", ".join(codenames[:10])
            + (", ..." if len(codenames) > 10 else "")
        )
    table: dict[str, dict[str, Any]] = {}
    for codename in codenames:
        given = channels.get(codename) or {}
        if not isinstance(given, Mapping):
            raise ValueError(f"channels[{codename!r}] = {given!r} is not a mapping")
        extra = [k for k in given if k not in KEYS and not (k == "name" and given[k] == codename)]
        if extra:
            raise ValueError(
                f"channels[{codename!r}] has the key {extra[0]!r}; the keys are {', '.join(KEYS)}"
            )
        unit = given.get("unit")
        if unit is not None and not isinstance(unit, str):
            raise ValueError(f"channels[{codename!r}].unit = {unit!r} is not a string or None")
        description = given.get("description", "")
        if not isinstance(description, str):
            raise ValueError(
                f"channels[{codename!r}].description = {description!r} is not a string"
            )
        writable = given.get("writable", False)
        if not isinstance(writable, bool):
            raise ValueError(f"channels[{codename!r}].writable = {writable!r} is not a bool")
        entry: dict[str, Any] = {"unit": unit, "description": description, "writable": writable}
        for key in ("min", "max"):
            if given.get(key) is not None:
                entry[key] = _number(given[key], f"channels[{codename!r}].{key}")
        if "min" in entry and "max" in entry and entry["min"] > entry["max"]:
            raise ValueError(
                f"channels[{codename!r}]: min {entry['min']!r} is above max {entry['max']!r}"
            )
        table[codename] = entry
    return table
