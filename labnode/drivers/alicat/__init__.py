"""Alicat Scientific mass flow meters and controllers (simulation in mass_flow_sim)."""

from labnode.drivers.alicat.mass_flow import AlicatMassFlow

__all__ = ["AlicatMassFlow"]
