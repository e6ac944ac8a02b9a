"""DataPushSocket over real UDP on 127.0.0.1: lifecycle, actions, big datagrams, guards."""

from __future__ import annotations

import json
import logging
import queue
import socket
import threading
import time

import pytest

from labnode.sockets import DataPushSocket, PortInUseError
from tests.waiting import wait_for

from .forged_udp import raw_socket_or_skip, send_forged

LOOPBACK = "127.0.0.1"


def _ask(port: int, request: bytes, timeout: float = 2.0, source: str = LOOPBACK) -> bytes:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
        client.bind((source, 0))
        client.settimeout(timeout)
        client.sendto(request, (LOOPBACK, port))
        return client.recvfrom(65536)[0]


def _silent(sock: socket.socket, within: float = 0.3) -> bool:
    sock.settimeout(within)
    try:
        sock.recvfrom(65536)
    except TimeoutError:
        return True
    return False


def test_port_zero_context_manager_and_stop_frees_the_port_at_once():
    with DataPushSocket("p", port=0, host=LOOPBACK) as push:
        port = push.port
        assert port and push.is_serving
        assert _ask(port, b"name") == b"RET#p"
        thread = push._thread
    assert not push.is_serving and not thread.is_alive()
    # PyExpLabSys leaves the port bound after stop(); here a new socket binds it at once
    with DataPushSocket("again", port=port, host=LOOPBACK):
        assert _ask(port, b"name") == b"RET#again"


def test_second_socket_on_a_bound_port_is_port_in_use():
    with DataPushSocket("p", port=0, host=LOOPBACK) as push:
        second = DataPushSocket("q", port=push.port, host=LOOPBACK)
        with pytest.raises(PortInUseError, match=f"UDP port {push.port} on 127.0.0.1"):
            second.start()


def test_store_last_over_udp():
    with DataPushSocket("p", port=0, host=LOOPBACK) as push:
        assert _ask(push.port, b'json_wn#{"volt": 2.5}') == b"ACK#{'volt': 2.5}"
        when, values = push.last
        assert values == {"volt": 2.5} and abs(when - time.time()) < 5
        assert push.updated[1] == {"volt": 2.5}
        assert push.queue is None


def test_enqueue_default_queue_is_bounded_and_full_refuses():
    with DataPushSocket("p", port=0, action="enqueue", host=LOOPBACK, queue_size=2) as push:
        assert push.queue.maxsize == 2
        assert _ask(push.port, b"raw_wn#a:int:1").startswith(b"ACK#")
        assert _ask(push.port, b"raw_wn#a:int:2").startswith(b"ACK#")
        assert _ask(push.port, b"raw_wn#a:int:3").startswith(b"ERROR#the push queue is full")
        assert [push.queue.get_nowait(), push.queue.get_nowait()] == [{"a": 1}, {"a": 2}]


def test_enqueue_with_the_users_queue():
    mine: queue.Queue = queue.Queue()
    with DataPushSocket("p", port=0, action="enqueue", queue=mine, host=LOOPBACK) as push:
        assert push.queue is mine
        _ask(push.port, b"raw_wn#a:str:x,y")
        assert mine.get(timeout=1) == {"a": ["x", "y"]}


def test_callback_async_survives_exceptions_and_counts_them():
    handled = []
    done = threading.Event()

    def callback(values):
        if values["n"] % 2:
            raise ValueError(f"odd {values['n']}")
        handled.append(values["n"])
        if values["n"] == 4:
            done.set()

    with DataPushSocket(
        "p", port=0, action="callback_async", callback=callback, host=LOOPBACK
    ) as p:
        for n in range(5):
            assert _ask(p.port, f"raw_wn#n:int:{n}".encode()) == f"ACK#{{'n': {n}}}".encode()
        assert done.wait(3)
        assert handled == [0, 2, 4]  # PyExpLabSys's callback thread died at n=1
        wait_for(lambda: p.handler.counts.callback_errors == 2)
        status = json.loads(_ask(p.port, b"status"))
        assert status["counts"]["callback_errors"] == 2
        worker = p._worker
    assert not worker.is_alive()  # stop() ends the callback thread too


