"""Alicat Scientific instruments: mass flow meters and controllers (ASCII, polling mode)."""
