"""Node config files: one TOML file per instrument, checked with messages that say what to fix."""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
}


class ConfigError(Exception):
    """A config file is wrong; the message names the file, the key and what is expected."""

    def __init__(self, path: str | Path, key: str | None, problem: str) -> None:
        self.path = str(path)
        self.key = key
        self.problem = problem
        where = f"{self.path}: " + (f"{key}: " if key else "")
        super().__init__(where + problem)


@dataclass
class NodeConfig:
    """What a config file says: the node's settings and the driver to build."""

    path: str
    driver_type: str
    resource: str
    driver_options: dict[str, Any] = field(default_factory=dict)
    name: str | None = None
    host: str = ""
    port: int = 9000
    interval: float = 1.0
    timeout: float | dict[str, float] | None = None
    codenames: list[str] | None = None
    reconnect_max: float = 5.0
    record: Any = None  # RecordSettings from a [record] table (labnode.apps.lab_config)


def load_config(path: str | Path) -> NodeConfig:
    """Read and check a node config file; raise ConfigError on any mistake."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(path, None, "no such file; give the path of a node's .toml file") from (
            None
        )
    except UnicodeDecodeError as error:
        raise ConfigError(
            path, None, f"not UTF-8 text ({error.reason} at byte {error.start}); save it as UTF-8"
        ) from None
    except IsADirectoryError:
        raise ConfigError(
            path, None, "is a directory; give the path of a node's .toml file"
        ) from None
    except OSError as error:
        raise ConfigError(path, None, f"cannot read it: {error.strerror}") from None
    return parse_config(text, path)


def parse_config(text: str, path: str | Path = "<config>") -> NodeConfig:
    """Check the TOML text of a node config; raise ConfigError on any mistake."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(path, None, f"not valid TOML: {error}") from None
    unknown = sorted(set(data) - {"node", "driver", "record"})
    if unknown:
        raise ConfigError(
            path,
            unknown[0],
            "unknown section or key; a node file has [node], [driver] and [record] tables",
        )
    node = data.get("node", {})
    driver = data.get("driver")
    if not isinstance(node, dict):
        raise ConfigError(path, "node", "expected a [node] table")
    if driver is None:
        raise ConfigError(
            path,
            "driver",
            'missing [driver] table; add one with type = "..." and resource = "..." '
            "(see docs/config.md; `labnode drivers` lists the types)",
        )
    if not isinstance(driver, dict):
        raise ConfigError(
            path,
            "driver",
            f'got {driver!r}; expected a [driver] table with type = "..." and resource = "..."',
        )
    for key in node:
        if key not in NODE_KEYS:
            accepted = ", ".join(NODE_KEYS)
            raise ConfigError(path, f"node.{key}", f"unknown key; [node] accepts {accepted}")
    config = NodeConfig(
        path=str(path),
        driver_type=_string(path, driver, "driver", "type", required=True),
        resource=_string(path, driver, "driver", "resource", required=True),
        driver_options={k: v for k, v in driver.items() if k not in ("type", "resource")},
    )
    if "name" in node:
        config.name = _string(path, node, "node", "name")
    if "host" in node:
        host = _string(path, node, "node", "host")
        config.host = "" if host == "0.0.0.0" else host
    if "port" in node:
        port = node["port"]
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise ConfigError(path, "node.port", f"got {port!r}; expected {NODE_KEYS['port']}")
        config.port = port
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
    if "record" in data:
        from .lab_config import parse_record  # lab_config builds on this module

        config.record = parse_record(path, data["record"])
    return config


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
    ok = _is_finite_number(value)
    if ok:
        ok = value >= 0 if minimum_inclusive else value > 0
    if not ok:
        raise ConfigError(path, f"node.{key}", f"got {value!r}; expected {NODE_KEYS[key]}")
    return float(value)


def _timeout(path: Path | str, value: Any) -> float | dict[str, float]:
    if isinstance(value, dict):
        result = {}
        for codename, seconds in value.items():
            if not _is_finite_number(seconds) or seconds <= 0:
                raise ConfigError(
                    path, f"node.timeout.{codename}", f"got {seconds!r}; expected seconds > 0"
                )
            result[codename] = float(seconds)
        return result
    if not _is_finite_number(value) or value <= 0:
        raise ConfigError(path, "node.timeout", f"got {value!r}; expected {NODE_KEYS['timeout']}")
    return float(value)


def _is_finite_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
