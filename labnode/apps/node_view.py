"""What `labnode get` and `labnode watch` print: a node's points as a readable table.

Replies are parsed by :mod:`labnode.sockets.pull_replies` only; everything that came from a node
(codenames, names, units, error excerpts) is escaped before it is shown, so no escape sequence a
node sends reaches the operator's terminal.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

from labnode.sockets import DateDataClient, NodeTimeoutError, NodeUnreachableError, SocketError
from labnode.sockets.client import check_host
from labnode.sockets.pull_replies import ChannelInfo, Point, escape, parse_json_wn


@dataclass
class Row:
    """One codename as shown to a person."""

    codename: str
    value: str
    age: str
    state: str
    unit: str = ""


def parse_address(address: str, default_port: int = 9000) -> tuple[str, int]:
    """Split ``HOST[:PORT]``, ``[IPv6]:PORT`` or a bare IPv6 address into host and port.

    A host that looks numeric must be a real address (``1.2.3`` is refused, not read as
    1.2.0.3): see :func:`labnode.sockets.client.check_host`. Nothing is sent.
    """
    text = address.strip()
    if not text:
        raise ValueError("no address given; write HOST[:PORT], e.g. 127.0.0.1:9000")
    host, port_text = text, ""
    if text.startswith("["):
        host, closed, rest = text[1:].partition("]")
        if not closed or (rest and not rest.startswith(":")):
            raise ValueError(
                f"{address!r}: write an IPv6 address as [ADDRESS]:PORT, e.g. [::1]:9000"
            )
        port_text = rest[1:]
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    port = default_port
    if port_text:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ValueError(f"{address!r}: the port must be a number from 1 to 65535")
        port = int(port_text)
    host = host or "127.0.0.1"
    check_host(host)
    return host, port


def _age(x: float, now: float) -> str:
    age = now - x
    if x == 0:
        return "never set"
    if abs(age) < 120:
        return f"{age:.2f} s"
    if abs(age) < 7200:
        return f"{age / 60:.1f} min"
    return f"{age / 3600:.1f} h"


def _unit(channels: Mapping[str, ChannelInfo] | None, codename: str) -> str:
    info = channels.get(codename) if channels else None
    return (info.unit or "") if info is not None else ""


def row_from_point(codename: str, point: Point | None, now: float, unit: str = "") -> Row:
    """One row from a parsed point: ``(x, y)``, or None for OLD_DATA."""
    if point is None:
        return Row(codename, "-", "-", "OLD_DATA (stale)", unit)
    x, y = point
    return Row(codename, str(y), _age(x, now), "ok", unit)


def rows_from_table(
    table: Mapping[str, Point | None],
    now: float | None = None,
    channels: Mapping[str, ChannelInfo] | None = None,
) -> list[Row]:
    """Rows from a parsed table ``{codename: point or None}``, with units from ``channels``."""
    now = time.time() if now is None else now
    return [row_from_point(c, p, now, _unit(channels, c)) for c, p in table.items()]


def rows_from_json_wn(
    reply: bytes | str,
    now: float | None = None,
    channels: Mapping[str, ChannelInfo] | None = None,
    node: str | None = None,
) -> list[Row]:
    """Rows from a ``json_wn`` reply (raises a NodeError naming ``node`` if it is malformed)."""
    return rows_from_table(parse_json_wn(reply, node=node), now, channels)


def render_table(rows: list[Row], title: str | None = None) -> str:
    """Rows as aligned text columns, every field escaped; a unit column when any row has one."""
    fields = ["codename", "value", "unit", "age"]
    if not any(row.unit for row in rows):
        fields.remove("unit")
    header = Row("codename", "value", "age", "state", "unit")
    table = [[escape(getattr(row, f)) for f in [*fields, "state"]] for row in [header, *rows]]
    widths = [max(len(cells[i]) for cells in table) for i in range(len(fields))]
    right = {"value", "age"}
    lines = [escape(title)] if title else []
    for cells in table:
        columns = [
            f"{cell:>{width}}" if field in right else f"{cell:<{width}}"
            for field, cell, width in zip(fields, cells, widths)
        ]
        lines.append("  ".join([*columns, cells[-1]]))
    return "\n".join(lines)


def render_channels(channels: Mapping[str, ChannelInfo]) -> str:
    """A ``channels_json`` reply as aligned columns, every field escaped."""
    header = ["codename", "unit", "writable", "min", "max", "description"]
    table = [header]
    for codename, info in channels.items():
        table.append(
            [
                escape(codename),
                escape(info.unit or ""),
                "yes" if info.writable else "no",
                "" if info.min is None else str(info.min),
                "" if info.max is None else str(info.max),
                escape(info.description),
            ]
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(header) - 1)]
    return "\n".join(
        "  ".join([*(f"{cell:<{w}}" for cell, w in zip(row, widths)), row[-1]]).rstrip()
        for row in table
    )


class WatchedNode:
    """One node of `labnode watch`: ``poll()`` returns its block of text and never raises.

    The node's name and channel units are asked once (again after a failure); each poll asks
    ``json_wn``. Errors become a line in the block, so one bad node never ends a watch.
    """

    def __init__(self, host: str, port: int, timeout: float) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout
        self.client: DateDataClient | None = None
        self.name: str | None = None
        self.channels: dict[str, ChannelInfo] | None = None

    @property
    def address(self) -> str:
        host = escape(self.host)
        return f"[{host}]:{self.port}" if ":" in host else f"{host}:{self.port}"

    def poll(self, now: float | None = None) -> str:
        """This node's block: a title and its table, or a title and what went wrong."""
        try:
            if self.client is None:
                self.client = DateDataClient(
                    self.host, self.port, timeout=self.timeout, old_data="none"
                )
            client = self.client
            if self.name is None:
                self.name = client.name()
            if self.channels is None:
                try:
                    self.channels = client.channels()
                except (NodeTimeoutError, NodeUnreachableError):
                    raise  # the node is not answering: show that, ask again next time
                except SocketError:  # it answered nonsense: no units, but show the values
                    self.channels = {}
            table = client.get_all()
            return render_table(rows_from_table(table, now, self.channels), self.title)
        except (NodeTimeoutError, NodeUnreachableError) as error:
            return f"{self.title}\n  no answer: {error}"
        except SocketError as error:  # it answered, but with nothing usable
            return f"{self.title}\n  error: {error}"
        except Exception as error:  # a bug must not end the other nodes' watch
            return f"{self.title}\n  error: {type(error).__name__}: {escape(str(error))}"

    @property
    def title(self) -> str:
        name = f"  {escape(self.name)}" if self.name else ""
        return f"{self.address}{name}"

    def close(self) -> None:
        if self.client is not None:
            self.client.close()