def test_callback_async_full_queue_refuses():
    release = threading.Event()
    with DataPushSocket(
        "p",
        port=0,
        action="callback_async",
        callback=lambda v: release.wait(5),
        host=LOOPBACK,
        queue_size=1,
    ) as push:
        assert _ask(push.port, b"raw_wn#a:int:1").startswith(b"ACK#")  # taken by the worker
        wait_for(lambda: push.queue.qsize() == 0)
        assert _ask(push.port, b"raw_wn#a:int:2").startswith(b"ACK#")  # waits in the queue
        assert _ask(push.port, b"raw_wn#a:int:3").startswith(b"ERROR#the push queue is full")
        release.set()


def test_callback_direct_over_udp():
    with DataPushSocket(
        "p",
        port=0,
        action="callback_direct",
        callback=lambda v: {"sum": sum(v.values())},
        return_format="raw",
        host=LOOPBACK,
    ) as push:
        assert _ask(push.port, b"raw_wn#a:int:1;b:int:2") == b"RET#sum:int:3"


@pytest.mark.parametrize("size", [8193, 20000, 65000])
def test_datagrams_over_8192_bytes_are_taken_whole(size):
    text = b"x" * (size - len(b"raw_wn#s:str:") - 1) + b"!"
    with DataPushSocket("p", port=0, host=LOOPBACK) as push:
        reply = _ask(push.port, b"raw_wn#s:str:" + text)
        assert reply == b"ACK#{'s': '" + text + b"'}"  # PyExpLabSys would store 8192 bytes
        assert push.last[1]["s"].endswith("!")


def test_datagram_over_max_request_is_refused_not_cut():
    with DataPushSocket("p", port=0, host=LOOPBACK, max_request=9000) as push:
        reply = _ask(push.port, b"raw_wn#s:str:" + b"x" * 9000)
        assert reply.startswith(b"ERROR#the request is 9013 bytes, more than the 9000")
        assert push.last == (None, None)


def test_non_ascii_gets_an_error_and_escaped_values_get_an_ack():
    with DataPushSocket("p", port=0, host=LOOPBACK) as push:
        reply = _ask(push.port, "raw_wn#t:str:°C".encode())
        assert reply.startswith(b"ERROR#the request is not ASCII (byte 0xc2 at position 13)")
        # PyExpLabSys stores this and then cannot encode its ACK: the client times out
        assert _ask(push.port, b'json_wn#{"t": "\\u00b0C"}') == b"ACK#{'t': '\\xb0C'}"
        assert push.last[1] == {"t": "\u00b0C"}


def test_status_has_no_host_identity():
    with DataPushSocket("p", port=0, host=LOOPBACK, allow=["127.0.0.0/8"]) as push:
        _ask(push.port, b"raw_wn#a:int:1")
        text = _ask(push.port, b"status").decode()
        status = json.loads(text)
    assert status["type"] == "push" and status["port"] == push.port
    assert status["counts"]["accepted"] == 1
    assert status["allow"] == ["127.0.0.0/8"]
    assert "socket_server_status" in status and "system_status" in status
    assert socket.gethostname() not in text
    for word in ("hostname", "mac", "serial"):
        assert word not in text.lower()


def test_clients_outside_the_allow_list_are_refused_and_nothing_is_stored():
    with DataPushSocket("p", port=0, host=LOOPBACK, allow=["127.0.0.1"]) as push:
        reply = _ask(push.port, b"raw_wn#volt:float:9", source="127.0.0.2")
        assert reply.startswith(b"ERROR#client 127.0.0.2 is not allowed")
        assert push.last == (None, None)
        assert _ask(push.port, b"raw_wn#volt:float:2") == b"ACK#{'volt': 2.0}"


@pytest.mark.parametrize(
    "reply",
    [b"ACK#{'a': 1}", b"RET#name", b"ERROR#UNKNOWN_COMMMAND", b"EXCEP#boom", b'{"status": 1}'],
)
def test_a_reply_sent_as_a_request_is_never_answered(reply):
    with (
        DataPushSocket("p", port=0, host=LOOPBACK) as push,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client,
    ):
        client.bind((LOOPBACK, 0))
        client.sendto(reply, (LOOPBACK, push.port))
        assert _silent(client)
        assert push.handler.counts.ignored_replies == 1


