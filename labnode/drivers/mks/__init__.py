"""MKS vacuum gauge controllers (937B, 946) over their `@aaa...;FF` serial protocol."""

from labnode.drivers.mks.mks937b import MKS937B

__all__ = ["MKS937B"]
