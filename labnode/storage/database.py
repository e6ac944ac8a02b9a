"""Database: one SQLAlchemy engine behind a URL, with batched, duplicate-proof point writes."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, case, create_engine, event, select, text, tuple_, update
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from .errors import DatabaseUnavailable, StorageError
from .schema import DEFAULT_PREFIX, ROLLUP_WIDTHS, Schema, make_schema
from .urls import check_driver, database_url

log = logging.getLogger(__name__)

#: A row to store: (node, codename, x, y); y None is a gap marker.
Row = tuple[str, str, float, "float | None"]
ChannelKey = tuple[str, str]
#: Seconds to wait for a connection to the database server before counting it as down.
CONNECT_TIMEOUT = 5
#: Errors after which the same write may succeed later: the server is away, busy or locked.
TRANSIENT = (OperationalError, InterfaceError, DisconnectionError, PoolTimeoutError)


class ChannelNameClash(StorageError):
    """The database compares a channel's (node, codename) equal to another recorded channel's
    (its collation: case, accents or trailing spaces), so it cannot be stored as a channel apart."""


@dataclass
class WriteResult:
    """What one write did: rows sent (stored, or already there), and rows the database refused."""

    written: int = 0
    rejected: list[tuple[Row, str]] = field(default_factory=list)


def _engine_options(url: URL) -> dict[str, Any]:
    backend = url.get_backend_name()
    if backend == "sqlite":
        return {"connect_args": {"timeout": 30}}
    if backend == "postgresql":
        return {"connect_args": {"connect_timeout": CONNECT_TIMEOUT}, "pool_pre_ping": True}
    return {
        "connect_args": {"connect_timeout": CONNECT_TIMEOUT},
        "pool_pre_ping": True,
        "pool_recycle": 3600,
    }


def _sqlite_wal(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the recorder
    # FULL: each commit is on disk before the spool lets go of its rows (NORMAL could lose the
    # last commits at a power cut); one fsync per batch of thousands of points costs little.
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.close()


class Database:
    """The recorder's database: channels, points, and writes that never duplicate a point."""

    def __init__(self, url: str | URL, prefix: str = DEFAULT_PREFIX) -> None:
        self.url = database_url(url) if isinstance(url, str) else url
        check_driver(self.url)
        self.backend = self.url.get_backend_name()
        self.schema: Schema = make_schema(prefix)
        self.engine = create_engine(self.url, **_engine_options(self.url))
        if self.backend == "sqlite":
            event.listen(self.engine, "connect", _sqlite_wal)
        self._channel_ids: dict[ChannelKey, int] = {}
        self._insert_channels = self._insert_ignore(self.schema.channels, ("node", "codename"))
        self._upsert_rollup = self._rollup_statement()
        points = self.schema.points.name
        if self.backend == "postgresql":
            self._unnest_points = text(
                f"INSERT INTO {points} (channel_id, x, y) SELECT * FROM unnest("
                "CAST(:ids AS integer[]), CAST(:xs AS double precision[]), "
                "CAST(:ys AS double precision[])) ON CONFLICT DO NOTHING"
            )
        mark = "?" if self.engine.dialect.paramstyle == "qmark" else "%s"
        values = f"INSERT INTO {points} (channel_id, x, y) VALUES ({mark}, {mark}, {mark})"
        self._insert_points_sql = (
            f"{values} ON DUPLICATE KEY UPDATE x = x"
            if self.backend in ("mysql", "mariadb")
            else f"{values} ON CONFLICT DO NOTHING"
        )

    def _insert_ignore(self, table: Any, key: tuple[str, str]) -> Any:
        """INSERT that skips a row whose key is already there, in the dialect's own words."""
        if self.backend == "sqlite":
            return sqlite.insert(table).on_conflict_do_nothing(index_elements=list(key))
        if self.backend == "postgresql":
            return postgresql.insert(table).on_conflict_do_nothing(index_elements=list(key))
        # MySQL/MariaDB: not INSERT IGNORE, which would also turn bad values into warnings.
        statement = mysql.insert(table)
        return statement.on_duplicate_key_update({key[0]: statement.inserted[key[0]]})

    def _rollup_statement(self) -> Any:
        """INSERT a rollup row, or merge it into the one there (idempotent: replays are no-ops)."""
        rollup = self.schema.rollup
        if self.backend in ("sqlite", "postgresql"):
            dialect = sqlite if self.backend == "sqlite" else postgresql
            statement = dialect.insert(rollup)
            new = statement.excluded
        else:
            statement = mysql.insert(rollup)
            new = statement.inserted
        merged = {
            "x_first": _least(rollup.c.x_first, new.x_first),
            "x_last": _greatest(rollup.c.x_last, new.x_last),
            "y_min": _least(rollup.c.y_min, new.y_min),
            "y_max": _greatest(rollup.c.y_max, new.y_max),
            "x_gap": _least(rollup.c.x_gap, new.x_gap),
        }
        if self.backend in ("sqlite", "postgresql"):
            return statement.on_conflict_do_update(
                index_elements=["channel_id", "width", "bucket"], set_=merged
            )
        return statement.on_duplicate_key_update(merged)

    @property
    def display_url(self) -> str:
        """The URL without its password, for messages."""
        return self.url.render_as_string(hide_password=True)

    # -- schema ---------------------------------------------------------------------------------
    def create(self) -> None:
        """Create the tables if they are missing (safe to call every time)."""
        try:
            self.schema.metadata.create_all(self.engine, checkfirst=True)
        except TRANSIENT as error:
            raise DatabaseUnavailable(self._reason(error)) from None

    def exists(self) -> bool:
        """True when the tables are there (a reader's check before querying)."""
        if self.backend == "sqlite" and not Path(self.url.database or "").exists():
            return False
        try:
            with self.engine.connect() as connection:
                return self.engine.dialect.has_table(connection, self.schema.points.name)
        except TRANSIENT as error:
            raise DatabaseUnavailable(self._reason(error)) from None

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- writing --------------------------------------------------------------------------------
    def write_points(self, rows: Sequence[Row]) -> WriteResult:
        """Store ``rows`` in one transaction; rows already stored are skipped, never doubled.

        Raises :class:`DatabaseUnavailable` when the database is away (retry later: nothing was
        written). A batch the database refuses is split until the refused rows are found; they
        come back in ``rejected`` with the reason and everything else is stored.
        """
        if not rows:
            return WriteResult()
        try:
            self._write(rows)
            return WriteResult(written=len(rows))
        except (DBAPIError, ChannelNameClash):
            pass
        self.create()  # a dropped table is recreated rather than every row refused
        return self._write_or_split(rows)

    def _write_or_split(self, rows: Sequence[Row]) -> WriteResult:
        """Write ``rows``; if refused, split them in halves until the refused rows are alone."""
        try:
            self._write(rows)
            return WriteResult(written=len(rows))
        except (DBAPIError, ChannelNameClash) as error:
            if len(rows) == 1:
                return WriteResult(rejected=[(rows[0], self._reason(error))])
        result = WriteResult()
        middle = len(rows) // 2
        for half in (rows[:middle], rows[middle:]):
            part = self._write_or_split(half)
            result.written += part.written
            result.rejected.extend(part.rejected)
        return result

    def _write(self, rows: Sequence[Row]) -> None:
        try:
            with self.engine.begin() as connection:
                keys = {(node, codename) for node, codename, _, _ in rows}
                ids = self._ids(connection, keys)
                if not keys <= ids.keys():
                    raise ChannelNameClash(
                        "the database compares these channels' names equal to other recorded "
                        f"ones and cannot keep them apart: {sorted(keys - ids.keys())}"
                    )
                values = [(ids[n, c], x, y) for n, c, x, y in rows]
                self._insert_rows(connection, values)
                connection.execute(self._upsert_rollup, _rollup_rows(values))
        except TRANSIENT as error:
            self._channel_ids.clear()  # a rolled back channel insert must not stay cached
            if _missing_table(error):
                raise  # SQLite says so with an OperationalError; creating the table fixes it
            raise DatabaseUnavailable(self._reason(error)) from None
        except (DBAPIError, ChannelNameClash):
            self._channel_ids.clear()
            raise

    def _insert_rows(self, connection: Connection, values: list[tuple[int, float, Any]]) -> None:
        """INSERT (channel_id, x, y) rows, skipping ones already stored, the fastest way per
        dialect: PostgreSQL takes three arrays in one statement; the SQLite and MySQL drivers
        get one executemany (PyMySQL turns it into multi-row INSERTs)."""
        if self.backend == "postgresql":
            ids, xs, ys = zip(*values)
            connection.execute(
                self._unnest_points, {"ids": list(ids), "xs": list(xs), "ys": list(ys)}
            )
        else:
            connection.exec_driver_sql(self._insert_points_sql, values)

    def _ids(
        self, connection: Connection, keys: set[tuple[str, str]]
    ) -> dict[tuple[str, str], int]:
        """Channel ids for (node, codename) keys, adding the channels not yet in the table."""
        known = self._channel_ids
        missing = [key for key in keys if key not in known]
        if missing:
            channels = self.schema.channels
            connection.execute(
                self._insert_channels,
                [{"node": n, "codename": c, "unit": "", "description": ""} for n, c in missing],
            )
            for start in range(0, len(missing), 500):
                chunk = missing[start : start + 500]
                query = select(channels.c.node, channels.c.codename, channels.c.id).where(
                    tuple_(channels.c.node, channels.c.codename).in_(chunk)
                )
                for node, codename, channel_id in connection.execute(query):
                    known[node, codename] = channel_id
        return known

    def describe_channels(self, info: Iterable[tuple[str, str, str, str]]) -> None:
        """Set (node, codename, unit, description) of channels, adding the ones not there."""
        info = list(info)
        if not info:
            return
        channels = self.schema.channels
        try:
            with self.engine.begin() as connection:
                self._ids(connection, {(n, c) for n, c, _, _ in info})
                for node, codename, unit, description in info:
                    connection.execute(
                        update(channels)
                        .where(channels.c.node == node, channels.c.codename == codename)
                        .values(unit=unit, description=description)
                    )
        except TRANSIENT as error:
            self._channel_ids.clear()
            raise DatabaseUnavailable(self._reason(error)) from None
        except DBAPIError as error:
            self._channel_ids.clear()
            raise StorageError(f"channel descriptions refused: {self._reason(error)}") from None

    def _reason(self, error: Exception) -> str:
        """One line: the database's own complaint, without SQL or parameters."""
        original = getattr(error, "orig", None) or error
        text = " ".join(str(original).split())
        return f"{self.backend}: {type(original).__name__}: {text[:300]}"


