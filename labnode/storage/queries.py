"""Reading recorded points back: channels, one channel's points, thinned for plots, export."""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

from sqlalchemy import Integer, and_, case, cast, func, select

from .database import Database, open_database
from .errors import StorageError
from .schema import DEFAULT_PREFIX, ROLLUP_WIDTHS

#: A point read back: (x, y); y None is a gap marker.
Point = tuple[float, "float | None"]
EXPORT_HEADER = ("timestamp", "node", "codename", "value")


@dataclass(frozen=True)
class ChannelInfo:
    """A recorded channel."""

    node: str
    codename: str
    unit: str
    description: str


def list_channels(database: Database) -> list[ChannelInfo]:
    """Every recorded channel, by node then codename."""
    channels = database.schema.channels
    query = select(channels.c.node, channels.c.codename, channels.c.unit, channels.c.description)
    with database.engine.connect() as connection:
        rows = connection.execute(query.order_by(channels.c.node, channels.c.codename))
        return [ChannelInfo(*row) for row in rows]


def _channel_id(database: Database, connection: Any, node: str, codename: str) -> int | None:
    channels = database.schema.channels
    query = select(channels.c.id).where(channels.c.node == node, channels.c.codename == codename)
    return connection.execute(query).scalar()


def _range(points: Any, channel_id: int, since: float | None, until: float | None) -> Any:
    condition = points.c.channel_id == channel_id
    if since is not None:
        condition = and_(condition, points.c.x >= since)
    if until is not None:
        condition = and_(condition, points.c.x <= until)
    return condition


def read_points(
    database: Database,
    node: str,
    codename: str,
    since: float | None = None,
    until: float | None = None,
) -> list[Point]:
    """The points of one channel with ``since <= x <= until``, in time order; gaps as None."""
    points = database.schema.points
    with database.engine.connect() as connection:
        channel_id = _channel_id(database, connection, node, codename)
        if channel_id is None:
            return []
        query = select(points.c.x, points.c.y).where(_range(points, channel_id, since, until))
        return [tuple(row) for row in connection.execute(query.order_by(points.c.x))]


def read_points_thinned(
    database: Database,
    node: str,
    codename: str,
    since: float | None = None,
    until: float | None = None,
    max_points: int = 1000,
) -> list[Point]:
    """At most about ``max_points`` points of one channel for a plot, thinned in the database.

    The range is cut into ``max_points // 2`` buckets; each bucket gives its lowest value (at the
    bucket's first timestamp) and its highest (at its last), so peaks survive, and a gap marker
    (None) where the bucket holds one. Buckets of a minute or more are read from the rollup
    table (rows of 60 s or 3600 s kept with each write), so a year of data reads a few thousand
    rows; at the range's edges such a bucket may hold points up to its width outside the range.
    Shorter ranges are grouped from the points; when a range holds no more than ``max_points``
    points they all come back as stored.
    """
    if max_points < 4:
        raise ValueError(f"max_points={max_points!r}: give at least 4")
    points = database.schema.points
    with database.engine.connect() as connection:
        channel_id = _channel_id(database, connection, node, codename)
        if channel_id is None:
            return []
        where = _range(points, channel_id, since, until)
        # min and max of the primary key range: two index seeks, however many rows
        low = connection.execute(select(func.min(points.c.x)).where(where)).scalar()
        high = connection.execute(select(func.max(points.c.x)).where(where)).scalar()
        if low is None:
            return []
        buckets = max_points // 2
        level = max((w for w in ROLLUP_WIDTHS if w <= (high - low) / buckets), default=None)
        origin = low if level is None else math.floor(low / level) * level
        # a hair wider than an even cut, so the last point falls in the last bucket, not past it
        width = (high - origin) / buckets * (1 + 1e-9) or 1.0
        if level is None:
            count = connection.execute(select(func.count()).where(where)).scalar()
            if count <= max_points:
                query = select(points.c.x, points.c.y).where(where).order_by(points.c.x)
                return [tuple(row) for row in connection.execute(query)]
            rows = connection.execute(_bucket_points(database, where, origin, width))
        else:
            rows = connection.execute(
                _bucket_rollup(database, channel_id, level, origin, high, width)
            )
        result: list[Point] = []
        for _, x_first, x_last, y_low, y_high, x_gap in rows:
            bucket_points: list[Point] = []
            if x_first is not None:
                bucket_points.append((x_first, y_low))
                if x_last != x_first:
                    bucket_points.append((x_last, y_high))
            if x_gap is not None:
                bucket_points.append((x_gap, None))
            result.extend(sorted(bucket_points, key=lambda point: point[0]))
        return result


