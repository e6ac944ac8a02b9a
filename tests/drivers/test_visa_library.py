"""visa_library: the one normaliser of VISA names and the one reach into pyvisa-py's sessions."""

from __future__ import annotations

import logging
import socket

import pytest

from labnode.drivers import VisaTransport
from labnode.drivers.simulation import ScriptedLineModel, SocketDeviceServer
from labnode.drivers.transports import port_key, visa_library
from tests.drivers.driver_checks import opened


@pytest.fixture
def visa_socket():
    """An open pyvisa-py raw socket to a simulated instrument on 127.0.0.1."""
    with SocketDeviceServer(ScriptedLineModel()) as instrument:
        transport = VisaTransport(instrument.visa_resource, timeout=1.0)
        with opened(transport):
            yield transport


def test_one_spelling_for_port_locks_and_the_sim_check():
    assert visa_library.normalize_visa_name("gpib::9::instr") == "GPIB0::9::INSTR"
    assert visa_library.normalize_visa_name("my_alias") == "MY_ALIAS"  # kept as written
    assert port_key("GPIB::9::INSTR") == port_key("gpib0::9::INSTR") == "visa:GPIB0::9::INSTR"


def test_the_pyvisa_py_session_gives_its_socket(visa_socket):
    interface = visa_library.pyvisa_py_interface(visa_socket._instrument)
    assert isinstance(interface, socket.socket)
    assert interface.getpeername()[0] == "127.0.0.1"


def test_a_pyvisa_py_older_than_known_is_not_reached_into(visa_socket, monkeypatch):
    monkeypatch.setattr(visa_library, "_pyvisa_py_version", lambda: (0, 4, 1))
    assert visa_library.pyvisa_py_interface(visa_socket._instrument) is None


def test_a_newer_pyvisa_py_is_tried_and_said_once(visa_socket, monkeypatch, caplog):
    monkeypatch.setattr(visa_library, "_pyvisa_py_version", lambda: (9, 0))
    monkeypatch.setattr(visa_library, "_untested_warned", [])
    with caplog.at_level(logging.WARNING, logger=visa_library.__name__):
        for _ in range(2):
            assert isinstance(
                visa_library.pyvisa_py_interface(visa_socket._instrument), socket.socket
            )
    warnings = [r for r in caplog.records if "newer than labnode knows" in r.getMessage()]
    assert len(warnings) == 1 and "9.0" in warnings[0].getMessage()


def test_other_backends_are_not_reached_into():
    class NotPyvisaPy:
        visalib = object()
        session = 1

    assert visa_library.pyvisa_py_interface(NotPyvisaPy()) is None
