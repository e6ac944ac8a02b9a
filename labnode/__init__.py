"""labnode: turn any lab instrument into a UDP network node."""

__version__ = "0.1.0"
