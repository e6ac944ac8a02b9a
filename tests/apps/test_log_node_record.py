"""A node recording its own readings ([record] in its config file), as a `labnode serve` process."""

from __future__ import annotations

import signal
import time

import pytest

from labnode.apps.config import ConfigError, parse_config
from labnode.sockets import DateDataClient
from labnode.storage import Criteria, open_reader, read_points

from .node_configs import PSU_DRIVER
from .node_process import NodeProcess

PSU_RECORDING = f"""\
[node]
name = "psu"
host = "127.0.0.1"
port = 0
interval = 0.05
timeout = 2.0

[driver]
{PSU_DRIVER}
[record]
flush_interval = 0.1
[record.channels.curr]
absolute = 0.5
"""


def test_a_node_records_every_reading_it_serves(tmp_path):
    config = tmp_path / "psu.toml"
    config.write_text(PSU_RECORDING)
    served = []
    with NodeProcess("serve", str(config)) as node:
        with DateDataClient("127.0.0.1", node.port, old_data="none") as client:
            deadline = time.monotonic() + 20
            while len({p for p in served if p}) < 10 and time.monotonic() < deadline:
                served.append(client.get("volt"))
                time.sleep(0.03)
        status, err = node.stop(signal.SIGTERM)
    assert status == 0, err
    with open_reader(f"sqlite:///{tmp_path / 'psu.db'}") as database:
        volt = read_points(database, "psu", "volt")
        curr = read_points(database, "psu", "curr")
    stored = set(volt)
    seen = {point for point in served if point}
    assert len(seen) >= 10 and seen <= stored  # every point a client saw was stored as served
    xs = [x for x, _ in volt]
    steps = [b - a for a, b in zip(xs, xs[1:])]
    assert max(steps) < 0.5  # every reading, at the node's 20/s (no criteria on volt)
    # (a gap marker first if the node served OLD_DATA before its first reading); then the
    # simulated current never moves by more than its absolute = 0.5
    assert [y for _, y in curr] in ([1.0], [None, 1.0])
    assert all(y == 1.0 for _, y in volt[1:]) and volt[0][1] in (None, 1.0)


def test_record_table_is_checked():
    config = parse_config(
        '[driver]\ntype = "scpi"\nresource = "x"\n[record]\nurl = "sqlite:///r.db"\n'
        "relative = 0.01\n[record.channels.v]\nabsolute = 2\n",
        "/lab/psu.toml",
    )
    assert config.record.storage.database_url == "sqlite+pysqlite:////lab/r.db"
    assert config.record.storage.spool_path == "/lab/psu.spool"
    assert config.record.criteria_for("v") == Criteria(absolute=2.0, relative=0.01)
    with pytest.raises(ConfigError) as caught:
        parse_config('[driver]\ntype = "scpi"\nresource = "x"\n[record]\nabsolut = 1\n', "n.toml")
    assert caught.value.key == "record.absolut" and "unknown key" in str(caught.value)
    with pytest.raises(ConfigError) as caught:
        parse_config('[driver]\ntype="scpi"\nresource="x"\n[record]\nurl="oracle://x"\n', "n.toml")
    assert caught.value.key == "record.url"
