"""Pfeiffer TPG 261/262 driver against its simulated unit, through real pyserial ports."""

from __future__ import annotations

import json
import logging
import threading

import pytest

from labnode.drivers import (
    Channel,
    DriverConfigError,
    ReplyParseError,
    WriteRefused,
)
from labnode.drivers.pfeiffer.tpg26x import CommandRejected, TPG26x
from labnode.drivers.pfeiffer.tpg26x_sim import SimulatedGauge, TPG26xModel
from labnode.drivers.simulation import PtyDeviceServer, SettlingValue, SocketDeviceServer
from tests.drivers.driver_checks import line_settings, reading_fails

TIMEOUT = 2.0  # a bound for replies that come; no test here waits for one that does not


def steady(mbar: float) -> SettlingValue:
    return SettlingValue(mbar)


def two_gauge_model() -> TPG26xModel:
    return TPG26xModel(
        [SimulatedGauge("PKR", steady(8.34e-3)), SimulatedGauge("TPR", steady(0.12))]
    )


@pytest.fixture
def model() -> TPG26xModel:
    return two_gauge_model()


@pytest.fixture
def server(model):
    """A pty (fast to close); tests of TCP-only behaviour make their own SocketDeviceServer."""
    with PtyDeviceServer(model) as server:
        yield server


@pytest.fixture
def tpg(server):
    with TPG26x(server.url, timeout=TIMEOUT) as driver:
        yield driver


@pytest.mark.parametrize("server_class", [SocketDeviceServer, PtyDeviceServer])
def test_reads_both_gauges_over_tcp_and_pty(server_class):
    with server_class(two_gauge_model()) as server, TPG26x(server.url, timeout=TIMEOUT) as tpg:
        assert tpg.get_values() == {"pressure_1": 8.34e-3, "pressure_2": 0.12}
        assert tpg.codenames == ["pressure_1", "pressure_2"]
        assert tpg.gauge_status == {"pressure_1": "ok", "pressure_2": "ok"}


def test_default_settings_are_9600_8n1_crlf():
    assert line_settings(TPG26x("/dev/ttyUSB0")) == (9600, 8, "N", 1, "\r\n")


def test_the_default_simulation_moves_and_pumps_down():
    with SocketDeviceServer(TPG26xModel(seed=4)) as server, TPG26x(server.url) as tpg:
        readings = [tpg.get_values() for _ in range(5)]
    first_gauge = [reading["pressure_1"] for reading in readings]
    assert len(set(first_gauge)) == 5
    assert all(1e-7 < value < 2000 for value in first_gauge)


def test_codenames_are_configurable(server):
    with TPG26x(server.url, names=("chamber", "foreline"), timeout=TIMEOUT) as tpg:
        assert tpg.get_values() == {"chamber": 8.34e-3, "foreline": 0.12}


@pytest.mark.parametrize(
    ("names", "expected", "mnemonic"),
    [
        (("chamber", None), {"chamber": 8.34e-3}, "PR1"),
        (("", "foreline"), {"foreline": 0.12}, "PR2"),
        (["both_1", "both_2"], {"both_1": 8.34e-3, "both_2": 0.12}, "PRX"),
    ],
)
def test_reads_only_the_configured_gauges(server, model, names, expected, mnemonic):
    with TPG26x(server.url, names=names, timeout=TIMEOUT) as tpg:
        assert tpg.get_values() == expected
        assert tpg.codenames == list(expected)
        assert model.pending == mnemonic


def test_a_tpg261_with_one_gauge():
    model = TPG26xModel([SimulatedGauge("IKR11", steady(3.2e-9))])
    with PtyDeviceServer(model) as server:
        with TPG26x(server.url, names=("pressure",), timeout=TIMEOUT) as tpg:
            assert tpg.get_values() == {"pressure": 3.2e-9}
            assert "gauges IKR11" in tpg.identify()
        tpg = TPG26x(server.url, timeout=TIMEOUT)  # asks PRX for two gauges
        with tpg, pytest.raises(DriverConfigError, match="answers PRX with one") as caught:
            tpg.get_values()
        assert caught.value.setting == "names"
        tpg = TPG26x(server.url, names=(None, "second"), timeout=TIMEOUT)
        with tpg, pytest.raises(DriverConfigError, match="no gauge 2.*no hardware") as caught:
            tpg.get_values()
        assert caught.value.setting == "names"
        with tpg:
            with pytest.raises(CommandRejected, match="no hardware") as rejected:
                tpg.ask("PR2")
            assert rejected.value.error_code == "0100"
            assert tpg.ask("PR1").startswith("0,")  # and the port is still usable


