"""The dashboard's HTTP server (aiohttp): the page, its JSON API, and one websocket per page.

The websocket pushes the live snapshot of every node a few times a second; it is serialised once
per tick for all pages, and a page that reads slowly gets the latest snapshot, never a backlog.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import resources
from typing import Any

from aiohttp import WSMsgType, web

from .history import MAX_POINTS_LIMIT, HistorySource, HistoryUnavailable, NotRecorded
from .live import LiveBoard

log = logging.getLogger(__name__)
#: Every write attempt from a page, with the browser's address and the outcome.
audit = logging.getLogger("labnode.web.writes")

STATIC = resources.files(__package__) / "static"
#: Largest request body the server reads (a write is a few dozen bytes).
MAX_BODY = 16 * 1024
#: Most pages following live at once; more get 503 until one closes.
MAX_PAGES = 200
DEFAULT_WINDOW = 600.0
#: Most history reads and writes in flight at once (each holds a worker thread); more get 503.
BUSY_LIMITS = {"history": 8, "write": 4}
#: Seconds to wait for a node's answer to a write (it answers once the instrument took it).
PUSH_TIMEOUT = 5.0


@dataclass
class WebSettings:
    """How the dashboard is served."""

    host: str = "127.0.0.1"
    port: int = 8080
    title: str = "labnode"
    writes: bool = False
    #: Seconds between two live pushes to each page.
    push_interval: float = 0.5


class BadRequest(ValueError):
    """A query the API refuses, with the reason for the client."""


def parse_time(text: str, what: str) -> float:
    """Unix seconds from ``text``: a number, or ISO 8601 (UTC when it has no offset)."""
    try:
        value = float(text)
    except ValueError:
        try:
            moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
        except ValueError:
            raise BadRequest(
                f"{what}={text!r}: give Unix seconds or ISO 8601, e.g. 2026-11-26T10:00:00Z"
            ) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        value = moment.timestamp()
    if not math.isfinite(value):
        raise BadRequest(f"{what}={text!r}: give a finite time")
    return value


def _json_response(data: Any, status: int = 200) -> web.Response:
    return web.Response(
        text=json.dumps(data, allow_nan=False, separators=(",", ":")),
        status=status,
        content_type="application/json",
        headers={"Cache-Control": "no-store"},
    )


def _error(status: int, message: str) -> web.Response:
    return _json_response({"error": message}, status)


def _host_name(host: str) -> str:
    """The name in a Host header, without port or IPv6 brackets."""
    if host.startswith("["):
        return host[1:].partition("]")[0]
    return host.rpartition(":")[0] if host.count(":") == 1 else host


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _same_origin(request: web.Request) -> bool:
    """True unless the browser says the request comes from a page of another site."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True  # scripts and tools send no Origin
    return origin.split("://", 1)[-1] == request.host


