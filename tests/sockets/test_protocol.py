"""DataUDPHandler without any socket: every request form, byte for byte, against a fake clock."""

from __future__ import annotations

import json

import pytest

from labnode.sockets import MAX_DATAGRAM, DataUDPHandler, PointTable
from tests.fake_clock import FakeClock

from .pyexplabsys_reference import reference_reply


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def table():
    return PointTable(["one", "two", "three"], timeouts=[10.0, 0.5, None])


@pytest.fixture
def handler(table, clock):
    return DataUDPHandler(table, "bench 3 gauge", clock=clock)


def test_defaults_before_any_point(handler, clock):
    # default x is 0.0, so every codename with a timeout is old at once
    assert handler.reply(b"raw") == b"OLD_DATA;OLD_DATA;0.0,0.0"
    assert handler.reply(b"json") == b'["OLD_DATA", "OLD_DATA", [0.0, 0.0]]'


def test_every_table_form(table, handler, clock):
    table.set_point("one", (clock.now - 1, 1.4000000000000001))
    table.set_point("two", (clock.now - 0.25, 1e-09))
    table.set_point("three", (0, 1))
    assert handler.reply(b"raw") == b"1763926799.0,1.4000000000000001;1763926799.75,1e-09;0,1"
    assert handler.reply(b"raw_wn") == (
        b"one:1763926799.0,1.4000000000000001;two:1763926799.75,1e-09;three:0,1"
    )
    assert handler.reply(b"json") == (
        b"[[1763926799.0, 1.4000000000000001], [1763926799.75, 1e-09], [0, 1]]"
    )
    assert handler.reply(b"json_wn") == (
        b'{"one": [1763926799.0, 1.4000000000000001], "two": [1763926799.75, 1e-09], '
        b'"three": [0, 1]}'
    )
    assert handler.reply(b"one#raw") == b"1763926799.0,1.4000000000000001"
    assert handler.reply(b"two#json") == b"[1763926799.75, 1e-09]"
    assert handler.reply(b"codenames_raw") == b"one,two,three"
    assert handler.reply(b"codenames_json") == b'["one", "two", "three"]'
    assert handler.reply(b"name") == b"bench 3 gauge"


def test_old_data_per_codename_as_time_passes(table, handler, clock):
    table.set_point("one", (clock.now, 1.0))
    table.set_point("two", (clock.now, 2.0))
    table.set_point("three", (clock.now, 3.0))
    assert b"OLD_DATA" not in handler.reply(b"raw")
    clock.now += 0.5  # exactly at the timeout: not yet old (now - x > timeout is old)
    assert handler.reply(b"two#raw") == b"1763926800.0,2.0"
    clock.now += 0.001  # the cached reply must not outlive the crossing
    assert handler.reply(b"two#raw") == b"OLD_DATA"
    assert handler.reply(b"two#json") == b'"OLD_DATA"'
    assert handler.reply(b"raw") == b"1763926800.0,1.0;OLD_DATA;1763926800.0,3.0"
    assert handler.reply(b"raw_wn") == b"one:1763926800.0,1.0;two:OLD_DATA;three:1763926800.0,3.0"
    assert json.loads(handler.reply(b"json_wn")) == {
        "one": [1763926800.0, 1.0],
        "two": "OLD_DATA",
        "three": [1763926800.0, 3.0],
    }
    clock.now += 100  # one goes old too; three has no timeout and never does
    assert handler.reply(b"json") == b'["OLD_DATA", "OLD_DATA", [1763926800.0, 3.0]]'
    table.set_point("two", (clock.now, 5.0))  # a new point is fresh again at once
    assert handler.reply(b"two#raw") == b"1763926900.501,5.0"


def test_cached_reply_follows_every_change(table, handler, clock):
    for i in range(50):
        table.set_point("three", (clock.now, float(i)))
        assert handler.reply(b"three#raw") == f"1763926800.0,{float(i)}".encode()


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"",
        b"RAW",
        b"raw ",
        b"raw\n",
        b" raw",
        b"one#RAW",
        b"one#xml",
        b"nope#raw",
        b"one#raw#raw",
        b"##",
        b"#",
        b"one#",
        b"#raw",
        b"\xff\xfe",
        "één#raw".encode(),
        b"\x00raw",
        b"a" * 70000,
    ],
)
def test_anything_else_is_unknown_command(handler, request_bytes):
    assert handler.reply(request_bytes) == b"UNKNOWN_COMMMAND"


