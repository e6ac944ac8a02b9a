"""The VISA transport of the PyMeasure driver: PyMeasure opens the resource, labnode talks on it.

`PyMeasureTransport.open()` builds the PyMeasure instrument, which opens its pyvisa resource
with the instrument's own connection defaults and the user's keywords (`asrl={...}`,
`read_termination`, `timeout` in ms, `baud_rate`, ...), on labnode's pyvisa library (the same
ResourceManager as labnode's VISA drivers). The transport then adopts that resource, as if it
had opened it itself, and the instrument's adapter is replaced by a `TransportAdapter`, so every
exchange PyMeasure makes goes through `VisaTransport`: the per-port lock, a late reply dropped
after a timeout, InstrumentTimeout / ConnectionLost, `last_command` / `last_reply`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from labnode.drivers.errors import one_line
from labnode.drivers.transports import VisaTransport

if TYPE_CHECKING:
    import pyvisa
    import pyvisa.resources


class PyMeasureTransport(VisaTransport):
    """A VISA resource opened by a PyMeasure instrument (`instrument_class`, `instrument_settings`).

    `instrument` is the constructed PyMeasure instrument while the resource is open, else None.
    """

    def __init__(self, resource: str, *, owner: str = "Driver", **settings: Any) -> None:
        super().__init__(resource, owner=owner, **settings)
        self.instrument_class: type | None = None
        self.instrument_settings: dict[str, Any] = {}
        self.instrument: Any = None

    def _open_resource(self, manager: pyvisa.ResourceManager) -> pyvisa.resources.Resource:
        if self.instrument_class is None:
            raise self.checks.error("instrument", "no PyMeasure instrument class was given")
        try:
            instrument = self.instrument_class(
                self.resource, visa_library=manager.visalib, **self.instrument_settings
            )
        except TypeError as error:  # the keywords were checked against its signature: its own
            raise self.checks.error(
                "instrument",
                f"{self.instrument_class.__name__}({self.resource!r}, ...) refused its "
                f"keywords: {one_line(error)}",
            ) from error
        from labnode.drivers.pymeasure.adapter import (
            TransportAdapter,
            disarm,
            drop_repeated_null_handlers,
        )

        visa_adapter = instrument.adapter
        resource = visa_adapter.connection
        disarm(visa_adapter)
        instrument.adapter = TransportAdapter(self, resource)
        for logger in {visa_adapter.log, instrument.adapter.log}:
            drop_repeated_null_handlers(logger)
        self.instrument = instrument
        return resource

    def _configure(self, instrument: pyvisa.resources.MessageBasedResource) -> None:
        """Take the settings PyMeasure gave the resource (nothing is changed on it)."""
        if not hasattr(instrument, "read_termination"):
            super()._configure(instrument)  # refuses a resource that is not message-based
        timeout = instrument.timeout
        self._timeout_seconds = math.inf if timeout is None else timeout / 1000
        self.read_termination = instrument.read_termination or ""
        self.write_termination = instrument.write_termination or ""
        self.encoding = instrument.encoding

    def close(self) -> None:
        """Close the resource and drop the instrument; idempotent."""
        with self.lock:
            self.instrument = None
            super().close()
