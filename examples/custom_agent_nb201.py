"""Plug your own search algorithm into NAS-Bench-201 and compare it with ours.

Any object with ``learn(total_timesteps, callback=None)`` and
``predict(obs, deterministic=...)`` that talks to the environment through the
Gymnasium API works. This file writes a tiny one, first-improvement local search
(hill climbing: mutate one edge of the best architecture so far), runs it next
to random search and CADAM, and registers it under a name so ``make_agent`` (and
the benchmark harness) can build it like the built-in agents.

    python examples/custom_agent_nb201.py --budget 500 --seeds 5
"""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import torch
from _args import option, parse_args  # examples/_args.py: a dataclass becomes --flags

import nas_gym  # noqa: F401  (registers NASBench201-v1)
from nas_gym.agents.callbacks import NASMetricsCallback  # best acc, regret, unique queries
from nas_gym.agents.registry import agent_names, make_agent, register_agent
from nas_gym.benchmarks.nb201 import DATASETS


@dataclass
class Args:
    dataset: str = option("cifar10", choices=DATASETS)
    """cifar10, cifar100 or ImageNet16-120"""
    budget: int = option(500, at_least=1)
    """queries per search"""
    seeds: int = option(5, at_least=1)
    """number of seeds, 1..N"""


class LocalSearch:
    """Hill climbing over architectures, speaking only the Gymnasium API.

    An action is an alpha matrix (NASBench201-v1's flat (30,) space takes it too; the
    matrix shape is ``env.unwrapped.alpha_shape``); the env takes the argmax of each
    row, so a one-hot alpha selects exactly the architecture we want.
    """

    def __init__(self, env: gym.Env, seed: int | None = None):
        self.env = env
        self.rng = np.random.default_rng(seed)  # our own generator: never seed global RNGs
        self.rows, self.ops = env.unwrapped.alpha_shape
        self.best_ops = self.rng.integers(self.ops, size=self.rows)
        self.best_reward = -np.inf
        self.seed = seed

    def _alpha(self, ops: np.ndarray) -> np.ndarray:
        alpha = np.zeros((self.rows, self.ops), dtype=np.float32)
        alpha[np.arange(self.rows), ops] = 1.0
        return alpha

    def learn(self, total_timesteps: int, callback=None) -> LocalSearch:
        self.env.reset(seed=self.seed)
        for _ in range(total_timesteps):
            candidate = self.best_ops.copy()
            row = self.rng.integers(self.rows)
            candidate[row] = (candidate[row] + self.rng.integers(1, self.ops)) % self.ops
            if self.best_reward == -np.inf:
                candidate = self.best_ops
            _, reward, terminated, truncated, info = self.env.step(self._alpha(candidate))
            if reward > self.best_reward:
                self.best_ops, self.best_reward = candidate, reward
            if callback is not None:
                callback(info)
            if terminated or truncated:
                break
        return self

    def predict(self, obs, deterministic: bool = True):
        return self._alpha(self.best_ops), None


@register_agent("local-search")
def make_local_search(
    env: gym.Env, seed: int | None = None, verbose: int = 0, **overrides
) -> LocalSearch:
    return LocalSearch(env, seed=seed, **overrides)


def best_valid(name: str, dataset: str, budget: int, seed: int) -> float:
    env = gym.make("NASBench201-v1", dataset=dataset, max_queries=budget)
    agent = make_agent(name, env, seed=seed)
    if isinstance(agent, LocalSearch):
        seen: list[float] = []
        agent.learn(budget, callback=lambda info: seen.append(info["best_valid_acc"]))
        return max(seen)
    metrics = NASMetricsCallback()  # SB3 agents: the NAS metrics of each finished search
    agent.learn(budget, callback=metrics)
    return metrics.episodes[-1]["best_valid_acc"]


if __name__ == "__main__":
    args = parse_args(Args, __doc__)
    torch.set_num_threads(1)
    assert "local-search" in agent_names()
    print(f"| agent | {args.dataset} best valid | seeds | budget |")
    print("|---|---|---|---|")
    for name in ("local-search", "rs", "cadam"):
        accs = [
            best_valid(name, args.dataset, args.budget, seed) for seed in range(1, args.seeds + 1)
        ]
        print(
            f"| {name} | {np.mean(accs):.2f} ± {np.std(accs):.2f} | 1-{args.seeds} | {args.budget} |",
            flush=True,
        )
