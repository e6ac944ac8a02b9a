"""Helpers for app tests: polling until a condition holds, within a bounded time; a free port."""

from __future__ import annotations

import socket

from tests.waiting import wait_for

__all__ = ["free_udp_port", "wait_for"]


def free_udp_port() -> int:
    """A UDP port on 127.0.0.1 that was free a moment ago (for a config that needs a number)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
