"""The pymeasure driver: real PyMeasure instruments on pyvisa-sim files of ours.

PyMeasure's own Keithley2000 on labnode/drivers/pymeasure/driver.yaml, and a PyMeasure bench
supply with channels (pymeasure_supply.py) on pymeasure_supply.yaml. The contract test
(silence, garbage, late replies, a vanishing instrument over a real socket) runs it too, from
driver_cases.py.
"""

from __future__ import annotations

import gc
import logging
import sys
import threading
from pathlib import Path

import pytest

from labnode.drivers import (
    DriverConfigError,
    InstrumentTimeout,
    ReplyParseError,
    WriteRefused,
    resolve_driver,
    simulation_yaml,
)
from labnode.drivers.pymeasure import PyMeasureDriver
from labnode.drivers.registry import list_drivers
from labnode.drivers.scpi import ScpiDriver
from labnode.drivers.transports import lock_for, resource_manager

pytestmark = pytest.mark.filterwarnings("ignore:It is not known whether this device:FutureWarning")

KEITHLEY = "pymeasure.instruments.keithley.Keithley2000"
DMM = "GPIB::16::INSTR"
DMM_SIM = f"{simulation_yaml('pymeasure')}@sim"
SUPPLY = "tests.drivers.pymeasure_supply:BenchSupply"
SUPPLY_RESOURCE = "TCPIP::192.168.0.30::INSTR"
SUPPLY_SIM = f"{Path(__file__).with_name('pymeasure_supply.yaml')}@sim"


def keithley(channels=None, **settings) -> PyMeasureDriver:
    return PyMeasureDriver(
        DMM,
        instrument=KEITHLEY,
        channels={"voltage": "voltage"} if channels is None else channels,
        visa_library=DMM_SIM,
        **settings,
    )


def supply(channels, **settings) -> PyMeasureDriver:
    return PyMeasureDriver(
        SUPPLY_RESOURCE, instrument=SUPPLY, channels=channels, visa_library=SUPPLY_SIM, **settings
    )


def test_registered_and_listed():
    assert resolve_driver("pymeasure") is PyMeasureDriver
    assert dict(list_drivers())["pymeasure"].startswith("Any PyMeasure instrument")


def test_reads_the_keithley_2000_properties_through_pymeasure():
    dmm = keithley({"voltage": "voltage", "nplc": "voltage_nplc", "range": "voltage_range"})
    with dmm:
        assert dmm.get_values() == {"voltage": 1.23456, "nplc": 1.0, "range": 10.0}
        assert dmm.identify().startswith("KEITHLEY INSTRUMENTS INC.,MODEL 2000")
        assert dmm.transport.last_command == "*IDN?"  # PyMeasure's I/O goes through labnode
    assert dmm.codenames == ["voltage", "nplc", "range"]
    voltage, nplc, volt_range = dmm.channels
    assert not voltage.writable and voltage.description.startswith("Get a DC or AC voltage")
    assert nplc.writable and (nplc.min, nplc.max) == (None, None)  # PyMeasure checks no range
    assert volt_range.writable and (volt_range.min, volt_range.max) == (0.0, 1010.0)


def test_a_list_of_properties_names_its_own_codenames():
    with keithley(["voltage", "voltage_digits"]) as dmm:
        assert dmm.get_values() == {"voltage": 1.23456, "voltage_digits": 6.0}


def test_a_settable_property_is_written_and_read_back():
    with keithley({"nplc": "voltage_nplc", "digits": "voltage_digits"}) as dmm:
        dmm.set_value("nplc", 5)
        dmm.set_value("digits", 4.0)  # PyMeasure formats it with %d
        assert dmm.transport.last_command == ":SENS:VOLT:DIG 4"
        assert dmm.get_values() == {"nplc": 5.0, "digits": 4.0}


def test_a_value_outside_a_pymeasure_range_is_refused_before_any_io():
    with keithley({"range": "voltage_range"}) as dmm:
        dmm.get_values()
        before = dmm.transport.last_command
        with pytest.raises(WriteRefused, match="above max 1010") as caught:
            dmm.set_value("range", 2000)  # PyMeasure itself would truncate it to 1010
        assert caught.value.channel == "range"
        assert dmm.transport.last_command == before
        assert dmm.get_values() == {"range": 10.0}


