"""The board behind the page, without a browser: polling, silence, recovery of metadata."""

from __future__ import annotations

import time

from labnode.apps.web import LiveBoard, MemoryHistory, NodeTarget
from labnode.sockets import DateDataSocket
from tests.apps.conftest import wait_for


def node_view(board: LiveBoard, name: str) -> dict:
    return next(n for n in board.snapshot()["nodes"] if n["name"] == name)


def test_a_node_counts_as_silent_only_after_down_after_seconds_without_an_answer():
    sock = DateDataSocket(["a"], port=0, host="127.0.0.1")
    sock.start()
    sock.set_point_now("a", 1.0)
    target = NodeTarget("127.0.0.1", sock.port, name="n", interval=0.1, timeout=0.1, down_after=1.0)
    board = LiveBoard([target], MemoryHistory())
    board.start()
    try:
        wait_for(lambda: node_view(board, "n")["state"] == "ok")
        sock.stop()
        missed = wait_for(lambda: (v := node_view(board, "n"))["last_error"] and v)
        assert missed["state"] == "ok" and missed["answering"] is True  # one miss: not silent
        silent = wait_for(lambda: (v := node_view(board, "n"))["state"] == "silent" and v)
        assert silent["last_error_time"] - silent["last_answer"] >= 1.0
    finally:
        board.stop()


def test_gap_markers_go_just_after_the_last_point_whatever_the_clocks():
    sock = DateDataSocket(["a"], port=0, host="127.0.0.1", timeouts=None)
    sock.start()
    history = MemoryHistory()
    node_clock = time.time() - 3600  # the node's clock is an hour behind ours
    sock.set_point("a", (node_clock, 1.0))
    board = LiveBoard([NodeTarget("127.0.0.1", sock.port, name="n", interval=0.05)], history)
    board.start()
    try:
        wait_for(lambda: history.read("n", "a", 0, 2e9, 100))
        sock.stop()
        wait_for(lambda: node_view(board, "n")["state"] == "silent")
        back = DateDataSocket(["a"], port=sock.port, host="127.0.0.1")
        back.start()
        back.set_point("a", (node_clock + 10, 2.0))
        try:
            wait_for(lambda: len(history.read("n", "a", 0, 2e9, 100)) == 3)
        finally:
            back.stop()
        assert history.read("n", "a", 0, 2e9, 100) == [
            (node_clock, 1.0),
            (node_clock + 1e-3, None),
            (node_clock + 10, 2.0),
        ]
    finally:
        board.stop()
