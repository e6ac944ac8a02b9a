"""A confirmed write from the page reaches pyvisa-sim's power supply behind `labnode serve`.

Both programs run as processes: `labnode serve psu.toml` (scpi driver on pyvisa-sim's
GPIB::9::INSTR, a [push] socket) and `labnode web lab.toml` with `[web] writes = true`.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.apps.node_process import NodeProcess
from tests.web.test_lab_command import start_web, stop_web

pytest.importorskip("pyvisa_sim")

PSU = """\
[node]
name = "psu"
host = "127.0.0.1"
port = 0
interval = 0.05

[driver]
type = "scpi"
resource = "GPIB::9::INSTR"
visa_library = "@sim"
error_query = "*ESR?"
[driver.queries]
volt = ":VOLT:IMM:AMPL?"
curr = ":CURR:IMM:AMPL?"
[driver.writes]
volt = ":VOLT:IMM:AMPL {value:.3f}"

[push]
port = 0
allow = ["127.0.0.1"]
"""


def test_a_confirmed_write_from_the_page_reaches_the_instrument(tmp_path, page):
    config = tmp_path / "psu.toml"
    config.write_text(PSU)
    with NodeProcess("serve", str(config)) as node:
        line = node.process.stdout.readline()
        assert line.startswith("labnode: setpoints on udp 127.0.0.1:"), line
        push_port = int(line.split("udp 127.0.0.1:")[1].split()[0])
        lab = tmp_path / "lab.toml"
        lab.write_text(
            f'[[nodes]]\nname = "psu"\naddress = "127.0.0.1:{node.port}"\ninterval = 0.1\n'
            f'push = "127.0.0.1:{push_port}"\n[web]\nwrites = true\n'
        )
        web, url = start_web(lab)
        try:
            page.goto(url)
            volt = page.locator('.node[data-node="psu"] tr[data-codename=volt]')
            expect(volt.locator(".value")).to_have_text("1")  # the supply starts at 1 V
            expect(volt.locator("input.setpoint")).to_be_visible()  # writable in channels_json
            assert page.locator("tr[data-codename=curr] input.setpoint").count() == 0

            volt.locator("input.setpoint").fill("2.5")
            volt.locator("button.set").click()
            expect(page.locator("#confirm-text")).to_have_text("Write volt = 2.5 on psu?")
            page.locator("#confirm-ok").click()
            expect(volt.locator(".reply")).to_have_text("applied: ACK#{'volt': 2.5}")
            expect(volt.locator(".value")).to_have_text("2.5")  # read back from the instrument

            volt.locator("input.setpoint").fill("9")  # beyond what the supply takes
            volt.locator("button.set").click()
            page.locator("#confirm-ok").click()
            expect(volt.locator(".reply")).to_contain_text(
                "refused: ERROR#volt: the instrument refused"
            )
            page.wait_for_timeout(300)  # a few readings later, still 2.5
            expect(volt.locator(".value")).to_have_text("2.5")
        finally:
            assert stop_web(web) == 0
        web_log = web.stderr.read()
        status, node_log = node.stop()
    assert status == 0, node_log
    assert "write from 127.0.0.1: psu volt=2.5 -> applied: ACK#{'volt': 2.5}" in web_log
    assert "write from 127.0.0.1: psu volt=9 -> not applied: ERROR#volt" in web_log
    assert "write from 127.0.0.1: json_wn#{\"volt\": 2.5} -> ACK#{'volt': 2.5}" in node_log
