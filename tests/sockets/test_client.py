"""DateDataClient against labnode's socket and against a PyExpLabSys-style server."""

from __future__ import annotations

import socket
import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labnode.sockets import (
    DateDataClient,
    DateDataSocket,
    NodeError,
    NodeTimeoutError,
    NodeUnreachableError,
    OldDataError,
    ReplyTooLargeError,
    UnknownCommandError,
)
from labnode.sockets import client as client_module
from labnode.sockets.pull_replies import BadReplyError, ChannelInfo

from .fake_node import FakeNode
from .pyexplabsys_reference import ReferenceServer


def test_client_reads_points_codenames_name_status(node):
    node.set_point("one", (time.time(), 1.25))
    node.set_point("three", (5.0, -3))
    with DateDataClient("127.0.0.1", node.port) as client:
        assert client.codenames() == ["one", "two", "three"]
        assert client.name() == "test node"
        assert client.get("three") == (5.0, -3.0)
        assert client.value("one") == 1.25
        assert client.status()["name"] == "test node"
        with pytest.raises(OldDataError, match="'two'"):
            client.get("two")
        with pytest.raises(OldDataError, match="old_data='none'"):
            client.get_all()
    with DateDataClient("127.0.0.1", node.port, old_data="none") as client:
        table = client.get_all()
        assert table["two"] is None and table["three"] == (5.0, -3.0)
        assert client.get("two") is None


def test_unknown_codename_raises(node):
    with DateDataClient("127.0.0.1", node.port) as client, pytest.raises(UnknownCommandError):
        client.get("nope")


def test_timeout_is_a_timeout_error_naming_the_node():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))  # bound, never answers
        port = silent.getsockname()[1]
        with DateDataClient("127.0.0.1", port, timeout=0.1) as client:
            with pytest.raises(TimeoutError, match=f"127.0.0.1:{port}") as info:
                client.get_all()
            assert isinstance(info.value, NodeTimeoutError)


def test_nothing_listening_is_reported():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = DateDataClient("127.0.0.1", port, timeout=0.5)
    with client, pytest.raises(NodeUnreachableError, match=f"127.0.0.1:{port}"):
        client.get_all()


