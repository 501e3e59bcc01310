"""CADAM's best-found accuracy on NAS-Bench-201 with actor lr 1e-8 (thesis) vs 1e-4.

The thesis prints an actor learning rate of 1e-8 (Mills 2020, Sec. 4.4.3), which
makes the actor nearly frozen. This runs CADAM (thesis NB201 settings otherwise)
for ``--steps`` queries on each dataset, searching on the validation split, over
``--seeds``, and prints mean +- std of the best validation accuracy found, next to
random search with the same budget and seeds, plus the wall time per run.

    python benchmarks/cadam_actor_lr.py --steps 500 --seeds 1-10
"""

from __future__ import annotations

import argparse
import platform
import time

import gymnasium as gym
import numpy as np
import torch

import nas_gym  # noqa: F401
from nas_gym.agents.registry import make_agent


def best_found(
    agent_name: str, dataset: str, seed: int, steps: int, **overrides
) -> tuple[float, float]:
    env = gym.make("NASBench201-v0", dataset=dataset, reward_metric="valid", max_queries=steps)
    agent = make_agent(agent_name, env, seed=seed, **overrides)
    best = -np.inf

    from stable_baselines3.common.callbacks import BaseCallback

    class Best(BaseCallback):
        def _on_step(self) -> bool:
            nonlocal best
            best = max(best, max(i["best_valid_acc"] for i in self.locals["infos"]))
            return True

    t0 = time.perf_counter()
    agent.learn(steps, callback=Best())
    return best, time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--seeds", default="1-10", help="range a-b")
    parser.add_argument("--datasets", default="cifar10,cifar100,ImageNet16-120")
    args = parser.parse_args()
    torch.set_num_threads(1)
    lo, hi = (int(x) for x in args.seeds.split("-"))
    seeds = range(lo, hi + 1)
    print(
        f"machine: {platform.processor() or platform.machine()}, torch threads 1, {args.steps} steps, seeds {args.seeds}"
    )
    print("| agent | " + " | ".join(f"{d} valid" for d in args.datasets.split(",")) + " | s/run |")
    print("|---" * (len(args.datasets.split(",")) + 2) + "|")
    configs = [
        ("CADAM actor lr 1e-8 (thesis)", "cadam", {"actor_learning_rate": 1e-8}),
        ("CADAM actor lr 1e-4", "cadam", {"actor_learning_rate": 1e-4}),
        ("random search", "rs", {}),
    ]
    for label, name, overrides in configs:
        cells, times = [], []
        for dataset in args.datasets.split(","):
            vals = []
            for seed in seeds:
                acc, wall = best_found(name, dataset, seed, args.steps, **overrides)
                vals.append(acc)
                times.append(wall)
            cells.append(f"{np.mean(vals):.2f} ± {np.std(vals):.2f}")
        print(f"| {label} | " + " | ".join(cells) + f" | {np.mean(times):.2f} |", flush=True)


if __name__ == "__main__":
    main()
