"""The one client-side parser of pull-protocol replies: reply bytes in, typed values out.

Every function here is pure (no I/O) and either returns a value of the documented shape or raises
one typed error, a :class:`~labnode.sockets.errors.NodeError`:

- :class:`UnknownCommandError` when the node answered ``UNKNOWN_COMMMAND``,
- :class:`ReplyTooLargeError` when it answered ``REPLY_TOO_LARGE...``,
- :class:`BadReplyError` for anything else it cannot use (wrong shape, not JSON, non-finite
  numbers, bad codenames, too deep, more than one datagram), carrying the request and a short
  escaped excerpt of the reply.

Nothing else escapes for any input (no TypeError, RecursionError, ...). The public API:

==========================  =====================================================================
``parse_reply(req, data)``  dispatch on the request form; returns what the functions below return
``parse_json_wn``           ``json_wn`` -> ``{codename: (x, y) or None for OLD_DATA}``
``parse_json``              ``json`` -> ``[(x, y) or None, ...]`` in codename order
``parse_raw``               ``raw`` -> ``[(x, y) or None, ...]``
``parse_raw_wn``            ``raw_wn`` -> ``{codename: (x, y) or None}``
``parse_point``             ``NAME#json`` or ``NAME#raw`` -> ``(x, y)`` or None
``parse_codenames_json``    ``codenames_json`` -> ``[codename, ...]``
``parse_codenames_raw``     ``codenames_raw`` -> ``[codename, ...]``
``parse_status``            ``status`` -> dict
``parse_channels_json``     ``channels_json`` -> ``{codename: ChannelInfo}``
``parse_name``              ``name`` -> str
``check_reply``             raise the error replies as typed errors, else return the bytes
``escape``, ``excerpt``     text safe for a terminal: non-printable characters escaped
==========================  =====================================================================

Each parser takes the reply as bytes (a ``str`` is encoded as UTF-8 first), an optional
``request`` (the request as sent, for messages) and an optional ``node`` (``host:port``, for
messages). Points are ``(x, y)`` tuples of finite floats.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

from labnode.codenames import FORBIDDEN_CHARACTERS, codename_problem

from .errors import NodeError, ReplyTooLargeError, UnknownCommandError
from .protocol import OLD_DATA, UNKNOWN_COMMAND

__all__ = [
    "MAX_DEPTH",
    "MAX_REPLY_BYTES",
    "BadReplyError",
    "ChannelInfo",
    "Point",
    "check_reply",
    "escape",
    "excerpt",
    "parse_channels_json",
    "parse_codenames_json",
    "parse_codenames_raw",
    "parse_json",
    "parse_json_wn",
    "parse_name",
    "parse_point",
    "parse_raw",
    "parse_raw_wn",
    "parse_reply",
    "parse_status",
]

#: The largest UDP payload (IPv6, 65535 - 8); no reply of one datagram is longer.
MAX_REPLY_BYTES = 65527
#: The deepest nesting of JSON arrays/objects accepted (``status`` needs a handful).
MAX_DEPTH = 32
#: How many characters of a bad reply an error message quotes.
EXCERPT_CHARS = 60

Point = tuple[float, float]

_TOO_LARGE = b"REPLY_TOO_LARGE"
_OLD_DATA = OLD_DATA.encode()
#: A number as Python's ``str()`` writes an int or a float (no nan, inf, '_' or spaces).
_RAW_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
#: A JSON string once its escaped backslashes and quotes are gone.
_JSON_STRING = re.compile(rb'"[^"]*"')
#: Opening brackets become +1 and closing ones -1 (as signed bytes); everything else is dropped.
_BRACKET_SIGNS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")
_NOT_BRACKETS = bytes(sorted(set(range(256)) - set(b"[]{}")))
#: A codename a client accepts: printable ASCII (spaces included: PyExpLabSys nodes may serve
#: them, though labnode's own rule refuses them), none of FORBIDDEN_CHARACTERS.
_CODENAME = re.compile(f"[^\\x00-\\x1f\\x7f-\\U0010ffff{re.escape(FORBIDDEN_CHARACTERS)}]+")


class BadReplyError(NodeError):
    """A node answered something the client cannot use: wrong shape, not JSON, bad numbers, ....

    ``request`` is the request as sent, ``problem`` what is wrong, ``excerpt`` the start of the
    reply with non-printable characters escaped, ``node`` the node's ``host:port`` (or None).
    """

    def __init__(self, request: str, problem: str, data: bytes, node: str | None = None) -> None:
        self.request = request
        self.problem = problem
        self.excerpt = excerpt(data)
        self.node = node
        where = f"{node} " if node else "the node "
        super().__init__(
            f"{where}answered {escape(request)!r} with an unusable reply ({problem}): "
            f"{self.excerpt}"
        )


@dataclass(frozen=True)
class ChannelInfo:
    """What ``channels_json`` says about one codename."""

    unit: str | None
    description: str
    writable: bool
    min: float | None = None
    max: float | None = None


# -- text safe for a terminal ------------------------------------------------------------------
def escape(text: str) -> str:
    """``text`` with every non-printable character written as an escape (``\\x1b``, ``\\n``, ...).

    Printable text, including non-ASCII letters, is returned as is; control characters (C0, C1,
    DEL), line and paragraph separators and invisible format characters (bidi overrides) become
    Python-style escapes, so no escape sequence reaches a terminal.
    """
    if text.isprintable():
        return text
    return "".join(
        c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text
    )


def excerpt(data: bytes | str, limit: int = EXCERPT_CHARS) -> str:
    """The start of a reply, quoted and escaped for a message, with its size if cut."""
    raw = data.encode("utf-8", "surrogateescape") if isinstance(data, str) else bytes(data)
    text = escape(raw[: limit * 4].decode("utf-8", "backslashreplace"))
    if len(text) <= limit and len(raw) <= limit * 4:
        return repr(text)
    return f"{text[:limit]!r}... ({len(raw)} bytes)"


# -- the error replies -------------------------------------------------------------------------
def _as_bytes(data: bytes | bytearray | memoryview | str) -> bytes:
    if isinstance(data, str):
        return data.encode("utf-8", "surrogateescape")
    return bytes(data)


def check_reply(data: bytes | str, request: str = "", node: str | None = None) -> bytes:
    """Return ``data`` as bytes, or raise the typed error an error reply stands for.

    ``UNKNOWN_COMMMAND`` -> :class:`UnknownCommandError`; ``REPLY_TOO_LARGE...`` ->
    :class:`ReplyTooLargeError`; more than one datagram -> :class:`BadReplyError`.
    """
    data = _as_bytes(data)
    where = node or "the node"
    if data == UNKNOWN_COMMAND:
        raise UnknownCommandError(f"{where} answered UNKNOWN_COMMMAND to {escape(request)!r}")
    if data.startswith(_TOO_LARGE):
        text = escape(data[:300].decode("utf-8", "backslashreplace"))
        raise ReplyTooLargeError(f"{where}: {text}")
    if len(data) > MAX_REPLY_BYTES:
        raise BadReplyError(request, f"{len(data)} bytes, more than one datagram", data, node)
    return data


# -- JSON, bounded ------------------------------------------------------------------------------
def _too_deep(data: bytes, limit: int = MAX_DEPTH) -> bool:
    """True if JSON arrays/objects in ``data`` nest deeper than ``limit`` (strings skipped).

    Linear, and in C: drop escaped backslashes and quotes, drop the strings, keep the brackets
    as +1/-1 (signed bytes) and take the largest running sum.
    """
    if data.count(b"[") + data.count(b"{") <= limit:
        return False
    unescaped = data.replace(b"\\\\", b"").replace(b'\\"', b"")
    brackets = _JSON_STRING.sub(b"", unescaped).translate(_BRACKET_SIGNS, _NOT_BRACKETS)
    return max(accumulate(memoryview(brackets).cast("b")), default=0) > limit


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise ValueError(f"key {escape(key)!r} appears twice")
            seen.add(key)
    return result


def _load_json(data: bytes, request: str, node: str | None) -> Any:
    if _too_deep(data):
        raise BadReplyError(request, f"JSON nested deeper than {MAX_DEPTH}", data, node)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise BadReplyError(request, "not UTF-8", data, node) from None
    try:
        # NaN and Infinity are read (PyExpLabSys nodes send them); a point holding one is then
        # served to the caller as OLD_DATA (None), the way a labnode node serves it
        return json.loads(text, object_pairs_hook=_unique_keys)
    except RecursionError:  # belt and braces: _too_deep already refused deep input
        raise BadReplyError(request, "JSON nested too deep", data, node) from None
    except ValueError as error:
        problem = error.msg if isinstance(error, json.JSONDecodeError) else str(error)
        raise BadReplyError(request, f"not JSON: {problem}", data, node) from None


def _json_reply(data: bytes | str, request: str, node: str | None) -> tuple[bytes, Any]:
    raw = check_reply(data, request, node)
    return raw, _load_json(raw, request, node)


# -- values --------------------------------------------------------------------------------------
def _number(value: Any) -> float | None:
    """``value`` as a finite float if it is a JSON number (not a bool), else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _json_point(value: Any) -> Point | None | str:
    """A JSON point as ``(x, y)``, None for OLD_DATA, or a string saying what is wrong."""
    if type(value) is list and len(value) == 2:
        x, y = value
        if type(x) is float and type(y) is float and math.isfinite(x) and math.isfinite(y):
            return (x, y)  # the common case, fast
    if isinstance(value, str):
        return None if value == OLD_DATA else "a string that is not OLD_DATA"
    if not isinstance(value, list) or len(value) != 2:
        return "not a point [x, y]"
    x, y = _number(value[0]), _number(value[1])
    if x is None or y is None:
        if _is_json_number(value[0]) and _is_json_number(value[1]):
            return None  # NaN, infinity or too large: no valid value, as OLD_DATA
        return "a point whose x or y is not a number"
    return (x, y)


