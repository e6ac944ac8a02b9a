"""SerialTransport against real pyserial ports: loop:// and a pty pair.

The semantics it shares with VisaTransport over socket:// are in test_transport_semantics.py.
"""

from __future__ import annotations

import time

import pytest

from labnode.drivers import (
    ConnectionLost,
    DriverConfigError,
    InstrumentTimeout,
    ReplyParseError,
    SerialTransport,
)
from labnode.drivers.simulation import PtyDeviceServer, ScriptedLineModel
from tests.drivers.answers import slow_first
from tests.drivers.driver_checks import opened
from tests.drivers.port_holder import assert_kept_out, held_by_another_process


@pytest.fixture
def loop():
    transport = SerialTransport("loop://", owner="LoopDriver", timeout=0.1)
    transport.open()
    yield transport
    transport.close()


def test_loop_query_write_read(loop):
    assert loop.query("*IDN?") == "*IDN?"
    loop.write("abc")
    assert loop.read() == "abc"
    assert loop.last_command == "abc"
    assert loop.last_reply == "abc"


def test_loop_raw_bytes(loop):
    loop.write_bytes(b"\x06\r\nrest")
    assert loop.read_until(b"\r\n") == b"\x06\r\n"
    assert loop.read_bytes(4) == b"rest"


def test_read_timeout_raises_instead_of_short_data(loop):
    loop.write_bytes(b"partial")
    with pytest.raises(InstrumentTimeout) as caught:
        loop.read()
    error = caught.value
    assert isinstance(error, TimeoutError)
    assert "LoopDriver" in str(error) and "loop://" in str(error)
    assert "partial" in str(error)


def test_read_bytes_short_is_timeout(loop):
    loop.write_bytes(b"abc")
    with pytest.raises(InstrumentTimeout, match="expected 5 bytes"):
        loop.read_bytes(5)


def test_read_until_without_terminator_is_timeout(loop):
    loop.write_bytes(b"abc")
    with pytest.raises(InstrumentTimeout):
        loop.read_until(b"\x03")


def test_flush_input_discards_pending(loop):
    loop.write_bytes(b"old\n")
    loop.flush_input()
    assert loop.query("new") == "new"


def test_timeout_names_the_command(loop):
    loop.open()  # already open: no-op
    loop.last_command = None
    loop.write_bytes(b"")
    with pytest.raises(InstrumentTimeout) as caught:
        loop.read()
    assert caught.value.resource == "loop://"
    assert caught.value.driver == "LoopDriver"


def test_write_termination_and_read_termination():
    transport = SerialTransport(
        "loop://", timeout=0.1, read_termination="\r\n", write_termination="\r\n"
    )
    transport.open()
    transport.write_bytes(b"a\nb\r\n")
    assert transport.read() == "a\nb"
    transport.write("x")
    assert transport.read_bytes(3) == b"x\r\n"
    transport.close()
    transport.close()  # idempotent
    assert not transport.is_open


def test_io_when_closed_is_connection_lost():
    transport = SerialTransport("loop://", timeout=0.1)
    with pytest.raises(ConnectionLost, match="not connected"):
        transport.query("x")


@pytest.mark.parametrize(
    "settings",
    [
        {"timeout": 0},
        {"timeout": "soon"},
        {"baudrate": -5},
        {"parity": "Q"},
        {"speed": 9600},
        {"encoding": "klingon"},
        {"read_termination": b"\n"},
    ],
)
def test_bad_settings_are_config_errors(settings):
    with pytest.raises(DriverConfigError):
        SerialTransport("loop://", **settings).open()


def test_bad_url_scheme_is_config_error():
    with pytest.raises(DriverConfigError, match="no 'nosuchscheme://' URLs") as caught:
        SerialTransport("nosuchscheme://x")
    assert caught.value.setting == "resource"


def test_missing_device_is_connection_lost():
    with pytest.raises(ConnectionLost, match="could not open"):
        SerialTransport("/dev/labnode-no-such-port").open()


