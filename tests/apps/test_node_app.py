"""NodeApp with real drivers on simulated instruments, queried over real UDP."""

from __future__ import annotations

import logging
import socket

import pytest

from labnode.apps import NodeApp, NodeSettingError
from labnode.drivers import SerialDriver
from labnode.drivers.pfeiffer.tpg26x import TPG26x
from labnode.drivers.scpi import ScpiDriver
from labnode.drivers.simulation import SocketDeviceServer, create_model
from labnode.sockets import DateDataClient

from .conftest import wait_for

FAST = {"interval": 0.02, "timeout": 0.3, "backoff_initial": 0.02, "backoff_max": 0.1}


@pytest.fixture
def gauge_server():
    with SocketDeviceServer(create_model("tpg26x", seed=1)) as server:
        yield server


@pytest.fixture
def gauge_node(gauge_server):
    app = NodeApp(TPG26x(gauge_server.url, timeout=0.2), host="127.0.0.1", port=0, **FAST)
    app.start()
    yield app
    app.stop()


def test_node_serves_fresh_readings_that_move(gauge_node):
    client = DateDataClient("127.0.0.1", gauge_node.socket.port, old_data="none")
    assert client.codenames() == ["pressure_1", "pressure_2"]
    first = wait_for(lambda: client.get("pressure_1"))
    second = wait_for(lambda: (p := client.get("pressure_1")) and p[0] > first[0] and p)
    assert second[1] != first[1]  # a pumping-down pressure moves
    # status is cached for up to half a second: wait for it to count the readings
    status = wait_for(lambda: (s := client.status()["driver"])["readings"] > 1 and s)
    assert status["state"] == "connected"
    assert "TPG" in status["identity"]
    assert status["diagnostics"]["gauge_status"] == {"pressure_1": "ok", "pressure_2": "ok"}


def test_silent_instrument_goes_old_data_and_recovers(gauge_node, gauge_server, caplog):
    client = DateDataClient("127.0.0.1", gauge_node.socket.port, old_data="none")
    wait_for(lambda: client.get("pressure_1"))
    with caplog.at_level(logging.WARNING, logger="labnode.apps.node_app"):
        gauge_server.model.silent = True
        wait_for(lambda: client.get("pressure_1") is None and client.get("pressure_2") is None)
        # status is cached for up to half a second (see docs/protocol.md): wait for it to move
        status = wait_for(
            lambda: (s := client.status()["driver"])["state"] in ("failing", "reconnecting") and s
        )
        assert "InstrumentTimeout" in status["last_error"]
        wait_for(lambda: client.status()["driver"]["failed_readings"] >= 6)
    # logged once per change of state, not once per poll
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert 1 <= len(warnings) <= 3, [r.getMessage() for r in warnings]
    gauge_server.model.silent = False
    wait_for(lambda: client.get("pressure_1"), timeout=5)
    wait_for(lambda: client.status()["driver"]["state"] == "connected")


def test_vanished_port_goes_old_data_and_reconnects(gauge_node, gauge_server):
    client = DateDataClient("127.0.0.1", gauge_node.socket.port, old_data="none")
    wait_for(lambda: client.get("pressure_1"))
    gauge_server.vanish()
    wait_for(lambda: client.get("pressure_1") is None)
    wait_for(lambda: client.status()["driver"]["state"] == "reconnecting")
    assert client.name()  # the node keeps answering
    gauge_server.come_back()
    wait_for(lambda: client.get("pressure_1"), timeout=5)
    wait_for(lambda: client.status()["driver"]["reconnects"] >= 1)


def test_garbage_replies_are_faults_not_crashes(gauge_node, gauge_server):
    client = DateDataClient("127.0.0.1", gauge_node.socket.port, old_data="none")
    wait_for(lambda: client.get("pressure_1"))
    gauge_server.model.garbage = True
    wait_for(lambda: "ReplyParseError" in (client.status()["driver"]["last_error"] or ""))
    gauge_server.model.garbage = False
    before = client.status()["driver"]["readings"]
    wait_for(lambda: client.status()["driver"]["readings"] > before + 2)
    assert client.get("pressure_1") is not None


def test_scpi_driver_on_pyvisa_sim():
    driver = ScpiDriver(
        "GPIB::9::INSTR",
        visa_library="@sim",
        queries={"volt": ":VOLT:IMM:AMPL?", "curr": ":CURR:IMM:AMPL?"},
        read_termination="\n",
        write_termination="\n",
    )
    with NodeApp(driver, host="127.0.0.1", port=0, **FAST) as app:
        client = DateDataClient("127.0.0.1", app.socket.port, old_data="none")
        table = wait_for(lambda: (t := client.get_all()) and all(t.values()) and t)
        assert {codename: point[1] for codename, point in table.items()} == {
            "volt": 1.0,
            "curr": 1.0,
        }


def test_codenames_learned_from_the_first_reading():
    model = create_model("alicat", seed=3)
    with SocketDeviceServer(model) as server:

        class Flow(SerialDriver):
            default_settings = {"read_termination": "\r", "write_termination": "\r"}

            def get_values(self):
                fields = self.query("A").split()
                return {"mass_flow": self.parse_float(fields[4])}

        with NodeApp(Flow(server.url), host="127.0.0.1", port=0, **FAST) as app:
            wait_for(lambda: app.socket is not None)
            client = DateDataClient("127.0.0.1", app.socket.port)
            assert client.codenames() == ["mass_flow"]
            assert client.get("mass_flow") is not None


def test_stop_closes_the_port_and_the_driver(gauge_server):
    driver = TPG26x(gauge_server.url, timeout=0.2)
    app = NodeApp(driver, host="127.0.0.1", port=0, **FAST)
    app.start()
    port = app.socket.port
    wait_for(lambda: driver.is_connected)
    app.stop()
    assert not driver.is_connected
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", port))  # free again at once


def test_timeouts_per_codename_reject_unknown_codenames(gauge_server):
    app = NodeApp(TPG26x(gauge_server.url), host="127.0.0.1", port=0, timeout={"nope": 1.0})
    with pytest.raises(NodeSettingError, match="unknown codename 'nope'") as info:
        app.start()
    assert info.value.key == "timeout.nope"


def test_one_gauge_off_goes_old_data_while_the_other_stays_fresh(gauge_node, gauge_server):
    client = DateDataClient("127.0.0.1", gauge_node.socket.port, old_data="none")
    wait_for(lambda: client.get("pressure_2"))
    gauge_server.model.control("gauge-status", ["2", "4"])  # gauge 2: sensor off
    wait_for(lambda: client.get("pressure_2") is None)
    assert client.get("pressure_1") is not None
    status = wait_for(
        lambda: (
            (s := client.status()["driver"])["diagnostics"]["gauge_status"]["pressure_2"] != "ok"
            and s
        )
    )
    assert status["state"] == "connected"
