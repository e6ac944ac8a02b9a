"""The recorder through its spool: outages of a real PostgreSQL behind a TCP proxy, restarts,
refused rows, a full spool."""

from __future__ import annotations

import json
import time
from functools import partial

import pytest
from sqlalchemy import create_engine, event, text

from labnode.storage import (
    ChannelInfo,
    Recorder,
    database_url,
    list_channels,
    open_database,
    read_points,
)
from tests import waiting

from .servers import drop_prefixed, new_prefix, server_url
from .tcp_proxy import TCPProxy

#: Outages of the database and their recovery take seconds.
wait_for = partial(waiting.wait_for, timeout=20.0)


def test_rows_reach_the_database_and_the_spool_empties(tmp_path):
    database = open_database(f"sqlite:///{tmp_path / 'lab.db'}")
    recorder = Recorder(database, tmp_path / "lab.spool", flush_interval=0.05)
    recorder.start()
    for i in range(100):
        recorder.add("n", "c", 1.0 + i, float(i))
    recorder.describe("n", "c", "V", "volts")
    wait_for(lambda: recorder.counts["n"].stored == 100, what="100 stored")
    assert recorder.stop(timeout=5)
    assert len(read_points(database, "n", "c")) == 100
    assert (tmp_path / "lab.spool").stat().st_size == 0
    assert recorder.health()["nodes"]["n"] == {
        "stored": 100,
        "waiting": 0,
        "rejected": 0,
        "dropped": 0,
    }


def test_a_spool_left_by_a_crash_is_replayed_without_duplicates(tmp_path):
    url = f"sqlite:///{tmp_path / 'lab.db'}"
    spool = tmp_path / "lab.spool"
    database = open_database(url, create=True)
    database.write_points([("n", "c", 1.0, 1.0), ("n", "c", 2.0, 2.0)])  # stored before the crash
    lines = [
        json.dumps([["n", "c", float(x), float(x)] for x in (1, 2)]),
        json.dumps([["n", "c", 3.0, 3.0], ["n", "c", 4.0, 4.0]]),
    ]
    spool.write_text("\n".join(lines) + '\n["n","c",5.0,')  # and a torn last line
    recorder = Recorder(database, spool, flush_interval=0.05)
    assert recorder.counts["n"].waiting == 4
    recorder.start()
    assert recorder.stop(timeout=5)
    assert read_points(database, "n", "c") == [(1.0, 1.0), (2.0, 2.0), (3.0, 3.0), (4.0, 4.0)]


def test_refused_rows_are_set_aside_and_counted(tmp_path):
    pg = server_url("postgresql")
    prefix = new_prefix()
    try:
        database = open_database(pg, prefix)
        recorder = Recorder(database, tmp_path / "lab.spool", flush_interval=0.05)
        recorder.start()
        recorder.add("n", "c", 1.0, 1.0)
        recorder.add("n", "x" * 300, 2.0, 2.0)  # longer than the column: refused for good
        recorder.add("n", "c", 3.0, 3.0)
        assert recorder.stop(timeout=10)
        assert read_points(database, "n", "c") == [(1.0, 1.0), (3.0, 3.0)]
        assert (recorder.counts["n"].stored, recorder.counts["n"].rejected) == (2, 1)
        [line] = (tmp_path / "lab.spool.rejected").read_text().splitlines()
        assert json.loads(line)["row"][1] == "x" * 300
        assert "refused" in recorder.health()["last_error"]
        database.close()
    finally:
        drop_prefixed(pg, prefix)


PROXIED = {
    "postgresql": (5432, "postgresql://postgres@127.0.0.1:{port}/test"),
    "mysql": (3306, "mysql://root@127.0.0.1:{port}/test"),
}


