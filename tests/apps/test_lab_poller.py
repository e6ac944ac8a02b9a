"""LabPoller against real UDP sockets on 127.0.0.1: labnode nodes, silent nodes, hostile replies."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from labnode.apps.lab_config import NodeEntry
from labnode.apps.lab_poller import LabPoller, parse_channels_json, parse_json_wn
from labnode.sockets import DateDataSocket, UnknownCommandError
from labnode.storage import Criteria

from .conftest import free_udp_port


class ScriptedNode:
    """A UDP socket on 127.0.0.1 answering each request with ``replies[request]`` (bytes, or a
    list of datagrams sent one after the other)."""

    def __init__(self, replies: dict[bytes, bytes | list[bytes]]) -> None:
        self.replies = replies
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.requests: list[bytes] = []
        self._stop = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop:
            try:
                data, address = self.sock.recvfrom(65536)
            except OSError:
                continue
            self.requests.append(data)
            reply = self.replies.get(data)
            for one in reply if isinstance(reply, list) else [reply] if reply else []:
                self.sock.sendto(one, address)

    def close(self) -> None:
        self._stop = True
        self._thread.join(1)
        self.sock.close()

    def __enter__(self) -> ScriptedNode:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class Collector:
    def __init__(self) -> None:
        self.rows: list[tuple] = []
        self.described: list[tuple] = []

    def add(self, rows) -> None:
        self.rows.extend(rows)

    def describe(self, *info) -> None:
        self.described.append(info)


def poll_until(poller: LabPoller, condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        poller.step(0.02)
        if condition():
            return
    raise AssertionError("condition not reached")


def entry(port: int, **options) -> NodeEntry:
    return NodeEntry(name=options.pop("name", None), host="127.0.0.1", port=port, **options)


@contextmanager
def polling(port: int, interval: float) -> Iterator[tuple[LabPoller, Collector]]:
    """A LabPoller of the one node "n" at ``port``, and what it stores; closed afterwards."""
    collected = Collector()
    poller = LabPoller([entry(port, name="n", interval=interval)], collected.add)
    try:
        yield poller, collected
    finally:
        poller.close()


def test_names_units_points_and_a_dead_node_that_delays_nobody():
    collected = Collector()
    dead_port = free_udp_port()
    channels = {"a": {"unit": "V", "description": "output voltage"}}
    with DateDataSocket(
        ["a", "b"], port=0, host="127.0.0.1", name="live node", channels=channels
    ) as node:
        node.set_point("a", (1000.0, 1.0))
        node.set_point("b", (1000.0, 2.0))
        poller = LabPoller(
            [
                entry(dead_port, name="dead", interval=0.05, timeout=0.3),
                entry(node.port, interval=0.05),
            ],
            collected.add,
            collected.describe,
        )
        try:
            poll_until(poller, lambda: len(collected.rows) == 2)
            assert sorted(collected.rows) == [
                ("live node", "a", 1000.0, 1.0),
                ("live node", "b", 1000.0, 2.0),
            ]
            assert sorted(collected.described) == [
                ("live node", "a", "V", "output voltage"),
                ("live node", "b", "", ""),
            ]
            started, served = time.monotonic(), node.requests_served
            poll_until(poller, lambda: poller.nodes[0].up is False)
            rate = (node.requests_served - served) / (time.monotonic() - started)
            assert rate > 8  # polled at its 20/s pace, not held up by the silent node
            poller.sweep_times.clear()
            poll_until(poller, lambda: len(poller.sweep_times) >= 3)  # sweeps skip a down node
            node.set_point("a", (1001.0, 1.5))
            poll_until(poller, lambda: len(collected.rows) == 3)
            assert collected.rows[-1] == ("live node", "a", 1001.0, 1.5)
            health = {n["name"]: n for n in poller.health()}
            assert health["dead"]["answering"] is False
            assert health["dead"]["last_error"] == "no answer for 0.3 s"
            assert health["live node"]["answering"] is True
        finally:
            poller.close()


def test_channels_json_units_and_a_gap_per_outage():
    table = {"p": [2000.0, 1e-6], "q": "OLD_DATA"}
    node = ScriptedNode(
        {
            b"channels_json": json.dumps(
                {"p": {"unit": "mbar", "description": "chamber", "writable": False}}
            ).encode(),
            b"json_wn": json.dumps(table).encode(),
        }
    )
    collected = Collector()
    poller = LabPoller(
        [entry(node.port, name="gauge", interval=0.02, timeout=0.2)],
        collected.add,
        collected.describe,
    )
    try:
        poll_until(poller, lambda: len(collected.rows) == 2)
        assert collected.described == [("gauge", "p", "mbar", "chamber")]
        assert collected.rows[0] == ("gauge", "p", 2000.0, 1e-6)
        assert collected.rows[1][:2] == ("gauge", "q") and collected.rows[1][3] is None
        node.replies.pop(b"json_wn")  # the node goes silent: one gap marker for p
        poll_until(poller, lambda: poller.nodes[0].up is False)
        poll_until(poller, lambda: len(collected.rows) == 3)
        assert collected.rows[2][:2] == ("gauge", "p") and collected.rows[2][3] is None
        node.replies[b"json_wn"] = json.dumps({"p": [2000.0, 1e-6], "q": [2001.0, 5.0]}).encode()
        poll_until(poller, lambda: len(collected.rows) == 4)
        assert collected.rows[3] == ("gauge", "q", 2001.0, 5.0)  # p: the same point as before
    finally:
        poller.close()
        node.close()


@pytest.mark.parametrize(
    "reply",
    [
        b"not json",
        b"[1, 2]",
        b'{"a": [1]}',
        b'{"a": [true, 1]}',
        b'{"a": ["1", 2]}',
        b'{"a": {"x": 1}}',
        b"[" * 60_000,
        b'{"a b": [1, 2]}',
        b'{"a\\u001b[2J": [1, 2]}',
        b"UNKNOWN_COMMMAND",
    ],
)
def test_hostile_replies_are_counted_never_stored(reply):
    node = ScriptedNode({b"json_wn": reply, b"channels_json": b"UNKNOWN_COMMMAND"})
    with node, polling(node.port, 0.02) as (poller, collected):
        poll_until(poller, lambda: node.requests.count(b"json_wn") >= 3)
        poller.step(0.05)
        assert collected.rows == []
        health = poller.health()[0]
        assert health["bad_replies"] >= 2 or health["last_error"]


def test_datagrams_from_elsewhere_are_ignored():
    with (
        DateDataSocket(["a"], port=0, host="127.0.0.1", name="n") as node,
        polling(node.port, 10) as (poller, collected),
    ):
        poll_until(poller, lambda: poller.nodes[0].described)
        our_host, our_port = poller._sockets[socket.AF_INET].getsockname()
        assert our_host == "127.0.0.1"  # only loopback nodes: nothing listens elsewhere
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as stranger:
            stranger.bind(("127.0.0.1", 0))
            stranger.sendto(b'{"a": [5000.0, 66.0]}', ("127.0.0.1", our_port))
        for _ in range(5):
            poller.step(0.02)
        assert collected.rows == []


def test_parsers():
    assert parse_json_wn(b'{"a": [1, 2.5], "b": "OLD_DATA"}') == {"a": (1.0, 2.5), "b": None}
    with pytest.raises(UnknownCommandError):
        parse_channels_json(b"UNKNOWN_COMMMAND")
    info = parse_channels_json(b'{"b": {"unit": "V", "description": "", "writable": false}}')
    assert (info["b"].unit, info["b"].description) == ("V", "")


def test_criteria_per_codename():
    e = NodeEntry(name="n", host="127.0.0.1", port=1, criteria=Criteria(absolute=1.0), channels={})
    assert e.criteria_for("x") == Criteria(absolute=1.0)


def test_one_reply_per_request():
    first = json.dumps({"a": [3000.0, 1.0]}).encode()
    second = json.dumps({"a": [3001.0, 666.0]}).encode()  # a forged or duplicated extra reply
    node = ScriptedNode({b"json_wn": [first, second], b"channels_json": b"UNKNOWN_COMMMAND"})
    with node, polling(node.port, 0.05) as (poller, collected):
        poll_until(poller, lambda: node.requests.count(b"json_wn") >= 4)
        poller.step(0.05)
        assert collected.rows == [("n", "a", 3000.0, 1.0)]
        assert poller.unexpected >= 3


def test_a_flood_does_not_stop_polling():
    collected = Collector()
    with DateDataSocket(["a"], port=0, host="127.0.0.1", name="n") as node:
        poller = LabPoller([entry(node.port, name="n", interval=0.02)], collected.add)
        our_port = poller._sockets[socket.AF_INET].getsockname()[1]
        stop = threading.Event()

        def flood():
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as stranger:
                stranger.bind(("127.0.0.1", 0))
                deadline = time.monotonic() + 10
                while not stop.is_set() and time.monotonic() < deadline:
                    for _ in range(100):
                        try:
                            stranger.sendto(b'{"a": [1, 2]}' * 50, ("127.0.0.1", our_port))
                        except OSError:
                            pass

        flooder = threading.Thread(target=flood, daemon=True)
        flooder.start()
        try:
            time.sleep(0.2)
            for value in (1.0, 2.0, 3.0):
                node.set_point("a", (4000.0 + value, value))
                started = time.monotonic()
                poll_until(poller, lambda v=value: collected.rows[-1:] == [("n", "a", 4000 + v, v)])
                assert time.monotonic() - started < 2.0
            assert poller.unexpected > 100
        finally:
            stop.set()
            flooder.join(2)
            poller.close()
