"""The `sim://` pyserial URL: an in-memory port on a simulated device model, through pyserial."""

from __future__ import annotations

import threading
import time

import pytest
import serial

from labnode.drivers import ConnectionLost, InstrumentTimeout, SerialTransport
from labnode.drivers.alicat.mass_flow_sim import AlicatMassFlowModel
from labnode.drivers.simulation import MemoryDeviceServer
from labnode.drivers.simulation.memory_server import server_for_url
from labnode.drivers.simulation.scripted import ScriptedLineModel

TIMEOUT = 0.2


@pytest.fixture
def echo():
    model = ScriptedLineModel(lambda command: f"echo:{command}")
    with MemoryDeviceServer(model) as server:
        yield server


def transport_on(server: MemoryDeviceServer, **settings) -> SerialTransport:
    transport = SerialTransport(server.url, timeout=TIMEOUT, **settings)
    transport.open()
    return transport


def test_pyserial_opens_a_catalog_model_by_name():
    port = serial.serial_for_url("sim://alicat?unit_id=C&seed=1", timeout=TIMEOUT)
    try:
        port.write(b"C\r")
        frame = port.read_until(b"\r")
        assert frame.startswith(b"C +") and frame.endswith(b" N2\r")
        port.write(b"A\r")  # another unit ID on the line: silence
        assert port.read_until(b"\r") == b""
    finally:
        port.close()
    same = server_for_url("sim://alicat?unit_id=C&seed=1")
    assert same is server_for_url("sim://alicat?unit_id=C&seed=1")  # one device per URL
    assert same.model.unit_id == "C"


def test_query_round_trip_and_settings_are_accepted(echo):
    transport = transport_on(echo, baudrate=19200, parity="E", read_termination="\n")
    try:
        assert transport.query("hello") == "echo:hello"
        assert echo.model.commands == ["hello"]
        assert echo.connection_count == 1
    finally:
        transport.close()
    assert echo.connection_count == 0


def test_silence_is_a_real_timeout(echo):
    transport = transport_on(echo)
    echo.model.silent = True
    started = time.monotonic()
    with pytest.raises(InstrumentTimeout):
        transport.query("anyone?")
    elapsed = time.monotonic() - started
    assert TIMEOUT * 0.9 <= elapsed < TIMEOUT + 0.3
    echo.model.silent = False
    assert transport.query("back") == "echo:back"
    transport.close()


def test_a_late_reply_lands_later_and_is_not_taken_for_the_next_answer(echo):
    transport = transport_on(echo)
    echo.model.reply_delay = TIMEOUT * 1.5
    with pytest.raises(InstrumentTimeout):
        transport.query("slow")
    echo.model.reply_delay = 0.0
    time.sleep(TIMEOUT)  # the late reply is in the input buffer now
    assert transport.query("next") == "echo:next"
    transport.close()


def test_a_delayed_reply_within_the_timeout_arrives(echo):
    transport = transport_on(echo)
    echo.model.reply_delay = TIMEOUT / 4
    assert transport.query("patience") == "echo:patience"
    transport.close()


def test_vanish_is_connection_lost_until_the_device_comes_back(echo):
    transport = transport_on(echo)
    echo.vanish()
    with pytest.raises(ConnectionLost):
        transport.query("gone?")
    with pytest.raises(ConnectionLost, match="could not open.*vanished"):
        transport.open()
    echo.come_back()
    transport.open()
    assert transport.query("again") == "echo:again"
    transport.close()


def test_a_blocked_read_wakes_up_when_the_device_vanishes(echo):
    port = serial.serial_for_url(echo.url, timeout=5)
    echo.model.silent = True
    outcome: list[BaseException] = []

    def read() -> None:
        try:
            port.read(1)
        except serial.SerialException as error:
            outcome.append(error)

    reader = threading.Thread(target=read)
    reader.start()
    time.sleep(0.05)
    started = time.monotonic()
    echo.drop_connections()
    reader.join(2)
    assert time.monotonic() - started < 1
    assert outcome and "vanished" in str(outcome[0])
    port.close()


def test_names_are_unique_and_unknown_names_say_what_exists():
    model = AlicatMassFlowModel()
    with MemoryDeviceServer(model, name="bench-mfc") as server:
        assert server.url == "sim://bench-mfc"
        with pytest.raises(ValueError, match="already served"):
            MemoryDeviceServer(AlicatMassFlowModel(), name="bench-mfc").start()
    with pytest.raises(ConnectionLost, match="sim://alicat, .*sim://tpg26x"):
        SerialTransport("sim://bench-mfc", timeout=TIMEOUT).open()  # stopped: gone
    with pytest.raises(ConnectionLost, match="bad options for the alicat model"):
        SerialTransport("sim://alicat?colour=red", timeout=TIMEOUT).open()


def test_generated_names_differ():
    first, second = MemoryDeviceServer(ScriptedLineModel()), MemoryDeviceServer(ScriptedLineModel())
    assert first.url != second.url and first.url.startswith("sim://scripted-")


def test_a_reply_without_its_terminator_is_returned_as_is_at_the_timeout():
    model = ScriptedLineModel(lambda command: "partial\nrest", termination=b"\r")
    with MemoryDeviceServer(model) as server:
        port = serial.serial_for_url(server.url, timeout=TIMEOUT)
        port.write(b"go\r")
        assert port.read_until(b"\n") == b"partial\n"
        started = time.monotonic()
        assert port.read_until(b"\n") == b"rest\r"  # no LF: what came, after the timeout
        assert time.monotonic() - started >= TIMEOUT * 0.9
        port.write(b"go\r")
        assert port.read_until(b"\n", size=3) == b"par"
        assert port.read(100) == b"tial\nrest\r"  # short of 100 bytes: what came, at the timeout
        port.close()


def test_each_catalog_url_is_its_own_device():
    plain = server_for_url("sim://tpg26x")
    seeded = server_for_url("sim://tpg26x?seed=7")
    assert plain is not seeded and plain is server_for_url("sim://tpg26x")
    with MemoryDeviceServer(ScriptedLineModel(), name="tpg26x-bench") as mine:
        assert server_for_url(mine.url) is mine