def test_two_push_sockets_do_not_loop_on_a_forged_source():
    raw = raw_socket_or_skip()
    with (
        raw,
        DataPushSocket("a", port=0, host=LOOPBACK) as a,
        DataPushSocket("b", port=0, host=LOOPBACK) as b,
    ):
        # b "asks" a something bad: a answers ERROR# to b, and b must not answer that
        send_forged(raw, (LOOPBACK, b.port), (LOOPBACK, a.port), b"bogus")
        wait_for(lambda: b.handler.counts.ignored_replies == 1)
        time.sleep(0.3)
        assert a.handler.counts.requests == 1 and b.handler.counts.requests == 0
        assert a.handler.counts.ignored_replies == 0


def test_a_datagram_from_its_own_address_is_dropped():
    raw = raw_socket_or_skip()
    with raw, DataPushSocket("p", port=0, host=LOOPBACK) as push:
        send_forged(raw, (LOOPBACK, push.port), (LOOPBACK, push.port), b"name")
        wait_for(lambda: push.handler.counts.ignored_own_address == 1)
        assert push.handler.counts.requests == 0


def test_a_forged_flood_sends_the_victim_a_bounded_number_of_errors():
    raw = raw_socket_or_skip()
    with (
        raw,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as victim,
        DataPushSocket("p", port=0, host=LOOPBACK) as push,
    ):
        victim.bind(("127.0.0.3", 0))
        started = time.monotonic()
        for _ in range(300):
            send_forged(raw, victim.getsockname(), (LOOPBACK, push.port), b"bogus")
        received = 0
        while not _silent(victim, 0.3):
            received += 1
        elapsed = time.monotonic() - started
        handled = push.handler.counts.requests  # the kernel may drop some of a fast flood
        assert handled >= 100
        limiter = push.handler.limiter
        assert 0 < received <= limiter.burst + limiter.rate * elapsed + 1
        assert limiter.refused == handled - received  # every other error reply was dropped


def test_the_reference_cuts_big_datagrams_as_pyexplabsys_does():
    """The big-datagram test above would fail on PyExpLabSys: its 8192-byte read cuts the value."""
    from .pyexplabsys_push_reference import ReferencePushServer

    text = b"x" * 20000
    with ReferencePushServer("r") as reference:
        reply = _ask(reference.port, b"raw_wn#s:str:" + text)
    assert reply == b"ACK#{'s': '" + text[: 8192 - len(b"raw_wn#s:str:")] + b"'}"


def test_a_source_port_it_cannot_answer_is_skipped_and_serving_goes_on(caplog):
    raw = raw_socket_or_skip()
    caplog.set_level(logging.DEBUG, logger="labnode.sockets.push_server")
    with raw, DataPushSocket("p", port=0, host=LOOPBACK) as push:
        send_forged(raw, ("127.0.0.5", 0), (LOOPBACK, push.port), b"name")  # sendto: EINVAL
        wait_for(lambda: push.handler.counts.requests == 1)
        assert _ask(push.port, b"name") == b"RET#p"
    assert "could not reply to ('127.0.0.5', 0)" in caplog.text


def test_a_client_gone_before_the_reply_does_not_stop_serving():
    # the reply goes to a closed port (Linux reports the ICMP error to connected sockets only)
    with DataPushSocket("p", port=0, host=LOOPBACK) as push:
        for _ in range(5):
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as gone:
                gone.sendto(b"name", (LOOPBACK, push.port))
            _ask(push.port, b"status")
        assert _ask(push.port, b"name") == b"RET#p" and push.is_serving


def test_a_failing_limiter_costs_one_reply_not_the_socket(caplog):
    from labnode.sockets.guard import ErrorRateLimiter

    class Failing(ErrorRateLimiter):
        def allow(self, host: str) -> bool:
            raise RuntimeError("limiter broke")

    with DataPushSocket("p", port=0, host=LOOPBACK, limiter=Failing()) as push:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
            client.bind((LOOPBACK, 0))
            client.sendto(b"bogus" + b"x" * 200, (LOOPBACK, push.port))
            assert _silent(client)
        assert _ask(push.port, b"name") == b"RET#p" and push.is_serving
    shown = b"bogus" + b"x" * 95  # the first 100 bytes
    assert f"failed to answer {shown!r} from ('127.0.0.1'" in caplog.text


