"""Config files: the documented shape works; every mistake names the file, the key and the fix."""

from __future__ import annotations

import pytest

from labnode.apps.config import ConfigError, load_config, parse_config
from labnode.apps.node_from_config import build_node_app

ISSUE_EXAMPLE = """\
[node]
name = "psu on bench 3"
host = "127.0.0.1"      # '' or "0.0.0.0" = all interfaces (the default)
port = 9000
interval = 0.1          # seconds between readings
timeout = 2.0           # seconds after which a value is OLD_DATA

[driver]
type = "scpi"                  # a registered name, or "package.module:Class"
resource = "GPIB::9::INSTR"    # the driver's first argument: VISA resource, or serial port / URL
visa_library = "@sim"          # any other keys go to the driver's constructor as keywords
[driver.queries]
volt = ":VOLT:IMM:AMPL?"
curr = ":CURR:IMM:AMPL?"
"""


def test_the_documented_shape_parses_and_builds(tmp_path):
    path = tmp_path / "psu.toml"
    path.write_text(ISSUE_EXAMPLE)
    config = load_config(path)
    assert config.name == "psu on bench 3" and config.port == 9000
    assert config.interval == 0.1 and config.timeout == 2.0 and config.host == "127.0.0.1"
    assert config.driver_type == "scpi" and config.resource == "GPIB::9::INSTR"
    assert config.driver_options == {
        "visa_library": "@sim",
        "queries": {"volt": ":VOLT:IMM:AMPL?", "curr": ":CURR:IMM:AMPL?"},
    }
    app = build_node_app(config)
    assert app.driver.codenames == ["volt", "curr"]


def test_all_interfaces_spelled_either_way():
    base = '[driver]\ntype = "scpi"\nresource = "x"\n'
    assert parse_config('[node]\nhost = "0.0.0.0"\n' + base).host == ""
    assert parse_config(base).host == ""


def error_of(text: str, tmp_path) -> ConfigError:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        build_node_app(load_config(path))
    assert str(path) in str(info.value)
    return info.value


SCPI = '[driver]\ntype = "scpi"\nresource = "GPIB::9::INSTR"\nvisa_library = "@sim"\n'
QUERIES = '[driver.queries]\nvolt = ":VOLT:IMM:AMPL?"\n'


