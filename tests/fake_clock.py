"""A clock a test moves by hand, for code that takes ``clock=time.time`` (or monotonic)."""

from __future__ import annotations

#: A Unix time (2025-11-23): steps of up to 2**-10 s from it keep time differences exact.
BASE = 1_763_926_800.0


class FakeClock:
    """Returns ``now`` when called; the test sets or advances ``now``."""

    def __init__(self, now: float = BASE) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now
