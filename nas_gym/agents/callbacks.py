"""Stable-Baselines3 callbacks that log what a NAS user wants to see.

SB3's own logs (``rollout/ep_rew_mean``, ``EvalCallback``'s mean reward) report the
summed reward of a search, which says little about the search: 500 CADAM-reward
queries sum to about 3e4 whatever was found. :class:`NASMetricsCallback` logs the
best validation/test accuracy found so far, the regret against the benchmark's
optimum and the number of unique queries, to the SB3 logger and so to every output
it writes (stdout, CSV, TensorBoard). It reads the environments' ``info`` dicts, so
it works with any SB3 algorithm (ours and the stock ones) and through ``VecNormalize``
and other vector wrappers, which pass ``info`` through.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from stable_baselines3.common.callbacks import BaseCallback

from nas_gym.wrappers import nas_metrics

#: Logger keys: ``nas/<info key>``; ``n_unique_queries`` is logged as ``nas/unique_queries``.
PREFIX = "nas/"
_NAMES = {"n_unique_queries": "unique_queries", "n_queries": "queries"}


class NASMetricsCallback(BaseCallback):
    """Log best valid/test accuracy, regret and unique queries of every search.

    Args:
        log_every: ``"episode"`` (default) logs each finished search's final values,
            dumping the logger at that step so they reach TensorBoard even when the
            algorithm dumps rarely (off-policy SB3 dumps every ``log_interval``
            episodes); an int ``n`` logs the running values (mean over the vector
            envs) every ``n`` steps.
        verbose: 1 prints one line per finished search.

    Attributes:
        episodes: every finished search's final values (``timesteps`` included),
            for programmatic use.
    """

    def __init__(self, log_every: str | int = "episode", verbose: int = 0):
        super().__init__(verbose)
        if log_every != "episode" and (
            isinstance(log_every, bool) or not isinstance(log_every, int) or log_every < 1
        ):
            raise ValueError(f"log_every must be 'episode' or a positive int, got {log_every!r}")
        self.log_every = log_every
        self.episodes: list[dict[str, float]] = []

    def _record(self, values: list[dict[str, float]]) -> None:
        keys = sorted({k for v in values for k in v})
        for key in keys:
            mean = float(np.mean([v[key] for v in values if key in v]))
            self.logger.record(PREFIX + _NAMES.get(key, key), mean)
        self.logger.dump(step=self.num_timesteps)

    def _on_step(self) -> bool:
        infos: list[dict[str, Any]] = self.locals.get("infos", [])
        dones = self.locals.get("dones", np.zeros(len(infos), dtype=bool))
        if self.log_every == "episode":
            finished = [nas_metrics(info) for info, done in zip(infos, dones, strict=True) if done]
            finished = [m for m in finished if m]
            for metrics in finished:
                self.episodes.append({**metrics, "timesteps": float(self.num_timesteps)})
                if self.verbose:
                    print(
                        f"search done at {self.num_timesteps} steps: "
                        + ", ".join(f"{k}={v:.4g}" for k, v in metrics.items())
                    )
            if finished:
                self._record(finished)
        elif self.n_calls % self.log_every == 0:
            running = [m for m in (nas_metrics(info) for info in infos) if m]
            if running:
                self._record(running)
        return True
