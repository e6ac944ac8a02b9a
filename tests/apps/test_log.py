"""`labnode log` as a process against real nodes on 127.0.0.1: criteria, gaps, export, outages
of a real PostgreSQL through a TCP proxy, SIGKILL and restart; rows compared with what was served.
"""

from __future__ import annotations

import csv
import io
import signal
import threading
import time
from functools import partial

from labnode.sockets import DateDataSocket
from labnode.storage import ChannelInfo, list_channels, open_database, read_points
from tests import waiting
from tests.storage.servers import drop_prefixed, new_prefix, server_url
from tests.storage.tcp_proxy import TCPProxy

from .conftest import free_udp_port
from .log_process import LogProcess
from .node_process import run_labnode

#: Outages of the database and their recovery take seconds.
wait_for = partial(waiting.wait_for, timeout=20.0)


def polled(node: DateDataSocket, times: int = 3) -> None:
    """Wait until the logger has asked ``node`` ``times`` more times."""
    start = node.requests_served
    wait_for(lambda: node.requests_served >= start + times, what="polls")


def test_criteria_gaps_and_export(tmp_path):
    channels = {"v": {"unit": "V", "description": "output voltage"}}
    with DateDataSocket(
        ["v", "w"], port=0, host="127.0.0.1", timeouts=[None, 0.4], channels=channels
    ) as node:
        lab = tmp_path / "lab.toml"
        lab.write_text(
            f"""
[database]
flush_interval = 0.1
[[nodes]]
name = "psu"
address = "127.0.0.1:{node.port}"
interval = 0.05
timeout = 0.5
[nodes.channels.v]
absolute = 0.5
[[nodes]]
name = "silent"
address = "127.0.0.1:{free_udp_port()}"
interval = 0.05
"""
        )
        t0 = time.time()
        node.set_point("v", (t0, 0.0))
        with LogProcess(lab) as logger:
            polled(node)  # w never set yet, so OLD_DATA: a gap marker starts its record
            node.set_point_now("w", 1.0)
            polled(node)
            for dt, value in [(0.1, 0.25), (0.2, 0.5), (0.3, 0.75), (0.4, 1.25), (0.5, 1.5)]:
                node.set_point("v", (t0 + dt, value))
                polled(node)
            # w stops updating: OLD_DATA after 0.4 s; one gap marker however long it lasts
            time.sleep(0.6)
            polled(node, 5)
            back = time.time()
            node.set_point_now("w", 1.0)  # back: stored at once though unchanged
            polled(node)
            assert logger.stop() == 0
            assert "everything written to the database" in logger.output()
        database = open_database(f"sqlite:///{tmp_path / 'lab.db'}")
        v = read_points(database, "psu", "v")
        assert v == [(t0, 0.0), (t0 + 0.3, 0.75), (t0 + 0.5, 1.5)]
        w = read_points(database, "psu", "w")
        assert [y for _, y in w] == [None, 1.0, None, 1.0]
        assert w[2][0] < back <= w[3][0]
        assert list_channels(database) == [
            ChannelInfo("psu", "v", "V", "output voltage"),
            ChannelInfo("psu", "w", "", ""),
        ]
        database.close()
    result = run_labnode("export", f"sqlite:///{tmp_path / 'lab.db'}", "--node", "psu")
    assert result.returncode == 0, result.stderr
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0] == ["timestamp", "node", "codename", "value"]
    assert rows[1] == [repr(t0), "psu", "v", "0.0"]
    assert [row[2:] for row in rows[1:]] == [
        ["v", "0.0"],
        ["v", "0.75"],
        ["v", "1.5"],
        ["w", ""],
        ["w", "1.0"],
        ["w", ""],
        ["w", "1.0"],
    ]
    since = run_labnode(
        "export", f"sqlite:///{tmp_path / 'lab.db'}", "--codename", "v", "--since", str(t0 + 0.2)
    )
    assert [r.split(",")[3] for r in since.stdout.splitlines()[1:]] == ["0.75", "1.5"]


def test_export_errors_are_one_line(tmp_path):
    result = run_labnode("export", f"sqlite:///{tmp_path / 'absent.db'}")
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "holds no recorded points" in result.stderr
    result = run_labnode("export", "sqlite:///x.db", "--since", "yesterday")
    assert result.returncode == 2 and "ISO 8601" in result.stderr


