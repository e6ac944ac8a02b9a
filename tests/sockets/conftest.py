"""Fixtures for socket tests: nodes on 127.0.0.1 with free ports, and a raw UDP request helper."""

from __future__ import annotations

import socket

import pytest

from labnode.sockets import DateDataSocket

#: Every pull request that names no codename: each has an answer, none is UNKNOWN_COMMMAND.
PLAIN_REQUESTS = (
    b"raw",
    b"json",
    b"raw_wn",
    b"json_wn",
    b"codenames_raw",
    b"codenames_json",
    b"name",
    b"status",
    b"channels_json",
)


def udp_request(port: int, payload: bytes, timeout: float = 2.0) -> bytes:
    """Send one datagram to 127.0.0.1:port and return the one reply datagram."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(payload, ("127.0.0.1", port))
        data, _ = sock.recvfrom(65536)
        return data


@pytest.fixture
def node():
    """A started socket with codenames one (timeout 10 s), two (timeout 0.05 s), three (none)."""
    sock = DateDataSocket(
        ["one", "two", "three"],
        port=0,
        host="127.0.0.1",
        timeouts=[10.0, 0.05, None],
        name="test node",
    )
    sock.start()
    yield sock
    sock.stop()


@pytest.fixture(scope="module")
def node_for_fuzz():
    """One node shared by the fuzz examples of a module (answering up to 10**6 junk/s)."""
    node = DateDataSocket(["a", "b"], port=0, host="127.0.0.1", timeouts=1.0, error_replies=1e6)
    with node as sock:
        yield sock
