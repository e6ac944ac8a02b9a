"""Keysight (formerly Agilent) instruments."""
