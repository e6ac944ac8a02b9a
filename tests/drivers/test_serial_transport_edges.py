"""SerialTransport at its edges, on real ports: write timeouts on a pty nobody reads, every I/O
call after the peer of a socket:// port resets, a changed timeout reaching the open port, and
the resource and option checks with their messages (written against its mutants, docs/testing.md).
"""

from __future__ import annotations

import os
import socket
import struct
import time

import pytest
import serial

from labnode.drivers import ConnectionLost, DriverConfigError, InstrumentTimeout, SerialTransport
from labnode.drivers.transports.port_locks import exclusive_users, port_key
from tests.drivers.driver_checks import opened

BIG = b"x" * 2_000_000  # far more than a pty or a socket buffers


@pytest.fixture
def unread_pty():
    """A pty whose controller side is held open but never read: writes to it block."""
    controller, device = os.openpty()
    path = os.ttyname(device)
    os.close(device)
    yield controller, path
    try:
        os.close(controller)
    except OSError:
        pass


def test_a_write_nobody_reads_is_a_timeout_and_the_next_command_flushes(unread_pty):
    controller, path = unread_pty
    transport = SerialTransport(path, owner="Gauge", timeout=0.2)
    with opened(transport):
        with pytest.raises(InstrumentTimeout) as caught:
            transport.write_bytes(BIG)
        assert str(caught.value).startswith("Gauge on ")
        assert "could not write within 0.2 s;" in str(caught.value)
        assert transport.is_open  # a timeout is not a lost connection
        os.write(controller, b"late\n")
        os.read(controller, 1 << 20)  # make room, so the next write can go
        deadline = time.monotonic() + 5
        while transport._port.in_waiting < 5 and time.monotonic() < deadline:  # noqa: SLF001
            time.sleep(0.01)
        transport.write_bytes(b"")  # after a timeout a write drops the late input first
        os.write(controller, b"fresh\n")
        assert transport.read() == "fresh"


def test_a_timeout_set_on_an_open_port_applies_to_reads_and_writes(unread_pty):
    controller, path = unread_pty
    transport = SerialTransport(path, timeout=30)
    with opened(transport):
        transport.timeout = 0.1
        started = time.monotonic()
        with pytest.raises(InstrumentTimeout, match="could not write within 0.1 s"):
            transport.write_bytes(BIG)
        with pytest.raises(InstrumentTimeout, match="expected 3 bytes"):
            transport.read_bytes(3)
        assert time.monotonic() - started < 10  # not the 30 s it was opened with


