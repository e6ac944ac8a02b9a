"""SocketDeviceServer and PtyDeviceServer through real pyserial and real pyvisa-py."""

from __future__ import annotations

import os
import socket
import threading
import time

import pytest
import serial

from labnode.drivers.simulation import LineDeviceModel, PtyDeviceServer, SocketDeviceServer
from labnode.drivers.transports import resource_manager


class EchoModel(LineDeviceModel):
    """Answers each line upper-cased."""

    name = "echo"

    def handle_line(self, line: str) -> str | None:
        return line.upper()


def open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


def ask(port: serial.SerialBase, line: bytes) -> bytes:
    port.write(line + b"\r")
    return port.read_until(b"\r")


@pytest.fixture
def tcp() -> SocketDeviceServer:
    with SocketDeviceServer(EchoModel()) as server:
        yield server


@pytest.fixture
def pty() -> PtyDeviceServer:
    with PtyDeviceServer(EchoModel()) as server:
        yield server


def test_socket_server_binds_loopback_on_a_free_port(tcp):
    assert tcp.host == "127.0.0.1"
    assert tcp.port > 0
    assert tcp.url == f"socket://127.0.0.1:{tcp.port}"
    assert tcp.visa_resource == f"TCPIP::127.0.0.1::{tcp.port}::SOCKET"


def test_socket_server_answers_pyserial(tcp):
    with serial.serial_for_url(tcp.url, timeout=1) as port:
        assert ask(port, b"hello") == b"HELLO\r"
        assert ask(port, b"again") == b"AGAIN\r"


@pytest.mark.parametrize("server", ["tcp", "pty"])
def test_both_servers_answer_pyvisa_py(server, request):
    """TCPIP::...::SOCKET for the TCP server, ASRL<pty>::INSTR for the pty."""
    visa_resource = request.getfixturevalue(server).visa_resource
    instrument = resource_manager("@py").open_resource(
        visa_resource, read_termination="\r", write_termination="\r", timeout=1000
    )
    try:
        assert instrument.query("visa") == "VISA"
    finally:
        instrument.close()


def test_silent_model_lets_a_pyserial_read_time_out(tcp):
    tcp.model.silent = True
    with serial.serial_for_url(tcp.url, timeout=0.2) as port:
        assert ask(port, b"anyone") == b""
        tcp.model.silent = False
        assert ask(port, b"back") == b"BACK\r"


def test_reply_delay_holds_replies_back(tcp):
    tcp.model.reply_delay = 0.3
    with serial.serial_for_url(tcp.url, timeout=0.1) as port:
        started = time.monotonic()
        assert ask(port, b"slow") == b""
        port.timeout = 1.0
        assert port.read_until(b"\r") == b"SLOW\r"
        assert 0.25 < time.monotonic() - started < 1.0


@pytest.mark.parametrize("server", ["tcp", "pty"])
def test_vanish_fails_client_io_and_come_back_serves_again(server, request):
    device = request.getfixturevalue(server)
    client = serial.serial_for_url(device.url, timeout=1)
    assert ask(client, b"one") == b"ONE\r"
    device.vanish()
    assert not device.is_listening
    with pytest.raises(serial.SerialException):
        client.write(b"two\r")
        client.read_until(b"\r")
    client.close()
    device.come_back()
    with serial.serial_for_url(device.url, timeout=1) as client:
        assert ask(client, b"three") == b"THREE\r"


def test_a_vanished_socket_server_refuses_connects_and_comes_back_on_the_same_port(tcp):
    port_number = tcp.port
    tcp.vanish()
    with pytest.raises(serial.SerialException, match="refused"):
        serial.serial_for_url(tcp.url, timeout=1)
    tcp.come_back()
    assert tcp.port == port_number


def test_vanish_and_come_back_can_repeat(tcp):
    for _ in range(3):
        tcp.vanish()
        tcp.vanish()  # idempotent
        tcp.come_back()
        tcp.come_back()  # idempotent
        with serial.serial_for_url(tcp.url, timeout=1) as client:
            assert ask(client, b"x") == b"X\r"


