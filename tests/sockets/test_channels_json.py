"""channels_json: each codename's unit, description, writable and limits, as one static reply."""

from __future__ import annotations

import json

import pytest

from labnode.sockets import DataUDPHandler, DateDataSocket, PointTable

from .conftest import udp_request
from .pyexplabsys_reference import reference_reply


def test_channels_json_over_udp_with_metadata_and_defaults():
    channels = {
        "volt": {
            "unit": "V",
            "description": "output voltage",
            "writable": True,
            "min": 1,
            "max": 6,
        },
        "temp": {"unit": "°C", "description": "heat sink"},
    }
    codenames = ["volt", "curr", "temp"]
    with DateDataSocket(codenames, port=0, host="127.0.0.1", channels=channels) as node:
        reply = udp_request(node.port, b"channels_json")
    assert reply.isascii()
    table = json.loads(reply)
    assert list(table) == codenames
    assert table["volt"] == channels["volt"]  # all five keys set: served as given
    assert table["curr"] == {"unit": None, "description": "", "writable": False}
    assert table["temp"] == {"unit": "°C", "description": "heat sink", "writable": False}


def test_channels_json_is_a_static_reply_that_ignores_the_points():
    table = PointTable(["a"])
    handler = DataUDPHandler(table, "n", channels={"a": {"unit": "mbar"}})
    first = handler.reply(b"channels_json")
    table.set_point_now("a", 1.0)
    assert handler.reply(b"channels_json") is first


def test_a_pyexplabsys_node_does_not_know_channels_json():
    # so a client can tell a labnode node from a PyExpLabSys one
    assert reference_reply("channels_json", ["a"], {"a": (0, 0)}, {}, "n", 0.0) == (
        "UNKNOWN_COMMMAND"
    )


def test_channels_json_too_large_for_one_datagram():
    codenames = [f"c{i:04d}" for i in range(2000)]
    channels = {c: {"description": "d" * 40} for c in codenames}
    handler = DataUDPHandler(PointTable(codenames), "big", channels=channels)
    reply = handler.reply(b"channels_json")
    assert reply.startswith(b"REPLY_TOO_LARGE: the channels_json reply is")


def test_name_key_repeating_the_codename_is_accepted():
    handler = DataUDPHandler(PointTable(["a"]), "n", channels={"a": {"name": "a", "unit": "V"}})
    assert json.loads(handler.reply(b"channels_json"))["a"]["unit"] == "V"


@pytest.mark.parametrize(
    ("channels", "words"),
    [
        ({"nope": {}}, "'nope'.*not a codename"),
        ({"a": {"units": "V"}}, "key 'units'"),
        ({"a": {"name": "b"}}, "key 'name'"),
        ({"a": {"unit": 5}}, "unit = 5 is not a string"),
        ({"a": {"description": None}}, "description = None"),
        ({"a": {"writable": "yes"}}, "writable = 'yes' is not a bool"),
        ({"a": {"min": float("nan")}}, "min = nan is not a finite number"),
        ({"a": {"max": "6"}}, "max = '6' is not a number"),
        ({"a": {"min": True}}, "min = True is not a number"),
        ({"a": {"min": 6, "max": 1}}, "min 6 is above max 1"),
        ({"a": "V"}, "is not a mapping"),
        (["a"], "give a mapping"),
    ],
)
def test_bad_channel_metadata_is_refused_at_construction(channels, words):
    with pytest.raises(ValueError, match=words):
        DateDataSocket(["a"], port=0, channels=channels)
