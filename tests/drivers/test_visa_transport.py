"""VisaTransport against pyvisa-sim.

The semantics it shares with SerialTransport over pyvisa-py raw sockets on 127.0.0.1 are in
test_transport_semantics.py.
"""

from __future__ import annotations

import logging

import pytest

from labnode.drivers import (
    DriverConfigError,
    InstrumentTimeout,
    VisaTransport,
    simulation_yaml,
)
from labnode.drivers.transports import resource_manager
from labnode.drivers.transports.visa_library import _MISSING_EOM_FILTER
from tests.drivers.driver_checks import opened
from tests.drivers.port_holder import assert_kept_out, held_by_another_process

PSU = f"{simulation_yaml('scpi')}@sim"


@pytest.fixture
def psu():
    transport = VisaTransport("GPIB::9::INSTR", owner="Psu", visa_library=PSU, timeout=0.1)
    transport.open()
    yield transport
    transport.close()


def test_sim_query(psu):
    assert psu.query("*IDN?").startswith("LABNODE,SIM-PSU")
    assert float(psu.query(":VOLT:IMM:AMPL?")) == pytest.approx(12.0)


def test_sim_default_library_still_works():
    transport = VisaTransport("GPIB::8::INSTR", visa_library="@sim", timeout=0.2)
    transport.open()
    assert transport.query("?IDN") == "LSG Serial #1234"
    transport.close()


def test_sim_no_reply_is_timeout_and_next_query_works(psu):
    with pytest.raises(InstrumentTimeout) as caught:
        psu.query("*RST")  # a dialogue with no response
    error = caught.value
    assert isinstance(error, TimeoutError)
    assert (error.driver, error.resource, error.command) == ("Psu", "GPIB::9::INSTR", "*RST")
    assert "Psu" in str(error) and "GPIB::9::INSTR" in str(error) and "*RST" in str(error)
    assert psu.query("*OPC?") == "1"


def test_sim_raw_bytes(psu):
    psu.write_bytes(b"*OPC?\n")
    assert psu.read_bytes(2) == b"1\n"
    psu.write_bytes(b"*OPC?\n")
    assert psu.read_until(b"\n") == b"1\n"
    with pytest.raises(InstrumentTimeout):
        psu.read_bytes(1)
    with pytest.raises(InstrumentTimeout):
        psu.read_until(b"\n")


def test_sim_flush_input(psu):
    psu.write("*IDN?")
    psu.flush_input()
    assert psu.query("*OPC?") == "1"


def test_resource_manager_cached_per_library():
    assert resource_manager(PSU) is resource_manager(PSU)


def test_resource_missing_from_the_sim_file_is_config_error():
    with pytest.raises(DriverConfigError, match="GPIB0::9::INSTR"):
        VisaTransport("GPIB::30::INSTR", visa_library=PSU).open()


def test_malformed_resource_name_is_config_error():
    with pytest.raises(DriverConfigError, match="invalid VISA resource name"):
        VisaTransport("FOO::1::INSTR").open()


def test_missing_sim_file_is_config_error(tmp_path):
    with pytest.raises(DriverConfigError, match="missing.yaml' does not exist") as caught:
        VisaTransport("GPIB::9::INSTR", visa_library=f"{tmp_path}/missing.yaml@sim")
    assert caught.value.setting == "visa_library"


