"""Wall and CPU time of one 500-query NAS-Bench-201 run per seed-system agent, RS as the baseline.

Targets (issue 10): GA-NAS <= 60 s and every other new agent <= 15 s per run on one
core. One thread; every agent runs the same seeds in the same process, so the
ratio to random search (measured in this run) is comparable across machines even
when the absolute times are not (a shared, loaded machine inflates wall time:
CPU time is reported beside it).

    nice -n 10 python benchmarks/seed_agents_speed.py --seeds 1-2
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import gymnasium as gym
import torch

import nas_gym  # noqa: F401
from nas_gym.agents.registry import make_agent

AGENTS = ("rs", "ganas", "unas", "unas-reinforce", "rnn-reinforce", "rnn-ppo")
TARGET_S = {"ganas": 60.0}


def time_run(agent: str, seed: int, budget: int, dataset: str) -> tuple[float, float]:
    env = gym.make("NASBench201-v0", dataset=dataset, max_queries=budget)
    model = make_agent(agent, env, seed=seed)
    cpu0, t0 = time.process_time(), time.perf_counter()
    model.learn(budget)
    return time.perf_counter() - t0, time.process_time() - cpu0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--agents", default=",".join(AGENTS))
    p.add_argument("--seeds", default="1-2")
    p.add_argument("--budget", type=int, default=500)
    p.add_argument("--dataset", default="cifar100")
    args = p.parse_args()
    torch.set_num_threads(1)
    lo, _, hi = args.seeds.partition("-")
    seeds = range(int(lo), int(hi or lo) + 1)
    agents = args.agents.split(",")
    if "rs" not in agents:
        agents.insert(0, "rs")
    time_run("rs", 0, 10, args.dataset)  # warm-up: table load and imports
    print(
        f"{platform.machine()}, {os.cpu_count()} cores (shared), 1 thread, {args.budget} queries, NB201 {args.dataset}"
    )
    print("| agent | wall s/run | CPU s/run | CPU vs rs | target (wall, 1 core) |")
    print("|---|---|---|---|---|")
    rows = {}
    for agent in agents:
        times = [time_run(agent, s, args.budget, args.dataset) for s in seeds]
        rows[agent] = (sum(t[0] for t in times) / len(times), sum(t[1] for t in times) / len(times))
    base = rows["rs"][1]
    for agent, (wall, cpu) in rows.items():
        target = "-" if agent == "rs" else f"<= {TARGET_S.get(agent, 15.0):.0f} s"
        print(f"| {agent} | {wall:.1f} | {cpu:.1f} | {cpu / base:.0f}x | {target} |", flush=True)


if __name__ == "__main__":
    main()
