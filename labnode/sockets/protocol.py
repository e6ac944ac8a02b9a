"""DataUDPHandler: the date-data protocol as a pure request -> reply function, with no I/O.

Replies depend only on the point table and the clock, so each reply is built the first time it is
asked for and reused until a point changes (the table's generation moves) or a fresh point
crosses its timeout. ``status`` is rebuilt at most every :data:`STATUS_MAX_AGE` seconds.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping
from typing import Any

from .channel_meta import channels_table
from .table import Point, PointTable

UNKNOWN_COMMAND = b"UNKNOWN_COMMMAND"  # three M, as on the wire since 2014
OLD_DATA = "OLD_DATA"
#: The largest UDP payload over IPv4; a longer reply cannot be sent as one datagram.
MAX_DATAGRAM = 65507

#: Seconds a built ``status`` reply is reused; its ``status_age`` says how old it is.
STATUS_MAX_AGE = 0.5
#: After the points changed, ``status`` is rebuilt sooner, but no sooner than this many seconds
#: nor than STATUS_COST_FACTOR times its last build took: building it stays under ~10 % of a CPU.
STATUS_MIN_AGE = 0.02
STATUS_COST_FACTOR = 10.0
#: Requests whose reply is set by the operator (the name, a lone codename): such a reply may be
#: a valid request itself, so it must never be one of these, or two nodes could echo forever.
ECHO_REQUESTS = frozenset({b"name", b"codenames_raw"})

_NEVER = float("inf")


def _raw_cell(cell: Point | None) -> str:
    """A point as the raw forms write it, or OLD_DATA."""
    return OLD_DATA if cell is None else "{},{}".format(*cell)


def _json_cell(cell: Point | None) -> list[float] | str:
    """A point as the JSON forms write it, or OLD_DATA."""
    return OLD_DATA if cell is None else list(cell)


class DataUDPHandler:
    """Turn one request datagram into one reply datagram for a :class:`PointTable`.

    ``reply(request)`` never raises for any input and always returns bytes; it is what the
    socket's serving thread calls, and what tests call directly without a network.
    """

    def __init__(
        self,
        table: PointTable,
        name: str,
        status: Callable[[float], dict[str, Any]] | None = None,
        clock: Callable[[], float] = time.time,
        channels: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        self.table = table
        self.name = name
        self._status = status
        self._clock = clock
        self._slots = {c.encode(): i for i, c in enumerate(table.codenames)}
        self._cells: list[Point | None] = []
        self._cache: dict[bytes, bytes] = {}
        self._cache_generation = -1
        self._valid_until = -_NEVER
        self.channels = channels_table(table.codenames, channels)
        self._static = self._build_static()
        self._check_no_echo()
        self._status_body: bytes | None = None
        self._status_spliced = True
        self._status_built = -_NEVER
        self._status_generation = -1
        self._status_min_age = STATUS_MIN_AGE

    # -- the hot path -------------------------------------------------------------------------
    def answer(self, request: bytes) -> bytes | None:
        """The reply to a valid request, or None when ``request`` is not one."""
        now = self._clock()
        if self.table.generation != self._cache_generation or now > self._valid_until:
            self._renew(now)
        cached = self._cache.get(request)
        if cached is not None:
            return cached
        built = self._build(request)
        if built is not None:
            self._cache[request] = built  # bounded: only valid requests are cached
            return built
        if request == b"status":
            return self._status_reply(now)
        return None

    def reply(self, request: bytes) -> bytes:
        """Return the reply to ``request`` (bytes of one datagram); UNKNOWN_COMMMAND if invalid."""
        answer = self.answer(request)
        return UNKNOWN_COMMAND if answer is None else answer

    # -- building replies -----------------------------------------------------------------------
    def _renew(self, now: float) -> None:
        """Take one consistent snapshot of the table; replies are then built as first asked."""
        generation, points = self.table.snapshot()
        cells: list[Point | None] = []
        valid_until = _NEVER
        for point, timeout in zip(points, self.table.timeouts):
            x, y = point
            if x - x or y - y:  # NaN or +-inf (v - v is NaN, which is true): served as OLD_DATA
                cells.append(None)
                continue
            if timeout is not None:
                if now - point[0] > timeout:
                    cells.append(None)
                    continue
                valid_until = min(valid_until, point[0] + timeout)
            cells.append(point)
        self._cells = cells
        self._cache = dict(self._static)
        self._cache_generation = generation
        self._valid_until = valid_until

    def _build(self, request: bytes) -> bytes | None:
        """Build the reply to a table or single-codename request from the snapshot, or None."""
        cells = self._cells
        codenames = self.table.codenames
        if request == b"raw":
            return self._fit(";".join(map(_raw_cell, cells)), "raw")
        if request == b"json":
            return self._fit(json.dumps(list(map(_json_cell, cells))), "json")
        if request == b"raw_wn":
            pairs = zip(codenames, map(_raw_cell, cells))
            return self._fit(";".join(f"{c}:{r}" for c, r in pairs), "raw_wn")
        if request == b"json_wn":
            table = dict(zip(codenames, map(_json_cell, cells)))
            return self._fit(json.dumps(table), "json_wn")
        if request.count(b"#") != 1:
            return None
        name, _, form = request.partition(b"#")
        slot = self._slots.get(name)
        if slot is None:
            return None
        if form == b"raw":
            return _raw_cell(cells[slot]).encode()
        if form == b"json":
            return json.dumps(_json_cell(cells[slot])).encode()
        return None

    def _build_static(self) -> dict[bytes, bytes]:
        codenames = list(self.table.codenames)
        return {
            b"codenames_raw": self._fit(",".join(codenames), "codenames_raw"),
            b"codenames_json": self._fit(json.dumps(codenames), "codenames_json"),
            b"name": self._fit(self.name, "name", encoding="utf-8"),
            b"channels_json": self._fit(
                json.dumps(self.channels, separators=(",", ":")), "channels_json"
            ),
        }

    def _check_no_echo(self) -> None:
        for request in ECHO_REQUESTS:
            reply = self._static[request]
            if reply in ECHO_REQUESTS:
                what = "name" if request == b"name" else "single codename"
                raise ValueError(
                    f"a node whose {what} is {reply.decode()!r} would answer the request "
                    f"{request.decode()!r} with a request, and two such nodes could answer each "
                    f"other forever; choose another {what}"
                )

    def _fit(self, reply: str, command: str, encoding: str = "ascii") -> bytes:
        """Encode ``reply``, or a short error if it is larger than one datagram."""
        data = reply.encode(encoding, errors="replace")
        if len(data) <= MAX_DATAGRAM:
            return data
        return _too_large(command, len(data))

    def _status_reply(self, now: float) -> bytes:
        """The ``status`` reply, reused for up to STATUS_MAX_AGE s, with its age added."""
        age = now - self._status_built
        generation = self.table.generation
        if (
            self._status_body is None
            or not 0.0 <= age < STATUS_MAX_AGE
            or (generation != self._status_generation and age >= self._status_min_age)
        ):
            started = time.perf_counter()
            self._status_body, self._status_spliced = self._build_status(now)
            cost = time.perf_counter() - started
            self._status_min_age = max(STATUS_MIN_AGE, STATUS_COST_FACTOR * cost)
            self._status_built, self._status_generation, age = now, generation, 0.0
        if not self._status_spliced:
            return self._status_body
        return self._status_body + b'"status_age": %.3f}' % age

    def _build_status(self, now: float) -> tuple[bytes, bool]:
        """(the status JSON without its closing brace, True), or (a whole error reply, False)."""
        status = self.status(now)
        text = _finite_json(status)
        if len(text) > MAX_DATAGRAM - 40 and status.get("channels"):
            count = len(status.pop("channels"))
            status["channels_omitted"] = (
                f"{count} channels do not fit one datagram; ask NAME#json per codename"
            )
            text = _finite_json(status)
        data = text.encode("ascii")  # json.dumps escapes everything else
        if len(data) > MAX_DATAGRAM - 40:
            return _too_large("status", len(data)), False
        return data[:-1] + (b", " if len(data) > 2 else b""), True

    def status(self, now: float | None = None) -> dict[str, Any]:
        """The node's health as a JSON-able dict (what the ``status`` request answers)."""
        now = self._clock() if now is None else now
        if self._status is not None:
            try:
                return self._status(now)
            except Exception as error:  # a status must never take the node down
                return {"error": f"status failed: {error!r}"}
        return {}

    def channel_status(self, now: float) -> dict[str, dict[str, Any]]:
        """Per codename: its point, age in seconds, timeout, and whether it is old."""
        _, points = self.table.snapshot()
        channels = {}
        for codename, (x, y), timeout in zip(self.table.codenames, points, self.table.timeouts):
            if x - x or y - y:  # NaN or +-inf: served as OLD_DATA, shown as null
                channels[codename] = {
                    "x": _finite_or_none(x),
                    "y": _finite_or_none(y),
                    "age": None,
                    "timeout": timeout,
                    "old": True,
                    "non_finite": True,
                }
                continue
            age = now - x
            channels[codename] = {
                "x": x,
                "y": y,
                "age": round(age, 6),
                "timeout": timeout,
                "old": timeout is not None and age > timeout,
            }
        return channels


def _too_large(command: str, size: int) -> bytes:
    return (
        f"REPLY_TOO_LARGE: the {command} reply is {size} bytes, more than one UDP "
        f"datagram ({MAX_DATAGRAM}) holds; ask per codename with NAME#raw or NAME#json"
    ).encode()


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _finite_json(obj: Any) -> str:
    """``json.dumps(obj)`` as RFC 8259 JSON: NaN and infinities anywhere become null."""
    try:
        return json.dumps(obj, allow_nan=False, default=repr)
    except ValueError:
        # values are finite now; a non-finite float key is written as a string ("NaN")
        return json.dumps(_without_non_finite(obj), allow_nan=True, default=repr)


def _without_non_finite(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _without_non_finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_without_non_finite(v) for v in obj]
    return obj