def _is_json_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


#: How Python's str() writes non-finite floats (PyExpLabSys's raw replies).
_RAW_NON_FINITE = frozenset({"nan", "inf", "-inf"})


def _raw_number(text: str) -> float | None:
    if not _RAW_NUMBER.fullmatch(text):
        return None
    number = float(text)
    return number if math.isfinite(number) else None


def _raw_point(text: str) -> Point | None | str:
    """A raw point ``x,y`` as ``(x, y)``, None for OLD_DATA, or a string saying what is wrong."""
    if text == OLD_DATA:
        return None
    x_text, comma, y_text = text.partition(",")
    if not comma:
        return "not a point x,y"
    x, y = _raw_number(x_text), _raw_number(y_text)
    if x is None or y is None:
        if all(_RAW_NUMBER.fullmatch(t) or t in _RAW_NON_FINITE for t in (x_text, y_text)):
            return None  # NaN, infinity or too large: no valid value, as OLD_DATA
        return "a point whose x or y is not a number"
    return (x, y)


def _checked_codename(codename: Any, request: str, data: bytes, node: str | None) -> str:
    if type(codename) is str and _CODENAME.fullmatch(codename):
        return codename  # the fast path; codename_problem gives the message otherwise
    problem = codename_problem(codename) or "breaks the codename rule"
    shown = escape(codename) if isinstance(codename, str) else type(codename).__name__
    raise BadReplyError(request, f"codename {shown!r} {problem}", data, node)


