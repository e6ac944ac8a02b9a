"""DataPushHandler and its helpers at their edges: exact error texts, size limits to the byte,
the own-address and allow-list guards, counters, status, and the client-side reply parser.

Written against the mutants of labnode/sockets/push_protocol.py (docs/testing.md).
"""

from __future__ import annotations

import json
import logging
import queue

import pytest

from labnode.sockets import DataPushHandler, PushRefused
from labnode.sockets.access import AllowList
from labnode.sockets.guard import ErrorRateLimiter
from labnode.sockets.push_protocol import (
    ERROR_TEXT_LIMIT,
    MAX_DATAGRAM,
    PushReply,
    PushRequestError,
    check_push_arguments,
    format_return,
    parse_json_wn,
    parse_push_reply,
    parse_raw_wn,
)
from tests.fake_clock import BASE, FakeClock

CLIENT = ("127.0.0.1", 40000)


# -- parsing -------------------------------------------------------------------------------------
def test_raw_wn_types_single_values_lists_and_several_parts():
    assert parse_raw_wn("a:int:1;b:float:2.5;c:str:x y;d:bool:True;e:bool:False") == {
        "a": 1,
        "b": 2.5,
        "c": "x y",
        "d": True,
        "e": False,
    }
    assert parse_raw_wn("a:int:1,2,3") == {"a": [1, 2, 3]}
    assert parse_raw_wn("a:str:") == {"a": ""}
    assert parse_raw_wn("a:int:1;a:int:2") == {"a": 2}


@pytest.mark.parametrize(
    "body, message",
    [
        (
            "a:int",
            "The data part 'a:int' did not match the expected format of 3 parts divided by ':'",
        ),
        (
            "a:int:1;b",
            "The data part 'b' did not match the expected format of 3 parts divided by ':'",
        ),
        ("a:int:1:2", "The data part 'a:int:1:2' did not match the expected format of 3 parts"),
        (
            "a:list:1",
            "The data type 'list' is unknown. Only dict_keys(['int', 'float', 'str', "
            "'bool']) are allowed",
        ),
        (
            "a:int:x",
            "Unable to convert values to 'int'. Error is: invalid literal for int() with "
            "base 10: 'x'",
        ),
        (
            "a:bool:1,true",
            "Unable to convert values to 'bool'. Error is: Cannot translate the "
            "string '1' to a boolean. Only the strings 'True' or 'False' are allowed",
        ),
        (
            "a:bool:True,yes",
            "Unable to convert values to 'bool'. Error is: Cannot translate the string 'yes' to "
            "a boolean",
        ),
    ],
)
def test_raw_wn_errors_name_the_bad_part(body, message):
    with pytest.raises(PushRequestError) as raised:
        parse_raw_wn(body)
    assert str(raised.value).startswith(message)


def test_json_wn_errors_and_python_rules():
    assert parse_json_wn('{"a": NaN, "a": 2}') == {"a": 2}
    with pytest.raises(PushRequestError) as raised:
        parse_json_wn("{nope")
    assert str(raised.value) == "The string '{nope' could not be decoded as JSON"
    with pytest.raises(PushRequestError) as raised:
        parse_json_wn("[1, 2]")
    assert str(raised.value) == (
        "The object '[1, 2]' returned after decoding the JSON string is not a dict"
    )


# -- return formats --------------------------------------------------------------------------------
class NoStr:
    def __str__(self) -> str:
        raise RuntimeError("no text")


RAW_FAILED = "EXCEP#Raw conversion failed with message:"


