"""DataPushHandler: PyExpLabSys's push protocol as a request -> reply object with no I/O.

The wire (docs/push.md, measured on PyExpLabSys's own ``DataPushSocket``): ``json_wn#{...}`` and
``raw_wn#name:type:v1,v2;...`` write values, ``name``, ``commands`` and ``status`` ask; replies are
``ACK#`` + the Python repr of the parsed dict, ``RET#...``, ``ERROR#...`` or ``EXCEP#...``.
Replies are always ASCII: anything else in them is backslash-escaped, so a client always hears.

:class:`DataPushHandler` answers one datagram at a time; :meth:`DataPushHandler.handle` adds the
guards a network server needs (allow-list, never answering a reply or its own address, a
per-source limit on error replies) and returns None for a datagram that must not be answered.
"""

from __future__ import annotations

import json
import logging
import queue as queue_module
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .access import AllowList
from .guard import ErrorRateLimiter, is_reply
from .protocol import MAX_DATAGRAM

log = logging.getLogger(__name__)

ACK = "ACK"
RET = "RET"
ERROR = "ERROR"
EXCEP = "EXCEP"
#: What PyExpLabSys answers to anything it does not know (three M, as on the wire).
PUSH_UNKNOWN_COMMAND = "ERROR#UNKNOWN_COMMMAND"
#: The ``commands`` list, in PyExpLabSys's order.
COMMANDS = ["json_wn#", "raw_wn#", "name", "status", "commands"]
ACTIONS = ("store_last", "enqueue", "callback_async", "callback_direct")
CALLBACK_ACTIONS = ("callback_async", "callback_direct")
RETURN_FORMATS = ("json", "raw", "string")
#: The largest request taken whole: the largest UDP payload over IPv4.
DEFAULT_MAX_REQUEST = MAX_DATAGRAM
#: Error messages longer than this (characters) are cut, so an error reply is never large.
ERROR_TEXT_LIMIT = 1000

#: raw_wn types; the listing is part of an error message PyExpLabSys clients may match.
_RAW_TYPE_LISTING = "dict_keys(['int', 'float', 'str', 'bool'])"
_RAW_RETURN_TYPES = ("int", "float", "bool", "str")

#: Replies counted against a source's error budget: errors, and status (many times a request).
_LIMITED_REPLIES = (b"ERROR#", b"EXCEP#", b"{")
#: Requests that write values (what ``audit`` hears about, with refusals before parsing).
_WRITE_COMMANDS = (b"json_wn#", b"raw_wn#")

Address = Any  # a socket address: (host, port) or (host, port, flowinfo, scope_id)


class PushRequestError(ValueError):
    """A push request that cannot be parsed; the message is what follows ``ERROR#``."""


class PushRefused(Exception):
    """Raised by a write check to refuse values: the reply is ``ERROR#`` + the message."""


# -- parsing ------------------------------------------------------------------------------------
def _to_bool(text: str) -> bool:
    if text == "True":
        return True
    if text == "False":
        return False
    raise ValueError(
        f"Cannot translate the string '{text}' to a boolean. "
        "Only the strings 'True' or 'False' are allowed"
    )


_RAW_CONVERTERS: dict[str, Callable[[str], Any]] = {
    "int": int,
    "float": float,
    "str": str,
    "bool": _to_bool,
}


def parse_raw_wn(body: str) -> dict[str, Any]:
    """Parse the body of ``raw_wn#name:type:v1,v2;...``; one bad part refuses the whole."""
    values: dict[str, Any] = {}
    for part in body.split(";"):
        fields = part.split(":")
        if len(fields) != 3:
            raise PushRequestError(
                f"The data part '{part}' did not match the expected format of 3 parts divided "
                "by ':'"
            )
        name, type_name, text = fields
        convert = _RAW_CONVERTERS.get(type_name)
        if convert is None:
            raise PushRequestError(
                f"The data type '{type_name}' is unknown. Only {_RAW_TYPE_LISTING} are allowed"
            )
        try:
            items = [convert(item) for item in text.split(",")]
        except ValueError as error:
            raise PushRequestError(
                f"Unable to convert values to '{type_name}'. Error is: {error}"
            ) from None
        values[name] = items[0] if len(items) == 1 else items
    return values


def parse_json_wn(body: str) -> dict[str, Any]:
    """Parse the body of ``json_wn#{...}`` with Python's JSON rules (NaN allowed, last key wins)."""
    try:
        values = json.loads(body)
    except (ValueError, RecursionError):
        raise PushRequestError(f"The string '{body}' could not be decoded as JSON") from None
    if not isinstance(values, dict):
        raise PushRequestError(
            f"The object '{values}' returned after decoding the JSON string is not a dict"
        )
    return values