def _point_list(
    entries: list[Any],
    to_point: Callable[[Any], Point | None | str],
    request: str,
    data: bytes,
    node: str | None,
) -> list[Point | None]:
    """Each entry as ``(x, y)`` or None; BadReplyError naming the first that is not a point."""
    result: list[Point | None] = []
    for index, entry in enumerate(entries):
        point = to_point(entry)
        if isinstance(point, str):
            raise BadReplyError(request, f"entry {index} is {point}", data, node)
        result.append(point)
    return result


def _decode_ascii(data: bytes, request: str, node: str | None) -> str:
    try:
        return data.decode("ascii")
    except UnicodeDecodeError:
        raise BadReplyError(request, "not ASCII", data, node) from None


# -- the parsers ---------------------------------------------------------------------------------
def parse_json_wn(
    data: bytes | str, request: str = "json_wn", node: str | None = None
) -> dict[str, Point | None]:
    """A ``json_wn`` reply as ``{codename: (x, y)}``, None for a codename that is OLD_DATA."""
    raw, table = _json_reply(data, request, node)
    if not isinstance(table, dict):
        raise BadReplyError(request, f"a JSON {type(table).__name__}, not an object", raw, node)
    result: dict[str, Point | None] = {}
    for codename, value in table.items():
        _checked_codename(codename, request, raw, node)
        point = _json_point(value)
        if isinstance(point, str):
            raise BadReplyError(request, f"{escape(codename)!r} is {point}", raw, node)
        result[codename] = point
    return result


