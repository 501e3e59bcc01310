"""Mills (2020) Table 4.1 with batched CADAM: each cell's seeds run in one process.

The same protocol as ``nas-gym bench --preset table4.1`` (NASBench201-v0, search on
the named split, best accuracy found on that split, seeds 1-10, budgets 500 and
1,000 queries), but each (dataset, split, budget) cell runs its seeds in lockstep
with :class:`nas_gym.agents.cadam.batched.BatchedCADAM`. One JSON per cell in ``--out``,
written atomically; a re-run skips finished cells. Prints a Markdown table with
the thesis' mean +- std beside ours.

    python benchmarks/cadam_table41.py --out /tmp/table41 --agent cadam
    python benchmarks/cadam_table41.py --out /tmp/table41_printed --agent cadam-printed
    python benchmarks/cadam_table41.py --out /tmp/t41u --agent cadam-printed --budget-unit unique
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch

import nas_gym  # noqa: F401
from nas_gym.agents.bench.published import CADAM_1K, CADAM_500
from nas_gym.agents.cadam.batched import BatchedCADAM

#: registered CADAM configurations this script can run (see nas_gym/agents/zoo.py).
AGENTS = {
    "cadam": {},
    "cadam-printed": {"actor_learning_rate": 1e-8},
    "cadam-td3": {"n_critics": 2, "policy_delay": 2, "actor_q": "q1"},
    "cadam-td3-min": {"n_critics": 2, "policy_delay": 2, "actor_q": "min"},
}
DATASETS = ("cifar10", "cifar100", "ImageNet16-120")
SPLITS = ("valid", "test")


def run_cell(
    agent: str, dataset: str, split: str, budget: int, seeds: list[int], budget_unit: str
) -> dict:
    """One Table 4.1 cell: best accuracy on ``split`` found by each seed."""
    envs = [
        gym.make(
            "NASBench201-v0",
            dataset=dataset,
            reward_metric=split,
            max_queries=budget,
            budget_unit=budget_unit,
        )
        for _ in seeds
    ]
    batched = BatchedCADAM(envs, seeds, **AGENTS[agent])
    t0, c0 = time.perf_counter(), time.process_time()

    def progress(t: int) -> None:
        if (t + 1) % 100 == 0:
            print(f"  {dataset} {split} {budget}: step {t + 1}", flush=True)

    # each seed's first episode: ``budget`` steps, or until ``budget`` unique cells
    histories = batched.learn(envs[0].unwrapped.max_steps, on_step=progress)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {
        "agent": agent,
        "dataset": dataset,
        "split": split,
        "budget": budget,
        "budget_unit": budget_unit,
        "seeds": seeds,
        "best": [max(h[f"{split}_acc"]) for h in histories],
        "unique_queries": [len(set(h["arch_index"])) for h in histories],
        "steps": [len(h["arch_index"]) for h in histories],
        "wall_s": wall,
        "cpu_s": cpu,
    }


def write_atomic(path: Path, data: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, path)


def table(cells: list[dict]) -> str:
    rows = [
        "| agent | budget | unit | dataset | split | ours (mean ± std) | thesis | within 1 std "
        "| unique queries | steps |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for c in cells:
        published = {500: CADAM_500, 1000: CADAM_1K}.get(c["budget"])
        pub = published.searched.get((c["dataset"], c["split"])) if published else None
        # population std (ddof=0), as ``nas-gym bench`` reports it
        mean, std = float(np.mean(c["best"])), float(np.std(c["best"]))
        thesis = f"{pub[0]:.2f} ± {pub[1]:.2f}" if pub else "–"
        within = ("yes" if abs(mean - pub[0]) <= pub[1] else "no") if pub else "–"
        rows.append(
            f"| {c['agent']} | {c['budget']} | {c.get('budget_unit', 'query')} | {c['dataset']} "
            f"| {c['split']} | {mean:.2f} ± {std:.2f} | {thesis} | {within} "
            f"| {np.mean(c['unique_queries']):.0f} | {np.mean(c.get('steps', [c['budget']])):.0f} |"
        )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", required=True, help="directory of per-cell JSON (resumable)")
    parser.add_argument("--agent", default="cadam", choices=sorted(AGENTS))
    parser.add_argument("--budgets", default="500,1000")
    parser.add_argument("--seeds", default="1-10", help="range a-b")
    parser.add_argument(
        "--budget-unit",
        default="query",
        choices=("query", "unique"),
        help="count every query (default) or unique architectures (re-queries free)",
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    lo, hi = (int(x) for x in args.seeds.split("-"))
    seeds = list(range(lo, hi + 1))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    print(f"machine: {platform.machine()} {os.cpu_count()} CPUs, torch threads 1", flush=True)
    cells = []
    for budget in (int(b) for b in args.budgets.split(",")):
        for dataset in DATASETS:
            for split in SPLITS:
                name = f"{args.agent}__{args.budget_unit}__{dataset}__{split}__{budget}__{lo}-{hi}"
                path = out / f"{name}.json"
                if path.exists():
                    cell = json.loads(path.read_text())
                else:
                    cell = run_cell(args.agent, dataset, split, budget, seeds, args.budget_unit)
                    write_atomic(path, cell)
                print(
                    f"{args.agent} {budget} {dataset} {split}: "
                    f"{np.mean(cell['best']):.2f}, {cell['wall_s']:.0f} s wall, "
                    f"{cell['cpu_s']:.0f} s CPU",
                    flush=True,
                )
                cells.append(cell)
    print(table(cells))


if __name__ == "__main__":
    main()
