"""TD3 against DDPG on NAS-Bench-201, as the thesis proposes for future work.

Each pair swaps one line: stock Stable-Baselines3 ``DDPG`` vs ``TD3``, and our
``DDAS`` (DDPG updates) vs DDAS-TD3 and ``CADAM`` vs CADAM-TD3. All run the same
query budget on the same seeds; the table gives the best validation accuracy
found (mean +- std over seeds) and the test accuracy of that architecture.

    python examples/td3_vs_ddpg_nb201.py --budget 500 --seeds 5
"""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import torch
from _args import option, parse_args  # examples/_args.py: a dataclass becomes --flags
from stable_baselines3 import DDPG, TD3

import nas_gym  # noqa: F401  (registers NASBench201-v1)
from nas_gym.agents.cadam import CADAM
from nas_gym.agents.callbacks import NASMetricsCallback  # best acc, regret, unique queries
from nas_gym.agents.ddas import DDAS
from nas_gym.benchmarks.nb201 import DATASETS


@dataclass
class Args:
    dataset: str = option("cifar100", choices=DATASETS)
    """cifar10, cifar100 or ImageNet16-120"""
    budget: int = option(500, at_least=1)
    """queries per search"""
    seeds: int = option(5, at_least=1)
    """number of seeds, 1..N"""


# One line per agent: this is the whole difference between DDPG and TD3 variants.
AGENTS = {
    "SB3 DDPG": lambda env, seed: DDPG("MlpPolicy", env, seed=seed, device="cpu"),
    "SB3 TD3": lambda env, seed: TD3("MlpPolicy", env, seed=seed, device="cpu"),
    "DDAS-4S (DDPG)": lambda env, seed: DDAS("MlpPolicy", env, schedule="4s", seed=seed),
    "DDAS-TD3": lambda env, seed: DDAS("MlpPolicy", env, schedule="4s", twin=True, seed=seed),
    "CADAM": lambda env, seed: CADAM("MlpPolicy", env, seed=seed),
    "CADAM-TD3": lambda env, seed: CADAM("MlpPolicy", env, n_critics=2, policy_delay=2, seed=seed),
}


if __name__ == "__main__":
    args = parse_args(Args, __doc__)
    torch.set_num_threads(1)
    print(f"| agent | {args.dataset} best valid | its test | seeds | budget |")
    print("|---|---|---|---|---|")
    for label, build in AGENTS.items():
        valid, test = [], []
        for seed in range(1, args.seeds + 1):
            # v1: flat (30,) spaces, which stock SB3 and our agents both take
            env = gym.make("NASBench201-v1", dataset=args.dataset, max_queries=args.budget)
            metrics = NASMetricsCallback()
            build(env, seed).learn(args.budget, callback=metrics)
            final = metrics.episodes[-1]  # best valid so far, and that architecture's test
            valid.append(final["best_valid_acc"])
            test.append(final["best_test_acc"])
        print(
            f"| {label} | {np.mean(valid):.2f} ± {np.std(valid):.2f} | {np.mean(test):.2f} ± {np.std(test):.2f} "
            f"| 1-{args.seeds} | {args.budget} |",
            flush=True,
        )