def parse_json(
    data: bytes | str, request: str = "json", node: str | None = None
) -> list[Point | None]:
    """A ``json`` reply as a list of ``(x, y)`` in codename order, None for OLD_DATA."""
    raw, table = _json_reply(data, request, node)
    if not isinstance(table, list):
        raise BadReplyError(request, f"a JSON {type(table).__name__}, not a list", raw, node)
    return _point_list(table, _json_point, request, raw, node)


def parse_raw(
    data: bytes | str, request: str = "raw", node: str | None = None
) -> list[Point | None]:
    """A ``raw`` reply (``x,y;x,y;OLD_DATA``) as a list of ``(x, y)``, None for OLD_DATA."""
    raw = check_reply(data, request, node)
    text = _decode_ascii(raw, request, node)
    return _point_list(text.split(";") if text else [], _raw_point, request, raw, node)


def parse_raw_wn(
    data: bytes | str, request: str = "raw_wn", node: str | None = None
) -> dict[str, Point | None]:
    """A ``raw_wn`` reply (``name:x,y;name:OLD_DATA``) as ``{codename: (x, y) or None}``."""
    raw = check_reply(data, request, node)
    text = _decode_ascii(raw, request, node)
    result: dict[str, Point | None] = {}
    for cell in text.split(";") if text else []:
        codename, colon, value = cell.partition(":")
        if not colon:
            raise BadReplyError(request, "an entry without name:", raw, node)
        _checked_codename(codename, request, raw, node)
        if codename in result:
            raise BadReplyError(request, f"{codename!r} appears twice", raw, node)
        point = _raw_point(value)
        if isinstance(point, str):
            raise BadReplyError(request, f"{codename!r} is {point}", raw, node)
        result[codename] = point
    return result


def parse_point(
    data: bytes | str, request: str = "NAME#json", node: str | None = None
) -> Point | None:
    """A ``NAME#json`` or ``NAME#raw`` reply as ``(x, y)``, or None for OLD_DATA.

    The form is taken from ``request``: ``...#raw`` is parsed as raw, anything else as JSON.
    """
    if request.endswith("#raw"):
        raw = check_reply(data, request, node)
        point = _raw_point(_decode_ascii(raw, request, node))
    else:
        raw, value = _json_reply(data, request, node)
        point = _json_point(value)
    if isinstance(point, str):
        raise BadReplyError(request, point, raw, node)
    return point


def parse_codenames_json(
    data: bytes | str, request: str = "codenames_json", node: str | None = None
) -> list[str]:
    """A ``codenames_json`` reply as a list of codenames (each obeying the codename rule)."""
    raw, codenames = _json_reply(data, request, node)
    if not isinstance(codenames, list):
        raise BadReplyError(request, f"a JSON {type(codenames).__name__}, not a list", raw, node)
    return _unique_codenames(codenames, request, raw, node)


