"""Which points to store: per-channel change criteria (absolute, relative, max_interval) and gaps.

The rules (see docs/recording.md):

- the first fresh value of a channel is stored, and so is the first one after a gap;
- then a value is stored when ``|y - y_stored| > absolute``, or ``|y - y_stored| > relative *
  |y_stored|``, or ``x - x_stored >= max_interval``; comparisons of values are strict, so
  ``absolute = 0`` stores every change and never a repeat; at ``y_stored = 0`` the relative rule
  stores any change;
- with no criterion set, every new point is stored;
- a point is new only when its timestamp x is later than the last one seen: the same point
  polled twice, or a point from the past, is never stored; x <= 0 means "never set";
- a gap (the channel went OLD_DATA, or its node stopped answering) stores one marker, value None.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Criteria:
    """When a new value of a channel is worth storing; None turns a criterion off."""

    absolute: float | None = None
    relative: float | None = None
    max_interval: float | None = None

    @property
    def store_every_point(self) -> bool:
        """True when no criterion is set: every new point is stored."""
        return self.absolute is None and self.relative is None and self.max_interval is None

    def merged(self, override: Criteria | None) -> Criteria:
        """These criteria with the ones ``override`` sets replacing them."""
        if override is None:
            return self
        return Criteria(
            self.absolute if override.absolute is None else override.absolute,
            self.relative if override.relative is None else override.relative,
            self.max_interval if override.max_interval is None else override.max_interval,
        )


class ChangeFilter:
    """The state of one channel: decides which of its points and gaps are stored."""

    __slots__ = ("criteria", "stored_x", "stored_y", "seen_x", "in_gap")

    def __init__(self, criteria: Criteria) -> None:
        self.criteria = criteria
        self.stored_x: float | None = None
        self.stored_y: float | None = None
        self.seen_x = 0.0
        self.in_gap = False

    def offer(self, x: float, y: float) -> bool:
        """A fresh point ``(x, y)`` from the node: True if it is to be stored (state updated)."""
        if not x > self.seen_x or not math.isfinite(x):
            return False  # the same point again, one from the past, or "never set"
        self.seen_x = x
        if not math.isfinite(y):
            return False  # NaN/inf cannot be stored portably (SQLite turns NaN into NULL)
        c = self.criteria
        if not (self.stored_y is None or self.in_gap or c.store_every_point):
            change = abs(y - self.stored_y)
            worth = (
                (c.absolute is not None and change > c.absolute)
                or (c.relative is not None and change > c.relative * abs(self.stored_y))
                or (c.max_interval is not None and x - self.stored_x >= c.max_interval)
            )
            if not worth:
                return False
        self.stored_x, self.stored_y, self.in_gap = x, y, False
        return True

    def gap(self, now: float) -> float | None:
        """The channel is OLD_DATA or unreachable: the x of a gap marker to store, or None.

        One marker per gap, at ``now`` (the recorder's clock) but never before the last stored
        point, so a node whose clock runs ahead still gets its marker after its data.
        """
        if self.in_gap:
            return None
        self.in_gap = True
        x = now
        if self.stored_x is not None and x <= self.stored_x:
            x = math.nextafter(self.stored_x, math.inf)
        self.stored_x, self.stored_y = x, None
        return x
