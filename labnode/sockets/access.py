"""AllowList: which client networks a socket answers (an address check, not authentication)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

#: Remembered decisions per client host, so the check costs a dict lookup on the hot path.
_CACHE_SIZE = 4096


class AllowListError(ValueError):
    """An entry of an allow-list is not a network or address in CIDR notation."""


def parse_networks(entries: Iterable[str]) -> list[Network]:
    """Parse CIDR networks and single addresses ("10.0.0.0/24", "127.0.0.1", "::1")."""
    if isinstance(entries, (str, bytes)):
        raise AllowListError(f"allow={entries!r}: give a list of networks, e.g. [{entries!r}]")
    networks: list[Network] = []
    for entry in entries:
        if not isinstance(entry, str):
            raise AllowListError(
                f"allow entry {entry!r} is not a string; write networks in CIDR notation such as "
                '"10.0.0.0/24" or single addresses such as "127.0.0.1"'
            )
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            raise AllowListError(
                f"allow entry {entry!r} is not an address or network; write CIDR such as "
                '"10.0.0.0/24", "192.168.1.7" or "::1" (host names are not accepted)'
            ) from None
    return networks


class AllowList:
    """Client networks; ``allows(host)`` says whether a datagram from ``host`` is served."""

    def __init__(self, entries: Iterable[str]) -> None:
        self.networks: tuple[Network, ...] = tuple(parse_networks(entries))
        self._decided: dict[str, bool] = {}

    def allows(self, host: str) -> bool:
        """True if ``host`` (the first item of a socket address) is in one of the networks."""
        decided = self._decided.get(host)
        if decided is None:
            decided = self._decide(host)
            if len(self._decided) >= _CACHE_SIZE:
                self._decided.clear()
            self._decided[host] = decided
        return decided

    def _decide(self, host: str) -> bool:
        try:
            address = ipaddress.ip_address(host.partition("%")[0])
        except ValueError:
            return False
        mapped = getattr(address, "ipv4_mapped", None)
        candidates = (address,) if mapped is None else (address, mapped)
        return any(
            a in network
            for a in candidates
            for network in self.networks
            if a.version == network.version
        )

    def __repr__(self) -> str:
        return f"AllowList({[str(n) for n in self.networks]!r})"
