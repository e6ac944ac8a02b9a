"""Setpoints on a node: a push socket bound to NodeApp, on pyvisa-sim's supply and an Alicat pty.

pyvisa-sim's bundled default supply (GPIB::9::INSTR): `:VOLT:IMM:AMPL {:.3f}` within 1..6 V,
errors in `*ESR?`. Its state lasts the process, so tests here put the voltage back.
"""

from __future__ import annotations

import json
import logging
import socket
import subprocess
import sys

import pytest

from labnode.apps.node_app import NodeApp
from labnode.apps.node_push import NodePush
from labnode.drivers.alicat.mass_flow import AlicatMassFlow
from labnode.drivers.scpi import ScpiDriver
from labnode.drivers.simulation import PtyDeviceServer, create_model
from labnode.sockets import DataPushClient, DateDataClient, WriteRefusedError

from .conftest import wait_for
from .node_process import NodeProcess

LOOPBACK = "127.0.0.1"
FAST = {"interval": 0.02, "timeout": 0.5, "backoff_initial": 0.02, "backoff_max": 0.1}


def _psu() -> ScpiDriver:
    return ScpiDriver(
        "GPIB::9::INSTR",
        visa_library="@sim",
        queries={"volt": ":VOLT:IMM:AMPL?", "curr": ":CURR:IMM:AMPL?"},
        writes={"volt": ":VOLT:IMM:AMPL {value:.3f}"},
        error_query="*ESR?",
    )


@pytest.fixture
def psu_node():
    """A node on the simulated supply with a push socket for 127.0.0.1; voltage put back after."""
    with NodeApp(_psu(), host=LOOPBACK, port=0, **FAST) as app:
        push = NodePush(app, port=0, host=LOOPBACK, allow=[LOOPBACK])
        with push:
            pull = DateDataClient(LOOPBACK, app.socket.port, old_data="none")
            wait_for(lambda: pull.value("volt") is not None)
            found = pull.value("volt")
            yield app, push, pull
            if app.instruments[
                0
            ]._thread.is_alive():  # put the supply back (its state outlives this test)
                DataPushClient(LOOPBACK, push.port).write({"volt": found})


def _readback(pull: DateDataClient, value: float) -> float:
    return wait_for(lambda: (v := pull.value("volt")) == value and v)


def test_set_within_limits_acks_after_the_instrument_and_reads_back(psu_node):
    app, push, pull = psu_node
    with DataPushClient(LOOPBACK, push.port) as client:
        assert client.write({"volt": 2.5}) == "ACK#{'volt': 2.5}"
    assert app.driver.query(":VOLT:IMM:AMPL?")  # the instrument is still answering
    assert _readback(pull, 2.5) == 2.5
    wait_for(lambda: push.counts["applied"] == 1)  # counted after the reply


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        ({"volt": 7.0}, "volt: the instrument refused: the instrument reported"),
        ({"curr": 2.0}, "curr: read-only channel (writable: volt)"),
        ({"nope": 2.0}, "nope: no such channel (writable: volt)"),
        ({"volt": "high"}, "volt: 'high' is not a finite number"),
        ({"volt": True}, "volt: True is not a finite number"),
        ({"volt": float("nan")}, "volt: nan is not a finite number"),
        ({"volt": 10**400}, "volt: 1000000"),  # no float holds it: refused, not a crash
        ({"volt": 3.0, "curr": 1.0}, "curr: read-only channel"),
    ],
)
def test_refused_writes_name_the_channel_and_leave_the_instrument_unchanged(
    psu_node, values, reason
):
    app, push, pull = psu_node
    with DataPushClient(LOOPBACK, push.port) as client:
        client.write({"volt": 2.0})
        _readback(pull, 2.0)
        with pytest.raises(WriteRefusedError) as refusal:
            client.write(values)
    assert refusal.value.kind == "ERROR"
    assert refusal.value.reason.startswith(reason)
    assert "\n" not in refusal.value.reply
    assert float(app.call_on_instrument(lambda: app.driver.query(":VOLT:IMM:AMPL?"), 2)) == 2.0


def test_a_client_outside_the_allow_list_is_refused_and_nothing_is_written(psu_node):
    app, push, pull = psu_node
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as other:
        other.bind(("127.0.0.2", 0))
        other.settimeout(2)
        other.sendto(b'json_wn#{"volt": 4.0}', (LOOPBACK, push.port))
        reply = other.recvfrom(65536)[0]
    assert reply.startswith(b"ERROR#client 127.0.0.2 is not allowed")
    assert pull.value("volt") != 4.0
    wait_for(lambda: push.counts["refused"] == 1)  # counted after the reply


