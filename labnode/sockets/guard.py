"""Loop and flood guards shared by the pull and the push socket.

A UDP server that answers every datagram can be made to answer another server's replies (or its
own, with a forged source address), and the two then answer each other forever (the "Loop DoS"
class of 2024). The rule here: a server never answers a datagram that is a reply of either
protocol, never answers its own address, and rate-limits its error replies per source address.
"""

from __future__ import annotations

import time
from collections.abc import Callable

#: Replies of the pull and push protocols start with one of these; no request does.
REPLY_MARKERS: tuple[bytes, ...] = (
    b"UNKNOWN_COMMMAND",
    b"OLD_DATA",
    b"REPLY_TOO_LARGE",
    b"ACK#",
    b"RET#",
    b"ERROR#",
    b"EXCEP#",
)
#: JSON replies (tables, points, status, codename lists) start with one of these; no request does.
JSON_OPENERS = frozenset(b'[{"')
#: Raw pull replies (tables, points, codename lists) contain these; no pull request does.
RAW_TABLE_SEPARATORS = (b",", b";")


def is_reply(datagram: bytes) -> bool:
    """True if ``datagram`` is a reply of the pull or push protocol (never to be answered)."""
    if not datagram:
        return False
    return datagram[0] in JSON_OPENERS or datagram.startswith(REPLY_MARKERS)


def is_pull_reply(datagram: bytes) -> bool:
    """True if ``datagram`` is a pull-protocol reply, raw tables and points included."""
    return is_reply(datagram) or any(s in datagram for s in RAW_TABLE_SEPARATORS)


class ErrorRateLimiter:
    """Per source address, at most ``burst`` error replies at once and ``rate`` per second after.

    A token bucket per address, in a table bounded to ``max_sources`` (the oldest is forgotten
    first), plus a global bucket of ``global_rate`` per second, so no sender, forged or not, can
    make a server send more than that many error replies.
    """

    def __init__(
        self,
        rate: float = 20.0,
        burst: float = 40.0,
        max_sources: int = 4096,
        global_rate: float = 2000.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = float(rate)
        self.burst = float(burst)
        self.max_sources = max_sources
        self.global_rate = float(global_rate)
        self._clock = clock
        self._buckets: dict[object, tuple[float, float]] = {}
        self._global = (float(global_rate), clock())
        #: Error replies refused so far (for status).
        self.refused = 0

    def allow(self, source: object) -> bool:
        """Take one token for ``source`` (e.g. the host of an address); False when none is left."""
        now = self._clock()
        tokens, last = self._global
        tokens = min(self.global_rate, tokens + (now - last) * self.global_rate)
        if tokens < 1.0:
            self._global = (tokens, now)
            self.refused += 1
            return False
        buckets = self._buckets
        entry = buckets.pop(source, None)
        if entry is None:
            if len(buckets) >= self.max_sources:
                del buckets[next(iter(buckets))]
            mine = self.burst
        else:
            mine = min(self.burst, entry[0] + (now - entry[1]) * self.rate)
        if mine < 1.0:
            buckets[source] = (mine, now)
            self._global = (tokens, now)
            self.refused += 1
            return False
        buckets[source] = (mine - 1.0, now)
        self._global = (tokens - 1.0, now)
        return True
