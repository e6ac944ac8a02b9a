"""Omega iSeries driver against its simulated meter, through pyserial.

Most tests use the in-memory `sim://` port; the transport ones use a real pty and TCP socket.
Garbage, silence, a late reply and a vanishing port are the driver contract's
(test_driver_contract.py, case in driver_cases.py).
"""

from __future__ import annotations

import logging

import pytest

from labnode.drivers import (
    Channel,
    DriverConfigError,
    InstrumentTimeout,
    ReplyParseError,
    WriteRefused,
)
from labnode.drivers.omega.iseries import OmegaISeries
from labnode.drivers.omega.iseries_sim import OmegaISeriesModel
from labnode.drivers.registry import resolve_driver
from labnode.drivers.simulation import (
    MemoryDeviceServer,
    PtyDeviceServer,
    SocketDeviceServer,
    create_model,
)

TIMEOUT = 0.25


def steady_model(**options) -> OmegaISeriesModel:
    return OmegaISeriesModel(75.4, noise=0.0, **options)


@pytest.fixture
def model() -> OmegaISeriesModel:
    return steady_model()


@pytest.fixture
def server(model):
    with MemoryDeviceServer(model) as server:
        yield server


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
    meter = OmegaISeries("/dev/ttyUSB0")
    assert meter.settings["baudrate"] == 9600
    assert meter.transport.options["bytesize"] == 7
    assert meter.transport.options["parity"] == "O"
    assert meter.transport.options["stopbits"] == 1
    assert meter.transport.write_termination == "\r"
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
    meter = OmegaISeries(server.url, echo=False, timeout=TIMEOUT)
    with meter, pytest.raises(ReplyParseError, match=repr(reading)):
        meter.get_values()


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
        other = OmegaISeries(server.url, address=3, timeout=TIMEOUT)
        with other, pytest.raises(InstrumentTimeout):
            other.get_values()


def test_recognition_character(server, model):
    model.recognition = "#"
    with OmegaISeries(server.url, recognition="#", timeout=TIMEOUT) as meter:
        assert meter.get_values() == {"temperature": 75.4}
    meter = OmegaISeries(server.url, timeout=TIMEOUT)  # "*": the meter ignores it
    with meter, pytest.raises(InstrumentTimeout):
        meter.get_values()


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
        with meter, pytest.raises(ReplyParseError, match="then the reading") as caught:
            meter.get_values()
        assert caught.value.reply == answer


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
    with pytest.raises(DriverConfigError) as caught:
        OmegaISeries("socket://127.0.0.1:1", **{keyword: value})
    assert caught.value.setting == keyword


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


def test_registered_as_omega_iseries():
    assert resolve_driver("omega_iseries") is OmegaISeries
