"""The database layer on real SQLite, PostgreSQL and MariaDB: writes, duplicates, reads."""

from __future__ import annotations

import io
import math
import random

import pytest
from sqlalchemy import event, select, text

from labnode.storage import (
    ChannelInfo,
    StorageError,
    export_points,
    iter_export_rows,
    list_channels,
    open_database,
    open_reader,
    read_points,
    read_points_thinned,
    write_csv,
)
from labnode.storage.schema import ROLLUP_WIDTHS


def test_write_and_read_back(db):
    rows = [("psu", "volt", 100.0 + i, float(i)) for i in range(10)]
    rows += [("psu", "volt", 110.5, None), ("psu", "curr", 101.0, 0.25)]
    result = db.write_points(rows)
    assert (result.written, result.rejected) == (12, [])
    points = read_points(db, "psu", "volt")
    assert points == [(100.0 + i, float(i)) for i in range(10)] + [(110.5, None)]
    assert read_points(db, "psu", "volt", since=103, until=105) == [
        (103.0, 3.0),
        (104.0, 4.0),
        (105.0, 5.0),
    ]
    assert read_points(db, "psu", "curr") == [(101.0, 0.25)]
    assert read_points(db, "psu", "absent") == []


def test_timestamps_keep_microseconds(db):
    x = 1763926800.123456
    db.write_points([("n", "c", x, 1.5e-9)])
    assert read_points(db, "n", "c") == [(x, 1.5e-9)]


def test_a_replayed_point_is_never_stored_twice(db):
    rows = [("n", "c", 1.0, 1.0), ("n", "c", 2.0, 2.0)]
    db.write_points(rows)
    assert db.write_points(rows + [("n", "c", 3.0, 3.0)]).written == 3
    assert read_points(db, "n", "c") == [(1.0, 1.0), (2.0, 2.0), (3.0, 3.0)]
    fresh = open_database(db.url, db.schema.channels.name[: -len("channels")])
    try:  # another process (no channel id cache) replaying the same rows
        fresh.write_points(rows)
    finally:
        fresh.close()
    assert len(read_points(db, "n", "c")) == 3


def test_channels_and_their_units(db):
    db.write_points([("psu", "volt", 1.0, 1.0), ("gauge", "p1", 1.0, 1e-6)])
    db.describe_channels([("psu", "volt", "V", "output voltage"), ("psu", "curr", "A", "")])
    assert list_channels(db) == [
        ChannelInfo("gauge", "p1", "", ""),
        ChannelInfo("psu", "curr", "A", ""),
        ChannelInfo("psu", "volt", "V", "output voltage"),
    ]


def test_a_refused_row_is_set_aside_and_the_rest_stored(db):
    too_long = "c" * 300  # longer than the codename column: the database refuses it
    rows = [("n", "ok", float(i), float(i)) for i in range(20)]
    rows.insert(7, ("n", too_long, 7.5, 1.0))
    if db.backend == "sqlite":  # SQLite stores any length: refuse a value with a trigger instead
        with db.engine.begin() as connection:
            connection.execute(
                text(
                    f"CREATE TRIGGER {db.schema.points.name}_refuse BEFORE INSERT ON "
                    f"{db.schema.points.name} WHEN NEW.y = 7.5 BEGIN "
                    "SELECT RAISE(ABORT, 'refused by test'); END"
                )
            )
        rows[7] = ("n", "ok", 7.25, 7.5)
    result = db.write_points(rows)
    assert result.written == 20
    [(row, reason)] = result.rejected
    assert row == rows[7] and reason.startswith(db.backend)
    assert len(read_points(db, "n", "ok")) == 20


def test_thinning_keeps_peaks_and_gaps(db):
    rows = [("n", "c", float(x), math.sin(x / 50.0)) for x in range(10_000)]
    rows[5000] = ("n", "c", 5000.0, 100.0)  # a spike
    rows[7000] = ("n", "c", 7000.0, None)  # a gap
    db.write_points(rows)
    thinned = read_points_thinned(db, "n", "c", max_points=200)
    assert 100 <= len(thinned) <= 202
    assert [x for x, _ in thinned] == sorted(x for x, _ in thinned)
    assert (5000.0, 100.0) in thinned or max(y for _, y in thinned if y is not None) == 100.0
    assert (7000.0, None) in thinned
    assert min(y for _, y in thinned if y is not None) == pytest.approx(-1.0, abs=1e-3)
    few = read_points_thinned(db, "n", "c", since=10, until=20, max_points=200)
    assert few == read_points(db, "n", "c", since=10, until=20)


