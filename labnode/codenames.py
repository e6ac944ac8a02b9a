"""The codename rule of the date-data protocol, shared by sockets (which serve codenames) and
drivers (which declare them); it imports nothing, so neither layer reaches into the other."""

from __future__ import annotations

#: Characters the protocol uses as separators, forbidden in codenames.
FORBIDDEN_CHARACTERS = "#,;:&"

#: The rule in one sentence, for error messages.
RULE = (
    "codenames are non-empty ASCII without whitespace or any of "
    f"{' '.join(FORBIDDEN_CHARACTERS)} (they separate fields on the wire); use '_' for spaces"
)


def codename_problem(codename: object) -> str | None:
    """Why ``codename`` cannot be served (a short phrase), or None when it is fine."""
    if not isinstance(codename, str):
        return f"is a {type(codename).__name__}, not a string"
    if not codename:
        return "is empty"
    if not codename.isascii():
        return "contains non-ASCII characters"
    if any(character.isspace() or not character.isprintable() for character in codename):
        return "contains whitespace or a control character"
    forbidden = [character for character in codename if character in FORBIDDEN_CHARACTERS]
    if forbidden:
        return f"contains {forbidden[0]!r}"
    return None
