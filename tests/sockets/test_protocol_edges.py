"""DataUDPHandler at its edges: exact datagram and status size limits, the reply and status
caches (when a reply is reused and when it is rebuilt), the echo check and channel_status.

Written against the mutants of labnode/sockets/protocol.py (docs/testing.md, mutation testing).
"""

from __future__ import annotations

import json
import math
import time
import types

import pytest

from labnode.sockets import MAX_DATAGRAM, DataUDPHandler, PointTable
from labnode.sockets import protocol as protocol_module
from tests.fake_clock import BASE, FakeClock


class CountingStatus:
    """A status provider that counts its calls and reports the ``now`` it was given."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, now: float) -> dict:
        self.calls += 1
        return {"built_at": now, "calls": self.calls}


@pytest.fixture
def clock():
    return FakeClock()


# -- one datagram, exactly ------------------------------------------------------------------------
@pytest.mark.parametrize("size", [MAX_DATAGRAM - 1, MAX_DATAGRAM])
def test_a_reply_of_up_to_65507_bytes_is_sent_whole(size):
    table = PointTable(["a"])
    handler = DataUDPHandler(table, "n" * size)
    assert handler.reply(b"name") == b"n" * size


def test_a_reply_of_65508_bytes_gets_the_too_large_error_naming_size_and_command():
    handler = DataUDPHandler(PointTable(["a"]), "n" * (MAX_DATAGRAM + 1))
    assert handler.reply(b"name") == (
        b"REPLY_TOO_LARGE: the name reply is 65508 bytes, more than one UDP datagram (65507) "
        b"holds; ask per codename with NAME#raw or NAME#json"
    )


def test_a_non_ascii_name_is_counted_in_utf8_bytes():
    name = "\u00b5" * (MAX_DATAGRAM // 2)  # 2 bytes each in UTF-8
    handler = DataUDPHandler(PointTable(["a"]), name)
    assert handler.reply(b"name") == name.encode("utf-8")
    big = DataUDPHandler(PointTable(["a"]), name + "\u00b5")
    assert big.reply(b"name").startswith(b"REPLY_TOO_LARGE: the name reply is 65508 bytes")


# -- the reply cache ------------------------------------------------------------------------------
FORMS = [b"raw", b"json", b"raw_wn", b"json_wn", b"a#raw", b"a#json", b"b#raw"]


def test_a_reply_is_built_once_and_reused_until_a_point_changes(clock):
    table = PointTable(["a", "b"], timeouts=[10.0, None])
    table.set_point("a", (BASE, 1.0))
    handler = DataUDPHandler(table, "n", clock=clock)
    first = {form: handler.reply(form) for form in FORMS}
    clock.now += 9.5  # still fresh: the very same bytes objects come back
    assert all(handler.reply(form) is first[form] for form in FORMS)
    table.set_point("b", (BASE, 2.0))
    changed = {form: handler.reply(form) for form in FORMS}
    assert changed[b"b#raw"] == b"1763926800.0,2.0"
    assert all(changed[form] is not first[form] for form in FORMS)


def test_a_point_exactly_at_its_timeout_is_fresh_and_old_just_after(clock):
    table = PointTable(["a", "b"], timeouts=[2.0, 0.5])
    table.set_point("a", (BASE, 1.0))
    table.set_point("b", (BASE - 0.25, 2.0))
    handler = DataUDPHandler(table, "n", clock=clock)
    clock.now = BASE + 0.25  # b exactly at its timeout
    assert handler.reply(b"raw") == b"1763926800.0,1.0;1763926799.75,2.0"
    clock.now = BASE + 0.25 + 2**-10  # b just past it: the cached reply must not be reused
    assert handler.reply(b"raw") == b"1763926800.0,1.0;OLD_DATA"
    clock.now = BASE + 2.0  # a exactly at its timeout
    assert handler.reply(b"a#raw") == b"1763926800.0,1.0"
    status = handler.channel_status(clock.now)
    assert status["a"]["old"] is False and status["a"]["age"] == 2.0
    assert status["b"]["old"] is True
    clock.now = BASE + 2.0 + 2**-10
    assert handler.reply(b"a#raw") == b"OLD_DATA"
    assert handler.channel_status(clock.now)["a"]["old"] is True


def test_a_reply_is_still_reused_exactly_at_the_timeout(clock):
    table = PointTable(["a"], timeouts=0.5)
    table.set_point("a", (BASE, 1.0))
    handler = DataUDPHandler(table, "n", clock=clock)
    first = handler.reply(b"a#raw")
    clock.now = BASE + 0.5
    assert handler.reply(b"a#raw") is first
    clock.now = BASE + 0.5 + 2**-10
    assert handler.reply(b"a#raw") == b"OLD_DATA"


def test_a_reply_with_no_timeouts_is_reused_forever(clock):
    table = PointTable(["a"], timeouts=None)
    table.set_point("a", (BASE, 1.0))
    handler = DataUDPHandler(table, "n", clock=clock)
    first = handler.reply(b"a#raw")
    clock.now += 10**9
    assert handler.reply(b"a#raw") is first


@pytest.mark.parametrize("x", [BASE, -BASE, 0.5])
def test_freshness_is_measured_from_the_points_own_time(clock, x):
    table = PointTable(["a"], timeouts=1.0)
    table.set_point("a", (x, 3.0))
    handler = DataUDPHandler(table, "n", clock=clock)
    clock.now = x + 0.75
    assert handler.reply(b"a#raw") == f"{x},3.0".encode()
    clock.now = x + 1.25
    assert handler.reply(b"a#raw") == b"OLD_DATA"


def test_a_non_finite_point_does_not_hide_the_codenames_after_it(clock):
    table = PointTable(["a", "b", "c"], timeouts=None)
    table.set_point("a", (math.nan, 1.0))
    table.set_point("b", (BASE, math.inf))
    table.set_point("c", (BASE, 3.0))
    handler = DataUDPHandler(table, "n", clock=clock)
    assert handler.reply(b"raw") == b"OLD_DATA;OLD_DATA;1763926800.0,3.0"
    assert handler.reply(b"c#json") == b"[1763926800.0, 3.0]"


# -- the echo check --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "codenames, name, what, asked",
    [
        (["a"], "name", "name", "name"),
        (["a"], "codenames_raw", "name", "name"),
        (["name"], "n", "single codename", "codenames_raw"),
        (["codenames_raw"], "n", "single codename", "codenames_raw"),
    ],
)
def test_a_reply_that_is_itself_a_request_is_refused_at_construction(codenames, name, what, asked):
    reply = name if what == "name" else codenames[0]
    with pytest.raises(ValueError) as raised:
        DataUDPHandler(PointTable(codenames), name)
    assert str(raised.value) == (
        f"a node whose {what} is {reply!r} would answer the request {asked!r} with a request, "
        f"and two such nodes could answer each other forever; choose another {what}"
    )


@pytest.mark.parametrize("codenames, name", [(["name", "x"], "names"), (["raw"], "json")])
def test_replies_that_only_look_like_requests_are_accepted(codenames, name):
    handler = DataUDPHandler(PointTable(codenames), name)
    assert handler.reply(b"name") == name.encode()


# -- status: size limits -------------------------------------------------------------------------
def _status_of_size(size: int, **extra) -> dict:
    """A status dict whose JSON (json.dumps, default separators) is exactly ``size`` bytes."""
    status = dict(extra, pad="")
    status["pad"] = "p" * (size - len(json.dumps(status)))
    assert len(json.dumps(status)) == size
    return status


def test_empty_status_is_just_its_age(clock):
    handler = DataUDPHandler(PointTable(["a"]), "n", clock=clock)
    assert handler.reply(b"status") == b'{"status_age": 0.000}'
    assert handler.status() == {}


def test_status_up_to_the_limit_is_sent_and_one_byte_more_is_an_error(clock):
    limit = MAX_DATAGRAM - 40
    fits = _status_of_size(limit)
    handler = DataUDPHandler(PointTable(["a"]), "n", status=lambda now: fits, clock=clock)
    reply = handler.reply(b"status")
    assert json.loads(reply) == dict(fits, status_age=0.0)
    too_big = _status_of_size(limit + 1)
    handler = DataUDPHandler(PointTable(["a"]), "n", status=lambda now: too_big, clock=clock)
    assert handler.reply(b"status") == (
        b"REPLY_TOO_LARGE: the status reply is 65468 bytes, more than one UDP datagram (65507) "
        b"holds; ask per codename with NAME#raw or NAME#json"
    )


def test_status_channels_are_dropped_only_when_they_do_not_fit(clock):
    limit = MAX_DATAGRAM - 40
    channels = {f"c{i:05d}": {"x": 1.0} for i in range(2900)}  # most of the datagram
    fits = _status_of_size(limit, channels=channels)
    handler = DataUDPHandler(PointTable(["a"]), "n", status=lambda now: dict(fits), clock=clock)
    assert json.loads(handler.reply(b"status"))["channels"] == channels

    too_big = _status_of_size(limit + 1, channels=channels)
    handler = DataUDPHandler(PointTable(["a"]), "n", status=lambda now: dict(too_big), clock=clock)
    reply = json.loads(handler.reply(b"status"))
    assert "channels" not in reply
    assert reply["channels_omitted"] == (
        "2900 channels do not fit one datagram; ask NAME#json per codename"
    )
    assert reply["pad"] == too_big["pad"]


def test_status_too_large_even_without_channels_is_an_error(clock):
    status = _status_of_size(MAX_DATAGRAM, channels={"a": {}})
    handler = DataUDPHandler(PointTable(["a"]), "n", status=lambda now: dict(status), clock=clock)
    assert handler.reply(b"status").startswith(b"REPLY_TOO_LARGE: the status reply is ")


def test_status_without_channels_that_does_not_fit_keeps_no_omission_note(clock):
    status = _status_of_size(MAX_DATAGRAM - 39, channels={})
    handler = DataUDPHandler(PointTable(["a"]), "n", status=lambda now: dict(status), clock=clock)
    assert handler.reply(b"status").startswith(b"REPLY_TOO_LARGE")


def test_non_finite_numbers_anywhere_in_status_become_null(clock):
    def status(now):
        return {
            "a": [math.nan, (math.inf, 1.5)],
            "b": {"c": -math.inf, "d": "text"},
            "e": 2.5,
            "f": None,
            "g": {1, 2} - {1, 2},  # not JSON: written with repr
        }

    handler = DataUDPHandler(PointTable(["a"]), "n", status=status, clock=clock)
    reply = handler.reply(b"status")
    assert json.loads(reply) == {
        "a": [None, [None, 1.5]],
        "b": {"c": None, "d": "text"},
        "e": 2.5,
        "f": None,
        "g": "set()",
        "status_age": 0.0,
    }
    assert b"NaN" not in reply and b"Infinity" not in reply


def test_a_non_finite_key_in_status_is_a_string_and_status_still_answers(clock):
    # regression: a NaN key made reply(b"status") raise (the node logged it and stayed silent)
    def status(now):
        return {math.nan: 1.0, "v": {math.inf: math.inf}}

    handler = DataUDPHandler(PointTable(["a"]), "n", status=status, clock=clock)
    assert json.loads(handler.reply(b"status")) == {
        "NaN": 1.0,
        "v": {"Infinity": None},
        "status_age": 0.0,
    }


def test_status_error_names_the_exception(clock):
    def broken(now):
        raise KeyError("gauge")

    handler = DataUDPHandler(PointTable(["a"]), "n", status=broken, clock=clock)
    assert json.loads(handler.reply(b"status")) == {
        "error": "status failed: KeyError('gauge')",
        "status_age": 0.0,
    }
    assert handler.status(5.0) == {"error": "status failed: KeyError('gauge')"}


def test_status_method_uses_the_clock_when_no_time_is_given(clock):
    handler = DataUDPHandler(PointTable(["a"]), "n", status=CountingStatus(), clock=clock)
    assert handler.status()["built_at"] == BASE
    assert handler.status(7.0)["built_at"] == 7.0


# -- status: when it is rebuilt --------------------------------------------------------------------
@pytest.fixture
def build_cost(monkeypatch):
    """Make every status build take exactly ``cost[0]`` seconds of perf_counter in protocol.py."""
    cost = [0.0]
    readings: list[float] = []

    def fake_perf_counter() -> float:
        # called in pairs around each build: start on a whole number, end cost[0] later
        readings.append(0.0)
        pair, end = divmod(len(readings) - 1, 2)
        return 0.001 + pair * 10.0 + cost[0] * end  # a perf_counter may start near 0

    fake_time = types.SimpleNamespace(time=time.time, perf_counter=fake_perf_counter)
    monkeypatch.setattr(protocol_module, "time", fake_time)
    return cost


def _status_handler(clock):
    table = PointTable(["a"])
    provider = CountingStatus()
    handler = DataUDPHandler(table, "n", status=provider, clock=clock)
    return table, provider, handler


def _ask(handler) -> dict:
    return json.loads(handler.reply(b"status"))


def test_status_is_reused_with_its_age_until_half_a_second(clock, build_cost):
    table, provider, handler = _status_handler(clock)
    assert _ask(handler) == {"built_at": BASE, "calls": 1, "status_age": 0.0}
    assert _ask(handler)["calls"] == 1  # the same instant: reused
    clock.now = BASE + 0.25
    assert _ask(handler) == {"built_at": BASE, "calls": 1, "status_age": 0.25}
    clock.now = BASE + 0.5 - 2**-10
    assert _ask(handler)["calls"] == 1
    clock.now = BASE + 0.5  # exactly STATUS_MAX_AGE: rebuilt
    assert _ask(handler) == {"built_at": BASE + 0.5, "calls": 2, "status_age": 0.0}


def test_status_is_rebuilt_when_the_clock_goes_back(clock, build_cost):
    table, provider, handler = _status_handler(clock)
    _ask(handler)
    clock.now = BASE - 2**-10
    assert _ask(handler) == {"built_at": BASE - 2**-10, "calls": 2, "status_age": 0.0}


def test_after_a_change_status_is_rebuilt_once_20_ms_old(clock, build_cost):
    table, provider, handler = _status_handler(clock)
    _ask(handler)
    table.set_point_now("a", 1.0)
    clock.now = BASE + 2**-6  # 15.6 ms: not yet
    assert _ask(handler)["calls"] == 1
    clock.now = BASE + 2**-5  # 31 ms
    assert _ask(handler) == {"built_at": BASE + 2**-5, "calls": 2, "status_age": 0.0}
    clock.now = BASE + 2**-5 + 2**-6  # no change since: reused
    assert _ask(handler)["calls"] == 2


def test_without_a_change_status_is_not_rebuilt_early(clock, build_cost):
    table, provider, handler = _status_handler(clock)
    _ask(handler)
    clock.now = BASE + 0.25
    assert _ask(handler)["calls"] == 1


def test_a_slow_status_is_rebuilt_no_sooner_than_ten_times_its_cost(clock, build_cost):
    build_cost[0] = 2**-8  # 3.9 ms per build: rebuilt after a change once 39.06 ms old
    table, provider, handler = _status_handler(clock)
    _ask(handler)
    table.set_point_now("a", 1.0)
    clock.now = BASE + 10 * 2**-8 - 2**-10
    assert _ask(handler)["calls"] == 1
    clock.now = BASE + 10 * 2**-8
    assert _ask(handler)["calls"] == 2


def test_status_age_on_a_clock_that_starts_near_zero(build_cost):
    clock = FakeClock(1.0)  # an injected monotonic clock: small numbers
    table, provider, handler = _status_handler(clock)
    _ask(handler)
    clock.now = 1.25
    assert _ask(handler) == {"built_at": 1.0, "calls": 1, "status_age": 0.25}
    clock.now = 2.25
    assert _ask(handler) == {"built_at": 2.25, "calls": 2, "status_age": 0.0}


def test_status_age_is_written_with_milliseconds(clock, build_cost):
    table, provider, handler = _status_handler(clock)
    handler.reply(b"status")
    clock.now = BASE + 0.1234375
    assert handler.reply(b"status").endswith(b', "status_age": 0.123}')


# -- channel_status -------------------------------------------------------------------------------
def test_channel_status_rounds_the_age_to_microseconds():
    table = PointTable(["b", "a"], timeouts=[None, 5.0])  # a after the non-finite one
    table.set_point("a", (100.0, 1.0))
    table.set_point("b", (float("nan"), 2.0))
    handler = DataUDPHandler(table, "n")
    status = handler.channel_status(101.23456789)
    assert status["a"] == {"x": 100.0, "y": 1.0, "age": 1.234568, "timeout": 5.0, "old": False}
    assert status["b"] == {
        "x": None,
        "y": 2.0,
        "age": None,
        "timeout": None,
        "old": True,
        "non_finite": True,
    }
    assert handler.channel_status(10**6)["a"]["old"] is True