def _missing_table(error: Exception) -> bool:
    """True for SQLite's "no such table" (an OperationalError, but no outage)."""
    return isinstance(error, OperationalError) and "no such table" in str(error)


def _least(old: Any, new: Any) -> Any:
    """The smaller of two nullable columns (NULL only when both are)."""
    return case((old.is_(None), new), (new.is_(None), old), (new < old, new), else_=old)


def _greatest(old: Any, new: Any) -> Any:
    """The larger of two nullable columns (NULL only when both are)."""
    return case((old.is_(None), new), (new.is_(None), old), (new > old, new), else_=old)


def _rollup_rows(values: Sequence[tuple[int, float, Any]]) -> list[dict[str, Any]]:
    """The rollup rows of (channel_id, x, y) values, one per channel, width and bucket."""
    buckets: dict[tuple[int, int, int], list[Any]] = {}
    floor = math.floor
    for channel_id, x, y in values:
        for width in ROLLUP_WIDTHS:
            key = (channel_id, width, floor(x / width))
            row = buckets.get(key)
            if row is None:
                row = buckets[key] = [None, None, None, None, None]
            if y is None:
                if row[4] is None or x < row[4]:
                    row[4] = x
                continue
            if row[0] is None or x < row[0]:
                row[0] = x
            if row[1] is None or x > row[1]:
                row[1] = x
            if row[2] is None or y < row[2]:
                row[2] = y
            if row[3] is None or y > row[3]:
                row[3] = y
    return [
        {
            "channel_id": channel_id,
            "width": width,
            "bucket": bucket,
            "x_first": row[0],
            "x_last": row[1],
            "y_min": row[2],
            "y_max": row[3],
            "x_gap": row[4],
        }
        for (channel_id, width, bucket), row in buckets.items()
    ]


def open_database(url: str | URL, prefix: str = DEFAULT_PREFIX, create: bool = False) -> Database:
    """Open the database at ``url``; ``create=True`` also creates the tables if missing."""
    database = Database(url, prefix)
    if create:
        database.create()
    return database