def test_every_attempt_is_logged_once_with_client_values_and_outcome(psu_node, caplog):
    app, push, pull = psu_node
    caplog.set_level(logging.INFO, logger="labnode.apps.node_push")
    with DataPushClient(LOOPBACK, push.port) as client:
        client.write({"volt": 3.5})
        with pytest.raises(WriteRefusedError):
            client.write({"volt": "x"})
    # the reply goes out first, the log line right after it (off the write's round trip)
    wait_for(lambda: sum(push.status()["writes"].values()) == 2)
    lines = [r.getMessage() for r in caplog.records if r.name == "labnode.apps.node_push"]
    assert lines == [
        """write from 127.0.0.1: json_wn#{"volt": 3.5} -> ACK#{'volt': 3.5}""",
        """write from 127.0.0.1: json_wn#{"volt": "x"} -> ERROR#volt: 'x' is not a finite """
        "number",
    ]
    assert push.status()["writes"] == {"applied": 1, "refused": 1, "failed": 0, "dropped": 0}


def test_an_instrument_that_is_gone_is_an_error_naming_it(psu_node):
    app, push, pull = psu_node
    app.request_stop()  # the instrument's thread ends: nothing can be written any more
    wait_for(lambda: not app.instruments[0]._thread.is_alive())
    with DataPushClient(LOOPBACK, push.port) as client, pytest.raises(WriteRefusedError) as error:
        client.write({"volt": 2.0})
    assert error.value.reason.startswith("not written: ")
    wait_for(lambda: push.counts["failed"] == 1)  # counted after the reply


# -- Alicat over a pty -------------------------------------------------------------------------
@pytest.fixture
def alicat_node():
    model = create_model("alicat", seed=5)
    with (
        PtyDeviceServer(model) as server,
        NodeApp(
            AlicatMassFlow(server.port, fields=None, timeout=0.5), host=LOOPBACK, port=0, **FAST
        ) as app,
        NodePush(app, port=0, host=LOOPBACK) as push,
    ):
        wait_for(lambda: app.socket is not None)
        pull = DateDataClient(LOOPBACK, app.socket.port, old_data="none")
        wait_for(lambda: pull.value("setpoint") is not None)
        wait_for(lambda: app.driver.full_scale is not None)
        yield model, app, push, pull


def test_alicat_setpoint_is_written_and_read_back(alicat_node):
    model, app, push, pull = alicat_node
    with DataPushClient(LOOPBACK, push.port) as client:
        assert client.write({"setpoint": 42.5}) == "ACK#{'setpoint': 42.5}"
    assert model.setpoint == 42.5
    wait_for(lambda: pull.value("setpoint") == 42.5)


def test_alicat_setpoint_over_full_scale_is_refused_before_the_instrument(alicat_node):
    model, app, push, pull = alicat_node
    before = model.setpoint
    with DataPushClient(LOOPBACK, push.port) as client, pytest.raises(WriteRefusedError) as e:
        client.write({"setpoint": 500})
    assert e.value.reason == f"setpoint: 500 is above max {app.driver.full_scale:g}"
    assert model.setpoint == before


def test_alicat_ignoring_serial_setpoints_is_an_instrument_refusal(alicat_node):
    model, app, push, pull = alicat_node
    model.setpoint_source = "analog"
    before = model.setpoint
    with DataPushClient(LOOPBACK, push.port) as client, pytest.raises(WriteRefusedError) as e:
        client.write({"setpoint": 10})
    assert e.value.reason.startswith("setpoint: the instrument refused: the unit kept setpoint")
    assert model.setpoint == before
    wait_for(lambda: push.counts["failed"] == 1)  # counted after the reply


def test_mass_flow_is_read_only(alicat_node):
    model, app, push, pull = alicat_node
    with DataPushClient(LOOPBACK, push.port) as client, pytest.raises(WriteRefusedError) as e:
        client.write({"mass_flow": 10})
    assert e.value.reason == "mass_flow: read-only channel (writable: setpoint)"


# -- labnode serve and labnode set --------------------------------------------------------------
PSU_PUSH_CONFIG = """\
[node]
name = "psu on bench 3"
host = "127.0.0.1"
port = 0
interval = 0.05

[driver]
type = "scpi"
resource = "GPIB::9::INSTR"
visa_library = "@sim"
error_query = "*ESR?"
[driver.queries]
volt = ":VOLT:IMM:AMPL?"
curr = ":CURR:IMM:AMPL?"
[driver.writes]
volt = ":VOLT:IMM:AMPL {value:.3f}"

[push]
port = 0
allow = ["127.0.0.1"]
"""


