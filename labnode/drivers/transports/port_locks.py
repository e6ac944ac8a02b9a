"""One re-entrant lock per physical port, so writes and reads of two users never interleave."""

from __future__ import annotations

import os
import re
import threading

_registry_lock = threading.Lock()
_locks: dict[str, threading.RLock] = {}

_VISA_TCPIP_SOCKET = re.compile(r"^TCPIP\d*::(?P<host>[^:]+)::(?P<port>\d+)::SOCKET$", re.I)
_VISA_ASRL = re.compile(r"^ASRL(?P<board>.+?)::INSTR$", re.I)
_SOCKET_URL = re.compile(r"^socket://(?P<host>\[[^\]]+\]|[^:/]+):(?P<port>\d+)", re.I)


def port_key(resource: str) -> str:
    """Return a normalized name of the physical port behind a serial URL/path or a VISA resource."""
    text = resource.strip()
    match = _VISA_TCPIP_SOCKET.match(text) or _SOCKET_URL.match(text)
    if match:
        return f"tcp:{match['host'].strip('[]').lower()}:{int(match['port'])}"
    match = _VISA_ASRL.match(text)
    if match and not match["board"].isdigit():
        return f"serial:{os.path.realpath(match['board'])}"
    if "://" in text:
        scheme, _, rest = text.partition("://")
        return f"{scheme.lower()}://{rest}"
    if "::" in text:
        return "visa:" + _normalize_visa_name(text)
    return f"serial:{os.path.realpath(text)}"


def _normalize_visa_name(name: str) -> str:
    try:
        from pyvisa.rname import parse_resource_name

        return str(parse_resource_name(name.upper())).upper()
    except Exception:  # an alias or a name pyvisa cannot parse: keep it as written
        return name.upper()


def lock_for(resource: str) -> threading.RLock:
    """Return the lock shared by every transport opened on the same physical port."""
    key = port_key(resource)
    with _registry_lock:
        lock = _locks.get(key)
        if lock is None:
            lock = _locks[key] = threading.RLock()
        return lock


#: Open transports of this process per exclusively locked device (they share its flock).
_exclusive_users: dict[str, int] = {}


def exclusive_users(key: str) -> int:
    """How many transports of this process have the device ``key`` open exclusively."""
    with _registry_lock:
        return _exclusive_users.get(key, 0)


def count_exclusive(key: str, delta: int) -> None:
    """Count a transport that opened (+1) or closed (-1) the exclusively locked device ``key``."""
    with _registry_lock:
        users = _exclusive_users.get(key, 0) + delta
        if users > 0:
            _exclusive_users[key] = users
        else:
            _exclusive_users.pop(key, None)
