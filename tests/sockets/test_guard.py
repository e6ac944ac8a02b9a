"""guard.py and access.py in-process: which datagrams are replies, budgets, own address, allow."""

from __future__ import annotations

import pytest

from labnode.sockets import DataUDPHandler, PointTable
from labnode.sockets.access import AllowList, AllowListError
from labnode.sockets.guard import (
    ErrorRateLimiter,
    OwnAddress,
    SourceBudget,
    is_pull_reply,
    is_reply,
)
from tests.fake_clock import FakeClock

from .conftest import PLAIN_REQUESTS

PULL_REQUESTS = [*PLAIN_REQUESTS, b"one#raw", b"one#json"]


@pytest.mark.parametrize("request_bytes", PULL_REQUESTS)
def test_no_pull_request_is_a_reply(request_bytes):
    assert not is_pull_reply(request_bytes)
    assert not is_reply(request_bytes)


def test_every_reply_of_a_node_is_a_reply_except_name_and_codenames_raw():
    table = PointTable(["one", "two"], timeouts=[10.0, None])
    handler = DataUDPHandler(table, "node", status=lambda now: {"a": 1}, clock=lambda: 1000.0)
    table.set_point("one", (999.0, 1.5))
    for request in PULL_REQUESTS + [b"junk", b"one#xml"]:
        reply = handler.reply(request)
        assert is_pull_reply(reply) or request in (b"name", b"codenames_raw"), (request, reply)
    table.set_point("one", (0.0, 1.5))  # old: a lone OLD_DATA
    assert handler.reply(b"one#raw") == b"OLD_DATA" and is_pull_reply(b"OLD_DATA")


@pytest.mark.parametrize(
    "reply",
    [
        b"UNKNOWN_COMMMAND",
        b"OLD_DATA",
        b"REPLY_TOO_LARGE: the raw reply is 70000 bytes",
        b"ACK#{'x': 1}",
        b"RET#chamber",
        b"ERROR#UNKNOWN_COMMMAND",
        b"EXCEP#boom",
        b'{"a": [1, 2]}',
        b"[1.0, 2.0]",
        b'"OLD_DATA"',
    ],
)
def test_replies_of_both_protocols_are_replies(reply):
    assert is_reply(reply) and is_pull_reply(reply)


@pytest.mark.parametrize("table_reply", [b"1.0,2.0", b"a:1,2;b:OLD_DATA", b"a,b,c", b"x;y"])
def test_raw_tables_are_pull_replies_but_not_push_replies(table_reply):
    # a push request such as raw_wn#x:float:1,2 contains ',' too: only the pull side drops them
    assert is_pull_reply(table_reply) and not is_reply(table_reply)
    assert not is_reply(b"raw_wn#x:float:1,2")


def test_empty_datagram_is_not_a_reply():
    assert not is_reply(b"") and not is_pull_reply(b"")


def test_error_rate_limiter_burst_then_rate_per_source():
    clock = FakeClock()
    limiter = ErrorRateLimiter(rate=10, burst=5, clock=clock)
    assert [limiter.allow("a") for _ in range(7)] == [True] * 5 + [False] * 2
    assert limiter.allow("b")  # another source has its own bucket
    clock.now += 0.15  # one token (and a half) back for "a"
    assert limiter.allow("a") and not limiter.allow("a")
    clock.now += 10  # refilled, but never above the burst
    assert [limiter.allow("a") for _ in range(6)] == [True] * 5 + [False]
    assert limiter.refused == 2 + 1 + 1


def test_global_cap_holds_whatever_the_sources():
    clock = FakeClock()
    limiter = ErrorRateLimiter(rate=10, burst=5, global_rate=20, clock=clock)
    allowed = sum(limiter.allow(f"10.0.0.{i}") for i in range(100))  # forged sources
    assert allowed == 20
    clock.now += 0.5
    assert sum(limiter.allow(f"10.0.1.{i}") for i in range(100)) == 10


def test_source_table_is_bounded():
    clock = FakeClock()
    limiter = ErrorRateLimiter(rate=1, burst=1, max_sources=100, clock=clock)
    for i in range(10_000):
        limiter.allow(i)
    assert len(limiter._buckets) <= 100  # noqa: SLF001


def test_byte_budget_spends_costs():
    clock = FakeClock()
    budget = SourceBudget(rate=1000, burst=3000, clock=clock)
    assert budget.allow("a", 2000) and budget.allow("a", 1000) and not budget.allow("a", 1)
    clock.now += 1.5
    assert budget.allow("a", 1500) and not budget.allow("a", 1)


def test_source_budget_refuses_bad_settings():
    with pytest.raises(ValueError):
        SourceBudget(rate=-1, burst=1)


def test_own_address_bound_to_one_address():
    own = OwnAddress("127.0.0.1", 9000)
    assert own(("127.0.0.1", 9000))
    assert own(("127.0.0.2", 9000))  # any loopback address with our port
    assert own(("::ffff:127.0.0.1", 9000, 0, 0))
    assert own(("0.0.0.0", 9000))
    assert not own(("127.0.0.1", 9001))
    assert not own(("not an address", 9000))


def test_own_address_bound_to_all_interfaces_knows_local_addresses():
    own = OwnAddress("0.0.0.0", 9000)
    assert own(("127.0.0.1", 9000)) and own(("127.0.0.53", 9000))
    assert own.is_own_host("127.0.0.1")
    assert not own(("127.0.0.1", 9001))


def test_allow_list_networks_and_addresses():
    allow = AllowList(["10.0.0.0/24", "127.0.0.1", "::1"])
    assert allow.allows("10.0.0.7") and allow.allows("127.0.0.1") and allow.allows("::1")
    assert allow.allows("::ffff:10.0.0.9")  # an IPv4-mapped client of an IPv6 socket
    assert not allow.allows("10.0.1.7") and not allow.allows("127.0.0.2")
    assert not allow.allows("garbage") and not allow.allows("")
    assert allow.allows("fe80::1%eth0") is False
    for _ in range(3):  # remembered decisions stay right
        assert allow.allows("10.0.0.7") and not allow.allows("10.0.1.7")


def test_allow_list_cache_is_bounded():
    allow = AllowList(["10.0.0.0/8"])
    for i in range(10_000):
        allow.allows(f"192.168.{i // 256}.{i % 256}")
    assert len(allow._decided) <= 4096  # noqa: SLF001


@pytest.mark.parametrize(
    ("entries", "words"),
    [
        ("10.0.0.0/24", "give a list"),
        (["10.0.0.0/33"], "'10.0.0.0/33'"),
        (["lab-pc"], "host names are not accepted"),
        ([10], "not a string"),
    ],
)
def test_allow_list_errors_name_the_entry(entries, words):
    with pytest.raises(AllowListError, match=words):
        AllowList(entries)


def test_empty_allow_list_allows_nobody():
    assert not AllowList([]).allows("127.0.0.1")


def test_own_address_of_an_ipv6_socket():
    own = OwnAddress("::", 9000)  # dual stack, all interfaces
    assert own(("::1", 9000, 0, 0)) and own(("::ffff:127.0.0.1", 9000, 0, 0))
    assert not own(("::1", 9001, 0, 0))


def test_handler_answer_is_none_for_anything_but_a_request():
    handler = DataUDPHandler(PointTable(["one"]), "node")
    assert handler.answer(b"one#raw") == b"0.0,0.0"
    for datagram in (b"junk", b"OLD_DATA", b"one#xml", b""):
        assert handler.answer(datagram) is None
        assert handler.reply(datagram) == b"UNKNOWN_COMMMAND"
