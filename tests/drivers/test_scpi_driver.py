"""The generic SCPI driver against the shipped simulated power supply and a TCP instrument."""

from __future__ import annotations

import pytest

from labnode.drivers import (
    Channel,
    DriverConfigError,
    ReplyParseError,
    SerialTransport,
    WriteRefused,
    simulation_yaml,
)
from labnode.drivers.scpi import ScpiDriver
from labnode.drivers.simulation import MemoryDeviceServer, ScriptedLineModel, SocketDeviceServer

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


@pytest.mark.parametrize("queries", [{}, None, ["MEAS?"]])
def test_queries_must_be_a_mapping(queries):
    with pytest.raises(DriverConfigError, match="queries"):
        ScpiDriver("GPIB::9::INSTR", queries=queries)


def test_over_a_serial_url():
    answers = {"MEAS:TEMP?": "+2.31E+01", "*IDN?": "ACME,THERMO,1,1"}
    queries = {"temperature": "MEAS:TEMP?"}
    with (
        SocketDeviceServer(ScriptedLineModel(answers.get)) as instrument,
        ScpiDriver(instrument.url, queries=queries) as driver,
    ):
        assert isinstance(driver.transport, SerialTransport)
        assert driver.get_values() == {"temperature": 23.1}
        assert driver.identify() == "ACME,THERMO,1,1"


# -- writes: pyvisa-sim's own bundled power supply (default.yaml, GPIB::9::INSTR, 1..6 V) --------

DEFAULT_PSU = {
    "queries": {"volt": ":VOLT:IMM:AMPL?", "curr": ":CURR:IMM:AMPL?"},
    "writes": {"volt": ":VOLT:IMM:AMPL {value:.3f}"},
    "error_query": "*ESR?",
}


@pytest.fixture
def default_psu():
    with ScpiDriver("GPIB::9::INSTR", visa_library="@sim", timeout=0.2, **DEFAULT_PSU) as driver:
        before = driver.get_values()["volt"]
        yield driver
        # the simulator keeps its state for the whole process: leave it as found
        driver.write(DEFAULT_PSU["writes"]["volt"].format(value=before))


def test_writes_make_channels_writable(default_psu):
    assert default_psu.channels == [Channel("volt", writable=True), Channel("curr")]
    assert default_psu.codenames == ["volt", "curr"]


@pytest.mark.parametrize("volts", [1.0, 2.5, 6.0])
def test_a_write_within_the_limits_changes_the_readback(default_psu, volts):
    default_psu.set_value("volt", volts)
    assert default_psu.get_values()["volt"] == volts


@pytest.mark.parametrize("volts", [0.5, 6.5, 100])
def test_a_write_the_instrument_refuses_is_write_refused_and_changes_nothing(default_psu, volts):
    default_psu.set_value("volt", 3.25)
    with pytest.raises(WriteRefused) as caught:
        default_psu.set_value("volt", volts)
    error = caught.value
    assert error.channel == "volt" and error.command == f":VOLT:IMM:AMPL {volts:.3f}"
    assert "'32' to *ESR?" in str(error)  # the command error bit of the status register
    assert default_psu.get_values()["volt"] == 3.25
    default_psu.set_value("volt", 4.0)  # the error bit was read and cleared: writes work again
    assert default_psu.get_values()["volt"] == 4.0


def test_a_channel_without_a_write_template_is_read_only(default_psu):
    before = default_psu.get_values()["curr"]
    with pytest.raises(WriteRefused, match="'curr' is read-only"):
        default_psu.set_value("curr", 2.0)
    assert default_psu.get_values()["curr"] == before


