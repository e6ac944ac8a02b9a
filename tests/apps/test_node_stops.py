"""`labnode serve` stops within a bounded time whatever its driver does (real process, signals)."""

from __future__ import annotations

import signal
import time

import pytest

from labnode.sockets import DateDataClient

from .conftest import wait_for
from .node_process import NodeProcess

DRIVER_CONFIG = """\
[node]
host = "127.0.0.1"
port = 0
interval = 0.05
timeout = 1.0

[driver]
type = "tests.apps.sample_drivers:{driver}"
resource = "loop://"
timeout = {timeout}
{extra}
"""


def serve(tmp_path, driver: str, timeout: float = 0.2, extra: str = "") -> NodeProcess:
    config = tmp_path / "node.toml"
    config.write_text(DRIVER_CONFIG.format(driver=driver, timeout=timeout, extra=extra))
    return NodeProcess("serve", str(config), cwd=_repo_root())


def _repo_root():
    from pathlib import Path

    return Path(__file__).resolve().parents[2]


def test_hung_driver_shows_stalled_and_sigterm_stops_within_the_bound(tmp_path):
    with serve(tmp_path, "HangingGauge", timeout=0.2) as node:
        client = DateDataClient("127.0.0.1", node.port, old_data="none", timeout=1.0)
        status = wait_for(
            lambda: (s := client.status()["driver"])["state"] == "stalled" and s, timeout=10
        )
        assert status["busy"] == "get_values()"
        assert status["stalled_for"] > 2.0
        # the supervisor looks every 0.25 s: give it a second to log the stall
        wait_for(lambda: client.status()["driver"]["stalled_for"] > 3.5, timeout=10)
        assert client.get("pres") is None  # its value went OLD_DATA; the node still answers
        started = time.monotonic()
        code, err = node.stop(signal.SIGTERM)
        took = time.monotonic() - started
    assert code == 0, err
    assert took < 0.2 + 2.0 + 2.5, took  # the driver's timeout + 2 s grace + process exit
    assert "stalled" in err  # the supervisor said so once
    assert err.count("has been running for") == 1
    assert "has not returned" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_second_signal_exits_at_once(tmp_path, sig, code):
    # a long driver timeout: the first signal would wait 2 s + 20 s for the hung reading
    with serve(tmp_path, "HangingGauge", timeout=20) as node:
        client = DateDataClient("127.0.0.1", node.port, old_data="none", timeout=1.0)
        wait_for(lambda: client.status()["driver"].get("busy") == "get_values()", timeout=10)
        node.process.send_signal(sig)
        # the first signal was handled (two signals at once would count as one)
        wait_for(lambda: client.status()["driver"]["state"] == "stopping", timeout=5)
        assert node.process.poll() is None  # still waiting for the hung reading
        started = time.monotonic()
        status, err = node.stop(sig)
        took = time.monotonic() - started
    assert status == code, err
    assert took < 2.0, took  # not the 22 s the first signal would wait
    assert "exiting now" in err


@pytest.mark.parametrize("error", ["SystemExit", "KeyboardInterrupt"])
def test_driver_raising_systemexit_stops_the_node_with_a_log_line(tmp_path, error):
    extra = f'raise_ = "{error}"'
    with serve(tmp_path, "ExitingGauge", extra=extra) as node:
        node.process.wait(timeout=10)
        code, err = node.stop()
    assert code == 1, err
    assert f"raised {error}(3)" in err and "the node stops" in err
    assert "Traceback" not in err


def test_learned_codenames_the_socket_refuses_stop_the_node_in_one_line(tmp_path):
    from .node_process import run_labnode

    config = tmp_path / "node.toml"
    config.write_text(DRIVER_CONFIG.format(driver="BadNamesGauge", timeout=0.2, extra=""))
    result = run_labnode("serve", str(config))
    assert result.returncode == 1, result.stderr
    assert "pres#1" in result.stderr and "Traceback" not in result.stderr


def test_in_process_stop_is_bounded_when_connect_hangs():
    import threading

    from labnode.apps import NodeApp
    from labnode.drivers import SerialDriver

    release = threading.Event()

    class HangingConnect(SerialDriver):
        codenames = ["pres"]

        def on_connect(self) -> None:
            release.wait()  # an instrument that never finishes its handshake

        def get_values(self):
            return {"pres": 1.0}

    app = NodeApp(HangingConnect("loop://", timeout=0.1), host="127.0.0.1", port=0, stall_after=0.3)
    app.start()
    try:
        client = DateDataClient("127.0.0.1", app.socket.port, old_data="none", timeout=1.0)
        status = wait_for(
            lambda: (s := client.status()["driver"])["state"] == "stalled" and s, timeout=10
        )
        assert status["busy"] == "connect()" and status["stalled_for"] >= 0.3
        started = time.monotonic()
        app.stop()
        assert time.monotonic() - started < 0.1 + 2.0 + 1.0
        assert app.state.state == "stopped" and not app.socket.is_serving
    finally:
        release.set()
