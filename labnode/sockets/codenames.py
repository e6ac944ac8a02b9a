"""Rules for codenames (channel names) and their timeouts."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .errors import CodenameError, TimeoutsError

#: Characters the protocol uses as separators, forbidden in codenames.
FORBIDDEN_CHARACTERS = "#,;:&"


def check_codename(codename: object) -> str:
    """Return ``codename`` if it is a valid codename, else raise CodenameError naming the rule."""
    if not isinstance(codename, str):
        raise CodenameError(
            f"codename {codename!r} is a {type(codename).__name__}; codenames must be strings"
        )
    if not codename:
        raise CodenameError("codename '' is empty; codenames must have at least one character")
    bad = [c for c in codename if c in FORBIDDEN_CHARACTERS]
    if bad:
        raise CodenameError(
            f"codename {codename!r} contains {bad[0]!r}; codenames must not contain any of "
            f"{' '.join(FORBIDDEN_CHARACTERS)} (they separate fields on the wire)"
        )
    if not codename.isascii():
        raise CodenameError(
            f"codename {codename!r} contains non-ASCII characters; requests are ASCII, "
            "so use only ASCII letters, digits, '_', '-' or '.'"
        )
    if any(c.isspace() or not c.isprintable() for c in codename):
        raise CodenameError(
            f"codename {codename!r} contains whitespace or a control character; "
            "use '_' instead of spaces"
        )
    return codename


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