def _bucket_of(database: Database, offset: Any) -> Any:
    """floor(offset) as an integer (offset >= 0, where SQLite's truncating CAST is floor)."""
    if database.backend == "sqlite":
        return cast(offset, Integer).label("bucket")
    return cast(func.floor(offset), Integer).label("bucket")


def _bucket_points(database: Database, where: Any, low: float, width: float) -> Any:
    """Per bucket of the points: first and last x of a value, min and max y, first gap x."""
    points = database.schema.points
    bucket = _bucket_of(database, (points.c.x - low) / width)
    valued = points.c.y.is_not(None)
    return (
        select(
            bucket,
            func.min(case((valued, points.c.x))),
            func.max(case((valued, points.c.x))),
            func.min(points.c.y),
            func.max(points.c.y),
            func.min(case((points.c.y.is_(None), points.c.x))),
        )
        .where(where)
        .group_by(bucket)
        .order_by(bucket)
    )


def _bucket_rollup(
    database: Database, channel_id: int, level: int, origin: float, high: float, width: float
) -> Any:
    """The same per bucket, merged from the rollup rows of ``level`` seconds."""
    rollup = database.schema.rollup
    low = origin
    bucket = _bucket_of(database, (rollup.c.bucket * level - origin) / width)
    return (
        select(
            bucket,
            func.min(rollup.c.x_first),
            func.max(rollup.c.x_last),
            func.min(rollup.c.y_min),
            func.max(rollup.c.y_max),
            func.min(rollup.c.x_gap),
        )
        .where(
            rollup.c.channel_id == channel_id,
            rollup.c.width == level,
            rollup.c.bucket >= math.floor(low / level),
            rollup.c.bucket <= math.floor(high / level),
        )
        .group_by(bucket)
        .order_by(bucket)
    )


def iter_export_rows(
    database: Database,
    node: str | None = None,
    codename: str | None = None,
    since: float | None = None,
    until: float | None = None,
    batch: int = 10_000,
) -> Iterator[tuple[float, str, str, float | None]]:
    """(timestamp, node, codename, value) by node, codename, time; streamed in batches."""
    channels, points = database.schema.channels, database.schema.points
    query = select(points.c.x, channels.c.node, channels.c.codename, points.c.y).join(
        channels, channels.c.id == points.c.channel_id
    )
    if node is not None:
        query = query.where(channels.c.node == node)
    if codename is not None:
        query = query.where(channels.c.codename == codename)
    if since is not None:
        query = query.where(points.c.x >= since)
    if until is not None:
        query = query.where(points.c.x <= until)
    query = query.order_by(channels.c.node, channels.c.codename, points.c.x)
    with database.engine.connect() as connection:
        result = connection.execution_options(yield_per=batch).execute(query)
        for row in result:
            yield tuple(row)


def export_points(
    url: str,
    node: str | None = None,
    codename: str | None = None,
    since: float | None = None,
    until: float | None = None,
    prefix: str = DEFAULT_PREFIX,
    dataframe: bool | None = None,
) -> Any:
    """Recorded points as (timestamp, node, codename, value) rows, value None for a gap.

    Returns a pandas DataFrame with those columns when pandas is installed (or
    ``dataframe=True``), else a list of tuples (or with ``dataframe=False``).
    """
    with open_reader(url, prefix) as database:
        rows = list(iter_export_rows(database, node, codename, since, until))
    if dataframe is False:
        return rows
    try:
        import pandas
    except ImportError:
        if dataframe:
            raise StorageError(
                "dataframe=True needs pandas: pip install 'labnode[pandas]'"
            ) from None
        return rows
    return pandas.DataFrame(rows, columns=list(EXPORT_HEADER))


def write_csv(rows: Iterator[tuple[float, str, str, float | None]], out: IO[str]) -> int:
    """Write export rows as CSV with the header ``timestamp,node,codename,value``; return count."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EXPORT_HEADER)
    count = 0
    for x, node, codename, y in rows:
        writer.writerow((repr(x), node, codename, "" if y is None else repr(y)))
        count += 1
    return count


def open_reader(url: str, prefix: str = DEFAULT_PREFIX) -> Database:
    """Open a recorded database for reading; StorageError when it holds no labnode tables."""
    database = open_database(url, prefix)
    if not database.exists():
        database.close()
        where = database.display_url
        raise StorageError(
            f"{where} holds no recorded points (no table {prefix}points); check the URL, or "
            "start `labnode log` with it first"
        )
    return database
