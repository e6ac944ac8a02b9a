"""Checks of driver keywords and transport settings; a failure is a DriverConfigError naming it."""

from __future__ import annotations

import codecs
import os
from collections.abc import Collection, Mapping
from typing import Any

from labnode.codenames import RULE, codename_problem
from labnode.drivers.errors import DriverConfigError
from labnode.values import is_finite_number


def is_number(value: object) -> bool:
    """An int or a float, not a bool (True is an int to Python, not a number to a user)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class SettingChecks:
    """Checks of one driver's settings; each failure raises DriverConfigError(setting=...)."""

    def __init__(self, driver: str, resource: str | None) -> None:
        self.driver = driver
        self.resource = resource

    def error(self, setting: str | None, reason: str) -> DriverConfigError:
        """The DriverConfigError for `setting` (to raise from a driver's own checks)."""
        return DriverConfigError(
            reason, setting=setting, driver=self.driver, resource=self.resource
        )

    def resource_name(self, resource: object) -> str:
        """A non-empty port or VISA resource name (a str or a path)."""
        if isinstance(resource, os.PathLike):
            resource = os.fspath(resource)
        if not isinstance(resource, str) or not resource.strip():
            raise self.error(
                "resource",
                f"resource must be a port or VISA resource name such as '/dev/ttyUSB0', "
                f"'socket://192.168.1.20:4001' or 'GPIB0::9::INSTR', got {resource!r}",
            )
        return resource

    def positive_number(self, setting: str, value: object, unit: str = "") -> float:
        """A finite number > 0 (not a bool, not a string); `unit` e.g. "seconds"."""
        if not (is_finite_number(value) and value > 0):
            unit = f" of {unit}" if unit else ""
            raise self.error(setting, f"{setting} must be a number{unit} > 0, got {value!r}")
        return float(value)

    def positive_int(self, setting: str, value: object, example: str = "") -> int:
        """A whole number > 0 (not a bool, not a string)."""
        if not (isinstance(value, int) and not isinstance(value, bool) and value > 0):
            example = f" such as {example}" if example else ""
            raise self.error(
                setting, f"{setting} must be a whole number > 0{example}, got {value!r}"
            )
        return value

    def int_range(self, setting: str, value: object, low: int, high: int, what: str) -> int:
        """A whole number from `low` to `high` (not a bool); `what` names it in the message,
        e.g. "the controller's address"."""
        if not (isinstance(value, int) and not isinstance(value, bool) and low <= value <= high):
            raise self.error(setting, f"{setting} must be {what} {low}-{high}, got {value!r}")
        return value

    def choice(self, setting: str, value: object, choices: Collection[Any]) -> Any:
        """One of `choices` (compared with ==; bools never match numbers)."""
        for choice in choices:
            if value == choice and isinstance(value, bool) == isinstance(choice, bool):
                return choice
        listed = ", ".join(repr(choice) for choice in choices)
        raise self.error(setting, f"{setting} must be one of {listed}, got {value!r}")

    def boolean(self, setting: str, value: object) -> bool:
        """true or false."""
        if not isinstance(value, bool):
            raise self.error(setting, f"{setting} must be true or false, got {value!r}")
        return value

    def text(self, setting: str, value: object, example: str, *, empty: bool = True) -> str:
        """A string (non-empty unless `empty`)."""
        if not isinstance(value, str) or (not empty and not value):
            what = "a string" if empty else "a non-empty string"
            raise self.error(setting, f"{setting} must be {what} such as {example}, got {value!r}")
        return value

    def encoding(self, setting: str, value: object) -> str:
        """The name of a codec Python knows."""
        self.text(setting, value, "'ascii' or 'latin-1'", empty=False)
        try:
            codecs.lookup(value)
        except LookupError:
            raise self.error(
                setting,
                f"{setting} {value!r} is not a known text encoding; try 'ascii' or 'latin-1'",
            ) from None
        return value

    def text_list(self, setting: str, value: object, example: str) -> list[str]:
        """A list of strings (a single string is refused, so 'abc' is not read as 'a', 'b', 'c')."""
        if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, (list, tuple)):
            raise self.error(
                setting, f"{setting} must be a list of strings such as {example}, got {value!r}"
            )
        for item in value:
            if not isinstance(item, str):
                raise self.error(
                    setting,
                    f"{setting} must be a list of strings such as {example}; "
                    f"{item!r} is not a string",
                )
        return list(value)

    def codename(self, setting: str, value: object) -> str:
        """A codename the UDP protocol can serve: non-empty ASCII, no whitespace, none of #,;:&."""
        problem = codename_problem(value)
        if problem is not None:
            raise self.error(
                setting,
                f"codename {value!r} in {setting} {problem}; {RULE}",
            )
        return value