@pytest.mark.parametrize("kind", ["postgresql", "mysql"])
@pytest.mark.parametrize("outage", ["cut", "stall"])
def test_database_outage_loses_nothing(tmp_path, outage, kind):
    pg = server_url(kind)
    prefix = new_prefix()
    server_port, proxied_url = PROXIED[kind]
    proxy = TCPProxy(("127.0.0.1", server_port))
    try:
        database = open_database(proxied_url.format(port=proxy.port), prefix, create=True)
        recorder = Recorder(database, tmp_path / "lab.spool", flush_interval=0.05)
        recorder.start()
        x = 0
        for phase in ("before", "during", "after"):
            if phase == "during":
                wait_for(lambda n=x: recorder.counts["n"].stored == n, what="stored before")
                stored_before = x
                # taken by the first write in the outage, which fails: kept for the next one
                recorder.describe("n", "c", "V", "volts")
                getattr(proxy, outage)()
            if phase == "after":
                proxy.restore()
            started = time.monotonic()
            while time.monotonic() - started < 1.0:  # adding never blocks on the database
                x += 1
                t0 = time.monotonic()
                recorder.add("n", "c", float(x), float(x))
                # a stalled database would hold an add() for the whole outage (over 1 s); 0.5 s
                # leaves room for a loaded machine (0.05 s failed under load)
                assert time.monotonic() - t0 < 0.5
                time.sleep(0.002)
            if phase == "during":
                wait_for(lambda: recorder.spool.pending_bytes > 0, what="rows spooled")
                if outage == "cut":
                    wait_for(lambda: "unavailable" in recorder.database_state, what="noticed")
                assert recorder.counts["n"].stored == stored_before  # the outage is real
        wait_for(lambda: recorder.counts["n"].stored == x, timeout=30, what="all stored")
        assert recorder.stop(timeout=10)
        stored = read_points(database, "n", "c")
        assert stored == [(float(i), float(i)) for i in range(1, x + 1)]
        assert list_channels(database) == [ChannelInfo("n", "c", "V", "volts")]
        database.close()
    finally:
        proxy.close()
        drop_prefixed(pg, prefix)


def test_a_full_spool_drops_and_counts(tmp_path):
    database = open_database(f"sqlite:///{tmp_path / 'missing-dir' / 'x' / 'lab.db'}")
    recorder = Recorder(database, tmp_path / "lab.spool", spool_max_bytes=200, flush_interval=1)
    for i in range(20):
        recorder.add("n", "c", float(i + 1), 0.0)
    recorder.flush()  # the database cannot be opened (no such folder): rows stay in the spool
    counts = recorder.counts["n"]
    assert counts.dropped > 0 and counts.waiting + counts.dropped == 20
    assert recorder.spool.size <= 200
    assert "full" in recorder.health()["last_error"]
    recorder.stop(timeout=0.1)


