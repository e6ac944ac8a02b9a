"""History plots in a real browser: channels picked in the live view, windows, zoom, gaps."""

from __future__ import annotations

import math
import socket
import time

import pytest
from playwright.sync_api import expect


def plotted(page) -> dict:
    """What uPlot holds: series labels, and the x and y arrays."""
    return page.evaluate(
        """() => {
            const u = window.labnode.plot;
            if (!u) return null;
            return {labels: u.series.slice(1).map(s => s.label), x: Array.from(u.data[0]),
                    ys: u.data.slice(1).map(d => Array.from(d, v => v === undefined ? 'u' : v)),
                    min: u.scales.x.min, max: u.scales.x.max};
        }"""
    )


def test_two_channels_on_one_plot_with_a_gap_then_zoom(lab, page):
    psu = lab.node("psu", ["volt", "curr"])
    psu.set_point_now("volt", 2.0)
    psu.set_point_now("curr", 0.1)
    now = time.time()
    for i in range(300):  # five minutes the server "saw" before the page opened
        t = now - 300 + i
        lab.history.add("psu", "volt", t, 2 + math.sin(i / 20))
        lab.history.add("psu", "curr", t, None if 150 <= i < 180 else 0.1 + 0.05 * math.cos(i / 15))
    lab.serve()
    page.goto(lab.url)
    expect(page.locator("#plot-empty")).to_be_visible()
    page.locator("tr[data-codename=volt] input[type=checkbox]").check()
    page.locator("tr[data-codename=curr] input[type=checkbox]").check()
    page.wait_for_function("window.labnode.plot && window.labnode.plot.series.length === 3")
    expect(page.locator("#plot-info")).to_contain_text("from memory")
    expect(page.locator("#plot-empty")).to_be_hidden()
    page.wait_for_function("window.labnode.plot.data[0].length >= 300")
    data = plotted(page)
    assert data["labels"] == ["psu volt", "psu curr"]
    assert data["max"] - data["min"] == pytest.approx(600, abs=5)
    # the gap is null over its whole span (not bridged where volt has points): a break there
    gap = [y for x, y in zip(data["x"], data["ys"][1]) if now - 150 <= x < now - 121]
    assert gap and all(y is None for y in gap)
    assert page.locator("#plot canvas").count() == 1

    # drag across the middle of the plot: the x range narrows and the server is asked again
    box = page.locator("#plot .u-over").bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.6, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.8, y, steps=5)
    page.mouse.up()
    page.wait_for_function("window.labnode.window.mode === 'range'")
    page.wait_for_function(
        "() => { const s = window.labnode.plot.scales.x; return s.max - s.min < 200; }"
    )
    zoomed = plotted(page)
    shown_from = page.evaluate(  # the range inputs follow the zoom (in local time)
        "new Date(document.querySelector('#range-from').value).getTime() / 1000"
    )
    assert abs(shown_from - zoomed["min"]) < 1
    assert zoomed["min"] > data["min"] + 300 and zoomed["max"] < data["max"] - 60
    assert all(zoomed["min"] <= x <= zoomed["max"] for x in zoomed["x"])
    page.locator("#pan-left").click()  # pan back half a window
    page.wait_for_function(f"window.labnode.plot.scales.x.max < {zoomed['max'] - 30}")
    page.locator("#zoom-reset").click()
    page.wait_for_function("window.labnode.window.mode === 'relative'")


def test_windows_ask_the_server_for_that_span_at_the_plot_width(lab, page):
    lab.node("psu", ["volt"]).set_point_now("volt", 1.0)
    lab.serve()
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if "/api/history" in r.url else None)
    page.goto(lab.url)
    page.locator("tr[data-codename=volt] input[type=checkbox]").check()
    page.wait_for_function("window.labnode.plot !== null")
    page.get_by_role("button", name="1 day").click()
    page.wait_for_function(
        "() => { const s = window.labnode.plot.scales.x; return s.max - s.min > 86000; }"
    )
    expect(page.get_by_role("button", name="1 day")).to_have_class("active")
    last = asked[-1]
    assert "max_points=" in last
    width = page.evaluate("document.querySelector('#plot').clientWidth")
    assert f"max_points={width}" in last


def test_a_database_that_is_down_is_said_on_the_page_and_live_goes_on(lab, page):
    from labnode.apps.web.stored import DatabaseHistory

    lab.node("psu", ["volt"]).set_point_now("volt", 1.0)
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))  # a port nothing listens on
    port = closed.getsockname()[1]
    closed.close()
    lab.serve(stored=DatabaseHistory(f"postgresql://postgres@127.0.0.1:{port}/test"))
    page.goto(lab.url)
    page.locator("tr[data-codename=volt] input[type=checkbox]").check()
    info = page.locator("#plot-info")
    expect(info).to_contain_text("the database cannot be read now", timeout=15000)
    expect(info).to_contain_text("127.0.0.1")
    expect(info).to_contain_text("from memory")  # what the dashboard saw itself, meanwhile
    lab.sockets[0].set_point_now("volt", 2.0)
    expect(page.locator("tr[data-codename=volt] .value")).to_have_text("2")


def test_a_short_window_follows_the_present_and_a_day_is_not_asked_again_and_again(lab, page):
    psu = lab.node("psu", ["volt"])
    psu.set_point_now("volt", 1.0)
    lab.serve()
    asked: list[float] = []
    page.on(
        "request", lambda r: asked.append(time.monotonic()) if "/api/history" in r.url else None
    )
    page.goto(lab.url)
    page.locator("tr[data-codename=volt] input[type=checkbox]").check()
    page.wait_for_function("window.labnode.plot && window.labnode.plot.data[1].includes(1)")
    psu.set_point_now("volt", 7.0)  # the 10-minute plot picks it up by itself
    page.wait_for_function("window.labnode.plot.data[1].includes(7)", timeout=5000)

    page.get_by_role("button", name="1 day").click()
    page.wait_for_function(
        "window.labnode.plot.scales.x.max - window.labnode.plot.scales.x.min > 8e4"
    )
    since = time.monotonic()
    page.wait_for_timeout(3500)
    # a day over ~1200 pixels is 72 s a pixel: nothing to gain from asking again for a while
    assert [t for t in asked if t > since] == []
