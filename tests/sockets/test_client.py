"""DateDataClient against labnode's socket and against a PyExpLabSys-style server."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from labnode.sockets import (
    DateDataClient,
    DateDataSocket,
    NodeTimeoutError,
    NodeUnreachableError,
    OldDataError,
    ReplyTooLargeError,
    UnknownCommandError,
)

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