#: Threads polling nodes at once in one watch; more nodes queue for a free thread.
MAX_WATCH_THREADS = 32
#: Seconds a refresh waits beyond the per-node timeout before it shows a node as still waiting.
WATCH_SLACK = 0.5


class Watch:
    """Poll several nodes concurrently: ``refresh()`` gives one block of text per node, in order.

    Each node is polled on its own thread with its own timeout, so a dead node never delays the
    others by more than one timeout; a node still busy when the refresh ends shows as waiting and
    is not asked again until its previous poll has finished.
    """

    def __init__(self, nodes: list[WatchedNode]) -> None:
        from concurrent.futures import Future, ThreadPoolExecutor

        self.nodes = nodes
        self._executor = ThreadPoolExecutor(
            max_workers=max(1, min(len(nodes), MAX_WATCH_THREADS)),
            thread_name_prefix="labnode-watch",
        )
        self._pending: dict[int, Future[str]] = {}

    def refresh(self) -> list[str]:
        """Poll every node that is not still busy; return each node's block."""
        from concurrent.futures import wait

        for index, node in enumerate(self.nodes):
            if index not in self._pending:
                self._pending[index] = self._executor.submit(node.poll)
        longest = max(node.timeout for node in self.nodes) + WATCH_SLACK
        wait(self._pending.values(), timeout=longest)
        blocks = []
        for index, node in enumerate(self.nodes):
            future = self._pending[index]
            if future.done():
                del self._pending[index]
                blocks.append(future.result())
            else:
                blocks.append(f"{node.title}\n  waiting for a reply")
        return blocks

    def close(self) -> None:
        """Stop polling (running polls end within their timeout) and close the sockets."""
        self._executor.shutdown(wait=True, cancel_futures=True)
        for node in self.nodes:
            node.close()

    def __enter__(self) -> Watch:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
