"""The recorder's edges on SQLite and real files, fast: counts per node, the memory bound, a
database that is not there yet, stopping during an outage, restarts, unreadable spool lines."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
import time

from sqlalchemy import event, text

from labnode.apps.lab_config import StorageSettings
from labnode.storage import Recorder, Spool, list_channels, open_database, read_points

from .test_recorder import wait_for

#: docs/recording.md: "Memory between flushes is bounded too (1,000,000 rows)".
MEMORY_ROWS = 1_000_000


def sqlite_url(path) -> str:
    return f"sqlite:///{path}"


def test_counts_per_node_from_add_many_with_nodes_interleaved(tmp_path):
    database = open_database(sqlite_url(tmp_path / "lab.db"))
    recorder = Recorder(database, tmp_path / "lab.spool", flush_interval=0.05)
    recorder.add_many([("a", "c", 1.0, 1.0), ("a", "c", 2.0, 2.0), ("b", "a", 1.0, 5.0)])
    recorder.add_many([("a", "d", 3.0, 3.0)])
    recorder.add("b", "a", 2.0, None)
    assert {n: c.waiting for n, c in recorder.counts.items()} == {"a": 3, "b": 2}
    assert recorder.health()["database_state"] == "not connected yet"
    recorder.start()
    wait_for(lambda: recorder.counts["b"].stored == 2, what="all stored")
    assert recorder.stop(timeout=5)
    nodes = recorder.health()["nodes"]
    assert nodes["a"] == {"stored": 3, "waiting": 0, "rejected": 0, "dropped": 0}
    assert nodes["b"] == {"stored": 2, "waiting": 0, "rejected": 0, "dropped": 0}
    assert read_points(database, "b", "a") == [(1.0, 5.0), (2.0, None)]
    assert read_points(database, "a", "d") == [(3.0, 3.0)]


def test_memory_holds_at_most_max_pending_points_and_counts_the_rest(tmp_path):
    """While the spool cannot take rows, memory is bounded: the newest rows are dropped, and
    the node they belong to is told."""
    database = open_database(sqlite_url(tmp_path / "lab.db"))
    recorder = Recorder(database, tmp_path / "lab.spool")
    limit = MEMORY_ROWS
    row_a, row_b = ("a", "c", 1.0, 1.0), ("b", "c", 1.0, 1.0)
    recorder.add_many([row_a] * (limit - 2) + [row_b] * 5)  # one object, many times: cheap
    a, b = recorder.counts["a"], recorder.counts["b"]
    assert (a.waiting, a.dropped, b.waiting, b.dropped) == (limit - 2, 0, 2, 3)
    recorder.add("a", "c", 2.0, 2.0)  # full: dropped
    recorder.add_many([row_a])
    assert (a.waiting, a.dropped) == (limit - 2, 2)
    assert recorder.health()["nodes"]["b"] == {
        "stored": 0,
        "waiting": 2,
        "rejected": 0,
        "dropped": 3,
    }
    recorder.spool.close()


def test_add_takes_the_last_place_in_memory(tmp_path):
    database = open_database(sqlite_url(tmp_path / "lab.db"))
    recorder = Recorder(database, tmp_path / "lab.spool")
    limit = MEMORY_ROWS
    recorder.add_many([("a", "c", 1.0, 1.0)] * (limit - 1))
    recorder.add("a", "c", 2.0, 2.0)
    recorder.add("a", "c", 3.0, 3.0)
    assert (recorder.counts["a"].waiting, recorder.counts["a"].dropped) == (limit, 1)
    recorder.spool.close()


def test_a_full_spool_drops_the_newest_rows_and_counts_them_on_their_node(tmp_path):
    database = open_database(sqlite_url(tmp_path / "lab.db"))
    first = [("a", "c", float(x), 1.0) for x in range(1, 1001)]  # one spool line
    line = len(json.dumps(first, separators=(",", ":"))) + 1
    recorder = Recorder(database, tmp_path / "lab.spool", spool_max_bytes=line + 10)
    second = [("b", "c", float(x), 1.0) for x in range(1, 1001)]
    recorder.add_many(first + second + [("c", "c", x, 1.0) for x in (1.0, 2.0, 3.0)])
    recorder.flush()
    a, b, c = recorder.counts["a"], recorder.counts["b"], recorder.counts["c"]
    assert (a.waiting, a.dropped, b.waiting, b.dropped) == (1000, 0, 0, 1000)
    assert (c.waiting, c.dropped) == (0, 3)
    assert "full" in recorder.last_error and "1003 points dropped" in recorder.last_error
    recorder.start()
    assert recorder.stop(timeout=5)
    assert len(read_points(database, "a", "c")) == 1000 and a.stored == 1000
    assert read_points(database, "b", "c") == []


def test_the_writer_stores_batches_of_up_to_5000_rows_in_order(tmp_path):
    """docs/recording.md: "in batches of up to 5000 rows, in order" (rows flushed one at a time
    make spool lines of one row, so the batch is cut at the row, not at a line of 1000)."""
    database = open_database(sqlite_url(tmp_path / "lab.db"), create=True)
    points = database.schema.points.name
    batches: list[int] = []

    def count(_conn, _cursor, statement, parameters, _context, _many):
        if statement.startswith(f"INSERT INTO {points} "):
            batches.append(len(parameters))

    event.listen(database.engine, "before_cursor_execute", count)
    spool_path = tmp_path / "lab.spool"
    rows = [["n", "c", float(x), float(x % 7)] for x in range(1, 5003)]
    spool_path.write_text("".join(json.dumps([row]) + "\n" for row in rows))
    recorder = Recorder(database, spool_path, flush_interval=0.05)
    recorder.start()
    assert recorder.stop(timeout=10)
    assert batches == [5000, 2]
    assert read_points(database, "n", "c") == [(x, y) for _, _, x, y in rows]


def test_the_database_appears_later_and_everything_waiting_reaches_it(tmp_path, caplog):
    """A SQLite file in a folder that does not exist yet (an unmounted share, say): the recorder
    spools, says so once (not at every retry), and writes points and descriptions once the
    folder is there, and says that too."""
    caplog.set_level("INFO", logger="labnode.storage.recorder")
    folder = tmp_path / "share"
    database = open_database(sqlite_url(folder / "lab.db"))
    failures: list[object] = []
    event.listen(database.engine, "handle_error", failures.append)
    recorder = Recorder(database, tmp_path / "lab.spool", flush_interval=0.05)
    recorder.start()
    recorder.add("n", "c", 1.0, 1.0)
    recorder.describe("n", "c", "V", "old")
    wait_for(lambda: recorder.database_state.startswith("unavailable: "), what="unavailable")
    assert "unable to open database file" in recorder.health()["last_error"]
    assert [r.levelname for r in caplog.records] == ["WARNING"]  # at the first failure
    recorder.describe("n", "c", "V", "volts")  # the newest description wins
    recorder.add("n", "c", 2.0, 2.0)
    wait_for(lambda: recorder.spool.pending_bytes > 0, what="spooled")
    wait_for(lambda: len(failures) >= 2, what="a retry")
    folder.mkdir()
    wait_for(lambda: recorder.counts["n"].stored == 2, what="stored once back")
    assert recorder.database_state == "ok"
    said = [(r.levelname, r.getMessage().split(": ")[0]) for r in caplog.records]
    assert said == [
        ("WARNING", f"database {database.display_url} unavailable, spooling"),
        ("INFO", f"database {database.display_url}"),
    ]
    assert recorder.stop(timeout=5)
    assert read_points(database, "n", "c") == [(1.0, 1.0), (2.0, 2.0)]
    [channel] = list_channels(database)
    assert (channel.unit, channel.description) == ("V", "volts")
    assert recorder.spool.pending_bytes == 0


def test_stopping_during_an_outage_keeps_the_rows_for_the_next_start(tmp_path):
    folder = tmp_path / "share"
    database = open_database(sqlite_url(folder / "lab.db"))
    spool_path = tmp_path / "lab.spool"
    recorder = Recorder(database, spool_path, flush_interval=0.05)
    recorder.start()
    for x in range(1, 4):
        recorder.add("n", "c", float(x), float(x))
    wait_for(lambda: "unavailable" in recorder.database_state, what="unavailable")
    started = time.monotonic()
    assert not recorder.stop(timeout=20)  # not everything written ...
    assert time.monotonic() - started < 10  # ... and it did not wait for the whole timeout
    Spool(spool_path).close()  # the writer ended and let go of the spool
    assert recorder.counts["n"].waiting == 3 and recorder.counts["n"].stored == 0

    folder.mkdir()
    again = Recorder(database, spool_path, flush_interval=0.05)
    assert again.counts["n"].waiting == 3
    again.start()
    assert again.stop(timeout=5)
    assert read_points(database, "n", "c") == [(1.0, 1.0), (2.0, 2.0), (3.0, 3.0)]
    assert again.counts["n"].stored == 3 and again.counts["n"].waiting == 0


def test_stop_without_start_puts_the_rows_in_the_spool(tmp_path):
    database = open_database(sqlite_url(tmp_path / "lab.db"))
    spool_path = tmp_path / "lab.spool"
    recorder = Recorder(database, spool_path)
    recorder.add("n", "c", 1.0, 1.0)
    assert not recorder.stop(timeout=1)
    assert recorder.health()["spool_bytes"] == spool_path.stat().st_size > 0
    Spool(spool_path).close()  # closed by stop
    again = Recorder(database, spool_path)
    assert again.counts["n"].waiting == 1
    assert again.stop(timeout=1) is False  # nothing new; the row still waits for a writer
    empty = Recorder(open_database(sqlite_url(tmp_path / "other.db")), tmp_path / "other.spool")
    assert empty.stop(timeout=1)  # nothing was ever added: all written


def test_unreadable_spool_lines_are_skipped_and_the_spool_still_empties(tmp_path):
    database = open_database(sqlite_url(tmp_path / "lab.db"))
    spool_path = tmp_path / "lab.spool"
    spool_path.write_text("not json\n" + json.dumps([["n", "c", 1.0, 1.0]]) + "\n{]\n")
    recorder = Recorder(database, spool_path, flush_interval=0.05)
    recorder.start()
    assert recorder.stop(timeout=5)
    assert read_points(database, "n", "c") == [(1.0, 1.0)]
    assert recorder.spool.bad_lines == 2 and spool_path.stat().st_size == 0

    only_bad = tmp_path / "bad.spool"
    only_bad.write_text("not json\n")
    recorder = Recorder(database, only_bad, flush_interval=0.05)
    recorder.start()
    assert recorder.stop(timeout=5)
    assert only_bad.stat().st_size == 0


def test_health_names_the_database_without_its_password(tmp_path):
    database = open_database("postgresql://labuser:secret@127.0.0.1:1/test")  # never connected
    recorder = Recorder(database, tmp_path / "lab.spool")
    health = recorder.health()
    assert health["database"] == "postgresql+psycopg://labuser:***@127.0.0.1:1/test"
    assert health["spool"] == str(tmp_path / "lab.spool")
    assert (health["spool_bytes"], health["last_error"], health["nodes"]) == (0, None, {})
    recorder.spool.close()


def test_the_flusher_goes_on_after_a_row_it_cannot_write(tmp_path):
    database = open_database(sqlite_url(tmp_path / "lab.db"))
    recorder = Recorder(database, tmp_path / "lab.spool", flush_interval=0.05)
    recorder.start()
    recorder.add("n", "c", 1.0, complex(1, 1))  # type: ignore[arg-type]  # not JSON
    wait_for(lambda: "flushing to the spool failed" in (recorder.last_error or ""), what="said")
    recorder.add("n", "c", 2.0, 2.0)
    wait_for(lambda: recorder.counts["n"].stored == 1, what="the next row stored")
    assert recorder.stop(timeout=5)
    assert read_points(database, "n", "c") == [(2.0, 2.0)]


FULL_DISK = """
import json, logging, resource, signal, sys
from labnode.storage import Recorder, open_database
from labnode.storage import recorder as recorder_module

