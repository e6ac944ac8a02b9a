"""The tables: one row per channel (node, codename, unit, description), one per stored point.

``{prefix}channels(id, node, codename, unit, description)``, unique on (node, codename).
``{prefix}points(channel_id, x, y)``: x is the node's Unix timestamp in seconds, y the value, or
NULL for a gap marker. The primary key (channel_id, x) is both the index for time-range queries
of one channel and the unique key that makes a replayed point a no-op instead of a duplicate.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import (
    Column,
    Double,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
)

#: The longest node name and codename stored (a longer one is rejected by the database).
NAME_LENGTH = 200
DEFAULT_PREFIX = "labnode_"


@dataclass(frozen=True)
class Schema:
    """The two tables under one name prefix (tests give each run its own prefix)."""

    metadata: MetaData
    channels: Table
    points: Table


def make_schema(prefix: str = DEFAULT_PREFIX) -> Schema:
    """The tables named ``{prefix}channels`` and ``{prefix}points``."""
    metadata = MetaData()
    channels = Table(
        f"{prefix}channels",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("node", String(NAME_LENGTH), nullable=False),
        Column("codename", String(NAME_LENGTH), nullable=False),
        Column("unit", String(NAME_LENGTH), nullable=False, default=""),
        Column("description", String(1000), nullable=False, default=""),
        UniqueConstraint("node", "codename", name=f"{prefix}channels_node_codename"),
    )
    points = Table(
        f"{prefix}points",
        metadata,
        Column(
            "channel_id",
            Integer,
            ForeignKey(channels.c.id, name=f"{prefix}points_channel"),
            primary_key=True,
            autoincrement=False,
        ),
        Column("x", Double, primary_key=True),
        Column("y", Double, nullable=True),
        sqlite_with_rowid=False,  # SQLite keeps the rows in primary-key order: no second index
    )
    return Schema(metadata, channels, points)
