"""Answer functions for ScriptedLineModel shared by the transport tests."""

from __future__ import annotations

LATE_S = 0.3


def slow_first(command: str) -> str | tuple[float, str]:
    """Answer SLOW late (LATE_S), everything else at once with 'reply:<command>'."""
    if command == "SLOW":
        return LATE_S, "late"
    return f"reply:{command}"