def test_a_measurement_is_read_only():
    with keithley() as dmm, pytest.raises(WriteRefused, match="read-only"):
        dmm.set_value("voltage", 1.0)


def test_channels_of_a_multi_output_instrument_and_a_refusing_validator():
    psu = supply({"v1": "ch_1.voltage", "set2": "ch_2.voltage_setpoint", "track": "tracking"})
    with psu:
        assert psu.get_values() == {"v1": 4.998, "set2": 0.0, "track": 0.0}
        psu.set_value("set2", 12.5)
        psu.set_value("track", 2)
        assert psu.get_values() == {"v1": 4.998, "set2": 12.5, "track": 2.0}
        with pytest.raises(WriteRefused, match="not in the discrete set") as caught:
            psu.set_value("track", 1.5)  # strict_discrete_set: PyMeasure refuses, nothing sent
        assert caught.value.channel == "track" and caught.value.command is None
        assert psu.get_values()["track"] == 2.0
    assert [(c.name, c.min, c.max) for c in psu.channels][1] == ("set2", 0.0, 30.0)


def test_a_reply_pymeasure_cannot_parse_names_the_reply():
    dmm = keithley({"reference": "voltage_reference"})  # the sim answers ERROR
    with dmm, pytest.raises(ReplyParseError) as caught:
        dmm.get_values()
    assert caught.value.reply.strip() == "ERROR"
    assert caught.value.command == ":SENS:VOLT:REF?"
    assert "'ERROR" in str(caught.value) and "PyMeasureDriver" in str(caught.value)


def test_no_reply_is_an_instrument_timeout_after_pymeasures_timeout_then_it_reads_again():
    dmm = keithley({"voltage": "voltage", "freq_ref": "frequency_reference"}, timeout=200)
    with dmm:
        assert dmm.transport.timeout == pytest.approx(0.2)  # taken from the pyvisa resource
        with pytest.raises(InstrumentTimeout, match="within 0.2 s") as caught:
            dmm.get_values()
        assert caught.value.command == ":SENS:FREQ:REF?"
        dmm.properties.pop("freq_ref")
        assert dmm.get_values() == {"voltage": 1.23456}


def test_pyvisa_keywords_reach_the_resource():
    with keithley(timeout=1500, read_termination="\n", gpib={"write_termination": "\r\n"}) as dmm:
        connection = dmm.instrument.adapter.connection
        assert connection.timeout == 1500 and connection.read_termination == "\n"
        assert connection.write_termination == "\r\n"  # from the interface table
        assert dmm.transport.read_termination == "\n"
        assert dmm.get_values() == {"voltage": 1.23456}


@pytest.mark.parametrize(
    ("settings", "key", "says"),
    [
        ({"baud_rate": 9600}, "baud_rate", "GPIBInstrument"),  # a serial setting on GPIB
        ({"baudrate": 9600}, "baudrate", "not a keyword of Keithley2000"),
        ({"no_such_key": 1}, "no_such_key", "not a keyword"),
        ({"adapter": "GPIB::17::INSTR"}, "adapter", "not a keyword"),  # that is the resource
        ({"timeout": 2}, "timeout", "milliseconds"),
        ({"gpib": 3}, "gpib", "must be a table"),
        ({"visa_library": "@nosuch"}, "visa_library", "@nosuch"),
    ],
)
def test_a_wrong_key_names_the_key(settings, key, says):
    with pytest.raises(DriverConfigError, match=says) as caught:
        PyMeasureDriver(DMM, instrument=KEITHLEY, channels={"voltage": "voltage"}, **settings)
    assert caught.value.setting == key


