"""History from the lab's database (what `labnode log` recorded), thinned in the database."""

from __future__ import annotations

import threading
import time

from labnode.storage import (
    DEFAULT_PREFIX,
    Database,
    DatabaseUnavailable,
    StorageError,
    list_channels,
    open_reader,
    read_points_thinned,
)

from .history import HistoryPoint, HistoryUnavailable, NotRecorded

#: Seconds the list of recorded channels is reused before asking the database again.
CHANNELS_TTL = 10.0


class DatabaseHistory:
    """A :class:`~labnode.apps.web.history.HistorySource` over a recorded lab database."""

    kind = "database"

    def __init__(self, url: str, prefix: str = DEFAULT_PREFIX) -> None:
        self.url = url
        self.prefix = prefix
        self._lock = threading.Lock()
        self._database: Database | None = None
        self._channels: dict[tuple[str, str], tuple[str, str]] = {}
        self._channels_at = -CHANNELS_TTL

    def _open(self) -> Database:
        with self._lock:
            if self._database is None:
                try:
                    self._database = open_reader(self.url, self.prefix)
                except DatabaseUnavailable as error:
                    raise HistoryUnavailable(str(error)) from None
                except StorageError as error:
                    raise NotRecorded(str(error)) from None
            return self._database

    def channels(self) -> dict[tuple[str, str], tuple[str, str]]:
        """``{(node, codename): (unit, description)}`` of every recorded channel (cached)."""
        now = time.monotonic()
        if now - self._channels_at > CHANNELS_TTL:
            database = self._open()
            try:
                found = list_channels(database)
            except Exception as error:  # SQLAlchemy's errors: the server is down or refuses
                raise HistoryUnavailable(f"cannot read {database.display_url}: {error}") from None
            self._channels = {(c.node, c.codename): (c.unit, c.description) for c in found}
            self._channels_at = now
        return self._channels

    def read(
        self, node: str, codename: str, start: float, end: float, max_points: int
    ) -> list[HistoryPoint]:
        """The channel's recorded points in [start, end], thinned in SQL to about max_points."""
        if (node, codename) not in self.channels():
            raise NotRecorded(f"{node!r} {codename!r} is not recorded in the database")
        database = self._open()
        try:
            return read_points_thinned(database, node, codename, start, end, max(4, max_points))
        except Exception as error:
            raise HistoryUnavailable(f"cannot read {database.display_url}: {error}") from None

    def close(self) -> None:
        with self._lock:
            if self._database is not None:
                self._database.close()
                self._database = None
