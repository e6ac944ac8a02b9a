"""The spool file on its own, on real files: order, whole lines, the size bound, torn tails,
unreadable lines, the lock, and a disk that fills up in the middle of a write."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from labnode.storage import Spool, SpoolInUseError
from labnode.storage.spool import LINE_ROWS


def rows_of(node: str, first: int, count: int) -> list[tuple[str, str, float, float]]:
    return [(node, "c", float(x), x / 2) for x in range(first, first + count)]


def line_bytes(rows) -> int:
    """The size of the spool line holding ``rows`` (as the spool writes it)."""
    return len(json.dumps(rows, separators=(",", ":")).encode()) + 1


def test_rows_come_back_in_order_and_the_file_empties_once_all_are_stored(tmp_path):
    spool = Spool(tmp_path / "lab.spool")
    first, second = rows_of("a", 1, 30), rows_of("b", 100, 20) + [("b", "c", 120.0, None)]
    assert spool.append(first) == 0
    assert spool.append(second) == 0
    assert spool.append([]) == 0
    size = (tmp_path / "lab.spool").stat().st_size
    assert spool.size == size == line_bytes(first) + line_bytes(second)
    rows, end = spool.read(100)
    assert rows == first + second and end == size
    assert spool.pending_bytes == size  # read, not yet stored
    spool.consumed(line_bytes(first))  # the first line is stored: the file stays
    assert spool.pending_bytes == line_bytes(second)
    assert (tmp_path / "lab.spool").stat().st_size == size
    assert spool.read(100) == (second, size)
    spool.consumed(size)
    assert (spool.size, spool.offset, spool.pending_bytes) == (0, 0, 0)
    assert (tmp_path / "lab.spool").stat().st_size == 0
    assert spool.read(100) == ([], 0)
    spool.append(first)  # and it fills again from the start
    assert spool.read(100) == (first, line_bytes(first))
    spool.close()


def test_rows_are_written_and_read_by_whole_lines(tmp_path):
    spool = Spool(tmp_path / "lab.spool")
    rows = rows_of("n", 1, 2 * LINE_ROWS + 500)
    spool.append(rows)
    lines = (tmp_path / "lab.spool").read_bytes().splitlines(keepends=True)
    assert [len(json.loads(line)) for line in lines] == [LINE_ROWS, LINE_ROWS, 500]
    one, end = spool.read(LINE_ROWS)  # exactly one line
    assert one == rows[:LINE_ROWS] and end == len(lines[0])
    more, end = spool.read(LINE_ROWS + 1)  # a line is never cut: two whole lines
    assert more == rows[: 2 * LINE_ROWS] and end == len(lines[0]) + len(lines[1])
    few, end = spool.read(10, max_bytes=len(lines[0]))  # the bytes bound holds one line
    assert few == rows[:LINE_ROWS] and end == len(lines[0])
    assert spool.read(10, max_bytes=100) == (one, len(lines[0]))  # a longer line: read whole
    spool.consumed(len(lines[0]))
    rest, end = spool.read(10_000)
    assert rest == rows[LINE_ROWS:] and end == spool.size


def test_values_are_read_back_as_floats_and_none(tmp_path):
    path = tmp_path / "lab.spool"
    path.write_text('[["n","c",1,2],["n","c",3,null],[7,8,"4.5","-1e3"]]\n')
    spool = Spool(path)
    rows, _ = spool.read(10)
    assert rows == [("n", "c", 1.0, 2.0), ("n", "c", 3.0, None), ("7", "8", 4.5, -1000.0)]
    assert [type(v) for v in rows[0]] == [str, str, float, float]
    assert spool.bad_lines == 0


def test_an_unreadable_line_is_skipped_counted_and_the_rest_read(tmp_path):
    path = tmp_path / "lab.spool"
    good = json.dumps([["n", "c", 1.0, 1.0]])
    bad = ["not json", "[1]", '[["n","c","x",1]]', "[" * 100_000 + "]" * 100_000, '[["n"]]']
    path.write_text("\n" + "\n".join([good, *bad, good.replace("1.0", "2.0")]) + "\n")
    spool = Spool(path)
    assert spool.pending_rows_by_node() == {"n": 2}
    assert spool.bad_lines == 0  # counting at startup does not count them: the writer will
    rows, end = spool.read(10)
    assert rows == [("n", "c", 1.0, 1.0), ("n", "c", 2.0, 2.0)]
    assert end == path.stat().st_size
    assert spool.bad_lines == len(bad) + 1  # and the empty first line


def test_the_size_bound_keeps_whole_lines_and_drops_the_last_rows(tmp_path):
    first = rows_of("a", 1, LINE_ROWS)
    second = rows_of("b", 1, 3)
    exact = line_bytes(first) + line_bytes(second)
    spool = Spool(tmp_path / "exact.spool", max_bytes=exact)
    assert spool.append(first + second) == 0  # fills the bound to the byte: all kept
    assert spool.size == exact
    assert spool.append([("b", "c", 99.0, 1.0)]) == 1  # no room left at all
    spool.close()

    spool = Spool(tmp_path / "short.spool", max_bytes=exact - 1)
    assert spool.append(first + second) == 3  # one byte short: the last line goes
    assert spool.read(10_000)[0] == first
    assert (tmp_path / "short.spool").stat().st_size == line_bytes(first)
    spool.consumed(spool.size)
    assert spool.append(second) == 0  # room again once stored
    spool.close()

    third = rows_of("c", 1, 3)  # a short last line that would fit where the second did not
    room = line_bytes(first) + line_bytes(third)
    spool = Spool(tmp_path / "middle.spool", max_bytes=room)
    assert spool.append(first + rows_of("b", 1, LINE_ROWS) + third) == LINE_ROWS + 3
    assert spool.read(10_000)[0] == first  # the rows kept are the first ones, in order
    spool.close()

    spool = Spool(tmp_path / "tiny.spool", max_bytes=10)
    assert spool.append(first + second) == LINE_ROWS + 3
    assert spool.size == 0 and (tmp_path / "tiny.spool").stat().st_size == 0
    spool.close()


def test_rows_left_in_the_file_are_found_again_with_a_torn_tail_cut(tmp_path):
    path = tmp_path / "lab.spool"
    spool = Spool(path)
    spool.append(rows_of("a", 1, 5))
    spool.append(rows_of("b", 1, 2))
    spool.close()
    whole = path.stat().st_size
    with open(path, "ab") as out:
        out.write(b'[["a","c",9.0,')  # a crash in the middle of a write
    spool = Spool(path)
    assert spool.size == whole == path.stat().st_size
    assert spool.pending_rows_by_node() == {"a": 5, "b": 2}
    assert spool.offset == 0  # counting did not move the writer
    assert spool.read(100)[0] == rows_of("a", 1, 5) + rows_of("b", 1, 2)
    spool.consumed(line_bytes(rows_of("a", 1, 5)))
    assert spool.pending_rows_by_node() == {"b": 2}
    spool.close()


def test_a_torn_tail_after_more_than_64_kib_of_rows_is_cut_too(tmp_path):
    path = tmp_path / "lab.spool"
    spool = Spool(path)
    spool.append(rows_of("a", 1, 5 * LINE_ROWS))
    spool.close()
    whole = path.stat().st_size
    assert whole > 65536
    with open(path, "ab") as out:
        out.write(b'[["a","c",9.0,')
    spool = Spool(path)
    assert spool.size == whole == path.stat().st_size
    spool.append(rows_of("z", 1, 1))  # the next rows start on a line of their own
    assert spool.pending_rows_by_node() == {"a": 5 * LINE_ROWS, "z": 1}
    spool.close()


def test_a_file_that_is_only_a_torn_line_starts_empty(tmp_path):
    path = tmp_path / "lab.spool"
    path.write_bytes(b'[["a","c",1.0')
    spool = Spool(path)
    assert spool.size == 0 and path.stat().st_size == 0
    assert spool.pending_rows_by_node() == {}
    spool.close()


def test_one_spool_per_file(tmp_path):
    path = tmp_path / "data" / "spools" / "lab.spool"
    spool = Spool(path)  # the folders are made
    with pytest.raises(SpoolInUseError, match="in use by another process"):
        Spool(path)
    spool.append(rows_of("a", 1, 1))
    spool.close()
    again = Spool(path)  # free once closed
    assert again.read(10)[0] == rows_of("a", 1, 1)
    again.close()


FILL_THE_DISK = """
import json, resource, signal, sys
from labnode.storage import Spool
path = sys.argv[1]
spool = Spool(path)
spool.append([("a", "c", 1.0, 1.0)])
before = spool.size
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
resource.setrlimit(resource.RLIMIT_FSIZE, (before + 20, resource.RLIM_INFINITY))
rows = [("b", "c", float(x), 2.0) for x in range(50)]
try:
    spool.append(rows)