def test_broken_sim_file_is_a_one_line_config_error(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text('spec: "1.1"\ndevices: [\n')
    transport = VisaTransport("GPIB::9::INSTR", visa_library=f"{broken}@sim")
    with pytest.raises(DriverConfigError, match="cannot load VISA library") as caught:
        transport.open()
    assert caught.value.setting == "visa_library"
    assert "Traceback" not in str(caught.value) and "\n" not in str(caught.value)
    assert "ParserError" in str(caught.value)


def test_baudrate_on_non_serial_resource_is_config_error():
    with pytest.raises(DriverConfigError, match="baudrate"):
        VisaTransport("GPIB::9::INSTR", visa_library=PSU, baudrate=9600).open()


def test_sim_serial_resource_accepts_baudrate():
    transport = VisaTransport("ASRL9::INSTR", visa_library=PSU, baudrate=19200, timeout=0.2)
    transport.open()
    assert transport.query("*OPC?") == "1"
    transport.close()


RAW_DEVICE_YAML = """\
spec: "1.1"
devices:
  device:
    eom:
      GPIB INSTR: {q: "\\n", r: "\\n"}
    dialogues:
      - {q: "*IDN?", r: "LABNODE,RAW-AND-INSTR"}
resources:
  GPIB::3::INSTR: {device: device}
  USB0::0x1111::0x2222::0x3333::0::RAW: {device: device}
"""


def test_pyvisa_sim_missing_eom_warning_is_silenced_and_nothing_else(tmp_path, caplog, monkeypatch):
    import pyvisa

    caplog.set_level(logging.DEBUG, logger="pyvisa")
    pyvisa_logger = logging.getLogger("pyvisa")
    without_filter = tmp_path / "without.yaml"
    without_filter.write_text(RAW_DEVICE_YAML)
    monkeypatch.setattr(pyvisa_logger, "filters", [])  # the file does make pyvisa-sim warn
    pyvisa.ResourceManager(f"{without_filter}@sim").close()
    assert "No eom provided for" in caplog.text
    monkeypatch.undo()
    caplog.clear()

    with_filter = tmp_path / "with.yaml"
    with_filter.write_text(RAW_DEVICE_YAML)
    transport = VisaTransport("GPIB::3::INSTR", visa_library=f"{with_filter}@sim", timeout=0.2)
    transport.open()
    assert transport.query("*IDN?") == "LABNODE,RAW-AND-INSTR"
    transport.close()
    assert _MISSING_EOM_FILTER in pyvisa_logger.filters
    assert "No eom provided" not in caplog.text
    assert any(record.name == "pyvisa" for record in caplog.records)  # debug messages still pass
    pyvisa_logger.warning("another pyvisa warning")
    assert "another pyvisa warning" in caplog.text


@pytest.mark.parametrize(
    ("resource", "words"),
    [
        ("GPIB::abc", "primary address 'abc' is not a number"),
        ("GPIB0::9::INSTRX", "secondary address 'INSTRX'"),
        ("TCPIP0::127.0.0.1::notaport::SOCKET", "port 'notaport'"),
        ("TCPIP0::127.0.0.1::70000::SOCKET", "port 70000 is not 1-65535"),
        ("USB::x", "invalid VISA resource name"),
    ],
)
def test_a_resource_that_is_not_a_visa_name_blames_the_resource(resource, words):
    with pytest.raises(DriverConfigError, match=words) as info:
        VisaTransport(resource, visa_library="@py")
    assert info.value.setting == "resource"
    assert "visa_library" not in str(info.value)


@pytest.fixture
def unanswered_port():
    """A TCP listener on 127.0.0.1 whose accept queue is full: a new connect never completes."""
    import select
    import socket

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(8):  # fill the accept queue until a connect stays pending
        filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
        fillers.append(filler)
        if not select.select([], [filler], [], 0.2)[1]:
            break
    else:
        pytest.skip("the kernel accepted every connection; cannot make a connect hang")
    yield port
    for sock in [*fillers, listener]:
        sock.close()


def test_pyvisa_py_tcpip_open_honours_the_driver_timeout(unanswered_port):
    import time

    from labnode.drivers import ConnectionLost

    transport = VisaTransport(
        f"TCPIP::127.0.0.1::{unanswered_port}::SOCKET", visa_library="@py", timeout=0.3
    )
    started = time.monotonic()
    with pytest.raises(ConnectionLost, match="could not open within 0.3 s"):
        transport.open()
    took = time.monotonic() - started
    assert took < 3.0, took  # pyvisa-py's own default is 10 s
    assert not transport.is_open


def test_a_timeout_beyond_an_hour_is_a_config_error():
    with pytest.raises(DriverConfigError, match="at most 3600 seconds") as info:
        VisaTransport("GPIB::9::INSTR", visa_library=PSU, timeout=1e12)
    assert info.value.setting == "timeout"


def test_an_asrl_device_held_by_another_process_is_refused_naming_it():

    from labnode.drivers import ConnectionLost
    from labnode.drivers.simulation import PtyDeviceServer, create_model

    with PtyDeviceServer(create_model("tpg26x")) as instrument:
        resource = f"ASRL{instrument.port}::INSTR"
        with held_by_another_process(instrument.port) as holder:
            transport = VisaTransport(resource, visa_library="@py", timeout=0.3)
            with pytest.raises(ConnectionLost, match=f"in use by pid {holder.pid} "):
                transport.open()
            assert not transport.is_open
            shared = VisaTransport(resource, visa_library="@py", timeout=0.3, exclusive=False)
            shared.open()
            shared.close()
        with opened(transport):
            assert_kept_out(instrument.port)
