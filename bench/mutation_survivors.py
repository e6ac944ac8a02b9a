"""Print a cosmic-ray session's score and every surviving mutant as one line: where, what, how.

Usage: python3 bench/mutation_survivors.py bench/build/mutation/NAME.sqlite

Reads the session database that ``cosmic-ray exec`` fills (tables mutation_specs, work_results).
"""

from __future__ import annotations

import signal
import sqlite3
import sys


def main(path: str) -> int:
    db = sqlite3.connect(path)
    rows = db.execute(
        "SELECT s.start_pos_row, s.operator_name, r.worker_outcome, lower(r.test_outcome), r.diff "
        "FROM mutation_specs s LEFT JOIN work_results r ON r.job_id = s.job_id "
        "ORDER BY s.start_pos_row, s.start_pos_col, s.operator_name"
    ).fetchall()
    done = [row for row in rows if row[2] is not None]
    skipped = sum(1 for row in done if row[2] == "SKIPPED")
    unsampled = sum(1 for row in done if row[2] == "NO_TEST")
    killed = sum(1 for row in done if row[3] == "killed")
    survived = [row for row in done if row[3] == "survived"]
    other = len(done) - skipped - unsampled - killed - len(survived)
    sample = f", outside the sample {unsampled}" if unsampled else ""
    print(
        f"mutants {len(rows)}, skipped (in annotations) {skipped}{sample}, "
        f"run {len(done) - skipped - unsampled}, killed {killed}, survived {len(survived)}, "
        f"other outcomes {other}, not run yet {len(rows) - len(done)}"
    )
    for line, operator, _, _, diff in survived:
        removed = [d[1:].strip() for d in diff.splitlines() if d.startswith("-") and d[1:2] != "-"]
        added = [d[1:].strip() for d in diff.splitlines() if d.startswith("+") and d[1:2] != "+"]
        short = operator.removeprefix("core/")
        print(f"  line {line:4d}  {short:40s} {' | '.join(removed)}  ->  {' | '.join(added)}")
    return 0


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # quiet when piped into head
    sys.exit(main(sys.argv[1]))