def test_export_rows_csv_and_function(db):
    db.write_points([("b", "x", 2.0, 2.5), ("a", "y", 1.0, None), ("a", "y", 3.0, -1.0)])
    rows = list(iter_export_rows(db))
    assert rows == [(1.0, "a", "y", None), (3.0, "a", "y", -1.0), (2.0, "b", "x", 2.5)]
    assert list(iter_export_rows(db, node="a", since=2)) == [(3.0, "a", "y", -1.0)]
    out = io.StringIO()
    assert write_csv(iter(rows), out) == 3
    assert out.getvalue() == "timestamp,node,codename,value\n1.0,a,y,\n3.0,a,y,-1.0\n2.0,b,x,2.5\n"
    prefix = db.schema.channels.name[: -len("channels")]
    url = db.url.render_as_string(hide_password=False)
    assert export_points(url, node="b", prefix=prefix, dataframe=False) == [(2.0, "b", "x", 2.5)]


def test_export_as_dataframe(db):
    pandas = pytest.importorskip("pandas")
    db.write_points([("a", "y", 1.0, None), ("a", "y", 3.0, -1.0)])
    prefix = db.schema.channels.name[: -len("channels")]
    frame = export_points(db.url.render_as_string(hide_password=False), prefix=prefix)
    assert isinstance(frame, pandas.DataFrame)
    assert list(frame.columns) == ["timestamp", "node", "codename", "value"]
    assert len(frame) == 2


def test_reader_refuses_a_place_without_recordings(tmp_path):
    with pytest.raises(StorageError, match="holds no recorded points"):
        open_reader(f"sqlite:///{tmp_path / 'typo.db'}")
    assert not (tmp_path / "typo.db").exists()  # and did not create an empty file


def test_thinning_short_ranges_from_the_points(db):
    rows = [("n", "c", 1000.0 + i / 10, float(i % 7)) for i in range(2000)]
    rows[1500] = ("n", "c", 1150.0, None)
    db.write_points(rows)
    thinned = read_points_thinned(db, "n", "c", max_points=100)  # 4 s buckets: no rollup
    assert 50 <= len(thinned) <= 102
    assert (1150.0, None) in thinned
    assert {y for _, y in thinned if y is not None} == {0.0, 6.0}


def test_thinning_a_year_reads_the_rollup_merged_across_writes_and_replays(db):
    hour = 3600.0
    start = 1.7e9
    rows = [("n", "c", start + i * hour / 4, float((i * 37) % 101)) for i in range(4 * 24 * 365)]
    rows[20_000] = ("n", "c", rows[20_000][2], 1000.0)
    rows[30_001] = ("n", "c", rows[30_001][2], None)
    for first in range(0, len(rows), 3333):  # buckets split across writes
        db.write_points(rows[first : first + 3333])
    db.write_points(rows[10_000:12_000])  # a replay changes nothing
    thinned = read_points_thinned(db, "n", "c", max_points=1000)
    assert 500 <= len(thinned) <= 1002
    values = [y for _, y in thinned if y is not None]
    assert max(values) == 1000.0 and min(values) == 0.0
    assert (rows[30_001][2], None) in thinned
    with db.engine.connect() as connection:
        count = connection.execute(
            text(f"SELECT count(*) FROM {db.schema.rollup.name} WHERE width = 3600")
        ).scalar()
    assert count == 24 * 365  # one row per hour, not per write
    window = read_points_thinned(
        db, "n", "c", since=start, until=start + 30 * 86400, max_points=200
    )
    assert all(start - 3600 <= x <= start + 31 * 86400 for x, _ in window)


def test_a_dropped_points_table_is_recreated_not_blamed_on_the_row(db):
    db.write_points([("n", "c", 1.0, 1.0)])
    with db.engine.begin() as connection:
        connection.execute(text(f"DROP TABLE {db.schema.points.name}"))
    result = db.write_points([("n", "c", 2.0, 2.0)])
    assert (result.written, result.rejected) == (1, [])
    assert read_points(db, "n", "c") == [(2.0, 2.0)]


def test_codenames_differing_in_case_or_accents_are_channels_apart(db):
    rows = [("psu", "Volt", 1.0, 1.0), ("psu", "volt", 1.0, 2.0), ("psu", "vólt", 1.0, 3.0)]
    assert db.write_points(rows).rejected == []
    assert [read_points(db, "psu", c) for c in ("Volt", "volt", "vólt")] == [
        [(1.0, 1.0)],
        [(1.0, 2.0)],
        [(1.0, 3.0)],
    ]
    assert [c.codename for c in list_channels(db)] == ["Volt", "volt", "vólt"]


