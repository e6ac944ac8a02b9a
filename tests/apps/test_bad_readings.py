"""Whatever a driver's get_values() returns, the node keeps serving valid replies (real UDP)."""

from __future__ import annotations

import json
import logging
import math

import pytest

from labnode.apps import NodeApp
from labnode.apps.readings import check_reading
from labnode.sockets import DateDataClient

from .conftest import wait_for
from .sample_drivers import ScriptedGauge

FAST = {"interval": 0.02, "timeout": 0.3, "backoff_initial": 0.02, "backoff_max": 0.1}


def strict_json(text: str):
    """RFC 8259 JSON: NaN and Infinity are not JSON."""

    def refuse(constant):
        raise ValueError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture
def scripted():
    driver = ScriptedGauge("loop://")
    app = NodeApp(driver, host="127.0.0.1", port=0, **FAST)
    app.start()
    client = DateDataClient("127.0.0.1", app.socket.port, old_data="none")
    wait_for(lambda: client.get("a") and client.get("b"))
    yield driver, app, client
    app.stop()


WHOLE = [
    pytest.param([1.0, 2.0], "a list", id="list"),
    pytest.param(None, "returned None", id="none"),
    pytest.param("1.5", "a str", id="string-reading"),
    pytest.param(True, "a bool", id="bool-reading"),
    pytest.param({1: 2.0}, "key of type int", id="int-key"),
    pytest.param({("a",): 2.0, "a": 1.0}, "key of type tuple", id="tuple-key"),
]


@pytest.mark.parametrize("reply, words", WHOLE)
def test_a_reading_that_is_not_a_dict_of_codenames_is_a_driver_fault(
    scripted, caplog, reply, words
):
    driver, app, client = scripted
    with caplog.at_level(logging.INFO, logger="labnode.apps.node_app"):
        driver.reply = reply
        wait_for(lambda: client.get("a") is None and client.get("b") is None)
        status = wait_for(lambda: (s := client.status()["driver"])["bad_readings"] >= 5 and s)
        assert words in status["last_error"] and status["state"] == "failing"
        strict_json(client.request("json_wn"))
        assert client.name()  # still serving
        driver.reply = {"a": 1.0, "b": 2.0}
        wait_for(lambda: client.get("a") and client.get("b"))
    faults = [r for r in caplog.records if "a fault of the driver" in r.getMessage()]
    assert len(faults) == 1, [r.getMessage() for r in faults]  # once per change, not per reading
    assert any("valid values again" in r.getMessage() for r in caplog.records)
    wait_for(lambda: client.status()["driver"]["state"] == "connected")  # status is cached 0.5 s


VALUES = [
    pytest.param(True, "a bool", id="bool"),
    pytest.param(10**400, "an int beyond the range of a float", id="huge-int"),
    pytest.param(math.nan, "nan (not finite)", id="nan"),
    pytest.param(math.inf, "inf (not finite)", id="inf"),
    pytest.param(-math.inf, "-inf (not finite)", id="minus-inf"),
    pytest.param("1.5", "a str, not a number", id="string"),
    pytest.param(None, "None, not a number", id="none"),
    pytest.param([1.0], "a list, not a number", id="list"),
]


@pytest.mark.parametrize("value, words", VALUES)
def test_a_bad_value_puts_its_channel_old_data_and_keeps_the_others(scripted, caplog, value, words):
    driver, app, client = scripted
    with caplog.at_level(logging.WARNING, logger="labnode.apps.node_app"):
        driver.reply = {"a": value, "b": 2.0}
        wait_for(lambda: client.get("a") is None)
        before = client.get("b")
        wait_for(lambda: (p := client.get("b")) and p[0] > before[0])  # b stays fresh
        status = wait_for(lambda: (s := client.status()["driver"])["bad_values"] >= 5 and s)
        assert f"'a' is {words}" in status["last_error"]
        assert status["state"] == "connected" and status["bad_readings"] == 0
        for request in ("json_wn", "a#json", "b#json", "status", "codenames_json"):
            strict_json(client.request(request))
        assert client.request("raw").split(";")[0] == "OLD_DATA"
    faults = [r for r in caplog.records if "a fault of the driver" in r.getMessage()]
    assert len(faults) == 1


def test_an_empty_reading_is_not_a_fresh_reading(scripted):
    driver, app, client = scripted
    driver.reply = {}
    wait_for(lambda: client.get("a") is None and client.get("b") is None)
    status = wait_for(lambda: (s := client.status()["driver"])["empty_readings"] > 0 and s)
    assert status["last_error"] is None
    status = wait_for(
        lambda: (
            (s := client.status()["driver"])["seconds_since_good_reading"] >= FAST["timeout"] and s
        )
    )
    assert status["state"] == "connected"


def test_check_reading_keeps_good_values_and_names_kinds():
    good, problem = check_reading({"a": 1, "b": 2.5, "c": math.nan})
    assert good == {"a": 1.0, "b": 2.5} and type(good["a"]) is float
    assert (
        problem
        == "get_values() returned values that are not finite numbers: 'c' is nan (not finite)"
    )
    assert check_reading({}) == ({}, None)
    many = {f"c{i}": "x" for i in range(5)}
    assert check_reading(many)[1].endswith("and 2 more")