def test_without_an_error_query_a_refused_write_goes_unnoticed():
    options = {**DEFAULT_PSU, "error_query": None}
    with ScpiDriver("GPIB::9::INSTR", visa_library="@sim", timeout=0.2, **options) as driver:
        before = driver.get_values()["volt"]
        driver.set_value("volt", 2.0)
        driver.set_value("volt", 9.0)  # the sim ignores it and says nothing unless asked
        assert driver.get_values()["volt"] == 2.0
        driver.set_value("volt", before)  # the simulator's state lasts the process: restore it


def test_an_error_queue_entry_refuses_the_write():
    writes = {"voltage": ":VOLT:IMM:AMPL {value:g}"}
    with ScpiDriver(
        "GPIB::9::INSTR",
        visa_library=PSU,
        queries=QUERIES,
        writes=writes,
        error_query="SYST:ERR?",
    ) as driver:
        driver.set_value("voltage", 24)
        assert driver.get_values()["voltage"] == 24.0
        with pytest.raises(WriteRefused, match="'-100,\"Command error\"' to SYST:ERR?"):
            driver.set_value("voltage", 31)  # the shipped supply goes to 30 V
        assert driver.get_values()["voltage"] == 24.0
        driver.set_value("voltage", 12)  # the simulator keeps state for the whole process


def test_an_unparseable_error_reply_is_a_parse_error(default_psu):
    default_psu.error_query = "*IDN?"
    with pytest.raises(ReplyParseError, match="'SCPI,MOCK,VERSION_1.0'"):
        default_psu.set_value("volt", 2.0)


@pytest.mark.parametrize(
    ("writes", "words"),
    [
        ({"power": ":POW {value}"}, "'power' in writes has no query"),
        ({"volt": ":VOLT {}"}, "one {value} field"),
        ({"volt": ":VOLT 5"}, "one {value} field"),
        ({"volt": ":VOLT {value} {other}"}, "one {value} field"),
        ({"volt": ":VOLT {value:q}"}, "one {value} field"),
        ({"volt": 5}, "one {value} field"),
        (["volt"], "writes must be a mapping"),
    ],
)
def test_bad_writes_are_config_errors_naming_writes(writes, words):
    with pytest.raises(DriverConfigError) as caught:
        ScpiDriver("GPIB::9::INSTR", queries={"volt": ":VOLT?"}, writes=writes)
    assert caught.value.setting == "writes" and words in str(caught.value)


def test_error_query_must_be_a_command():
    with pytest.raises(DriverConfigError) as caught:
        ScpiDriver("GPIB::9::INSTR", queries={"volt": ":VOLT?"}, error_query="")
    assert caught.value.setting == "error_query"


class SerialSupply:
    """A SCPI supply on RS-232 with an error queue: VOLT 0..30 V, -222 when out of range."""

    def __init__(self) -> None:
        self.volts = 5.0
        self.errors: list[str] = []

    def answer(self, command: str) -> str | None:
        if command == "VOLT?":
            return f"{self.volts:+.4E}"
        if command == "SYST:ERR?":
            return self.errors.pop(0) if self.errors else '+0,"No error"'
        if command.startswith("VOLT "):
            value = float(command.split()[1])
            if 0 <= value <= 30:
                self.volts = value
            else:
                self.errors.append('-222,"Data out of range"')
        return None


def test_writes_over_a_serial_line_with_an_error_queue():
    supply = SerialSupply()
    with (
        MemoryDeviceServer(ScriptedLineModel(supply.answer)) as server,
        ScpiDriver(
            server.url,
            queries={"volt": "VOLT?"},
            writes={"volt": "VOLT {value:.2f}"},
            error_query="SYST:ERR?",
            timeout=0.2,
        ) as driver,
    ):
        driver.set_value("volt", 12.5)
        assert driver.get_values() == {"volt": 12.5}
        with pytest.raises(WriteRefused, match='-222,"Data out of range".*VOLT 31.00'):
            driver.set_value("volt", 31)
        assert driver.get_values() == {"volt": 12.5}
        assert server.model.commands[-3:] == ["VOLT 31.00", "SYST:ERR?", "VOLT?"]
