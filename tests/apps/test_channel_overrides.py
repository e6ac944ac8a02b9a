"""[channels.NAME] in a node config: units, descriptions and limits served and enforced."""

from __future__ import annotations

import json

import pytest

from labnode.apps.config import ConfigError, parse_config
from labnode.apps.node_from_config import build_node_app
from labnode.sockets import DateDataClient

from .conftest import wait_for
from .node_process import NodeProcess
from .test_node_push import PSU_PUSH_CONFIG, _labnode

CHANNELS = """
[channels.volt]
unit = "V"
description = "output voltage"
min = 1
max = 5.5
[channels.curr]
unit = "A"
"""


def test_channels_json_serves_the_overrides_and_writes_obey_their_limits(tmp_path):
    config = tmp_path / "psu.toml"
    config.write_text(PSU_PUSH_CONFIG + CHANNELS)
    with NodeProcess("serve", str(config)) as node:
        line = node.process.stdout.readline()
        push_port = int(line.split("udp 127.0.0.1:")[1].split()[0])
        pull = DateDataClient("127.0.0.1", node.port, old_data="none")
        wait_for(lambda: pull.value("volt") is not None)
        before = pull.value("volt")
        assert json.loads(pull.request("channels_json")) == {
            "volt": {
                "unit": "V",
                "description": "output voltage",
                "writable": True,
                "min": 1,
                "max": 5.5,
            },
            "curr": {"unit": "A", "description": "", "writable": False},
        }
        # 5.8 V is within the supply's own 1..6 V, but above the config's max: the node
        # refuses it before the instrument is asked
        refused = _labnode("set", f"127.0.0.1:{push_port}", "volt=5.8")
        assert refused.returncode == 1
        assert "ERROR#volt: 5.8 is above max 5.5" in refused.stderr
        counts = {"applied": 0, "refused": 1, "failed": 0, "dropped": 0}
        wait_for(lambda: json.loads(pull.request("status"))["driver"]["push"]["writes"] == counts)
        assert pull.value("volt") == before
        shown = _labnode("get", f"127.0.0.1:{node.port}")
        assert shown.returncode == 0, shown.stderr
        assert " V " in shown.stdout and " A " in shown.stdout
        status, err = node.stop()
    assert status == 0, err


BASE = '[driver]\ntype = "scpi"\nresource = "GPIB::9::INSTR"\nvisa_library = "@sim"\n'
BASE += '[driver.queries]\nvolt = ":VOLT:IMM:AMPL?"\n'


@pytest.mark.parametrize(
    ("table", "key", "words"),
    [
        ('[channels.volt]\nunits = "V"\n', "channels.volt.units", "unknown key"),
        ("[channels.volt]\nunit = 5\n", "channels.volt.unit", "a string"),
        ('[channels.volt]\nmin = "1"\n', "channels.volt.min", "a finite number"),
        ("[channels.volt]\nmax = nan\n", "channels.volt.max", "a finite number"),
        ("[channels.volt]\nmin = 6\nmax = 1\n", "channels.volt.min", "above max"),
        ("channels = 5\n", "channels", "expected tables"),
    ],
)
def test_bad_channel_tables_name_the_key(table, key, words):
    text = (table + BASE) if table.startswith("channels =") else (BASE + table)
    with pytest.raises(ConfigError) as info:
        parse_config(text, "psu.toml")
    assert info.value.key == key
    assert words in str(info.value)


def test_a_channel_table_for_a_codename_the_node_does_not_serve_is_an_error():
    config = parse_config(BASE + '[channels.voltage]\nunit = "V"\n', "psu.toml")
    with pytest.raises(ConfigError) as info:
        build_node_app(config)
    assert info.value.key == "channels.voltage"
    assert "volt" in str(info.value)
