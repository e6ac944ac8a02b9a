"""Lab files: every key checked, one-line errors naming the file and the key."""

from __future__ import annotations

import pytest

from labnode.apps.config import ConfigError
from labnode.apps.lab_config import load_lab, parse_lab
from labnode.storage import Criteria

FULL = """
[database]
url = "sqlite:///data/lab.db"
flush_interval = 0.5
spool_max_mb = 2

[[nodes]]
name = "psu"
address = "127.0.0.1:9001"
interval = 0.5
absolute = 0.01
max_interval = 600
[nodes.channels.volt]
absolute = 0.5
relative = 0.1

[[nodes]]
address = "127.0.0.2"

[web]
host = "127.0.0.1"
port = 8081
writes = true
"""


def test_full_lab_file(tmp_path):
    path = tmp_path / "bench.toml"
    path.write_text(FULL)
    lab = load_lab(path)
    assert lab.database_url == f"sqlite+pysqlite:///{tmp_path}/data/lab.db"
    assert lab.flush_interval == 0.5
    assert lab.spool_max_bytes == 2 * 1024 * 1024
    assert lab.spool_path == str(tmp_path / "bench.spool")
    psu, other = lab.nodes
    assert (psu.name, psu.host, psu.port, psu.interval) == ("psu", "127.0.0.1", 9001, 0.5)
    assert psu.timeout == 2.0
    assert psu.criteria_for("curr") == Criteria(absolute=0.01, max_interval=600)
    assert psu.criteria_for("volt") == Criteria(absolute=0.5, relative=0.1, max_interval=600)
    assert (other.name, other.address, other.criteria) == (None, "127.0.0.2:9000", Criteria())
    assert (lab.web.host, lab.web.port, lab.web.writes) == ("127.0.0.1", 8081, True)


def test_defaults(tmp_path):
    path = tmp_path / "lab.toml"
    path.write_text('[[nodes]]\naddress = "127.0.0.1"\n')
    lab = load_lab(path)
    assert lab.database_url == f"sqlite+pysqlite:///{tmp_path}/lab.db"
    assert (lab.web.host, lab.web.port, lab.web.writes) == ("127.0.0.1", 8080, False)
    assert lab.nodes[0].timeout == 3.0 and lab.nodes[0].interval == 1.0


def test_postgresql_url_gets_psycopg():
    lab = parse_lab('[database]\nurl = "postgresql://postgres@127.0.0.1/test"\n')
    assert lab.database_url == "postgresql+psycopg://postgres@127.0.0.1/test"


@pytest.mark.parametrize(
    ("text", "key", "words"),
    [
        ('[[nodes]]\naddress = "1.2.3"', "nodes[0].address", "not an IP address"),
        ('[[nodes]]\naddress = "127.0.0.1:99999"', "nodes[0].address", "port must be"),
        ('[[nodes]]\naddress = "127.0.0.1:"', "nodes[0].address", "port must be"),
        ('[[nodes]]\naddress = "bad host!"', "nodes[0].address", "not a host name"),
        ("[[nodes]]\nname = 'x'", "nodes[0].address", "missing"),
        ('[[nodes]]\naddress = "127.0.0.1"\ninterval = 0', "nodes[0].interval", "> 0"),
        ('[[nodes]]\naddress = "127.0.0.1"\nabsolute = -1', "nodes[0].absolute", ">= 0"),
        ('[[nodes]]\naddress = "127.0.0.1"\nrelative = "1%"', "nodes[0].relative", ">= 0"),
        ('[[nodes]]\naddress = "127.0.0.1"\nmax_interval = 0', "nodes[0].max_interval", "> 0"),
        ('[[nodes]]\naddress = "127.0.0.1"\nspeed = 1', "nodes[0].speed", "unknown key"),
        (
            '[[nodes]]\naddress="127.0.0.1"\n[nodes.channels.v]\nabs=1',
            "nodes[0].channels.v.abs",
            "unknown",
        ),
        (
            '[[nodes]]\naddress="127.0.0.1"\n[[nodes]]\naddress="127.0.0.1:9000"',
            "nodes[1].address",
            "also",
        ),
        (
            '[[nodes]]\naddress="127.0.0.1"\nname="a"\n[[nodes]]\naddress="127.0.0.2"\nname="a"',
            "nodes[1].name",
            "share",
        ),
        ("nodes = 3", "nodes", "[[nodes]]"),
        ('[[nodes]]\naddress = "127.0.0.1"\nname = " "', "nodes[0].name", "printable"),
        ('[database]\nurl = "oracle://x"', "database.url", "not supported"),
        ('[database]\nurl = "sqlite://"', "database.url", "file"),
        ("[database]\nurl = 3", "database.url", "quoted string"),
        ('[database]\nhost = "x"', "database.host", "unknown key"),
        ('[database]\ntable_prefix = "a-b"', "database.table_prefix", "letters"),
        ("[database]\nspool_max_mb = 0", "database.spool_max_mb", "> 0"),
        ('[web]\nhost = "1.2.3"', "web.host", "IP address"),
        ("[web]\nport = 0", "web.port", "1 to 65535"),
        ('[web]\nwrites = "yes"', "web.writes", "true or false"),
        ("[webb]\n", "webb", "unknown section"),
        ("[web\n", None, "not valid TOML"),
    ],
)
def test_mistakes_are_one_line(text, key, words):
    with pytest.raises(ConfigError) as caught:
        parse_lab(text, "lab.toml")
    assert caught.value.key == key
    message = str(caught.value)
    assert words in message and "\n" not in message and message.startswith("lab.toml: ")


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read it"):
        load_lab(tmp_path / "absent.toml")
