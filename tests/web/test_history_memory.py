"""Thinning and the in-memory history (no network)."""

from __future__ import annotations

import math
import random

import pytest

from labnode.apps.web import MemoryHistory, thin


def test_thin_keeps_short_series_as_they_are():
    points = [(float(i), float(i)) for i in range(10)]
    assert thin(points, 0, 9, 100) is points


def test_thin_bounds_the_count_and_keeps_extremes_of_every_bucket():
    rng = random.Random(7)
    points = [(float(i), rng.gauss(0, 1)) for i in range(86_400)]
    points[40_000] = (40_000.0, 50.0)  # a one-sample spike
    points[70_000] = (70_000.0, -50.0)
    out = thin(points, 0, 86_399, 800)
    assert len(out) <= 800
    assert (40_000.0, 50.0) in out and (70_000.0, -50.0) in out
    assert [p[0] for p in out] == sorted(p[0] for p in out)
    width = 86_399 / 400
    buckets: dict[int, list] = {}
    for p in points:
        buckets.setdefault(min(int(p[0] / width), 399), []).append(p)
    kept = set(out)
    for inside in buckets.values():  # each bucket's max and min of the original are kept
        assert max(inside, key=lambda p: p[1]) in kept
        assert min(inside, key=lambda p: p[1]) in kept


def test_thin_keeps_gaps_as_gaps():
    points = [(float(i), math.sin(i / 100)) for i in range(10_000)]
    points[5_000] = (5_000.0, None)
    out = thin(points, 0, 9_999, 100)
    assert (5_000.0, None) in out
    gap = out.index((5_000.0, None))
    assert out[gap - 1][0] < 5_000 < out[gap + 1][0]
    assert sum(1 for p in out if p[1] is None) == 1


def test_memory_history_reads_a_range_and_is_bounded():
    history = MemoryHistory(capacity=1_000)
    for i in range(5_000):
        history.add("n", "c", float(i), float(i))
    assert len(history) <= 1_250
    points = history.read("n", "c", 4_500, 4_600, 1_000)
    assert points[0] == (4_500.0, 4_500.0) and points[-1] == (4_600.0, 4_600.0)
    assert len(points) == 101
    assert history.read("n", "c", 0, 100, 1_000) == []  # forgotten: older than the capacity
    assert history.read("n", "other", 0, 1e10, 1_000) == []


def test_memory_history_stores_one_marker_per_gap_and_drops_points_out_of_order():
    history = MemoryHistory()
    history.add("n", "c", 1.0, 1.0)
    history.add("n", "c", 2.0, None)
    history.add("n", "c", 3.0, None)
    history.add("n", "c", 1.5, 7.0)  # older than the last point: dropped
    history.add("n", "c", 4.0, 4.0)
    assert history.read("n", "c", 0, 10, 100) == [(1.0, 1.0), (2.0, None), (4.0, 4.0)]


def test_memory_history_refuses_a_capacity_below_two():
    with pytest.raises(ValueError, match="capacity"):
        MemoryHistory(capacity=1)
