"""The generic SCPI driver against the shipped simulated power supply and a TCP instrument."""

from __future__ import annotations

import pytest

from labnode.drivers import (
    DriverConfigError,
    InstrumentTimeout,
    ReplyParseError,
    SerialTransport,
    simulation_yaml,
)
from labnode.drivers.scpi import ScpiDriver
from tests.drivers.line_instruments import TcpLineInstrument

PSU = f"{simulation_yaml('scpi')}@sim"
QUERIES = {"voltage": ":VOLT:IMM:AMPL?", "current": ":CURR:IMM:AMPL?"}


@pytest.fixture
def psu():
    with ScpiDriver("GPIB::9::INSTR", visa_library=PSU, queries=QUERIES, timeout=0.1) as driver:
        yield driver


def test_values_and_codenames(psu):
    assert psu.codenames == ["voltage", "current"]
    assert psu.get_values() == {"voltage": 12.0, "current": 0.5}
    assert psu.identify() == "LABNODE,SIM-PSU-3010,SN000009,1.0"


def test_setup_commands_run_on_connect():
    setup = [":VOLT:IMM:AMPL 5", ":CURR:IMM:AMPL 1.25"]
    with ScpiDriver("GPIB::9::INSTR", visa_library=PSU, queries=QUERIES, setup=setup) as driver:
        assert driver.get_values() == {"voltage": 5.0, "current": 1.25}
        assert driver.query("SYST:ERR?") == '+0,"No error"'
        driver.write(":VOLT:IMM:AMPL 12")  # the simulator keeps state for the whole process
        driver.write(":CURR:IMM:AMPL 0.5")


def test_garbage_reply_names_the_reply(psu):
    psu.queries["identity"] = "*IDN?"
    with pytest.raises(ReplyParseError) as caught:
        psu.get_values()
    assert caught.value.command == "*IDN?"
    assert "'LABNODE,SIM-PSU-3010,SN000009,1.0'" in str(caught.value)


def test_no_reply_times_out_then_the_driver_stays_usable(psu):
    psu.queries["silent"] = "*RST"
    with pytest.raises(InstrumentTimeout, match=r"\*RST"):
        psu.get_values()
    del psu.queries["silent"]
    assert psu.get_values() == {"voltage": 12.0, "current": 0.5}


@pytest.mark.parametrize("queries", [{}, None, ["MEAS?"]])
def test_queries_must_be_a_mapping(queries):
    with pytest.raises(DriverConfigError, match="queries"):
        ScpiDriver("GPIB::9::INSTR", queries=queries)


def test_over_a_serial_url():
    answers = {"MEAS:TEMP?": "+2.31E+01", "*IDN?": "ACME,THERMO,1,1"}
    queries = {"temperature": "MEAS:TEMP?"}
    with (
        TcpLineInstrument(answers.get) as instrument,
        ScpiDriver(instrument.url, queries=queries) as driver,
    ):
        assert isinstance(driver.transport, SerialTransport)
        assert driver.get_values() == {"temperature": 23.1}
        assert driver.identify() == "ACME,THERMO,1,1"
