"""`labnode web LAB.toml` as a process: lab file, live nodes, history from a recorded database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from labnode.sockets import DateDataSocket
from labnode.storage import Database


def start_web(lab_file: Path, *extra: str) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "labnode", "web", str(lab_file), "--port", "0", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = process.stdout.readline()
    if "http://" not in line:
        process.kill()
        raise AssertionError(f"no URL printed: {line!r} {process.stderr.read()}")
    url = line.split(" on ", 1)[1].split()[0]
    return process, url


def stop_web(process: subprocess.Popen) -> int:
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout=10)


@pytest.fixture
def node():
    sock = DateDataSocket(["volt", "curr"], port=0, host="127.0.0.1", name="bench psu")
    sock.start()
    sock.set_point_now("volt", 4.25)
    sock.set_point_now("curr", 0.5)
    yield sock
    sock.stop()


def test_labnode_web_shows_the_lab_and_plots_from_its_database(tmp_path, node, page):
    database_file = tmp_path / "lab.db"
    now = time.time()
    with Database(f"sqlite:///{database_file}") as database:  # as `labnode log` records it
        database.create()
        rows = [("bench psu", "volt", now - 3600 + i, 3.0 + (i % 60) / 60) for i in range(3000)]
        rows[1500] = ("bench psu", "volt", now - 3600 + 1500, None)  # the node was away
        database.write_points(rows)
    lab_file = tmp_path / "lab.toml"
    lab_file.write_text(
        f'[database]\nurl = "sqlite:///{database_file}"\n'
        f'[[nodes]]\naddress = "127.0.0.1:{node.port}"\ninterval = 0.2\n'
    )
    process, url = start_web(lab_file)
    try:
        assert url.startswith("http://127.0.0.1:")  # bound to loopback unless told otherwise
        page.goto(url)
        card = page.locator(f'.node[data-node="127.0.0.1:{node.port}"]')
        expect(card.locator(".name")).to_have_text("bench psu")  # the node's own name
        expect(card.locator("tr[data-codename=volt] .value")).to_have_text("4.25")
        node.set_point_now("volt", 4.5)
        expect(card.locator("tr[data-codename=volt] .value")).to_have_text("4.5")

        card.locator("tr[data-codename=volt] input[type=checkbox]").check()
        page.get_by_role("button", name="1 hour").click()
        expect(page.locator("#plot-info")).to_contain_text("from database")
        page.wait_for_function("window.labnode.plot && window.labnode.plot.data[0].length > 100")
        ys = page.evaluate("Array.from(window.labnode.plot.data[1])")
        assert None in ys  # the recorded gap is drawn as a gap
        width = page.evaluate("document.querySelector('#plot').clientWidth")
        assert len(ys) <= width + 2  # thinned in the database to the plot's width
        assert max(y for y in ys if y is not None) == pytest.approx(3.0 + 59 / 60)
    finally:
        assert stop_web(process) == 0


def test_labnode_web_without_a_database_plots_what_it_saw(tmp_path, node, page):
    lab_file = tmp_path / "lab.toml"
    lab_file.write_text(f'[[nodes]]\nname = "psu"\naddress = "127.0.0.1:{node.port}"\n')
    process, url = start_web(lab_file)
    try:
        page.goto(url)
        page.locator('.node[data-node="psu"] tr[data-codename=curr] input').check()
        expect(page.locator("#plot-info")).to_contain_text("from memory")
    finally:
        assert stop_web(process) == 0
    assert not (tmp_path / "lab.db").exists()  # looking never creates a database


def test_a_bad_lab_file_is_one_line_and_exit_2(tmp_path):
    lab_file = tmp_path / "lab.toml"
    lab_file.write_text('[web]\nport = "eighty"\n')
    result = subprocess.run(
        [sys.executable, "-m", "labnode", "web", str(lab_file)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "web.port" in result.stderr
    assert str(lab_file) in result.stderr


def test_a_busy_port_is_a_clear_error(tmp_path, node):
    import socket

    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    lab_file = tmp_path / "lab.toml"
    lab_file.write_text(f'[[nodes]]\naddress = "127.0.0.1:{node.port}"\n')
    try:
        result = subprocess.run(
            [sys.executable, "-m", "labnode", "web", str(lab_file)]
            + ["--port", str(holder.getsockname()[1])],
            capture_output=True,
            text=True,
            timeout=30,
            env={**os.environ},
        )
    finally:
        holder.close()
    assert result.returncode == 1
    assert "cannot serve the dashboard on 127.0.0.1:" in result.stderr
    assert "--port" in result.stderr and "Traceback" not in result.stderr


def test_a_plot_of_what_labnode_log_records_while_the_page_is_open(tmp_path, page):
    from labnode.storage import export_points
    from tests.apps.log_process import LogProcess

    psu = DateDataSocket(["volt"], port=0, host="127.0.0.1", name="psu", timeouts=0.5)
    psu.start()
    lab_file = tmp_path / "lab.toml"
    lab_file.write_text(
        f'[database]\nurl = "sqlite:///{tmp_path / "lab.db"}"\nflush_interval = 0.2\n'
        f'[[nodes]]\nname = "psu"\naddress = "127.0.0.1:{psu.port}"\ninterval = 0.1\n'
    )
    url = f"sqlite:///{tmp_path / 'lab.db'}"

    def logger_has_asked() -> None:
        """Until the logger had an answer computed after now (the logger is the only client:
        the request after the one in flight, if any, is answered after now)."""
        served = psu.requests_served
        deadline = time.monotonic() + 10
        while psu.requests_served < served + 2:
            assert time.monotonic() < deadline, "the logger stopped asking"
            time.sleep(0.02)

    try:
        with LogProcess(lab_file) as logger:
            for value in (1.0, 2.0, 3.0):
                psu.set_point_now("volt", value)
                logger_has_asked()
            time.sleep(0.5)  # no update for the node's timeout: OLD_DATA,
            logger_has_asked()  # which the logger stores as a gap marker
            for value in (4.0, 5.0):
                psu.set_point_now("volt", value)
                logger_has_asked()
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                stored = [
                    y for *_, y in export_points(url, node="psu", codename="volt", dataframe=False)
                ]
                if stored[-2:] == [5.0, None]:  # then OLD_DATA again: nothing more to store
                    break
                time.sleep(0.1)
            assert stored[-7:] == [1.0, 2.0, 3.0, None, 4.0, 5.0, None], stored
            process, web_url = start_web(lab_file)
            try:
                page.goto(web_url)
                page.locator('.node[data-node="psu"] tr[data-codename=volt] input').check()
                expect(page.locator("#plot-info")).to_contain_text("from database")
                page.wait_for_function("window.labnode.plot && window.labnode.plot.data[1].length")
                plotted = page.evaluate("Array.from(window.labnode.plot.data[1])")
                assert plotted == stored  # every stored point, the gap as a gap
            finally:
                assert stop_web(process) == 0
            assert logger.stop() == 0
    finally:
        psu.stop()


def test_host_must_be_an_ip_address(tmp_path):
    lab_file = tmp_path / "lab.toml"
    lab_file.write_text("")
    result = subprocess.run(
        [sys.executable, "-m", "labnode", "web", str(lab_file), "--host", "dashboard.lab"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2 and "give an IP address" in result.stderr
