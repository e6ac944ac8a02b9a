"""Bronkhorst propar driver against its simulated controller, through pyserial."""

from __future__ import annotations

import logging
import pickle

import pytest

from labnode.drivers import Channel, InstrumentTimeout, ReplyParseError, WriteRefused
from labnode.drivers.bronkhorst import propar_codec as codec
from labnode.drivers.bronkhorst.propar import BronkhorstPropar, ProparStatusError
from labnode.drivers.bronkhorst.propar_sim import BronkhorstProparModel
from labnode.drivers.simulation import (
    MemoryDeviceServer,
    MultiDropModel,
    PtyDeviceServer,
    SocketDeviceServer,
    create_model,
)
from tests.drivers.driver_checks import line_settings, reading_fails, refuses_setting

TIMEOUT = 0.25


def steady_model(**options) -> BronkhorstProparModel:
    """No noise, no lag: the measure equals the setpoint at once."""
    return BronkhorstProparModel(noise=0.0, tau=0.0, **options)


@pytest.fixture
def model() -> BronkhorstProparModel:
    return steady_model()


@pytest.fixture
def mfc(server):
    with BronkhorstPropar(server.url, timeout=TIMEOUT) as driver:
        yield driver


# -- the codec against the worked examples of document 9.17.027, section 3.10 ---------------------


def test_codec_matches_the_manuals_examples():
    assert codec.write_request(3, codec.SETPOINT, 16000) == ":06030101213E80"  # 3.10.1
    assert codec.read_request(3, codec.SETPOINT) == ":06030401210121"  # 3.10.3
    assert codec.read_request(3, codec.MEASURE) == ":06030401210120"  # 3.10.5
    counter = codec.Parameter("counter value", 0x68, 1, "float")
    assert codec.read_request(3, counter) == ":06030468416841"  # 3.10.6
    answer = codec.decode(":0803026841459CFFAE")
    assert (answer.node, answer.command, answer.payload[:2]) == (3, codec.WRITE, b"\x68\x41")
    assert codec.unpack_value("float", answer.payload[2:])[0] == pytest.approx(5023.96, abs=0.01)
    status = codec.decode(":0403000005")
    assert (status.command, status.payload) == (codec.STATUS, b"\x00\x05")
    # a string of length 10 padded with spaces (3.10.4: fluid name "N2")
    assert codec.unpack_value("string", bytes.fromhex("0A4E322020202020202020")) == ("N2", 11)


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("", "':'"),
        ("06030401210120", "':'"),
        (":0603040121012", "even number"),
        (":0603", "at least"),
        (":06030401210G20", "hex digits"),
        (":07030401210120", "length byte says 7"),
    ],
)
def test_codec_refuses_malformed_lines(line, words):
    with pytest.raises(ValueError, match=words):
        codec.decode(line)


def test_the_simulator_answers_as_the_manual_shows():
    model = steady_model()
    assert model.feed(b":06030101213E80\r\n") == b":0403000005\r\n"  # 3.10.1
    assert model.feed(b":06030401210121\r\n") == b":06030201213E80\r\n"  # 3.10.3
    assert model.feed(b":06030401210120\r\n") == b":06030201213E80\r\n"  # 3.10.5
    assert model.feed(b":06040401210120\r\n") == b""  # another node: silence
    assert model.feed(b":060301012180FF\r\n") == b":0403000605\r\n"  # 32767 > 32000
    assert model.feed(b":06030101203E80\r\n") == b":0403000D04\r\n"  # measure is read only
    assert model.feed(b":06030401210125\r\n") == b":0403000406\r\n"  # no FBnr 5 here
    assert model.feed(b":06030401210140\r\n") == b":0403000506\r\n"  # measure is no float


# -- the driver over real ports -------------------------------------------------------------------


@pytest.mark.parametrize("server_class", [SocketDeviceServer, PtyDeviceServer])
def test_reads_flow_and_setpoint_in_capacity_units(server_class):
    model = steady_model(capacity=2.5, unit="ln/min")
    with server_class(model) as server, BronkhorstPropar(server.url, timeout=TIMEOUT) as mfc:
        assert mfc.get_values() == {"flow": 1.25, "setpoint": 1.25}
        assert mfc.codenames == ["flow", "setpoint"]
        assert mfc.unit == "ln/min"
        assert mfc.diagnostics() == {
            "channel_state": {"flow": "ok", "setpoint": "ok"},
            "capacity": 2.5,
            "capacity_unit": "ln/min",
        }


def test_default_settings_are_38400_8n1_crlf():
    driver = BronkhorstPropar("/dev/ttyUSB0")
    assert line_settings(driver) == (38400, 8, "N", 1, "\r\n")
    assert driver.node == 3


def test_channels_have_units_once_the_capacity_is_known(mfc):
    assert mfc.channels == [
        Channel("flow", None, "measured flow"),
        Channel("setpoint", None, "flow setpoint", True, 0.0, None),
    ]
    assert mfc.identify() == "Bronkhorst node 3: N2, capacity 100 mln/min"
    assert mfc.channels == [
        Channel("flow", "mln/min", "measured flow"),
        Channel("setpoint", "mln/min", "flow setpoint", True, 0.0, 100.0),
    ]