def test_constructor_limits_of_queue_size_and_max_request():
    for bad in (True, 1.5, "2", 0, -1):
        with pytest.raises(ValueError, match="queue_size=.*whole number of values >= 1"):
            DataPushSocket("x", port=0, action="enqueue", queue_size=bad)
    assert DataPushSocket("x", port=0, action="enqueue", queue_size=1).queue.maxsize == 1
    for bad in (0, -5, 65536):
        with pytest.raises(ValueError, match=f"max_request={bad}: give bytes from 1 to 65535"):
            DataPushSocket("x", port=0, max_request=bad)
    assert DataPushSocket("x", port=0, max_request=65535).handler.max_request == 65535
    assert DataPushSocket("x", port=0, max_request=1).handler.max_request == 1


def test_the_default_queue_holds_1000_values_and_an_action_read_at_run_time_works():
    # docs/push.md: queue.Queue(maxsize=queue_size) (1000)
    assert DataPushSocket("x", port=0, action="enqueue").queue.maxsize == 1000
    action = "".join(["callback", "_", "async"])  # as read from a file: not the literal object
    handled = threading.Event()
    with DataPushSocket(
        "p", port=0, action=action, callback=lambda v: handled.set(), host=LOOPBACK
    ) as push:
        assert push.queue.maxsize == 1000
        assert _ask(push.port, b"raw_wn#a:int:1") == b"ACK#{'a': 1}"
        assert handled.wait(3)


def test_port_name_repr_and_queues_before_and_after_start():
    push = DataPushSocket(7, port=0, host=LOOPBACK)
    assert push.name == "7" and push.port is None and push.requested_port == 0
    assert repr(push) == "DataPushSocket('7', port=None, action='store_last', host='127.0.0.1')"
    assert DataPushSocket("x", port=8123).port == 8123
    assert isinstance(
        DataPushSocket("x", port=0, action="callback_async", callback=print).queue, queue.Queue
    )
    assert DataPushSocket("x", port=0, action="callback_direct", callback=print).queue is None
    with push:
        assert (
            repr(push)
            == f"DataPushSocket('7', port={push.port}, action='store_last', host='127.0.0.1')"
        )


def test_status_of_a_socket_for_everyone_and_under_its_own_port():
    with DataPushSocket("p", port=0, host=LOOPBACK) as push:
        status = json.loads(_ask(push.port, b"status"))
    assert status["allow"] is None and status["name"] == "p" and status["uptime"] >= 0
    assert status["socket_server_status"] == {
        str(push.port): {"name": "p", "type": "push", "status": "OK"}
    }
    assert "time" in status["system_status"] and "hostname" not in status["system_status"]
    assert status["action"] == "store_last"


def test_callback_async_calls_back_from_its_own_thread_not_the_servers():
    threads = []
    done = threading.Event()

    def callback(values):
        threads.append(threading.current_thread().name)
        done.set()

    with DataPushSocket(
        "p", port=0, action="callback_async", callback=callback, host=LOOPBACK
    ) as push:
        assert _ask(push.port, b"raw_wn#a:int:1") == b"ACK#{'a': 1}"
        assert done.wait(3)
    assert threads == ["DataPushSocket callback 'p'"]