def test_late_reply_is_not_taken_for_the_next_one():
    """A reply that arrives after the client gave up must not answer the next request."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as slow:
        slow.bind(("127.0.0.1", 0))
        slow.settimeout(2)
        with DateDataClient("127.0.0.1", slow.getsockname()[1], timeout=0.1) as client:
            with pytest.raises(NodeTimeoutError):
                client.request("name")
            _, address = slow.recvfrom(100)
            slow.sendto(b"late name", address)  # the late reply to the first request
            time.sleep(0.05)

            def answer_next_request():
                _, address = slow.recvfrom(100)
                slow.sendto(b"second name", address)

            thread = threading.Thread(target=answer_next_request)
            thread.start()
            client.timeout = 2
            assert client.request("name") == "second name"
            thread.join()


def test_large_table_reply_raises_a_clear_error():
    codenames = [f"c{i:05d}" for i in range(5000)]
    with DateDataSocket(codenames, port=0, host="127.0.0.1") as node:
        node.set_points_now(dict.fromkeys(codenames, 1.23456789), now=1763926800.123456)
        with DateDataClient("127.0.0.1", node.port) as client:
            with pytest.raises(ReplyTooLargeError, match="NAME#json"):
                client.get_all()
            assert client.get("c04321") == (1763926800.123456, 1.23456789)


def test_client_works_against_a_pyexplabsys_server():
    with ReferenceServer(["p1", "p2"], timeouts=0.2, name="old node") as server:
        server.set_point_now("p1", 3.5)
        with DateDataClient("127.0.0.1", server.port) as client:
            assert client.codenames() == ["p1", "p2"]
            assert client.value("p1") == 3.5
            assert client.name() == "old node"
            with pytest.raises(OldDataError):
                client.get("p2")
            table = DateDataClient("127.0.0.1", server.port, old_data="none").get_all()
            assert table["p2"] is None and table["p1"][1] == 3.5


def test_client_channels_from_channels_json():
    reply = b'{"volt": {"unit": "V", "description": "out", "writable": true, "min": 1, "max": 6}}'
    with (
        FakeNode({b"channels_json": reply}) as node,
        DateDataClient("127.0.0.1", node.port) as client,
    ):
        assert client.channels() == {"volt": ChannelInfo("V", "out", True, 1.0, 6.0)}


def test_channels_of_a_pyexplabsys_node_is_empty():
    with (
        ReferenceServer(["p1"], name="old node") as server,
        DateDataClient("127.0.0.1", server.port) as client,
    ):
        assert client.channels() == {}


CLIENT_CALLS = {
    "get": lambda client: client.get("a"),
    "value": lambda client: client.value("a"),
    "get_all": lambda client: client.get_all(),
    "codenames": lambda client: client.codenames(),
    "name": lambda client: client.name(),
    "status": lambda client: client.status(),
    "channels": lambda client: client.channels(),
    "request": lambda client: client.request("json_wn"),
}
#: Replies that crashed the client before the parser (TypeError, RecursionError) or that it took.
MALFORMED = [
    (b"5", {"get", "value", "get_all", "codenames", "status", "channels"}),
    (b"[" * 50_000 + b"]" * 15_000, {"get", "value", "get_all", "codenames", "status", "channels"}),
    (b'{"a": 5}', {"get", "value", "get_all", "codenames", "channels"}),
    (b'{"a": [true, false]}', {"get_all", "codenames", "channels"}),
    (b"[true, 1]", {"get", "value", "get_all", "status", "channels"}),
    (rb'{"a\u001b[2J": [1, 2]}', {"get", "value", "get_all", "codenames", "channels"}),
    (rb'["\u001b]0;owned\u0007"]', {"get", "value", "get_all", "codenames", "status"}),
    (b"[1, NaN]", {"get_all", "status", "channels"}),  # to NAME#json: OLD_DATA (below)
    (b"REPLY_TOO_LARGE\x1b[2J", set(CLIENT_CALLS)),
]


@pytest.mark.parametrize(("reply", "calls"), MALFORMED)
def test_malformed_replies_are_node_errors_not_crashes(reply, calls):
    with (
        FakeNode(lambda request: reply) as node,
        DateDataClient("127.0.0.1", node.port, old_data="none") as client,
    ):
        for call in calls:
            with pytest.raises(NodeError) as info:
                CLIENT_CALLS[call](client)
            assert str(info.value).isprintable(), call
            assert "\x1b" not in str(info.value)


def test_bad_reply_error_names_the_node_and_request():
    with (
        FakeNode({b"codenames_json": b'["ok", 7]'}) as node,
        DateDataClient("127.0.0.1", node.port) as client,
        pytest.raises(BadReplyError, match="codenames_json") as info,
    ):
        client.codenames()
    assert info.value.node == node.address and info.value.request == "codenames_json"


@pytest.fixture(scope="module")
def any_reply_node():
    node = FakeNode(lambda request: b"")
    yield node
    node.stop()


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(CLIENT_CALLS)), st.binary(max_size=400))
def test_any_reply_bytes_give_a_value_or_a_typed_error(any_reply_node, call, reply):
    any_reply_node.answer = lambda request: reply
    with DateDataClient("127.0.0.1", any_reply_node.port, timeout=2.0) as client:
        try:
            CLIENT_CALLS[call](client)
        except NodeError as error:
            assert str(error).isprintable()


@pytest.mark.parametrize(
    "host", ["1.2.3", "127.1", "017.0.0.1", "2130706433", "0x7f.1", "1..2", "::g"]
)
def test_a_numeric_host_that_is_not_an_address_is_refused_before_any_socket(host, monkeypatch):
    def no_socket(*args, **kwargs):
        raise AssertionError("a socket was created")

    monkeypatch.setattr(client_module.socket, "socket", no_socket)
    with pytest.raises(NodeUnreachableError, match="address"):
        DateDataClient(host, 9000)


def test_host_names_and_real_addresses_still_work(node):
    for host in ("localhost", "127.0.0.1"):
        with DateDataClient(host, node.port) as client:
            assert client.codenames() == ["one", "two", "three"]


def test_a_nan_point_from_a_pyexplabsys_node_is_old_data():
    with FakeNode(lambda request: b"[1763926800.5, NaN]") as node:
        with DateDataClient("127.0.0.1", node.port, old_data="none") as client:
            assert client.get("pressure") is None
        with DateDataClient("127.0.0.1", node.port) as client, pytest.raises(OldDataError):
            client.get("pressure")
