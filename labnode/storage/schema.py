"""The tables: one row per channel (node, codename, unit, description), one per stored point.

``{prefix}channels(id, node, codename, unit, description)``, unique on (node, codename).
``{prefix}points(channel_id, x, y)``: x is the node's Unix timestamp in seconds, y the value, or
NULL for a gap marker. The primary key (channel_id, x) is both the index for time-range queries
of one channel and the unique key that makes a replayed point a no-op instead of a duplicate.
``{prefix}rollup(channel_id, width, bucket, x_first, x_last, y_min, y_max, x_gap)``: per channel
and bucket of ``width`` seconds (bucket = floor(x / width)), the first and last timestamps of a
value, the lowest and highest value, and the first gap marker; kept with each write (merging is
idempotent, so a replay changes nothing) so a plot of a year reads thousands of rows, not millions.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import (
    BigInteger,
    Column,
    Double,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
)
from sqlalchemy.dialects import mysql

#: The longest node name and codename stored (a longer one is rejected by the database).
NAME_LENGTH = 200
#: Seconds per bucket of the rollup levels kept beside the points, for fast thinned reads.
ROLLUP_WIDTHS = (60, 3600)
DEFAULT_PREFIX = "labnode_"
#: A node name or codename. MySQL/MariaDB's default collation makes "Volt" and "volt" (and "é"
#: and "e") one channel; a binary one keeps them apart. Trailing spaces still do not count there
#: ("volt " is "volt"): such a row is refused (Database.write_points), not stored on the wrong one.
NAME = String(NAME_LENGTH).with_variant(
    mysql.VARCHAR(NAME_LENGTH, charset="utf8mb4", collation="utf8mb4_bin"), "mysql", "mariadb"
)


@dataclass(frozen=True)
class Schema:
    """The tables under one name prefix (tests give each run its own prefix)."""

    metadata: MetaData
    channels: Table
    points: Table
    rollup: Table


def make_schema(prefix: str = DEFAULT_PREFIX) -> Schema:
    """The tables named ``{prefix}channels`` and ``{prefix}points``."""
    metadata = MetaData()
    channels = Table(
        f"{prefix}channels",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("node", NAME, nullable=False),
        Column("codename", NAME, nullable=False),
        Column("unit", String(NAME_LENGTH), nullable=False, default=""),
        Column("description", String(1000), nullable=False, default=""),
        UniqueConstraint("node", "codename", name=f"{prefix}channels_node_codename"),
    )
    points = Table(
        f"{prefix}points",
        metadata,
        # No foreign key to channels.id: the recorder writes only ids it read or made in the
        # same transaction, and PostgreSQL's per-row check halved the insert rate (67k -> 121k
        # points/s without it, batches of 5,000).
        Column("channel_id", Integer, primary_key=True, autoincrement=False),
        Column("x", Double, primary_key=True),
        Column("y", Double, nullable=True),
        sqlite_with_rowid=False,  # SQLite keeps the rows in primary-key order: no second index
    )
    rollup = Table(
        f"{prefix}rollup",
        metadata,
        Column("channel_id", Integer, primary_key=True, autoincrement=False),
        Column("width", Integer, primary_key=True, autoincrement=False),
        Column("bucket", BigInteger, primary_key=True, autoincrement=False),
        Column("x_first", Double, nullable=True),
        Column("x_last", Double, nullable=True),
        Column("y_min", Double, nullable=True),
        Column("y_max", Double, nullable=True),
        Column("x_gap", Double, nullable=True),
        sqlite_with_rowid=False,
    )
    return Schema(metadata, channels, points, rollup)