def parse_codenames_raw(
    data: bytes | str, request: str = "codenames_raw", node: str | None = None
) -> list[str]:
    """A ``codenames_raw`` reply (``a,b,c``) as a list of codenames."""
    raw = check_reply(data, request, node)
    text = _decode_ascii(raw, request, node)
    return _unique_codenames(text.split(",") if text else [], request, raw, node)


def _unique_codenames(
    codenames: list[Any], request: str, data: bytes, node: str | None
) -> list[str]:
    checked = [_checked_codename(c, request, data, node) for c in codenames]
    if len(set(checked)) != len(checked):
        raise BadReplyError(request, "a codename appears twice", data, node)
    return checked


def parse_status(
    data: bytes | str, request: str = "status", node: str | None = None
) -> dict[str, Any]:
    """A ``status`` reply as a dict (JSON object; its contents are the node's own)."""
    raw, status = _json_reply(data, request, node)
    if not isinstance(status, dict):
        raise BadReplyError(request, f"a JSON {type(status).__name__}, not an object", raw, node)
    return status


def parse_channels_json(
    data: bytes | str, request: str = "channels_json", node: str | None = None
) -> dict[str, ChannelInfo]:
    """A ``channels_json`` reply as ``{codename: ChannelInfo}``.

    Each codename maps to an object with ``unit`` (string or null), ``description`` (string),
    ``writable`` (bool) and, when set, ``min``/``max`` (finite numbers or null); other keys are
    ignored. A node that does not know the request (PyExpLabSys) raises UnknownCommandError.
    """
    raw, table = _json_reply(data, request, node)
    if not isinstance(table, dict):
        raise BadReplyError(request, f"a JSON {type(table).__name__}, not an object", raw, node)
    result: dict[str, ChannelInfo] = {}
    for codename, info in table.items():
        _checked_codename(codename, request, raw, node)
        problem = _channel_problem(info)
        if problem is not None:
            raise BadReplyError(request, f"{codename!r}: {problem}", raw, node)
        result[codename] = ChannelInfo(
            unit=info["unit"],
            description=info["description"],
            writable=info["writable"],
            min=_number(info.get("min")),
            max=_number(info.get("max")),
        )
    return result


def _channel_problem(info: Any) -> str | None:
    if not isinstance(info, dict):
        return "not an object"
    if "unit" not in info:
        return "unit is missing"
    if info["unit"] is not None and not isinstance(info["unit"], str):
        return "unit is not a string or null"
    if not isinstance(info.get("description"), str):
        return "description is missing or not a string"
    if not isinstance(info.get("writable"), bool):
        return "writable is missing or not true/false"
    for key in ("min", "max"):
        if info.get(key) is not None and _number(info[key]) is None:
            return f"{key} is not a finite number"
    return None


def parse_name(data: bytes | str, request: str = "name", node: str | None = None) -> str:
    """A ``name`` reply as text (UTF-8; undecodable bytes become U+FFFD). Escape it to show it."""
    return check_reply(data, request, node).decode("utf-8", "replace")


_TABLE_PARSERS = {
    "json_wn": parse_json_wn,
    "json": parse_json,
    "raw": parse_raw,
    "raw_wn": parse_raw_wn,
    "codenames_json": parse_codenames_json,
    "codenames_raw": parse_codenames_raw,
    "status": parse_status,
    "channels_json": parse_channels_json,
    "name": parse_name,
}


def parse_reply(request: str, data: bytes | str, node: str | None = None) -> Any:
    """Parse the reply to any request by its form; an unknown form gives the reply as text.

    ``NAME#json`` and ``NAME#raw`` give a point (see :func:`parse_point`); other requests with
    a ``#`` and requests this module does not know give the text after :func:`check_reply`.
    """
    parser = _TABLE_PARSERS.get(request)
    if parser is not None:
        return parser(data, request, node)
    if request.count("#") == 1 and request.endswith(("#json", "#raw")):
        return parse_point(data, request, node)
    return check_reply(data, request, node).decode("utf-8", "replace")
