"""Lab files: the nodes `labnode log` records (and `labnode web` shows), the database, the web page.

```toml
[database]
url = "sqlite:///lab.db"        # default: <lab file name>.db next to the lab file
[[nodes]]
name = "psu"                    # default: the node's own answer to `name`
address = "127.0.0.1:9000"
interval = 1.0
absolute = 0.01                 # criteria for every channel of this node (all optional)
[nodes.channels.volt]
absolute = 0.5
[web]
host = "127.0.0.1"
port = 8080
writes = false
```

``load_lab(path)`` returns a :class:`LabConfig` or raises :class:`ConfigError` whose one-line
message names the file, the key and the fix (the same style as node config files).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labnode.apps.config import ConfigError, _is_finite_number, _string, tomllib
from labnode.storage.criteria import Criteria
from labnode.storage.errors import DatabaseURLError
from labnode.storage.urls import database_url

DEFAULT_NODE_PORT = 9000
DEFAULT_WEB_PORT = 8080

DATABASE_KEYS = {
    "url": '"sqlite:///lab.db" (default: a .db file named after the lab file, beside it), '
    '"postgresql://user@host/db" or "mysql://user@host/db"',
    "table_prefix": 'a prefix for the table names, letters, digits and "_" (default "labnode_")',
    "spool": "the spool file where points wait while the database is away (default: "
    "<lab file name>.spool beside the lab file)",
    "spool_max_mb": "the largest size of the spool in MB, a number > 0 (default 1024)",
    "flush_interval": "seconds between writes of new points to the spool, > 0 (default 1.0)",
}
CRITERIA_KEYS = {
    "absolute": "store when the value moved by more than this, a number >= 0",
    "relative": "store when the value moved by more than this fraction of its last stored "
    "magnitude, a number >= 0 (0.01 = 1 %)",
    "max_interval": "store at least every this many seconds, a number > 0",
}
NODE_KEYS = {
    "name": "the node's name in the database (default: its answer to `name`)",
    "address": '"HOST[:PORT]", e.g. "10.0.0.12:9000" (port 9000 when left out)',
    "interval": "seconds between polls, a number > 0 (default 1.0)",
    "timeout": "seconds without an answer after which the node counts as down, > 0 "
    "(default: 3 intervals, at least 2 s)",
    **CRITERIA_KEYS,
    "channels": "per-codename criteria: [nodes.channels.CODENAME] tables",
    "push": '"HOST:PORT" of the node\'s push socket, for writes from `labnode web` (port 8500 '
    "when left out)",
}
RECORD_KEYS = {
    **{k: v.replace("lab file", "node file") for k, v in DATABASE_KEYS.items()},
    **CRITERIA_KEYS,
    "channels": "per-codename criteria: [record.channels.CODENAME] tables",
}
WEB_KEYS = {
    "host": 'the address the dashboard binds, e.g. "127.0.0.1" (the default)',
    "port": f"a TCP port from 1 to 65535 (default {DEFAULT_WEB_PORT})",
    "writes": "true to let the dashboard write setpoints (default false)",
}


@dataclass
class NodeEntry:
    """One node to poll: where it is, how often, and what of it to store."""

    name: str | None
    host: str
    port: int
    interval: float = 1.0
    timeout: float = 3.0
    criteria: Criteria = field(default_factory=Criteria)
    channels: dict[str, Criteria] = field(default_factory=dict)
    push: tuple[str, int] | None = None  # the node's push socket (host, port), for web writes

    @property
    def address(self) -> str:
        """``host:port`` (``[host]:port`` for IPv6)."""
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    def criteria_for(self, codename: str) -> Criteria:
        """The node's criteria with the codename's overrides applied."""
        return self.criteria.merged(self.channels.get(codename))


@dataclass
class StorageSettings:
    """Where recorded points go: the database, its table prefix, and the spool in front of it."""

    database_url: str
    table_prefix: str = "labnode_"
    spool_path: str = ""
    spool_max_bytes: int = 1024 * 1024 * 1024
    flush_interval: float = 1.0


@dataclass
class RecordSettings:
    """A node's ``[record]`` table: it stores its own readings, with these criteria."""

    storage: StorageSettings
    criteria: Criteria = field(default_factory=Criteria)
    channels: dict[str, Criteria] = field(default_factory=dict)

    def criteria_for(self, codename: str) -> Criteria:
        """The criteria with the codename's overrides applied."""
        return self.criteria.merged(self.channels.get(codename))


@dataclass
class WebSettings:
    """The ``[web]`` table: where the dashboard listens and whether it may write setpoints."""

    host: str = "127.0.0.1"
    port: int = DEFAULT_WEB_PORT
    writes: bool = False


@dataclass
class LabConfig:
    """What a lab file says."""

    path: str
    database_url: str
    nodes: list[NodeEntry]
    web: WebSettings = field(default_factory=WebSettings)
    table_prefix: str = "labnode_"
    spool_path: str = ""
    spool_max_bytes: int = 1024 * 1024 * 1024
    flush_interval: float = 1.0


