"""Every mistake a [driver] table can hold is a one-line DriverConfigError naming the setting;
absent, busy or refusing instruments stay ConnectionLost (the node retries those)."""

from __future__ import annotations

import importlib.util
import pickle
import sys
from pathlib import Path

import pytest
import pyvisa.highlevel

from labnode.drivers import (
    ConnectionLost,
    DriverConfigError,
    SerialTransport,
    VisaTransport,
    simulation_yaml,
)
from labnode.drivers.alicat.mass_flow import AlicatMassFlow
from labnode.drivers.pfeiffer.tpg26x import TPG26x
from labnode.drivers.scpi import ScpiDriver
from labnode.drivers.simulation import PtyDeviceServer, ScriptedLineModel, SocketDeviceServer
from labnode.drivers.transports import resource_manager, visa_library
from tests.drivers.driver_checks import opened
from tests.drivers.test_driver_base import Echo

PSU = f"{simulation_yaml('scpi')}@sim"
QUERIES = {"voltage": ":VOLT:IMM:AMPL?"}


def config_error(build, setting: str) -> DriverConfigError:
    """Run `build()`; check it raised a one-line DriverConfigError naming `setting`."""
    with pytest.raises(DriverConfigError) as caught:
        build()
    error = caught.value
    assert error.setting == setting, str(error)
    assert "\n" not in str(error) and "\r" not in str(error)
    assert "Traceback" not in str(error)
    return error


def test_setting_survives_pickling():
    error = DriverConfigError("baudrate must be...", setting="baudrate", driver="D", resource="x")
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.setting, copy.reason, copy.driver, copy.resource) == (
        "baudrate",
        "baudrate must be...",
        "D",
        "x",
    )
    assert str(copy) == str(error)
    assert DriverConfigError("no setting").setting is None


def test_reasons_are_one_line():
    error = DriverConfigError("first line\n  second line\r\n", setting="x")
    assert error.reason == "first line second line"


# -- serial settings, at construction --------------------------------------------------------

SERIAL_MISTAKES = [
    ({"baudrate": 0}, "baudrate"),
    ({"baudrate": -9600}, "baudrate"),
    ({"baudrate": "9600"}, "baudrate"),
    ({"baudrate": 9600.5}, "baudrate"),
    ({"baudrate": True}, "baudrate"),
    ({"parity": "X"}, "parity"),
    ({"parity": "none"}, "parity"),
    ({"parity": 0}, "parity"),
    ({"bytesize": 9}, "bytesize"),
    ({"bytesize": 4}, "bytesize"),
    ({"bytesize": "8"}, "bytesize"),
    ({"stopbits": 3}, "stopbits"),
    ({"stopbits": "1"}, "stopbits"),
    ({"stopbits": True}, "stopbits"),
    ({"xonxoff": "yes"}, "xonxoff"),
    ({"rtscts": 1}, "rtscts"),
    ({"dsrdtr": None}, "dsrdtr"),
    ({"exclusive": "true"}, "exclusive"),
    ({"timeout": 0}, "timeout"),
    ({"timeout": -1}, "timeout"),
    ({"timeout": "1"}, "timeout"),
    ({"timeout": float("inf")}, "timeout"),
    ({"timeout": float("nan")}, "timeout"),
    ({"timeout": True}, "timeout"),
    ({"read_termination": b"\n"}, "read_termination"),
    ({"write_termination": 13}, "write_termination"),
    ({"encoding": "klingon"}, "encoding"),
    ({"encoding": 8}, "encoding"),
    ({"encoding": ""}, "encoding"),
    ({"baud": 9600}, "baud"),
    ({"visa_library": "@sim"}, "visa_library"),  # not a serial setting
]


@pytest.mark.parametrize(("settings", "setting"), SERIAL_MISTAKES)
def test_serial_setting_mistakes_are_named_at_construction(settings, setting):
    config_error(lambda: TPG26x("/dev/ttyUSB0", **settings), setting)


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"parity": "e", "stopbits": 1.5, "bytesize": 7}, ("E", 1.5, 7)),
        ({"parity": "O", "stopbits": 2, "bytesize": 5}, ("O", 2, 5)),
    ],
)
def test_good_serial_settings_pass(settings, expected):
    options = SerialTransport("loop://", **settings).options
    assert (options["parity"], options["stopbits"], options["bytesize"]) == expected


@pytest.mark.parametrize(
    "resource",
    [
        "socket://127.0.0.1",
        "socket://127.0.0.1:",
        "socket://127.0.0.1:port",
        "socket://127.0.0.1:70000",
        "socket://127.0.0.1:0",
        "socket://:4001",
        "rfc2217://127.0.0.1",
        "nosuchscheme://127.0.0.1:4001",
        "socket://127.0.0.1:4001?baudrate=9600",
        "socket://127.0.0.1:4001?logging=loud",
        "",
        "   ",
        5,
        None,
        ["/dev/ttyUSB0"],
    ],
)
def test_resource_mistakes_are_named_at_construction(resource):
    config_error(lambda: TPG26x(resource), "resource")


