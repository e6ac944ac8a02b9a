"""Points per second stored: labnode's batched writes vs one INSERT + COMMIT per point.

Run: python bench/bench_storage.py [--points 200000] [--baseline-seconds 3]
                                  [--backends sqlite,postgresql,mysql]

Per backend, in the same run and into the same schema (a fresh table prefix each time):
- baseline: one INSERT and one COMMIT per point through the raw driver connection, which is what
  PyExpLabSys's saver does (its fastest possible form: no reconnects, no Python queue);
- batched: Database.write_points() in batches of 5000 (what the recorder's writer does);
- recorder: Recorder.add() for every point, timed until the last one is in the database (memory
  -> fsynced spool file -> database), i.e. the whole path of `labnode log`.
Goals: batched >= 50x the baseline, and >= 100,000 points/s into SQLite.
Then one channel holding a year of points is read whole and thinned to 1000 points (what a plot
asks), both timed, for the web dashboard's history plots.
PostgreSQL (127.0.0.1:5432, db test) and MariaDB (127.0.0.1:3306, db test) are skipped, with a
line saying so, when they do not answer.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, inspect, text

from labnode.storage import (
    Recorder,
    database_url,
    open_database,
    read_points,
    read_points_thinned,
)

SERVERS = {
    "postgresql": "postgresql://postgres@127.0.0.1:5432/test",
    "mysql": "mysql://root@127.0.0.1:3306/test",
}
GOAL_RATIO = 50
GOAL_SQLITE = 100_000
CHANNELS = 10


def rows(count: int, start: float = 1.7e9):
    """``count`` points over 10 channels of one node, one per 0.1 s per channel."""
    return [
        ("bench", f"c{i % CHANNELS}", start + (i // CHANNELS) * 0.1, float(i)) for i in range(count)
    ]


def baseline_rate(url: str, prefix: str, seconds: float) -> tuple[int, float]:
    """Points/s with one INSERT and one COMMIT per point (raw DBAPI connection)."""
    database = open_database(url, prefix, create=True)
    database.write_points(rows(CHANNELS))  # the channels exist, ids 1..10 (as a saver's would)
    with database.engine.connect() as connection:
        ids = dict(
            connection.execute(
                text(f"SELECT codename, id FROM {prefix}channels WHERE node = 'bench'")
            ).all()
        )
    paramstyle = database.engine.dialect.paramstyle
    marker = "?" if paramstyle == "qmark" else "%s"
    sql = f"INSERT INTO {prefix}points (channel_id, x, y) VALUES ({marker}, {marker}, {marker})"
    raw = database.engine.raw_connection()
    count = 0
    try:
        cursor = raw.cursor()
        data = rows(10_000_000, start=1.8e9)
        start = time.perf_counter()
        deadline = start + seconds
        while time.perf_counter() < deadline:
            _, codename, x, y = data[count]
            cursor.execute(sql, (ids[codename], x, y))
            raw.commit()
            count += 1
        elapsed = time.perf_counter() - start
    finally:
        raw.close()
        database.close()
    return count, count / elapsed


def batched_rate(url: str, prefix: str, points: int) -> tuple[int, float]:
    """Points/s with Database.write_points in batches of 5000."""
    database = open_database(url, prefix, create=True)
    data = rows(points, start=1.9e9)
    database.write_points(data[:CHANNELS])  # channels known, as in a running recorder
    start = time.perf_counter()
    for first in range(CHANNELS, points, 5000):
        result = database.write_points(data[first : first + 5000])
        assert not result.rejected
    elapsed = time.perf_counter() - start
    database.close()
    return points - CHANNELS, (points - CHANNELS) / elapsed


def recorder_rate(url: str, prefix: str, points: int, spool: Path) -> tuple[int, float]:
    """Points/s from Recorder.add() until all are in the database (spool included)."""
    database = open_database(url, prefix, create=True)
    recorder = Recorder(database, spool, flush_interval=0.2)
    recorder.start()
    data = rows(points, start=2.0e9)
    start = time.perf_counter()
    add = recorder.add
    for row in data:
        add(*row)
    while recorder.counts["bench"].stored < points:
        time.sleep(0.005)
    elapsed = time.perf_counter() - start
    recorder.stop()
    database.close()
    return points, points / elapsed


def thinned_read(url: str, prefix: str, points: int) -> tuple[float, float, int]:
    """Seconds to read one channel of ``points`` points whole, and thinned to 1000 points."""
    database = open_database(url, prefix, create=True)
    year = 365 * 86400
    step = year / points  # one year of data, evenly spread
    data = [("bench", "year", 1.7e9 + i * step, float(i % 1000)) for i in range(points)]
    for first in range(0, points, 20000):
        database.write_points(data[first : first + 20000])
    start = time.perf_counter()
    whole = read_points(database, "bench", "year")
    full = time.perf_counter() - start
    start = time.perf_counter()
    thinned = read_points_thinned(database, "bench", "year", max_points=1000)
    thin = time.perf_counter() - start
    assert len(whole) == points
    database.close()
    return full, thin, len(thinned)


def drop(url: str, prefix: str) -> None:
    engine = create_engine(database_url(url))
    with engine.begin() as connection:
        for name in sorted(
            (n for n in inspect(connection).get_table_names() if n.startswith(prefix)),
            key=lambda n: not n.endswith("points"),
        ):
            connection.execute(text(f"DROP TABLE {name}"))
    engine.dispose()


def reachable(url: str) -> str | None:
    engine = create_engine(database_url(url), connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return None
    except Exception as error:
        return f"{type(error).__name__}"
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=200_000)
    parser.add_argument("--baseline-seconds", type=float, default=3.0)
    parser.add_argument("--backends", default="sqlite,postgresql,mysql")
    parser.add_argument(
        "--year-points",
        type=int,
        default=1_000_000,
        help="points of the thinned-read test (0: skip)",
    )
    args = parser.parse_args()
    print(f"{'backend':<11} {'method':<28} {'points':>8} {'points/s':>10} {'vs baseline':>12}")
    with tempfile.TemporaryDirectory() as folder:
        for backend in args.backends.split(","):
            url = f"sqlite:///{folder}/bench.db" if backend == "sqlite" else SERVERS[backend]
            problem = None if backend == "sqlite" else reachable(url)
            if problem:
                print(f"{backend:<11} skipped: no server at {url} ({problem})")
                continue
            prefix = f"b{uuid.uuid4().hex[:8]}_"
            try:
                n0, base = baseline_rate(url, prefix + "a_", args.baseline_seconds)
                n1, batched = batched_rate(url, prefix + "b_", args.points)
                n2, recorded = recorder_rate(
                    url, prefix + "c_", args.points, Path(folder) / f"{backend}.spool"
                )
            finally:
                if backend != "sqlite":
                    for part in ("a_", "b_", "c_"):
                        drop(url, prefix + part)
            print(
                f"{backend:<11} {'INSERT+COMMIT per point':<28} {n0:>8} {base:>10,.0f} {1:>11.1f}x"
            )
            print(
                f"{backend:<11} {'batched write_points':<28} {n1:>8} {batched:>10,.0f} "
                f"{batched / base:>11.1f}x"
            )
            print(
                f"{backend:<11} {'Recorder (spool + database)':<28} {n2:>8} {recorded:>10,.0f} "
                f"{recorded / base:>11.1f}x"
            )
            met = "met" if batched >= GOAL_RATIO * base else "NOT met"
            goal = f"goal batched >= {GOAL_RATIO}x baseline: {met}"
            if backend == "sqlite":
                goal += (
                    f"; goal >= {GOAL_SQLITE:,} points/s: "
                    f"{'met' if batched >= GOAL_SQLITE else 'NOT met'}"
                )
            print(f"{'':<11} {goal}")
            if args.year_points:
                try:
                    full, thin, count = thinned_read(url, prefix + "d_", args.year_points)
                finally:
                    if backend != "sqlite":
                        drop(url, prefix + "d_")
                print(
                    f"{'':<11} one channel, {args.year_points:,} points over a year: read whole "
                    f"{full:.2f} s; read_points_thinned(max_points=1000) {thin:.3f} s "
                    f"({count} points, {full / thin:.0f}x faster)"
                )


if __name__ == "__main__":
    main()
