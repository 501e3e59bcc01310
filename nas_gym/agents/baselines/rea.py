"""Regularized evolution (aging evolution; Real et al., AAAI 2019)."""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np
from stable_baselines3.common.type_aliases import GymEnv

from nas_gym.agents.common.discrete import random_ops
from nas_gym.agents.common.search import SearchAlgorithm, SearchPolicy


class REA(SearchAlgorithm):
    """Regularized evolution as run by the NAS-Bench-201 paper (Dong & Yang 2020, Sec. 5).

    The first ``population_size`` queries are random architectures. Then each step:
    draw ``sample_size`` members uniformly with replacement, take the fittest as
    parent, mutate one uniformly chosen edge (row) to a different op, query the
    child, append it to the population and discard the *oldest* member (aging).

    Args:
        policy: ``"MlpPolicy"`` (kept for the SB3 call shape).
        env: a Gymnasium environment with a 2-D Box ``(rows, ops)`` action space.
        population_size: P, members kept (10, NB201 paper).
        sample_size: S, tournament size (3, NB201 paper).
        **kwargs: see :class:`nas_gym.agents.common.search.SearchAlgorithm`.
    """

    def __init__(
        self,
        policy: str | type[SearchPolicy] = "MlpPolicy",
        env: GymEnv | str | None = None,
        population_size: int = 10,
        sample_size: int = 3,
        **kwargs: Any,
    ):
        if int(population_size) < 1 or int(sample_size) < 1:
            raise ValueError(
                f"population_size and sample_size must be >= 1, got {population_size!r}, {sample_size!r}"
            )
        self.population_size = int(population_size)
        self.sample_size = int(sample_size)
        self.population: deque[tuple[tuple[int, ...], float]] = deque()
        self.history: list[tuple[tuple[int, ...], float]] = []
        super().__init__(policy, env, **kwargs)

    def _setup_learn(
        self,
        total_timesteps: int,
        callback: Any = None,
        reset_num_timesteps: bool = True,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        if reset_num_timesteps:
            self.population.clear()
            self.history.clear()
        return super()._setup_learn(total_timesteps, callback, reset_num_timesteps, *args, **kwargs)

    def _propose(self) -> np.ndarray:
        mask = self.op_mask
        if len(self.population) < self.population_size:
            if mask.all():  # the original stream (NB201 results stay comparable)
                return np.random.randint(0, self.n_ops, self.n_rows)
            return random_ops(mask)
        picks = np.random.randint(0, len(self.population), self.sample_size)
        parent = max((self.population[i] for i in picks), key=lambda member: member[1])[0]
        return mutate(np.asarray(parent), self.n_ops, mask)

    def _observe(self, ops: np.ndarray, reward: float, info: Any = None) -> None:
        member = (tuple(int(o) for o in ops), reward)
        self.population.append(member)
        self.history.append(member)
        if len(self.population) > self.population_size:
            self.population.popleft()


def mutate(ops: np.ndarray, n_ops: int, mask: np.ndarray | None = None) -> np.ndarray:
    """Copy of ``ops`` with one random row changed to a different allowed op (global numpy RNG).

    Only rows with at least two allowed ops can mutate; with no mask (all allowed)
    the draws are those of the original NB201 REA.
    """
    child = ops.copy()
    if mask is None:
        mask = np.ones((len(child), n_ops), dtype=bool)
    rows = np.flatnonzero(mask.sum(axis=1) >= 2)
    if len(rows) == 0:
        return child
    row = rows[np.random.randint(len(rows))]
    others = [o for o in np.flatnonzero(mask[row]) if o != child[row]]
    child[row] = others[np.random.randint(len(others))]
    return child


__all__ = ["REA", "mutate"]