@pytest.mark.parametrize(
    "names",
    [(), ("a", "b", "c"), (None, None), ("", None), ("same", "same"), "pressure"],
)
def test_bad_names_are_a_config_error(names):
    with pytest.raises(DriverConfigError, match="names"):
        TPG26x("socket://127.0.0.1:1", names=names)


def test_unknown_setting_is_a_config_error():
    with pytest.raises(DriverConfigError, match="unknown keyword 'nmes'"):
        TPG26x("socket://127.0.0.1:1", nmes=("a", "b"))


@pytest.mark.parametrize(
    ("status", "words"),
    [
        (1, "underrange"),
        (2, "overrange"),
        (3, "sensor error"),
        (4, "sensor off"),
        (5, "no sensor"),
        (6, "identification error"),
    ],
)
def test_a_gauge_with_a_bad_status_is_left_out_and_reported(tpg, model, status, words):
    model.set_status(2, status)
    assert tpg.get_values() == {"pressure_1": 8.34e-3}
    assert tpg.gauge_status == {"pressure_1": "ok", "pressure_2": words}
    assert tpg.codenames == ["pressure_1", "pressure_2"]
    model.set_status(2, 0)
    assert tpg.get_values() == {"pressure_1": 8.34e-3, "pressure_2": 0.12}


def test_all_gauges_bad_gives_an_empty_reading(tpg, model):
    model.set_status(1, 4)
    model.set_status(2, 5)
    assert tpg.get_values() == {}


def test_identify_reports_firmware_gauges_and_unit(tpg, model):
    model.set_status(2, 5)
    assert tpg.identify() == "Pfeiffer TPG 26x, firmware BG5110-A, gauges PKR,noSen, unit mbar"


def test_values_come_in_the_units_the_unit_is_set_to(server, model):
    model.unit = 2
    with TPG26x(server.url, timeout=TIMEOUT) as tpg:
        assert tpg.unit == "Pa"
        assert tpg.get_values() == pytest.approx({"pressure_1": 0.834, "pressure_2": 12.0})
        model.unit = 1
        tpg.reconnect()
        assert tpg.unit == "Torr"
        assert tpg.get_values()["pressure_2"] == pytest.approx(0.12 * 0.750062, rel=1e-4)


def test_nak_raises_command_rejected_with_the_error_status(tpg):
    with pytest.raises(CommandRejected, match=r"command 'XYZ'.*NAK.*0001: syntax error") as caught:
        tpg.ask("XYZ")
    assert caught.value.command == "XYZ"
    with pytest.raises(CommandRejected, match="0010: inadmissible parameter"):
        tpg.ask("UNI,9")
    assert tpg.get_values() == {"pressure_1": 8.34e-3, "pressure_2": 0.12}


class BrokenDataModel(TPG26xModel):
    """Acknowledges correctly but sends data the driver must refuse."""

    def __init__(self, data: str) -> None:
        super().__init__([SimulatedGauge("PKR", steady(1.0)), SimulatedGauge("TPR", steady(1.0))])
        self.broken = data

    def _data(self, mnemonic: str) -> str:
        return self.broken


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("0,1.0E-3,0", "2 status,value pairs"),
        ("#,1.0E-3", "2 status,value pairs"),
        ("9,1.0E-3,0,1.0E-3", "status code 0-6"),
        ("0,1.0E-3,0,lots", "number"),
        ("", "2 status,value pairs"),
    ],
)
def test_malformed_data_raises_reply_parse_error(data, expected):
    with PtyDeviceServer(BrokenDataModel(data)) as server:
        reading_fails(TPG26x(server.url, timeout=TIMEOUT), ReplyParseError, expected)


def test_threads_sharing_a_driver_never_interleave_the_handshake(tpg):
    errors: list[BaseException] = []

    def poll() -> None:
        try:
            for _ in range(25):
                assert tpg.get_values() == {"pressure_1": 8.34e-3, "pressure_2": 0.12}
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=poll) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert errors == []


# -- the simulated unit at byte level ------------------------------------------------------------


def test_model_handshake_bytes():
    model = two_gauge_model()
    assert model.feed(b"PR1\r\n") == b"\x06\r\n"
    assert model.feed(b"\x05") == b"0,8.3400E-03\r\n"
    assert model.feed(b"\x05") == b"0,8.3400E-03\r\n"  # ENQ again: fresh data, same mnemonic
    assert model.feed(b"PRX\r") == b"\x06\r\n"  # LF is optional
    assert model.feed(b"\x05") == b"0,8.3400E-03,0,1.2000E-01\r\n"


