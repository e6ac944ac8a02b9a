"""Setpoints from the page: confirmed, sent to the node's push socket, reply shown, audited.

The node here is composed in the test from labnode's parts: a pull socket, a push socket whose
callback writes the pyvisa-sim power supply (GPIB::9::INSTR of pyvisa-sim's default.yaml), and a
thread reading the supply back into the pull socket.
"""

from __future__ import annotations

import json
import logging
import threading
import urllib.error
import urllib.request

import pytest
from playwright.sync_api import expect

from labnode.sockets import DataPushSocket
from tests.apps.conftest import wait_for

pyvisa = pytest.importorskip("pyvisa")
pytest.importorskip("pyvisa_sim")

CHANNELS = {
    "volt": {"unit": "V", "description": "output", "writable": True, "min": 1.0, "max": 6.0},
    "curr": {"unit": "A", "description": "current"},
}


class SimulatedSupply:
    """pyvisa-sim's power supply behind a pull socket and a push socket."""

    def __init__(self, lab) -> None:
        manager = pyvisa.ResourceManager("@sim")
        self.instrument = manager.open_resource(
            "GPIB::9::INSTR", read_termination="\n", write_termination="\n"
        )
        self.lock = threading.Lock()
        self.instrument.write(":VOLT:IMM:AMPL 1.000")
        self.push = DataPushSocket(
            "psu push", port=0, action="callback_direct", callback=self.apply, host="127.0.0.1"
        )
        self.push.start()
        push = ("127.0.0.1", self.push.port)
        self.pull = lab.node("psu", ["volt", "curr"], channels=CHANNELS, push=push)
        self.stop = threading.Event()
        self.reader = threading.Thread(target=self.read_loop, daemon=True)
        self.reader.start()

    def volt(self) -> float:
        with self.lock:
            return float(self.instrument.query(":VOLT:IMM:AMPL?"))

    def apply(self, values: dict) -> str:
        for name, value in values.items():
            limits = CHANNELS.get(name, {})
            if not limits.get("writable"):
                raise ValueError(f"{name} is not writable")
            if not limits["min"] <= value <= limits["max"]:
                raise ValueError(f"{name}={value} is outside {limits['min']}..{limits['max']} V")
            with self.lock:
                self.instrument.write(f":VOLT:IMM:AMPL {value:.3f}")
        return "applied"

    def read_loop(self) -> None:
        while not self.stop.wait(0.05):
            self.pull.set_point_now("volt", self.volt())
            self.pull.set_point_now("curr", 0.1)

    def close(self) -> None:
        self.stop.set()
        self.reader.join()
        self.push.stop()
        self.instrument.close()


@pytest.fixture
def supply(lab):
    supply = SimulatedSupply(lab)
    yield supply
    supply.close()


def post(url: str, body: object, headers: dict | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(
        url + "api/write",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **(headers or {})},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_a_confirmed_write_reaches_the_instrument_and_the_reply_shows(lab, page, supply, caplog):
    caplog.set_level(logging.INFO, logger="labnode.web.writes")
    lab.serve(writes=True)
    page.goto(lab.url)
    row = page.locator('.node[data-node="psu"] tr[data-codename=volt]')
    expect(row.locator(".value")).to_have_text("1")
    expect(row.locator(".unit")).to_have_text("V")
    assert page.locator("tr[data-codename=curr] input.setpoint").count() == 0  # not writable

    row.locator("input.setpoint").fill("2.5")
    row.locator("button.set").click()
    expect(page.locator("#confirm-text")).to_have_text("Write volt = 2.5 V on psu?")
    expect(page.locator("#confirm-limits")).to_have_text("limits: 1 … 6 V")
    page.locator("#confirm-cancel").click()
    expect(row.locator(".reply")).to_have_text("cancelled")
    assert supply.volt() == 1.0  # nothing was sent

    row.locator("button.set").click()
    page.locator("#confirm-ok").click()
    expect(row.locator(".reply")).to_have_text('applied: RET#"applied"')
    assert supply.volt() == 2.5
    expect(row.locator(".value")).to_have_text("2.5")  # the readback, through the pull socket
    assert any(
        "write from 127.0.0.1: psu volt=2.5 -> applied" in record.getMessage()
        for record in caplog.records
    )

    row.locator("input.setpoint").fill("9")
    row.locator("button.set").click()
    page.locator("#confirm-ok").click()
    expect(row.locator(".reply")).to_contain_text("refused: EXCEP#volt=9 is outside 1.0..6.0 V")
    assert supply.volt() == 2.5
    assert any("-> not applied" in record.getMessage() for record in caplog.records)


def test_writes_are_off_unless_the_lab_file_turns_them_on(lab, page, supply):
    lab.serve()
    page.goto(lab.url)
    expect(page.locator("tr[data-codename=volt] .value")).to_have_text("1")
    assert page.locator("input.setpoint").count() == 0
    status, answer = post(
        lab.url, {"node": "psu", "codename": "volt", "value": 2.0, "confirmed": True}
    )
    assert status == 403 and "[web] writes = true" in answer["error"]
    assert supply.volt() == 1.0


@pytest.mark.parametrize(
    "body, headers, status, words",
    [
        ({"node": "psu", "codename": "volt", "value": 2.0}, {}, 400, "must be confirmed"),
        (
            {"node": "psu", "codename": "curr", "value": 2.0, "confirmed": True},
            {},
            403,
            "not writable",
        ),
        (
            {"node": "psu", "codename": "volt", "value": "2", "confirmed": True},
            {},
            400,
            "not a finite number",
        ),
        (
            {"node": "psu", "codename": "volt", "value": True, "confirmed": True},
            {},
            400,
            "not a finite number",
        ),
        (
            {"node": "nope", "codename": "volt", "value": 2.0, "confirmed": True},
            {},
            400,
            "no channel",
        ),
        (
            {"node": "psu", "codename": "volt", "value": 2.0, "confirmed": True},
            {"Origin": "http://example.invalid"},
            403,
            "another site",
        ),
        (
            {"node": "psu", "codename": "volt", "value": 2.0, "confirmed": True},
            {"Content-Type": "text/plain"},
            415,
            "as JSON",
        ),
    ],
)
def test_writes_the_server_refuses_before_sending(lab, supply, body, headers, status, words):
    lab.serve(writes=True)
    wait_for(lambda: lab.board.channel("psu", "volt") and lab.board.channel("psu", "volt")["unit"])
    code, answer = post(lab.url, body, headers)
    assert code == status and words in answer["error"]
    assert supply.volt() == 1.0