@pytest.mark.parametrize(
    "value, reply",
    [
        (None, "RET#None"),
        ({"a": 1, "b": 2.5, "c": True, "d": "x"}, "RET#a:int:1;b:float:2.5;c:bool:True;d:str:x"),
        ({"a": [1, 2]}, "RET#a:int:1,2"),
        ({}, "RET#"),
        (
            {"a": []},
            RAW_FAILED + "With return format raw, the item type can only be one of "
            "'int', 'float', 'bool' and 'str'. Object: '[]' is of type: ",
        ),
        ({"a": [1, 2.0]}, RAW_FAILED + "With return format raw, value in list must have same type"),
        ({"a": [2.0, 1]}, RAW_FAILED + "With return format raw, value in list must have same type"),
        (
            {"a": None},
            RAW_FAILED + "With return format raw, the item type can only be one of "
            "'int', 'float', 'bool' and 'str'. Object: 'None' is of type: NoneType",
        ),
        (
            {"a": [None]},
            RAW_FAILED + "With return format raw, the item type can only be one of "
            "'int', 'float', 'bool' and 'str'. Object: '[None]' is of type: NoneType",
        ),
        ([[1, 2], [3]], "RET#int:1,2&3"),
        ([[1.5], []], "RET#float:1.5&"),
        ([[]], RAW_FAILED + "With return format raw on a list of lists, there must be a value"),
        ([], RAW_FAILED + "With return format raw on a list of lists, there must be a value"),
        ([1], RAW_FAILED + "With return format raw on a list, the elements themselves be lists"),
        (
            [[1], [2.0]],
            RAW_FAILED + "With return format raw on a list of lists, all values  in "
            "list must have same type. Types are: [<class 'int'>, <class 'float'>]",
        ),
        (
            [[None]],
            RAW_FAILED + "With return format raw, the item type can only be one of "
            "'int', 'float', 'bool' and 'str'. The type is: <class 'NoneType'>",
        ),
        ([["x", "y"]], "RET#str:x,y"),
        ([[True]], "RET#bool:True"),
        (5, RAW_FAILED + "Return value must be a dict or list with return format 'raw'"),
    ],
)
def test_raw_return_format(value, reply):
    assert format_return(value, "raw") == reply


def test_json_and_string_return_formats_and_their_failures():
    assert format_return({"a": [1, None]}, "json") == 'RET#{"a": [1, null]}'
    assert format_return(object, "json").startswith("EXCEP#Object of type type is not JSON")
    assert format_return([1, "x"], "string") == "RET#[1, 'x']"
    assert format_return(NoStr(), "string") == "EXCEP#no text"


# -- arguments -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "args, message",
    [
        (
            ("bogus", None, None, "json"),
            "Unknown action 'bogus'. Must be one of: ['store_last', "
            "'enqueue', 'callback_async', 'callback_direct']",
        ),
        (
            ("store_last", 1, None, "json"),
            "queue= can only be used when the action is 'enqueue' (action='store_last')",
        ),
        (
            ("enqueue", None, print, "json"),
            "callback= can only be used when the action is "
            "'callback_async' or 'callback_direct' (action='enqueue')",
        ),
        (
            ("callback_async", None, 3, "json"),
            "Value for callback: '3' is not callable; "
            "action='callback_async' needs a function that takes the dict of values",
        ),
        (
            ("store_last", None, None, "xml"),
            "return_format='xml': it may only be one of 'json', 'raw' or 'string'",
        ),
    ],
)
def test_check_push_arguments_refuses_with_the_fix(args, message):
    with pytest.raises(ValueError) as raised:
        check_push_arguments(*args)
    assert str(raised.value) == message


@pytest.mark.parametrize("action", ["callback_async", "callback_direct", "store_last"])
def test_a_queue_is_only_for_enqueue(action):
    with pytest.raises(ValueError, match="queue= can only be used when the action is 'enqueue'"):
        check_push_arguments(action, queue.Queue(), print, "json")


def test_arguments_read_from_a_config_file_are_compared_by_value():
    # strings built at run time (as a TOML parser builds them) are not the interned literals
    check_push_arguments("".join(["enq", "ueue"]), queue.Queue(), None, "json")
    action = "".join(["callback_", "direct"])
    handler = DataPushHandler("h", action, callback=lambda values: values, return_format="raw")
    assert handler.reply(b"raw_wn#a:int:1") == b"RET#a:int:1"
    assert handler.reply(b"raw_wn#a:int:2,3") == b"RET#a:int:2,3"
    # callback_direct replies with RET, never an ACK, so an ACK too large for a datagram is no
    # reason to refuse the values
    small = DataPushHandler("h", action, callback=lambda values: "ok", return_format="string")
    request = b"raw_wn#a:int:" + b",".join([b"1"] * 30000)
    assert small.reply(request) == b"RET#ok"


@pytest.mark.parametrize(
    "args",
    [
        ("store_last", None, None, "json"),
        ("enqueue", queue.Queue(), None, "raw"),
        ("enqueue", None, None, "string"),
        ("callback_async", None, print, "json"),
        ("callback_direct", None, print, "raw"),
    ],
)
def test_check_push_arguments_accepts_what_pyexplabsys_accepts(args):
    check_push_arguments(*args)


# -- the protocol ----------------------------------------------------------------------------------
def test_static_replies_and_counted_requests():
    handler = DataPushHandler("bench \u00b5")
    assert handler.reply(b"name") == b"RET#bench \\xb5"
    assert (
        handler.reply(b"commands") == b'RET#["json_wn#", "raw_wn#", "name", "status", "commands"]'
    )
    assert handler.counts.requests == 2 and handler.counts.refused == 0


