"""Values that move with time and noise, deterministic for a given seed and clock."""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable

Clock = Callable[[], float]


class PumpDownPressure:
    """A pressure that falls from `start` toward `base` like a pumped chamber, with noise.

    log10(p) relaxes exponentially with time constant `tau` seconds; each reading carries
    multiplicative noise of relative size `noise` (log-normal), drawn from a seeded generator.
    """

    def __init__(
        self,
        start: float = 1000.0,
        base: float = 2.0e-7,
        tau: float = 20.0,
        noise: float = 0.02,
        seed: int | None = None,
        clock: Clock = time.monotonic,
    ) -> None:
        if start <= 0 or base <= 0:
            raise ValueError(f"pressures must be positive, got start={start}, base={base}")
        self.start = start
        self.base = base
        self.tau = tau
        self.noise = noise
        self._random = random.Random(seed)
        self._clock = clock
        self._t0 = clock()

    def restart(self, start: float | None = None) -> None:
        """Vent to `start` (default: the initial start) and pump down again from now."""
        if start is not None:
            self.start = start
        self._t0 = self._clock()

    def noiseless(self) -> float:
        """The pressure now without noise."""
        elapsed = max(0.0, self._clock() - self._t0)
        lo, hi = math.log10(self.base), math.log10(self.start)
        weight = math.exp(-elapsed / self.tau) if self.tau > 0 else 0.0
        return 10.0 ** (lo + (hi - lo) * weight)

    def read(self) -> float:
        """The pressure now, with noise."""
        return self.noiseless() * math.exp(self._random.gauss(0.0, self.noise))


class SettlingValue:
    """A value that follows its `target` with a first-order lag (`tau` s) plus Gaussian noise."""

    def __init__(
        self,
        value: float,
        noise: float = 0.0,
        tau: float = 0.0,
        seed: int | None = None,
        clock: Clock = time.monotonic,
    ) -> None:
        self._value = float(value)
        self._target = float(value)
        self.noise = noise
        self.tau = tau
        self._random = random.Random(seed)
        self._clock = clock
        self._t_last = clock()

    @property
    def target(self) -> float:
        """Where the value is heading."""
        return self._target

    @target.setter
    def target(self, target: float) -> None:
        self._advance()
        self._target = float(target)

    def _advance(self) -> None:
        now = self._clock()
        elapsed = max(0.0, now - self._t_last)
        self._t_last = now
        if self.tau <= 0:
            self._value = self._target
        else:
            self._value = self._target + (self._value - self._target) * math.exp(
                -elapsed / self.tau
            )

    def noiseless(self) -> float:
        """The value now without noise."""
        self._advance()
        return self._value

    def read(self) -> float:
        """The value now, with noise."""
        return self.noiseless() + self._random.gauss(0.0, self.noise)
