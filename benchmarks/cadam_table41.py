"""Mills (2020) Table 4.1 from ``nas-gym bench`` runs, under both readings of the budget.

Reads the run records of one or more bench directories and prints one Markdown row
per (agent, budget, unit, dataset, split): best accuracy found on the searched split,
mean ± population std over seeds (as ``nas-gym bench`` reports it), the thesis' value,
whether ours lies within one published std, the unique architectures and the steps
(queries) per run. The two readings (issue 12):

* every query counted (``--budget-unit query``), default actor lr 1e-4 (``cadam``);
* unique architectures counted (``--budget-unit unique``), printed actor lr 1e-8
  (``cadam-printed``).

    nas-gym bench --preset table4.1 --out runs/t41_query --jobs 2
    nas-gym bench --preset table4.1 --agents cadam-printed --budget-unit unique \\
        --out runs/t41_unique --jobs 2
    python benchmarks/cadam_table41.py runs/t41_query runs/t41_unique
"""

from __future__ import annotations

import argparse
from collections import defaultdict

import numpy as np

from nas_gym.agents.bench.order import group_rows
from nas_gym.agents.bench.published import CADAM_1K, CADAM_500
from nas_gym.agents.bench.store import load_all_records

READING = {"query": "every query counted", "unique": "unique architectures counted"}


def table(records: list[dict]) -> str:
    """One row per bench cell (agent, budget, unit, dataset, split), seeds pooled."""
    runs = [dict(r["result"], steps=len(r["history"]["arch_index"])) for r in records]
    rows = [
        "| agent | budget | reading | dataset | split | seeds | ours (mean ± std) | thesis "
        "| within 1 std | unique queries / run | steps / run |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for (agent, _, dataset, split, budget, unit), cell in group_rows(runs).items():
        best = [r["best_valid_acc"] if split == "valid" else r["best_test_acc"] for r in cell]
        published = {500: CADAM_500, 1000: CADAM_1K}.get(budget)
        pub = published.searched.get((dataset, split)) if published else None
        mean, std = float(np.mean(best)), float(np.std(best))
        thesis = f"{pub[0]:.2f} ± {pub[1]:.2f}" if pub else "–"
        within = ("yes" if abs(mean - pub[0]) <= pub[1] else "no") if pub else "–"
        rows.append(
            f"| {agent} | {budget} | {READING.get(unit, unit)} | {dataset} | {split} "
            f"| {len(cell)} | {mean:.2f} ± {std:.2f} | {thesis} | {within} "
            f"| {np.mean([r['n_unique_queries'] for r in cell]):.0f} "
            f"| {np.mean([r['steps'] for r in cell]):.0f} |"
        )
    return "\n".join(rows)


def timing(records: list[dict]) -> str:
    """CPU seconds per run and how many runs shared a process, per (agent, budget, unit)."""
    cells: dict[tuple, list[dict]] = defaultdict(list)
    for r in records:
        res = r["result"]
        cells[(res["agent"], res["budget"], res["budget_unit"])].append(r)
    lines = []
    for (agent, budget, unit), cell in sorted(cells.items()):
        cpu = [r["result"]["cpu_s"] for r in cell]
        batch = [r["timing"].get("batch_size", 1) for r in cell]
        lines.append(
            f"{agent} {budget} {unit}: {len(cell)} runs, {np.mean(cpu):.2f} CPU-s/run "
            f"(sum {np.sum(cpu):.0f}), runs per process {min(batch)}-{max(batch)}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("out", nargs="+", help="nas-gym bench --out directories")
    args = parser.parse_args()
    records = [r for out in args.out for r in load_all_records(out)]
    print(table(records))
    print()
    print(timing(records))


if __name__ == "__main__":
    main()
