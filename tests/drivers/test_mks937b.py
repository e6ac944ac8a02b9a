"""MKS 937B driver against its simulated controller, through pyserial."""

from __future__ import annotations

import json
import logging
import pickle

import pytest

from labnode.drivers import Channel, InstrumentTimeout, ReplyParseError, WriteRefused
from labnode.drivers.mks.mks937b import MKS937B, CommandRejected
from labnode.drivers.mks.mks937b_sim import MKS937BModel, SimulatedChannel
from labnode.drivers.simulation import (
    MemoryDeviceServer,
    PtyDeviceServer,
    SettlingValue,
    SocketDeviceServer,
    create_model,
)
from tests.drivers.driver_checks import line_settings, reading_fails, refuses_setting

TIMEOUT = 0.25
CHANNELS = {"chamber": 1, "pirani": 2}


def steady_model(**options) -> MKS937BModel:
    """A1 at 1.2E-06 Torr, A2 at 3.4E-02 Torr, the other channels without sensors."""
    channels = [
        SimulatedChannel(SettlingValue(1.2e-6)),
        SimulatedChannel(SettlingValue(3.4e-2)),
        *(SimulatedChannel(None, "NOGAUGE") for _ in range(4)),
    ]
    return MKS937BModel(channels, **options)


@pytest.fixture
def model() -> MKS937BModel:
    return steady_model()


@pytest.fixture
def gauge(server):
    with MKS937B(server.url, channels=CHANNELS, timeout=TIMEOUT) as driver:
        yield driver


@pytest.mark.parametrize("server_class", [SocketDeviceServer, PtyDeviceServer])
def test_reads_the_configured_channels(server_class):
    with server_class(steady_model()) as server, MKS937B(server.url, channels=CHANNELS) as gauge:
        assert gauge.get_values() == {"chamber": 1.2e-6, "pirani": 3.4e-2}
        assert gauge.codenames == ["chamber", "pirani"]
        assert gauge.unit == "Torr"
        assert gauge.diagnostics() == {
            "channel_state": {"chamber": "ok", "pirani": "ok"},
            "pressure_unit": "Torr",
        }


def test_the_manuals_example_exchange_over_a_port():
    """937B manual 9.1: `@003PR1?;FF` is answered `@003ACK7.602E+2;FF`."""
    model = MKS937BModel([SimulatedChannel(SettlingValue(760.2))], address=3)
    assert model.feed(b"@003PR1?;FF") == b"@003ACK7.60E+02;FF"
    with (
        PtyDeviceServer(model) as server,
        MKS937B(server.url, address=3, channels={"p": 1}, timeout=TIMEOUT) as gauge,
    ):
        assert gauge.ask("PR1") == "7.60E+02"
        assert gauge.transport.last_command == "@003PR1?"


def test_default_settings_and_channels():
    gauge = MKS937B("/dev/ttyUSB0")
    assert line_settings(gauge) == (9600, 8, "N", 1, ";FF")
    assert gauge.address == 253
    assert gauge.codenames == [f"pressure_{n}" for n in range(1, 7)]


def test_channels_without_a_reading_are_left_out_and_reported(server, model, caplog):
    caplog.set_level(logging.INFO, logger="labnode.drivers.mks.mks937b")
    with MKS937B(server.url, timeout=TIMEOUT) as gauge:  # all six channels
        assert gauge.get_values() == {"pressure_1": 1.2e-6, "pressure_2": 3.4e-2}
        states = gauge.diagnostics()["channel_state"]
        assert states == {
            "pressure_1": "ok",
            "pressure_2": "ok",
            **{f"pressure_{n}": "NOGAUGE" for n in range(3, 7)},
        }
        model.set_state(1, "OFF")
        for _ in range(3):
            assert gauge.get_values() == {"pressure_2": 3.4e-2}
        model.set_state(1, "LO<1.00E-04")
        gauge.get_values()
        model.set_state(1, None)
        assert gauge.get_values()["pressure_1"] == 1.2e-6
        assert json.loads(json.dumps(gauge.diagnostics()))["channel_state"]["pressure_1"] == "ok"
    records = [r for r in caplog.records if r.name == "labnode.drivers.mks.mks937b"]
    warnings = [r.getMessage() for r in records if r.levelno == logging.WARNING]
    infos = [r.getMessage() for r in records if r.levelno == logging.INFO]
    assert len(warnings) == 4 + 2  # four channels without sensors, then OFF, then LO<
    assert "pressure_1 reports OFF" in warnings[4] and "LO<1.00E-04" in warnings[5]
    assert len(infos) == 1 and "pressure_1 is ok again" in infos[0]


def test_a_long_state_word_is_cut(gauge, model):
    model.set_state(2, "X" * 500)
    gauge.get_values()
    assert gauge.diagnostics()["channel_state"]["pirani"] == "X" * 40


def test_values_come_in_the_controllers_unit(gauge, model):
    assert gauge.set("U", "MBAR") == "MBAR"
    gauge.reconnect()
    values = gauge.get_values()
    assert gauge.unit == "MBAR"
    assert values["pirani"] == pytest.approx(3.4e-2 * 1.33322, rel=1e-2)


def test_channels_are_read_only_pressures_in_the_controllers_unit(gauge):
    assert gauge.channels == [
        Channel("chamber", None, "pressure of channel A1"),
        Channel("pirani", None, "pressure of channel A2"),
    ]
    gauge.get_values()
    assert [channel.unit for channel in gauge.channels] == ["Torr", "Torr"]
    with pytest.raises(WriteRefused, match="read-only"):
        gauge.set_value("chamber", 1.0)