# -- formatting callback_direct return values ---------------------------------------------------
def _raw_dict(value: dict) -> str:
    parts = []
    for key, item in value.items():
        if isinstance(item, list) and item:
            first = type(item[0])
            if any(type(element) is not first for element in item):
                raise ValueError("With return format raw, value in list must have same type")
            type_name = first.__name__
            text = ",".join(map(str, item))
        elif isinstance(item, list):
            type_name, text = "", ""
        else:
            type_name, text = type(item).__name__, str(item)
        if type_name not in _RAW_RETURN_TYPES:
            raise TypeError(
                "With return format raw, the item type can only be one of 'int', 'float', "
                f"'bool' and 'str'. Object: '{item}' is of type: {type_name}"
            )
        parts.append(f"{key}:{type_name}:{text}")
    return ";".join(parts)


def _raw_list(value: list) -> str:
    types: list[type] = []
    rows = []
    for row in value:
        if not isinstance(row, list):
            raise ValueError("With return format raw on a list, the elements themselves be lists")
        types.extend(map(type, row))
        rows.append(",".join(map(str, row)))
    if not types:
        raise ValueError("With return format raw on a list of lists, there must be a value")
    if any(t is not types[0] for t in types):
        raise ValueError(
            "With return format raw on a list of lists, all values  in list must have same "
            f"type. Types are: {types}"
        )
    if types[0] not in (int, float, bool, str):
        raise TypeError(
            "With return format raw, the item type can only be one of 'int', 'float', 'bool' "
            f"and 'str'. The type is: {types[0]}"
        )
    return f"{types[0].__name__}:{'&'.join(rows)}"


def format_return(value: Any, return_format: str) -> str:
    """A callback_direct return value as its reply: ``RET#...``, or ``EXCEP#...``."""
    if return_format == "json":
        try:
            return f"{RET}#{json.dumps(value)}"
        except Exception as error:
            return f"{EXCEP}#{error}"
    if return_format == "string":
        try:
            return f"{RET}#{value}"
        except Exception as error:
            return f"{EXCEP}#{error}"
    try:
        if value is None:
            return f"{RET}#None"
        if isinstance(value, dict):
            return f"{RET}#{_raw_dict(value)}"
        if isinstance(value, list):
            return f"{RET}#{_raw_list(value)}"
        raise ValueError("Return value must be a dict or list with return format 'raw'")
    except Exception as error:
        return f"{EXCEP}#Raw conversion failed with message:{error}"


# -- arguments ----------------------------------------------------------------------------------
def check_push_arguments(action: str, queue: Any, callback: Any, return_format: str) -> None:
    """Raise ValueError for an argument combination PyExpLabSys's DataPushSocket refuses."""
    if queue is not None and action != "enqueue":
        raise ValueError(
            f"queue= can only be used when the action is 'enqueue' (action={action!r})"
        )
    if callback is not None and action not in CALLBACK_ACTIONS:
        raise ValueError(
            "callback= can only be used when the action is 'callback_async' or "
            f"'callback_direct' (action={action!r})"
        )
    if action in CALLBACK_ACTIONS and not callable(callback):
        raise ValueError(
            f"Value for callback: '{callback}' is not callable; action={action!r} needs a "
            "function that takes the dict of values"
        )
    if return_format not in RETURN_FORMATS:
        raise ValueError(
            f"return_format={return_format!r}: it may only be one of 'json', 'raw' or 'string'"
        )
    if action not in ACTIONS:
        raise ValueError(f"Unknown action {action!r}. Must be one of: {list(ACTIONS)}")


def _ascii(reply: str) -> bytes:
    """Replies are ASCII; anything else is backslash-escaped rather than lost."""
    return reply.encode("ascii", errors="backslashreplace")


def _cut(text: str) -> str:
    if len(text) <= ERROR_TEXT_LIMIT:
        return text
    return f"{text[:ERROR_TEXT_LIMIT]}... ({len(text)} characters in all)"


def _error(message: str) -> bytes:
    return _ascii(f"{ERROR}#{_cut(message)}")


def _non_ascii_error(request: bytes, error: UnicodeDecodeError) -> bytes:
    return _error(
        f"the request is not ASCII (byte 0x{request[error.start]:02x} at position "
        f"{error.start}); push requests are ASCII text, write other characters as \\u escapes "
        "inside json_wn"
    )


@dataclass
class PushCounts:
    """What a push socket has done since it started (for ``status``)."""

    requests: int = 0
    accepted: int = 0
    refused: int = 0
    not_allowed: int = 0
    ignored_replies: int = 0
    ignored_own_address: int = 0
    too_large: int = 0
    queue_full: int = 0
    callback_errors: int = 0


