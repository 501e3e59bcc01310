"""Wrappers that observe a search without changing it.

:class:`NASMetrics` puts what a NAS user reads (best valid/test accuracy, regret,
unique queries) into ``info`` as episode statistics, for clients that are not
Stable-Baselines3 (CleanRL-style loops, RLlib, plain Gymnasium code); SB3 users
use :class:`nas_gym.agents.callbacks.NASMetricsCallback`, which logs the same values.

:class:`QueryRecorder` keeps the full query history of a search run (every
architecture an agent asked for, with its metrics and reward) and the time spent
inside the environment, so a benchmark can report best-so-far curves and split a
run's wall time into agent time and environment time. It records across
episodes, so a caller can check that an agent made exactly the queries it was
given (``n_queries``), whatever resets the agent did.
"""

from __future__ import annotations

import time
from collections import deque
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


#: Info keys of a search's progress, as every environment of this package reports them.
NAS_METRIC_KEYS: tuple[str, ...] = (
    "best_valid_acc",
    "best_test_acc",
    "regret",
    "n_unique_queries",
    "n_queries",
)


def nas_metrics(info: dict[str, Any]) -> dict[str, float]:
    """The search-progress values present (and not None) in one step's ``info``."""
    return {k: float(info[k]) for k in NAS_METRIC_KEYS if info.get(k) is not None}


class NASMetrics(gym.Wrapper):
    """Report a search's best accuracy, regret and unique queries as episode statistics.

    Like Gymnasium's ``RecordEpisodeStatistics`` (which reports the summed reward, about
    3e4 for a 500-query CADAM search and meaningless to a NAS user), at the end of every
    episode it adds ``info["nas_episode"]``: the final ``best_valid_acc``,
    ``best_test_acc`` (percent), ``regret`` (percentage points), ``n_unique_queries`` and
    ``n_queries`` of that search, and appends the same dict to :attr:`episode_metrics`.
    :attr:`metrics` always holds the latest step's values. Observations, rewards and
    flags pass through unchanged; under a vector env the dict is batched like any info.

    Args:
        env: a search environment whose info carries :data:`NAS_METRIC_KEYS`.
        buffer_length: how many finished episodes :attr:`episode_metrics` keeps.
    """

    def __init__(self, env: gym.Env, buffer_length: int = 100):
        super().__init__(env)
        self.episode_metrics: deque[dict[str, float]] = deque(maxlen=buffer_length)
        self.metrics: dict[str, float] = {}

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        obs, info = self.env.reset(seed=seed, options=options)
        self.metrics = nas_metrics(info)
        return obs, info

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.metrics = nas_metrics(info)
        if terminated or truncated:
            info = {**info, "nas_episode": dict(self.metrics)}
            self.episode_metrics.append(dict(self.metrics))
        return obs, reward, terminated, truncated, info
