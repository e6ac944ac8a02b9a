"""Loop and flood guards shared by the pull and the push socket.

A UDP server that answers every datagram can be made to answer another server's replies (or its
own, with a forged source address), and the two then answer each other forever (the "Loop DoS"
class of 2024). The rule here: a server never answers a datagram that is a reply of either
protocol, never answers its own address, and rate-limits its error replies per source address.
"""

from __future__ import annotations

import ipaddress
import socket
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


class SourceBudget:
    """Token buckets per source address plus one global bucket: ``allow(source, cost)``.

    Each source may spend ``burst`` at once and ``rate`` per second after; the table of sources is
    bounded to ``max_sources`` (the least recently seen is forgotten first), and all sources
    together may spend at most ``global_rate`` per second (``global_burst`` at once, default one
    second's worth), so no sender, forged or not, can make a server spend more than that.
    Costs are whatever the caller counts: replies, or bytes.
    """

    def __init__(
        self,
        rate: float,
        burst: float,
        max_sources: int = 4096,
        global_rate: float = float("inf"),
        global_burst: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not (rate >= 0 and burst >= 0 and global_rate >= 0 and max_sources >= 1):
            raise ValueError("rates and bursts must be zero or more, max_sources at least 1")
        self.rate = float(rate)
        self.burst = float(burst)
        self.max_sources = max_sources
        self.global_rate = float(global_rate)
        self.global_burst = self.global_rate if global_burst is None else float(global_burst)
        self._clock = clock
        self._buckets: dict[object, tuple[float, float]] = {}
        self._global = (self.global_burst, clock())
        #: Requests refused so far (for status).
        self.refused = 0

    def allow(self, source: object, cost: float = 1.0) -> bool:
        """Spend ``cost`` for ``source`` (e.g. the host of an address); False if it cannot."""
        now = self._clock()
        tokens, last = self._global
        tokens = min(self.global_burst, tokens + (now - last) * self.global_rate)
        if tokens < cost:
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
        if mine < cost:
            buckets[source] = (mine, now)
            self._global = (tokens, now)
            self.refused += 1
            return False
        buckets[source] = (mine - cost, now)
        self._global = (tokens - cost, now)
        return True


class ErrorRateLimiter(SourceBudget):
    """Per source address, at most ``burst`` error replies at once and ``rate`` per second after.

    A :class:`SourceBudget` counting replies, with a global cap of ``global_rate`` error replies
    per second whatever the sources (forged ones included).
    """

    def __init__(
        self,
        rate: float = 20.0,
        burst: float = 40.0,
        max_sources: int = 4096,
        global_rate: float = 2000.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(rate, burst, max_sources, global_rate, clock=clock)


_WILDCARDS = frozenset({"", "0.0.0.0", "::", "::ffff:0.0.0.0"})


class OwnAddress:
    """Whether a datagram's source is the server's own address: answering it loops with itself.

    A source is ours when its port is the server's and its host is the bound address, any
    loopback address, or (for a server bound to all interfaces) any address of this machine,
    found by trying to bind it once and remembered. Only datagrams from the server's own port
    reach the host check, so the usual cost is one integer comparison.
    """

    _MAX_REMEMBERED = 256

    def __init__(self, bound_host: str, port: int) -> None:
        self.bound_host = bound_host
        self.port = port
        self._wildcard = bound_host in _WILDCARDS
        self._local: dict[str, bool] = {}

    def __call__(self, address: tuple) -> bool:
        """True if ``address`` (as ``recvfrom`` gives it) is this server's own address."""
        return address[1] == self.port and self.is_own_host(address[0])

    def is_own_host(self, host: str) -> bool:
        """True if ``host`` is the bound address, a loopback address, or local when bound to all."""
        host = host.partition("%")[0]
        if host == self.bound_host:
            return True
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            return False
        mapped = getattr(ip, "ipv4_mapped", None)
        if ip.is_loopback or (mapped is not None and mapped.is_loopback):
            return True
        if ip.is_unspecified:
            return True
        if not self._wildcard:
            return False
        known = self._local.get(host)
        if known is None:
            known = _is_local_address(ip)
            if len(self._local) >= self._MAX_REMEMBERED:
                self._local.clear()
            self._local[host] = known
        return known


def _is_local_address(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """True if ``ip`` is assigned to this machine (a socket can bind it); sends nothing."""
    family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.bind((str(ip), 0))
    except OSError:
        return False
    return True
