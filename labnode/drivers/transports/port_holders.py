"""Which processes hold a device open: read from /proc, to name the other user of a busy port."""

from __future__ import annotations

import os

from labnode.drivers.errors import ConnectionLost

#: Processes looked at, at most (the scan runs only when a port is found busy).
MAX_PROCESSES = 10000
#: Characters of a holder's command line that are shown.
MAX_COMMAND = 120


def port_holders(path: str, proc: str = "/proc") -> list[tuple[int, str]]:
    """``[(pid, command line), ...]`` of the processes with ``path`` open (Linux; else [])."""
    target = os.path.realpath(path)
    holders = []
    try:
        pids = [name for name in os.listdir(proc) if name.isdigit()][:MAX_PROCESSES]
    except OSError:
        return []
    for pid in pids:
        fd_dir = os.path.join(proc, pid, "fd")
        try:
            fds = os.listdir(fd_dir)
        except OSError:  # gone, or not ours to read
            continue
        for fd in fds:
            try:
                if os.readlink(os.path.join(fd_dir, fd)) == target:
                    holders.append((int(pid), _command(proc, pid)))
                    break
            except OSError:
                continue
    return holders


def describe_holders(path: str) -> str:
    """The other holders of ``path``, e.g. "pid 1234 (labnode serve gauge.toml)"; "another
    process" when /proc cannot tell (this process is named only when it is the only one)."""
    own = os.getpid()
    holders = port_holders(path)
    others = [(pid, command) for pid, command in holders if pid != own]
    if not others:
        return f"this process (pid {own})" if holders else "another process"
    return ", ".join(
        f"pid {pid} ({command})" if command else f"pid {pid}" for pid, command in others
    )


def _command(proc: str, pid: str) -> str:
    try:
        with open(os.path.join(proc, pid, "cmdline"), "rb") as file:
            raw = file.read(4 * MAX_COMMAND)
    except OSError:
        return ""
    text = raw.replace(b"\0", b" ").decode("utf-8", "replace").strip()
    text = "".join(c if c.isprintable() else "?" for c in text)
    return text[:MAX_COMMAND] + ("..." if len(text) > MAX_COMMAND else "")


def busy_port_error(device: str, resource: str, owner: str) -> ConnectionLost:
    """The error for a serial device that another process holds exclusively, naming it."""
    return ConnectionLost(
        f"{device} is in use by {describe_holders(device)}; two programs on one serial port "
        "steal each other's replies: stop the other one (or set exclusive = false if sharing "
        "the port is intended)",
        driver=owner,
        resource=resource,
    )


def lock_exclusively(fd: int, device: str, resource: str, owner: str) -> None:
    """Take the advisory lock pyserial's ``exclusive=True`` takes, or raise busy_port_error."""
    import fcntl  # POSIX only; Windows opens COM ports exclusively by itself

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise busy_port_error(device, resource, owner) from None
