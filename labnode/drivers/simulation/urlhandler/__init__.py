"""pyserial URL handlers of labnode: `sim://NAME` (protocol_sim). See `register()`."""

from __future__ import annotations

PACKAGE = __name__


def register() -> None:
    """Let `serial.serial_for_url` open `sim://` URLs (idempotent; labnode.drivers runs it)."""
    import serial

    if PACKAGE not in serial.protocol_handler_packages:
        serial.protocol_handler_packages.append(PACKAGE)
