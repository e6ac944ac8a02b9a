"""History for the dashboard's plots: the source interface, thinning, and the in-memory source.

A history point is ``(x, y)`` with x in Unix seconds; ``y`` is None for a gap marker (the channel
went OLD_DATA or its node stopped answering), which the page draws as a break in the line.
"""

from __future__ import annotations

import bisect
import math
import threading
from array import array
from typing import Protocol

HistoryPoint = tuple[float, "float | None"]

#: Most points one history request may ask for (a plot is rarely wider than 4000 pixels).
MAX_POINTS_LIMIT = 10_000


class NotRecorded(LookupError):
    """The source holds no such channel (a database: not recorded, or no labnode tables yet)."""


class HistoryUnavailable(RuntimeError):
    """The source cannot be read now (the database is down, locked, refusing); says why."""


class HistorySource(Protocol):
    """Where plots come from: the lab's database, or what the server has seen since it started."""

    #: "database" or "memory", reported by the API beside the points.
    kind: str

    def read(
        self, node: str, codename: str, start: float, end: float, max_points: int
    ) -> list[HistoryPoint]:
        """Points of one channel with start <= x <= end, thinned to about ``max_points``.

        Raises :class:`NotRecorded` for a channel it does not hold, :class:`HistoryUnavailable`
        when it cannot be read now.
        """
        ...


def thin(
    points: list[HistoryPoint], start: float, end: float, max_points: int
) -> list[HistoryPoint]:
    """Keep each time bucket's lowest and highest value (in time order) and every gap marker.

    ``points`` are sorted by x and lie within [start, end]. With ``max_points // 2`` buckets over
    the range, a spike narrower than a pixel still shows, and a gap stays a gap.
    """
    if len(points) <= max_points or end <= start:
        return points
    buckets = max(1, max_points // 2)
    width = (end - start) / buckets
    out: list[HistoryPoint] = []
    bucket = -1
    low: HistoryPoint | None = None
    high: HistoryPoint | None = None

    def flush() -> None:
        if low is None or high is None:
            return
        if low is high:
            out.append(low)
        elif low[0] <= high[0]:
            out.extend((low, high))
        else:
            out.extend((high, low))

    for point in points:
        index = min(int((point[0] - start) / width), buckets - 1)
        if index != bucket:
            flush()
            bucket, low, high = index, None, None
        y = point[1]
        if y is None:  # a gap ends the segment: draw what came before, then the break
            flush()
            low = high = None
            if not out or out[-1][1] is not None:
                out.append(point)
            continue
        if low is None or high is None:
            low = high = point
        elif y < low[1]:  # type: ignore[operator]
            low = point
        elif y > high[1]:  # type: ignore[operator]
            high = point
    flush()
    return out


class MemoryHistory:
    """A bounded history per channel of what the server polled since it started.

    Each channel keeps at most ``capacity`` points (the oldest go first) in two arrays of doubles
    (a gap is stored as NaN), so memory is at most 16 bytes x ``capacity`` x channels (1.25 x that
    between trims) whatever the nodes send.
    """

    kind = "memory"

    def __init__(self, capacity: int = 10_000) -> None:
        if capacity < 2:
            raise ValueError(f"capacity={capacity!r}: keep at least 2 points per channel")
        self.capacity = capacity
        self._lock = threading.Lock()
        self._xs: dict[tuple[str, str], array] = {}
        self._ys: dict[tuple[str, str], array] = {}

    def add(self, node: str, codename: str, x: float, y: float | None) -> None:
        """Append one point (or a gap marker, ``y=None``); points out of time order are dropped."""
        key = (node, codename)
        with self._lock:
            xs = self._xs.get(key)
            if xs is None:
                xs = self._xs[key] = array("d")
                self._ys[key] = array("d")
            ys = self._ys[key]
            if xs and x < xs[-1]:
                return
            if y is None:
                if ys and math.isnan(ys[-1]):
                    return  # one marker per gap
                y = math.nan
            xs.append(x)
            ys.append(y)
            if len(xs) > self.capacity + self.capacity // 4:  # trim in batches: O(1) amortised
                drop = len(xs) - self.capacity
                del xs[:drop]
                del ys[:drop]

    def read(
        self, node: str, codename: str, start: float, end: float, max_points: int
    ) -> list[HistoryPoint]:
        """Points of one channel in [start, end], thinned to about ``max_points``."""
        key = (node, codename)
        with self._lock:
            xs = self._xs.get(key)
            if not xs:
                return []
            ys = self._ys[key]
            first = bisect.bisect_left(xs, start)
            last = bisect.bisect_right(xs, end)
            points = [
                (x, None if y != y else y) for x, y in zip(xs[first:last], ys[first:last])
            ]  # y != y: NaN, a gap
        return thin(points, start, end, max_points)

    def __len__(self) -> int:
        with self._lock:
            return sum(len(xs) for xs in self._xs.values())
