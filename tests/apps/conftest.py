"""Helpers for app tests: polling until a condition holds, within a bounded time."""

from __future__ import annotations

from tests.waiting import wait_for

__all__ = ["wait_for"]
