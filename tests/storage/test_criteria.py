"""The recording rules: first value, strict absolute and relative changes, max_interval, gaps."""

from __future__ import annotations

import dataclasses
import math

import pytest

from labnode.storage import ChangeFilter, Criteria, open_database, read_points


def kept(criteria: Criteria, points) -> list:
    channel = ChangeFilter(criteria)
    return [point for point in points if channel.offer(*point)]


def test_no_criteria_stores_every_new_point_but_never_the_same_twice():
    points = [(1.0, 5.0), (1.0, 5.0), (2.0, 5.0), (1.5, 7.0), (0.0, 1.0), (3.0, 5.0)]
    assert kept(Criteria(), points) == [(1.0, 5.0), (2.0, 5.0), (3.0, 5.0)]


def test_never_set_points_are_not_stored():
    assert kept(Criteria(), [(0.0, 0.0), (-1.0, 2.0)]) == []


def test_absolute_is_strict_and_compares_with_the_last_stored_value():
    points = [(1, 0.0), (2, 0.25), (3, 0.5), (4, 0.75), (5, 1.25), (6, 1.5), (7, 0.875)]
    assert kept(Criteria(absolute=0.5), points) == [(1, 0.0), (4, 0.75), (6, 1.5), (7, 0.875)]


def test_absolute_zero_stores_changes_only():
    points = [(1, 1.0), (2, 1.0), (3, 1.5), (4, 1.5), (5, 1.0)]
    assert kept(Criteria(absolute=0.0), points) == [(1, 1.0), (3, 1.5), (5, 1.0)]


def test_relative_is_a_fraction_of_the_last_stored_magnitude():
    points = [(1, 100.0), (2, 109.0), (3, 111.0), (4, 100.0), (5, 99.0), (6, -10.0)]
    assert kept(Criteria(relative=0.1), points) == [(1, 100.0), (3, 111.0), (5, 99.0), (6, -10.0)]


def test_relative_at_zero_stores_any_change():
    assert kept(Criteria(relative=0.5), [(1, 0.0), (2, 0.0), (3, 1e-12)]) == [(1, 0.0), (3, 1e-12)]


def test_max_interval_is_a_heartbeat_in_node_time():
    points = [(float(x), 1.0) for x in range(0, 25)][1:]
    assert [x for x, _ in kept(Criteria(absolute=1.0, max_interval=10), points)] == [1, 11, 21]


def test_max_interval_stores_the_first_point_past_it_when_polling_never_lands_on_it():
    points = [(float(x), 1.0) for x in range(1, 30, 3)]  # 1, 4, 7, ... 28: never 10 s apart
    assert [x for x, _ in kept(Criteria(absolute=1.0, max_interval=10), points)] == [1, 13, 25]


def test_either_criterion_stores():
    points = [(1, 1000.0), (2, 1000.5), (3, 1002.0)]
    assert kept(Criteria(absolute=1.0, relative=0.0001), points) == points


def test_non_finite_values_are_not_stored():
    assert kept(Criteria(), [(1, math.nan), (2, math.inf), (3, 1.0)]) == [(3, 1.0)]


def test_one_gap_marker_then_the_first_value_at_once():
    channel = ChangeFilter(Criteria(absolute=10.0))
    assert channel.offer(1.0, 1.0)
    assert channel.gap(5.0) == 5.0
    assert channel.gap(6.0) is None  # one marker per gap
    assert channel.offer(7.0, 1.0)  # back: stored at once, although it did not change
    assert not channel.offer(8.0, 2.0)


def test_a_gap_marker_never_precedes_the_last_stored_point():
    channel = ChangeFilter(Criteria())
    channel.offer(100.0, 1.0)  # the node's clock runs ahead of ours
    x = channel.gap(50.0)
    assert x is not None and x > 100.0


def test_a_gap_at_the_time_of_the_last_point_is_stored_after_it(tmp_path):
    """Same x as the last point would be the same key in the database: the marker would be
    skipped as a replayed point, and the gap lost."""
    channel = ChangeFilter(Criteria())
    assert channel.offer(100.0, 1.0)
    x = channel.gap(100.0)
    assert x is not None and x > 100.0
    database = open_database(f"sqlite:///{tmp_path / 'lab.db'}", create=True)
    database.write_points([("n", "c", 100.0, 1.0), ("n", "c", x, None)])
    assert read_points(database, "n", "c") == [(100.0, 1.0), (x, None)]
    database.close()


def test_criteria_are_values_shared_safely_between_channels():
    """A node's criteria object is handed to every channel's filter: it cannot be changed
    under them, and equal criteria are one dict key."""
    shared = Criteria(absolute=1.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        shared.absolute = 5.0  # type: ignore[misc]
    assert {shared: "a", Criteria(absolute=1.0): "b"} == {Criteria(absolute=1.0): "b"}