class NoUnitQuery(MKS937BModel):
    """A controller that NAKs `U?`."""

    def handle_line(self, line: str) -> str | None:
        return "@253NAK160" if line == "@253U?" else super().handle_line(line)


def test_a_controller_without_the_unit_query_still_reads():
    model = NoUnitQuery([SimulatedChannel(SettlingValue(2.5e-3))])
    with MemoryDeviceServer(model) as server, MKS937B(server.url, channels={"p": 1}) as gauge:
        assert gauge.get_values() == {"p": 2.5e-3}
        assert gauge.get_values() == {"p": 2.5e-3}
        assert gauge.unit is None and "pressure_unit" not in gauge.diagnostics()
        assert model.requests_seen == 3  # U? once, not at every reading


def test_identify_reports_model_and_serial(gauge):
    assert gauge.identify() == "MKS 937B, serial 1234567890"


def test_nak_raises_command_rejected_with_its_code(gauge):
    with pytest.raises(CommandRejected, match=r"NAK160 \(command had an error") as caught:
        gauge.ask("XYZ")
    assert caught.value.code == "160"
    copy = pickle.loads(pickle.dumps(caught.value))
    assert (copy.code, str(copy)) == ("160", str(caught.value))
    assert caught.value.command == "@253XYZ?"
    with pytest.raises(CommandRejected, match="NAK169 .see the controller's manual"):
        gauge.set("U", "FURLONGS")
    assert gauge.get_values() == {"chamber": 1.2e-6, "pirani": 3.4e-2}


def test_another_address_stays_silent(server):
    reading_fails(
        MKS937B(server.url, address=12, channels=CHANNELS, timeout=TIMEOUT), InstrumentTimeout
    )


def test_broadcast_address_accepts_the_answer_of_any_controller(server):
    with MKS937B(server.url, address=254, channels=CHANNELS, timeout=TIMEOUT) as gauge:
        assert gauge.get_values() == {"chamber": 1.2e-6, "pirani": 3.4e-2}


class FixedAnswer(MKS937BModel):
    """Answers PR1 with a fixed line."""

    def __init__(self, answer: str) -> None:
        super().__init__([SimulatedChannel(SettlingValue(1.0))])
        self.answer = answer

    def handle_line(self, line: str) -> str | None:
        return self.answer if line == "@253PR1?" else super().handle_line(line)


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        ("@252ACK1.00E-03", "an answer from address 253"),
        ("@253ACK", "a pressure or a state"),
        ("@253ACK   ", "a pressure or a state"),
        ("@25ACK1.0", "'@<address>ACK<data>'"),
        ("253ACK1.0", "'@<address>ACK<data>'"),
        ("@253OK1.0", "'@<address>ACK<data>'"),
    ],
)
def test_malformed_answers_are_parse_errors(answer, words):
    with MemoryDeviceServer(FixedAnswer(answer)) as server:
        error = reading_fails(
            MKS937B(server.url, channels={"p": 1}, timeout=TIMEOUT), ReplyParseError, words
        )
        assert error.reply == answer


@pytest.mark.parametrize("word", ["nan", "inf", "-Infinity", "1e", "1.0.0", "0x10"])
def test_words_that_python_might_read_as_numbers_are_states(word):
    with (
        MemoryDeviceServer(FixedAnswer(f"@253ACK{word}")) as server,
        MKS937B(server.url, channels={"p": 1}, timeout=TIMEOUT) as gauge,
    ):
        assert gauge.get_values() == {}
        assert gauge.diagnostics()["channel_state"] == {"p": word}


@pytest.mark.parametrize(
    ("keyword", "value"),
    [
        ("address", 0),
        ("address", 255),
        ("address", "253"),
        ("address", True),
        ("channels", {}),
        ("channels", ["pressure_1"]),
        ("channels", {"p": 7}),
        ("channels", {"p": 0}),
        ("channels", {"p": "1"}),
        ("channels", {"p": True}),
        ("channels", {"bad name": 1}),
    ],
)
def test_bad_settings_name_the_keyword(keyword, value):
    refuses_setting(MKS937B, keyword, value)


def test_the_default_simulation_pumps_down():
    channels = {"cc": 1, "pirani": 2, "foreline": 3}
    with (
        SocketDeviceServer(create_model("mks937b", seed=4)) as server,
        MKS937B(server.url, channels=channels) as gauge,
    ):
        readings = [gauge.get_values() for _ in range(4)]
    assert len({reading["cc"] for reading in readings}) == 4
    assert all(1e-8 < reading["cc"] < 1000 for reading in readings)


def test_model_answers_and_control_commands():
    model = steady_model()
    assert model.feed(b"@253PR1?;FF") == b"@253ACK1.20E-06;FF"
    assert model.feed(b"@253PR7?;FF") == b"@253NAK160;FF"
    assert model.feed(b"@253PR1?x;FF") == b"@253NAK160;FF"
    assert model.feed(b"@253garbage;FF") == b"@253NAK160;FF"
    assert model.feed(b"@253U!PASCAL;FF") == b"@253ACKPASCAL;FF"
    assert model.feed(b"@253PR2?;FF") == b"@253ACK4.53E+00;FF"
    assert model.control("channel-state", ["2", "OFF"]) == "channel-state 2 OFF"
    assert model.feed(b"@253PR2?;FF") == b"@253ACKOFF;FF"
    assert model.control("channel-state", ["2", "ok"]) == "channel-state 2 ok"
    assert model.feed(b"@253PR2?;FF") == b"@253ACK4.53E+00;FF"
    with pytest.raises(ValueError):
        model.control("channel-state", ["9", "OFF"])
    with pytest.raises(LookupError):
        model.control("explode", [])
