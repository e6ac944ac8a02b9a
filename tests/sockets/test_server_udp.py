"""DateDataSocket over real UDP on 127.0.0.1: every request form, lifecycle and errors."""

from __future__ import annotations

import json
import socket
import time

import pytest

from labnode.sockets import (
    CodenameError,
    DateDataSocket,
    PortInUseError,
    TimeoutsError,
)

from .conftest import udp_request


def test_every_request_form_over_udp(node):
    node.set_point("one", (1763926800.5, 1.5))
    node.set_point("two", (time.time() + 60, 2))  # in the future: fresh for a minute
    node.set_point("three", (0, 1))
    x2 = node.table.get_point("two")[0]
    assert udp_request(node.port, b"raw") == f"OLD_DATA;{x2},2;0,1".encode()
    assert udp_request(node.port, b"raw_wn") == f"one:OLD_DATA;two:{x2},2;three:0,1".encode()
    assert json.loads(udp_request(node.port, b"json")) == ["OLD_DATA", [x2, 2], [0, 1]]
    assert udp_request(node.port, b"json_wn") == (
        f'{{"one": "OLD_DATA", "two": [{x2}, 2], "three": [0, 1]}}'.encode()
    )
    assert udp_request(node.port, b"three#raw") == b"0,1"
    assert udp_request(node.port, b"three#json") == b"[0, 1]"
    assert udp_request(node.port, b"one#raw") == b"OLD_DATA"
    assert udp_request(node.port, b"one#json") == b'"OLD_DATA"'
    assert udp_request(node.port, b"codenames_raw") == b"one,two,three"
    assert udp_request(node.port, b"codenames_json") == b'["one", "two", "three"]'
    assert udp_request(node.port, b"name") == b"test node"


def test_value_goes_old_after_its_timeout_and_fresh_again(node):
    node.set_point_now("two", 42.0)
    assert udp_request(node.port, b"two#raw").endswith(b",42.0")
    time.sleep(0.08)
    assert udp_request(node.port, b"two#raw") == b"OLD_DATA"
    assert udp_request(node.port, b"raw").split(b";")[1] == b"OLD_DATA"
    node.set_point_now("two", 43.0)
    assert udp_request(node.port, b"two#raw").endswith(b",43.0")


JUNK = [b"", b"\xff\xfe\xfd", b"hello", b"raw\r\n", b"a#b#c", b"x" * 9000]


@pytest.mark.parametrize("junk", JUNK)
def test_junk_gets_unknown_command_and_node_keeps_serving(node, junk):
    assert udp_request(node.port, junk) == b"UNKNOWN_COMMMAND"
    assert udp_request(node.port, b"codenames_raw") == b"one,two,three"


def test_status_over_udp(node):
    node.set_point_now("one", 1.0)
    node.set_status_provider(lambda: {"state": "connected"})
    status = json.loads(udp_request(node.port, b"status"))
    assert status["name"] == "test node"
    assert "system_status" in status and "socket_server_status" in status
    assert status["socket_server_status"][str(node.port)]["status"] == "OK"
    assert status["channels"]["one"]["old"] is False
    assert status["channels"]["three"]["timeout"] is None
    assert status["driver"] == {"state": "connected"}


def test_5000_codenames_get_an_error_reply_not_silence():
    codenames = [f"channel_{i:05d}" for i in range(5000)]
    with DateDataSocket(codenames, port=0, host="127.0.0.1") as sock:
        sock.set_points_now(dict.fromkeys(codenames, 0.123456789012), now=1763926800.123456)
        reply = udp_request(sock.port, b"json_wn")
        assert reply.startswith(b"REPLY_TOO_LARGE")
        assert b"NAME#json" in reply
        assert udp_request(sock.port, b"channel_00042#raw") == b"1763926800.123456,0.123456789012"
        status = json.loads(udp_request(sock.port, b"status"))  # trimmed, still useful
        assert status["name"] == sock.name and "5000 channels" in status["channels_omitted"]


def test_two_sockets_on_two_ports_at_once():
    with (
        DateDataSocket(["a"], port=0, host="127.0.0.1", name="first") as first,
        DateDataSocket(["b"], port=0, host="127.0.0.1", name="second") as second,
    ):
        first.set_point("a", (1, 10))
        second.set_point("b", (2, 20))
        assert first.port != second.port
        assert udp_request(first.port, b"raw_wn") == b"a:1,10"
        assert udp_request(second.port, b"raw_wn") == b"b:2,20"
        assert udp_request(second.port, b"name") == b"second"


