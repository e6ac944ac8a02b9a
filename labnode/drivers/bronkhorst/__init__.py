"""Bronkhorst digital flow instruments over FLOW-BUS propar ASCII (simulation beside)."""

from labnode.drivers.bronkhorst.propar import BronkhorstPropar

__all__ = ["BronkhorstPropar"]
