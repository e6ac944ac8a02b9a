"""Fixtures for the dashboard: real nodes on 127.0.0.1, the real server, Debian's chromium."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from labnode.apps.web import (
    Dashboard,
    DashboardSettings,
    LiveBoard,
    MemoryHistory,
    NodeTarget,
    WebServer,
)
from labnode.sockets import DateDataSocket
from tests.web.browser import CHROMIUM, CHROMIUM_ARGS

DOCS = Path(__file__).resolve().parents[2] / "docs"


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Debian's chromium driven by Playwright (never Playwright's own browser download)."""
    if not os.path.exists(CHROMIUM):
        if os.environ.get("LABNODE_REQUIRE_SERVERS"):
            pytest.fail(f"{CHROMIUM} is missing and LABNODE_REQUIRE_SERVERS is set")
        pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium chromium-driver")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    """A fresh browser page of 1280x900, closed after the test."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.js_errors = errors
    yield page
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


class Lab:
    """Nodes on 127.0.0.1 and a dashboard following them, all in this process."""

    def __init__(self) -> None:
        self.sockets: list[DateDataSocket] = []
        self.targets: list[NodeTarget] = []
        self.board: LiveBoard | None = None
        self.server: WebServer | None = None
        self.history = MemoryHistory()

    def node(
        self, name: str, codenames: list[str], timeouts=None, channels=None, **target
    ) -> DateDataSocket:
        sock = DateDataSocket(
            codenames, port=0, host="127.0.0.1", timeouts=timeouts, name=name, channels=channels
        )
        sock.start()
        self.sockets.append(sock)
        options = {"interval": 0.2, "timeout": 0.3, **target}
        self.targets.append(NodeTarget("127.0.0.1", sock.port, name=name, **options))
        return sock

    def serve(self, stored=None, **settings) -> WebServer:
        self.board = LiveBoard(self.targets, self.history)
        self.board.start()
        options = {"port": 0, "push_interval": 0.2, **settings}
        dashboard = Dashboard(self.board, DashboardSettings(**options), stored)
        self.server = WebServer(dashboard)
        self.server.start()
        return self.server

    @property
    def url(self) -> str:
        assert self.server is not None
        return self.server.url

    def close(self) -> None:
        if self.server is not None:
            self.server.stop()
        if self.board is not None:
            self.board.stop()
        for sock in self.sockets:
            sock.stop()


@pytest.fixture
def lab() -> Iterator[Lab]:
    lab = Lab()
    yield lab
    lab.close()


@pytest.fixture
def screenshot_path(tmp_path) -> Callable[[str], Path]:
    """Where a screenshot goes: docs/ when LABNODE_SCREENSHOTS=docs, else the test's tmp dir."""

    def where(name: str) -> Path:
        folder = DOCS if os.environ.get("LABNODE_SCREENSHOTS") == "docs" else tmp_path
        return folder / name

    return where