def test_stop_is_quick_and_the_same_port_serves_again_at_once():
    sock = DateDataSocket(["a"], port=0, host="127.0.0.1")
    sock.start()
    port = sock.port
    assert udp_request(port, b"codenames_raw") == b"a"
    started = time.monotonic()
    sock.stop()
    assert time.monotonic() - started < 1.0
    assert not sock.is_serving
    again = DateDataSocket(["b"], port=port, host="127.0.0.1")
    again.start()
    try:
        assert udp_request(port, b"codenames_raw") == b"b"
    finally:
        again.stop()
    sock.start()  # the first socket can serve again too (port=0: on a new free port)
    try:
        assert udp_request(sock.port, b"codenames_raw") == b"a"
    finally:
        sock.stop()
    sock.stop()  # stopping twice is harmless


def test_port_in_use_error_names_address_port_and_what_to_try(node):
    other = DateDataSocket(["x"], port=node.port, host="127.0.0.1")
    with pytest.raises(PortInUseError) as info:
        other.start()
    message = str(info.value)
    assert f"port {node.port}" in message and "127.0.0.1" in message
    assert f"e.g. {node.port + 1}" in message


def test_default_port_and_all_interfaces():
    sock = DateDataSocket(["a"])
    assert sock.requested_port == 9000 and sock.host == ""
    assert "a" in sock.name  # a sensible default name


def test_pyexplabsys_argument_order_gets_a_message_with_the_fix():
    with pytest.raises(TypeError, match=r"DateDataSocket\(\['p1', 'p2'\], name='my gauge'"):
        DateDataSocket("my gauge", ["p1", "p2"])


@pytest.mark.parametrize("port", [-1, 65536, "9000", 9000.0, True])
def test_port_out_of_range_or_not_an_int(port):
    with pytest.raises(ValueError, match="0 to 65535"):
        DateDataSocket(["a"], port=port)


@pytest.mark.parametrize(
    ("codenames", "words"),
    [
        (["a#b"], ["'a#b'", "'#'"]),
        (["a,b"], ["'a,b'"]),
        (["a;b"], ["';'"]),
        (["a:b"], ["':'"]),
        (["a&b"], ["'&'"]),
        ([""], ["empty"]),
        (["with space"], ["whitespace"]),
        (["tab\t"], ["whitespace"]),
        (["Ω"], ["non-ASCII"]),
        (["a", "a"], ["twice"]),
        ("abc", ["list"]),
        ([3], ["int"]),
        ([], ["no codenames"]),
    ],
)
def test_bad_codenames_are_named_with_the_rule(codenames, words):
    with pytest.raises(CodenameError) as info:
        DateDataSocket(codenames, port=0)
    for word in words:
        assert word in str(info.value)


def test_wrong_number_of_timeouts():
    with pytest.raises(TimeoutsError, match="2 timeouts given for 3 codenames"):
        DateDataSocket(["a", "b", "c"], timeouts=[1, 2])
    with pytest.raises(TimeoutsError, match="'b'"):
        DateDataSocket(["a", "b"], timeouts=[1, "soon"])
    with pytest.raises(TimeoutsError, match="zero or more"):
        DateDataSocket(["a"], timeouts=-1)


def test_bad_points_are_rejected_at_the_caller(node):
    with pytest.raises(KeyError, match="unknown codename 'nope'"):
        node.set_point_now("nope", 1.0)
    with pytest.raises(TypeError, match="not a number"):
        node.set_point_now("one", "high")
    with pytest.raises(TypeError, match="string"):
        node.set_point_now("one", "1.5")
    with pytest.raises(TypeError, match="not a pair"):
        node.set_point("one", 5.0)
    assert udp_request(node.port, b"three#raw") == b"0.0,0.0"


def test_ipv6_loopback_if_available():
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    try:
        sock = DateDataSocket(["a"], port=0, host="::1")
        sock.start()
    except OSError:
        pytest.skip("IPv6 loopback not configured")
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as client:
            client.settimeout(2)
            client.sendto(b"codenames_raw", ("::1", sock.port))
            assert client.recv(100) == b"a"
    finally:
        sock.stop()


@pytest.mark.parametrize("busy_poll", [0.0, 100e-6, 0.005])
def test_served_the_same_with_or_without_busy_polling(busy_poll):
    sock = DateDataSocket(["a", "b"], port=0, host="127.0.0.1", busy_poll=busy_poll)
    with sock:
        sock.set_point("a", (1, 2))
        for _ in range(20):
            assert udp_request(sock.port, b"raw_wn") == b"a:1,2;b:0.0,0.0"
            assert udp_request(sock.port, b"junk") == b"UNKNOWN_COMMMAND"
        started = time.monotonic()
    assert time.monotonic() - started < 1.0  # stop() is prompt while polling too
    assert not sock.is_serving


def test_busy_poll_must_be_small():
    with pytest.raises(ValueError, match="busy_poll"):
        DateDataSocket(["a"], busy_poll=1.0)
