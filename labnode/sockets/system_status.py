"""Facts about the host for the ``status`` reply, read from local files only (never the network)."""

from __future__ import annotations

import os
import platform
import socket
import sys
import time
from typing import Any


def _read_first_line(path: str) -> str | None:
    try:
        with open(path, encoding="ascii") as file:
            return file.readline()
    except OSError:
        return None


def _meminfo_kib() -> dict[str, int]:
    """MemTotal and MemAvailable in KiB from /proc/meminfo (empty where there is none)."""
    result: dict[str, int] = {}
    try:
        with open("/proc/meminfo", encoding="ascii") as file:
            for line in file:
                key, _, rest = line.partition(":")
                if key in ("MemTotal", "MemAvailable"):
                    result[key] = int(rest.split()[0])
                    if len(result) == 2:
                        break
    except (OSError, ValueError, IndexError):
        pass
    return result


def system_status(host_facts: bool = True) -> dict[str, Any]:
    """Host name, load, memory, uptime and Python version; cheap and local.

    With ``host_facts=False`` only the time: nothing that tells a stranger about the host.
    """
    if not host_facts:
        return {"time": time.time()}
    status: dict[str, Any] = {
        "hostname": socket.gethostname(),
        "python_version": platform.python_version(),
        "platform": sys.platform,
        "pid": os.getpid(),
        "time": time.time(),
    }
    try:
        status["load_average"] = list(os.getloadavg())
    except OSError:
        status["load_average"] = None
    uptime = _read_first_line("/proc/uptime")
    status["uptime"] = float(uptime.split()[0]) if uptime else None
    memory = _meminfo_kib()
    if memory:
        status["memory_total_mib"] = memory.get("MemTotal", 0) // 1024
        status["memory_available_mib"] = memory.get("MemAvailable", 0) // 1024
    return status
