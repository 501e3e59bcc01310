"""Action noise not in Stable-Baselines3 (its ``ActionNoise`` interface, global numpy RNG
like SB3's own noise classes; our agents run them under private RNG states)."""

from __future__ import annotations

import numpy as np
from stable_baselines3.common.noise import ActionNoise


class UniformActionNoise(ActionNoise):
    """``U(-high, high)`` noise, e.g. DDAS-NL's ``U(-1e-5, 1e-5)`` (Mills 2020, Table 3.3).

    Args:
        shape: shape of one noise sample (the action shape).
        high: half-width of the interval.
    """

    def __init__(self, shape: tuple[int, ...], high: float):
        super().__init__()
        if high < 0:
            raise ValueError(f"uniform noise half-width must be >= 0, got {high!r}")
        self._shape = tuple(shape)
        self._high = float(high)

    def __call__(self) -> np.ndarray:
        return np.random.uniform(-self._high, self._high, self._shape).astype(np.float32)

    def __repr__(self) -> str:
        return f"UniformActionNoise(shape={self._shape}, high={self._high})"


class ZeroActionNoise(ActionNoise):
    """No noise (DDAS-4S' fourth phase between stagnation bursts)."""

    def __init__(self, shape: tuple[int, ...]):
        super().__init__()
        self._shape = tuple(shape)

    def __call__(self) -> np.ndarray:
        return np.zeros(self._shape, dtype=np.float32)
