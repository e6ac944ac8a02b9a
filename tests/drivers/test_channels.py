"""Channels: what a codename means, codenames derived from them, and Driver.set_value's checks."""

from __future__ import annotations

import dataclasses
import math

import pytest

from labnode.drivers import Channel, DriverError, SerialDriver, WriteRefused


class Supply(SerialDriver):
    """Declares its channels as a class attribute; writes `VOLT <v>` and reads it back (loop://)."""

    default_settings = {"timeout": 0.1}
    channels = [
        Channel("volt", "V", "output voltage", writable=True, min=0.0, max=6.0),
        Channel("curr", "A", "output current"),
        Channel("limit", "A", "current limit", writable=True),
    ]

    def get_values(self):
        return {"volt": 1.0, "curr": 0.1, "limit": 0.5}

    def write_channel(self, channel, value):
        if channel.name != "volt":
            return super().write_channel(channel, value)
        command = f"VOLT {value:.3f}"
        echoed = self.query(command)  # loop:// answers with the command itself
        if echoed != command:
            raise self.write_refused(channel.name, f"the unit answered {echoed!r}", command)
        self.written = value


class Learnt(SerialDriver):
    """Learns its channels at connect (a property), e.g. a unit the instrument reports."""

    unit: str | None = None

    @property
    def channels(self):
        return [Channel("pressure", self.unit, "chamber pressure")]

    def on_connect(self):
        self.unit = "mbar"

    def get_values(self):
        return {"pressure": 1e-3}


class Plain(SerialDriver):
    """Declares nothing: codenames come from the first reading, channels from the codenames."""

    def get_values(self):
        return {"x": 1.0}


def test_channel_is_a_frozen_dataclass_with_the_issue_defaults():
    channel = Channel("volt")
    assert (channel.unit, channel.description, channel.writable) == (None, "", False)
    assert (channel.min, channel.max) == (None, None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        channel.unit = "V"
    assert dataclasses.replace(channel, unit="V", max=6) == Channel("volt", "V", max=6)
    assert Channel("v", min=1, max=6).limit_problem(0.5) == "below min 1"
    assert Channel("v", min=1, max=6).limit_problem(7) == "above max 6"
    assert Channel("v", min=1, max=6).limit_problem(6) is None


def test_codenames_come_from_declared_channels():
    assert Supply("loop://").codenames == ["volt", "curr", "limit"]
    assert Supply("loop://").channels[1] == Channel("curr", "A", "output current")


def test_channels_learnt_at_connect():
    driver = Learnt("loop://")
    assert driver.channels == [Channel("pressure", None, "chamber pressure")]
    with driver:
        assert driver.channels[0].unit == "mbar"
        assert driver.codenames == ["pressure"]


def test_a_driver_declaring_nothing_keeps_working_as_before():
    with Plain("loop://") as driver:
        assert driver.codenames is None and driver.channels == []
        assert driver.get_values() == {"x": 1.0}
        assert driver.codenames == ["x"]
        assert driver.channels == [Channel("x")]
        with pytest.raises(WriteRefused, match="'x' is read-only") as caught:
            driver.set_value("x", 1.0)
    assert caught.value.channel == "x" and isinstance(caught.value, DriverError)


def test_set_value_writes_through_the_driver():
    with Supply("loop://") as driver:
        driver.set_value("volt", 2.5)
        assert driver.written == 2.5
        driver.set_value("volt", 6)  # the max itself is allowed; an int is a number
        assert driver.written == 6.0


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("nope", 1.0, "no channel named 'nope' (channels: volt, curr, limit)"),
        ("curr", 1.0, "channel 'curr' is read-only"),
        ("volt", math.nan, "volt must be a finite number, got nan"),
        ("volt", math.inf, "volt must be a finite number, got inf"),
        ("volt", "2.5", "volt must be a finite number, got '2.5'"),
        ("volt", True, "volt must be a finite number, got True"),
        ("volt", 6.5, "volt = 6.5 is above max 6"),
        ("volt", -1, "volt = -1 is below min 0"),
        ("limit", 1.0, "Supply has no way to write 'limit'"),
    ],
)
def test_set_value_refuses_before_any_io(name, value, words):
    driver = Supply("loop://")  # not even connected: a refusal needs no instrument
    with pytest.raises(WriteRefused) as caught:
        driver.set_value(name, value)
    assert words in str(caught.value)
    assert caught.value.channel == name
    assert "Supply on 'loop://'" in str(caught.value)


def test_write_refused_keeps_its_channel_through_pickling():
    import pickle

    error = WriteRefused("read-only", channel="curr", driver="Supply", resource="loop://")
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.channel, str(copy)) == ("curr", str(error))