def test_model_naks_and_reports_errors_once():
    model = two_gauge_model()
    assert model.feed(b"\x05") == b"\x15\r\n"  # nothing pending
    assert model.feed(b"FOO\r\n") == b"\x15\r\n"
    assert model.feed(b"ERR\r\n\x05") == b"\x06\r\n0001\r\n"
    assert model.feed(b"ERR\r\n\x05") == b"\x06\r\n0000\r\n"
    assert model.feed(b"UNI,1\r\n\x05") == b"\x06\r\n1\r\n"


def test_model_etx_resets_the_interface():
    model = two_gauge_model()
    model.feed(b"PR")
    assert model.feed(b"\x03PR2\r\n\x05") == b"\x06\r\n0,1.2000E-01\r\n"
    assert model.feed(b"\x03\x05") == b"\x15\r\n"


def test_model_control_command_sets_a_gauge_status():
    model = two_gauge_model()
    assert model.control("gauge-status", ["2", "4"]) == "gauge-status 2 4"
    assert model.feed(b"PR2\r\n\x05") == b"\x06\r\n4,1.2000E-01\r\n"
    with pytest.raises(ValueError):
        model.control("gauge-status", ["3", "0"])


def warnings_and_infos(caplog) -> tuple[list[str], list[str]]:
    records = [r for r in caplog.records if r.name == "labnode.drivers.pfeiffer.tpg26x"]
    return (
        [r.getMessage() for r in records if r.levelno == logging.WARNING],
        [r.getMessage() for r in records if r.levelno == logging.INFO],
    )


def test_diagnostics_report_each_gauge_and_a_status_change_is_logged_once(tpg, model, caplog):
    caplog.set_level(logging.INFO, logger="labnode.drivers.pfeiffer.tpg26x")
    assert tpg.diagnostics() == {"gauge_status": {}}
    tpg.get_values()
    assert tpg.diagnostics() == {"gauge_status": {"pressure_1": "ok", "pressure_2": "ok"}}
    assert warnings_and_infos(caplog) == ([], [])  # ok from the start: nothing to say

    model.set_status(2, 4)
    for _ in range(3):
        tpg.get_values()
    assert tpg.diagnostics() == {"gauge_status": {"pressure_1": "ok", "pressure_2": "sensor off"}}
    warnings, _ = warnings_and_infos(caplog)
    assert len(warnings) == 1
    assert "gauge 2 (pressure_2)" in warnings[0] and "sensor off" in warnings[0]

    model.set_status(2, 5)
    tpg.get_values()
    tpg.get_values()
    model.set_status(2, 0)
    tpg.get_values()
    tpg.get_values()
    warnings, infos = warnings_and_infos(caplog)
    assert len(warnings) == 2 and "no sensor" in warnings[1]
    assert len(infos) == 1 and "pressure_2" in infos[0] and "ok again" in infos[0]
    assert tpg.unit == "mbar"
    assert json.loads(json.dumps(tpg.diagnostics())) == {
        "gauge_status": {"pressure_1": "ok", "pressure_2": "ok"},
        "pressure_unit": "mbar",
    }


def test_a_gauge_bad_from_the_first_reading_is_logged(server, model, caplog):
    model.set_status(1, 3)
    with TPG26x(server.url, timeout=TIMEOUT) as tpg, caplog.at_level(logging.WARNING):
        tpg.get_values()
        tpg.reconnect()  # the same status after a reconnect is no change
        tpg.get_values()
    warnings, _ = warnings_and_infos(caplog)
    assert len(warnings) == 1 and "sensor error" in warnings[0]


def test_channels_carry_the_unit_the_controller_reports(server, model):
    model.unit = 2
    with TPG26x(server.url, names=("chamber", "foreline"), timeout=TIMEOUT) as tpg:
        assert [channel.unit for channel in tpg.channels] == [None, None]  # not asked yet
        tpg.identify()  # as the node does after every connect
        assert tpg.channels == [
            Channel("chamber", "Pa", "pressure of gauge 1"),
            Channel("foreline", "Pa", "pressure of gauge 2"),
        ]
        assert tpg.codenames == ["chamber", "foreline"]
        with pytest.raises(WriteRefused, match="read-only"):
            tpg.set_value("chamber", 1.0)
