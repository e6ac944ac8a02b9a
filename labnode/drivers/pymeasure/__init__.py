"""Any PyMeasure instrument as a labnode driver (`type = "pymeasure"`); PyMeasure is optional."""

from labnode.drivers.pymeasure.driver import PyMeasureDriver

__all__ = ["PyMeasureDriver"]
