"""The dashboard's speed: page load, server CPU with 20 live pages, one-day plot of a 1 Hz channel.

Run: python bench/bench_web.py [--nodes 50] [--channels 10] [--pages 20] [--seconds 10]

1. Page load: `labnode web` (a process) follows N nodes of M channels (served from this
   process on 127.0.0.1); Debian's chromium opens the page and we time until every channel shows
   a value ("usable"). Reference: the time to fetch /api/latest alone. Goal: usable < 1 s.
2. Server CPU: the server process's CPU share (of one core) while P websocket clients follow
   every node, against the same server with no page open, measured in the same run.
3. One-day plot: /api/history for the last day of a channel stored at 1 Hz (86,400 points) in
   SQLite, thinned to 1,000 points; reference: reading those 86,400 points unthinned (storage's
   read_points) in this process. Goal: < 200 ms. Also the plot of all --days days (default 10),
   to show how the time grows with the range.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from labnode.sockets import DateDataSocket
from labnode.storage import Database, read_points

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)  # the tests' browser settings, shared with this bench
from tests.web.browser import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

PAGE_GOAL = 1.0
PLOT_GOAL = 0.200


class Nodes:
    """N nodes of M channels on 127.0.0.1, every value changing once a second."""

    def __init__(self, count: int, channels: int) -> None:
        self.codenames = [f"ch{i}" for i in range(channels)]
        self.sockets = []
        for i in range(count):
            sock = DateDataSocket(self.codenames, port=0, host="127.0.0.1", name=f"node{i}")
            sock.start()
            self.sockets.append(sock)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._update, daemon=True)
        self._update_once()
        self._thread.start()

    def _update_once(self) -> None:
        now = time.time()
        for sock in self.sockets:
            sock.set_points_now({c: random.random() for c in self.codenames}, now)

    def _update(self) -> None:
        while not self._stop.wait(1.0):
            self._update_once()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        for sock in self.sockets:
            sock.stop()


def start_server(lab_file: Path) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "labnode", "web", str(lab_file), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    line = process.stdout.readline()
    return process, line.split(" on ", 1)[1].split()[0]


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_all_answering(url: str, expected: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        latest = json.loads(urllib.request.urlopen(url + "api/latest", timeout=5).read())
        if sum(node["state"] == "ok" for node in latest["nodes"]) == expected:
            return
        time.sleep(0.2)
    raise SystemExit("the nodes did not all answer within 30 s")


def page_load(url: str, channels: int, rounds: int) -> tuple[list[float], list[float], list[float]]:
    """Seconds from navigation until every channel shows a value, as this script sees it and
    as the page measures it (navigation start to values drawn); and /api/latest alone."""
    from playwright.sync_api import sync_playwright

    usable, in_page, reference = [], [], []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for _ in range(rounds):
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            page = context.new_page()
            started = time.perf_counter()
            page.goto(url)
            page.wait_for_function(
                "n => document.querySelectorAll('td.value').length === n && "
                "[...document.querySelectorAll('td.value')].every(c => c.textContent !== '')",
                arg=channels,
                polling="raf",
            )
            usable.append(time.perf_counter() - started)
            in_page.append(page.evaluate("window.labnode.firstDrawn") / 1000)
            context.close()
            started = time.perf_counter()
            urllib.request.urlopen(url + "api/latest", timeout=5).read()
            reference.append(time.perf_counter() - started)
        browser.close()
    return usable, in_page, reference


async def follow(url: str, pages: int, seconds: float) -> int:
    """P websocket clients reading every message for ``seconds``; returns messages received."""
    import aiohttp

    received = 0

    async def one(session) -> None:
        nonlocal received
        async with session.ws_connect(url.replace("http", "ws") + "ws") as ws:
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                try:
                    message = await ws.receive(timeout=max(0.01, deadline - time.monotonic()))
                except asyncio.TimeoutError:
                    break
                json.loads(message.data)  # as a page would
                received += 1

    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(one(session) for _ in range(pages)))
    return received


def cpu_share(
    pid: int, seconds: float, url: str | None = None, pages: int = 0
) -> tuple[float, float]:
    """The process's CPU share over ``seconds``, and live messages per second per page."""
    before, started = cpu_seconds(pid), time.perf_counter()
    received = 0
    if pages:
        received = asyncio.run(follow(url, pages, seconds))
    else:
        time.sleep(seconds)
    elapsed = time.perf_counter() - started
    return (cpu_seconds(pid) - before) / elapsed, received / elapsed / max(1, pages)


