"""The contract every driver keeps, run on each case of driver_cases.CASES.

Garbage is a ReplyParseError naming the reply, silence an InstrumentTimeout, a vanished device
ConnectionLost, and the driver reads again once the device is back. A driver joins by adding
its case to driver_cases.py; every registered built-in driver must have one.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from labnode.drivers import (
    ConnectionLost,
    Driver,
    InstrumentTimeout,
    ReplyParseError,
    WriteRefused,
)
from labnode.drivers.registry import DRIVERS, resolve_driver
from labnode.drivers.simulation import DeviceModel, MemoryDeviceServer, SocketDeviceServer
from labnode.drivers.simulation.model import DEFAULT_GARBAGE
from tests.drivers.driver_cases import CASES, DriverCase

TIMEOUT = 0.2
GARBAGE = DEFAULT_GARBAGE.decode()


@dataclass
class Rig:
    """A connected driver, its simulated instrument and the server it sits behind."""

    name: str
    driver: Driver
    model: DeviceModel
    server: MemoryDeviceServer | SocketDeviceServer

    def reads(self) -> dict[str, float]:
        """One reading, checked: a non-empty {codename: finite float} within the codenames."""
        values = self.driver.get_values()
        assert values, f"{self.driver!r} read nothing"
        assert all(isinstance(v, float) and math.isfinite(v) for v in values.values()), values
        assert set(values) <= set(self.driver.codenames or ())
        return values


@pytest.fixture(params=CASES, ids=str)
def rig(request) -> Iterator[Rig]:
    case: DriverCase = request.param
    model = case.model()
    if case.port == "sim":
        server = MemoryDeviceServer(model).start()
        resource = server.url
    else:
        server = SocketDeviceServer(model).start()
        resource = server.visa_resource
    driver = case.driver(resource, TIMEOUT)
    try:
        driver.connect()
        yield Rig(case.name, driver, model, server)
    finally:
        driver.close()
        server.stop()


def test_every_registered_driver_runs_the_contract():
    assert set(DRIVERS) <= {case.name for case in CASES}, "add a DriverCase to driver_cases.py"


def test_its_registered_name_resolves_to_its_class(rig):
    assert resolve_driver(rig.name) is type(rig.driver)


def test_reads_and_describes_its_channels(rig):
    values = rig.reads()
    assert [channel.name for channel in rig.driver.channels] == rig.driver.codenames
    assert set(values) <= {channel.name for channel in rig.driver.channels}


def test_garbage_is_a_reply_parse_error_naming_the_reply_then_recovers(rig):
    rig.reads()
    rig.model.garbage = True
    with pytest.raises(ReplyParseError) as caught:
        rig.driver.get_values()
    assert GARBAGE in str(caught.value)
    assert GARBAGE in str(caught.value.reply)
    assert type(rig.driver).__name__ in str(caught.value)
    rig.model.garbage = False
    rig.reads()


def test_silence_is_an_instrument_timeout_then_recovers(rig):
    rig.reads()
    rig.model.silent = True
    started = time.monotonic()
    with pytest.raises(InstrumentTimeout) as caught:
        rig.driver.get_values()
    assert TIMEOUT * 0.9 <= time.monotonic() - started < TIMEOUT * 2 + 0.5
    assert isinstance(caught.value, TimeoutError)
    rig.model.silent = False
    rig.reads()


def test_a_late_reply_is_not_taken_for_the_next_answer(rig):
    rig.reads()
    rig.model.reply_delay = TIMEOUT * 1.5
    with pytest.raises(InstrumentTimeout):
        rig.driver.get_values()
    rig.model.reply_delay = 0.0
    time.sleep(TIMEOUT)  # the late reply arrives now and waits, unread
    rig.reads()


def test_vanish_is_connection_lost_until_the_device_comes_back(rig):
    rig.reads()
    rig.server.vanish()
    with pytest.raises(ConnectionLost) as caught:
        rig.driver.get_values()
    assert isinstance(caught.value, ConnectionError)
    assert not rig.driver.is_connected
    with pytest.raises(ConnectionLost):
        rig.driver.reconnect()
    rig.server.come_back()
    rig.driver.reconnect()
    rig.reads()


def test_a_write_to_no_writable_channel_is_refused_without_io(rig):
    rig.reads()
    seen = rig.model.requests_seen
    read_only = [c.name for c in rig.driver.channels if not c.writable]
    for name in [*read_only, "no_such_channel"]:
        with pytest.raises(WriteRefused) as caught:
            rig.driver.set_value(name, 1.0)
        assert caught.value.channel == name
    assert rig.model.requests_seen == seen
