"""CADAM on NAS-Bench-201: reproduce one cell of the thesis' Table 4.1.

Runs CADAM (Mills 2020, Ch. 4; thesis NB201 hyperparameters) for ``--budget``
queries on ``--seeds`` seeds (1..N), searching directly on ``--reward-metric``
as the thesis did, and prints the best accuracy found per seed and mean +- std
next to the published number.

    python examples/cadam_nb201.py --dataset cifar100 --budget 500 --seeds 10
    python examples/cadam_nb201.py --actor-lr 1e-4          # the thesis prints 1e-8
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3.common.callbacks import BaseCallback

import nas_gym  # noqa: F401  (registers NASBench201-v0)
from agents.cadam import CADAM


@dataclass
class Args:
    dataset: str = "cifar10"
    """cifar10, cifar100 or ImageNet16-120"""
    reward_metric: str = "valid"
    """split searched and reported: valid or test"""
    budget: int = 500
    """queries per search (CADAM-500 / CADAM-1k in the thesis)"""
    seeds: int = 10
    """number of seeds, 1..N (the thesis used 1-10)"""
    actor_lr: float = 1e-8
    """actor learning rate (1e-8 as printed in the thesis)"""


# Mills (2020) Table 4.1, CADAM-500 and CADAM-1k: mean, std.
THESIS = {
    (500, "cifar10", "valid"): (91.36, 0.19), (500, "cifar10", "test"): (94.11, 0.16),
    (500, "cifar100", "valid"): (72.47, 0.74), (500, "cifar100", "test"): (72.69, 0.58),
    (500, "ImageNet16-120", "valid"): (46.23, 0.28), (500, "ImageNet16-120", "test"): (46.74, 0.39),
    (1000, "cifar10", "valid"): (91.47, 0.15), (1000, "cifar10", "test"): (94.28, 0.08),
    (1000, "cifar100", "valid"): (73.02, 0.52), (1000, "cifar100", "test"): (73.09, 0.35),
    (1000, "ImageNet16-120", "valid"): (46.58, 0.08), (1000, "ImageNet16-120", "test"): (47.03, 0.27),
}  # fmt: skip


def parse_args() -> Args:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    for field in dataclasses.fields(Args):
        parser.add_argument(
            f"--{field.name.replace('_', '-')}", type=type(field.default), default=field.default
        )
    return Args(**vars(parser.parse_args()))


class BestSoFar(BaseCallback):
    """Reads the environment's best-so-far accuracy on the searched split."""

    def __init__(self, key: str):
        super().__init__()
        self.key, self.best = key, -np.inf

    def _on_step(self) -> bool:
        self.best = max(self.best, self.locals["infos"][0][self.key])
        return True


if __name__ == "__main__":
    args = parse_args()
    torch.set_num_threads(1)
    key = f"best_{args.reward_metric}_acc"
    results = []
    for seed in range(1, args.seeds + 1):
        env = gym.make(
            "NASBench201-v0",
            dataset=args.dataset,
            reward_metric=args.reward_metric,
            max_queries=args.budget,
        )
        agent = CADAM("MlpPolicy", env, actor_learning_rate=args.actor_lr, seed=seed)
        tracker = BestSoFar(key)
        start = time.perf_counter()
        agent.learn(args.budget, callback=tracker)
        results.append(tracker.best)
        print(
            f"seed {seed}: best {args.reward_metric} acc {tracker.best:.2f}%  ({time.perf_counter() - start:.1f} s)"
        )

    paper = THESIS.get((args.budget, args.dataset, args.reward_metric))
    paper_cell = f"{paper[0]:.2f} ± {paper[1]:.2f}" if paper else "n/a"
    print()
    print("| agent | dataset | split | budget | seeds | ours | thesis |")
    print("|---|---|---|---|---|---|---|")
    print(
        f"| CADAM (actor lr {args.actor_lr:g}) | {args.dataset} | {args.reward_metric} | {args.budget} | "
        f"1-{args.seeds} | {np.mean(results):.2f} ± {np.std(results):.2f} | {paper_cell} |"
    )