@pytest.mark.parametrize(
    ("channels", "says"),
    [
        ({"v": "voltag"}, "has no property 'voltag'; did you mean voltage"),
        ({"v": "measure_voltage"}, "is a method, not a property"),
        ({"v": "ch_1.voltage"}, "no channel 'ch_1'"),
        ({"bad name": "voltage"}, "whitespace"),
        ({"v": 3}, "string"),
        ({}, "must map codenames"),
        ("voltage", "must map codenames"),
    ],
)
def test_a_missing_property_names_channels(channels, says):
    with pytest.raises(DriverConfigError, match=says) as caught:
        keithley(channels)
    assert caught.value.setting == "channels"


def test_a_write_only_setting_cannot_be_a_channel():
    from pymeasure.instruments import Instrument

    class Relay(Instrument):
        """A relay that can be switched and never read."""

        state = Instrument.setting("RELAY %d", """Set the relay.""")

    sys.modules[__name__].Relay = Relay  # findable by path, as a user's module would be
    try:
        with pytest.raises(DriverConfigError, match="can only be set") as caught:
            PyMeasureDriver(DMM, instrument=f"{__name__}:Relay", channels={"s": "state"})
    finally:
        del sys.modules[__name__].Relay
    assert caught.value.setting == "channels"


def test_a_missing_channel_of_a_multi_output_instrument_suggests_the_right_ones():
    with pytest.raises(DriverConfigError, match=r"did you mean ch_[12], ch_[12]\?") as caught:
        supply({"v": "ch_3.voltage"})
    assert caught.value.setting == "channels"


@pytest.mark.parametrize(
    ("instrument", "says"),
    [
        ("pymeasure.instruments.keithley.NoSuch", "no Instrument subclass named 'NoSuch'"),
        ("pymeasure.no_such_module:Meter", "cannot import 'pymeasure.no_such_module'"),
        ("labnode.drivers.scpi:ScpiDriver", "no Instrument subclass"),
        ("", "non-empty string"),
        ("Keithley2000", "full path"),
    ],
)
def test_a_bad_instrument_path_names_instrument(instrument, says):
    with pytest.raises(DriverConfigError, match=says) as caught:
        PyMeasureDriver(DMM, instrument=instrument, channels={"v": "voltage"})
    assert caught.value.setting == "instrument"


def test_without_pymeasure_the_error_says_how_to_install_it(monkeypatch):
    for name in [n for n in sys.modules if n == "pymeasure" or n.startswith("pymeasure.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "pymeasure", None)  # what an absent package imports as
    with pytest.raises(DriverConfigError, match=r"pip install 'labnode\[pymeasure\]'") as caught:
        keithley()
    assert caught.value.setting == "instrument"


def test_closing_leaves_the_shared_sim_library_open():
    """PyMeasure's VISAAdapter closes the '@sim' ResourceManager when it is closed or collected;
    labnode's other '@sim' drivers share that manager."""
    resource = "GPIB0::8::INSTR"  # in pyvisa-sim's own file
    dmm = PyMeasureDriver(resource, instrument=KEITHLEY, channels=["voltage"], visa_library="@sim")
    dmm.connect()
    dmm.close()
    del dmm
    gc.collect()
    resource_manager("@sim").open_resource(resource).close()  # InvalidSession once closed


def test_it_shares_the_port_lock_of_labnodes_other_drivers():
    dmm = keithley()
    scpi = ScpiDriver("GPIB0::16::INSTR", queries={"v": ":READ?"}, visa_library=DMM_SIM)
    assert dmm.lock is scpi.lock is lock_for(DMM)
    done = threading.Event()
    values = {}

    def read() -> None:
        values.update(dmm.get_values())
        done.set()

    with dmm:
        with scpi.lock:  # another driver's exchange is under way
            reader = threading.Thread(target=read)
            reader.start()
            assert not done.wait(0.2), "PyMeasure talked while another driver held the port"
        assert done.wait(5)
    reader.join(5)
    assert values == {"voltage": 1.23456}


def test_reconnecting_does_not_pile_up_log_handlers():
    """Each PyMeasure adapter adds a NullHandler to the "Adapter" logger when it is built."""
    dmm = keithley()
    for _ in range(20):
        dmm.reconnect()
    dmm.close()
    handlers = logging.getLogger("Adapter").handlers
    assert sum(type(h) is logging.NullHandler for h in handlers) <= 1
