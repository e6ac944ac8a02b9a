"""Omega iSeries driver against its simulated meter, through pyserial."""

from __future__ import annotations

import logging

import pytest

from labnode.drivers import Channel, InstrumentTimeout, ReplyParseError, WriteRefused
from labnode.drivers.omega.iseries import OmegaISeries
from labnode.drivers.omega.iseries_sim import OmegaISeriesModel
from labnode.drivers.simulation import (
    MemoryDeviceServer,
    PtyDeviceServer,
    SocketDeviceServer,
    create_model,
)
from tests.drivers.driver_checks import line_settings, reading_fails, refuses_setting

TIMEOUT = 0.25


def steady_model(**options) -> OmegaISeriesModel:
    return OmegaISeriesModel(75.4, noise=0.0, **options)


@pytest.fixture
def model() -> OmegaISeriesModel:
    return steady_model()


@pytest.fixture
def meter(server):
    with OmegaISeries(server.url, unit="degF", timeout=TIMEOUT) as driver:
        yield driver


def test_the_manuals_examples():
    """Communication manual 5.3: `*X01` -> `X01075.4` with ECHO, `075.4` without."""
    assert steady_model().feed(b"*X01\r") == b"X01075.4\r"
    assert steady_model(echo=False).feed(b"*X01\r") == b"075.4\r"
    assert steady_model(address=0x1F).feed(b"*1FX01\r") == b"1FX01075.4\r"


@pytest.mark.parametrize("server_class", [SocketDeviceServer, PtyDeviceServer])
def test_reads_the_value_over_tcp_and_pty(server_class):
    with server_class(steady_model()) as server, OmegaISeries(server.url) as meter:
        assert meter.get_values() == {"temperature": 75.4}
        assert meter.transport.last_command == "*X01"
        assert meter.diagnostics() == {"channel_state": {"temperature": "ok"}}


def test_default_settings_are_9600_7o1_cr():
    assert line_settings(OmegaISeries("/dev/ttyUSB0")) == (9600, 7, "O", 1, "\r")
    assert OmegaISeries("/dev/ttyUSB0", bytesize=8, parity="N").transport.options["bytesize"] == 8


def test_channel_name_and_unit_are_configured(server):
    with OmegaISeries(server.url, name="oven", unit="degC", timeout=TIMEOUT) as meter:
        assert meter.channels == [Channel("oven", "degC", "reading (X01)")]
        assert meter.codenames == ["oven"]
        assert meter.get_values() == {"oven": 75.4}
        with pytest.raises(WriteRefused, match="read-only"):
            meter.set_value("oven", 20.0)


def test_echo_off(server, model):
    model.echo = False
    with OmegaISeries(server.url, echo=False, timeout=TIMEOUT) as meter:
        assert meter.get_values() == {"temperature": 75.4}
        model.state = "OPEN"  # without the echo a word cannot be told from garbage
        with pytest.raises(ReplyParseError, match="'OPEN'"):
            meter.get_values()


@pytest.mark.parametrize("reading", ["nan", "inf", "1e3"])
def test_echo_off_refuses_what_python_would_read_as_a_number(server, model, reading):
    model.echo = False
    model.state = reading
    reading_fails(
        OmegaISeries(server.url, echo=False, timeout=TIMEOUT), ReplyParseError, repr(reading)
    )


def test_a_state_word_is_left_out_reported_and_logged_once(meter, model, caplog):
    caplog.set_level(logging.INFO, logger="labnode.drivers.omega.iseries")
    assert meter.get_values() == {"temperature": 75.4}
    model.state = "OPEN"
    for _ in range(3):
        assert meter.get_values() == {}
    assert meter.diagnostics() == {"channel_state": {"temperature": "OPEN"}}
    model.state = None
    assert meter.get_values() == {"temperature": 75.4}
    records = [r for r in caplog.records if r.name == "labnode.drivers.omega.iseries"]
    assert [r.levelno for r in records] == [logging.WARNING, logging.INFO]
    assert "temperature reports OPEN" in records[0].getMessage()


