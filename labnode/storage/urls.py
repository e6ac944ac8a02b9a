"""Database URLs: which ones labnode accepts, and the driver each one uses."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from .errors import DatabaseURLError

#: The database kinds labnode records into, and the Python driver (DBAPI) it uses for each.
DRIVERS = {"sqlite": "pysqlite", "postgresql": "psycopg", "mysql": "pymysql", "mariadb": "pymysql"}
#: The pip extra that installs each driver.
EXTRAS = {
    "postgresql": "labnode[postgresql]",
    "mysql": "labnode[mysql]",
    "mariadb": "labnode[mysql]",
}

ACCEPTED = (
    '"sqlite:///lab.db", "postgresql://user@host/db" or "mysql://user@host/db" (mariadb:// too)'
)


def database_url(text: str, base_dir: str | Path | None = None) -> URL:
    """Parse and check ``text``; pick labnode's driver; make a relative SQLite path absolute.

    A relative SQLite file is taken relative to ``base_dir`` (the lab file's folder) when given.
    Raises :class:`DatabaseURLError` with a one-line reason.
    """
    try:
        url = make_url(text)
    except ArgumentError:
        raise DatabaseURLError(f"{text!r} is not a database URL; write {ACCEPTED}") from None
    backend = url.get_backend_name()
    if backend not in DRIVERS:
        raise DatabaseURLError(
            f"{backend!r} databases are not supported; write {ACCEPTED}"
        ) from None
    driver = url.get_driver_name()
    if "+" not in url.drivername:
        url = url.set(drivername=f"{backend}+{DRIVERS[backend]}")
    elif driver != DRIVERS[backend]:
        raise DatabaseURLError(
            f"{text!r}: labnode uses the {DRIVERS[backend]} driver for {backend}; write "
            f"{backend}://... without +{driver}"
        )
    if backend == "sqlite":
        database = url.database or ""
        if not database or database == ":memory:":
            raise DatabaseURLError(
                f"{text!r}: give SQLite a file to keep the data in, e.g. sqlite:///lab.db"
            )
        if base_dir is not None and not Path(database).is_absolute():
            url = url.set(database=str(Path(base_dir) / database))
    return url


def check_driver(url: URL) -> None:
    """Raise DatabaseURLError naming the pip extra when the URL's driver is not installed."""
    try:
        url.get_dialect().import_dbapi()
    except ImportError:
        backend = url.get_backend_name()
        raise DatabaseURLError(
            f"the {DRIVERS[backend]} driver for {backend} is not installed; "
            f"pip install '{EXTRAS.get(backend, 'labnode')}'"
        ) from None
