"""Node config files: one TOML file per node, checked with messages that say what to fix."""

from __future__ import annotations

import ipaddress
import os
import stat
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labnode.codenames import RULE, codename_problem
from labnode.sockets.access import AllowListError, parse_networks
from labnode.values import (
    DEFAULT_PORT,
    DEFAULT_PUSH_PORT,
    MAX_INTERVAL,
    check_seconds,
    is_finite_number,
    is_port,
)

from .errors import SettingError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

NODE_KEYS = {
    "name": 'a name for the node, e.g. "psu on bench 3"',
    "host": 'the address to bind: \'\' or "0.0.0.0" for all interfaces, "127.0.0.1" for local',
    "port": "a UDP port number from 0 to 65535 (default 9000; 0 = any free port)",
    "interval": "seconds between readings, a finite number >= 0 (default 1.0)",
    "timeout": "seconds after which a value is OLD_DATA: a finite number > 0, or a table "
    "{codename = seconds}",
    "codenames": "a non-empty list of codename strings (only for drivers that do not declare "
    "theirs)",
    "reconnect_max": "the longest wait in seconds between reconnect attempts (default 5.0)",
    "allow": 'the client networks answered, a list in CIDR notation such as ["10.0.0.0/24", '
    '"127.0.0.1"] (default: everyone)',
    "status_host_facts": "true or false: whether `status` tells the host's name, load and "
    "uptime (default true)",
}

PUSH_KEYS = {
    "port": "a UDP port number from 0 to 65535 (default 8500; 0 = any free port)",
    "host": 'the address to bind: \'\' or "0.0.0.0" for all interfaces, "127.0.0.1" for local '
    "(default: the node's host)",
    "allow": "the client networks that may write, a list in CIDR notation such as "
    '["10.0.0.0/24", "127.0.0.1"] (default ["127.0.0.1"]: this machine only)',
}
#: Who may write to a node's push socket when [push] does not say: this machine only.
DEFAULT_PUSH_ALLOW = ["127.0.0.1"]

#: The largest value of each [node] key in seconds (bounded so that waits cannot overflow).
MAX_SECONDS = {"interval": MAX_INTERVAL, "timeout": 86400.0 * 365, "reconnect_max": 3600.0}

#: The largest config file read, in bytes; node files are a few hundred bytes.
MAX_CONFIG_BYTES = 1 << 20


class ConfigError(SettingError):
    """A config file is wrong; the message names the file, the key and what is expected."""

    def __init__(self, path: str | Path, key: str | None, problem: str) -> None:
        self.path = str(path)
        where = f"{self.path}: " + (f"{key}: " if key else "")
        super().__init__(key, problem, where + problem)


@dataclass
class PushConfig:
    """The [push] table: a node takes setpoints only when its config has one."""

    port: int = DEFAULT_PUSH_PORT
    host: str | None = None
    allow: list[str] = field(default_factory=lambda: list(DEFAULT_PUSH_ALLOW))


@dataclass
class DriverConfig:
    """One driver to build: a [driver] table (key "driver") or a [[driver]] entry ("driver[1]").

    ``prefix`` goes before each of the driver's codenames; it is the node's, not the driver's.
    """

    type: str
    resource: str
    options: dict[str, Any] = field(default_factory=dict)
    prefix: str = ""
    key: str = "driver"


@dataclass
class NodeConfig:
    """What a config file says: the node's settings and the drivers to build.

    ``driver_type``, ``resource`` and ``driver_options`` are the first (or only) driver's;
    ``drivers`` holds every one, in file order.
    """

    path: str
    driver_type: str
    resource: str
    driver_options: dict[str, Any] = field(default_factory=dict)
    drivers: list[DriverConfig] = field(default_factory=list)
    name: str | None = None
    host: str = ""
    port: int = DEFAULT_PORT
    interval: float = 1.0
    timeout: float | dict[str, float] | None = None
    codenames: list[str] | None = None
    reconnect_max: float = 5.0
    allow: list[str] | None = None
    status_host_facts: bool | None = None
    push: PushConfig | None = None
    #: [channels.NAME] tables: unit, description, min, max per codename (overrides the driver's).
    channels: dict[str, dict[str, Any]] = field(default_factory=dict)
    record: Any = None  # RecordSettings from a [record] table (labnode.apps.lab_config)