def test_a_baud_rate_the_port_refuses_is_named_at_connect():
    with PtyDeviceServer(ScriptedLineModel()) as instrument:
        driver = Echo(instrument.port, baudrate=4_000_000_000)
        error = config_error(driver.connect, "baudrate")
        assert "check baudrate" in error.reason
        assert not driver.is_connected


def test_reading_lines_without_a_read_termination_names_it():
    transport = SerialTransport("loop://", read_termination="", timeout=0.1)
    with opened(transport):
        error = config_error(transport.read, "read_termination")
        assert "()" not in error.reason


def test_a_path_object_is_a_resource():
    assert TPG26x(Path("/dev/ttyUSB0")).resource == "/dev/ttyUSB0"


# -- VISA settings ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "setting"),
    [
        ({"visa_library": 5}, "visa_library"),
        ({"visa_library": "@nonesuch"}, "visa_library"),
        ({"visa_library": "/nonexistent/labnode/psu.yaml@sim"}, "visa_library"),
        ({"baudrate": 9600}, "baudrate"),  # GPIB has no baud rate
        ({"timeout": "2"}, "timeout"),
        ({"parity": "N"}, "parity"),  # not a VISA setting
    ],
)
def test_visa_setting_mistakes_are_named_at_construction(settings, setting):
    config_error(lambda: ScpiDriver("GPIB::9::INSTR", queries=QUERIES, **settings), setting)


def test_unknown_visa_library_says_what_exists():
    error = config_error(
        lambda: VisaTransport("GPIB::9::INSTR", visa_library="@nonesuch"), "visa_library"
    )
    assert "'@py'" in error.reason and "'@sim'" in error.reason and "'@ivi'" in error.reason


def test_asrl_baudrate_must_be_a_positive_whole_number():
    config_error(lambda: VisaTransport("ASRL9::INSTR", baudrate=-1), "baudrate")
    assert VisaTransport("ASRL9::INSTR", baudrate=19200).baudrate == 19200


def test_sim_without_pyvisa_sim_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyvisa_sim", None)  # as if it were not installed
    monkeypatch.setattr(visa_library, "_managers", {})  # as in a fresh process
    monkeypatch.setattr(pyvisa.highlevel, "_WRAPPERS", {})  # pyvisa's backend cache too
    error = config_error(
        lambda: VisaTransport("GPIB::8::INSTR", visa_library="@sim"), "visa_library"
    )
    assert "pip install pyvisa-sim" in error.reason and "labnode[sim]" in error.reason
    config_error(lambda: resource_manager("@sim"), "visa_library")  # not cached: checked again


def test_resource_missing_from_the_sim_file_is_named_at_connect():
    driver = ScpiDriver("GPIB::30::INSTR", visa_library=PSU, queries=QUERIES)
    error = config_error(driver.connect, "resource")
    assert "GPIB0::9::INSTR" in error.reason  # what the file does have
    assert not driver.is_connected


def test_malformed_visa_name_is_named_at_construction_or_connect():
    config_error(lambda: VisaTransport("PXI0::1::INSTR").open(), "resource")


@pytest.mark.skipif(
    importlib.util.find_spec("gpib") is not None or importlib.util.find_spec("gpib_ctypes"),
    reason="a GPIB backend is installed",
)
def test_gpib_with_pyvisa_py_but_no_gpib_package_says_what_to_install():
    driver = ScpiDriver("GPIB0::9::INSTR", visa_library="@py", queries=QUERIES)
    error = config_error(driver.connect, "visa_library")
    assert "gpib-ctypes" in error.reason and "linux-gpib" in error.reason


@pytest.mark.skipif(importlib.util.find_spec("usb") is not None, reason="pyusb is installed")
def test_usb_with_pyvisa_py_but_no_pyusb_says_what_to_install():
    driver = ScpiDriver("USB0::0x2A8D::0x1301::MY1::INSTR", queries=QUERIES)
    error = config_error(driver.connect, "visa_library")
    assert "pip install pyusb" in error.reason


def test_missing_ivi_library_is_named_at_connect():
    import pyvisa

    try:
        pyvisa.ResourceManager("@ivi")
    except Exception:
        pass
    else:
        pytest.skip("an IVI VISA library is installed")
    error = config_error(VisaTransport("GPIB0::9::INSTR", visa_library="@ivi").open, "visa_library")
    assert "NI-VISA" in error.reason and "'@py'" in error.reason