def test_setpoint_is_written_and_read_back(mfc, model):
    mfc.set_value("setpoint", 25.0)  # before the capacity is known: the driver reads it
    assert model.setpoint == 8000
    assert mfc.get_values() == {"flow": 25.0, "setpoint": 25.0}
    mfc.set_value("setpoint", 0)
    assert mfc.get_values() == {"flow": 0.0, "setpoint": 0.0}


def test_a_setpoint_beyond_the_capacity_is_refused_before_a_reading(mfc, model):
    seen = model.requests_seen
    with pytest.raises(WriteRefused, match="0 to the capacity 100") as caught:
        mfc.set_value("setpoint", 100.5)  # the limit is not known yet: the driver checks it
    assert caught.value.channel == "setpoint"
    assert model.requests_seen == seen + 2  # capacity and unit, no write
    assert model.setpoint == 16000


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("setpoint", -0.1, "below min 0"),
        ("setpoint", 100.01, "above max 100"),
        ("setpoint", float("nan"), "finite number"),
        ("setpoint", "10", "finite number"),
        ("flow", 10.0, "read-only"),
        ("valve", 1.0, "no channel named 'valve'"),
    ],
)
def test_bad_writes_are_refused_before_sending(mfc, model, name, value, words):
    mfc.get_values()
    seen = model.requests_seen
    with pytest.raises(WriteRefused, match=words):
        mfc.set_value(name, value)
    assert model.requests_seen == seen
    assert model.setpoint == 16000


def test_a_setpoint_that_does_not_take_is_refused(mfc, model):
    model.setpoint_source = "analog"
    with pytest.raises(WriteRefused, match="kept setpoint 16000/32000 instead of 8000") as caught:
        mfc.set_value("setpoint", 25.0)
    assert caught.value.command == ":06030101211F40"


class RefusingWrites(BronkhorstProparModel):
    """Answers every setpoint write with status 03 (process error)."""

    def _write(self, message):
        return self._status(0x03, 4)


def test_a_write_the_instrument_refuses_is_write_refused():
    with MemoryDeviceServer(RefusingWrites(noise=0.0, tau=0.0)) as server:
        mfc = BronkhorstPropar(server.url, timeout=TIMEOUT)
        with mfc, pytest.raises(WriteRefused, match="status 03: process error") as caught:
            mfc.set_value("setpoint", 10.0)
        assert isinstance(caught.value.__cause__, ProparStatusError)


def test_measure_over_range_is_left_out_reported_and_logged_once(mfc, model, caplog):
    caplog.set_level(logging.INFO, logger="labnode.drivers.bronkhorst.propar")
    mfc.get_values()
    model.forced_measure = 41942  # 131.07 %, where the measure stops (9.17.023, 4.1)
    for _ in range(3):
        assert mfc.get_values() == {"setpoint": 50.0}
    assert mfc.diagnostics()["channel_state"] == {
        "flow": "over range (131.07 % of capacity or more)",
        "setpoint": "ok",
    }
    model.forced_measure = None
    assert mfc.get_values() == {"flow": 50.0, "setpoint": 50.0}
    records = [r for r in caplog.records if r.name == "labnode.drivers.bronkhorst.propar"]
    assert [r.levelno for r in records] == [logging.WARNING, logging.INFO]
    assert "flow reports over range" in records[0].getMessage()


@pytest.mark.parametrize(
    ("raw", "flow"),
    [(41941, 131.065625), (32000, 100.0), (0, 0.0), (65535, -0.003125), (41943, -73.728125)],
)
def test_measure_below_the_ceiling_is_served_negative_ones_as_bipolar(mfc, model, raw, flow):
    model.forced_measure = raw
    assert mfc.get_values()["flow"] == pytest.approx(flow)
    assert mfc.diagnostics()["channel_state"]["flow"] == "ok"


def test_the_simulator_sends_negative_flow_as_a_bipolar_instrument_does():
    model = BronkhorstProparModel(setpoint=-100, noise=0.0, tau=0.0)  # zero drift below 0
    assert model.feed(b":06030401210120\r\n") == b":0603020121FF9C\r\n"  # 65436 = -100


def test_an_error_status_raises_propar_status_error(mfc):
    unknown = codec.Parameter("nothing", 1, 5, "int")
    with pytest.raises(ProparStatusError, match="status 04: parameter error") as caught:
        mfc.read_parameter(unknown)
    assert caught.value.status == 4
    assert caught.value.command == ":06030401210125"
    copy = pickle.loads(pickle.dumps(caught.value))
    assert (copy.status, str(copy)) == (4, str(caught.value))
    with pytest.raises(ProparStatusError, match="status 0D: read only parameter"):
        mfc.write_parameter(codec.MEASURE, 1)
    assert mfc.get_values() == {"flow": 50.0, "setpoint": 50.0}  # and the port still works