except OSError as error:
    outcome = type(error).__name__
else:
    outcome = "no error"
after = spool.size
resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
spool.append([("a", "c", 2.0, 2.0)])
rows = spool.read(100)[0]
print(json.dumps({"outcome": outcome, "before": before, "after": after, "rows": rows}))
"""


def test_a_write_that_fills_the_disk_leaves_no_half_line(tmp_path):
    """A file size limit (RLIMIT_FSIZE) in a child process: the write stops after a few bytes
    of the new line, as on a full disk; the spool cuts them, and the next append is readable."""
    path = tmp_path / "lab.spool"
    run = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(FILL_THE_DISK), str(path)],
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert result["outcome"] == "OSError" and result["after"] == result["before"]
    assert result["rows"] == [["a", "c", 1.0, 1.0], ["a", "c", 2.0, 2.0]]
    assert path.stat().st_size == result["before"] + line_bytes([("a", "c", 2.0, 2.0)])


def test_a_torn_line_longer_than_64_kib_is_cut_whole(tmp_path):
    """A line of 1000 rows with long names is about 400 kB; torn after 100 kB by a crash, all of
    it goes, or the rows appended after the restart would be glued to it and lost."""
    path = tmp_path / "lab.spool"
    spool = Spool(path)
    spool.append(rows_of("a", 1, 1))
    spool.close()
    whole = path.stat().st_size
    long_rows = [("n" * 200, "c" * 200, float(x), 1.0) for x in range(LINE_ROWS)]
    line = json.dumps(long_rows, separators=(",", ":")).encode()
    with open(path, "ab") as out:
        out.write(line[:100_000])
    spool = Spool(path)
    assert spool.size == whole == path.stat().st_size
    spool.append(rows_of("z", 1, 1))
    assert spool.read(10)[0] == rows_of("a", 1, 1) + rows_of("z", 1, 1)
    assert spool.bad_lines == 0
    spool.close()
    path.write_bytes(line[:200_000])  # nothing but a torn line, over several blocks
    spool = Spool(path)
    assert spool.size == 0 == path.stat().st_size
    spool.close()


def test_a_line_longer_than_the_read_window_does_not_stop_the_writer(tmp_path):
    """Codenames of thousands of characters (refused by the database later) make a line of
    several MB: it is read whole, and the rows after it are not stuck behind it."""
    path = tmp_path / "lab.spool"
    spool = Spool(path)
    huge = [("n", "c" * 5000, float(x), 1.0) for x in range(LINE_ROWS)]
    spool.append(huge)
    spool.append(rows_of("a", 1, 2))
    assert spool.size > 4 * 1024 * 1024
    rows, end = spool.read(10)
    assert rows == huge and end == line_bytes(huge)
    spool.consumed(end)
    assert spool.read(10) == (rows_of("a", 1, 2), spool.size)
    spool.close()


def test_only_a_torn_line_is_reported_at_startup(tmp_path, caplog):
    path = tmp_path / "lab.spool"
    spool = Spool(path)
    spool.append(rows_of("a", 1, 20))
    spool.close()
    with caplog.at_level("WARNING", logger="labnode.storage.spool"):
        Spool(path).close()
    assert caplog.records == []  # whole lines: nothing to say
    with open(path, "ab") as out:
        out.write(b'[["a","c",9.0,')
    with caplog.at_level("WARNING", logger="labnode.storage.spool"):
        Spool(path).close()
    [record] = caplog.records
    assert "half-written last line (14 bytes)" in record.getMessage()


def test_a_line_being_appended_is_not_read_before_it_is_counted(tmp_path):
    """Between the write of a line and the update of the spool's size, the bytes are in the
    file already: the writer must not take them (it would then consume past the size and the
    truncation would lose that line)."""
    path = tmp_path / "lab.spool"
    spool = Spool(path)
    for length in range(100, 200):  # a line longer than the window, ending early in a block
        first = [("n", "c" * length, 1.0, 1.0)]
        if 0 < line_bytes(first) % 64 < 40:
            break
    spool.append(first)
    with open(path, "ab") as out:  # the next append, written but not counted yet
        out.write(b'[["z","c",1,1]]\n')
    assert spool.read(10, max_bytes=64) == (first, line_bytes(first))
    spool.close()


def test_rows_after_megabytes_of_unreadable_lines_are_still_counted_and_read(tmp_path):
    path = tmp_path / "lab.spool"
    garbage = (b"x" * 999 + b"\n") * 5000  # 5 MB: more than one read window of nothing
    path.write_bytes(garbage + json.dumps([["n", "c", 1.0, 1.0]]).encode() + b"\n")
    spool = Spool(path)
    assert spool.pending_rows_by_node() == {"n": 1}
    rows, end = spool.read(10)
    while not rows and end > spool.offset:  # what the writer does: skip, read on
        spool.consumed(end)
        rows, end = spool.read(10)
    assert rows == [("n", "c", 1.0, 1.0)] and end == path.stat().st_size
    assert spool.bad_lines == 5000
    spool.close()


def test_a_torn_tail_just_after_a_64_kib_block_boundary_keeps_the_line_before(tmp_path):
    """The last newline is the first byte of the block searched: that line is whole, kept."""
    path = tmp_path / "lab.spool"
    spool = Spool(path)
    spool.append(rows_of("a", 1, 3))
    spool.append(rows_of("b", 1, 3))
    spool.close()
    whole = path.stat().st_size
    with open(path, "ab") as out:
        out.write(b"[" + b"9" * 65534)  # the block of the last 65536 bytes starts at the newline
    spool = Spool(path)
    assert spool.size == whole
    assert spool.pending_rows_by_node() == {"a": 3, "b": 3}
    spool.close()


def test_a_batch_of_the_longest_names_is_still_5000_rows(tmp_path):
    """Names of 200 characters (the longest stored) make lines of about 420 kB: one read still
    gives the writer its 5000 rows (docs/recording.md: batches of up to 5000 rows)."""
    spool = Spool(tmp_path / "lab.spool")
    rows = [("n" * 200, "c" * 200, float(x), 1.0) for x in range(6 * LINE_ROWS)]
    spool.append(rows)
    batch, _ = spool.read(5000)
    assert batch == rows[:5000]
    spool.close()


def test_the_size_bound_counts_what_the_file_holds_already(tmp_path):
    first, second = rows_of("a", 1, 40), rows_of("b", 1, 30)
    both = line_bytes(first) + line_bytes(second)
    for max_bytes, dropped in ((both, 0), (both - 1, 30)):
        spool = Spool(tmp_path / f"{max_bytes}.spool", max_bytes=max_bytes)
        assert spool.append(first) == 0
        assert spool.append(second) == dropped  # room = the bound minus what is there
        spool.close()


def test_a_line_is_read_whole_whatever_the_read_window(tmp_path):
    spool = Spool(tmp_path / "lab.spool")
    rows = rows_of("a", 1, 3)
    spool.append(rows)
    for window in range(1, spool.size + 2):
        assert spool.read(10, max_bytes=window) == (rows, spool.size), window
    spool.close()


def test_the_writer_reads_on_from_its_offset_after_lines_of_any_length(tmp_path):
    """... and only up to the size counted, with the next append's bytes already in the file."""
    second = rows_of("b", 1, 2)
    for length in range(1, 65):
        path = tmp_path / f"{length}.spool"
        spool = Spool(path)
        first = [("a", "c" * length, 1.0, 1.0)]
        spool.append(first)
        spool.append(second)
        with open(path, "ab") as out:
            out.write(b'[["z","c",1,1]]\n')
        spool.consumed(line_bytes(first))
        assert spool.read(10) == (second, spool.size), length
        spool.close()