def test_bad_lab_file_is_one_line_exit_2(tmp_path):
    lab = tmp_path / "lab.toml"
    lab.write_text('[[nodes]]\naddress = "1.2.3"\n')
    result = run_labnode("log", str(lab))
    assert result.returncode == 2
    assert result.stderr == (
        f"labnode: error: {lab}: nodes[0].address: got '1.2.3'; '1.2.3' is not an IP address "
        "(write all four parts)\n"
    )


class CountingNode:
    """A node whose value counts up every 10 ms; remembers every point it served."""

    def __init__(self) -> None:
        self.socket = DateDataSocket(["count"], port=0, host="127.0.0.1", timeouts=5.0)
        self.served: dict[float, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> CountingNode:
        self.socket.start()
        self._thread.start()
        return self

    def _run(self) -> None:
        value = 0.0
        while not self._stop.wait(0.01):
            value += 1
            point = (time.time(), value)
            self.served[point[0]] = value
            self.socket.set_point("count", point)

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(1)
        self.socket.stop()


def test_outages_sigkill_and_restart_lose_nothing_and_duplicate_nothing(tmp_path):
    pg = server_url("postgresql")
    prefix = new_prefix()
    proxy = TCPProxy(("127.0.0.1", 5432))
    flush = 0.2
    try:
        with CountingNode() as node:
            lab = tmp_path / "lab.toml"
            lab.write_text(
                f"""
[database]
url = "postgresql://postgres@127.0.0.1:{proxy.port}/test"
table_prefix = "{prefix}"
flush_interval = {flush}
[[nodes]]
name = "counter"
address = "127.0.0.1:{node.socket.port}"
interval = 0.05
"""
            )
            direct = open_database(pg, prefix)

            def stored():
                try:
                    return read_points(direct, "counter", "count")
                except Exception:  # tables not created yet
                    return []

            first = LogProcess(lab)
            wait_for(lambda: len(stored()) > 5, what="first rows")
            proxy.cut()
            time.sleep(1.0)  # polling and spooling go on
            proxy.restore()
            wait_for(lambda: stored() and stored()[-1][0] > time.time() - 0.6, what="caught up")
            proxy.stall()
            time.sleep(0.5)
            killed_at = time.time()
            first.stop(signal.SIGKILL)
            proxy.restore()
            second = LogProcess(lab)
            wait_for(lambda: stored()[-1][0] > killed_at + 0.5, what="recording again")
            proxy.cut()
            time.sleep(0.5)
            term_at = time.time()
            assert second.stop(signal.SIGTERM) == 0  # the database is away: rows stay spooled
            assert "wait in the spool" in second.output()
            proxy.restore()
            third = LogProcess(lab)
            wait_for(lambda: stored()[-1][0] > term_at + 0.3, what="spool replayed")
            assert third.stop() == 0
            rows = stored()
            direct.close()
        xs = [x for x, _ in rows]
        assert xs == sorted(set(xs))  # in order, no duplicates
        assert all(node.served.get(x) == y for x, y in rows)  # exactly what was served
        pairs = list(zip(xs, xs[1:]))
        kill_from, _ = next((a, b) for a, b in pairs if a < killed_at < b)
        term_from, _ = next((a, b) for a, b in pairs if a < term_at < b)
        # At SIGKILL at most one flush interval is lost; at SIGTERM (database cut) nothing.
        assert kill_from >= killed_at - flush - 0.3, (kill_from, killed_at)
        assert term_from >= term_at - 0.3, (term_from, term_at)
        # Elsewhere, the database cut and stall left no hole: polling went on, spooled.
        others = [b - a for a, b in pairs if a not in (kill_from, term_from)]
        assert max(others) < 1.0, max(others)
    finally:
        proxy.close()
        drop_prefixed(pg, prefix)


def test_one_logger_per_spool_and_a_lab_without_nodes(tmp_path):
    lab = tmp_path / "lab.toml"
    lab.write_text(f'[[nodes]]\naddress = "127.0.0.1:{free_udp_port()}"\n')
    with LogProcess(lab) as first:
        second = run_labnode("log", str(lab))
        assert second.returncode == 1
        assert "in use by another process" in second.stderr and second.stderr.count("\n") == 1
        assert first.stop() == 0
    empty = tmp_path / "empty.toml"
    empty.write_text("[web]\nport = 8081\n")
    result = run_labnode("log", str(empty))
    assert result.returncode == 2 and "nodes: no [[nodes]] to record" in result.stderr