def load_config(path: str | Path) -> NodeConfig:
    """Read and check a node config file; raise ConfigError on any mistake."""
    path = Path(path)
    data = _read_regular_file(path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError(
            path, None, f"not UTF-8 text ({error.reason} at byte {error.start}); save it as UTF-8"
        ) from None
    return parse_config(text, path)


def _read_regular_file(path: Path) -> bytes:
    """The bytes of a regular file of at most MAX_CONFIG_BYTES; never blocks on a FIFO."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except FileNotFoundError:
        raise ConfigError(path, None, "no such file; give the path of a node's .toml file") from (
            None
        )
    except IsADirectoryError:
        raise ConfigError(
            path, None, "is a directory; give the path of a node's .toml file"
        ) from None
    except OSError as error:
        raise ConfigError(path, None, f"cannot read it: {error.strerror}") from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise ConfigError(path, None, "is a directory; give the path of a node's .toml file")
        if not stat.S_ISREG(mode):
            raise ConfigError(
                path, None, f"is {_file_kind(mode)}, not a regular file; give a node's .toml file"
            )
        with os.fdopen(os.dup(fd), "rb") as file:
            data = file.read(MAX_CONFIG_BYTES + 1)
    except OSError as error:
        raise ConfigError(path, None, f"cannot read it: {error.strerror}") from None
    finally:
        os.close(fd)
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(
            path,
            None,
            f"larger than {MAX_CONFIG_BYTES >> 20} MiB; is it really a node's .toml file?",
        )
    return data


def _file_kind(mode: int) -> str:
    for test, kind in (
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return kind
    return "not a regular file"


def parse_config(text: str, path: str | Path = "<config>") -> NodeConfig:
    """Check the TOML text of a node config; raise ConfigError on any mistake."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(path, None, f"not valid TOML: {error}") from None
    unknown = sorted(set(data) - {"node", "driver", "push", "channels", "record"})
    if unknown:
        raise ConfigError(
            path,
            unknown[0],
            "unknown section or key; a node file has [node], [driver], [push], [record] and "
            "[channels.NAME] tables",
        )
    node = data.get("node", {})
    if not isinstance(node, dict):
        raise ConfigError(path, "node", "expected a [node] table")
    drivers = _drivers(path, data.get("driver"))
    for key in node:
        if key not in NODE_KEYS:
            accepted = ", ".join(NODE_KEYS)
            raise ConfigError(path, f"node.{key}", f"unknown key; [node] accepts {accepted}")
    first = drivers[0]
    config = NodeConfig(
        path=str(path),
        driver_type=first.type,
        resource=first.resource,
        driver_options=first.options,
        drivers=drivers,
    )
    if "name" in node:
        config.name = _string(path, node, "node", "name")
    if "host" in node:
        config.host = _host(path, _string(path, node, "node", "host"))
    if "port" in node:
        config.port = _port(path, node["port"], "node.port", NODE_KEYS["port"])
    if "interval" in node:
        config.interval = _seconds(path, node, "interval", minimum_inclusive=True)
    if "reconnect_max" in node:
        config.reconnect_max = _seconds(path, node, "reconnect_max")
    if "timeout" in node:
        config.timeout = _timeout(path, node["timeout"])
    if "codenames" in node:
        codenames = node["codenames"]
        if (
            not isinstance(codenames, list)
            or not codenames
            or not all(isinstance(c, str) for c in codenames)
        ):
            raise ConfigError(
                path, "node.codenames", f"got {codenames!r}; expected {NODE_KEYS['codenames']}"
            )
        config.codenames = codenames
    if "allow" in node:
        config.allow = _allow(path, node["allow"])
    if "status_host_facts" in node:
        facts = node["status_host_facts"]
        if not isinstance(facts, bool):
            raise ConfigError(
                path,
                "node.status_host_facts",
                f"got {facts!r}; expected {NODE_KEYS['status_host_facts']}",
            )
        config.status_host_facts = facts
    if "push" in data:
        config.push = _push(path, data["push"])
    if "channels" in data:
        config.channels = _channels(path, data["channels"])
    if "record" in data:
        from .lab_config import parse_record  # lab_config builds on this module

        config.record = parse_record(path, data["record"])
    return config


#: What a [channels.NAME] table may set.
CHANNEL_KEYS = {
    "unit": 'the unit, a string such as "V" or "mbar"',
    "description": "what the value is, a string",
    "min": "the lowest value a write may set, a finite number",
    "max": "the highest value a write may set, a finite number",
}


def _channels(path: Path | str, tables: Any) -> dict[str, dict[str, Any]]:
    """The [channels.NAME] tables: unit, description, min, max, checked key by key."""
    if not isinstance(tables, dict):
        raise ConfigError(
            path, "channels", f'got {tables!r}; expected tables such as [channels.volt] unit = "V"'
        )
    result: dict[str, dict[str, Any]] = {}
    for codename, table in tables.items():
        where = f"channels.{codename}"
        if not isinstance(table, dict):
            raise ConfigError(
                path, where, f"got {table!r}; expected a table of {', '.join(CHANNEL_KEYS)}"
            )
        for key, value in table.items():
            if key not in CHANNEL_KEYS:
                raise ConfigError(
                    path, f"{where}.{key}", f"unknown key; accepted: {', '.join(CHANNEL_KEYS)}"
                )
            ok = (
                isinstance(value, str)
                if key in ("unit", "description")
                else (is_finite_number(value))
            )
            if not ok:
                raise ConfigError(
                    path, f"{where}.{key}", f"got {value!r}; expected {CHANNEL_KEYS[key]}"
                )
        if "min" in table and "max" in table and table["min"] > table["max"]:
            raise ConfigError(
                path, f"{where}.min", f"min {table['min']!r} is above max {table['max']!r}"
            )
        result[codename] = dict(table)
    return result


def _drivers(path: Path | str, driver: Any) -> list[DriverConfig]:
    """A [driver] table, or the entries of a [[driver]] array (several instruments)."""
    if driver is None:
        raise ConfigError(
            path,
            "driver",
            'missing [driver] table; add one with type = "..." and resource = "..." '
            "(see docs/config.md; `labnode drivers` lists the types)",
        )
    if isinstance(driver, dict):
        return [_driver(path, driver, "driver")]
    if isinstance(driver, list) and driver and all(isinstance(d, dict) for d in driver):
        return [_driver(path, entry, f"driver[{i}]") for i, entry in enumerate(driver)]
    raise ConfigError(
        path,
        "driver",
        f'got {driver!r}; expected a [driver] table with type = "..." and resource = "...", '
        "or [[driver]] tables, one per instrument",
    )


def _driver(path: Path | str, table: dict, key: str) -> DriverConfig:
    """One driver table: type, resource, the node's prefix, and the driver's own keys."""
    prefix = table.get("prefix", "")
    problem = codename_problem(prefix) if prefix != "" else None
    if problem is not None:
        raise ConfigError(
            path,
            f"{key}.prefix",
            f"got {prefix!r}, which {problem}; expected text put before each of this driver's "
            f'codenames, such as "mfc1_" ({RULE})',
        )
    for required in ("type", "resource"):
        if key != "driver" and required not in table:  # not "[driver[1]] needs ..."
            raise ConfigError(
                path, f"{key}.{required}", f'missing; each [[driver]] needs {required} = "..."'
            )
    return DriverConfig(
        type=_string(path, table, key, "type", required=True),
        resource=_string(path, table, key, "resource", required=True),
        options={k: v for k, v in table.items() if k not in ("type", "resource", "prefix")},
        prefix=prefix,
        key=key,
    )


def _push(path: Path | str, push: Any) -> PushConfig:
    """The [push] table: port, host, allow."""
    if not isinstance(push, dict):
        raise ConfigError(
            path, "push", f"got {push!r}; expected a [push] table (port, host, allow)"
        )
    for key in push:
        if key not in PUSH_KEYS:
            accepted = ", ".join(PUSH_KEYS)
            raise ConfigError(path, f"push.{key}", f"unknown key; [push] accepts {accepted}")
    config = PushConfig()
    if "port" in push:
        config.port = _port(path, push["port"], "push.port", PUSH_KEYS["port"])
    if "host" in push:
        config.host = _host(path, _string(path, push, "push", "host"), key="push.host")
    if "allow" in push:
        config.allow = _allow(path, push["allow"], key="push.allow", expected=PUSH_KEYS["allow"])
    return config


def _port(path: Path | str, port: Any, key: str, expected: str) -> int:
    if not is_port(port):
        raise ConfigError(path, key, f"got {port!r}; expected {expected}")
    return port


def _host(path: Path | str, host: str, key: str = "node.host") -> str:
    """The address to bind: '' (all), "localhost" or an IP address; never looked up by name."""
    if host in ("", "0.0.0.0"):
        return ""
    if host == "localhost":
        return "127.0.0.1"
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        raise ConfigError(
            path,
            key,
            f'got {host!r}; expected an IP address of this machine, such as "127.0.0.1" or '
            '"192.168.1.20", or "" for all interfaces (host names are not accepted)',
        ) from None


def _allow(
    path: Path | str, value: Any, key: str = "node.allow", expected: str = NODE_KEYS["allow"]
) -> list[str]:
    if not isinstance(value, list) or not value:
        raise ConfigError(path, key, f"got {value!r}; expected {expected}")
    try:
        parse_networks(value)
    except AllowListError as error:
        raise ConfigError(path, key, str(error)) from None
    return list(value)


def _string(path: Path | str, table: dict, section: str, key: str, required: bool = False) -> str:
    if key not in table:
        if required:
            raise ConfigError(path, f"{section}.{key}", f'missing; [{section}] needs {key} = "..."')
        return ""
    value = table[key]
    if not isinstance(value, str):
        raise ConfigError(path, f"{section}.{key}", f"got {value!r}; expected a quoted string")
    return value


def _seconds(path: Path | str, node: dict, key: str, minimum_inclusive: bool = False) -> float:
    value = node[key]
    try:
        seconds = check_seconds(value, positive=not minimum_inclusive)
    except ValueError:
        raise ConfigError(
            path, f"node.{key}", f"got {value!r}; expected {NODE_KEYS[key]}"
        ) from None
    if seconds > MAX_SECONDS[key]:
        raise ConfigError(
            path, f"node.{key}", f"got {value:g}; at most {MAX_SECONDS[key]:g} seconds"
        )
    return seconds


def _timeout(path: Path | str, value: Any) -> float | dict[str, float]:
    if isinstance(value, dict):
        result = {}
        for codename, seconds in value.items():
            try:
                result[codename] = check_seconds(
                    seconds, positive=True, maximum=MAX_SECONDS["timeout"]
                )
            except ValueError:
                raise ConfigError(
                    path,
                    f"node.timeout.{codename}",
                    f"got {seconds!r}; expected seconds > 0, at most {MAX_SECONDS['timeout']:g}",
                ) from None
        return result
    try:
        seconds = check_seconds(value, positive=True)
    except ValueError:
        raise ConfigError(
            path, "node.timeout", f"got {value!r}; expected {NODE_KEYS['timeout']}"
        ) from None
    if seconds > MAX_SECONDS["timeout"]:
        raise ConfigError(
            path, "node.timeout", f"got {value!r}; at most {MAX_SECONDS['timeout']:g} seconds"
        )
    return seconds
