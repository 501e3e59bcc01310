"""Random search on NASBench201-v1: the smallest complete search loop.

    python examples/random_search_nb201.py --dataset cifar100 --budget 500 --seed 1

Reads top to bottom: arguments, one seeding block, the loop, the result.
"""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym
import numpy as np
from _args import option, parse_args  # examples/_args.py: a dataclass becomes --flags

import nas_gym  # noqa: F401  (registers the environments)
from nas_gym.benchmarks.nb201 import DATASETS, SPLITS
from nas_gym.wrappers import NASMetrics  # best acc, regret, unique queries per search


@dataclass
class Args:
    dataset: str = option("cifar10", choices=DATASETS)
    reward_metric: str = option("valid", choices=SPLITS)
    budget: int = option(500, at_least=1)
    seed: int = option(1, at_least=0)


def main() -> None:
    args = parse_args(Args, __doc__)
    env = NASMetrics(
        gym.make(
            "NASBench201-v1",
            dataset=args.dataset,
            reward_metric=args.reward_metric,
            max_queries=args.budget,
        )
    )
    rng = np.random.default_rng(args.seed)  # the search's own RNG; the env is deterministic
    env.reset(seed=args.seed)
    truncated, info = False, {}
    while not truncated:
        alpha = rng.random(env.action_space.shape, dtype=np.float32)
        _, _, _, truncated, info = env.step(alpha)
    print(
        f"random search, {args.dataset}, searched on {args.reward_metric}, "
        f"{info['n_queries']} queries ({info['n_unique_queries']} unique), seed {args.seed}"
    )
    print(f"best architecture: {info['best_arch_str']} (index {info['best_arch_index']})")
    final = info["nas_episode"]  # NASMetrics' summary of the finished search
    print(
        f"  valid {final['best_valid_acc']:.2f}%  test {final['best_test_acc']:.2f}%  "
        f"regret {final['regret']:.2f} points"
    )


if __name__ == "__main__":
    main()
