"""Pfeiffer Vacuum instruments: the TPG 261/262 gauge controllers."""
