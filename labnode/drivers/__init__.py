"""Instrument drivers on one base interface, their transports, their simulators."""

from labnode.drivers.base import Driver, SerialDriver, VisaDriver
from labnode.drivers.channel import Channel
from labnode.drivers.errors import (
    ConnectionLost,
    DriverConfigError,
    DriverError,
    InstrumentTimeout,
    ReplyParseError,
    UnknownDriverError,
    WriteRefused,
)
from labnode.drivers.registry import list_drivers, register_driver, resolve_driver, simulation_yaml
from labnode.drivers.simulation import urlhandler
from labnode.drivers.transports import SerialTransport, Transport, VisaTransport

urlhandler.register()  # serial_for_url opens sim://MODEL: an in-memory simulated device

__all__ = [
    "Channel",
    "ConnectionLost",
    "Driver",
    "DriverConfigError",
    "DriverError",
    "InstrumentTimeout",
    "ReplyParseError",
    "SerialDriver",
    "SerialTransport",
    "Transport",
    "UnknownDriverError",
    "VisaDriver",
    "VisaTransport",
    "WriteRefused",
    "list_drivers",
    "register_driver",
    "resolve_driver",
    "simulation_yaml",
]