@pytest.mark.parametrize(
    ("text", "key", "words"),
    [
        ('[driver]\ntype = "nosuch"\nresource = "x"\n', "driver.type", ["nosuch", "scpi"]),
        ('[driver]\ntype = "mypkg.nomodule:Gauge"\nresource = "x"\n', "driver.type", ["import"]),
        ('[driver]\nresource = "x"\n', "driver.type", ["missing"]),
        ('[driver]\ntype = "scpi"\n', "driver.resource", ["missing"]),
        ("[node]\nport = 9000\n", "driver", ["[driver]", "type"]),
        ('[node]\nport = "9000"\n' + SCPI + QUERIES, "node.port", ["'9000'", "0 to 65535"]),
        ("[node]\nport = 70000\n" + SCPI + QUERIES, "node.port", ["70000"]),
        ("[node]\ninterval = -1\n" + SCPI + QUERIES, "node.interval", [">= 0"]),
        ('[node]\ntimeout = "2s"\n' + SCPI + QUERIES, "node.timeout", ["'2s'"]),
        ("[node]\ntimeout = {curr = 1.0}\n" + SCPI + QUERIES, "node.timeout.curr", ["volt"]),
        ("[node]\nintervall = 1\n" + SCPI + QUERIES, "node.intervall", ["interval"]),
        ("[nodes]\n" + SCPI + QUERIES, "nodes", ["[node]"]),
        (SCPI + "baudrat = 9600\n" + QUERIES, "driver.baudrat", ["baudrat"]),
        (SCPI, "driver.queries", ["queries"]),
        (SCPI + '[driver.queries]\n"volt#1" = "V?"\n', "driver.queries", ["'#'"]),
        ("[node\nport = 1\n", None, ["TOML", "line 1"]),
        ('[node]\ncodenames = "a"\n' + SCPI + QUERIES, "node.codenames", ["list"]),
        ("[node]\ncodenames = []\n" + SCPI + QUERIES, "node.codenames", ["non-empty"]),
        ('[node]\ncodenames = ["x"]\n' + SCPI + QUERIES, "node.codenames", ["declares", "volt"]),
        ("[node]\ninterval = inf\n" + SCPI + QUERIES, "node.interval", ["finite"]),
        ("[node]\ntimeout = nan\n" + SCPI + QUERIES, "node.timeout", ["finite"]),
        ("[node]\ntimeout = {volt = inf}\n" + SCPI + QUERIES, "node.timeout.volt", ["> 0"]),
        ("", "driver", ["missing [driver]"]),
        ('driver = "scpi"\n', "driver", ["got 'scpi'", "[driver] table"]),
        (SCPI + "nosuchkeyword = 1\n" + QUERIES, "driver.nosuchkeyword", ["nosuchkeyword"]),
        ("[node]\ninterval = 1e12\n" + SCPI + QUERIES, "node.interval", ["1e+12", "86400"]),
        ("[node]\nreconnect_max = 1e12\n" + SCPI + QUERIES, "node.reconnect_max", ["3600"]),
        ("[node]\ntimeout = 1e300\n" + SCPI + QUERIES, "node.timeout", ["at most"]),
        ("[node]\ninterval = " + "9" * 400 + "\n" + SCPI + QUERIES, "node.interval", ["finite"]),
        ('[node]\nhost = "my-pc"\n' + SCPI + QUERIES, "node.host", ["'my-pc'", "IP address"]),
        ('[node]\nallow = "10.0.0.0/8"\n' + SCPI + QUERIES, "node.allow", ["CIDR"]),
        ('[node]\nallow = ["10.0.0.0/33"]\n' + SCPI + QUERIES, "node.allow", ["10.0.0.0/33"]),
        ('[node]\nallow = ["lab-pc"]\n' + SCPI + QUERIES, "node.allow", ["'lab-pc'"]),
        ("[node]\nallow = []\n" + SCPI + QUERIES, "node.allow", ["CIDR"]),
        ('[node]\nstatus_host_facts = "no"\n' + SCPI + QUERIES, "node.status_host_facts", ["true"]),
        (SCPI + "timeout = 1e12\n" + QUERIES, "driver.timeout", ["at most 3600"]),
    ],
)
def test_mistakes_name_file_key_and_fix(tmp_path, text, key, words):
    error = error_of(text, tmp_path)
    assert error.key == key, str(error)
    for word in words:
        assert word in str(error)


def test_missing_file_directory_and_non_utf8(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "absent.toml")
    with pytest.raises(ConfigError, match="is a directory"):
        load_config(tmp_path)
    latin = tmp_path / "latin.toml"
    latin.write_bytes('[node]\nname = "d\xe9bit"\n'.encode("latin-1"))
    with pytest.raises(ConfigError, match="save it as UTF-8"):
        load_config(latin)


def test_every_error_is_one_line(tmp_path):
    for text in ("", "[node\n", '[driver]\ntype = "nosuch"\nresource = "x"\n'):
        assert "\n" not in str(error_of(text, tmp_path))


def test_allow_and_host_facts_reach_the_node_app(tmp_path):
    text = (
        '[node]\nallow = ["10.0.0.0/24", "127.0.0.1"]\nstatus_host_facts = false\n'
        'host = "localhost"\n' + SCPI + QUERIES
    )
    app = build_node_app(parse_config(text, tmp_path / "n.toml"))
    assert app.allow == ["10.0.0.0/24", "127.0.0.1"] and app.status_host_facts is False
    assert app.host == "127.0.0.1"


@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "huge"])
def test_config_path_that_is_not_a_small_regular_file(tmp_path, kind):
    import os

    if kind == "fifo":
        path = tmp_path / "node.toml"
        os.mkfifo(path)  # nobody writes: reading it would block forever
        words = "FIFO"
    elif kind == "dev-zero":
        path = "/dev/zero"  # endless: reading it whole would eat the memory
        words = "character device"
    else:
        path = tmp_path / "node.toml"
        path.write_text("# padding\n" * 200_000)
        words = "larger than 1 MiB"
    with pytest.raises(ConfigError, match=words) as info:
        load_config(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)
