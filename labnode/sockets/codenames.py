"""Rules for codenames (channel names) and their timeouts."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from labnode.codenames import FORBIDDEN_CHARACTERS, RULE, codename_problem

from .errors import CodenameError, TimeoutsError

__all__ = ["FORBIDDEN_CHARACTERS", "check_codename", "check_codenames", "expand_timeouts"]


def check_codename(codename: object) -> str:
    """Return ``codename`` if it is a valid codename, else raise CodenameError naming the rule."""
    problem = codename_problem(codename)
    if problem is not None:
        raise CodenameError(f"codename {codename!r} {problem}; {RULE}")
    return codename  # type: ignore[return-value]


def check_codenames(codenames: Iterable[str]) -> list[str]:
    """Validate a list of codenames: each by :func:`check_codename`, and no duplicates."""
    if isinstance(codenames, (str, bytes)):
        raise CodenameError(
            f"codenames must be a list of strings, not the single string {codenames!r}; "
            f"write [{codenames!r}]"
        )
    checked = [check_codename(c) for c in codenames]
    seen: set[str] = set()
    for codename in checked:
        if codename in seen:
            raise CodenameError(f"codename {codename!r} appears twice; codenames must be unique")
        seen.add(codename)
    if not checked:
        raise CodenameError("no codenames given; a socket serves at least one codename")
    return checked


def expand_timeouts(
    timeouts: float | None | Sequence[float | None], codenames: Sequence[str]
) -> list[float | None]:
    """Turn ``timeouts`` (None, one number, or one per codename) into one entry per codename."""
    if timeouts is None or isinstance(timeouts, (int, float)):
        expanded = [timeouts] * len(codenames)
    elif isinstance(timeouts, (str, bytes)):
        raise TimeoutsError(f"timeouts={timeouts!r}: give seconds as a number, not a string")
    else:
        expanded = list(timeouts)
        if len(expanded) != len(codenames):
            raise TimeoutsError(
                f"{len(expanded)} timeouts given for {len(codenames)} codenames "
                f"({', '.join(codenames[:5])}{', ...' if len(codenames) > 5 else ''}); "
                "give one timeout per codename, in the same order, or a single number for all"
            )
    result: list[float | None] = []
    for codename, timeout in zip(codenames, expanded):
        if timeout is None:
            result.append(None)
            continue
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
            raise TimeoutsError(
                f"timeout {timeout!r} for codename {codename!r} is not a number of seconds"
            )
        if not timeout >= 0:
            raise TimeoutsError(
                f"timeout {timeout!r} for codename {codename!r} must be zero or more seconds"
            )
        result.append(float(timeout))
    return result
