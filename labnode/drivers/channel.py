"""What one codename means: its unit, a description, whether and within what it can be written."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Channel:
    """One codename a driver serves: `Channel("volt", "V", "output voltage", writable=True)`.

    `min`/`max` bound what `Driver.set_value` accepts (None: no bound known). A driver lists its
    channels in `channels`; its `codenames` are their names, in that order.
    """

    name: str
    unit: str | None = None
    description: str = ""
    writable: bool = False
    min: float | None = None
    max: float | None = None

    def limit_problem(self, value: float) -> str | None:
        """Why `value` is outside [min, max] ("above max 6"), or None when it is inside."""
        if self.min is not None and value < self.min:
            return f"below min {self.min:g}"
        if self.max is not None and value > self.max:
            return f"above max {self.max:g}"
        return None