def test_a_restart_after_a_stop_during_a_callback_calls_back_only_with_values(caplog):
    calls: list[object] = []
    running, release = threading.Event(), threading.Event()

    def callback(values):
        calls.append(values)
        running.set()
        release.wait(5)

    push = DataPushSocket(
        "p", port=0, action="callback_async", callback=callback, host=LOOPBACK, queue_size=1
    )
    with push:
        assert _ask(push.port, b"raw_wn#a:int:1").startswith(b"ACK#")
        assert running.wait(3)  # the worker is busy in the callback
        assert _ask(push.port, b"raw_wn#a:int:2").startswith(b"ACK#")  # the queue is full
        threading.Timer(0.3, release.set).start()
        started = time.monotonic()
    # stop() could not queue its wake-up (full) and waited for the callback, not for 2 s
    assert time.monotonic() - started < 1.5
    assert "still running" not in caplog.text
    running.clear()
    with push:  # the value left in the queue is handled by the new worker
        wait_for(lambda: len(calls) == 2)
        threading.Timer(0.3, release.set).start()
    release.clear()
    with push:  # this time stop() queued a wake-up its worker never took: the next one skips it
        assert _ask(push.port, b"raw_wn#a:int:3").startswith(b"ACK#")
        wait_for(lambda: len(calls) == 3)
        threading.Timer(0.3, release.set).start()
    release.set()
    with push:
        assert _ask(push.port, b"raw_wn#a:int:4").startswith(b"ACK#")
        wait_for(lambda: len(calls) == 4)
        time.sleep(0.1)
    assert calls == [{"a": 1}, {"a": 2}, {"a": 3}, {"a": 4}]
    assert push.handler.counts.callback_errors == 0


def test_a_callback_still_running_two_seconds_after_stop_is_left_behind(caplog):
    release = threading.Event()
    push = DataPushSocket(
        "p", port=0, action="callback_async", callback=lambda v: release.wait(10), host=LOOPBACK
    )
    try:
        with push:
            assert _ask(push.port, b"raw_wn#a:int:1").startswith(b"ACK#")
            wait_for(lambda: push.queue.qsize() == 0)
            started = time.monotonic()
        took = time.monotonic() - started
        assert 1.9 < took < 3.5, took
        assert "push socket callback still running after 2.0 s; left behind" in caplog.text
        left = [t for t in threading.enumerate() if t.name == "DataPushSocket callback 'p'"]
        assert left and all(t.daemon for t in left)  # it does not keep the process alive
    finally:
        release.set()


def test_started_without_a_thread_its_owner_serves_what_waits_without_blocking():
    push = DataPushSocket("p", port=0, host=LOOPBACK)
    push.start(thread=False)
    try:
        assert push._thread is None and push.is_serving and push.fileno() >= 0
        assert push.serve_pending() == 0  # nothing waits: returns at once
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
            client.bind((LOOPBACK, 0))
            client.settimeout(2.0)
            for value in (1, 2, 3):
                client.sendto(f'json_wn#{{"v": {value}}}'.encode(), (LOOPBACK, push.port))
            wait_for(lambda: push.serve_pending(2) == 2)  # at most the limit...
            assert [client.recvfrom(100)[0] for _ in range(2)] == [b"ACK#{'v': 1}", b"ACK#{'v': 2}"]
            assert push.serve_pending() == 1  # ...and the rest on the next call
            assert client.recvfrom(100)[0] == b"ACK#{'v': 3}"
        assert push.last[1] == {"v": 3}
    finally:
        push.stop()
    assert not push.is_serving and push.fileno() == -1 and push.serve_pending() == 0
    with DataPushSocket("again", port=push.port, host=LOOPBACK):  # the port is free at once
        pass


def test_the_reply_goes_out_before_the_write_is_audited():
    audited = threading.Event()
    release = threading.Event()

    def audit(address, request, reply) -> None:
        release.wait(5)  # a slow log: the client must not wait for it
        audited.set()

    with DataPushSocket("p", port=0, host=LOOPBACK, audit=audit) as push:
        try:
            assert _ask(push.port, b'json_wn#{"v": 1}', timeout=2.0) == b"ACK#{'v': 1}"
            assert not audited.is_set()
        finally:
            release.set()
        wait_for(audited.is_set)


def test_one_serve_pending_answers_at_most_64_datagrams_by_default():
    push = DataPushSocket("p", port=0, host=LOOPBACK)
    push.start(thread=False)
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
            client.bind((LOOPBACK, 0))
            for n in range(70):  # on loopback each is queued when sendto returns
                client.sendto(f"raw_wn#n:int:{n}".encode(), (LOOPBACK, push.port))
            assert push.serve_pending() == 64
            assert push.last[1] == {"n": 63}
            assert push.serve_pending() == 6 and push.serve_pending() == 0
            assert push.last[1] == {"n": 69}
    finally:
        push.stop()
