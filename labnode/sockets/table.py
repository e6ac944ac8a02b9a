"""PointTable: the latest (x, y) point per codename, shared between threads."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Mapping, Sequence

from .codenames import check_codenames, expand_timeouts

Point = tuple[float, float]

#: The largest finite float; an int beyond it has no float value and no JSON that parsers share.
_FLOAT_MAX = sys.float_info.max


def _as_number(value: object, what: str, codename: str) -> float:
    """Return a float as is, an int within float range as is, else float(value).

    A bool, a string or anything float() refuses raises TypeError; an int beyond the float range
    raises ValueError. NaN and infinities are stored (they are served as OLD_DATA).
    """
    kind = type(value)
    if kind is float:
        return value  # type: ignore[return-value]
    if kind is int:
        if -_FLOAT_MAX <= value <= _FLOAT_MAX:  # type: ignore[operator]
            return value  # type: ignore[return-value]
        raise ValueError(
            f"{what} for codename {codename!r} is an int of {value.bit_length()} bits, "  # type: ignore[attr-defined]
            "beyond the range of a float; no client could read it"
        )
    if isinstance(value, bool):
        raise TypeError(
            f"{what} {value!r} for codename {codename!r} is a bool, not a number; "
            "serve 1.0/0.0 if you mean it"
        )
    if isinstance(value, (str, bytes)):
        raise TypeError(
            f"{what} {value!r} for codename {codename!r} is a string, not a number; "
            "convert the instrument's reply with float() first"
        )
    try:
        return float(value)  # type: ignore[arg-type]
    except OverflowError:
        raise ValueError(
            f"{what} for codename {codename!r} is beyond the range of a float"
        ) from None
    except (TypeError, ValueError):
        raise TypeError(
            f"{what} {value!r} for codename {codename!r} is not a number; "
            "a point is (timestamp, value) with both numbers"
        ) from None


class PointTable:
    """Ordered codenames, their timeouts and latest points; safe to update from any thread.

    Every change bumps :attr:`generation`, so readers can cache what they built from one
    generation and know when it is out of date.
    """

    def __init__(
        self,
        codenames: Sequence[str],
        timeouts: float | None | Sequence[float | None] = None,
        default_x: float = 0.0,
        default_y: float = 0.0,
    ) -> None:
        self.codenames: tuple[str, ...] = tuple(check_codenames(codenames))
        self.timeouts: tuple[float | None, ...] = tuple(expand_timeouts(timeouts, self.codenames))
        self.index: dict[str, int] = {c: i for i, c in enumerate(self.codenames)}
        default = (
            _as_number(default_x, "default_x", self.codenames[0]),
            _as_number(default_y, "default_y", self.codenames[0]),
        )
        self._points: list[Point] = [default] * len(self.codenames)
        self._lock = threading.Lock()
        self.generation = 0
        self.last_update: float | None = None

    def _slot(self, codename: str) -> int:
        try:
            return self.index[codename]
        except KeyError:
            raise KeyError(
                f"unknown codename {codename!r}; this socket serves "
                f"{', '.join(self.codenames[:10])}{', ...' if len(self.codenames) > 10 else ''}"
            ) from None

    def set_point(self, codename: str, point: tuple[float, float]) -> None:
        """Store ``point`` = (x, y) for ``codename``."""
        slot = self._slot(codename)
        try:
            x, y = point
        except (TypeError, ValueError):
            raise TypeError(
                f"point {point!r} for codename {codename!r} is not a pair; pass (timestamp, value)"
            ) from None
        if type(x) is not float:
            x = _as_number(x, "x", codename)
        if type(y) is not float:
            y = _as_number(y, "y", codename)
        with self._lock:
            self._points[slot] = (x, y)
            self.generation += 1
            self.last_update = time.time()

    def set_point_now(self, codename: str, value: float) -> None:
        """Store ``value`` for ``codename`` stamped with the current time."""
        slot = self._slot(codename)
        if type(value) is not float:
            value = _as_number(value, "value", codename)
        with self._lock:
            now = time.time()
            self._points[slot] = (now, value)
            self.generation += 1
            self.last_update = now

    def set_points_now(self, values: Mapping[str, float], now: float | None = None) -> None:
        """Store several values at once, all stamped with ``now`` (default: the current time)."""
        index = self.index
        updates = []
        for codename, value in values.items():
            slot = index[codename] if codename in index else self._slot(codename)
            if type(value) is not float:
                value = _as_number(value, "value", codename)
            updates.append((slot, value))
        points = self._points
        with self._lock:
            stamp = time.time() if now is None else now
            for slot, value in updates:
                points[slot] = (stamp, value)
            self.generation += 1
            self.last_update = stamp if now is None else time.time()

    def snapshot(self) -> tuple[int, list[Point]]:
        """Return (generation, points in codename order) as one consistent copy."""
        with self._lock:
            return self.generation, list(self._points)

    def get_point(self, codename: str) -> Point:
        """Return the current point of ``codename``."""
        return self._points[self._slot(codename)]
