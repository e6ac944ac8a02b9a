"""The live view in a real browser against real nodes on 127.0.0.1."""

from __future__ import annotations

import re
import threading
import time

from playwright.sync_api import expect

from labnode.sockets import DateDataSocket


def row(page, node: str, codename: str):
    return page.locator(f'.node[data-node="{node}"] tr[data-codename="{codename}"]')


def test_a_value_change_on_the_node_shows_on_the_page_without_reload(lab, page):
    psu = lab.node("psu", ["volt", "curr"])
    psu.set_point_now("volt", 1.5)
    psu.set_point_now("curr", 0.25)
    lab.serve()
    elsewhere: list[str] = []  # the page must work with files from the package only
    page.route(
        "**/*",
        lambda route: (
            route.continue_()
            if route.request.url.startswith(lab.url)
            else (elsewhere.append(route.request.url), route.abort())
        ),
    )
    page.goto(lab.url)
    expect(row(page, "psu", "volt").locator(".value")).to_have_text("1.5")
    expect(row(page, "psu", "curr").locator(".value")).to_have_text("0.25")
    expect(page.locator('.node[data-node="psu"] .badge.state')).to_have_text("ok")
    expect(page.locator("#link")).to_have_text("live")

    page.evaluate("window.loadedAt = performance.timeOrigin")
    psu.set_point_now("volt", 2.75)
    started = time.monotonic()
    expect(row(page, "psu", "volt").locator(".value")).to_have_text("2.75", timeout=3000)
    assert time.monotonic() - started < 2.0  # poll 0.2 s + push 0.2 s, well under a second
    assert page.evaluate("window.loadedAt === performance.timeOrigin"), "the page reloaded"
    assert elsewhere == []


def test_ages_count_up_between_updates(lab, page):
    gauge = lab.node("gauge", ["pressure"])
    gauge.set_point("pressure", (time.time() - 30, 1e-6))
    lab.serve()
    page.goto(lab.url)
    cell = row(page, "gauge", "pressure")
    expect(cell.locator(".value")).to_have_text("1.000e-6")
    expect(cell.locator(".age")).to_have_text(re.compile(r"^3\d\.\d s$"))
    first = float(cell.locator(".age").inner_text().split()[0])
    page.wait_for_function(
        "first => parseFloat(document.querySelector('tr[data-codename=pressure] .age')"
        ".textContent) >= first + 0.5",
        arg=first,
    )


def test_a_node_that_stops_answering_is_obvious(lab, page):
    lab.node("psu", ["volt"]).set_point_now("volt", 1.0)
    gone = lab.node("furnace", ["temp"])
    gone.set_point_now("temp", 300.0)
    lab.serve()
    page.goto(lab.url)
    card = page.locator('.node[data-node="furnace"]')
    expect(card.locator(".badge.state")).to_have_text("ok")

    gone.stop()
    expect(card.locator(".badge.state")).to_have_text("NOT ANSWERING", timeout=5000)
    expect(card).to_have_class(re.compile(r"\bstate-silent\b"))
    expect(card.locator(".error")).to_contain_text("127.0.0.1")
    expect(card.locator("tr[data-codename=temp] .state")).to_have_text("no answer")
    # the last value stays visible (struck through), and the other node is unaffected
    expect(card.locator("tr[data-codename=temp] .value")).to_have_text("300")
    expect(page.locator('.node[data-node="psu"] .badge.state')).to_have_text("ok")
    expect(page.locator("#summary")).to_have_text("2 nodes: 1 ok, 1 NOT ANSWERING")

    back = DateDataSocket(["temp"], port=gone.port, host="127.0.0.1", name="furnace")
    back.start()  # the node is back on its port: the card recovers by itself
    lab.sockets.append(back)
    back.set_point_now("temp", 310.0)
    expect(card.locator(".badge.state")).to_have_text("ok", timeout=5000)
    expect(card.locator("tr[data-codename=temp] .value")).to_have_text("310")
    expect(card.locator(".error")).to_have_text("")


def test_a_channel_gone_old_data_is_marked(lab, page):
    node = lab.node("gauge", ["p1", "p2"], timeouts=2.0)
    node.set_point_now("p2", 2.0)
    node.set_point_now("p1", 1.0)
    lab.serve()
    stop = threading.Event()

    def refresh_p2() -> None:
        while not stop.wait(0.1):
            node.set_point_now("p2", 2.0)

    keep_p2_fresh = threading.Thread(target=refresh_p2)
    keep_p2_fresh.start()
    try:
        page.goto(lab.url)
        p1 = row(page, "gauge", "p1")
        expect(p1.locator(".state")).to_have_text("ok")
        expect(p1).to_have_class("old", timeout=5000)  # p1 is not updated: OLD_DATA after 2 s
        expect(p1.locator(".state")).to_have_text("OLD_DATA")
        expect(row(page, "gauge", "p2").locator(".state")).to_have_text("ok")
        expect(page.locator('.node[data-node="gauge"] .badge.state')).to_have_text("OLD DATA")
        node.set_point_now("p1", 1.5)  # it recovers by itself
        expect(p1.locator(".state")).to_have_text("ok")
        expect(p1.locator(".value")).to_have_text("1.5")
    finally:
        stop.set()
        keep_p2_fresh.join()
