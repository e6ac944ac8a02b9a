"""Real database servers for tests: PostgreSQL and MariaDB on 127.0.0.1, or a clear skip.

A test that needs a server skips when none answers, except when LABNODE_REQUIRE_SERVERS=1 (set by
.ci/run), where it fails instead. Each test gets its own table prefix, so tests run in parallel.
"""

from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy import create_engine, inspect, text

from labnode.storage import database_url

SERVERS = {
    "postgresql": "postgresql://postgres@127.0.0.1:5432/test",
    "mysql": "mysql://root@127.0.0.1:3306/test",
}


def require_servers() -> bool:
    """True when a missing server must fail the test run (CI)."""
    return os.environ.get("LABNODE_REQUIRE_SERVERS") == "1"


def server_url(kind: str) -> str:
    """The URL of a reachable server of ``kind``, or skip (fail under LABNODE_REQUIRE_SERVERS)."""
    url = os.environ.get(f"LABNODE_TEST_{kind.upper()}_URL", SERVERS[kind])
    engine = create_engine(database_url(url), connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as error:  # any reason the server is not usable
        reason = f"{kind} server at {url} not reachable ({type(error).__name__}); "
        if require_servers():
            pytest.fail(reason + "LABNODE_REQUIRE_SERVERS=1 needs it")
        pytest.skip(reason + "set LABNODE_REQUIRE_SERVERS=1 to make this fail")
    finally:
        engine.dispose()
    return url


def new_prefix() -> str:
    """A table prefix of this test's own."""
    return f"t{uuid.uuid4().hex[:10]}_"


def drop_prefixed(url: str, prefix: str) -> None:
    """Drop every table whose name starts with ``prefix`` (points first: it refers to channels)."""
    engine = create_engine(database_url(url))
    try:
        with engine.begin() as connection:
            names = [n for n in inspect(connection).get_table_names() if n.startswith(prefix)]
            for name in sorted(names, key=lambda n: not n.endswith("points")):
                connection.execute(text(f"DROP TABLE {name}"))
    finally:
        engine.dispose()
