"""Reply loops: a forged source address must not make nodes answer each other (or themselves).

The datagrams here really are forged: built with a raw IPv4 socket on 127.0.0.1, with another
node's port (or the node's own port) as the source.
"""

from __future__ import annotations

import time

import pytest

from labnode.sockets import DateDataSocket
from tests.waiting import wait_for

from .conftest import udp_request
from .forged_udp import raw_socket_or_skip, send_forged

LOOPBACK = "127.0.0.1"


def _settled(*nodes: DateDataSocket, quiet: float = 0.3, within: float = 3.0) -> list[int]:
    """requests_served of each node once it has not moved for ``quiet`` seconds (or raise)."""
    deadline = time.monotonic() + within
    last = [n.requests_served for n in nodes]
    still_since = time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.02)
        now = [n.requests_served for n in nodes]
        if now != last:
            last, still_since = now, time.monotonic()
        elif time.monotonic() - still_since >= quiet:
            return now
    raise AssertionError(f"nodes never went idle: requests_served {last} and still moving")


@pytest.mark.parametrize("payload", [b"junk", b"nope#raw", b"raw_wn", b"name"])
def test_forged_datagram_between_two_nodes_does_not_start_a_loop(payload):
    raw = raw_socket_or_skip()
    with (
        raw,
        DateDataSocket(["a"], port=0, host=LOOPBACK, timeouts=1.0, name="raw") as a,
        DateDataSocket(["b"], port=0, host=LOOPBACK, timeouts=1.0, name="node b") as b,
    ):
        # "raw_wn" on a single old codename answers "a:OLD_DATA"; name "raw" answers "raw"
        send_forged(raw, (LOOPBACK, b.port), (LOOPBACK, a.port), payload)
        wait_for(lambda: a.requests_served >= 1)
        served = _settled(a, b)
        time.sleep(1.0)
        assert [a.requests_served, b.requests_served] == served  # both idle a second later
        assert sum(served) <= 3  # a bounded chain: at most a few datagrams
        assert a.dropped["reply"] + b.dropped["reply"] == 1  # the chain ended at a reply
        assert udp_request(a.port, b"codenames_raw") == b"a"  # and both still serve
        assert udp_request(b.port, b"codenames_raw") == b"b"


def test_forged_datagram_from_the_nodes_own_port_is_not_answered():
    raw = raw_socket_or_skip()
    with raw, DateDataSocket(["a"], port=0, host=LOOPBACK) as a:
        for payload in (b"junk", b"raw", b"name"):
            send_forged(raw, (LOOPBACK, a.port), (LOOPBACK, a.port), payload)
        wait_for(lambda: getattr(a, "dropped", {}).get("own_address", 0) >= 3, timeout=1.5)
        time.sleep(1.0)
        assert a.requests_served == 0
        assert udp_request(a.port, b"codenames_raw") == b"a"


def test_any_loopback_source_with_the_nodes_port_counts_as_its_own():
    # a node bound to all interfaces also hears 127.0.0.2; tests bind 127.0.0.1 only
    raw = raw_socket_or_skip()
    with raw, DateDataSocket(["a"], port=0, host=LOOPBACK) as a:
        for source in ("127.0.0.1", "127.0.0.2"):
            send_forged(raw, (source, a.port), (LOOPBACK, a.port), b"junk")
        wait_for(lambda: getattr(a, "dropped", {}).get("own_address", 0) >= 2, timeout=1.5)
        time.sleep(0.3)
        assert a.requests_served == 0
