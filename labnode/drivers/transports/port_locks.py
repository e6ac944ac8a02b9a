"""One re-entrant lock per physical port, so writes and reads of two users never interleave."""

from __future__ import annotations

import logging
import os
import re
import threading
from typing import Any

log = logging.getLogger(__name__)

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
        from labnode.drivers.transports.visa_library import normalize_visa_name

        return "visa:" + normalize_visa_name(text)
    return f"serial:{os.path.realpath(text)}"


def lock_for(resource: str) -> threading.RLock:
    """Return the lock shared by every transport opened on the same physical port."""
    key = port_key(resource)
    with _registry_lock:
        lock = _locks.get(key)
        if lock is None:
            lock = _locks[key] = threading.RLock()
        return lock


#: The open ports (pyserial objects with ``.fd``) of this process per exclusively locked device,
#: in opening order: the first holds the device's advisory lock (pyserial's ``exclusive=True``).
_exclusive_ports: dict[str, list[Any]] = {}


def exclusive_users(key: str) -> int:
    """How many transports of this process have the device ``key`` open exclusively."""
    with _registry_lock:
        return len(_exclusive_ports.get(key, ()))


def join_exclusive(key: str, port: Any) -> None:
    """Count ``port`` (just opened) among the users of the exclusively locked device ``key``."""
    with _registry_lock:
        _exclusive_ports.setdefault(key, []).append(port)


def leave_exclusive(key: str, port: Any) -> None:
    """Forget ``port`` (just closed). If it held the device's lock and other ports of this
    process still have the device open, the next one takes the lock, so the device stays locked
    against other processes for as long as any transport here uses it."""
    with _registry_lock:
        ports = _exclusive_ports.get(key)
        if not ports or not any(p is port for p in ports):
            return
        held = ports[0] is port
        ports[:] = [p for p in ports if p is not port]
        if not ports:
            del _exclusive_ports[key]
            return
        heir = ports[0]
    if held:
        _take_over_lock(key, heir)


def _take_over_lock(key: str, heir: Any) -> None:
    import fcntl  # POSIX only; Windows opens COM ports exclusively by itself

    try:
        fcntl.flock(heir.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except (OSError, TypeError, AttributeError) as error:  # taken meanwhile, or no fd
        log.warning(
            "%s: could not keep the exclusive lock of the port after one of its users closed "
            "it (%s); another process may open it now",
            key,
            error,
        )