@pytest.mark.parametrize(
    "request_bytes, reply",
    [
        (b"raw_wn#a:int:1#", b"ERROR#UNKNOWN_COMMMAND"),
        (b"raw_wn", b"ERROR#UNKNOWN_COMMMAND"),
        (b"json#{}", b"ERROR#UNKNOWN_COMMMAND"),
        (b"zz#a:int:1", b"ERROR#UNKNOWN_COMMMAND"),
        (b"status#a:int:1", b"ERROR#UNKNOWN_COMMMAND"),
        (b"#", b"ERROR#UNKNOWN_COMMMAND"),
        (
            b"raw_wn#a:int",
            b"ERROR#The data part 'a:int' did not match the expected format of 3 "
            b"parts divided by ':'",
        ),
        (
            b"raw_wn#a:str:\xb5",
            b"ERROR#the request is not ASCII (byte 0xb5 at position 13); push "
            b"requests are ASCII text, write other characters as \\u escapes inside json_wn",
        ),
    ],
)
def test_refused_requests_are_counted(request_bytes, reply):
    handler = DataPushHandler("h")
    assert handler.reply(request_bytes) == reply
    assert handler.counts.refused == 1 and handler.counts.requests == 1
    assert handler.counts.accepted == 0 and handler.last == (None, None)


def test_a_check_that_crashes_is_an_internal_error_reply_not_a_crash(caplog):
    def check(values, address):
        raise RuntimeError("x" * 2000)

    handler = DataPushHandler("h", check=check)
    request = b"raw_wn#a:str:" + b"r" * 200
    with caplog.at_level(logging.ERROR, logger="labnode.sockets.push_protocol"):
        handler.reply(request, CLIENT)
    assert caplog.records[0].args == (request[:100],)  # the log quotes 100 bytes at most
    handler.counts.refused = 0
    reply = handler.reply(b"raw_wn#a:int:1", CLIENT)
    assert reply.startswith(b"EXCEP#internal error: RuntimeError('xxx")
    assert reply.endswith(b"... (2016 characters in all)")
    assert handler.counts.refused == 1 and handler.last == (None, None)


def test_check_refusal_is_counted():
    def check(values, address):
        raise PushRefused(f"not from {address[0]}")

    handler = DataPushHandler("h", check=check)
    assert handler.reply(b"raw_wn#a:int:1", CLIENT) == b"ERROR#not from 127.0.0.1"
    assert handler.counts.refused == 1 and handler.counts.accepted == 0


@pytest.mark.parametrize("size", [ERROR_TEXT_LIMIT, ERROR_TEXT_LIMIT + 1])
def test_error_text_is_cut_only_past_the_limit(size):
    def check(values, address):
        raise PushRefused("r" * size)

    reply = DataPushHandler("h", check=check).reply(b"raw_wn#a:int:1")
    if size == ERROR_TEXT_LIMIT:
        assert reply == b"ERROR#" + b"r" * size
    else:
        assert reply == b"ERROR#" + b"r" * ERROR_TEXT_LIMIT + b"... (1001 characters in all)"


def _ack_request(size: int) -> bytes:
    """raw_wn#a:str:xxx whose ACK#{'a': 'xxx'} is ``size`` bytes (the request is as long)."""
    return b"raw_wn#a:str:" + b"x" * (size - 13)


@pytest.mark.parametrize("size", [MAX_DATAGRAM - 1, MAX_DATAGRAM])
def test_an_ack_of_up_to_65507_bytes_is_sent(size):
    handler = DataPushHandler("h")
    reply = handler.reply(_ack_request(size))
    assert len(reply) == size and reply.startswith(b"ACK#{'a': 'xxx")
    assert handler.counts.accepted == 1


def test_an_ack_of_65508_bytes_is_refused_and_nothing_stored():
    handler = DataPushHandler("h")
    reply = handler.reply(_ack_request(MAX_DATAGRAM + 1))
    assert reply == (
        b"ERROR#the ACK for these values would be 65508 bytes, more than one UDP datagram "
        b"(65507) holds; nothing was stored, send fewer values"
    )
    assert handler.counts.refused == 1 and handler.last == (None, None)


@pytest.mark.parametrize("size", [MAX_DATAGRAM, MAX_DATAGRAM + 1])
def test_a_callback_reply_over_one_datagram_is_an_excep(size):
    text = "v" * (size - 4)
    handler = DataPushHandler(
        "h", "callback_direct", callback=lambda v: text, return_format="string"
    )
    reply = handler.reply(b"raw_wn#a:int:1")
    if size == MAX_DATAGRAM:
        assert reply == b"RET#" + text.encode()
    else:
        assert reply == (
            b"EXCEP#the callback's return value is 65508 bytes as a reply, more than one UDP "
            b"datagram (65507) holds"
        )
    assert handler.last[1] == {"a": 1}  # the values were accepted either way


