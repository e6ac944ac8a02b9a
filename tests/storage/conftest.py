"""Fixtures: a database URL and table prefix per test, on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import pytest

from labnode.storage import open_database

from .servers import drop_prefixed, new_prefix, server_url


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
def db_target(request, tmp_path):
    """(url, prefix) of an empty place to record into; tables dropped afterwards."""
    prefix = new_prefix()
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'lab.db'}", prefix
        return
    url = server_url(request.param)
    yield url, prefix
    drop_prefixed(url, prefix)


@pytest.fixture
def db(db_target):
    """An open Database with its tables created."""
    url, prefix = db_target
    database = open_database(url, prefix, create=True)
    yield database
    database.close()