def test_negative_readings():
    with (
        MemoryDeviceServer(OmegaISeriesModel(-12.34, noise=0.0)) as server,
        OmegaISeries(server.url, timeout=TIMEOUT) as meter,
    ):
        assert meter.get_values() == {"temperature": -12.3}
        assert meter.transport.last_reply == "X01-12.3"


def test_a_bus_address_is_sent_and_expected_back():
    with MemoryDeviceServer(steady_model(address=199)) as server:
        with OmegaISeries(server.url, address=199, timeout=TIMEOUT) as meter:
            assert meter.get_values() == {"temperature": 75.4}
            assert meter.transport.last_command == "*C7X01"
            assert "bus address 199" in meter.identify()
        reading_fails(OmegaISeries(server.url, address=3, timeout=TIMEOUT), InstrumentTimeout)


def test_recognition_character(server, model):
    model.recognition = "#"
    with OmegaISeries(server.url, recognition="#", timeout=TIMEOUT) as meter:
        assert meter.get_values() == {"temperature": 75.4}
    # "*": the meter ignores it
    reading_fails(OmegaISeries(server.url, timeout=TIMEOUT), InstrumentTimeout)


class FixedAnswer(OmegaISeriesModel):
    """Answers every command with a fixed line."""

    def handle_line(self, line: str) -> str | None:
        return self.answer


@pytest.mark.parametrize(
    ("address", "answer"),
    [
        (None, "X02075.4"),
        (None, "075.4"),
        (None, "1FX01075.4"),
        (0x1F, "X01075.4"),
        (3, "1FX01075.4"),
    ],
)
def test_an_answer_without_the_right_echo_is_a_parse_error(address, answer):
    model = FixedAnswer()
    model.answer = answer
    with MemoryDeviceServer(model) as server:
        meter = OmegaISeries(server.url, address=address, timeout=TIMEOUT)
        assert reading_fails(meter, ReplyParseError, "then the reading").reply == answer


def test_an_echo_without_a_reading_is_a_parse_error(meter, model):
    model.state = ""
    with pytest.raises(ReplyParseError, match="a reading after the echo"):
        meter.get_values()


def test_a_long_state_word_is_cut(meter, model):
    model.state = "W" * 300
    meter.get_values()
    assert meter.diagnostics()["channel_state"]["temperature"] == "W" * 40


@pytest.mark.parametrize(
    ("keyword", "value"),
    [
        ("name", "two words"),
        ("name", ""),
        ("unit", ""),
        ("unit", 5),
        ("echo", "yes"),
        ("address", 200),
        ("address", -1),
        ("address", "1F"),
        ("recognition", "A"),
        ("recognition", "**"),
        ("recognition", " "),
    ],
)
def test_bad_settings_name_the_keyword(keyword, value):
    refuses_setting(OmegaISeries, keyword, value)


def test_the_default_simulation_moves():
    with (
        SocketDeviceServer(create_model("omega_iseries", seed=5)) as server,
        OmegaISeries(server.url) as meter,
    ):
        readings = [meter.get_values()["temperature"] for _ in range(6)]
    assert len(set(readings)) > 1
    assert all(23.0 < reading < 24.0 for reading in readings)


def test_model_control_commands():
    model = steady_model()
    assert model.control("state", ["OPEN"]) == "state OPEN"
    assert model.feed(b"*X01\r") == b"X01OPEN\r"
    assert model.control("state", ["ok"]) == "state ok"
    assert model.control("echo", ["off"]) == "echo off"
    assert model.feed(b"*X01\r") == b"075.4\r"
    assert model.feed(b"*X02\r") == b""
    assert model.feed(b"X01\r") == b""
    assert model.control("value", ["30"]) == "value 30"
    with pytest.raises(LookupError):
        model.control("explode", [])