def test_drop_connections_keeps_listening(tcp):
    client = serial.serial_for_url(tcp.url, timeout=1)
    assert ask(client, b"a") == b"A\r"
    deadline = time.monotonic() + 1
    while tcp.connection_count != 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    tcp.drop_connections()
    assert tcp.connection_count == 0
    with pytest.raises(serial.SerialException, match="disconnected"):
        client.read(1)
    client.close()
    with serial.serial_for_url(tcp.url, timeout=1) as client:
        assert ask(client, b"b") == b"B\r"


def test_a_taken_port_is_reported_clearly(tcp):
    with pytest.raises(OSError, match=f"port {tcp.port} on 127.0.0.1 is already in use"):
        SocketDeviceServer(EchoModel(), port=tcp.port).start()


def test_socket_server_stops_fast_and_closes_every_descriptor():
    before = open_fds()
    threads = threading.active_count()
    server = SocketDeviceServer(EchoModel()).start()
    clients = [serial.serial_for_url(server.url, timeout=1) for _ in range(3)]
    for client in clients:
        assert ask(client, b"hi") == b"HI\r"
    server.model.reply_delay = 5.0  # a reply still pending must not delay stop()
    clients[0].write(b"late\r")
    time.sleep(0.05)
    started = time.monotonic()
    server.stop()
    server.stop()  # idempotent
    assert time.monotonic() - started < 1.0
    for client in clients:
        client.close()
    assert open_fds() == before
    assert threading.active_count() == threads
    with pytest.raises(serial.SerialException):
        serial.serial_for_url(server.url, timeout=1)


def test_socket_server_survives_clients_that_reset():
    with SocketDeviceServer(EchoModel()) as server:
        for _ in range(5):
            raw = socket.create_connection(("127.0.0.1", server.port))
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
            raw.sendall(b"bye\r")
            raw.close()
        with serial.serial_for_url(server.url, timeout=1) as client:
            assert ask(client, b"still") == b"STILL\r"


def test_pty_server_exposes_a_device_path(pty):
    assert pty.port.startswith("/dev/")
    assert os.path.exists(pty.port)
    assert pty.url == pty.port
    assert pty.visa_resource == f"ASRL{pty.port}::INSTR"


def test_pty_server_answers_pyserial_at_any_baud_rate(pty):
    for baudrate in (9600, 19200):
        with serial.serial_for_url(pty.port, baudrate=baudrate, timeout=1) as port:
            assert ask(port, b"tty") == b"TTY\r"


def test_pty_faults_silence_and_garbage(pty):
    with serial.serial_for_url(pty.port, timeout=0.2) as port:
        pty.model.silent = True
        assert ask(port, b"x") == b""
        pty.model.silent = False
        pty.model.garbage = True
        assert ask(port, b"x").startswith(b"#?%garbage")
        pty.model.garbage = False
        assert ask(port, b"x") == b"X\r"


def test_pty_server_stops_fast_and_closes_every_descriptor():
    before = open_fds()
    server = PtyDeviceServer(EchoModel()).start()
    with serial.serial_for_url(server.port, timeout=1) as port:
        assert ask(port, b"hi") == b"HI\r"
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 1.0
    assert not server.is_serving
    assert open_fds() == before


class CrashingModel(LineDeviceModel):
    """Raises on 'boom', echoes otherwise."""

    name = "crashing"

    def handle_line(self, line: str) -> str | None:
        if line == "boom":
            raise RuntimeError("model bug")
        return line


@pytest.mark.parametrize("server_class", [SocketDeviceServer, PtyDeviceServer])
def test_a_model_bug_answers_nothing_and_keeps_the_server_up(server_class, caplog):
    with server_class(CrashingModel()) as server, serial.serial_for_url(server.url) as port:
        port.timeout = 0.2
        assert ask(port, b"boom") == b""
        assert ask(port, b"ok") == b"ok\r"
    assert "crashing model failed" in caplog.text
