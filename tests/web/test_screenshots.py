"""The screenshots in README.md and docs/web.md, taken by the test suite's browser.

`LABNODE_SCREENSHOTS=docs pytest tests/web/test_screenshots.py` writes them into docs/; without
it they go to the test's temporary directory (the page is still checked).
"""

from __future__ import annotations

import math
import time

from playwright.sync_api import expect

from labnode.sockets import DataPushSocket


def test_screenshots_of_the_live_view_and_a_history_plot(lab, page, screenshot_path):
    push = DataPushSocket("psu push", port=0, host="127.0.0.1")
    push.start()
    try:
        channels = {
            "volt": {
                "unit": "V",
                "description": "output voltage",
                "writable": True,
                "min": 1,
                "max": 6,
            },
            "curr": {"unit": "A", "description": "output current"},
        }
        psu = lab.node(
            "bench psu", ["volt", "curr"], channels=channels, push=("127.0.0.1", push.port)
        )
        gauge = lab.node(
            "chamber gauge",
            ["pressure_1", "pressure_2"],
            timeouts=[60.0, 1.0],
            channels={"pressure_1": {"unit": "mbar"}, "pressure_2": {"unit": "mbar"}},
        )
        furnace = lab.node("furnace", ["temp"], channels={"temp": {"unit": "°C"}})
        now = time.time()
        for i in range(600):
            t = now - 600 + i
            lab.history.add("bench psu", "volt", t, 3 + math.sin(i / 40) + 0.02 * math.sin(i))
            away = 330 <= i < 380
            lab.history.add("bench psu", "curr", t, None if away else 0.4 + 0.1 * math.cos(i / 25))
        psu.set_point_now("volt", 3.0)
        psu.set_point_now("curr", 0.42)
        gauge.set_point_now("pressure_1", 8.3e-3)
        gauge.set_point("pressure_2", (time.time() - 5, 2.1e-6))  # stopped updating: OLD_DATA
        furnace.set_point_now("temp", 412.5)
        lab.serve(writes=True)
        page.goto(lab.url)
        expect(page.locator('.node[data-node="chamber gauge"] .badge.state')).to_have_text(
            "OLD DATA"
        )
        furnace.stop()
        expect(page.locator('.node[data-node="furnace"] .badge.state')).to_have_text(
            "NOT ANSWERING", timeout=5000
        )
        page.locator('.node[data-node="bench psu"] input.setpoint').fill("3.5")

        for codename in ("volt", "curr"):
            page.locator(
                f'.node[data-node="bench psu"] tr[data-codename={codename}] input[type=checkbox]'
            ).check()
        page.wait_for_function("window.labnode.plot && window.labnode.plot.data[0].length > 500")
        # time, volts, amperes (the plot may be drawn first with the first channel only)
        expect(page.locator("#plot .u-axis")).to_have_count(3)
        page.screenshot(path=str(screenshot_path("web-live.png")))
        page.locator("#history").screenshot(path=str(screenshot_path("web-history.png")))
    finally:
        push.stop()