@pytest.fixture
def reset_peer():
    """A socket:// port whose TCP peer (on 127.0.0.1) resets the connection on demand."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    transport = SerialTransport(
        f"socket://127.0.0.1:{server.getsockname()[1]}", owner="Gauge", timeout=0.5
    )
    transport.open()
    peer, _ = server.accept()

    def reset() -> None:
        peer.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        peer.close()
        time.sleep(0.05)  # let the RST arrive

    yield transport, peer, reset
    transport.close()
    peer.close()
    server.close()


@pytest.mark.parametrize(
    "call",
    [
        lambda t: t.read_bytes(1),
        lambda t: t.read_until(b"\n"),
        lambda t: t.flush_input(),
        lambda t: t.write_bytes(BIG),
    ],
    ids=["read_bytes", "read_until", "flush_input", "write_bytes"],
)
def test_every_io_call_after_a_reset_is_connection_lost_and_closes(reset_peer, call):
    transport, peer, reset = reset_peer
    transport.last_command = "PR1"
    reset()
    with pytest.raises(ConnectionLost) as caught:
        call(transport)
    message = str(caught.value)
    assert isinstance(caught.value, ConnectionError)
    assert message.startswith("Gauge on 'socket://127.0.0.1:")
    assert (
        "connection lost: " in message and "check the cable, the power and the address" in message
    )
    assert caught.value.command == "PR1"
    assert not transport.is_open
    with pytest.raises(ConnectionLost, match="not connected"):
        call(transport)


def test_reads_and_flush_on_a_live_socket_port(reset_peer):
    transport, peer, reset = reset_peer
    peer.sendall(b"stale\n")
    time.sleep(0.05)
    transport.flush_input()
    peer.sendall(b"ab\ncd")
    assert transport.read_until(b"\n") == b"ab\n"
    with pytest.raises(InstrumentTimeout) as caught:
        transport.read_until(b"\n")
    assert "no reply ending in b'\\n' within 0.5 s (received only b'cd')" in str(caught.value)
    peer.sendall(b"xy")
    with pytest.raises(InstrumentTimeout) as caught:
        transport.read_bytes(3)
    assert "expected 3 bytes, no complete reply within 0.5 s (received only b'xy')" in str(
        caught.value
    )


def test_a_peer_that_closes_politely_is_connection_lost_too(reset_peer):
    transport, peer, reset = reset_peer
    peer.close()
    with pytest.raises(ConnectionLost, match="connection lost: read failed: socket disconnected"):
        transport.read_bytes(1)


def test_open_twice_and_close_twice_are_harmless(reset_peer):
    transport, peer, reset = reset_peer
    port = transport._port  # noqa: SLF001
    transport.open()
    assert transport._port is port  # noqa: SLF001
    transport.close()
    assert not port.is_open  # the pyserial port itself is closed, not just forgotten
    transport.close()
    assert not transport.is_open


def test_closing_a_port_whose_close_fails_still_closes_it(unread_pty):
    controller, path = unread_pty
    transport = SerialTransport(path, timeout=0.1)
    transport.open()
    os.close(transport._port.fd)  # noqa: SLF001 (the port's close will now fail)
    transport.close()
    assert not transport.is_open
    transport.open()  # the exclusive count went back to zero: the port opens afresh
    assert transport.is_open
    transport.close()


# -- resource and options ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "resource, message",
    [
        (
            "socket://127.0.0.1:0",
            "socket:// needs a host and a port 1-65535, such as 'socket://192.168.1.20:4001', "
            "got 'socket://127.0.0.1:0'",
        ),
        ("socket://127.0.0.1:65536", "socket:// needs a host and a port 1-65535"),
        ("socket://127.0.0.1:port", "socket:// needs a host and a port 1-65535"),
        ("socket://127.0.0.1", "socket:// needs a host and a port 1-65535"),
        ("socket://:4001", "socket:// needs a host and a port 1-65535"),
        ("rfc2217://:4001", "rfc2217:// needs a host and a port 1-65535, such as 'rfc2217://"),
        # the options are checked by pyserial's own URL handler (from_url), not a copied list;
        # pyserial 3.5's socket:// handler fails on its own message template (a KeyError)
        (
            "socket://127.0.0.1:5?foo=1",
            "invalid serial port 'socket://127.0.0.1:5?foo=1': pyserial refuses the options "
            "'foo=1' (the options of each URL: https://pyserial.readthedocs.io/",
        ),
        (
            "rfc2217://127.0.0.1:5?logging=info&bar",
            "invalid serial port 'rfc2217://127.0.0.1:5?logging=info&bar': expected a string in "
            "the form \"rfc2217://<host>:<port>[?option[&option...]]\": unknown option: 'bar'",
        ),
        (
            "rfc2217://127.0.0.1:5?timeout=soon",
            "could not convert string to float: 'soon'",
        ),
        (
            "SOCKET://127.0.0.1:5?logging=loud",
            "invalid serial port 'SOCKET://127.0.0.1:5?logging=loud': pyserial refuses the "
            "options 'logging=loud'",
        ),
        # pyserial reads the first of repeated options: this one fails when opened, so it is
        # refused now (a copied list that read the last one let it through)
        ("socket://127.0.0.1:5?logging=x&logging=error", "pyserial refuses the options"),
        ("loop://?logging=loud", "pyserial refuses the options 'logging=loud'"),
        ("a.b://x", "pyserial has no 'a.b://' URLs; give a device path such as '/dev/ttyUSB0'"),
        ("nope://x", "pyserial has no 'nope://' URLs"),
    ],
)
def test_bad_urls_are_refused_at_construction(resource, message):
    with pytest.raises(DriverConfigError) as caught:
        SerialTransport(resource)
    assert message in str(caught.value)
    assert caught.value.setting == "resource"


@pytest.mark.parametrize(
    "resource",
    [
        "socket://127.0.0.1:1",
        "socket://127.0.0.1:65535",
        "socket://127.0.0.1:5?logging=warning",
        "socket://127.0.0.1:5?logging=debug&logging=x",
        "hwgrep://labnode-not-plugged-in",  # looked for when opened: it may come later
        "rfc2217://127.0.0.1:5?poll_modem&timeout=3&ign_set_control",
        "Socket://127.0.0.1:5",
        "loop://",
        "spy://loop://",
        "/dev/labnode-not-plugged-in",
    ],
)
def test_good_resources_are_accepted_at_construction(resource):
    transport = SerialTransport(resource)
    assert transport.is_device is ("://" not in resource)
    assert not transport.is_open


@pytest.mark.parametrize(
    "settings, setting, words",
    [
        ({"baudrate": 10**30}, "baudrate", "the port refused its settings (OverflowError: "),
        ({"baudrate": 2**31}, "baudrate", "check baudrate"),
        ({"parity": 5}, "parity", "parity must be one of 'N', 'E', 'O', 'M', 'S' (none, even, "),
        ({"parity": "X"}, "parity", "got 'X'"),
        ({"stopbits": 3}, "stopbits", "stopbits"),
        ({"bytesize": 9}, "bytesize", "bytesize"),
        ({"xonxoff": "no"}, "xonxoff", "xonxoff must be true or false"),
        ({"rtscts": 2}, "rtscts", "rtscts"),
        ({"dsrdtr": "x"}, "dsrdtr", "dsrdtr"),
        ({"exclusive": "yes"}, "exclusive", "exclusive must be true or false"),
    ],
)
def test_bad_port_settings_name_the_setting(unread_pty, settings, setting, words):
    controller, path = unread_pty
    with pytest.raises(DriverConfigError) as caught:
        SerialTransport(path, timeout=0.1, **settings).open()
    assert caught.value.setting == setting
    assert words in str(caught.value)


def test_settings_are_normalised_and_reach_the_port(unread_pty):
    controller, path = unread_pty
    transport = SerialTransport(
        path,
        timeout=0.25,
        baudrate=19200,
        bytesize=7,
        parity="e",
        stopbits=2,
        xonxoff=True,
        rtscts=False,
        dsrdtr=False,
    )
    assert transport.options["parity"] == "E"
    with opened(transport):
        port = transport._port  # noqa: SLF001
        assert (port.baudrate, port.bytesize, port.parity, port.stopbits) == (19200, 7, "E", 2)
        assert (port.xonxoff, port.rtscts, port.dsrdtr) == (True, False, False)
        assert port.timeout == port.write_timeout == 0.25


def test_default_settings_reach_the_port(unread_pty):
    controller, path = unread_pty
    transport = SerialTransport(path, timeout=0.1)
    with opened(transport):
        port = transport._port  # noqa: SLF001
        assert (port.baudrate, port.bytesize, port.parity, port.stopbits) == (9600, 8, "N", 1)
        assert (port.xonxoff, port.rtscts, port.dsrdtr) == (False, False, False)


def test_a_url_whose_handler_refuses_it_is_a_config_error_when_built(unread_pty):
    _, path = unread_pty
    with pytest.raises(DriverConfigError) as caught:
        SerialTransport(f"alt://{path}?class=Nope", timeout=0.1)  # alt:// exists; Nope does not
    assert "invalid serial port 'alt://" in str(caught.value)
    assert "has no" not in str(caught.value)
    assert caught.value.setting == "resource"


def test_a_socket_port_nobody_listens_on_is_connection_lost():
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # a free port: connecting is refused
    transport = SerialTransport(f"socket://127.0.0.1:{port}", timeout=0.5)
    with pytest.raises(ConnectionLost, match="could not open the port: ") as caught:
        transport.open()
    assert not transport.is_open
    assert "not a serial port" not in str(caught.value)


def test_a_device_that_is_not_exclusive_can_be_opened_by_another_exclusive_user(unread_pty):
    controller, path = unread_pty
    shared = SerialTransport(path, timeout=0.1, exclusive=False)
    with opened(shared):
        owner = SerialTransport(path, timeout=0.1, exclusive=True)
        owner.open()  # nobody holds the lock: taken
        owner.close()


def test_exclusive_opens_of_one_device_are_counted_per_transport(unread_pty):
    controller, path = unread_pty
    key = port_key(path)
    first = SerialTransport(path, timeout=0.1)
    second = SerialTransport(path, timeout=0.1)
    shared = SerialTransport(path, timeout=0.1, exclusive=False)
    first.open()
    second.open()
    shared.open()
    assert exclusive_users(key) == 2
    first.close()
    assert exclusive_users(key) == 1
    first.close()  # closing again counts nothing
    assert exclusive_users(key) == 1
    second.close()
    shared.close()
    assert exclusive_users(key) == 0


def test_the_device_stays_locked_while_any_transport_here_has_it_open(unread_pty):
    controller, path = unread_pty
    first = SerialTransport(path, timeout=0.1)  # takes the lock
    second = SerialTransport(path, timeout=0.1)  # shares it (e.g. two units on one RS-485 line)
    first.open()
    second.open()
    try:
        first.close()  # e.g. one unit reconnecting: its flock goes with its file
        with pytest.raises(serial.SerialException, match="exclusively lock"):
            serial.Serial(path, exclusive=True)  # another open file, as another process has
        first.open()  # and back: it shares the lock the second one holds now
        second.close()
        with pytest.raises(serial.SerialException, match="exclusively lock"):
            serial.Serial(path, exclusive=True)
    finally:
        first.close()
        second.close()
    serial.Serial(path, exclusive=True).close()  # all closed: free


@pytest.mark.parametrize("bytesize", [5, 6, 7, 8])
def test_every_byte_size_is_accepted(unread_pty, bytesize):
    controller, path = unread_pty
    transport = SerialTransport(path, timeout=0.1, bytesize=bytesize)
    with opened(transport):
        assert transport._port.bytesize == bytesize  # noqa: SLF001


def test_a_reopened_port_starts_clean_and_keeps_what_arrives_after(unread_pty):
    controller, path = unread_pty
    transport = SerialTransport(path, timeout=0.1)
    transport.open()
    with pytest.raises(InstrumentTimeout):
        transport.read()  # a timeout: the next command would first drop late input
    transport.close()
    with opened(transport):
        os.write(controller, b"banner\n")
        deadline = time.monotonic() + 5
        while transport._port.in_waiting < 7 and time.monotonic() < deadline:  # noqa: SLF001
            time.sleep(0.01)
        transport.write_bytes(b"")  # nothing is stale after a reopen: the banner stays
        assert transport.read() == "banner"


def test_url_handlers_are_found_past_a_package_that_cannot_be_imported(monkeypatch):
    monkeypatch.setattr(
        serial, "protocol_handler_packages", ["labnode_no_such_package", "serial.urlhandler"]
    )
    assert SerialTransport("loop://").resource == "loop://"
    with pytest.raises(DriverConfigError, match="pyserial has no 'nope://' URLs"):
        SerialTransport("nope://x")


def test_resource_may_be_given_by_keyword_and_owner_only_by_keyword():
    transport = SerialTransport(resource="loop://", owner="Gauge", timeout=0.1)
    assert transport.resource == "loop://" and transport.owner == "Gauge"
    with pytest.raises(TypeError):
        SerialTransport("loop://", "Gauge")  # type: ignore[misc]


def test_a_long_read_of_exactly_the_size_asked_is_whole():
    transport = SerialTransport("loop://", timeout=0.5, baudrate=115200)  # loop:// models baud
    with opened(transport):
        transport.write_bytes(bytes(range(256)) * 4)
        assert transport.read_bytes(1000) == (bytes(range(256)) * 4)[:1000]
        assert transport.read_bytes(24) == bytes(range(232, 256))
