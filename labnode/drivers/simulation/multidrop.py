"""Several simulated devices on one line (RS-485 multi-drop), behind one server."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from labnode.drivers.simulation.model import DeviceModel


class MultiDropModel(DeviceModel):
    """Every request reaches each device on the line; what they answer goes back, in order.

    Devices addressed by a unit ID (Alicat units A..Z) stay silent unless addressed, so one
    answers. Each device keeps its own faults (`silent`, `garbage`); the line's own `silent`,
    `garbage` and `reply_delay` apply to all of them, as a cut or noisy cable would.
    `MultiDropModel([AlicatMassFlowModel(unit_id="A"), AlicatMassFlowModel(unit_id="B")])`.
    """

    name: ClassVar[str] = "multidrop"

    def __init__(self, devices: Sequence[DeviceModel]) -> None:
        if not devices:
            raise ValueError("a multi-drop line needs at least one device")
        self.devices = list(devices)
        self.write_termination = self.devices[0].write_termination  # type: ignore[misc]
        super().__init__()

    def respond(self, data: bytes) -> bytes:
        """Feed the bytes to every device; join their replies."""
        self.requests_seen += 1
        return b"".join(device.feed(data) for device in self.devices)

    def _forget_input(self) -> None:
        for device in self.devices:
            device.reset_input()
