"""A PyMeasure Adapter over a labnode transport (this module imports PyMeasure)."""

from __future__ import annotations

import logging
from typing import Any

from pymeasure.adapters import Adapter

from labnode.drivers.errors import InstrumentTimeout
from labnode.drivers.transports import Transport


class TransportAdapter(Adapter):
    """PyMeasure's reads and writes through a labnode transport (its lock, errors, stale input).

    `connection` is the pyvisa resource, for instruments that configure it directly; closing
    the adapter does nothing, as the transport owns the resource and closes it.
    """

    def __init__(self, transport: Transport, connection: Any) -> None:
        super().__init__()
        self.transport = transport
        self.connection = connection

    def close(self) -> None:
        """Nothing to close: the transport owns the connection."""

    def _write(self, command: str, **kwargs: Any) -> None:
        self.transport.write(command)

    def _read(self, **kwargs: Any) -> str:
        return self.transport.read()

    def _write_bytes(self, content: bytes, **kwargs: Any) -> None:
        self.transport.write_bytes(content)

    def _read_bytes(self, count: int, break_on_termchar: bool = False, **kwargs: Any) -> bytes:
        transport = self.transport
        if count >= 0 and not break_on_termchar:
            return transport.read_bytes(count)
        if break_on_termchar and transport.read_termination:
            return transport.read_until(transport.read_termination.encode(transport.encoding))
        data = b""  # everything until the instrument falls quiet, as VISAAdapter reads it
        while count < 0 or len(data) < count:
            try:
                data += transport.read_bytes(1)
            except InstrumentTimeout:
                break
        return data

    def flush_read_buffer(self) -> None:
        self.transport.flush_input()

    def __repr__(self) -> str:
        return f"<TransportAdapter {self.transport!r}>"


def disarm(adapter: Adapter) -> None:
    """Stop a PyMeasure VISAAdapter from closing what a transport has taken over.

    VISAAdapter closes its connection when it is closed or garbage-collected, and for '@sim'
    its ResourceManager too: labnode's, shared with every other '@sim' driver in the process.
    """
    for owned in ("connection", "manager"):
        vars(adapter).pop(owned, None)


def drop_repeated_null_handlers(logger: logging.Logger) -> None:
    """Keep one NullHandler on a PyMeasure adapter logger.

    Every PyMeasure Adapter adds a NullHandler to its logger ("Adapter") when it is built, two
    per (re)connect here: without this a node that reconnects all week grows that list for ever.
    """
    nulls = [handler for handler in logger.handlers if type(handler) is logging.NullHandler]
    for handler in nulls[1:]:
        logger.removeHandler(handler)
