"""`[node] allow` and `status_host_facts` reach the socket of `labnode serve` (real UDP)."""

from __future__ import annotations

import signal
import socket

import pytest

from .node_process import NodeProcess

CONFIG = """\
[node]
host = "127.0.0.1"
port = 0
interval = 0.1
{extra}

[driver]
type = "scpi"
resource = "GPIB::9::INSTR"
visa_library = "@sim"
[driver.queries]
volt = ":VOLT:IMM:AMPL?"
"""


def ask(source: str, port: int, request: bytes = b"name") -> bytes | None:
    """Send from ``source`` (a loopback address) to 127.0.0.1; the reply or None after 0.5 s."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.bind((source, 0))
        except OSError as error:
            pytest.skip(f"cannot bind {source}: {error}")
        sock.settimeout(0.5)
        sock.sendto(request, ("127.0.0.1", port))
        try:
            return sock.recv(65536)
        except TimeoutError:
            return None


def serve(tmp_path, extra: str) -> NodeProcess:
    config = tmp_path / "node.toml"
    config.write_text(CONFIG.format(extra=extra))
    return NodeProcess("serve", str(config))


def test_allow_answers_listed_networks_only(tmp_path):
    with serve(tmp_path, 'allow = ["127.0.0.2/32"]') as node:
        assert ask("127.0.0.2", node.port) is not None
        assert ask("127.0.0.1", node.port) is None  # not in the list: no reply at all
        assert ask("127.0.0.3", node.port) is None
        code, err = node.stop(signal.SIGTERM)
    assert code == 0, err


def test_everyone_is_answered_without_allow(tmp_path):
    with serve(tmp_path, "") as node:
        assert ask("127.0.0.1", node.port) is not None
        assert ask("127.0.0.3", node.port) is not None


@pytest.mark.parametrize(("extra", "facts"), [("status_host_facts = false", False), ("", True)])
def test_status_host_facts(tmp_path, extra, facts):
    import json

    with serve(tmp_path, extra) as node:
        status = json.loads(ask("127.0.0.1", node.port, b"status"))
    assert ("hostname" in status["system_status"]) is facts
    assert status["driver"]["driver"] == "ScpiDriver"