class DataPushHandler:
    """Turn one push request datagram into one reply datagram, and apply accepted values.

    Every accepted dict is recorded as ``last`` and merged into ``updated`` (each with its Unix
    time); then ``enqueue`` and ``callback_async`` put it on ``queue`` (refused with ``ERROR#``
    and not recorded when the queue is full), and ``callback_direct`` calls ``callback`` and
    replies with its return value in ``return_format``. ``check(values, address)``, if given,
    runs before anything is recorded; raising :class:`PushRefused` refuses the values with
    ``ERROR#`` + its message. ``audit(address, request, reply)``, if given, hears once of every
    write attempt (``json_wn#``/``raw_wn#``, and anything refused before parsing: a client not
    allowed, a request too large) with its reply, None when the reply was dropped by the
    per-source limit. ``reply()`` never raises.
    """

    def __init__(
        self,
        name: str,
        action: str = "store_last",
        queue: Any = None,
        callback: Callable[[dict], Any] | None = None,
        return_format: str = "json",
        *,
        check: Callable[[dict, Address], None] | None = None,
        audit: Callable[[Address, bytes, bytes | None], None] | None = None,
        status: Callable[[float], dict[str, Any]] | None = None,
        allow: AllowList | None = None,
        max_request: int = DEFAULT_MAX_REQUEST,
        limiter: ErrorRateLimiter | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.name = str(name)
        self.action = action
        self.queue = queue
        self.callback = callback
        self.return_format = return_format
        self.check = check
        self.audit = audit
        self.allow = allow
        self.max_request = max_request
        self.limiter = ErrorRateLimiter() if limiter is None else limiter
        #: The socket's own bound address, set by the server: datagrams from it are dropped.
        self.own_address: tuple[str, int] | None = None
        self.counts = PushCounts()
        self._status = status
        self._clock = clock
        self._lock = threading.Lock()
        self._last: tuple[float | None, dict | None] = (None, None)
        self._updated: dict[str, Any] = {}
        self._updated_time: float | None = None
        self._static = {
            b"name": _ascii(f"{RET}#{self.name}"),
            b"commands": _ascii(f"{RET}#{json.dumps(COMMANDS)}"),
        }

    # -- stored values ------------------------------------------------------------------------
    @property
    def last(self) -> tuple[float | None, dict | None]:
        """``(time, values)`` of the last accepted write, ``(None, None)`` before any."""
        when, values = self._last
        return when, None if values is None else dict(values)

    @property
    def updated(self) -> tuple[float | None, dict]:
        """``(time, values)``: the newest value of every name ever written, ``(None, {})`` first."""
        with self._lock:
            return self._updated_time, dict(self._updated)

    def set_last_to_none(self) -> None:
        """Forget the last write."""
        self._last = (None, None)

    def clear_updated(self) -> None:
        """Forget every value written so far."""
        with self._lock:
            self._updated.clear()
            self._updated_time = None

    # -- the network's view -------------------------------------------------------------------
    def handle(
        self,
        datagram: bytes,
        address: Address,
        send: Callable[[bytes, Address], Any] | None = None,
    ) -> bytes | None:
        """The reply to send to ``address``, or None when the datagram must not be answered.

        With ``send``, the reply is also sent (``send(reply, address)``) before ``audit`` hears
        of it, so logging a write never delays its ACK.
        """
        counts = self.counts
        host = address[0]
        own = self.own_address
        if own is not None and address[1] == own[1] and (not own[0] or host == own[0]):
            counts.ignored_own_address += 1
            return None
        if is_reply(datagram):
            counts.ignored_replies += 1
            return None
        audited = True
        if self.allow is not None and not self.allow.allows(host):
            counts.not_allowed += 1
            reply = _error(
                f"client {host} is not allowed to write to this push socket; its allow-list "
                "must name the client's network"
            )
        elif len(datagram) > self.max_request:
            counts.too_large += 1
            reply = _error(
                f"the request is {len(datagram)} bytes, more than the {self.max_request} this "
                "push socket takes; send fewer values per request"
            )
        else:
            reply = self.reply(datagram, address)
            audited = datagram.startswith(_WRITE_COMMANDS)
        if reply.startswith(_LIMITED_REPLIES) and not self.limiter.allow(host):
            reply = None  # an error (or status) reply over this source's budget: drop it
        if send is not None and reply is not None:
            send(reply, address)
        if audited and self.audit is not None:
            try:
                self.audit(address, datagram, reply)
            except Exception:  # a failing audit must not cost the client its reply
                log.exception("push audit failed for %r from %s", datagram[:100], address)
        return reply

    # -- the protocol -------------------------------------------------------------------------
    def reply(self, request: bytes, address: Address = None) -> bytes:
        """Return the reply to ``request``; values it carries are applied first."""
        self.counts.requests += 1
        try:
            static = self._static.get(request)
            if static is not None:
                return static
            if request == b"status":
                return self._status_reply()
            try:
                text = request.decode("ascii")
            except UnicodeDecodeError as error:
                self.counts.refused += 1
                return _non_ascii_error(request, error)
            if text.count("#") != 1:
                self.counts.refused += 1
                return PUSH_UNKNOWN_COMMAND.encode()
            command, _, body = text.partition("#")
            if command == "json_wn":
                parse = parse_json_wn
            elif command == "raw_wn":
                parse = parse_raw_wn
            else:
                self.counts.refused += 1
                return PUSH_UNKNOWN_COMMAND.encode()
            try:
                values = parse(body)
            except PushRequestError as error:
                self.counts.refused += 1
                return _error(str(error))
            return self._accept(values, address)
        except Exception as error:  # a reply must never take the socket down
            log.exception("push request %r failed", request[:100])
            self.counts.refused += 1
            return _ascii(f"{EXCEP}#internal error: {_cut(repr(error))}")

    def _accept(self, values: dict, address: Address) -> bytes:
        counts = self.counts
        action = self.action
        ack = b""
        if action != "callback_direct":
            ack = _ascii(f"{ACK}#{values}")
            if len(ack) > MAX_DATAGRAM:
                counts.refused += 1
                return _error(
                    f"the ACK for these values would be {len(ack)} bytes, more than one UDP "
                    f"datagram ({MAX_DATAGRAM}) holds; nothing was stored, send fewer values"
                )
        if self.check is not None:
            try:
                self.check(values, address)
            except PushRefused as refusal:
                counts.refused += 1
                return _error(str(refusal))
        if action in ("enqueue", "callback_async"):
            try:
                self.queue.put(values, block=False)
            except queue_module.Full:
                counts.queue_full += 1
                counts.refused += 1
                waiting = getattr(self.queue, "maxsize", "?")
                return _error(
                    f"the push queue is full ({waiting} values waiting to be handled); nothing "
                    "was stored, try again later"
                )
        now = self._clock()
        self._last = (now, values)
        with self._lock:
            self._updated.update(values)
            self._updated_time = now
        counts.accepted += 1
        if action != "callback_direct":
            return ack
        try:
            returned = self.callback(values)  # type: ignore[misc]
        except Exception as error:
            return _ascii(f"{EXCEP}#{_cut(str(error))}")
        reply = _ascii(format_return(returned, self.return_format))
        if len(reply) > MAX_DATAGRAM:
            return _ascii(
                f"{EXCEP}#the callback's return value is {len(reply)} bytes as a reply, more "
                f"than one UDP datagram ({MAX_DATAGRAM}) holds"
            )
        return reply

    def _status_reply(self) -> bytes:
        now = self._clock()
        status: dict[str, Any] = {}
        if self._status is not None:
            try:
                status = self._status(now)
            except Exception as error:  # a status must never take the socket down
                status = {"error": f"status failed: {error!r}"}
        return _ascii(json.dumps(status, default=str))

    def status(self, now: float) -> dict[str, Any]:
        """This handler's part of ``status``: action, counts, queue, age of the last write."""
        when = self._last[0]
        result: dict[str, Any] = {
            "action": self.action,
            "last_write_age": None if when is None else round(now - when, 3),
            "counts": vars(self.counts).copy(),
            "error_replies_dropped": self.limiter.refused,
        }
        if self.queue is not None:
            try:
                size: Any = self.queue.qsize()
            except (NotImplementedError, AttributeError):
                size = None
            maxsize = getattr(self.queue, "maxsize", None)
            result["queue"] = {"size": size, "max": maxsize or None}
        return result


@dataclass(frozen=True)
class PushReply:
    """A push reply parsed on the client side: ``kind`` is ACK, RET, ERROR, EXCEP or JSON."""

    kind: str
    text: str

    @property
    def ok(self) -> bool:
        """True for ACK and RET replies."""
        return self.kind in (ACK, RET)


def parse_push_reply(data: bytes) -> PushReply:
    """Split a push reply into its kind and the text after ``#`` (JSON for ``status``)."""
    text = data.decode("ascii", errors="backslashreplace")
    kind, mark, rest = text.partition("#")
    if mark and kind in (ACK, RET, ERROR, EXCEP):
        return PushReply(kind, rest)
    if text[:1] in ("{", "["):
        return PushReply("JSON", text)
    raise ValueError(f"not a push reply: {text[:80]!r}")
