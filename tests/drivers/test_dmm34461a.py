"""Keysight 34461A against its shipped pyvisa-sim model."""

from __future__ import annotations

import pytest

from labnode.drivers import DriverConfigError, simulation_yaml
from labnode.drivers.keysight.dmm34461a import FUNCTIONS, READINGS, Keysight34461A

SIM = f"{simulation_yaml('dmm34461a')}@sim"


@pytest.mark.parametrize(
    "resource",
    ["GPIB::22::INSTR", "USB0::0x2A8D::0x1301::MY53220001::INSTR", "TCPIP::192.168.0.22::INSTR"],
)
def test_reads_dc_voltage(resource):
    with Keysight34461A(resource, visa_library=SIM) as dmm:
        assert dmm.codenames == ["voltage_dc"]
        values = dmm.get_values()
        assert list(values) == ["voltage_dc"]
        assert 1.234 <= values["voltage_dc"] <= 1.235
        assert dmm.identify().startswith("Keysight Technologies,34461A,")


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_every_function_configures(function):
    with Keysight34461A("GPIB::22::INSTR", visa_library=SIM, function=function) as dmm:
        assert list(dmm.get_values()) == [function]


def test_configure_commands():
    dmm = Keysight34461A(
        "GPIB::22::INSTR", function="resistance_4w", measurement_range=1000, nplc=10
    )
    assert dmm.configure_commands() == ["CONF:FRES 1000", "FRES:NPLC 10"]
    temperature = Keysight34461A("GPIB::22::INSTR", function="temperature")
    assert temperature.configure_commands() == ["CONF:TEMP DEF,DEF"]


def test_nplc_is_sent():
    with Keysight34461A("GPIB::22::INSTR", visa_library=SIM, nplc=1) as dmm:
        assert float(dmm.query("VOLT:DC:NPLC?")) == 1.0


@pytest.mark.parametrize(
    ("keywords", "setting"),
    [({"nplc": 0.06}, "nplc"), ({"measurement_range": 10}, "measurement_range")],
)
def test_refused_configuration_fails_the_connect_naming_the_keyword(keywords, setting):
    dmm = Keysight34461A("GPIB::22::INSTR", visa_library=SIM, **keywords)  # the sim refuses both
    with pytest.raises(DriverConfigError, match="refused") as caught:
        dmm.connect()
    assert caught.value.setting == setting
    assert "\n" not in caught.value.reason
    assert not dmm.is_connected


def test_bad_arguments():
    with pytest.raises(DriverConfigError, match="voltage_dc"):
        Keysight34461A("GPIB::22::INSTR", function="volts")
    with pytest.raises(DriverConfigError, match="nplc"):
        Keysight34461A("GPIB::22::INSTR", function="voltage_ac", nplc=1)
    with pytest.raises(DriverConfigError, match="baudrate"):
        Keysight34461A("GPIB::22::INSTR", baud=9600)


@pytest.mark.parametrize(
    ("keywords", "setting"),
    [
        ({"function": "volts"}, "function"),
        ({"function": ["voltage_dc"]}, "function"),
        ({"function": "voltage_ac", "nplc": 1}, "nplc"),
        ({"nplc": 3}, "nplc"),
        ({"nplc": "10"}, "nplc"),
        ({"nplc": True}, "nplc"),
        ({"measurement_range": "auto-ish"}, "measurement_range"),
        ({"measurement_range": -10}, "measurement_range"),
        ({"measurement_range": float("inf")}, "measurement_range"),
        ({"measurement_range": False}, "measurement_range"),
        ({"function": "temperature", "measurement_range": 100}, "measurement_range"),
        ({"baudrate": 9600}, "baudrate"),
        ({"visa_library": 5}, "visa_library"),
        ({"timeout": 0}, "timeout"),
    ],
)
def test_each_bad_keyword_is_named(keywords, setting):
    with pytest.raises(DriverConfigError) as caught:
        Keysight34461A("GPIB::22::INSTR", **keywords)
    assert caught.value.setting == setting
    assert "\n" not in str(caught.value)


def test_named_and_numeric_ranges():
    assert Keysight34461A("GPIB::22::INSTR", measurement_range="max").configure_commands() == [
        "CONF:VOLT:DC MAX"
    ]
    dmm = Keysight34461A("GPIB::22::INSTR", nplc=0.02, measurement_range=0.1)
    assert dmm.configure_commands() == ["CONF:VOLT:DC 0.1", "VOLT:DC:NPLC 0.02"]


def test_unknown_keyword_lists_the_driver_keywords_too():
    with pytest.raises(DriverConfigError) as caught:
        Keysight34461A("GPIB::22::INSTR", nplcs=1)
    message = str(caught.value)
    assert "'nplcs'" in message and "function, measurement_range, nplc" in message
    assert "visa_library" in message


@pytest.mark.parametrize(
    ("function", "unit"), [("voltage_dc", "V"), ("resistance_4w", "Ohm"), ("frequency", "Hz")]
)
def test_one_read_only_channel_with_its_unit(function, unit):
    dmm = Keysight34461A("GPIB::22::INSTR", function=function)
    (channel,) = dmm.channels
    assert (channel.name, channel.unit, channel.writable) == (function, unit, False)
    assert dmm.codenames == [function]
    assert set(READINGS) == set(FUNCTIONS)
