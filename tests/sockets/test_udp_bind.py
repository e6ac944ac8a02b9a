"""bind_udp's errors carry the host and port (the CLI maps them to config keys by type)."""

import socket

import pytest

from labnode.sockets import BindError, DataPushSocket, DateDataSocket, PortInUseError
from labnode.sockets.udp_bind import bind_udp


@pytest.fixture
def taken_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        yield taken.getsockname()[1]


def test_a_port_in_use_is_a_bind_error_naming_host_and_port(taken_port):
    with pytest.raises(PortInUseError) as info:
        bind_udp("127.0.0.1", taken_port)
    error = info.value
    assert isinstance(error, BindError) and isinstance(error, OSError)
    assert (error.host, error.port) == ("127.0.0.1", taken_port)
    assert f"UDP port {taken_port} on 127.0.0.1 is already in use" in str(error)


@pytest.mark.parametrize(
    "make",
    [
        lambda port: DateDataSocket(["a"], port=port, host="127.0.0.1"),
        lambda port: DataPushSocket("p", port=port, host="127.0.0.1"),
    ],
)
def test_both_servers_bind_through_it(taken_port, make):
    server = make(taken_port)
    with pytest.raises(PortInUseError) as info:
        server.start()
    assert info.value.port == taken_port
    assert not server.is_serving


@pytest.mark.parametrize(
    "make",
    [
        lambda: DateDataSocket(["a"], port=0, host="127.0.0.1"),
        lambda: DataPushSocket("p", port=0, host="127.0.0.1"),
    ],
)
def test_stop_frees_the_port_at_once(make):
    server = make()
    server.start()
    port = server.port
    assert server.is_serving
    server.stop()
    assert not server.is_serving
    bind_udp("127.0.0.1", port).close()  # free again: no PortInUseError