def test_replies_match_pyexplabsys_byte_for_byte(table, handler, clock):
    table.set_point("one", (clock.now - 3, -2.5e-12))
    table.set_point("two", (clock.now - 1, 7))
    table.set_point("three", (1.5, 1e300))
    points = dict(zip(table.codenames, table.snapshot()[1]))
    timeouts = dict(zip(table.codenames, table.timeouts))
    commands = ["raw", "json", "raw_wn", "json_wn", "codenames_raw", "codenames_json", "name"]
    commands += [f"{c}#{f}" for c in table.codenames for f in ("raw", "json")]
    for command in commands:
        expected = reference_reply(
            command, list(table.codenames), points, timeouts, "bench 3 gauge", clock.now
        )
        assert handler.reply(command.encode()) == expected.encode(), command


def test_json_values_round_trip_exactly(table, handler, clock):
    values = [0.1 + 0.2, 1 / 3, 6.02214076e23, -0.0, 5e-324]
    for value in values:
        table.set_point("three", (clock.now, value))
        assert json.loads(handler.reply(b"three#json"))[1] == value
        assert float(handler.reply(b"three#raw").split(b",")[1]) == value


def test_table_too_large_for_one_datagram_gets_a_short_error():
    codenames = [f"channel_{i:05d}" for i in range(5000)]
    table = PointTable(codenames, timeouts=None)
    table.set_points_now(dict.fromkeys(codenames, 1.2345678901234567), now=1763926800.123456)
    handler = DataUDPHandler(table, "big")
    for command in (b"raw", b"json", b"raw_wn", b"json_wn", b"codenames_raw", b"codenames_json"):
        reply = handler.reply(command)
        assert len(reply) < 1000
        assert reply.startswith(b"REPLY_TOO_LARGE"), reply
        assert b"NAME#raw" in reply
    table.set_point("channel_04999", (1.0, 2.0))
    assert handler.reply(b"channel_04999#raw") == b"1.0,2.0"


def test_reply_just_under_the_limit_is_sent_whole():
    # codenames_raw of n names of 9 chars: 10 * n - 1 bytes
    n = (MAX_DATAGRAM + 1) // 10
    table = PointTable([f"c{i:08d}" for i in range(n)])
    reply = DataUDPHandler(table, "x").reply(b"codenames_raw")
    assert len(reply) == 10 * n - 1 <= MAX_DATAGRAM


def test_status_is_json_with_provider(table, clock):
    handler = DataUDPHandler(table, "n", status=lambda now: {"now": now}, clock=clock)
    assert json.loads(handler.reply(b"status")) == {"now": clock.now, "status_age": 0.0}


def test_status_provider_failure_still_answers(table, clock):
    def broken(now):
        raise RuntimeError("boom")

    handler = DataUDPHandler(table, "n", status=broken, clock=clock)
    assert "boom" in json.loads(handler.reply(b"status"))["error"]


def test_cache_holds_only_valid_requests(table, handler):
    for i in range(2000):
        handler.reply(f"junk{i}".encode())
        handler.reply(f"nope{i}#raw".encode())
    for request in (b"raw", b"json", b"raw_wn", b"json_wn", b"one#raw", b"two#json", b"status"):
        handler.reply(request)
    assert len(handler._cache) <= 2 * len(table.codenames) + 7  # noqa: SLF001


def test_single_codename_reply_after_every_update_is_fresh(table, handler, clock):
    """Replies are built lazily per request, always from the latest snapshot."""
    for i in range(20):
        table.set_point("one", (clock.now, float(i)))
        table.set_point("three", (clock.now, float(-i)))
        assert handler.reply(b"one#raw") == f"{clock.now},{float(i)}".encode()
        assert handler.reply(b"raw").endswith(f";{clock.now},{float(-i)}".encode())
