"""CADAM on NAS-Bench-201: reproduce one cell of the thesis' Table 4.1.

Runs CADAM (Mills 2020, Ch. 4; thesis NB201 hyperparameters) for ``--budget``
queries on ``--seeds`` seeds (1..N), searching directly on ``--reward-metric``
as the thesis did, and prints the best accuracy found per seed and mean +- std
next to the published number.

    python examples/cadam_nb201.py --dataset cifar100 --budget 500 --seeds 10
    python examples/cadam_nb201.py --actor-lr 1e-8          # as printed: a frozen actor

The default actor learning rate is 1e-4, the ``cadam`` agent's: the printed 1e-8 leaves
Adam's steps too small to move the actor (``cadam-printed``; docs/cadam_table41.md).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import torch
from _args import option, parse_args  # examples/_args.py: a dataclass becomes --flags

import nas_gym  # noqa: F401  (registers NASBench201-v1)
from nas_gym.agents.bench.published import thesis_value  # the one source of published numbers
from nas_gym.agents.cadam import CADAM
from nas_gym.agents.callbacks import NASMetricsCallback  # best acc, regret, unique queries
from nas_gym.benchmarks.nb201 import DATASETS, SPLITS


@dataclass
class Args:
    dataset: str = option("cifar10", choices=DATASETS)
    """cifar10, cifar100 or ImageNet16-120"""
    reward_metric: str = option("valid", choices=SPLITS)
    """split searched and reported: valid or test"""
    budget: int = option(500, at_least=1)
    """queries per search (CADAM-500 / CADAM-1k in the thesis)"""
    seeds: int = option(10, at_least=1)
    """number of seeds, 1..N (the thesis used 1-10)"""
    actor_lr: float = 1e-4
    """actor learning rate (cadam's 1e-4; the thesis prints 1e-8, a frozen actor)"""


if __name__ == "__main__":
    args = parse_args(Args, __doc__)
    torch.set_num_threads(1)
    key = f"best_{args.reward_metric}_acc"
    results = []
    for seed in range(1, args.seeds + 1):
        env = gym.make(
            "NASBench201-v1",
            dataset=args.dataset,
            reward_metric=args.reward_metric,
            max_queries=args.budget,
        )
        agent = CADAM("MlpPolicy", env, actor_learning_rate=args.actor_lr, seed=seed)
        metrics = NASMetricsCallback()  # logs nas/* to SB3's logger at the end of the search
        start = time.perf_counter()
        agent.learn(args.budget, callback=metrics)
        best = metrics.episodes[-1][key]  # the search's final best-so-far on the searched split
        results.append(best)
        print(
            f"seed {seed}: best {args.reward_metric} acc {best:.2f}%  ({time.perf_counter() - start:.1f} s)"
        )

    paper = thesis_value(args.budget, args.dataset, args.reward_metric)
    paper_cell = f"{paper[0]:.2f} ± {paper[1]:.2f}" if paper else "n/a"
    print()
    print("| agent | dataset | split | budget | seeds | ours | thesis |")
    print("|---|---|---|---|---|---|---|")
    print(
        f"| CADAM (actor lr {args.actor_lr:g}) | {args.dataset} | {args.reward_metric} | {args.budget} | "
        f"1-{args.seeds} | {np.mean(results):.2f} ± {np.std(results):.2f} | {paper_cell} |"
    )