def test_a_long_unit_string_is_cut():
    with (
        MemoryDeviceServer(steady_model(unit="u" * 200)) as server,
        BronkhorstPropar(server.url, timeout=TIMEOUT) as mfc,
    ):
        mfc.get_values()
        assert mfc.diagnostics()["capacity_unit"] == "u" * 16


def test_identify_names_fluid_and_capacity(mfc):
    assert mfc.identify() == "Bronkhorst node 3: N2, capacity 100 mln/min"


def test_capacity_is_read_again_after_a_reconnect(mfc, model):
    assert mfc.get_values()["flow"] == 50.0
    model.capacity = 10.0
    assert mfc.get_values()["flow"] == 50.0  # still the capacity learnt on connect
    mfc.reconnect()
    assert mfc.get_values()["flow"] == 5.0


def test_another_node_stays_silent_so_the_driver_times_out(server):
    reading_fails(BronkhorstPropar(server.url, node=7, timeout=TIMEOUT), InstrumentTimeout)


class WrongAnswers(BronkhorstProparModel):
    """Answers every read with a fixed line."""

    def __init__(self, answer: str) -> None:
        super().__init__(noise=0.0, tau=0.0)
        self.answer = answer

    def handle_line(self, line: str) -> str | None:
        if line == codec.read_request(3, codec.MEASURE):
            return self.answer
        return super().handle_line(line)


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        (":06040201213E80", "from node 3"),  # another node's answer
        (":0403000000", "command 02"),  # status 00 is not an answer with a value
        (":06030201413E80", "process/parameter bytes 0121"),
        (":0403020121", "2 value bytes"),
        (":07030201213E8000", "one int value"),
        (":0503000000", "length byte says 5"),
        (":050300000000", "status message of 2 bytes"),
    ],
)
def test_malformed_answers_are_parse_errors(answer, words):
    with MemoryDeviceServer(WrongAnswers(answer)) as server:
        error = reading_fails(BronkhorstPropar(server.url, timeout=TIMEOUT), ReplyParseError, words)
        assert error.reply == answer


@pytest.mark.parametrize("capacity", [0.0, -5.0, float("inf"), float("nan")])
def test_a_capacity_that_is_not_a_positive_number_is_a_parse_error(capacity):
    with MemoryDeviceServer(steady_model(capacity=capacity)) as server:
        reading_fails(
            BronkhorstPropar(server.url, timeout=TIMEOUT), ReplyParseError, "capacity > 0"
        )


@pytest.mark.parametrize("server_class", [PtyDeviceServer, MemoryDeviceServer])
def test_two_nodes_share_one_line(server_class):
    nodes = {3: steady_model(node=3), 5: steady_model(node=5, capacity=10.0)}
    with server_class(MultiDropModel(list(nodes.values()))) as server:
        first = BronkhorstPropar(server.url, node=3, prefix="a_", timeout=TIMEOUT)
        second = BronkhorstPropar(server.url, node=5, prefix="b_", timeout=TIMEOUT)
        assert first.lock is second.lock  # one exchange at a time on the line
        with first, second:
            second.set_value("b_setpoint", 2.5)
            assert first.get_values() == {"a_flow": 50.0, "a_setpoint": 50.0}
            assert second.get_values() == {"b_flow": 2.5, "b_setpoint": 2.5}
            assert (nodes[3].setpoint, nodes[5].setpoint) == (16000, 8000)
            nodes[5].silent = True  # one node's fault does not stop the other
            with pytest.raises(InstrumentTimeout):
                second.get_values()
            assert first.get_values() == {"a_flow": 50.0, "a_setpoint": 50.0}
            nodes[5].silent = False
            assert second.get_values() == {"b_flow": 2.5, "b_setpoint": 2.5}


def test_prefix_names_the_codenames(server):
    with BronkhorstPropar(server.url, prefix="mfc1_", timeout=TIMEOUT) as mfc:
        assert mfc.get_values() == {"mfc1_flow": 50.0, "mfc1_setpoint": 50.0}


@pytest.mark.parametrize(
    ("keyword", "value"),
    [("node", 0), ("node", 129), ("node", "3"), ("node", True), ("prefix", 5), ("prefix", "a b")],
)
def test_bad_settings_name_the_keyword(keyword, value):
    refuses_setting(BronkhorstPropar, keyword, value)


def test_the_default_simulation_moves_toward_its_setpoint():
    model = create_model("bronkhorst", seed=3)
    with SocketDeviceServer(model) as server, BronkhorstPropar(server.url) as mfc:
        flows = [mfc.get_values()["flow"] for _ in range(5)]
    assert len(set(flows)) > 1
    assert all(45 < flow < 55 for flow in flows)


def test_model_control_commands():
    model = steady_model()
    assert model.control("setpoint", ["8000"]) == "setpoint 8000"
    assert model.control("measure", ["50000"]) == "measure 50000"
    assert model.feed(b":06030401210120\r\n") == b":0603020121C350\r\n"
    assert model.control("measure", ["free"]) == "measure free"
    assert model.feed(b":06030401210120\r\n") == b":06030201211F40\r\n"
    with pytest.raises(LookupError):
        model.control("explode", [])