def test_a_database_refusing_writes_is_retried_until_it_accepts(tmp_path):
    """A role without CREATE on PostgreSQL: the writer reports it, keeps the rows, and stores
    them once the privilege is granted (no thread dies, nothing is lost)."""
    pg = server_url("postgresql")
    prefix = new_prefix()
    role = f"r{prefix}"[:-1]
    admin = create_engine(database_url(pg), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE ROLE {role} LOGIN"))
    try:
        database = open_database(f"postgresql://{role}@127.0.0.1:5432/test", prefix)
        recorder = Recorder(database, tmp_path / "lab.spool", flush_interval=0.05)
        recorder.start()
        recorder.add("n", "c", 1.0, 1.0)
        wait_for(lambda: "permission denied" in (recorder.last_error or ""), what="refusal seen")
        recorder.add("n", "c", 2.0, 2.0)
        with admin.connect() as connection:
            connection.execute(text(f"GRANT CREATE ON SCHEMA public TO {role}"))
        wait_for(lambda: recorder.counts["n"].stored == 2, timeout=30, what="stored after grant")
        assert recorder.stop(timeout=10)
        assert read_points(database, "n", "c") == [(1.0, 1.0), (2.0, 2.0)]
        database.close()
    finally:
        drop_prefixed(pg, prefix)
        with admin.connect() as connection:
            connection.execute(text(f"DROP OWNED BY {role}"))
            connection.execute(text(f"DROP ROLE {role}"))
        admin.dispose()


def test_refused_rows_that_cannot_be_set_aside_do_not_hold_up_the_rest(tmp_path):
    database = open_database(f"sqlite:///{tmp_path / 'lab.db'}", create=True)
    with database.engine.begin() as connection:
        connection.execute(
            text(
                "CREATE TRIGGER refuse BEFORE INSERT ON labnode_points WHEN NEW.y = 13 "
                "BEGIN SELECT RAISE(ABORT, 'unlucky'); END"
            )
        )
    recorder = Recorder(database, tmp_path / "lab.spool", flush_interval=0.05)
    recorder.rejected_path.mkdir()  # cannot be written as a file
    recorder.start()
    for y in (12.0, 13.0, 14.0):
        recorder.add("n", "c", y, y)
    assert recorder.stop(timeout=5)
    assert read_points(database, "n", "c") == [(12.0, 12.0), (14.0, 14.0)]
    assert recorder.counts["n"].rejected == 1
    assert "cannot write" in recorder.last_error


def test_a_refused_description_does_not_hold_up_the_points(tmp_path):
    pg = server_url("postgresql")
    prefix = new_prefix()
    try:
        database = open_database(pg, prefix)
        recorder = Recorder(database, tmp_path / "lab.spool", flush_interval=0.05)
        recorder.start()
        recorder.describe("n", "c", "V", "d" * 2000)  # longer than the column: refused for good
        recorder.add("n", "c", 1.0, 1.0)
        wait_for(lambda: recorder.counts["n"].stored == 1, what="the point stored")
        assert recorder.stop(timeout=10)
        assert read_points(database, "n", "c") == [(1.0, 1.0)]
        assert "channel descriptions refused" in recorder.last_error
        database.close()
    finally:
        drop_prefixed(pg, prefix)


def test_stop_keeps_to_its_timeout_while_the_database_hangs(tmp_path):
    """SIGTERM with a hung database: stop() returns within its timeout, says not everything
    was written, and the writer finishes the job when the database answers again."""
    pg = server_url("postgresql")
    prefix = new_prefix()
    proxy = TCPProxy(("127.0.0.1", 5432))
    try:
        database = open_database(PROXIED["postgresql"][1].format(port=proxy.port), prefix)
        recorder = Recorder(database, tmp_path / "lab.spool", flush_interval=0.05)
        recorder.start()
        recorder.add("n", "c", 1.0, 1.0)
        wait_for(lambda: recorder.counts["n"].stored == 1, what="first stored")
        proxy.stall()
        recorder.add("n", "c", 2.0, 2.0)
        wait_for(lambda: recorder.spool.pending_bytes > 0, what="spooled")
        started = time.monotonic()
        assert not recorder.stop(timeout=0.1)
        assert time.monotonic() - started < 1.0  # the writer, hung, is not waited for
        proxy.restore()
        wait_for(lambda: recorder.counts["n"].stored == 2, what="stored once it answers")
        assert read_points(database, "n", "c") == [(1.0, 1.0), (2.0, 2.0)]
        database.close()
    finally:
        proxy.close()
        drop_prefixed(pg, prefix)


def test_the_writer_backs_off_half_a_second_then_doubling(tmp_path):
    """docs/recording.md: retries "with backoff (0.5 s up to 5 s)", for a database that is away
    (a folder not there) and for one that refuses (a file that is no database) alike."""
    (tmp_path / "junk.db").write_bytes(b"this is no database" * 100)
    recorders, errors = [], []
    for name in ("share/lab.db", "junk.db"):
        database = open_database(f"sqlite:///{tmp_path / name}")
        times: list[float] = []
        event.listen(database.engine, "handle_error", lambda _, t=times: t.append(time.monotonic()))
        recorder = Recorder(database, tmp_path / f"{len(errors)}.spool", flush_interval=0.05)
        recorder.start()
        recorder.add("n", "c", 1.0, 1.0)
        recorders.append(recorder)
        errors.append(times)
    for times in errors:
        wait_for(lambda t=times: len(t) >= 4, timeout=15, what="four tries")
    for recorder in recorders:
        assert not recorder.stop(timeout=0.1)
    for times in errors:
        gaps = [b - a for a, b in zip(times, times[1:4])]
        assert all(e - 0.05 < g < e + 0.5 for g, e in zip(gaps, (0.5, 1.0, 2.0))), gaps
