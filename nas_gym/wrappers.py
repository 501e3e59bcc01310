"""Wrappers that observe a search without changing it.

:class:`QueryRecorder` keeps the full query history of a search run (every
architecture an agent asked for, with its metrics and reward) and the time spent
inside the environment, so a benchmark can report best-so-far curves and split a
run's wall time into agent time and environment time. It records across
episodes, so a caller can check that an agent made exactly the queries it was
given (``n_queries``), whatever resets the agent did.
"""

from __future__ import annotations

import time
from typing import Any

import gymnasium as gym

#: Info keys copied into the history at every step (when the environment sets them).
DEFAULT_KEYS: tuple[str, ...] = ("arch_index", "valid_acc", "test_acc")


class QueryRecorder(gym.Wrapper):
    """Record every query's info fields and reward, and the time spent in the wrapped env.

    The wrapper is transparent: observations, rewards, flags and info pass through
    unchanged. Timing uses ``time.perf_counter`` around the inner ``step``/``reset``
    (wall-clock values stay here, never in ``info``, which must be deterministic).

    Args:
        env: the environment to observe.
        keys: info keys to record per query (missing keys are recorded as ``None``).
    """

    def __init__(self, env: gym.Env, keys: tuple[str, ...] = DEFAULT_KEYS):
        super().__init__(env)
        self.keys = tuple(keys)
        self.clear()

    def clear(self) -> None:
        """Forget the history and the timers (the wrapped env is not touched)."""
        self.history: dict[str, list[Any]] = {key: [] for key in (*self.keys, "reward")}
        self.episode_starts: list[int] = []
        self.env_step_s = 0.0
        self.env_reset_s = 0.0
        self.last_info: dict[str, Any] = {}

    @property
    def n_queries(self) -> int:
        """Queries made since construction or :meth:`clear`, over all episodes."""
        return len(self.history["reward"])

    @property
    def env_s(self) -> float:
        """Seconds spent inside the wrapped environment's ``step`` and ``reset``."""
        return self.env_step_s + self.env_reset_s

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        start = time.perf_counter()
        out = self.env.reset(seed=seed, options=options)
        self.env_reset_s += time.perf_counter() - start
        self.episode_starts.append(self.n_queries)
        return out

    def step(self, action):
        start = time.perf_counter()
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.env_step_s += time.perf_counter() - start
        for key in self.keys:
            self.history[key].append(info.get(key))
        self.history["reward"].append(float(reward))
        self.last_info = info
        return obs, reward, terminated, truncated, info
