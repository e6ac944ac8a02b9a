"""In-memory simulated devices behind `sim://NAME` URLs: no thread, no file, no network.

`MemoryDeviceServer(model)` registers a device model under a name; pyserial's
`serial_for_url("sim://NAME")` (see `urlhandler/protocol_sim.py`) then opens a port whose writes
go straight to the model and whose reads return its replies, with the model's faults (`silent`,
`garbage`, `reply_delay`) and the server's (`vanish`, `come_back`, `drop_connections`), like
the pty and TCP servers but in memory, so driver tests run fast.

`sim://MODEL` for a model name of the catalog (`sim://alicat`, `sim://tpg26x?seed=3`) opens a
device created on first use with the query's options and kept for the process: the same URL is
the same device, as a port is.
"""

from __future__ import annotations

import itertools
import json
import threading
from typing import Protocol
from urllib.parse import parse_qsl, urlsplit

from labnode.drivers.simulation.catalog import create_model, model_names
from labnode.drivers.simulation.model import DeviceModel

SCHEME = "sim"

_registry_lock = threading.Lock()
_servers: dict[str, MemoryDeviceServer] = {}  # started by their owners, by name
_shared: dict[str, MemoryDeviceServer] = {}  # catalog models opened by URL, by "model?options"
_numbers = itertools.count(1)


class OpenPort(Protocol):
    """What a server needs of a port opened on it."""

    def hang_up(self) -> None: ...


class MemoryDeviceServer:
    """Serve `model` on `sim://NAME` (NAME: `name`, else the model's name and a number).

    `start()` registers it (a context manager too); `vanish()` hangs up the open ports and
    refuses opens until `come_back()`; `drop_connections()` hangs up the open ports only;
    `stop()` also unregisters the name.
    """

    def __init__(self, model: DeviceModel, name: str | None = None) -> None:
        self.model = model
        self.name = name if name is not None else f"{model.name}-{next(_numbers)}"
        self._present = False
        self._ports: set[OpenPort] = set()
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        """The pyserial URL of the simulated device."""
        return f"{SCHEME}://{self.name}"

    @property
    def is_listening(self) -> bool:
        """True while started and not vanished."""
        return self._present

    @property
    def connection_count(self) -> int:
        """How many ports are open on the device now."""
        return len(self._ports)

    def start(self) -> MemoryDeviceServer:
        """Register the name; returns self. A name already served is a ValueError."""
        with _registry_lock:
            other = _servers.get(self.name)
            if other is not None and other is not self:
                raise ValueError(f"{self.url} is already served by another simulated device")
            _servers[self.name] = self
        self._present = True
        return self

    def stop(self) -> None:
        """Hang up every port and unregister the name (idempotent)."""
        self.vanish()
        with _registry_lock:
            if _servers.get(self.name) is self:
                del _servers[self.name]

    def __enter__(self) -> MemoryDeviceServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def vanish(self) -> None:
        """Go away: open ports fail their next read or write, and opening fails."""
        self._present = False
        self.drop_connections()

    def come_back(self) -> None:
        """Accept opens again after `vanish()`."""
        self._present = True

    def drop_connections(self) -> None:
        """Hang up the open ports; the device stays there for new opens."""
        with self._lock:
            ports, self._ports = self._ports, set()
        for port in ports:
            port.hang_up()

    def attach(self, port: OpenPort) -> None:
        """Called by a port that opens; raises ConnectionRefusedError while vanished."""
        if not self._present:
            raise ConnectionRefusedError(f"{self.url}: the simulated device is gone (vanished)")
        with self._lock:
            self._ports.add(port)
        self.model.reset_input()

    def detach(self, port: OpenPort) -> None:
        """Called by a port that closes."""
        with self._lock:
            self._ports.discard(port)


def server_for_url(url: str) -> MemoryDeviceServer:
    """The device behind `sim://NAME[?option=value...]`; LookupError if there is none.

    A registered name wins; a catalog model name creates (once per URL) a device of that
    model with the query's options (JSON values, else strings: `?seed=3&unit_id=B`).
    """
    parts = urlsplit(url)
    if parts.scheme.lower() != SCHEME or not parts.netloc:
        raise LookupError(f"expected 'sim://NAME' such as 'sim://alicat', got {url!r}")
    shared_name = url.partition("://")[2]  # "alicat?seed=3": one device per URL
    with _registry_lock:
        server = _servers.get(parts.netloc) or _shared.get(shared_name)
        if server is not None:
            return server
    if parts.netloc not in model_names():
        raise LookupError(
            f"no simulated device at {url!r}: serve one with MemoryDeviceServer(model), or "
            f"give a model name: {', '.join('sim://' + name for name in model_names())}"
        )
    options = {key: _option_value(value) for key, value in parse_qsl(parts.query)}
    try:
        model = create_model(parts.netloc, **options)
    except (TypeError, ValueError) as error:
        raise LookupError(f"{url!r}: bad options for the {parts.netloc} model: {error}") from None
    server = MemoryDeviceServer(model, name=shared_name)
    server.come_back()  # present, without a name in the registry of started servers
    with _registry_lock:
        return _shared.setdefault(shared_name, server)


def _option_value(text: str) -> object:
    try:
        return json.loads(text)
    except ValueError:
        return text