def test_undecodable_reply_is_a_parse_error():
    transport = SerialTransport("loop://", encoding="ascii", timeout=0.1)
    transport.open()
    transport.write_bytes(b"\xff\xfe\n")
    with pytest.raises(ReplyParseError, match=r"xff"):
        transport.read()
    transport.close()


# -- pty -------------------------------------------------------------------------------------


def test_pty_query_timeout_and_stale_flush():
    with PtyDeviceServer(ScriptedLineModel(slow_first)) as instrument:
        transport = SerialTransport(instrument.port, baudrate=115200, timeout=0.1)
        transport.open()
        assert transport.query("A") == "reply:A"
        with pytest.raises(InstrumentTimeout):
            transport.query("SLOW")
        time.sleep(0.35)  # the late reply arrives and waits in the input buffer
        assert transport.query("B") == "reply:B"
        transport.close()


def test_pty_vanishing_is_connection_lost():
    instrument = PtyDeviceServer(ScriptedLineModel()).start()
    transport = SerialTransport(instrument.port, timeout=0.2)
    transport.open()
    assert transport.query("hello") == "hello"
    instrument.vanish()
    with pytest.raises(ConnectionLost) as caught:
        transport.query("again")
    assert isinstance(caught.value, ConnectionError)
    assert "again" in str(caught.value)
    assert not transport.is_open


@pytest.mark.parametrize(
    ("resource", "words"),
    [("/tmp", "is a directory"), (__file__, "is a regular file")],
)
def test_a_path_that_is_not_a_device_is_a_config_error_at_construction(resource, words):
    with pytest.raises(DriverConfigError, match=words) as info:
        SerialTransport(resource)
    assert info.value.setting == "resource"


def test_a_device_that_is_not_a_terminal_is_a_config_error_at_open():
    transport = SerialTransport("/dev/null", timeout=0.1)
    with pytest.raises(DriverConfigError, match="not a serial port") as info:
        transport.open()
    assert info.value.setting == "resource"
    assert "check the cable" not in str(info.value)


def test_a_device_held_by_another_process_is_refused_naming_it():

    from labnode.drivers.simulation import PtyDeviceServer, create_model

    with PtyDeviceServer(create_model("tpg26x")) as instrument:
        with held_by_another_process(instrument.port) as holder:
            transport = SerialTransport(instrument.port, timeout=0.2)
            with pytest.raises(ConnectionLost, match=f"in use by pid {holder.pid} ") as info:
                transport.open()
            message = str(info.value)
            assert "serial.Serial" in message and "exclusive = false" in message
            assert "\n" not in message and not transport.is_open
            shared = SerialTransport(instrument.port, timeout=0.2, exclusive=False)
            shared.open()  # sharing on purpose is still possible
            shared.close()
        transport.open()  # the holder is gone: the port is ours
        assert transport.is_open
        transport.close()


def test_an_exclusive_device_keeps_out_other_processes():

    from labnode.drivers.simulation import PtyDeviceServer, create_model

    with PtyDeviceServer(create_model("tpg26x")) as instrument:
        transport = SerialTransport(instrument.port, timeout=0.2)
        with opened(transport):
            assert_kept_out(instrument.port)


def test_transports_of_one_process_share_an_exclusive_device():
    from labnode.drivers.simulation import PtyDeviceServer, create_model

    with PtyDeviceServer(create_model("tpg26x")) as instrument:
        first = SerialTransport(instrument.port, timeout=0.2)
        second = SerialTransport(instrument.port, timeout=0.2)
        first.open()
        second.open()
        assert first.is_open and second.is_open
        first.close()
        second.close()
        first.open()  # the count went back to zero: the lock is taken afresh
        first.close()


def test_a_timeout_beyond_an_hour_is_a_config_error():
    with pytest.raises(DriverConfigError, match="at most 3600 seconds"):
        SerialTransport("loop://", timeout=1e12)
