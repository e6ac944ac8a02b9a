"""Alicat mass flow driver against its simulated unit, over pyserial AND pyvisa-py.

The same driver class talks to the same simulated unit through four real transports:
pyserial on `socket://` and on a pty, pyvisa-py on `TCPIP::...::SOCKET` and on `ASRL<pty>::INSTR`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from hypothesis import given
from hypothesis import strategies as st

from labnode.drivers import (
    ConnectionLost,
    DriverConfigError,
    InstrumentTimeout,
    ReplyParseError,
    SerialTransport,
    VisaTransport,
    WriteRefused,
)
from labnode.drivers.alicat.mass_flow import AlicatMassFlow, DataFrame, parse_data_frame
from labnode.drivers.alicat.mass_flow_sim import AlicatMassFlowModel
from labnode.drivers.simulation import (
    MemoryDeviceServer,
    MultiDropModel,
    PtyDeviceServer,
    SocketDeviceServer,
)
from tests.drivers.driver_checks import reading_fails

TIMEOUT = 0.25
TRANSPORTS = {
    "pyserial-socket": (SocketDeviceServer, "url", SerialTransport),
    "pyserial-pty": (PtyDeviceServer, "url", SerialTransport),
    "pyvisa-tcpip-socket": (SocketDeviceServer, "visa_resource", VisaTransport),
    "pyvisa-asrl-pty": (PtyDeviceServer, "visa_resource", VisaTransport),
}


class FrozenClock:
    """Time stands still: settled values, no lag."""

    def __call__(self) -> float:
        return 0.0


def quiet_model(**options) -> AlicatMassFlowModel:
    """A controller whose readings carry no noise."""
    model = AlicatMassFlowModel(clock=FrozenClock(), **options)
    for value in (model.pressure_psia, model.temperature_c, model.mass_flow):
        value.noise = 0.0
    return model


EXPECTED = {
    "pressure": 14.70,
    "temperature": 25.00,
    "volumetric_flow": 19.99,
    "mass_flow": 20.00,
    "setpoint": 20.00,
}


@contextmanager
def serving(transport: str, model: AlicatMassFlowModel) -> Iterator[tuple[object, str]]:
    server_class, attribute, _ = TRANSPORTS[transport]
    with server_class(model) as server:
        yield server, getattr(server, attribute)


@pytest.fixture(params=list(TRANSPORTS))
def transport(request) -> str:
    return request.param


@pytest.fixture
def model() -> AlicatMassFlowModel:
    return quiet_model()


@pytest.fixture
def connected(transport, model):
    with serving(transport, model) as (server, resource):
        driver = AlicatMassFlow(resource, timeout=TIMEOUT)
        with driver:
            yield driver, server


def test_reads_a_data_frame_over_every_transport(transport, connected):
    driver, _ = connected
    assert isinstance(driver.transport, TRANSPORTS[transport][2])
    assert driver.get_values() == pytest.approx(EXPECTED, abs=0.011)
    assert driver.codenames == list(EXPECTED)
    assert driver.last_frame.gas == "N2"


def test_identify_reads_the_ten_manufacturer_lines(connected):
    driver, _ = connected
    assert (
        driver.identify() == "Alicat Scientific MC-100SCCM-D, serial 123456, software 10v05.0-R24"
    )
    assert driver.get_values()  # nothing left unread behind


def test_setpoint_is_set_and_answered_with_a_data_frame(connected, model):
    driver, _ = connected
    assert driver.set_setpoint(42.5)["setpoint"] == 42.5
    assert model.setpoint == 42.5


@pytest.mark.parametrize("transport", ["pyserial-pty", "pyvisa-asrl-pty"])
def test_pty_hang_up_is_connection_lost(transport, model):
    # Transport coverage (pyvisa-py ASRL on a hung-up pty); the driver contract is in
    # test_driver_contract.py.
    with serving(transport, model) as (server, resource):
        driver = AlicatMassFlow(resource, timeout=TIMEOUT)
        driver.connect()
        server.vanish()
        with pytest.raises(ConnectionLost):
            driver.get_values()
        driver.close()


def test_a_unit_with_another_id_stays_silent():
    with serving("pyserial-pty", quiet_model(unit_id="B")) as (_, resource):
        reading_fails(AlicatMassFlow(resource, unit_id="A", timeout=TIMEOUT), InstrumentTimeout)
        with AlicatMassFlow(resource, unit_id="B", timeout=TIMEOUT) as driver:
            assert driver.get_values()["mass_flow"] == pytest.approx(20.0)


def test_a_meter_has_no_setpoint_and_rejects_one():
    with serving("pyserial-pty", quiet_model(controller=False)) as (_, resource):
        driver = AlicatMassFlow(resource, timeout=TIMEOUT)
        with driver:
            values = driver.get_values()
            assert set(values) == {"pressure", "temperature", "volumetric_flow", "mass_flow"}
            with pytest.raises(ReplyParseError, match="'\\?'"):
                driver.set_setpoint(10)


def test_over_range_fields_are_left_out(model):
    with serving("pyserial-pty", model) as (_, resource):
        driver = AlicatMassFlow(resource, prefix="mfc_", timeout=TIMEOUT)
        with driver:
            model.status_codes = ["MOV", "LCK"]
            values = driver.get_values()
            assert "mfc_mass_flow" not in values
            assert values["mfc_pressure"] == pytest.approx(14.7)
            assert driver.last_frame.status_codes == ["MOV", "LCK"]
            assert driver.codenames == ["mfc_" + name for name in EXPECTED]
            model.status_codes = ["ADC"]
            assert driver.get_values() == {}


def test_configured_fields_name_the_columns():
    fields = ("p", "t", "vol", "mass", "total")
    with serving("pyserial-pty", quiet_model(controller=True)) as (_, resource):
        driver = AlicatMassFlow(resource, fields=fields, timeout=TIMEOUT)
        assert driver.codenames == list(fields)
        with driver:
            assert set(driver.get_values()) == set(fields)
        driver = AlicatMassFlow(resource, fields=("only", "three", "names"), timeout=TIMEOUT)
        reading_fails(driver, ReplyParseError, "3 numbers")


def test_default_settings_per_transport():
    serial_driver = AlicatMassFlow("/dev/ttyUSB0")
    assert serial_driver.settings["baudrate"] == 19200
    assert serial_driver.transport.read_termination == "\r"
    assert AlicatMassFlow("ASRL/dev/ttyUSB0::INSTR").settings["baudrate"] == 19200
    assert "baudrate" not in AlicatMassFlow("TCPIP::10.0.0.5::4000::SOCKET").settings
    assert AlicatMassFlow("/dev/ttyUSB0", baudrate=38400).settings["baudrate"] == 38400


@pytest.mark.parametrize("unit_id", ["", "a", "AB", "1"])
def test_bad_unit_id_is_a_config_error(unit_id):
    with pytest.raises(DriverConfigError, match="unit_id"):
        AlicatMassFlow("/dev/ttyUSB0", unit_id=unit_id)


def test_values_move_in_the_default_simulation():
    with serving("pyserial-pty", AlicatMassFlowModel(seed=5)) as (_, resource):
        driver = AlicatMassFlow(resource, timeout=TIMEOUT)
        with driver:
            flows = [driver.get_values()["mass_flow"] for _ in range(8)]
    assert len(set(flows)) > 1
    assert all(15 < flow < 25 for flow in flows)


# -- the data frame and the simulated unit, in-process -------------------------------------------


def test_parse_data_frame():
    frame = parse_data_frame("A +014.70 +025.00 +000.00 +000.00 +000.00 N2 MOV HLD")
    assert frame == DataFrame("A", [14.7, 25.0, 0.0, 0.0, 0.0], "N2", ["MOV", "HLD"])


@pytest.mark.parametrize(
    "reply", ["", "?", "A", "A N2", "A +014.70", "a +1 N2", "AB +1 N2", "A +014.70 +025.00"]
)
def test_parse_data_frame_rejects_malformed_replies(reply):
    with pytest.raises(ValueError):
        parse_data_frame(reply)


@given(
    st.sampled_from("ABCZ"),
    st.lists(st.floats(-999.99, 999.99, allow_nan=False), min_size=1, max_size=7),
    st.sampled_from(["N2", "Air", "CO2", "He"]),
    st.lists(st.sampled_from(["MOV", "VOV", "POV", "TOV", "LCK", "HLD", "ADC"]), max_size=3),
)
def test_parse_data_frame_round_trips(unit_id, numbers, gas, codes):
    text = " ".join([unit_id, *(f"{number:+07.2f}" for number in numbers), gas, *codes])
    frame = parse_data_frame(text)
    assert frame.unit_id == unit_id and frame.gas == gas and frame.status_codes == codes
    assert frame.numbers == pytest.approx(numbers, abs=0.006)


def test_model_commands():
    model = quiet_model()
    assert model.feed(b"A\r") == b"A +014.70 +025.00 +019.99 +020.00 +020.00 N2\r"
    assert model.feed(b"AG4\r").endswith(b" CO2\r")
    assert model.feed(b"AG99\r") == b"?\r"
    assert model.feed(b"AS 150\r") == b"?\r"  # above full scale
    assert model.feed(b"ASx\r") == b"?\r"
    assert model.feed(b"AVE\r") == b"A 10v05.0-R24\r"
    assert model.feed(b"AZZ\r") == b"?\r"
    assert model.feed(b"B\r") == b""
    assert model.feed(b"A??M*\r").count(b"\r") == 10


def test_model_control_commands():
    model = quiet_model()
    assert model.control("setpoint", ["12.5"]) == "setpoint 12.5"
    assert model.setpoint == 12.5
    assert model.control("status-codes", ["mov", "lck"]) == "status-codes MOV LCK"
    assert model.feed(b"A\r").endswith(b"N2 MOV LCK\r")
    with pytest.raises(LookupError):
        model.control("explode", [])


def test_identify_refuses_garbage_and_falls_back_to_ve_on_old_firmware(model):
    with serving("pyserial-pty", model) as (_, resource):
        driver = AlicatMassFlow(resource, timeout=TIMEOUT)
        with driver:
            model.garbage = True
            with pytest.raises(ReplyParseError, match="manufacturer line"):
                driver.identify()
            model.garbage = False
            model.manufacturer_lines = lambda: ["?"]  # older firmware: ??M* is unknown
            assert driver.identify() == "Alicat unit A, firmware 10v05.0-R24"


def test_diagnostics_give_the_last_status_codes_and_changes_are_logged_once(caplog):
    model = quiet_model()
    with SocketDeviceServer(model) as server, AlicatMassFlow(server.url, timeout=TIMEOUT) as driver:
        caplog.set_level(logging.INFO, logger="labnode.drivers.alicat.mass_flow")
        assert driver.diagnostics() == {}
        driver.get_values()
        assert driver.diagnostics() == {"status_codes": [], "gas": "N2"}
        model.status_codes = ["MOV", "LCK"]
        for _ in range(3):
            assert "mass_flow" not in driver.get_values()
        assert driver.diagnostics() == {"status_codes": ["MOV", "LCK"], "gas": "N2"}
        model.status_codes = []
        driver.get_values()
        driver.get_values()
    records = [r for r in caplog.records if r.name == "labnode.drivers.alicat.mass_flow"]
    assert [r.levelno for r in records] == [logging.WARNING, logging.INFO]
    assert "MOV LCK" in records[0].getMessage()


# -- the setpoint as a writable channel ----------------------------------------------------------


def test_set_value_writes_the_setpoint_and_the_frame_reads_it_back(connected, model):
    driver, _ = connected
    driver.get_values()
    driver.set_value("setpoint", 42.5)
    assert model.setpoint == 42.5
    assert driver.get_values()["setpoint"] == 42.5
    driver.set_value("setpoint", 0)
    assert driver.get_values()["setpoint"] == 0.0


def test_channels_learn_units_and_full_scale_from_the_model_number(model):
    with serving("pyserial-pty", model) as (_, resource):
        driver = AlicatMassFlow(resource, prefix="mfc_", timeout=TIMEOUT)
        with driver:
            assert driver.channels == []  # columns not known before the first frame
            driver.get_values()
            setpoint = driver.channels[-1]
            assert (setpoint.name, setpoint.writable, setpoint.min, setpoint.max) == (
                "mfc_setpoint",
                True,
                0.0,
                None,
            )
            driver.identify()
            units = {channel.name: channel.unit for channel in driver.channels}
            assert units == {
                "mfc_pressure": "psia",
                "mfc_temperature": "degC",
                "mfc_volumetric_flow": "CCM",
                "mfc_mass_flow": "SCCM",
                "mfc_setpoint": "SCCM",
            }
            assert driver.channels[-1].max == 100.0
            assert [c.name for c in driver.channels if c.writable] == ["mfc_setpoint"]


def test_a_setpoint_beyond_full_scale_is_refused_by_the_unit_or_by_the_channel(model):
    with serving("pyserial-pty", model) as (_, resource):
        driver = AlicatMassFlow(resource, timeout=TIMEOUT)
        with driver:
            driver.get_values()
            with pytest.raises(WriteRefused, match="answered '\\?'") as caught:
                driver.set_value("setpoint", 150)  # full scale unknown: the unit says no
            assert caught.value.command == "AS 150.0000"
            driver.identify()
            seen = model.requests_seen
            with pytest.raises(WriteRefused, match="above max 100"):
                driver.set_value("setpoint", 150)  # now refused before asking the unit
            assert model.requests_seen == seen
            assert model.setpoint == 20.0


def test_a_unit_ignoring_serial_setpoints_is_write_refused(connected, model):
    driver, _ = connected
    driver.get_values()
    model.control("setpoint-source", ["analog"])
    with pytest.raises(WriteRefused, match=r"kept setpoint \+020.00 instead of 30") as caught:
        driver.set_value("setpoint", 30)
    assert caught.value.channel == "setpoint"
    assert model.setpoint == 20.0
    model.control("setpoint-source", ["serial"])
    driver.set_value("setpoint", 30)
    assert model.setpoint == 30.0


def test_a_meter_has_no_setpoint_channel():
    with serving("pyserial-pty", quiet_model(controller=False)) as (_, resource):
        driver = AlicatMassFlow(resource, timeout=TIMEOUT)
        with driver:
            driver.get_values()
            assert not any(channel.writable for channel in driver.channels)
            with pytest.raises(WriteRefused, match="no channel named 'setpoint'"):
                driver.set_value("setpoint", 10)


def test_model_setpoint_source_control():
    model = quiet_model()
    assert model.control("setpoint-source", ["analog"]) == "setpoint-source analog"
    assert model.feed(b"AS 50\r").split()[5] == b"+020.00"
    with pytest.raises(ValueError):
        model.control("setpoint-source", ["knob"])


# -- several units on one line -------------------------------------------------------------------


@pytest.mark.parametrize("server_class", [PtyDeviceServer, MemoryDeviceServer])
def test_two_units_share_one_line(server_class):
    units = {unit: quiet_model(unit_id=unit) for unit in "AB"}
    line = MultiDropModel(list(units.values()))
    with server_class(line) as server:
        first = AlicatMassFlow(server.url, unit_id="A", prefix="a_", timeout=TIMEOUT)
        second = AlicatMassFlow(server.url, unit_id="B", prefix="b_", timeout=TIMEOUT)
        assert first.lock is second.lock  # one exchange at a time on the line
        with first, second:
            second.get_values()
            second.set_value("b_setpoint", 35.0)
            assert first.get_values()["a_setpoint"] == 20.0
            assert second.get_values()["b_setpoint"] == 35.0
            assert units["A"].setpoint == 20.0 and units["B"].setpoint == 35.0
            units["B"].silent = True  # one unit's fault does not stop the other
            with pytest.raises(InstrumentTimeout):
                second.get_values()
            assert first.get_values()["a_mass_flow"] == pytest.approx(20.0)
            units["B"].silent = False
            assert second.get_values()["b_setpoint"] == 35.0


def test_a_multidrop_line_needs_a_device():
    with pytest.raises(ValueError):
        MultiDropModel([])
