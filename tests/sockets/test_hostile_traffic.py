"""Hostile traffic over real UDP on 127.0.0.1: replies as requests, floods, strangers, status."""

from __future__ import annotations

import json
import socket
import time

import pytest

from labnode.sockets import DataUDPHandler, DateDataSocket, PointTable
from tests.waiting import wait_for

from .conftest import udp_request

LOOPBACK = "127.0.0.1"
OTHER_LOOPBACK = "127.0.0.2"  # a second client host, still on this machine


def _client(host: str = LOOPBACK) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((host, 0))
    return sock


def _replies_to(sock: socket.socket, quiet: float = 0.3) -> list[bytes]:
    """Every datagram that arrives until none came for ``quiet`` seconds."""
    sock.settimeout(quiet)
    replies = []
    while True:
        try:
            replies.append(sock.recv(65536))
        except TimeoutError:
            return replies


@pytest.mark.parametrize(
    "reply",
    [
        b"UNKNOWN_COMMMAND",
        b"OLD_DATA",
        b"1763926800.5,1.5",
        b"a:OLD_DATA;b:1,2",
        b'{"a": [1, 2]}',
        b"[1.0, 2.0]",
        b"ACK#{'x': 1}",
        b"ERROR#UNKNOWN_COMMMAND",
        b"REPLY_TOO_LARGE: the raw reply is 70000 bytes",
    ],
)
def test_a_reply_sent_as_a_request_gets_no_answer(node, reply):
    with _client() as client:
        client.sendto(reply, (LOOPBACK, node.port))
        assert _replies_to(client, quiet=0.2) == []
    assert node.dropped["reply"] == 1
    assert udp_request(node.port, b"codenames_raw") == b"one,two,three"


def test_unknown_command_replies_are_rate_limited_per_client_host():
    with DateDataSocket(["a"], port=0, host=LOOPBACK, error_replies=20) as node, _client() as c:
        for i in range(200):
            c.sendto(b"junk%d" % i, (LOOPBACK, node.port))
        wait_for(lambda: node.requests_served + node.dropped["error_rate_limited"] >= 200)
        replies = _replies_to(c)
        assert set(replies) == {b"UNKNOWN_COMMMAND"}
        assert 40 <= len(replies) <= 60  # the burst (2 s worth), plus what trickled back since
        assert node.dropped["error_rate_limited"] == 200 - len(replies)
        assert udp_request(node.port, b"a#raw") == b"0.0,0.0"  # valid requests are not limited
        with _client(OTHER_LOOPBACK) as other:  # another host has its own allowance
            other.sendto(b"junk", (LOOPBACK, node.port))
            assert _replies_to(other, quiet=1.0) == [b"UNKNOWN_COMMMAND"]


@pytest.mark.parametrize(
    ("codenames", "name"),
    [(["a"], "name"), (["a"], "codenames_raw"), (["name"], None), (["codenames_raw"], "x")],
)
def test_a_node_that_would_answer_a_request_with_itself_is_refused(codenames, name):
    with pytest.raises(ValueError, match="answer each other forever"):
        DateDataSocket(codenames, port=0, host=LOOPBACK, name=name)


def test_names_that_are_other_requests_are_fine():
    # their answers are tables or UNKNOWN_COMMMAND, which no node answers
    DateDataSocket(["name", "status"], port=0, name="raw")
    DateDataSocket(["raw"], port=0, name="a#raw")


def test_status_is_built_at_most_every_half_second():
    clock = [1000.0]
    calls = []

    def status(now):
        calls.append(now)
        return {"calls": len(calls)}

    handler = DataUDPHandler(PointTable(["a"]), "n", status=status, clock=lambda: clock[0])
    first = json.loads(handler.reply(b"status"))
    for _ in range(100):
        handler.reply(b"status")
    clock[0] += 0.3
    later = json.loads(handler.reply(b"status"))
    assert len(calls) == 1
    assert first == {"calls": 1, "status_age": 0.0} and later == {"calls": 1, "status_age": 0.3}
    clock[0] += 0.25
    assert json.loads(handler.reply(b"status")) == {"calls": 2, "status_age": 0.0}
    clock[0] -= 10  # the wall clock stepped back: rebuilt, never a negative age
    assert json.loads(handler.reply(b"status")) == {"calls": 3, "status_age": 0.0}


def test_status_follows_a_change_of_the_points_soon_but_not_at_once():
    clock = [1000.0]
    calls = []

    def status(now):
        calls.append(now)
        return {"calls": len(calls)}

    table = PointTable(["a"])
    handler = DataUDPHandler(table, "n", status=status, clock=lambda: clock[0])
    assert json.loads(handler.reply(b"status"))["calls"] == 1
    table.set_point_now("a", 1.0)
    clock[0] += 0.005  # changed, but too soon after the last build: reused
    assert json.loads(handler.reply(b"status")) == {"calls": 1, "status_age": 0.005}
    clock[0] += 0.1  # changed and 0.105 s old: rebuilt, though younger than 0.5 s
    assert json.loads(handler.reply(b"status")) == {"calls": 2, "status_age": 0.0}
    clock[0] += 0.1  # no change since: reused
    assert json.loads(handler.reply(b"status"))["calls"] == 2


