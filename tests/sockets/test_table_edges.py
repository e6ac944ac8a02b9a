"""PointTable at its edges: every value check of every setter, the float range boundary, the
generation and last_update bookkeeping, and the unknown-codename message (mutation-tested)."""

from __future__ import annotations

import sys
import time
from decimal import Decimal
from fractions import Fraction

import pytest

from labnode.sockets import PointTable

FLOAT_MAX_INT = int(sys.float_info.max)  # exactly the largest finite float, as an int


class RefusesFloat:
    """A value whose float() raises ValueError (not TypeError), as a bad sensor object might."""

    def __float__(self) -> float:
        raise ValueError("no reading")


def _setters(table: PointTable, value: object):
    """Each way to store ``value`` in codename "a" (x and y of set_point checked separately)."""
    return {
        "set_point x": lambda: table.set_point("a", (value, 1.0)),
        "set_point y": lambda: table.set_point("a", (1.0, value)),
        "set_point_now": lambda: table.set_point_now("a", value),
        "set_points_now": lambda: table.set_points_now({"b": 2.0, "a": value}),
    }


SETTERS = ["set_point x", "set_point y", "set_point_now", "set_points_now"]


@pytest.mark.parametrize("setter", SETTERS)
@pytest.mark.parametrize(
    "value, error, words",
    [
        (True, TypeError, "is a bool, not a number"),
        ("1.5", TypeError, "is a string, not a number; convert"),
        (b"1.5", TypeError, "is a string, not a number; convert"),
        ([1.0], TypeError, "is not a number; a point is (timestamp, value)"),
        (None, TypeError, "is not a number"),
        (RefusesFloat(), TypeError, "is not a number"),
        (FLOAT_MAX_INT + 1, ValueError, "is an int of 1024 bits, beyond the range of a float"),
        (-FLOAT_MAX_INT - 1, ValueError, "is an int of 1024 bits, beyond the range of a float"),
        (Fraction(10**400), ValueError, "is beyond the range of a float"),
    ],
    ids=["bool", "str", "bytes", "list", "None", "float-raises", "max+1", "-max-1", "fraction"],
)
def test_every_setter_refuses_a_bad_value_and_stores_nothing(setter, value, error, words):
    table = PointTable(["a", "b"])
    with pytest.raises(error) as raised:
        _setters(table, value)[setter]()
    assert words in str(raised.value)
    assert "codename 'a'" in str(raised.value)
    which = "x" if setter == "set_point x" else "y" if setter == "set_point y" else "value"
    assert str(raised.value).startswith(which + " ")
    assert table.snapshot() == (0, [(0.0, 0.0), (0.0, 0.0)])  # nothing stored, not even "b"
    assert table.last_update is None


@pytest.mark.parametrize("setter", SETTERS)
@pytest.mark.parametrize("value", [FLOAT_MAX_INT, -FLOAT_MAX_INT, 7, 0])
def test_ints_up_to_the_float_range_are_stored_as_exact_ints(setter, value):
    table = PointTable(["a", "b"])
    _setters(table, value)[setter]()
    point = table.get_point("a")
    stored = point[0] if setter == "set_point x" else point[1]
    assert stored == value and type(stored) is int


@pytest.mark.parametrize("setter", SETTERS)
@pytest.mark.parametrize(
    "value, expected", [(Fraction(1, 4), 0.25), (Decimal("-2.5"), -2.5), (float("nan"), None)]
)
def test_other_numbers_become_floats_and_non_finite_floats_are_kept(setter, value, expected):
    table = PointTable(["a", "b"])
    _setters(table, value)[setter]()
    point = table.get_point("a")
    stored = point[0] if setter == "set_point x" else point[1]
    assert type(stored) is float
    assert stored != stored if expected is None else stored == expected


def test_a_float_is_stored_as_the_same_object():
    table = PointTable(["a"])
    x, y = 1763926800.5, -3.25
    table.set_point("a", (x, y))
    assert table.get_point("a")[0] is x and table.get_point("a")[1] is y


@pytest.mark.parametrize("point", [5.0, None, (1.0,), (1.0, 2.0, 3.0), "ab1"])
def test_a_point_that_is_not_a_pair_is_refused_with_the_fix(point):
    table = PointTable(["a"])
    with pytest.raises(TypeError) as raised:
        table.set_point("a", point)  # type: ignore[arg-type]
    assert str(raised.value) == (
        f"point {point!r} for codename 'a' is not a pair; pass (timestamp, value)"
    )
    assert table.generation == 0


@pytest.mark.parametrize(
    "default_x, default_y, words",
    [
        (True, 0.0, "default_x True for codename 'a' is a bool"),
        (0.0, "0", "default_y '0' for codename 'a'"),
    ],
)
def test_bad_defaults_are_refused_naming_the_argument(default_x, default_y, words):
    with pytest.raises(TypeError, match=words):
        PointTable(["a", "b"], default_x=default_x, default_y=default_y)


def test_defaults_fill_every_codename_and_ints_stay_ints():
    table = PointTable(["a", "b", "c"], default_x=5, default_y=Fraction(1, 2))
    assert table.snapshot() == (0, [(5, 0.5)] * 3)
    assert type(table.get_point("c")[0]) is int


def test_every_change_moves_the_generation_by_one_and_stamps_last_update():
    table = PointTable(["a", "b"])
    assert table.generation == 0 and table.last_update is None
    before = time.time()
    table.set_point("a", (1.0, 2.0))
    after = time.time()
    assert table.generation == 1
    assert before <= table.last_update <= after

    table.set_point_now("b", 3.0)
    assert table.generation == 2
    stamp, value = table.get_point("b")
    assert value == 3.0 and table.last_update == stamp and after <= stamp <= time.time()

    table.set_points_now({"a": 4.0, "b": 5.0})  # one batch is one change
    assert table.generation == 3
    points = table.snapshot()[1]
    assert points[0][0] == points[1][0] == table.last_update
    assert [p[1] for p in points] == [4.0, 5.0]


def test_set_points_now_with_a_given_stamp_keeps_it_and_records_the_wall_clock():
    table = PointTable(["a", "b", "c"])
    before = time.time()
    table.set_points_now({"c": 1, "a": 2.5}, now=1000.0)
    assert table.snapshot() == (1, [(1000.0, 2.5), (0.0, 0.0), (1000.0, 1)])
    assert before <= table.last_update <= time.time()  # when it was stored, not the stamp


def test_set_points_now_with_nothing_still_counts_as_a_change():
    table = PointTable(["a"])
    table.set_points_now({})
    assert table.snapshot() == (1, [(0.0, 0.0)])


@pytest.mark.parametrize(
    "call",
    [
        lambda t: t.set_point("nope", (1.0, 2.0)),
        lambda t: t.set_point_now("nope", 1.0),
        lambda t: t.set_points_now({"c0": 1.0, "nope": 1.0}),
        lambda t: t.get_point("nope"),
    ],
    ids=["set_point", "set_point_now", "set_points_now", "get_point"],
)
@pytest.mark.parametrize(
    "count, listed",
    [
        (1, "c0"),
        (10, "c0, c1, c2, c3, c4, c5, c6, c7, c8, c9"),
        (11, "c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, ..."),
    ],
)
def test_an_unknown_codename_names_up_to_ten_served_ones(call, count, listed):
    table = PointTable([f"c{i}" for i in range(count)])
    with pytest.raises(KeyError) as raised:
        call(table)
    assert raised.value.args[0] == f"unknown codename 'nope'; this socket serves {listed}"
    assert table.generation == 0 and table.get_point("c0") == (0.0, 0.0)
