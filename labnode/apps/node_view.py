"""What `labnode get` and `labnode watch` print: a node's points as a readable table."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from labnode.sockets import OLD_DATA


@dataclass
class Row:
    """One codename as shown to a person."""

    codename: str
    value: str
    age: str
    state: str


def parse_address(address: str, default_port: int = 9000) -> tuple[str, int]:
    """Split ``HOST[:PORT]``, ``[IPv6]:PORT`` or a bare IPv6 address into host and port."""
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
    if port_text:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ValueError(f"{address!r}: the port must be a number from 1 to 65535")
        return host or "127.0.0.1", int(port_text)
    return host or "127.0.0.1", default_port


def _age(x: float, now: float) -> str:
    age = now - x
    if x == 0:
        return "never set"
    if abs(age) < 120:
        return f"{age:.2f} s"
    if abs(age) < 7200:
        return f"{age / 60:.1f} min"
    return f"{age / 3600:.1f} h"


def rows_from_json_wn(reply: str, now: float | None = None) -> list[Row]:
    """Rows from a ``json_wn`` reply."""
    now = time.time() if now is None else now
    rows = []
    for codename, point in json.loads(reply).items():
        rows.append(row_from_point(codename, point, now))
    return rows


def row_from_point(codename: str, point: object, now: float) -> Row:
    """One row from a point as the JSON forms give it: ``[x, y]`` or ``"OLD_DATA"``."""
    if point == OLD_DATA:
        return Row(codename, "-", "-", "OLD_DATA (stale)")
    x, y = point  # type: ignore[misc]
    return Row(codename, str(y), _age(float(x), now), "ok")


def render_table(rows: list[Row], title: str | None = None) -> str:
    """Rows as aligned text columns."""
    header = Row("codename", "value", "age", "state")
    table = [header, *rows]
    widths = [max(len(getattr(r, f)) for r in table) for f in ("codename", "value", "age")]
    lines = [title] if title else []
    for row in table:
        lines.append(
            f"{row.codename:<{widths[0]}}  {row.value:>{widths[1]}}  {row.age:>{widths[2]}}  "
            f"{row.state}"
        )
    return "\n".join(lines)
