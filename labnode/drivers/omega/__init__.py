"""Omega iSeries / CNi temperature and process meters and controllers (simulation beside)."""

from labnode.drivers.omega.iseries import OmegaISeries

__all__ = ["OmegaISeries"]