def _labnode(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "labnode", *args], capture_output=True, text=True, timeout=30
    )


def test_labnode_serve_with_push_and_labnode_set(tmp_path):
    config = tmp_path / "psu.toml"
    config.write_text(PSU_PUSH_CONFIG)
    with NodeProcess("serve", str(config)) as node:
        line = node.process.stdout.readline()
        assert line.startswith("labnode: setpoints on udp 127.0.0.1:")
        assert line.rstrip().endswith("from 127.0.0.1/32")
        push_port = int(line.split("udp 127.0.0.1:")[1].split()[0])
        pull = DateDataClient(LOOPBACK, node.port, old_data="none")
        wait_for(lambda: pull.value("volt") == 1.0)

        done = _labnode("set", f"127.0.0.1:{push_port}", "volt=2.5")
        assert done.returncode == 0, done.stderr
        assert done.stdout == f"127.0.0.1:{push_port}: applied volt=2.5 (ACK#{{'volt': 2.5}})\n"
        wait_for(lambda: pull.value("volt") == 2.5)

        refused = _labnode("set", f"127.0.0.1:{push_port}", "volt=9")
        assert refused.returncode == 1
        assert refused.stdout == ""
        assert refused.stderr.count("\n") == 1
        assert "ERROR#volt: the instrument refused" in refused.stderr

        read_only = _labnode("set", f"127.0.0.1:{push_port}", "curr=0.5")
        assert read_only.returncode == 1
        assert "ERROR#curr: read-only channel (writable: volt)" in read_only.stderr
        assert pull.value("volt") == 2.5

        counts = {"applied": 1, "refused": 1, "failed": 1, "dropped": 0}
        wait_for(lambda: json.loads(pull.request("status"))["driver"]["push"]["writes"] == counts)
        status, err = node.stop()
    assert status == 0, err
    assert "write from 127.0.0.1: json_wn#{\"volt\": 2.5} -> ACK#{'volt': 2.5}" in err


def test_a_node_without_push_has_no_push_port(tmp_path):
    config = tmp_path / "psu.toml"
    config.write_text(PSU_PUSH_CONFIG.split("[push]")[0])
    with NodeProcess("serve", str(config)) as node:
        pull = DateDataClient(LOOPBACK, node.port, old_data="none")
        wait_for(lambda: pull.value("volt") is not None)
        assert "push" not in pull.request("status")
        node.stop()


@pytest.mark.parametrize(
    ("push_table", "message"),
    [
        ("port = 70000", "push.port: got 70000; expected a UDP port number"),
        ('allow = "127.0.0.1"', "push.allow: got '127.0.0.1'; expected the client networks"),
        ('allow = ["bench-3"]', "push.allow: allow entry 'bench-3' is not an address"),
        ('host = "my-pc"', "push.host: got 'my-pc'; expected an IP address"),
        ("users = 3", "push.users: unknown key; [push] accepts port, host, allow"),
    ],
)
def test_bad_push_table_is_one_line_naming_the_key(tmp_path, push_table, message):
    config = tmp_path / "psu.toml"
    config.write_text(PSU_PUSH_CONFIG.split("[push]")[0] + "[push]\n" + push_table + "\n")
    done = _labnode("serve", str(config))
    assert done.returncode == 2
    assert done.stderr.startswith(f"labnode: error: {config}: {message}")
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr


def test_a_busy_push_port_stops_the_node_naming_push_port(tmp_path):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as busy:
        busy.bind((LOOPBACK, 0))
        config = tmp_path / "psu.toml"
        busy_port = busy.getsockname()[1]
        config.write_text(PSU_PUSH_CONFIG.replace("port = 0\nallow", f"port = {busy_port}\nallow"))
        done = _labnode("serve", str(config))
    assert done.returncode == 2
    assert f"{config}: push.port: UDP port" in done.stderr
    assert "Traceback" not in done.stderr


def test_push_table_defaults():
    from labnode.apps.config import parse_config

    base = PSU_PUSH_CONFIG.split("[push]")[0]
    assert parse_config(base).push is None  # read-only unless the file says otherwise
    push = parse_config(base + "[push]\n").push
    assert (push.port, push.allow, push.host) == (8500, ["127.0.0.1"], None)
    push = parse_config(base + '[push]\nhost = "localhost"\nallow = ["10.0.0.0/24"]\n').push
    assert (push.host, push.allow) == ("127.0.0.1", ["10.0.0.0/24"])
