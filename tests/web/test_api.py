"""The JSON API and the websocket, over real HTTP against real nodes on 127.0.0.1."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import threading
import time
import urllib.error
import urllib.request

import aiohttp
import pytest

from tests.apps.conftest import wait_for


def run_apart(coroutine_function):
    """asyncio.run on a thread of its own: Playwright's sync API owns this thread's loop."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine_function()).result(timeout=30)


def get(url: str) -> tuple[int, object]:
    try:
        with urllib.request.urlopen(url, timeout=5) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.fixture
def served(lab):
    channels = {
        "volt": {"unit": "V", "description": "output voltage", "writable": True, "min": 0, "max": 6}
    }
    psu = lab.node("psu", ["volt", "curr"], channels=channels)
    psu.set_point_now("volt", 1.5)
    psu.set_point_now("curr", 0.25)
    lab.serve()
    wait_for(lambda: get(lab.url + "api/latest")[1]["nodes"][0]["state"] == "ok")
    return lab, psu


def test_nodes_channels_and_latest(served):
    lab, psu = served
    status, nodes = get(lab.url + "api/nodes")
    assert status == 200
    assert [(n["name"], n["state"], n["channels"]) for n in nodes] == [
        ("psu", "ok", ["volt", "curr"])
    ]
    assert nodes[0]["address"] == f"127.0.0.1:{psu.port}"
    assert nodes[0]["has_metadata"] is True  # it answers channels_json
    status, channels = get(lab.url + "api/channels")
    assert channels == [
        {
            "node": "psu",
            "codename": "volt",
            "unit": "V",
            "description": "output voltage",
            "writable": True,
            "min": 0,
            "max": 6,
        },
        {"node": "psu", "codename": "curr", "unit": None, "description": "", "writable": False},
    ]
    status, latest = get(lab.url + "api/latest")
    volt = latest["nodes"][0]["channels"][0]
    assert (volt["codename"], volt["y"], volt["old"]) == ("volt", 1.5, False)
    assert abs(latest["now"] - time.time()) < 5


def test_history_from_memory_for_a_range(served):
    lab, psu = served
    for value in (2.0, 3.0):
        psu.set_point_now("volt", value)
        wait_for(
            lambda v=value: get(lab.url + "api/latest")[1]["nodes"][0]["channels"][0]["y"] == v
        )
    status, history = get(lab.url + "api/history?node=psu&codename=volt&window=60")
    assert status == 200 and history["source"] == "memory"
    assert [y for _, y in history["points"]] == [1.5, 2.0, 3.0]
    start = history["points"][1][0]
    status, part = get(lab.url + f"api/history?node=psu&codename=volt&start={start}")
    assert [y for _, y in part["points"]] == [2.0, 3.0]
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 120))
    status, by_iso = get(lab.url + f"api/history?node=psu&codename=volt&start={since}")
    assert status == 200 and by_iso["points"] == history["points"]
    assert by_iso["start"] == pytest.approx(time.time() - 120, abs=5)


@pytest.mark.parametrize(
    "query, status, words",
    [
        ("", 400, "give node=NAME and codename=CODENAME"),
        ("node=psu&codename=nope", 404, "no channel 'nope'"),
        ("node=psu&codename=volt&start=yesterday", 400, "start='yesterday'"),
        ("node=psu&codename=volt&start=nan", 400, "finite"),
        ("node=psu&codename=volt&start=10&end=5", 400, "must be before end"),
        ("node=psu&codename=volt&max_points=1", 400, "max_points='1'"),
        ("node=psu&codename=volt&max_points=99999999", 400, "from 2 to 10000"),
    ],
)
def test_bad_history_queries_get_a_clear_answer(served, query, status, words):
    lab, _ = served
    code, answer = get(lab.url + "api/history?" + query)
    assert code == status and words in answer["error"]


def test_the_page_and_its_files_come_from_the_package(served):
    lab, _ = served
    with urllib.request.urlopen(lab.url, timeout=5) as reply:
        page = reply.read().decode()
    assert "/static/vendor/uPlot.iife.min.js" in page and "http" not in page.split("<body>")[0]
    for path in ("static/app.js", "static/app.css", "static/vendor/uPlot.iife.min.js"):
        with urllib.request.urlopen(lab.url + path, timeout=5) as reply:
            assert reply.status == 200 and len(reply.read()) > 1000


def test_the_websocket_pushes_live_snapshots_and_refuses_other_sites(served):
    lab, psu = served
    ws_url = lab.url.replace("http", "ws") + "ws"

    async def follow() -> tuple[list[dict], int]:
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(ws_url) as ws:
                first = json.loads((await ws.receive(timeout=5)).data)
                psu.set_point_now("volt", 9.5)
                seen = [first]
                while not any(
                    m.get("type") == "live" and m["nodes"][0]["channels"][0]["y"] == 9.5
                    for m in seen
                ):
                    seen.append(json.loads((await ws.receive(timeout=5)).data))
            try:
                async with session.ws_connect(ws_url, origin="http://example.invalid"):
                    refused = 0
            except aiohttp.WSServerHandshakeError as error:
                refused = error.status
        return seen, refused

    seen, refused = run_apart(follow)
    assert seen[0]["type"] == "live" and seen[0]["nodes"][0]["name"] == "psu"
    assert refused == 403


def test_a_page_of_another_site_rebound_to_127_0_0_1_gets_nothing(served):
    lab, _ = served
    port = lab.server.port
    for host, status in ((f"rebound.example:{port}", 403), (f"localhost:{port}", 200)):
        request = urllib.request.Request(lab.url + "api/latest", headers={"Host": host})
        try:
            with urllib.request.urlopen(request, timeout=5) as reply:
                code = reply.status
        except urllib.error.HTTPError as error:
            code = error.code
            assert "open the page as 127.0.0.1" in json.loads(error.read())["error"]
        assert code == status, host


class SlowSource:
    """A history source that holds every read until released (to fill the worker slots)."""

    kind = "database"

    def __init__(self) -> None:
        self.release = threading.Event()
        self.reading = 0

    def read(self, node, codename, start, end, max_points):
        self.reading += 1
        self.release.wait(10)
        return [(start, 1.0)]


def test_history_reads_in_flight_are_bounded(lab):
    lab.node("psu", ["volt"]).set_point_now("volt", 1.0)
    source = SlowSource()
    lab.serve(stored=source)
    wait_for(lambda: lab.board.channel("psu", "volt"))
    url = lab.url + "api/history?node=psu&codename=volt"
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        held = [pool.submit(get, url) for _ in range(8)]
        wait_for(lambda: source.reading == 8)
        status, answer = get(url)
        assert status == 503 and "too many history requests" in answer["error"]
        source.release.set()
        assert [future.result()[0] for future in held] == [200] * 8
    assert get(url)[0] == 200
