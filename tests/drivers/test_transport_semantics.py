"""The semantics SerialTransport and VisaTransport share, stated once and run on both.

Every test talks to a real simulated line instrument (SocketDeviceServer) on 127.0.0.1: once
through pyserial's socket:// URL and once through a pyvisa-py raw socket (TCPIP::...::SOCKET).
What only one transport does stays in test_serial_transport.py (loop://, pty, URL checks) or
test_visa_transport.py (pyvisa-sim).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from labnode.drivers import (
    ConnectionLost,
    DriverConfigError,
    InstrumentTimeout,
    SerialTransport,
    VisaTransport,
)
from labnode.drivers.simulation import ScriptedLineModel, SocketDeviceServer, echo
from labnode.drivers.simulation.scripted import Answer
from labnode.drivers.transports.base import Transport
from tests.drivers.answers import slow_first


@dataclass(frozen=True)
class OverTcp:
    """One transport reaching a SocketDeviceServer: its class and the address it gives it."""

    transport_class: type[Transport]
    address: Callable[[SocketDeviceServer], str]

    def create(self, instrument: SocketDeviceServer, **settings: Any) -> Transport:
        """A transport for `instrument`, not opened yet."""
        return self.transport_class(self.address(instrument), **settings)


SERIAL = OverTcp(SerialTransport, lambda instrument: instrument.url)
VISA = OverTcp(VisaTransport, lambda instrument: instrument.visa_resource)


@pytest.fixture(params=[pytest.param(SERIAL, id="serial"), pytest.param(VISA, id="visa")])
def over_tcp(request: pytest.FixtureRequest) -> OverTcp:
    """Each test runs once per transport."""
    return request.param


@pytest.fixture
def instrument() -> Iterator[Callable[..., SocketDeviceServer]]:
    """instrument(answer) starts a SocketDeviceServer; all are stopped after the test."""
    started: list[SocketDeviceServer] = []

    def start(answer: Answer = echo) -> SocketDeviceServer:
        started.append(SocketDeviceServer(ScriptedLineModel(answer)).start())
        return started[-1]

    yield start
    for each in started:
        each.stop()


@pytest.fixture
def connect(over_tcp: OverTcp) -> Iterator[Callable[..., Transport]]:
    """connect(instrument, **settings) opens the transport under test; closed after the test."""
    opened: list[Transport] = []

    def open_transport(instrument: SocketDeviceServer, **settings: Any) -> Transport:
        transport = over_tcp.create(instrument, **settings)
        opened.append(transport)
        transport.open()
        return transport

    yield open_transport
    for transport in opened:
        transport.close()


def time_out_on_slow(transport: Transport) -> None:
    """Query SLOW past the timeout, then wait until its late reply waits in the input buffer."""
    with pytest.raises(InstrumentTimeout):
        transport.query("SLOW")
    time.sleep(0.5)  # slow_first answers SLOW after 0.3 s (margin for a loaded machine)


def test_socket_stale_flush_after_timeout(instrument, connect):
    transport = connect(instrument(slow_first), timeout=0.1)
    assert transport.query("A") == "reply:A"
    time_out_on_slow(transport)
    assert transport.query("B") == "reply:B"
    assert transport.query("C") == "reply:C"


def test_raw_write_after_a_timeout_also_drops_the_late_reply(instrument, connect):
    transport = connect(instrument(slow_first), timeout=0.1)
    time_out_on_slow(transport)
    transport.write_bytes(b"RAW\n")
    assert transport.read_until(b"\n") == b"reply:RAW\n"


def test_socket_lost_then_reconnect(over_tcp, instrument, connect):
    peer = instrument()
    transport = connect(peer, owner="Gauge", timeout=0.2)
    assert transport.query("one") == "one"
    peer.vanish()
    with pytest.raises(ConnectionLost) as caught:
        transport.query("two")
    error = caught.value
    assert isinstance(error, ConnectionError)
    assert "Gauge" in str(error) and over_tcp.address(peer) in str(error)
    assert "two" in str(error)
    assert not transport.is_open
    with pytest.raises(ConnectionLost, match="could not open"):
        transport.open()
    peer.come_back()  # same port
    transport.open()
    assert transport.query("three") == "three"


def test_unreachable_resource_is_connection_lost(over_tcp):
    peer = SocketDeviceServer(ScriptedLineModel()).start()
    peer.stop()  # a port that was just free: connection refused
    with pytest.raises(ConnectionLost, match="could not open"):
        over_tcp.create(peer, timeout=0.2).open()


def test_settable_timeout(instrument, connect):
    transport = connect(instrument(), timeout=0.1)
    transport.timeout = 0.05  # on the open port
    start = time.monotonic()
    with pytest.raises(InstrumentTimeout):
        transport.read()  # nothing was asked, so nothing comes
    assert time.monotonic() - start < 0.09
    with pytest.raises(DriverConfigError):
        transport.timeout = -1
