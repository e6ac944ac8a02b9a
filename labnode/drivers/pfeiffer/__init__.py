"""Pfeiffer Vacuum instruments: the TPG 261/262 gauge controllers (simulation in tpg26x_sim)."""

from labnode.drivers.pfeiffer.tpg26x import TPG26x

__all__ = ["TPG26x"]
