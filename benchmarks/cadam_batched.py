"""Wall time of S CADAM seeds in one batched process against one seed alone.

CADAM-500 on NASBench201-v0 (thesis NB201 settings, cifar100, valid). Rows: one
seed with ``CADAM.learn`` and ``--seeds`` seeds with
:class:`nas_gym.agents.cadam.batched.BatchedCADAM`, each at every torch thread count in
``--threads``, all in the same run. Ratios are against the *fastest* single-seed row
(wall) and the cheapest (CPU), so extra threads never flatter the batch by slowing
the baseline. The issue-12 target is batched S=10 in at most 2x the single seed's
wall time.

    python benchmarks/cadam_batched.py --seeds 10 --steps 500 --threads 1,2
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


def time_single(steps: int, threads: int) -> tuple[float, float]:
    agent = CADAM("MlpPolicy", make_env(steps), seed=1)
    agent.torch_threads = threads
    t0, c0 = time.perf_counter(), time.process_time()
    agent.learn(steps)
    return time.perf_counter() - t0, time.process_time() - c0


def time_batched(n_seeds: int, steps: int, threads: int) -> tuple[float, float]:
    seeds = list(range(1, n_seeds + 1))
    batched = BatchedCADAM([make_env(steps) for _ in seeds], seeds, batch_threads=threads)
    t0, c0 = time.perf_counter(), time.process_time()
    batched.learn(steps)
    return time.perf_counter() - t0, time.process_time() - c0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, default=10, help="seeds in the batched run")
    parser.add_argument("--steps", type=int, default=500, help="queries per seed")
    parser.add_argument(
        "--threads", default="1", help="comma-separated torch thread counts, e.g. 1,2"
    )
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    try:
        thread_counts = [int(n) for n in args.threads.split(",")]
    except ValueError:
        parser.error(f"--threads must be comma-separated integers, got {args.threads!r}")
    if not thread_counts or min(thread_counts) < 1:
        parser.error(f"--threads must be positive, got {args.threads!r}")
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, load average "
        f"{load[0]:.1f} {load[1]:.1f} {load[2]:.1f}, torch {torch.__version__}; "
        f"CADAM-{args.steps}, cifar100"
    )
    for repeat in range(args.repeats):
        rows = []
        for threads in thread_counts:
            rows.append(("CADAM.learn", 1, threads, *time_single(args.steps, threads)))
        for threads in thread_counts:
            rows.append(
                (
                    "BatchedCADAM",
                    args.seeds,
                    threads,
                    *time_batched(args.seeds, args.steps, threads),
                )
            )
        wall1 = min(r[3] for r in rows if r[1] == 1)
        cpu1 = min(r[4] for r in rows if r[1] == 1)
        print(f"repeat {repeat + 1}: ratios against the fastest single seed")
        print("| run | seeds | threads | wall s | CPU s | wall / 1 seed | CPU / 1 seed |")
        print("|---|---|---|---|---|---|---|")
        for name, seeds, threads, wall, cpu in rows:
            print(
                f"| {name} | {seeds} | {threads} | {wall:.1f} | {cpu:.1f} | "
                f"{wall / wall1:.2f} | {cpu / cpu1:.2f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
