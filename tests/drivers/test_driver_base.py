"""The Driver base: settings, transport choice, lifecycle, codenames, parse errors."""

from __future__ import annotations

import pickle

import pytest

from labnode.drivers import (
    ConnectionLost,
    Driver,
    DriverConfigError,
    DriverError,
    InstrumentTimeout,
    ReplyParseError,
    SerialDriver,
    SerialTransport,
    VisaDriver,
    VisaTransport,
    simulation_yaml,
)
from labnode.drivers.simulation import ScriptedLineModel, SocketDeviceServer

PSU = f"{simulation_yaml('scpi')}@sim"


class SigGen(VisaDriver):
    """The example of the brief: pyvisa-sim's default signal generator."""

    def get_values(self):
        return {"freq": float(self.query("?FREQ")), "amp": float(self.query("?AMP"))}


class Echo(Driver):
    """Reads back what it sends: loop:// or an echoing TCP instrument."""

    def get_values(self):
        return {"x": self.parse_float(self.query("1.5"), "1.5")}


class Garbage(SerialDriver):
    """Parses its own command, which is not a number, with a bare float()."""

    def get_values(self):
        return {"x": float(self.query("not-a-number"))}


class Declared(SerialDriver):
    """Declares its codenames up front."""

    codenames = ["a", "b"]

    def get_values(self):
        return {"a": 1.0, "b": 2.0}


class Configured(SerialDriver):
    """Writes a setup command on connect, which can be made to fail."""

    default_settings = {"timeout": 0.1, "read_termination": "\r\n"}
    fail = False

    def on_connect(self):
        self.write("SETUP")
        if self.fail:
            raise InstrumentTimeout("no ack", driver="Configured")

    def get_values(self):
        return {}


def test_brief_example_with_pyvisa_sim():
    with SigGen("GPIB::8::INSTR", visa_library="@sim") as sg:
        assert sg.get_values() == {"freq": 100.0, "amp": 1.0}
        assert sg.identify() == "ERROR"  # the default device knows ?IDN, not *IDN?


def test_transport_follows_the_resource():
    assert isinstance(Echo("GPIB::8::INSTR").transport, VisaTransport)
    assert isinstance(Echo("TCPIP::10.0.0.1::5025::SOCKET").transport, VisaTransport)
    assert isinstance(Echo("ASRL/dev/ttyUSB0::INSTR").transport, VisaTransport)
    assert isinstance(Echo("USB0::0x2A8D::0x1301::MY1::INSTR").transport, VisaTransport)
    for serial_resource in ("/dev/ttyUSB0", "COM3", "socket://[::1]:5000", "loop://"):
        assert isinstance(Echo(serial_resource).transport, SerialTransport)
    assert isinstance(SigGen("loop://").transport, VisaTransport)  # forced
    assert isinstance(Garbage("GPIB::8::INSTR").transport, SerialTransport)  # forced


def test_unknown_keyword_names_it_and_lists_accepted():
    with pytest.raises(DriverConfigError) as caught:
        Garbage("loop://", baud=9600)
    message = str(caught.value)
    assert "'baud'" in message and "baudrate" in message and "read_termination" in message
    assert "Garbage" in message
    with pytest.raises(DriverConfigError, match="visa_library"):
        Garbage("loop://", visa_library="@sim")
    with pytest.raises(DriverConfigError, match="'baudrat'"):
        SigGen("GPIB::8::INSTR", baudrat=1)


def test_lifecycle_and_properties():
    driver = Echo("loop://", timeout=0.1)
    assert not driver.is_connected
    assert driver.resource == "loop://"
    assert repr(driver) == "Echo('loop://')"
    with pytest.raises(ConnectionLost, match="not connected"):
        driver.query("x")
    with driver as entered:
        assert entered is driver and driver.is_connected
        driver.connect()  # no-op when connected
        driver.reconnect()
        assert driver.is_connected and driver.query("ping") == "ping"
    assert not driver.is_connected
    driver.close()  # idempotent


def test_codenames_from_the_first_reading_or_the_class():
    with Echo("loop://", timeout=0.1) as driver:
        assert driver.codenames is None
        assert driver.get_values() == {"x": 1.5}
        assert driver.codenames == ["x"]
    assert Declared("loop://").codenames == ["a", "b"]


def test_bare_value_error_becomes_reply_parse_error_naming_the_reply():
    with Garbage("loop://", timeout=0.1) as driver, pytest.raises(ReplyParseError) as caught:
        driver.get_values()
    error = caught.value
    assert isinstance(error, ValueError)
    assert error.reply == "not-a-number"
    assert "'not-a-number'" in str(error) and "Garbage" in str(error) and "loop://" in str(error)
    assert driver.codenames is None


def test_parse_float():
    driver = Echo("loop://")
    assert driver.parse_float(" +1.5E+00\r") == 1.5
    with pytest.raises(ReplyParseError) as caught:
        driver.parse_float("1,5", "MEAS?")
    assert caught.value.command == "MEAS?" and caught.value.reply == "1,5"
    assert "'1,5'" in str(caught.value) and "MEAS?" in str(caught.value)


def test_default_settings_and_on_connect():
    with SocketDeviceServer(ScriptedLineModel(lambda command: None)) as instrument:
        driver = Configured(instrument.url)
        assert driver.transport.timeout == 0.1
        assert driver.transport.read_termination == "\r\n"
        driver.connect()
        assert driver.is_connected
        driver.close()
        driver.fail = True
        with pytest.raises(InstrumentTimeout):
            driver.connect()
        assert not driver.is_connected  # a failed setup leaves the port closed
        assert instrument.model.commands.count("SETUP") == 2


def test_errors_survive_pickling():
    error = ReplyParseError("bad", reply="x", driver="D", resource="loop://", command="Q?")
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is ReplyParseError and str(copy) == str(error)
    assert (copy.reply, copy.driver, copy.resource, copy.command) == ("x", "D", "loop://", "Q?")
    assert issubclass(InstrumentTimeout, DriverError)
    assert issubclass(InstrumentTimeout, TimeoutError)
    assert issubclass(ConnectionLost, ConnectionError)


def test_abstract_driver_cannot_be_instantiated():
    with pytest.raises(TypeError):
        Driver("loop://")


def test_diagnostics_default_to_nothing():
    assert Echo("loop://").diagnostics() == {}


def test_not_connected_message_gives_operators_no_python_calls():
    with pytest.raises(ConnectionLost) as caught:
        Echo("loop://").query("x")
    assert "()" not in str(caught.value) and "not connected" in str(caught.value)


def test_each_error_type_names_its_own_extra():
    assert ReplyParseError("bad").reply is None
    assert DriverConfigError("bad", setting="baudrate").setting == "baudrate"
    with pytest.raises(TypeError, match="ReplyParseError takes no keyword 'setting'"):
        ReplyParseError("bad", setting="baudrate")
    with pytest.raises(TypeError, match="InstrumentTimeout takes no keyword 'reply'"):
        InstrumentTimeout("late", reply="x")