class _Page:
    """One websocket: the latest message waiting to be sent to it."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.pending: str | None = None
        self.wake = asyncio.Event()

    def offer(self, message: str) -> None:
        self.pending = message  # replaces anything not yet sent: never a backlog
        self.wake.set()


class Dashboard:
    """The aiohttp application over a :class:`LiveBoard` and, optionally, a recorded history.

    History comes from ``stored`` (the lab's database) for every channel it holds, else from
    the board's in-memory history of what the server polled since it started.
    """

    def __init__(
        self, board: LiveBoard, settings: WebSettings, stored: HistorySource | None = None
    ) -> None:
        self.board = board
        self.stored = stored
        self.settings = settings
        self.pages: set[_Page] = set()
        self.busy = {"history": 0, "write": 0}
        #: Threads for blocking work (database reads, writes); never more jobs than threads.
        self.workers = ThreadPoolExecutor(sum(BUSY_LIMITS.values()), thread_name_prefix="web")
        self.app = web.Application(client_max_size=MAX_BODY, middlewares=[self._check_host])
        self.app.add_routes(
            [
                web.get("/", self.index),
                web.get("/ws", self.websocket),
                web.get("/api/config", self.api_config),
                web.get("/api/nodes", self.api_nodes),
                web.get("/api/channels", self.api_channels),
                web.get("/api/latest", self.api_latest),
                web.get("/api/history", self.api_history),
                web.post("/api/write", self.api_write),
                web.static("/static", str(STATIC), append_version=False),
            ]
        )
        self.app.on_startup.append(self._start_broadcast)
        self.app.on_shutdown.append(self._close_pages)
        self.app.on_cleanup.append(self._stop_workers)

    @web.middleware
    async def _check_host(self, request: web.Request, handler) -> web.StreamResponse:
        """Bound to loopback, answer only requests for a loopback name: a page of another site
        whose name was made to resolve to 127.0.0.1 (DNS rebinding) gets nothing."""
        if _is_loopback(self.settings.host) and not _is_loopback(_host_name(request.host)):
            return _error(403, f"Host {request.host!r} refused: open the page as 127.0.0.1")
        return await handler(request)

    def _enter(self, kind: str) -> bool:
        """Count one more request of ``kind`` in flight, or False when already at its limit."""
        if self.busy[kind] >= BUSY_LIMITS[kind]:
            return False
        self.busy[kind] += 1
        return True

    # -- the page -------------------------------------------------------------------------------
    async def index(self, request: web.Request) -> web.Response:
        return web.Response(
            body=(STATIC / "index.html").read_bytes(),
            content_type="text/html",
            headers={"Cache-Control": "no-store"},
        )

    # -- live -----------------------------------------------------------------------------------
    async def websocket(self, request: web.Request) -> web.StreamResponse:
        if not _same_origin(request):
            return _error(403, "websocket from another site refused")
        if len(self.pages) >= MAX_PAGES:
            return _error(503, f"{MAX_PAGES} pages are following already; close one")
        ws = web.WebSocketResponse(heartbeat=20.0, max_msg_size=4096)
        await ws.prepare(request)
        page = _Page(ws)
        self.pages.add(page)
        page.offer(self._live_message())
        sender = asyncio.create_task(self._send_loop(page))
        try:
            async for message in ws:  # the page sends nothing we need; read to see it close
                if message.type == WSMsgType.ERROR:
                    break
        finally:
            self.pages.discard(page)
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender
        return ws

    async def _send_loop(self, page: _Page) -> None:
        while not page.ws.closed:
            await page.wake.wait()
            page.wake.clear()
            message, page.pending = page.pending, None
            if message is not None:
                try:
                    await page.ws.send_str(message)
                except (ConnectionError, RuntimeError):  # the page went away while we sent
                    return

    def _live_message(self) -> str:
        return json.dumps({"type": "live", **self.board.snapshot()}, separators=(",", ":"))

    async def _broadcast(self) -> None:
        sent_generation = -1
        while True:
            await asyncio.sleep(self.settings.push_interval)
            if not self.pages:
                continue
            if self.board.generation != sent_generation:
                sent_generation = self.board.generation
                message = self._live_message()
            else:
                message = json.dumps({"type": "tick", "now": time.time()})
            for page in self.pages:
                page.offer(message)

    async def _start_broadcast(self, app: web.Application) -> None:
        task = asyncio.create_task(self._broadcast())

        async def stop(app: web.Application) -> None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

        app.on_cleanup.append(stop)

    async def _stop_workers(self, app: web.Application) -> None:
        self.workers.shutdown(wait=False, cancel_futures=True)

    async def _close_pages(self, app: web.Application) -> None:
        for page in list(self.pages):
            await page.ws.close()

    # -- the JSON API ---------------------------------------------------------------------------
    async def api_config(self, request: web.Request) -> web.Response:
        return _json_response(
            {
                "title": self.settings.title,
                "writes": self.settings.writes,
                "history": "memory" if self.stored is None else self.stored.kind,
                "push_interval": self.settings.push_interval,
            }
        )

    async def api_nodes(self, request: web.Request) -> web.Response:
        nodes = []
        for node in self.board.snapshot()["nodes"]:
            node["channels"] = [c["codename"] for c in node["channels"]]
            nodes.append(node)
        return _json_response(nodes)

    async def api_channels(self, request: web.Request) -> web.Response:
        channels = []
        for node in self.board.snapshot()["nodes"]:
            for channel in node["channels"]:
                meta = {k: v for k, v in channel.items() if k not in ("x", "y", "old")}
                channels.append({"node": node["name"], **meta})
        return _json_response(channels)

    async def api_latest(self, request: web.Request) -> web.Response:
        return _json_response(self.board.snapshot())

    async def api_history(self, request: web.Request) -> web.Response:
        try:
            query = self._history_query(request)
        except BadRequest as error:
            return _error(400, str(error))
        if not self._enter("history"):
            return _error(503, "too many history requests at once; try again")
        try:
            return await self._history(*query)
        finally:
            self.busy["history"] -= 1

    async def _history(
        self, node: str, codename: str, start: float, end: float, max_points: int
    ) -> web.Response:
        channel = self.board.channel(node, codename)
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        points, source, warning = None, "memory", None
        if self.stored is not None:
            stored_name = self.board.stored_name(node)
            try:
                points = await loop.run_in_executor(
                    self.workers, self.stored.read, stored_name, codename, start, end, max_points
                )
                source = self.stored.kind
            except NotRecorded:
                points = None
            except HistoryUnavailable as error:  # say so, and show what memory has
                warning = f"the database cannot be read now: {error}"
        if points is None:
            memory = self.board.history
            if channel is None or memory is None:
                if warning is not None:
                    return _error(503, warning)
                return _error(404, f"no channel {codename!r} on node {node!r}; see /api/channels")
            points = await loop.run_in_executor(
                self.workers, memory.read, node, codename, start, end, max_points
            )
        return _json_response(
            {
                "node": node,
                "codename": codename,
                "unit": None if channel is None else channel.get("unit"),
                "start": start,
                "end": end,
                "source": source,
                "seconds": round(time.perf_counter() - started, 6),
                "points": points,
                **({} if warning is None else {"warning": warning}),
            }
        )

    @staticmethod
    def _history_query(request: web.Request) -> tuple[str, str, float, float, int]:
        query = request.query
        node, codename = query.get("node"), query.get("codename")
        if not node or not codename:
            raise BadRequest("give node=NAME and codename=CODENAME (see /api/channels)")
        end = parse_time(query["end"], "end") if "end" in query else time.time()
        if "start" in query:
            start = parse_time(query["start"], "start")
        elif "window" in query:
            start = end - parse_time(query["window"], "window")
        else:
            start = end - DEFAULT_WINDOW
        if not start < end:
            raise BadRequest(f"start ({start}) must be before end ({end})")
        text = query.get("max_points", "1000")
        if not text.isdigit() or not 2 <= int(text) <= MAX_POINTS_LIMIT:
            raise BadRequest(
                f"max_points={text!r}: give a whole number from 2 to {MAX_POINTS_LIMIT}"
            )
        return node, codename, start, end, int(text)

    # -- writes ---------------------------------------------------------------------------------
    async def api_write(self, request: web.Request) -> web.Response:
        """Write one confirmed setpoint to a node's push socket and return the node's reply."""
        who = request.remote or "?"
        if not self.settings.writes:
            return _error(403, "writes are off; set [web] writes = true in the lab file")
        if not _same_origin(request):
            audit.warning(
                "write refused from %s: a page of another site (%s)",
                who,
                request.headers.get("Origin"),
            )
            return _error(403, "a write from a page of another site is refused")
        if request.content_type != "application/json":
            return _error(415, "send the write as JSON (Content-Type: application/json)")
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "the body is not JSON")
        try:
            node, codename, value, push = self._checked_write(body)
        except BadRequest as error:
            audit.warning("write refused from %s: %s", who, error)
            return _error(403 if "not writable" in str(error) else 400, str(error))
        if not self._enter("write"):
            return _error(503, "too many writes at once; try again")
        try:
            loop = asyncio.get_running_loop()
            applied, reply = await loop.run_in_executor(
                self.workers, _push_write, push, codename, value
            )
        finally:
            self.busy["write"] -= 1
        audit.info(
            "write from %s: %s %s=%r -> %s: %s",
            who,
            node,
            codename,
            value,
            "applied" if applied else "not applied",
            reply,
        )
        return _json_response(
            {"applied": applied, "reply": reply, "node": node, "codename": codename, "value": value}
        )

    def _checked_write(self, body: Any) -> tuple[str, str, float, tuple[str, int]]:
        if not isinstance(body, dict):
            raise BadRequest('send {"node": ..., "codename": ..., "value": ..., "confirmed": true}')
        if body.get("confirmed") is not True:
            raise BadRequest('a write must be confirmed: add "confirmed": true')
        node, codename, value = body.get("node"), body.get("codename"), body.get("value")
        if not isinstance(node, str) or not isinstance(codename, str):
            raise BadRequest("give node and codename as strings")
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not number or not math.isfinite(value):
            raise BadRequest(f"value {value!r} is not a finite number")
        target = self.board.target(node)
        channel = self.board.channel(node, codename)
        if target is None or channel is None:
            raise BadRequest(f"no channel {codename!r} on node {node!r}")
        if not channel.get("writable"):
            raise BadRequest(
                f"{node} {codename} is not writable (the node says so in channels_json)"
            )
        if target.push is None:
            raise BadRequest(
                f'no push socket known for {node}: add push = "HOST:PORT" to its [[nodes]] entry'
            )
        return node, codename, value, target.push


def _push_write(push: tuple[str, int], codename: str, value: float) -> tuple[bool, str]:
    """Send one value to a push socket: (applied, the node's reply or why there is none)."""
    from labnode.sockets import DataPushClient, SocketError, WriteRefusedError

    try:
        with DataPushClient(push[0], push[1], timeout=PUSH_TIMEOUT) as client:
            return True, client.write({codename: value})
    except WriteRefusedError as refusal:
        return False, refusal.reply
    except (SocketError, ValueError) as error:
        return False, str(error)


class WebServer:
    """Run a :class:`Dashboard` on its own thread and event loop (CLI, tests, benches)."""

    def __init__(self, dashboard: Dashboard) -> None:
        self.dashboard = dashboard
        self.port: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        host = self.dashboard.settings.host
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}/"

    def start(self) -> None:
        """Bind and serve; raises OSError here when the address cannot be bound."""
        self._thread = threading.Thread(target=self._run, name="web-server", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(self._serve())
        except BaseException as error:
            self._error = error
            self._ready.set()
            return
        self._ready.set()
        loop.run_forever()
        loop.run_until_complete(self._runner.cleanup())  # type: ignore[union-attr]
        loop.close()

    async def _serve(self) -> None:
        settings = self.dashboard.settings
        self._runner = web.AppRunner(self.dashboard.app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, settings.host, settings.port)
        try:
            await site.start()
        except OSError:
            await self._runner.cleanup()
            raise
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    def stop(self) -> None:
        """Close every page and stop serving."""
        if self._loop is not None and self._thread is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)

    def __enter__(self) -> WebServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