def load_lab(path: str | Path) -> LabConfig:
    """Read and check a lab file; raise ConfigError on any mistake."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError(
            path, None, f"not UTF-8 text ({error.reason} at byte {error.start}); save it as UTF-8"
        ) from None
    except OSError as error:
        raise ConfigError(
            path, None, f"cannot read it ({error.strerror}); give the path of a lab .toml file"
        ) from None
    return parse_lab(text, path)


def parse_lab(text: str, path: str | Path = "<lab>") -> LabConfig:
    """Check the TOML text of a lab file; raise ConfigError on any mistake."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(path, None, f"not valid TOML: {error}") from None
    unknown = sorted(set(data) - {"database", "nodes", "web"})
    if unknown:
        raise ConfigError(
            path, unknown[0], "unknown section or key; a lab file has [database], [[nodes]], [web]"
        )
    database = _table(path, data, "database")
    _known_keys(path, database, "database", DATABASE_KEYS)
    storage = parse_storage(path, database, "database")
    lab = LabConfig(
        path=str(path),
        database_url=storage.database_url,
        nodes=[],
        table_prefix=storage.table_prefix,
        spool_path=storage.spool_path,
        spool_max_bytes=storage.spool_max_bytes,
        flush_interval=storage.flush_interval,
    )
    lab.nodes = _nodes(path, data.get("nodes", []))
    lab.web = _web(path, _table(path, data, "web"))
    return lab


def parse_storage(path: str | Path, table: dict, section: str) -> StorageSettings:
    """The database keys of ``table`` ([database] of a lab file, [record] of a node file).

    The default database and spool are files named after ``path``, beside it; relative paths
    are relative to its folder.
    """
    base = Path(path).resolve().parent
    stem = Path(path).stem
    url_text = _string(path, table, section, "url") or f"sqlite:///{stem}.db"
    try:
        url = database_url(url_text, base)
    except DatabaseURLError as error:
        raise ConfigError(path, f"{section}.url", str(error)) from None
    settings = StorageSettings(
        database_url=url.render_as_string(hide_password=False),
        spool_path=str(base / f"{stem}.spool"),
    )
    if "table_prefix" in table:
        prefix = _string(path, table, section, "table_prefix")
        if not prefix.replace("_", "a").isalnum() or not prefix.isascii() or len(prefix) > 30:
            raise ConfigError(
                path, f"{section}.table_prefix", f"got {prefix!r}; {DATABASE_KEYS['table_prefix']}"
            )
        settings.table_prefix = prefix
    if "spool" in table:
        settings.spool_path = str(base / _string(path, table, section, "spool"))
    if "spool_max_mb" in table:
        mb = _positive(path, table, f"{section}.spool_max_mb", DATABASE_KEYS["spool_max_mb"])
        settings.spool_max_bytes = int(mb * 1024 * 1024)
    if "flush_interval" in table:
        settings.flush_interval = _positive(
            path, table, f"{section}.flush_interval", DATABASE_KEYS["flush_interval"]
        )
    return settings


def parse_record(path: str | Path, table: Any) -> RecordSettings:
    """The ``[record]`` table of a node config file: where and what the node records itself."""
    if not isinstance(table, dict):
        raise ConfigError(path, "record", "expected a [record] table")
    _known_keys(path, table, "record", RECORD_KEYS)
    record = RecordSettings(
        storage=parse_storage(path, table, "record"), criteria=_criteria(path, table, "record")
    )
    channels = table.get("channels", {})
    if not isinstance(channels, dict) or not all(isinstance(c, dict) for c in channels.values()):
        raise ConfigError(path, "record.channels", "expected [record.channels.CODENAME] tables")
    for codename, criteria in channels.items():
        _known_keys(path, criteria, f"record.channels.{codename}", CRITERIA_KEYS)
        record.channels[codename] = _criteria(path, criteria, f"record.channels.{codename}")
    return record