def plots(
    folder: Path, url_of_server, rounds: int, days: int
) -> tuple[list[float], list[float], list[float], int]:
    """Seconds to serve a thinned plot of the last day and of all ``days`` days over HTTP, and
    to read the last day's points unthinned; the channel is stored at 1 Hz."""
    now = time.time()
    database_url = f"sqlite:///{folder / 'day.db'}"
    total = days * 86_400
    with Database(database_url) as database:
        database.create()
        for start in range(0, total, 50_000):
            database.write_points(
                [
                    ("day", "temp", now - total + i, 20 + random.random())
                    for i in range(start, min(total, start + 50_000))
                ]
            )
    url = url_of_server(database_url)
    one_day, all_days, unthinned = [], [], []
    count = 0
    for _ in range(rounds):
        for span, figures in ((86_400, one_day), (total, all_days)):
            query = (
                f"api/history?node=day&codename=temp&start={now - span}&end={now}&max_points=1000"
            )
            started = time.perf_counter()
            reply = json.loads(urllib.request.urlopen(url + query, timeout=120).read())
            figures.append(time.perf_counter() - started)
            assert reply["source"] == "database", reply.get("error", reply["source"])
            if span == 86_400:
                count = len(reply["points"])
        with Database(database_url) as database:
            started = time.perf_counter()
            read_points(database, "day", "temp", now - 86_400, now)
            unthinned.append(time.perf_counter() - started)
    return one_day, all_days, unthinned, count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=50)
    parser.add_argument("--channels", type=int, default=10)
    parser.add_argument("--pages", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each CPU round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--days", type=int, default=10, help="days stored for the long plot")
    args = parser.parse_args(argv)

    folder = Path(tempfile.mkdtemp(prefix="bench_web_"))
    nodes = Nodes(args.nodes, args.channels)
    lab_file = folder / "lab.toml"
    lab_file.write_text(
        "".join(
            f'[[nodes]]\nname = "node{i}"\naddress = "127.0.0.1:{s.port}"\ninterval = 1.0\n'
            for i, s in enumerate(nodes.sockets)
        )
    )
    process, url = start_server(lab_file)
    try:
        wait_all_answering(url, args.nodes)
        total = args.nodes * args.channels
        usable, in_page, reference = page_load(url, total, args.rounds)
        idle, _ = cpu_share(process.pid, args.seconds)
        busy, rate = cpu_share(process.pid, args.seconds, url, args.pages)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)
        nodes.close()

    servers: list[subprocess.Popen] = []

    def server_for(database_url: str) -> str:
        day_lab = folder / "day.toml"
        day_lab.write_text(f'[database]\nurl = "{database_url}"\n')
        server, day_url = start_server(day_lab)
        servers.append(server)
        return day_url

    try:
        served, long_plot, unthinned, count = plots(folder, server_for, args.rounds, args.days)
    finally:
        for server in servers:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)

    med = statistics.median
    print(f"labnode web, {args.nodes} nodes x {args.channels} channels, {args.rounds} rounds")
    print(f"{'measure':<52}{'median':>10}{'min':>10}{'max':>10}")
    print(
        f"{'page usable (every channel shows a value), s':<52}"
        f"{med(usable):>10.3f}{min(usable):>10.3f}{max(usable):>10.3f}"
    )
    print(
        f"{'  the same, measured in the page, s':<52}"
        f"{med(in_page):>10.3f}{min(in_page):>10.3f}{max(in_page):>10.3f}"
    )
    print(
        f"{'reference: GET /api/latest alone, s':<52}"
        f"{med(reference):>10.4f}{min(reference):>10.4f}{max(reference):>10.4f}"
    )
    print(
        f"{'one-day plot, 86,400 points -> ' + str(count) + ', over HTTP, s':<52}"
        f"{med(served):>10.4f}{min(served):>10.4f}{max(served):>10.4f}"
    )
    print(
        f"{f'{args.days}-day plot, {args.days * 86_400:,} points -> ~1000, over HTTP, s':<52}"
        f"{med(long_plot):>10.4f}{min(long_plot):>10.4f}{max(long_plot):>10.4f}"
    )
    print(
        f"{'reference: read_points of all 86,400 unthinned, s':<52}"
        f"{med(unthinned):>10.4f}{min(unthinned):>10.4f}{max(unthinned):>10.4f}"
    )
    print(
        f"server CPU share of one core: {idle:.1%} with no page, {busy:.1%} with "
        f"{args.pages} pages following live ({(busy - idle) / args.pages:.2%} per page; "
        f"{rate:.1f} live messages/s per page)"
    )
    print(
        f"goals: page usable < {PAGE_GOAL} s: {'met' if med(usable) < PAGE_GOAL else 'MISSED'} "
        f"({med(usable) / PAGE_GOAL:.2f} of the goal); one-day plot < {PLOT_GOAL * 1000:.0f} ms: "
        f"{'met' if med(served) < PLOT_GOAL else 'MISSED'} "
        f"({med(served) / med(unthinned):.2f}x the unthinned read)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
