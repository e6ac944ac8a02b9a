"""`labnode get` and `labnode watch` against real UDP nodes on 127.0.0.1 that misbehave."""

from __future__ import annotations

import json

import pytest

from labnode import cli
from labnode.sockets import client as client_module
from tests.sockets.fake_node import FakeNode
from tests.sockets.pyexplabsys_reference import ReferenceServer

from .node_process import run_labnode

GOOD_TABLE = b'{"volt": [1763926800.5, 2.5], "curr": "OLD_DATA"}'
CHANNELS = json.dumps(
    {
        "volt": {"unit": "V", "description": "output", "writable": True, "min": 1, "max": 6},
        "curr": {"unit": "A", "description": "", "writable": False},
    }
).encode()
ESC = "\x1b"


def good_node() -> FakeNode:
    return FakeNode(
        {
            b"json_wn": GOOD_TABLE,
            b"name": b"psu",
            b"channels_json": CHANNELS,
            b"volt#json": b"[1, 2]",
        }
    )


def no_escape_sequences(text: str) -> bool:
    return ESC not in text and "\x07" not in text and "\x9b" not in text


def test_get_shows_units_from_channels_json():
    with good_node() as node:
        result = run_labnode("get", node.address)
        single = run_labnode("get", node.address, "volt#json")
        channels = run_labnode("get", node.address, "channels_json")
    assert result.returncode == 0, result.stderr
    header, *rows = result.stdout.splitlines()
    assert header.split() == ["codename", "value", "unit", "age", "state"]
    assert rows[0].split()[:3] == ["volt", "2.5", "V"]
    assert rows[1].split()[:3] == ["curr", "-", "A"] and "OLD_DATA" in rows[1]
    assert single.stdout.splitlines()[1].split()[:3] == ["volt", "2.0", "V"]
    assert channels.stdout.splitlines()[1].split() == ["volt", "V", "yes", "1.0", "6.0", "output"]


def test_get_from_a_pyexplabsys_node_has_no_unit_column():
    with ReferenceServer(["p1", "p2"], name="old node") as server:
        server.set_point_now("p1", 3.5)
        result = run_labnode("get", f"127.0.0.1:{server.port}")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0].split() == ["codename", "value", "age", "state"]


@pytest.mark.parametrize(
    "reply",
    [
        b"5",
        b'{"a": 5}',
        b'{"a": [true, 1]}',
        b"[" * 60_000,
        b'{"evil\x1b]0;owned\x07": [1, 2]}',
        b'{"a": "\x1b[2J"}',
        b"REPLY_TOO_LARGE\x1b[2J\x9b1m",
    ],
)
def test_get_with_a_malformed_reply_is_one_escaped_line(reply):
    with FakeNode(lambda request: reply) as node:
        result = run_labnode("get", node.address, "--timeout", "1")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"labnode: error: {node.address}")
    assert no_escape_sequences(result.stderr + result.stdout)


def test_get_escapes_what_the_node_says():
    name = "bench\x1b]0;owned\x07 \x1b[31mred\u202e"
    channels = {"volt": {"unit": "\x1b[5mV", "description": "\x9b", "writable": False}}
    answers = {
        b"name": name.encode(),
        b"json_wn": GOOD_TABLE,
        b"channels_json": json.dumps(channels).encode(),
        b"status": json.dumps({"name": name}).encode(),
        b"x": b"raw \x1b[2J text",
    }
    with FakeNode(answers) as node:
        outputs = [
            run_labnode("get", node.address, *request)
            for request in (["name"], [], ["status"], ["channels_json"], ["x", "--raw"])
        ]
    for result in outputs:
        assert result.returncode == 0, result.stderr
        assert no_escape_sequences(result.stdout), result.stdout
    assert outputs[0].stdout.strip() == "bench\\x1b]0;owned\\x07 \\x1b[31mred\\u202e"
    assert "\\x1b[5mV" in outputs[1].stdout
    assert json.loads(outputs[2].stdout) == {"name": name}
    assert outputs[4].stdout.strip() == "raw \\x1b[2J text"


def test_watch_goes_on_past_bad_and_dead_nodes():
    def bad_answer(request: bytes) -> bytes:
        return b"bench\x1b[2J" if request == b"name" else b'{"a": {"b": 1}}'

    with (
        good_node() as first,
        FakeNode(bad_answer) as bad,
        FakeNode(lambda request: None) as dead,
        good_node() as last,
    ):
        nodes = [first, bad, dead, last]
        result = run_labnode(
            "watch",
            *(node.address for node in nodes),
            "--count",
            "2",
            "--interval",
            "0.05",
            "--timeout",
            "0.5",
        )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert no_escape_sequences(out)
    refreshes = out.split("labnode watch  ")[1:]
    assert len(refreshes) == 2
    for refresh in refreshes:
        blocks = refresh.strip().split("\n\n")[1:]
        assert [block.splitlines()[0].split()[0] for block in blocks] == [
            node.address for node in nodes
        ]
        for live in (blocks[0], blocks[3]):
            assert live.splitlines()[0].endswith("  psu")
            assert "volt" in live and " V " in live
        assert "bench\\x1b[2J" in blocks[1] and "unusable reply" in blocks[1]
        assert "no answer" in blocks[2] or "waiting for a reply" in blocks[2]


def test_watch_polls_nodes_concurrently():
    """The live node after a dead one is asked while the dead one is still being waited for."""
    timeout = 2.0
    with FakeNode(lambda request: None) as dead, good_node() as live:
        result = run_labnode(
            "watch", dead.address, live.address, "--count", "1", "--timeout", str(timeout)
        )
    assert result.returncode == 0, result.stderr
    first_dead = dead.requests[0][0]
    live_table = next(t for t, request in live.requests if request == b"json_wn")
    assert live_table - first_dead < timeout / 2, "the live node waited for the dead one"
    assert "volt" in result.stdout and "no answer" in result.stdout


@pytest.mark.parametrize(
    "argv",
    [
        ["get", "1.2.3"],
        ["get", "1.2.3:9000", "status"],
        ["get", "127.1"],
        ["watch", "127.0.0.1:9000", "1.2.3", "--count", "1"],
    ],
)
def test_a_numeric_host_that_is_no_address_is_refused_before_any_socket(argv, monkeypatch, capsys):
    created = []

    def no_socket(*args, **kwargs):
        created.append(args)
        raise AssertionError("a socket was created")

    monkeypatch.setattr(client_module.socket, "socket", no_socket)
    assert cli.main(argv) == 1
    assert not created
    assert "looks like an IPv4 address" in capsys.readouterr().err


def test_a_node_with_bad_channels_json_still_shows_its_values():
    from labnode.apps.node_view import WatchedNode

    answers = {b"name": b"n", b"json_wn": GOOD_TABLE, b"channels_json": b'{"volt": 1}'}
    with FakeNode(answers) as node:
        watched = WatchedNode("127.0.0.1", node.port, timeout=1.0)
        try:
            block = watched.poll()
        finally:
            watched.close()
    assert "volt" in block and "2.5" in block and "error" not in block
