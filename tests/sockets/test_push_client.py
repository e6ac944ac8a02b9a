"""DataPushClient and `labnode set` against labnode's push socket and the PyExpLabSys reference."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

from labnode.cli import main
from labnode.sockets import (
    DataPushClient,
    DataPushSocket,
    NodeError,
    NodeTimeoutError,
    NodeUnreachableError,
    PushRefused,
    WriteRefusedError,
)

from .pyexplabsys_push_reference import ReferencePushServer

LOOPBACK = "127.0.0.1"


def _no_volt_above_six(values, address):
    if values.get("volt", 0) > 6:
        raise PushRefused(f"volt: {values['volt']} is above the maximum 6")


@pytest.fixture
def push():
    with DataPushSocket("psu push", port=0, host=LOOPBACK, check=_no_volt_above_six) as sock:
        yield sock


def test_write_returns_the_ack_and_the_socket_has_the_values(push):
    with DataPushClient(LOOPBACK, push.port) as client:
        reply = client.write({"volt": 2.5, "on": True, "mode": "cv", "n": 3})
    assert reply == "ACK#{'volt': 2.5, 'on': True, 'mode': 'cv', 'n': 3}"
    assert push.last[1] == {"volt": 2.5, "on": True, "mode": "cv", "n": 3}


def test_refusal_is_write_refused_error_with_the_reason(push):
    with DataPushClient(LOOPBACK, push.port) as client, pytest.raises(WriteRefusedError) as info:
        client.write({"volt": 7})
    assert info.value.kind == "ERROR"
    assert info.value.reason == "volt: 7 is above the maximum 6"
    assert info.value.reply == "ERROR#volt: 7 is above the maximum 6"
    assert isinstance(info.value, NodeError)
    assert push.last == (None, None)


def test_callback_exception_is_write_refused_error_excep():
    def broken(values):
        raise RuntimeError("instrument offline")

    with (
        DataPushSocket("p", port=0, action="callback_direct", callback=broken, host=LOOPBACK) as p,
        DataPushClient(LOOPBACK, p.port) as client,
        pytest.raises(WriteRefusedError, match="EXCEP#instrument offline") as info,
    ):
        client.write({"a": 1})
    assert info.value.kind == "EXCEP"


def test_name_commands_status(push):
    with DataPushClient(LOOPBACK, push.port) as client:
        assert client.name() == "psu push"
        assert client.commands() == ["json_wn#", "raw_wn#", "name", "status", "commands"]
        assert client.status()["type"] == "push"


def test_writes_to_a_pyexplabsys_push_socket():
    with (
        ReferencePushServer("pyexplabsys") as reference,
        DataPushClient(LOOPBACK, reference.port) as client,
    ):
        assert client.write({"x": 1.5}) == "ACK#{'x': 1.5}"
        assert reference.last[1] == {"x": 1.5}
        assert client.name() == "pyexplabsys"


def test_silence_is_node_timeout_error():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind((LOOPBACK, 0))
        client = DataPushClient(LOOPBACK, silent.getsockname()[1], timeout=0.2)
        with client, pytest.raises(NodeTimeoutError, match="no reply"):
            client.write({"a": 1})


def test_nothing_listening_is_node_unreachable_error():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind((LOOPBACK, 0))
        port = probe.getsockname()[1]
    with DataPushClient(LOOPBACK, port) as client, pytest.raises(NodeUnreachableError):
        client.write({"a": 1})


def test_a_pull_socket_is_not_mistaken_for_a_push_socket():
    from labnode.sockets import DateDataSocket

    with DateDataSocket(["a"], port=0, host=LOOPBACK, name="pull") as pull:
        client = DataPushClient(LOOPBACK, pull.port)
        with client, pytest.raises(NodeError, match="not a push reply"):
            client.name()


@pytest.mark.parametrize(
    "values",
    [{}, {"a": None}, {"a": [1]}, {"a#b": 1}, {"a": "x#y"}, {1: 2}, [("a", 1)]],
)
def test_values_the_protocol_cannot_carry_are_refused_before_sending(values):
    with DataPushClient(LOOPBACK, 9) as client, pytest.raises(ValueError):
        client.write(values)


# -- labnode set --------------------------------------------------------------------------------
def test_set_applied_prints_one_line_and_exits_0(push, capsys):
    status = main(["set", f"{LOOPBACK}:{push.port}", "volt=2.5", "on=true", "n=3", "mode=cv"])
    out, err = capsys.readouterr()
    assert status == 0
    assert out.count("\n") == 1
    assert out.startswith(f"{LOOPBACK}:{push.port}: applied volt=2.5 on=True n=3 mode='cv'")
    assert push.last[1] == {"volt": 2.5, "on": True, "n": 3, "mode": "cv"}


def test_set_refused_prints_one_line_and_exits_1(push, capsys):
    status = main(["set", f"{LOOPBACK}:{push.port}", "volt=9"])
    out, err = capsys.readouterr()
    assert status == 1
    assert out == ""
    assert err == (
        f"labnode: refused by {LOOPBACK}:{push.port}: volt=9: "
        "ERROR#volt: 9 is above the maximum 6\n"
    )
    assert push.last == (None, None)


def test_set_values_are_json_numbers_and_bools_else_strings(push, capsys):
    args = ["a=1e-3", "b=false", 'c="3"', "d=3.0.1", "e=null", "f=", "g=[1]", "h==x"]
    assert main(["set", f"{LOOPBACK}:{push.port}", *args]) == 0
    assert push.last[1] == {
        "a": 0.001,
        "b": False,
        "c": "3",
        "d": "3.0.1",
        "e": "null",
        "f": "",
        "g": "[1]",
        "h": "=x",
    }


def test_set_timeout_is_exit_1_with_one_line(capsys):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind((LOOPBACK, 0))
        status = main(["set", f"{LOOPBACK}:{silent.getsockname()[1]}", "a=1", "--timeout", "0.2"])
    out, err = capsys.readouterr()
    assert status == 1 and err.startswith("labnode: error: no reply") and err.count("\n") == 1


def test_set_bad_arguments_exit_2_without_traceback():
    for args in (["set", LOOPBACK, "volt"], ["set", LOOPBACK, "=2"], ["set", LOOPBACK]):
        done = subprocess.run(
            [sys.executable, "-m", "labnode", *args], capture_output=True, text=True, timeout=30
        )
        assert done.returncode == 2, done
        assert "Traceback" not in done.stderr


def test_set_a_name_twice_is_an_error(push, capsys):
    assert main(["set", f"{LOOPBACK}:{push.port}", "a=1", "a=2"]) == 1
    assert "a given more than once" in capsys.readouterr().err
    assert push.last == (None, None)
