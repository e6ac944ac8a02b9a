"""Waiting on a condition, within a bounded time (instead of a fixed sleep)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(
    condition: Callable[[], T], timeout: float = 5.0, step: float = 0.02, what: str = "condition"
) -> T:
    """Call ``condition`` until it returns something truthy, and return that; fail naming
    ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: T = condition()
    while not last:
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout} s (last: {last!r})")
        time.sleep(step)
        last = condition()
    return last