def test_status_flood_over_udp_builds_status_a_few_times_only():
    codenames = [f"c{i:04d}" for i in range(1000)]
    built = []
    with DateDataSocket(codenames, port=0, host=LOOPBACK) as node, _client() as client:
        node.set_status_provider(lambda: built.append(1) or {"state": "connected"})
        started = time.monotonic()
        client.settimeout(2)
        for _ in range(300):
            client.sendto(b"status", (LOOPBACK, node.port))
            status = json.loads(client.recv(65536))
        elapsed = time.monotonic() - started
    assert len(built) <= 2 + elapsed / 0.5
    assert 0 <= status["status_age"] < 0.5 + 0.1
    assert "1000 channels" in status["channels_omitted"]


def test_large_replies_are_paid_from_a_per_host_budget():
    codenames = [f"channel_{i:04d}" for i in range(1000)]
    with DateDataSocket(codenames, port=0, host=LOOPBACK, reply_budget=100_000) as node:
        node.set_points_now(dict.fromkeys(codenames, 0.123456789), now=1763926800.123456)
        size = len(udp_request(node.port, b"json_wn"))
        assert size > 40_000
        with _client() as flooder:
            for _ in range(30):
                flooder.sendto(b"json_wn", (LOOPBACK, node.port))
            wait_for(lambda: node.requests_served + node.dropped["reply_budget"] >= 31)
            got = _replies_to(flooder, quiet=0.2)
        assert len(got) <= 3  # the burst (64 KiB) and 100 kB/s since
        assert node.dropped["reply_budget"] >= 27
        assert udp_request(node.port, b"channel_0042#raw") == b"1763926800.123456,0.123456789"
        with _client(OTHER_LOOPBACK) as other:  # another host is not starved by the flooder
            other.settimeout(2)
            other.sendto(b"json_wn", (LOOPBACK, node.port))
            assert len(other.recv(65536)) == size


def test_reply_budget_none_is_unlimited():
    codenames = [f"channel_{i:04d}" for i in range(1000)]
    with DateDataSocket(codenames, port=0, host=LOOPBACK, reply_budget=None) as node:
        with _client() as client:
            client.settimeout(2)
            for _ in range(30):
                client.sendto(b"json_wn", (LOOPBACK, node.port))
                assert client.recv(65536).startswith(b"{")
        assert node.dropped["reply_budget"] == 0


def test_allow_list_refuses_other_hosts_before_any_work():
    with DateDataSocket(["a"], port=0, host=LOOPBACK, allow=["127.0.0.1/32"]) as node:
        with _client(OTHER_LOOPBACK) as stranger:
            for request in (b"raw", b"status", b"junk"):
                stranger.sendto(request, (LOOPBACK, node.port))
            assert _replies_to(stranger, quiet=0.3) == []
        assert node.dropped["not_allowed"] == 3
        assert node.requests_served == 0
        assert udp_request(node.port, b"a#raw") == b"0.0,0.0"


def test_allow_list_of_a_network():
    allow = ["127.0.0.0/8", "::1"]
    with (
        DateDataSocket(["a"], port=0, host=LOOPBACK, allow=allow) as node,
        _client(OTHER_LOOPBACK) as client,
    ):
        client.settimeout(2)
        client.sendto(b"a#raw", (LOOPBACK, node.port))
        assert client.recv(100) == b"0.0,0.0"


def test_bad_allow_list_is_refused_at_construction():
    with pytest.raises(ValueError, match="host names are not accepted"):
        DateDataSocket(["a"], allow=["lab-pc"])


def test_status_counts_what_was_dropped_and_why(node):
    with _client() as client:
        client.sendto(b"OLD_DATA", (LOOPBACK, node.port))
        wait_for(lambda: node.dropped["reply"] == 1)
    status = json.loads(udp_request(node.port, b"status"))
    assert status["dropped"] == {
        "not_allowed": 0,
        "own_address": 0,
        "reply": 1,
        "error_rate_limited": 0,
        "reply_budget": 0,
    }


def test_status_without_host_facts():
    hostname = socket.gethostname()
    with DateDataSocket(["a"], port=0, host=LOOPBACK, status_host_facts=False) as node:
        text = udp_request(node.port, b"status")
        assert udp_request(node.port, b"name") == b"labnode date data socket (a)"
    status = json.loads(text)
    assert set(status["system_status"]) == {"time"}
    for fact in ("hostname", "pid", "platform", "load_average", "memory_total_mib", "python"):
        assert fact.encode() not in text
    assert hostname.encode() not in text


def test_status_with_host_facts_by_default(node):
    status = json.loads(udp_request(node.port, b"status"))
    assert status["system_status"]["hostname"] == socket.gethostname()
    assert "pid" in status["system_status"]
