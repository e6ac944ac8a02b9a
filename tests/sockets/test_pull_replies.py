"""pull_replies: the server's own replies parse back; hostile replies are typed errors."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labnode.codenames import codename_problem
from labnode.sockets import (
    DataUDPHandler,
    NodeError,
    PointTable,
    ReplyTooLargeError,
    UnknownCommandError,
)
from labnode.sockets.pull_replies import (
    _CODENAME,
    MAX_DEPTH,
    MAX_REPLY_BYTES,
    BadReplyError,
    ChannelInfo,
    _too_deep,
    check_reply,
    escape,
    excerpt,
    parse_channels_json,
    parse_codenames_json,
    parse_codenames_raw,
    parse_json,
    parse_json_wn,
    parse_name,
    parse_point,
    parse_raw,
    parse_raw_wn,
    parse_reply,
    parse_status,
)

NOW = 1_763_926_800.123456
REQUESTS = [
    "json_wn",
    "json",
    "raw",
    "raw_wn",
    "one#json",
    "one#raw",
    "codenames_json",
    "codenames_raw",
    "status",
    "channels_json",
    "name",
    "anything",
]


@pytest.fixture
def handler():
    table = PointTable(["one", "two", "three"], timeouts=[10.0, 0.5, None])
    table.set_point("one", (NOW, 1.4000000000000001))
    table.set_point("three", (5.0, -3))
    return DataUDPHandler(table, "bench 3 gauge", clock=lambda: NOW + 1)


def test_the_servers_own_replies_parse_back(handler):
    one, three = (NOW, 1.4000000000000001), (5.0, -3.0)
    expected_table = {"one": one, "two": None, "three": three}
    assert parse_json_wn(handler.reply(b"json_wn")) == expected_table
    assert parse_raw_wn(handler.reply(b"raw_wn")) == expected_table
    assert parse_json(handler.reply(b"json")) == [one, None, three]
    assert parse_raw(handler.reply(b"raw")) == [one, None, three]
    assert parse_point(handler.reply(b"one#json"), "one#json") == one
    assert parse_point(handler.reply(b"one#raw"), "one#raw") == one
    assert parse_point(handler.reply(b"two#raw"), "two#raw") is None
    assert parse_point(handler.reply(b"two#json"), "two#json") is None
    assert parse_codenames_json(handler.reply(b"codenames_json")) == ["one", "two", "three"]
    assert parse_codenames_raw(handler.reply(b"codenames_raw")) == ["one", "two", "three"]
    assert parse_name(handler.reply(b"name")) == "bench 3 gauge"
    assert parse_reply("three#json", handler.reply(b"three#json")) == three
    # raw numbers are exact: the float read back equals the float that was set
    assert parse_raw(b"1e-09,1.5;0,1") == [(1e-09, 1.5), (0.0, 1.0)]


def test_text_replies_are_accepted_too():
    assert parse_json_wn('{"a": [1, 2]}') == {"a": (1.0, 2.0)}


def test_error_replies_are_their_typed_errors():
    with pytest.raises(UnknownCommandError, match="'nope#json'"):
        parse_point(b"UNKNOWN_COMMMAND", "nope#json", node="127.0.0.1:9000")
    with pytest.raises(ReplyTooLargeError, match="NAME#json"):
        parse_json_wn(b"REPLY_TOO_LARGE: the json_wn reply is 99999 bytes; ask NAME#json")
    with pytest.raises(UnknownCommandError):
        parse_channels_json(b"UNKNOWN_COMMMAND")
    for request in REQUESTS:
        with pytest.raises(UnknownCommandError):
            parse_reply(request, b"UNKNOWN_COMMMAND")


def test_error_reply_text_is_escaped():
    with pytest.raises(ReplyTooLargeError) as info:
        check_reply(b"REPLY_TOO_LARGE\x1b[2J\x9b31m")
    assert "\x1b" not in str(info.value) and "\\x1b[2J" in str(info.value)
    assert "\x9b" not in str(info.value)


def test_channels_json():
    reply = json.dumps(
        {
            "volt": {"unit": "V", "description": "output", "writable": True, "min": 1, "max": 6},
            "p": {"unit": None, "description": "", "writable": False, "extra": [1]},
        }
    )
    assert parse_channels_json(reply) == {
        "volt": ChannelInfo("V", "output", True, 1.0, 6.0),
        "p": ChannelInfo(None, "", False),
    }


@pytest.mark.parametrize(
    ("parser", "reply", "problem"),
    [
        (parse_json_wn, b"[1, 2]", "not an object"),
        (parse_json_wn, b'{"a": [1]}', "not a point"),
        (parse_json_wn, b'{"a": [1, 2, 3]}', "not a point"),
        (parse_json_wn, b'{"a": [true, 2]}', "not a number"),
        (parse_json_wn, b'{"a": [1, ' + b"9" * 5000 + b"]}", "not JSON"),
        (parse_json_wn, b'{"a": "OLD"}', "not OLD_DATA"),
        (parse_json_wn, b'{"a": null}', "not a point"),
        (parse_json_wn, b'{"a": {"x": 1}}', "not a point"),
        (parse_json_wn, b'{"a#b": [1, 2]}', "contains '#'"),
        (parse_json_wn, b'{"\\u001b[2J": [1, 2]}', "control character"),
        (parse_json_wn, b'{"": [1, 2]}', "is empty"),
        (parse_json_wn, b'{"a": [1, 2], "a": [3, 4]}', "appears twice"),
        (parse_json_wn, b"\xff\xfe", "not UTF-8"),
        (parse_json_wn, b"", "not JSON"),
        (parse_json, b'{"a": [1, 2]}', "not a list"),
        (parse_json, b'[[1, 2], "x"]', "entry 1"),
        (parse_raw, b"1,2;3", "entry 1"),
        (parse_raw, b"1,1_000", "not a number"),
        (parse_raw, b"1, 2", "not a number"),
        (parse_raw, b"1,nanx", "not a number"),
        (parse_raw, b"1,2\xff", "not ASCII"),
        (parse_raw_wn, b"a:1,2;b", "without name"),
        (parse_raw_wn, b"a:1,2;a:3,4", "twice"),
        (parse_raw_wn, b"a\tb:1,2", "control character"),
        (parse_raw_wn, b"a\x1b[2Jb:1,2", "control character"),
        (parse_codenames_json, b'["a", 1]', "not a string"),
        (parse_codenames_json, b'["a", "a"]', "twice"),
        (parse_codenames_json, b'"a"', "not a list"),
        (parse_codenames_raw, b"a,,b", "is empty"),
        (parse_status, b"[]", "not an object"),
        (parse_channels_json, b'{"a": 1}', "not an object"),
        (parse_channels_json, b'{"a": {"description": "", "writable": false}}', "unit"),
        (parse_channels_json, b'{"a": {"unit": 1, "description": "", "writable": false}}', "unit"),
        (parse_channels_json, b'{"a": {"unit": null, "writable": false}}', "description"),
        (parse_channels_json, b'{"a": {"unit": null, "description": "", "writable": 1}}', "writ"),
        (
            parse_channels_json,
            b'{"a": {"unit": null, "description": "", "writable": true, "max": "6"}}',
            "max",
        ),
    ],
)
def test_malformed_replies_are_bad_reply_errors(parser, reply, problem):
    with pytest.raises(BadReplyError, match=problem) as info:
        parser(reply, node="127.0.0.1:9000")
    error = info.value
    assert isinstance(error, NodeError)
    assert error.node == "127.0.0.1:9000" and error.request
    assert str(error).isprintable()


@pytest.mark.parametrize("request_", REQUESTS)
def test_deep_nesting_is_refused_without_recursion_error(request_):
    for opener, closer in ((b"[", b"]"), (b"{", b"}"), (b'{"a":', b"}")):
        deep = opener * 100_000 + closer * 100_000
        if request_ in ("raw", "raw_wn", "one#raw", "codenames_raw", "name", "anything"):
            continue  # not JSON forms
        with pytest.raises(BadReplyError, match="nested"):
            parse_reply(request_, deep[:MAX_REPLY_BYTES])


def test_nesting_inside_strings_does_not_count():
    assert parse_status(json.dumps({"s": "[" * 1000 + '\\"{' * 100})) == {
        "s": "[" * 1000 + '\\"{' * 100
    }
    nested = {"a": 1}
    for _ in range(MAX_DEPTH - 1):
        nested = {"a": nested}
    assert parse_status(json.dumps(nested)) == nested
    with pytest.raises(BadReplyError, match="nested"):
        parse_status(json.dumps({"a": nested}))


def test_more_than_one_datagram_is_refused():
    with pytest.raises(BadReplyError, match="more than one datagram"):
        parse_name(b"x" * (MAX_REPLY_BYTES + 1))


def test_escape_and_excerpt_keep_terminal_sequences_out():
    assert escape("plain µbar") == "plain µbar"
    assert escape("\x1b[31mred\x07\n") == "\\x1b[31mred\\x07\\n"
    assert escape("a\u202eb\x9b") == "a\\u202eb\\x9b"
    long = excerpt(b"\x1b" * 1000)
    assert long.isprintable() and "1000 bytes" in long
    assert excerpt(b"\xff\x00ok") == repr("\\xff\\x00ok")


@settings(max_examples=2000, deadline=None)
@given(st.sampled_from(REQUESTS), st.binary(max_size=300))
def test_any_bytes_give_a_value_or_a_node_error(request_, data):
    try:
        parse_reply(request_, data)
    except NodeError as error:
        assert str(error).isprintable()


json_like = st.recursive(
    st.none()
    | st.booleans()
    | st.floats()
    | st.integers()
    | st.text(max_size=5)
    | st.just("OLD_DATA"),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=600, deadline=None)
@given(st.sampled_from(REQUESTS), json_like)
def test_any_json_gives_a_value_or_a_node_error(request_, value):
    data = json.dumps(value).encode()
    try:
        parse_reply(request_, data)
    except NodeError as error:
        assert str(error).isprintable()


def _depth(value) -> int:
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    return 0


tricky_text = st.text(alphabet='[]{}"\\ab\x1b', max_size=8)
nested = st.recursive(
    st.integers() | tricky_text,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(tricky_text, children, max_size=3)
    ),
    max_leaves=30,
)


@settings(max_examples=500, deadline=None)
@given(nested, st.integers(min_value=0, max_value=6), st.booleans())
def test_depth_check_agrees_with_the_real_nesting(value, limit, ascii_only):
    data = json.dumps(value, ensure_ascii=ascii_only).encode()
    assert _too_deep(data, limit) == (_depth(value) > limit)


@settings(max_examples=2000, deadline=None)
@given(st.text(max_size=12))
def test_fast_codename_check_is_the_codename_rule_but_for_spaces(text):
    # clients accept spaces (PyExpLabSys nodes serve them); otherwise labnode's rule holds
    assert bool(_CODENAME.fullmatch(text)) == (codename_problem(text.replace(" ", "_")) is None)


def test_a_pyexplabsys_codename_with_a_space_is_accepted():
    # PyExpLabSys only forbids its separators; labnode's stricter rule is for its own nodes.
    assert parse_raw_wn(b"chamber pressure:1,2") == {"chamber pressure": (1.0, 2.0)}
    assert parse_json_wn(b'{"chamber pressure": [1, 2]}') == {"chamber pressure": (1.0, 2.0)}


@pytest.mark.parametrize(
    ("parse", "reply", "expected"),
    [
        (parse_json_wn, b'{"a": [1, NaN], "b": [1, 2]}', {"a": None, "b": (1.0, 2.0)}),
        (parse_json_wn, b'{"a": [1, -Infinity]}', {"a": None}),
        (parse_json_wn, b'{"a": [1, 1e400]}', {"a": None}),
        (parse_json_wn, b'{"a": [1, ' + b"9" * 400 + b"]}", {"a": None}),
        (parse_raw, b"1,nan;1,2", [None, (1.0, 2.0)]),
        (parse_raw, b"1,inf", [None]),
        (parse_raw_wn, b"a:1,-inf;b:1,2", {"a": None, "b": (1.0, 2.0)}),
    ],
)
def test_a_non_finite_value_is_old_data_not_a_bad_table(parse, reply, expected):
    # PyExpLabSys serves NaN as it comes (json.dumps writes NaN, str() nan): that channel has no
    # valid value, as a labnode node would say with OLD_DATA; the rest of the table is kept
    assert parse(reply) == expected