def test_interface_pyvisa_py_does_not_have_is_named():
    config_error(VisaTransport("VXI0::1::INSTR").open, "resource")


# -- transient problems stay ConnectionLost --------------------------------------------------


def closed_port() -> SocketDeviceServer:
    instrument = SocketDeviceServer(ScriptedLineModel()).start()
    instrument.stop()  # a port that was just free: connection refused
    return instrument


@pytest.mark.parametrize("kind", ["url", "visa_resource", "visa_instr"])
def test_refused_connections_are_connection_lost(kind):
    instrument = closed_port()
    resource = {
        "url": instrument.url,
        "visa_resource": instrument.visa_resource,
        "visa_instr": "TCPIP::127.0.0.1::INSTR",  # VXI-11: nothing listens on 127.0.0.1:111
    }[kind]
    with pytest.raises(ConnectionLost) as caught:
        Echo(resource, timeout=0.2).connect()
    assert not isinstance(caught.value, DriverConfigError)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    "resource", ["/dev/labnode-no-such-port", "ASRL/dev/labnode-no-such::INSTR"]
)
def test_absent_serial_ports_are_connection_lost(resource):
    with pytest.raises(ConnectionLost):
        Echo(resource).connect()


def test_messages_give_operators_no_python_calls():
    instrument = closed_port()
    driver = Echo(instrument.url, timeout=0.2)
    for attempt in (driver.connect, lambda: driver.query("x")):
        with pytest.raises(ConnectionLost) as caught:
            attempt()
        message = str(caught.value)
        assert "()" not in message, message


# -- driver keywords -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("keywords", "setting"),
    [
        ({"queries": {}}, "queries"),
        ({"queries": None}, "queries"),
        ({"queries": ["MEAS?"]}, "queries"),
        ({"queries": "MEAS?"}, "queries"),
        ({"queries": {"volt": 5}}, "queries"),
        ({"queries": {"volt": ""}}, "queries"),
        ({"queries": {"volt": ["MEAS?"]}}, "queries"),
        ({"queries": {"": "MEAS?"}}, "queries"),
        ({"queries": {"two words": "MEAS?"}}, "queries"),
        ({"queries": {"a:b": "MEAS?"}}, "queries"),
        ({"queries": {"µ": "MEAS?"}}, "queries"),
        ({"queries": {5: "MEAS?"}}, "queries"),
        ({"queries": QUERIES, "setup": 5}, "setup"),
        ({"queries": QUERIES, "setup": ["*CLS", 5]}, "setup"),
        ({"queries": QUERIES, "setup": {"a": "*CLS"}}, "setup"),
    ],
)
def test_scpi_keywords(keywords, setting):
    config_error(lambda: ScpiDriver("GPIB::9::INSTR", **keywords), setting)


def test_scpi_setup_may_be_one_command():
    assert ScpiDriver("GPIB::9::INSTR", queries=QUERIES, setup="*CLS").setup == ["*CLS"]


def test_a_driver_without_queries_is_a_type_error_the_app_reports():
    with pytest.raises(TypeError, match="queries"):
        ScpiDriver("GPIB::9::INSTR")


@pytest.mark.parametrize(
    "names",
    [
        (),
        ("a", "b", "c"),
        (None, None),
        ("", ""),
        ("same", "same"),
        "pressure",
        {"pressure_1": 1},
        ("pressure 1", "pressure_2"),
        ("pressure#1",),
        (1, 2),
        None,
    ],
)
def test_tpg26x_names(names):
    config_error(lambda: TPG26x("/dev/ttyUSB0", names=names), "names")


@pytest.mark.parametrize(
    ("keywords", "setting"),
    [
        ({"unit_id": "a"}, "unit_id"),
        ({"unit_id": "AB"}, "unit_id"),
        ({"unit_id": ""}, "unit_id"),
        ({"unit_id": 1}, "unit_id"),
        ({"unit_id": None}, "unit_id"),
        ({"fields": "pressure"}, "fields"),
        ({"fields": []}, "fields"),
        ({"fields": ["pressure", 5]}, "fields"),
        ({"fields": ["pressure", "pressure"]}, "fields"),
        ({"fields": ["mass flow"]}, "fields"),
        ({"prefix": 5}, "prefix"),
        ({"prefix": "line 1 "}, "prefix"),
        ({"prefix": "a;"}, "prefix"),
        ({"baudrate": "fast"}, "baudrate"),
    ],
)
def test_alicat_keywords(keywords, setting):
    config_error(lambda: AlicatMassFlow("/dev/ttyUSB0", **keywords), setting)


def test_alicat_good_keywords():
    driver = AlicatMassFlow("/dev/ttyUSB0", unit_id="B", fields=["p", "t"], prefix="mfc1_")
    assert driver.codenames == ["mfc1_p", "mfc1_t"]