def _nodes(path: str | Path, nodes: Any) -> list[NodeEntry]:
    if not isinstance(nodes, list) or not all(isinstance(n, dict) for n in nodes):
        raise ConfigError(path, "nodes", "expected [[nodes]] tables, one per node")
    entries: list[NodeEntry] = []
    for index, node in enumerate(nodes):
        section = f"nodes[{index}]"
        _known_keys(path, node, section, NODE_KEYS)
        address = _string(path, node, section, "address", required=True)
        host, port = parse_node_address(path, f"{section}.address", address)
        entry = NodeEntry(name=None, host=host, port=port)
        if "name" in node:
            entry.name = _string(path, node, section, "name")
            if not entry.name.strip() or len(entry.name) > 200 or not entry.name.isprintable():
                raise ConfigError(
                    path, f"{section}.name", "give the node a name of 1 to 200 printable characters"
                )
        if "interval" in node:
            entry.interval = _positive(path, node, f"{section}.interval", NODE_KEYS["interval"])
        entry.timeout = max(2.0, 3 * entry.interval)
        if "timeout" in node:
            entry.timeout = _positive(path, node, f"{section}.timeout", NODE_KEYS["timeout"])
        entry.criteria = _criteria(path, node, section)
        if "push" in node:
            given = _string(path, node, section, "push").strip()
            text = given
            if not ("]:" in text or text.count(":") == 1):  # no port: the push default
                text = f"[{text.strip('[]')}]:8500" if ":" in text else f"{text}:8500"
            try:
                entry.push = parse_node_address(path, f"{section}.push", text)
            except ConfigError:
                raise ConfigError(
                    path, f"{section}.push", f"got {given!r}; expected {NODE_KEYS['push']}"
                ) from None
        channels = node.get("channels", {})
        tables = isinstance(channels, dict) and all(isinstance(c, dict) for c in channels.values())
        if not tables:
            raise ConfigError(path, f"{section}.channels", f"expected {NODE_KEYS['channels']}")
        for codename, table in channels.items():
            where = f"{section}.channels.{codename}"
            _known_keys(path, table, where, CRITERIA_KEYS)
            entry.channels[codename] = _criteria(path, table, where)
        entries.append(entry)
    _unique(path, entries, lambda e: e.address, "address", "polls the same node twice")
    _unique(path, entries, lambda e: e.name, "name", "two nodes would share their rows")
    return entries


def _unique(path: str | Path, entries: list[NodeEntry], key, what: str, why: str) -> None:
    seen: dict[Any, int] = {}
    for index, entry in enumerate(entries):
        value = key(entry)
        if value is None:
            continue
        if value in seen:
            raise ConfigError(
                path,
                f"nodes[{index}].{what}",
                f"{value!r} is also nodes[{seen[value]}]'s {what} ({why}); give each node its own",
            )
        seen[value] = index


def parse_node_address(path: str | Path, key: str, address: str) -> tuple[str, int]:
    """``HOST[:PORT]`` -> (host, port); a numeric host must be a whole IP address."""
    text = address.strip()
    host, port_text = text, ""
    if text.startswith("["):
        host, closed, rest = text[1:].partition("]")
        if not closed or (rest and not rest.startswith(":")):
            raise ConfigError(path, key, f"got {address!r}; write an IPv6 address as [ADDR]:PORT")
        port_text = rest[1:] if rest else ""
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    port = DEFAULT_NODE_PORT
    if port_text or text.endswith(":"):
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ConfigError(path, key, f"got {address!r}; the port must be 1 to 65535")
        port = int(port_text)
    if not host:
        raise ConfigError(path, key, f"got {address!r}; expected {NODE_KEYS['address']}")
    looks_numeric = ":" in host or all(c.isdigit() or c == "." for c in host)
    if looks_numeric:
        try:
            host = str(ipaddress.ip_address(host))
        except ValueError:
            raise ConfigError(
                path, key, f"got {address!r}; {host!r} is not an IP address (write all four parts)"
            ) from None
    elif not all(c.isalnum() or c in "-." for c in host) or not host.isascii():
        raise ConfigError(path, key, f"got {address!r}; {host!r} is not a host name")
    return host, port


def _web(path: str | Path, web: dict) -> WebSettings:
    _known_keys(path, web, "web", WEB_KEYS)
    settings = WebSettings()
    if "host" in web:
        host = _string(path, web, "web", "host")
        try:
            settings.host = str(ipaddress.ip_address(host))
        except ValueError:
            if host != "localhost":
                raise ConfigError(
                    path, "web.host", f'got {host!r}; expected an IP address, e.g. "127.0.0.1"'
                ) from None
            settings.host = host
    if "port" in web:
        port = web["port"]
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise ConfigError(path, "web.port", f"got {port!r}; expected {WEB_KEYS['port']}")
        settings.port = port
    if "writes" in web:
        writes = web["writes"]
        if not isinstance(writes, bool):
            raise ConfigError(path, "web.writes", f"got {writes!r}; expected true or false")
        settings.writes = writes
    return settings


def _criteria(path: str | Path, table: dict, section: str) -> Criteria:
    values: dict[str, float | None] = {}
    for key in CRITERIA_KEYS:
        if key not in table:
            values[key] = None
            continue
        value = table[key]
        ok = _is_finite_number(value) and (value > 0 if key == "max_interval" else value >= 0)
        if not ok:
            raise ConfigError(path, f"{section}.{key}", f"got {value!r}; {CRITERIA_KEYS[key]}")
        values[key] = float(value)
    return Criteria(**values)


def _positive(path: str | Path, table: dict, key: str, expected: str) -> float:
    value = table[key.rpartition(".")[2]]
    if not _is_finite_number(value) or not value > 0:
        raise ConfigError(path, key, f"got {value!r}; expected {expected}")
    return float(value)


def _table(path: str | Path, data: dict, key: str) -> dict:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(path, key, f"expected a [{key}] table")
    return value


def _known_keys(path: str | Path, table: dict, section: str, keys: dict[str, str]) -> None:
    for key in table:
        if key not in keys:
            raise ConfigError(
                path, f"{section}.{key}", f"unknown key; [{section}] accepts {', '.join(keys)}"
            )
