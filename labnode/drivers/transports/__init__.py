"""Transports move bytes to and from an instrument with one set of semantics, whatever is below."""

from labnode.drivers.transports.base import Transport
from labnode.drivers.transports.port_locks import lock_for, port_key
from labnode.drivers.transports.serial_transport import SerialTransport
from labnode.drivers.transports.visa_library import resource_manager
from labnode.drivers.transports.visa_transport import VisaTransport

__all__ = [
    "SerialTransport",
    "Transport",
    "VisaTransport",
    "lock_for",
    "port_key",
    "resource_manager",
    "transport_for",
]

_VISA_PREFIXES = ("GPIB", "ASRL", "TCPIP", "USB", "VXI", "PXI", "VICP", "PRLGX")


def transport_for(resource: str) -> type[Transport]:
    """Pick VisaTransport for VISA resource names (GPIB::8::INSTR, USB0::...), else serial."""
    text = resource.strip().upper()
    if "::" in text and "://" not in text and text.startswith(_VISA_PREFIXES):
        return VisaTransport
    return SerialTransport