def test_callback_direct_is_called_with_the_values_and_its_exception_text_is_cut():
    seen = []

    def callback(values):
        seen.append(values)
        raise ValueError("e" * 1500)

    handler = DataPushHandler("h", "callback_direct", callback=callback, return_format="json")
    reply = handler.reply(b'json_wn#{"a": 1}')
    assert reply == b"EXCEP#" + b"e" * 1000 + b"... (1500 characters in all)"
    assert seen == [{"a": 1}] and handler.counts.accepted == 1


def test_callback_async_enqueues_and_acks_without_calling():
    items: queue.Queue = queue.Queue()
    called = []
    handler = DataPushHandler("h", "callback_async", items, callback=called.append)
    assert handler.reply(b"raw_wn#a:int:1") == b"ACK#{'a': 1}"
    assert items.get_nowait() == {"a": 1} and called == []


def test_a_full_callback_async_queue_refuses_and_counts():
    items: queue.Queue = queue.Queue(maxsize=1)
    handler = DataPushHandler("h", "callback_async", items, callback=print)
    handler.reply(b"raw_wn#a:int:1")
    assert handler.reply(b"raw_wn#a:int:2") == (
        b"ERROR#the push queue is full (1 values waiting to be handled); nothing was stored, "
        b"try again later"
    )
    assert handler.counts.queue_full == 1 and handler.counts.refused == 1
    assert handler.updated[1] == {"a": 1}


def test_last_and_updated_are_copies_and_stamped_with_the_clock():
    clock = FakeClock()
    handler = DataPushHandler("h", clock=clock)
    handler.reply(b"raw_wn#a:int:1;b:int:2")
    clock.now += 2
    handler.reply(b"raw_wn#b:int:3")
    when, values = handler.last
    values["b"] = 99
    assert handler.last == (BASE + 2, {"b": 3})
    updated_when, updated = handler.updated
    updated["a"] = 99
    assert handler.updated == (BASE + 2, {"a": 1, "b": 3}) and updated_when == BASE + 2
    assert handler.counts.accepted == 2


# -- the network's view ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "own, source, dropped",
    [
        (("127.0.0.1", 8500), ("127.0.0.1", 8500), True),
        (("127.0.0.1", 8500), ("127.0.0.2", 8500), False),
        (("127.0.0.2", 8500), ("127.0.0.1", 8500), False),
        (("127.0.0.1", 8500), ("127.0.0.1", 8501), False),
        (("", 8500), ("127.0.0.5", 8500), True),
        (("", 8500), ("127.0.0.5", 8499), False),
        (None, ("127.0.0.1", 8500), False),
    ],
)
def test_own_address_is_dropped_by_port_and_bound_host(own, source, dropped):
    handler = DataPushHandler("h")
    handler.own_address = own
    reply = handler.handle(b"name", source)
    assert reply == (None if dropped else b"RET#h")
    assert handler.counts.ignored_own_address == int(dropped)
    assert handler.counts.requests == int(not dropped)


def test_not_allowed_error_text_and_count():
    handler = DataPushHandler("h", allow=AllowList(["127.0.0.1"]))
    assert handler.handle(b"name", ("127.0.0.3", 1)) == (
        b"ERROR#client 127.0.0.3 is not allowed to write to this push socket; its allow-list "
        b"must name the client's network"
    )
    assert handler.counts.not_allowed == 1
    assert handler.handle(b"name", ("127.0.0.1", 1)) == b"RET#h"
    assert handler.counts.not_allowed == 1


def test_a_request_of_exactly_max_request_is_taken():
    handler = DataPushHandler("h", max_request=20)
    assert handler.handle(b"raw_wn#s:str:" + b"x" * 7, CLIENT) == b"ACK#{'s': 'xxxxxxx'}"
    assert handler.handle(b"raw_wn#s:str:" + b"x" * 8, CLIENT).startswith(b"ERROR#the request")
    assert handler.counts.too_large == 1


def test_status_replies_count_against_the_error_budget_but_acks_and_names_do_not():
    clock = FakeClock()
    handler = DataPushHandler("h", limiter=ErrorRateLimiter(rate=1, burst=2, clock=clock))
    assert [handler.handle(b"status", CLIENT) for _ in range(3)] == [b"{}", b"{}", None]
    assert handler.handle(b"name", CLIENT) == b"RET#h"
    assert handler.handle(b"raw_wn#a:int:1", CLIENT) == b"ACK#{'a': 1}"
    assert handler.handle(b"status", ("127.0.0.2", 1)) == b"{}"
    assert handler.handle(b"too_large", CLIENT) is None  # an ERROR#: over the budget too


