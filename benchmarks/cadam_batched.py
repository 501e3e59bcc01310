"""Wall time of S CADAM seeds in one batched process against one seed alone.

CADAM-500 on NASBench201-v0 (thesis NB201 settings, cifar100, valid), one torch
thread. Rows: one seed with ``CADAM.learn`` (the baseline, measured in the same
run), and ``--seeds`` seeds with :class:`nas_gym.agents.cadam.batched.BatchedCADAM`. The
issue-12 target is batched S=10 at most 2x the single seed's wall time.

    python benchmarks/cadam_batched.py --seeds 10 --steps 500 --repeats 1
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import gymnasium as gym
import torch

import nas_gym  # noqa: F401
from nas_gym.agents.cadam import CADAM
from nas_gym.agents.cadam.batched import BatchedCADAM


def make_env(steps: int) -> gym.Env:
    return gym.make("NASBench201-v0", dataset="cifar100", max_queries=steps)


def time_single(steps: int, device: str) -> tuple[float, float]:
    agent = CADAM("MlpPolicy", make_env(steps), seed=1, device=device)
    t0, c0 = time.perf_counter(), time.process_time()
    agent.learn(steps)
    return time.perf_counter() - t0, time.process_time() - c0


def time_batched(n_seeds: int, steps: int) -> tuple[float, float]:
    seeds = list(range(1, n_seeds + 1))
    batched = BatchedCADAM([make_env(steps) for _ in seeds], seeds)
    t0, c0 = time.perf_counter(), time.process_time()
    batched.learn(steps)
    return time.perf_counter() - t0, time.process_time() - c0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, default=10, help="seeds in the batched run")
    parser.add_argument("--steps", type=int, default=500, help="queries per seed")
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(1)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, load average {load:.1f}, "
        f"torch {torch.__version__}, 1 thread; CADAM-{args.steps}, cifar100"
    )
    print("| run | seeds | wall s | CPU s | wall / 1 seed | CPU / 1 seed |")
    print("|---|---|---|---|---|---|")
    for _ in range(args.repeats):
        wall1, cpu1 = time_single(args.steps, "cpu")
        wall, cpu = time_batched(args.seeds, args.steps)
        print(f"| CADAM.learn | 1 | {wall1:.1f} | {cpu1:.1f} | 1.00 | 1.00 |")
        print(
            f"| BatchedCADAM | {args.seeds} | {wall:.1f} | {cpu:.1f} | "
            f"{wall / wall1:.2f} | {cpu / cpu1:.2f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