spool_path, db_path = sys.argv[1], sys.argv[2]
recorder_module.MAX_PENDING = 5
recorder = Recorder(open_database("sqlite:///" + db_path), spool_path)
recorder.add("a", "c", 1.0, 1.0)
recorder.flush()
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
resource.setrlimit(resource.RLIMIT_FSIZE, (recorder.spool.size, resource.RLIM_INFINITY))


class Producer(logging.Handler):
    # rows that arrive while the flush is failing (another thread, at the worst moment)
    def emit(self, record):
        if "cannot write the spool" in record.getMessage() and not recorder.counts.get("b"):
            for x in range(4):
                recorder.add("b", "c", float(x + 1), 1.0)


first = []
for xs in ((2, 3, 4), (5, 6)):
    for x in xs:
        recorder.add("a", "c", float(x), 1.0)
    recorder.flush()  # fails: the rows go back to memory (3 of 5 places, then all 5)
    first.append(vars(recorder.counts["a"]).copy())
logging.getLogger("labnode.storage.recorder").addHandler(Producer())
recorder.flush()  # fails again: the 5 rows back, the 4 new ones behind them: 4 too many
error = recorder.last_error
counts = {n: vars(c).copy() for n, c in recorder.counts.items()}
resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
recorder.flush()
rows, _ = recorder.spool.read(100)
print(json.dumps({"error": error, "first": first, "counts": counts, "rows": rows}))
"""


def test_a_spool_that_cannot_be_written_keeps_the_rows_in_memory(tmp_path):
    """The spool's disk is full (a file size limit, in a child process): rows stay in memory,
    within MAX_PENDING, and reach the spool in order once it takes them again."""
    run = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(FULL_DISK), str(tmp_path / "s"), "x.db"],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert result["error"].startswith("cannot write the spool")
    assert result["first"] == [
        {"stored": 0, "waiting": 4, "rejected": 0, "dropped": 0},
        {"stored": 0, "waiting": 6, "rejected": 0, "dropped": 0},
    ]
    assert result["counts"] == {  # the newest rows are the ones dropped
        "a": {"stored": 0, "waiting": 6, "rejected": 0, "dropped": 0},
        "b": {"stored": 0, "waiting": 0, "rejected": 0, "dropped": 4},
    }
    assert result["rows"] == [["a", "c", float(x), 1.0] for x in range(1, 7)]


def test_the_library_defaults_are_the_lab_file_defaults(tmp_path):
    """Recorder and Spool used from Python buffer like `labnode log` with a lab file that sets
    nothing: a spool of 1024 MB, flushed every second."""
    settings = StorageSettings(database_url=sqlite_url(tmp_path / "lab.db"))
    recorder = Recorder(open_database(settings.database_url), tmp_path / "lab.spool")
    assert recorder.spool.max_bytes == settings.spool_max_bytes == 1024 * 1024 * 1024
    assert recorder.flush_interval == settings.flush_interval
    spool = Spool(tmp_path / "other.spool")
    assert spool.max_bytes == settings.spool_max_bytes
    spool.close()
    recorder.spool.close()


def test_a_database_down_at_the_stop_gets_one_more_try(tmp_path):
    """The rows reach the writer only with the stop's last flush, and the database is down for
    that first try: it tries again after its backoff before leaving the rows in the spool."""
    folder = tmp_path / "share"
    database = open_database(sqlite_url(folder / "lab.db"))
    recorder = Recorder(database, tmp_path / "lab.spool", flush_interval=30)
    recorder.start()
    recorder.add("n", "c", 1.0, 1.0)
    drained: list[bool] = []
    stopping = threading.Thread(target=lambda: drained.append(recorder.stop(timeout=10)))
    stopping.start()
    wait_for(lambda: recorder.database_state.startswith("unavailable"), what="first try failed")
    folder.mkdir()
    stopping.join(15)
    assert drained == [True]
    assert read_points(database, "n", "c") == [(1.0, 1.0)]


def test_the_tables_are_checked_once_not_before_every_batch(tmp_path, caplog):
    caplog.set_level("INFO", logger="labnode.storage.recorder")
    database = open_database(sqlite_url(tmp_path / "lab.db"))
    checks: list[str] = []

    def count(_conn, _cursor, statement, *_):
        if statement.startswith("PRAGMA main.table_info"):
            checks.append(statement)

    event.listen(database.engine, "before_cursor_execute", count)
    recorder = Recorder(database, tmp_path / "lab.spool", flush_interval=0.05)
    recorder.start()
    for x in range(1, 4):
        recorder.add("n", "c", float(x), 1.0)
        wait_for(lambda n=x: recorder.counts["n"].stored == n, what=f"batch {x}")
        if x == 1:
            first = len(checks)
    assert recorder.stop(timeout=5)
    assert first > 0 and len(checks) == first
    # and it says it writes once, at the first batch
    assert [r.getMessage() for r in caplog.records] == [f"database {database.display_url}: writing"]


def test_rows_refused_in_one_batch_are_set_aside_with_their_reasons(tmp_path):
    database = open_database(sqlite_url(tmp_path / "lab.db"), create=True)
    with database.engine.begin() as connection:
        for y in (13, 14):
            connection.execute(
                text(
                    f"CREATE TRIGGER refuse{y} BEFORE INSERT ON labnode_points WHEN NEW.y = {y} "
                    f"BEGIN SELECT RAISE(ABORT, 'no {y}'); END"
                )
            )
    recorder = Recorder(database, tmp_path / "lab.spool", flush_interval=0.05)
    for y in (12.0, 13.0, 14.0, 15.0):
        recorder.add("n", "c", y, y)
    recorder.start()
    assert recorder.stop(timeout=5)
    assert read_points(database, "n", "c") == [(12.0, 12.0), (15.0, 15.0)]
    lines = [json.loads(line) for line in recorder.rejected_path.read_text().splitlines()]
    assert [line["row"] for line in lines] == [["n", "c", 13.0, 13.0], ["n", "c", 14.0, 14.0]]
    assert [line["reason"][-5:] for line in lines] == ["no 13", "no 14"]
    assert recorder.last_error.startswith("2 points refused by the database: ")
    assert recorder.last_error.endswith("no 13")
    counts = recorder.health()["nodes"]["n"]
    assert (counts["stored"], counts["rejected"], counts["waiting"]) == (2, 2, 0)


def test_an_idle_recorder_does_not_spin(tmp_path):
    database = open_database(sqlite_url(tmp_path / "lab.db"))
    recorder = Recorder(database, tmp_path / "lab.spool", flush_interval=0.05)
    recorder.start()
    recorder.add("n", "c", 1.0, 1.0)
    wait_for(lambda: recorder.counts["n"].stored == 1, what="stored")
    cpu = time.process_time()
    time.sleep(1.0)  # measuring what it does when there is nothing to do
    assert time.process_time() - cpu < 0.3
    assert recorder.stop(timeout=5)