@pytest.mark.parametrize("db_target", ["mysql"], indirect=True)  # the others compare bytes
def test_a_name_the_database_cannot_keep_apart_is_refused_not_stuck(db):
    """MySQL/MariaDB ignore trailing spaces even in a binary collation, and tables made before
    labnode chose one ignore case too: such a row is refused with a reason (a recorder retrying
    it forever would store nothing else), and the rest of the batch is stored."""
    channels = db.schema.channels.name
    with db.engine.begin() as connection:  # as created before the binary collation
        connection.execute(
            text(
                f"ALTER TABLE {channels} MODIFY codename VARCHAR(200) "
                "CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NOT NULL"
            )
        )
    db.write_points([("psu", "Volt", 1.0, 1.0)])
    rows = [("psu", "volt", 2.0, 2.0), ("psu", "Volt", 2.0, 2.0), ("psu", "Volt ", 3.0, 3.0)]
    result = db.write_points(rows)
    assert result.written == 1
    assert [
        (row, reason.split("cannot keep them apart: ")[1]) for row, reason in result.rejected
    ] == [
        (rows[0], "[('psu', 'volt')]"),  # the channel refused, not the one it clashes with
        (rows[2], "[('psu', 'Volt ')]"),
    ]
    assert read_points(db, "psu", "Volt") == [(1.0, 1.0), (2.0, 2.0)]


def test_the_rollup_holds_each_buckets_extremes_and_first_gap(db):
    """Per channel, width and bucket: the first and last timestamp of a value, the lowest and
    highest value, and the first gap marker, whatever the order and the batches the points came
    in, and unchanged by a replay (what plots of long ranges are drawn from)."""
    rng = random.Random(11)
    rows = []
    for channel in ("a", "b"):
        for i in range(1500):
            x = 1.7e9 + i * 7.3 + rng.random()
            y = None if rng.random() < 0.05 else rng.uniform(-50.0, 50.0)
            rows.append(("n", channel, x, y))
    rng.shuffle(rows)
    for first in range(0, len(rows), 700):
        db.write_points(rows[first : first + 700])
    db.write_points(rows[100:900])  # a replay changes nothing
    expected = {}
    for _, channel, x, y in rows:
        for width in ROLLUP_WIDTHS:
            entry = expected.setdefault((channel, width, math.floor(x / width)), [[], [], []])
            if y is None:
                entry[2].append(x)
            else:
                entry[0].append(x)
                entry[1].append(y)
    rollup, channels = db.schema.rollup, db.schema.channels
    with db.engine.connect() as connection:
        names = dict(connection.execute(select(channels.c.id, channels.c.codename)).all())
        stored = {
            (names[r.channel_id], r.width, r.bucket): tuple(r)[3:]
            for r in connection.execute(select(rollup))
        }
    assert stored == {
        key: (
            min(xs, default=None),
            max(xs, default=None),
            min(ys, default=None),
            max(ys, default=None),
            min(gaps, default=None),
        )
        for key, (xs, ys, gaps) in expected.items()
    }


def test_describing_a_channel_leaves_other_nodes_channels_alone(db):
    db.write_points([("a", "volt", 1.0, 1.0), ("b", "volt", 1.0, 1.0), ("c", "volt", 1.0, 1.0)])
    db.describe_channels([("b", "volt", "V", "b's volts")])
    assert [(c.node, c.unit, c.description) for c in list_channels(db)] == [
        ("a", "", ""),
        ("b", "V", "b's volts"),
        ("c", "", ""),
    ]


def test_a_first_batch_of_more_than_500_channels_is_stored_whole(db):
    """Channel ids are looked up 500 at a time: a lab's first batch may name more channels, and
    it is still one insert of its points (not split up as if some were refused)."""
    inserts = []
    points = db.schema.points.name

    def count(_conn, _cursor, statement, *_):
        if statement.startswith(f"INSERT INTO {points} "):
            inserts.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    rows = [("n", f"c{i:04d}", 1.0, float(i)) for i in range(1203)]
    result = db.write_points(rows)
    assert (result.written, result.rejected, len(inserts)) == (1203, [], 1)
    assert len(list_channels(db)) == 1203
    assert read_points(db, "n", "c0500") == [(1.0, 500.0)]
    assert read_points(db, "n", "c1202") == [(1.0, 1202.0)]
