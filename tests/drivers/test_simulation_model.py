"""Device models, moving values and the model catalog, in-process (no ports)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from labnode.drivers.simulation import (
    DeviceModel,
    LineDeviceModel,
    PumpDownPressure,
    SettlingValue,
    create_model,
    model_class,
    model_names,
)
from labnode.drivers.simulation.model import DEFAULT_GARBAGE
from tests.fake_clock import FakeClock


class EchoModel(LineDeviceModel):
    """Answers each line upper-cased; 'quiet' gets no answer."""

    name = "echo"

    def handle_line(self, line: str) -> str | None:
        return None if line == "quiet" else line.upper()


def test_line_model_answers_each_complete_line_and_buffers_the_rest():
    model = EchoModel()
    assert model.feed(b"ab") == b""
    assert model.feed(b"c\rde\rf") == b"ABC\rDE\r"
    assert model.feed(b"\r") == b"F\r"
    assert model.requests_seen == 3


def test_line_model_skips_empty_lines_and_stray_line_feeds():
    model = EchoModel()
    assert model.feed(b"\r\n\rhi\r\n") == b"HI\r"


def test_line_model_none_means_no_answer():
    assert EchoModel().feed(b"quiet\rx\r") == b"X\r"


@given(st.lists(st.text(alphabet="abcxyz019 ,.", min_size=1, max_size=12), max_size=8), st.data())
def test_line_model_answers_do_not_depend_on_how_bytes_are_chunked(lines, data):
    stream = b"".join(line.encode() + b"\r" for line in lines)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=6)))
    chunks = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    whole = EchoModel().feed(stream)
    model = EchoModel()
    assert b"".join(model.feed(chunk) for chunk in chunks) == whole


def test_silent_model_swallows_requests_and_forgets_partial_input():
    model = EchoModel()
    model.feed(b"par")
    model.silent = True
    assert model.feed(b"tial\rnext\r") == b""
    assert model.requests_seen == 0
    model.silent = False
    assert model.feed(b"again\r") == b"AGAIN\r"


def test_garbage_model_replaces_every_reply_but_answers_nothing_where_nothing_was_due():
    model = EchoModel()
    model.garbage = True
    assert model.feed(b"hello\r") == DEFAULT_GARBAGE + b"\r"
    assert model.feed(b"quiet\r") == b""
    model.garbage_reply = b"\xff\xfe\r"
    assert model.feed(b"x\r") == b"\xff\xfe\r"


def test_reset_input_drops_a_partial_request():
    model = EchoModel()
    model.feed(b"half")
    model.reset_input()
    assert model.feed(b"whole\r") == b"WHOLE\r"


def test_unknown_control_command_names_the_model():
    with pytest.raises(LookupError, match="echo"):
        EchoModel().control("explode", [])


def test_pump_down_pressure_falls_from_start_to_base():
    clock = FakeClock()
    pressure = PumpDownPressure(start=1000.0, base=1e-6, tau=10.0, noise=0.0, clock=clock)
    assert pressure.read() == pytest.approx(1000.0)
    clock.now += 10.0
    middle = pressure.read()
    assert 1e-6 < middle < 1000.0
    clock.now += 1000.0
    assert pressure.read() == pytest.approx(1e-6)
    pressure.restart()
    assert pressure.read() == pytest.approx(1000.0)


def test_moving_values_are_deterministic_for_a_seed_and_clock():
    def readings(seed: int) -> list[float]:
        clock = FakeClock()
        pressure = PumpDownPressure(noise=0.05, seed=seed, clock=clock)
        flow = SettlingValue(5.0, noise=0.1, tau=1.0, seed=seed, clock=clock)
        out = []
        for _ in range(5):
            clock.now += 0.7
            out += [pressure.read(), flow.read()]
        return out

    assert readings(7) == readings(7)
    assert readings(7) != readings(8)


def test_moving_values_move_with_noise():
    pressure = PumpDownPressure(noise=0.05, seed=1, clock=FakeClock())
    assert len({pressure.read() for _ in range(10)}) == 10


def test_settling_value_follows_its_target_with_a_lag():
    clock = FakeClock()
    value = SettlingValue(0.0, tau=2.0, clock=clock)
    value.target = 10.0
    assert value.read() == pytest.approx(0.0)
    clock.now += 2.0
    assert value.read() == pytest.approx(10.0 * (1 - 0.36788), rel=1e-3)
    clock.now += 100.0
    assert value.read() == pytest.approx(10.0)


def test_pump_down_rejects_non_positive_pressures():
    with pytest.raises(ValueError, match="positive"):
        PumpDownPressure(start=0.0)


def test_catalog_knows_the_shipped_models_by_short_name():
    assert {"tpg26x", "alicat"} <= set(model_names())
    for name in model_names():
        model = create_model(name, seed=3)
        assert isinstance(model, DeviceModel)
        assert model.name == name


def test_catalog_accepts_a_module_path_and_rejects_unknown_names():
    assert model_class("tpg26x").name == "tpg26x"
    path = f"{EchoModel.__module__}:EchoModel"
    assert model_class(path) is EchoModel
    with pytest.raises(LookupError, match="known: alicat, .*tpg26x"):
        model_class("nosuch")
    with pytest.raises(LookupError, match="no DeviceModel subclass named 'DEFAULT_GARBAGE'"):
        model_class("labnode.drivers.simulation.model:DEFAULT_GARBAGE")
    with pytest.raises(LookupError, match="no DeviceModel subclass named 'Nope'"):
        model_class("labnode.drivers.simulation.model:Nope")
