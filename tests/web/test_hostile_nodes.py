"""Nodes that are not labnode's: PyExpLabSys-like (no channels_json), hostile text, bad replies."""

from __future__ import annotations

import json
import time

from playwright.sync_api import expect

from labnode.apps.web import NodeTarget
from tests.sockets.fake_node import FakeNode

EVIL_NAME = '<img src=x onerror="window.pwned = 1">'
EVIL_CODENAME = "<b>bold</b>"


def test_text_from_a_node_is_shown_as_text_never_run_as_html(lab, page):
    def answer(request: bytes) -> bytes:
        if request == b"name":
            return EVIL_NAME.encode()
        if request == b"json_wn":
            return json.dumps({EVIL_CODENAME: [time.time(), 1.25]}).encode()
        return b"UNKNOWN_COMMMAND"  # channels_json and status: a PyExpLabSys node has neither

    with FakeNode(answer) as node:
        lab.targets.append(NodeTarget("127.0.0.1", node.port, interval=0.2, timeout=0.3))
        lab.serve()
        page.goto(lab.url)
        card = page.locator(".node").first
        expect(card.locator(".name")).to_have_text(EVIL_NAME)
        expect(card.locator("td.codename")).to_have_text(EVIL_CODENAME)
        expect(card.locator("td.value")).to_have_text("1.25")
        assert page.locator("#nodes img, #nodes b").count() == 0
        assert page.evaluate("window.pwned") is None
        nodes = json.loads(page.evaluate("fetch('/api/nodes').then(r => r.text())"))
        assert nodes[0]["has_metadata"] is False


def test_a_node_answering_garbage_shows_why_and_others_go_on(lab, page):
    with FakeNode({b"name": b"broken", b"json_wn": b'{"a": [1, 2'}) as node:
        good = lab.node("good", ["x"])
        good.set_point_now("x", 3.0)
        lab.targets.append(NodeTarget("127.0.0.1", node.port, name="broken", interval=0.2))
        lab.serve()
        page.goto(lab.url)
        broken = page.locator('.node[data-node="broken"]')
        expect(broken.locator(".error")).to_contain_text("unusable reply")
        expect(page.locator('.node[data-node="good"] td.value')).to_have_text("3")