def test_default_limiter_is_created_per_handler():
    a, b = DataPushHandler("a"), DataPushHandler("b")
    assert isinstance(a.limiter, ErrorRateLimiter) and a.limiter is not b.limiter


# -- status ----------------------------------------------------------------------------------------
def test_status_reply_uses_the_provider_and_survives_its_failure():
    clock = FakeClock()
    handler = DataPushHandler("h", status=lambda now: {"now": now, "set": {1}}, clock=clock)
    assert json.loads(handler.reply(b"status")) == {"now": BASE, "set": "{1}"}

    def broken(now):
        raise OSError("disk")

    handler = DataPushHandler("h", status=broken)
    assert json.loads(handler.reply(b"status")) == {"error": "status failed: OSError('disk')"}


class QueueWithoutSize:
    maxsize = 0

    def qsize(self) -> int:
        raise NotImplementedError

    def put(self, item, block=True):
        pass


def test_status_reports_counts_last_write_age_and_queue():
    clock = FakeClock()
    items: queue.Queue = queue.Queue(maxsize=5)
    handler = DataPushHandler("h", "enqueue", items, clock=clock)
    assert handler.status(BASE) == {
        "action": "enqueue",
        "last_write_age": None,
        "counts": {
            "requests": 0,
            "accepted": 0,
            "refused": 0,
            "not_allowed": 0,
            "ignored_replies": 0,
            "ignored_own_address": 0,
            "too_large": 0,
            "queue_full": 0,
            "callback_errors": 0,
        },
        "error_replies_dropped": 0,
        "queue": {"size": 0, "max": 5},
    }
    handler.reply(b"raw_wn#a:int:1")
    status = handler.status(BASE + 1.23456)
    assert status["last_write_age"] == 1.235
    assert status["counts"]["accepted"] == 1 and status["queue"] == {"size": 1, "max": 5}
    status["counts"]["accepted"] = 50
    assert handler.counts.accepted == 1

    unsized = DataPushHandler("u", "enqueue", QueueWithoutSize())
    assert unsized.status(BASE)["queue"] == {"size": None, "max": None}
    assert "queue" not in DataPushHandler("s").status(BASE)


def test_last_write_age_on_a_clock_that_starts_near_zero():
    clock = FakeClock(1.0)
    handler = DataPushHandler("h", clock=clock)
    handler.reply(b"raw_wn#a:int:1")
    assert handler.status(2.5)["last_write_age"] == 1.5


def test_status_counts_dropped_error_replies():
    clock = FakeClock()
    handler = DataPushHandler("h", limiter=ErrorRateLimiter(rate=1, burst=1, clock=clock))
    handler.handle(b"bogus", CLIENT)
    handler.handle(b"bogus", CLIENT)
    assert handler.status(BASE)["error_replies_dropped"] == 1


# -- the client side -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "data, kind, text, ok",
    [
        (b"ACK#{'a': 1}", "ACK", "{'a': 1}", True),
        (b"RET#", "RET", "", True),
        (b"ERROR#x#y", "ERROR", "x#y", False),
        (b"EXCEP#boom", "EXCEP", "boom", False),
        (b'{"a": 1}', "JSON", '{"a": 1}', False),
        (b"[1]", "JSON", "[1]", False),
        (b"RET#\xb5", "RET", "\\xb5", True),
    ],
)
def test_parse_push_reply_kinds(data, kind, text, ok):
    assert parse_push_reply(data) == PushReply(kind, text)
    assert parse_push_reply(data).ok is ok


def test_a_parsed_reply_is_a_frozen_value():
    reply = parse_push_reply(b"ACK#x")
    with pytest.raises(AttributeError):
        reply.kind = "ERROR"  # type: ignore[misc]
    assert {reply, parse_push_reply(b"ACK#x")} == {PushReply("ACK", "x")}


@pytest.mark.parametrize("data", [b"ACK", b"OK#x", b"", b"1.0,2.0", b"#ACK"])
def test_parse_push_reply_refuses_anything_else_quoting_it(data):
    with pytest.raises(ValueError) as raised:
        parse_push_reply(data)
    assert str(raised.value) == f"not a push reply: {data.decode()!r}"


def test_parse_push_reply_quotes_at_most_80_characters():
    with pytest.raises(ValueError) as raised:
        parse_push_reply(b"z" * 200)
    assert str(raised.value) == f"not a push reply: {'z' * 80!r}"
