"""Mills (2020) Table 4.1 from ``nas-gym bench`` runs, under both readings of the budget.

Reads the run records of one or more bench directories and prints one Markdown row
per (agent, budget, unit, dataset, split): best accuracy found on the searched split,
mean ± population std over seeds (as ``nas-gym bench`` reports it), the thesis' value,
whether ours lies within one published std, the unique architectures and the steps
(queries) per run, and in how many runs the best found is the split's optimum (the
thesis claims CADAM-1k found it at least twice in 10 runs on all six splits). The two
readings (issue 12):

* every query counted (``--budget-unit query``), default actor lr 1e-4 (``cadam``);
* unique architectures counted (``--budget-unit unique``), printed actor lr 1e-8
  (``cadam-printed``).

    nas-gym bench --preset table4.1 --out runs/t41_query --jobs 2
    nas-gym bench --preset table4.1 --agents cadam-printed --budget-unit unique \\
        --out runs/t41_unique --jobs 2
    python benchmarks/cadam_table41.py runs/t41_query runs/t41_unique

A source is a bench ``--out`` directory or an archive (``.jsonl.xz``,
:mod:`nas_gym.agents.bench.archive`); ``--to FILE.jsonl.xz`` writes every run read
into one archive. The runs behind docs/cadam_table41.md are archived in
``benchmarks/archives/cadam_table41/``, so its tables regenerate without re-running:

    python benchmarks/cadam_table41.py benchmarks/archives/cadam_table41/query.jsonl.xz
"""

from __future__ import annotations

import argparse
import math
from collections import defaultdict
from pathlib import Path

import numpy as np

from nas_gym.agents.bench import archive
from nas_gym.agents.bench.order import group_rows
from nas_gym.agents.bench.published import CADAM_1K, CADAM_500
from nas_gym.agents.bench.store import load_all_records
from nas_gym.benchmarks.nb201 import load_nb201

READING = {"query": "every query counted", "unique": "unique architectures counted"}
#: The spec fields a table row reads, copied into an archived run's result.
SPEC_COLUMNS = ("agent", "env_id", "dataset", "reward_metric", "budget", "budget_unit", "seed")


def from_archive(run: dict) -> dict:
    """An archived run in the shape of a bench record, as far as this script reads it: the
    result's row fields from the spec, and the split's optimum from the table (what the
    environment would have recorded). Archives keep no timing."""
    spec = run["spec"]
    _, optimum = load_nb201().optimum(
        spec["dataset"], spec["reward_metric"], archive.fidelity(spec)
    )
    return {
        "spec": spec,
        "result": {**{k: spec[k] for k in SPEC_COLUMNS}, **run["result"]},
        "history": run["history"],
        "env": {"optimum_acc": optimum},
    }


def read_sources(sources: list[str]) -> list[dict]:
    """Every run of the bench directories and archives named, each run once (copies of
    one run in two sources must agree)."""
    named = []
    for source in sources:
        if source.endswith(".jsonl.xz"):
            named.append((source, [from_archive(r) for r in archive.read_archive(Path(source))]))
        else:
            named.append((source, load_all_records(source)))
    records, repeated = archive.merge(named)
    if repeated:
        print(f"{repeated} runs were found in more than one source; every copy agrees\n")
    return records


def first_seen_steps(archs: list[int]) -> list[int]:
    """The step at which each distinct architecture was first queried, in order."""
    first: dict[int, int] = {}
    for step, arch in enumerate(archs):
        first.setdefault(arch, step)
    return list(first.values())


def prefix_run(record: dict, budget: int) -> dict | None:
    """The run with budget ``budget`` read off a longer run's history (None if not longer).

    Exact for CADAM: nothing in its schedule or its state depends on the budget, so a
    run's first ``budget`` queries (``"query"``), or its queries up to the ``budget``-th
    distinct architecture (``"unique"``), are the shorter run's (the bench batches
    different budgets together on this ground; tests/test_bench_batched.py checks it).
    """
    result, history = record["result"], record["history"]
    if result["budget"] <= budget:
        return None
    archs = history["arch_index"]
    if result["budget_unit"] == "query":
        stop = budget
    else:
        first_seen = first_seen_steps(archs)
        if len(first_seen) < budget:
            return None
        stop = first_seen[budget - 1] + 1
    split = result["reward_metric"]
    scores = history["test_acc" if split == "test" else "valid_acc"][:stop]
    best = max(range(stop), key=lambda i: (scores[i], -i))
    return dict(
        result,
        optimum_acc=record["env"].get("optimum_acc"),
        agent=f"{result['agent']} (first {budget} of {result['budget']})",
        budget=budget,
        best_valid_acc=history["valid_acc"][best],
        best_test_acc=history["test_acc"][best],
        n_unique_queries=len(set(archs[:stop])),
        steps=stop,
    )


def table(records: list[dict], prefixes: list[int] = ()) -> str:
    """One row per bench cell (agent, budget, unit, dataset, split), seeds pooled."""
    runs = [
        dict(
            r["result"],
            steps=len(r["history"]["arch_index"]),
            optimum_acc=r["env"].get("optimum_acc"),
        )
        for r in records
    ]
    runs += [run for b in prefixes for r in records if (run := prefix_run(r, b)) is not None]
    rows = [
        "| agent | budget | reading | dataset | split | seeds | ours (mean ± std) | thesis "
        "| within 1 std | optimum found | unique queries / run | steps / run |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
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
            f"| {len(cell)} | {mean:.2f} ± {std:.2f} | {thesis} | {within} | {optimum_found(cell, best)} "
            f"| {np.mean([r['n_unique_queries'] for r in cell]):.0f} "
            f"| {np.mean([r['steps'] for r in cell]):.0f} |"
        )
    return "\n".join(rows)


def distinct_scores(record: dict) -> list[float]:
    """The searched split's accuracy of each distinct architecture, in first-seen order."""
    history, split = record["history"], record["result"]["reward_metric"]
    scores = history["test_acc" if split == "test" else "valid_acc"]
    return [scores[step] for step in first_seen_steps(history["arch_index"])]


def improved_after(records: list[dict], n: int) -> str:
    """Does a run's best still improve after its ``n``-th distinct cell?

    If a run's ``2n`` distinct cells came in random order (uniform search without
    replacement), its best would lie after the ``n``-th with probability 1/2; the last line gives the binomial probability of as few
    improvements as seen. Runs with at most ``n`` distinct cells are left out.
    """
    cells: dict[tuple, list[list[float]]] = defaultdict(list)
    for r in records:
        scores = distinct_scores(r)
        if len(scores) > n:
            res = r["result"]
            key = (res["agent"], res["budget"], res["dataset"], res["reward_metric"])
            cells[key].append(scores)
    lines = [
        f"| agent | budget | dataset | split | runs improved after distinct cell {n} "
        f"| mean accuracy of cells 1-{n} / after | best among cells 1-{n} "
        f"| of each run's 10 best, among cells 1-{n} |",
        "|---|---|---|---|---|---|---|---|",
    ]
    improved = total = 0
    for (agent, budget, dataset, split), runs in sorted(cells.items()):
        up = sum(max(sc[n:]) > max(sc[:n]) for sc in runs)
        improved, total = improved + up, total + len(runs)
        early = np.mean([np.mean(sc[:n]) for sc in runs])
        late = np.mean([np.mean(sc[n:]) for sc in runs])
        first = sum(int(np.argmax(sc)) < n for sc in runs)
        top = np.mean([int((np.argsort(sc)[::-1][:10] < n).sum()) for sc in runs])
        lines.append(
            f"| {agent} | {budget} | {dataset} | {split} | {up}/{len(runs)} "
            f"| {early:.2f} / {late:.2f} | {first}/{len(runs)} | {top:.1f} |"
        )
    if total:
        tail = sum(math.comb(total, k) for k in range(improved + 1)) / 2**total
        lines.append(
            f"\nall cells: {improved} of {total} runs improved after distinct cell {n}; "
            f"P(at most {improved} | p = 1/2) = {tail:.2g}"
        )
    return "\n".join(lines)


def optimum_found(cell: list[dict], best: list[float]) -> str:
    """Runs whose best accuracy is the split's optimum, out of the cell's runs ("–" if unrecorded)."""
    if any(r["optimum_acc"] is None for r in cell):
        return "–"
    hits = sum(abs(b - r["optimum_acc"]) < 1e-9 for b, r in zip(best, cell, strict=True))
    return f"{hits}/{len(cell)}"


def timing(records: list[dict]) -> str:
    """CPU seconds per run and how many runs shared a process, per (agent, budget, unit)."""
    cells: dict[tuple, list[dict]] = defaultdict(list)
    for r in records:
        res = r["result"]
        if "timing" in r:
            cells[(res["agent"], res["budget"], res["budget_unit"])].append(r)
    lines = []
    untimed = [r for r in records if "timing" not in r]
    if untimed:
        lines.append(f"{len(untimed)} runs read from archives (no timing kept): not counted")
    for (agent, budget, unit), cell in sorted(cells.items()):
        cpu = [r["result"]["cpu_s"] for r in cell]
        own = [r["result"]["cpu_s"] - r["timing"].get("shared_cpu_s", 0.0) for r in cell]
        batch = [r["timing"].get("batch_size", 1) for r in cell]
        replayed = sum(r["timing"].get("prefix_of") is not None for r in cell)
        lines.append(
            f"{agent} {budget} {unit}: {len(cell)} runs, {np.mean(cpu):.2f} CPU-s/run "
            f"(sum {np.sum(cpu):.0f}; spent by these runs themselves {np.sum(own):.0f}: "
            f"{replayed} replayed a longer twin's queries), "
            f"runs per process {min(batch)}-{max(batch)}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "sources", nargs="+", help="nas-gym bench --out directories or .jsonl.xz archives"
    )
    parser.add_argument(
        "--to", default=None, help="also write every run read into this .jsonl.xz archive"
    )
    parser.add_argument(
        "--prefix",
        default="",
        help="also read these budgets off longer runs' histories, e.g. 500 (see prefix_run)",
    )
    parser.add_argument(
        "--improved-after",
        type=int,
        metavar="N",
        help="instead of the table: per cell, how many runs found a better cell after their "
        "N-th distinct one (see improved_after)",
    )
    args = parser.parse_args()
    if args.improved_after is not None and args.improved_after < 1:
        parser.error(
            f"--improved-after must be a positive number of cells, got {args.improved_after}"
        )
    if args.to is not None and not args.to.endswith(".jsonl.xz"):
        parser.error(f"--to needs a FILE.jsonl.xz, got {args.to!r}")
    for source in args.sources:
        if not Path(source).exists():
            parser.error(f"{source}: no such bench directory or archive")
    try:
        records = read_sources(args.sources)
        if not records:
            parser.error(f"no finished runs in {', '.join(args.sources)}")
        if args.to is not None:
            archive.write_archive(records, Path(args.to))
            print(f"archived {len(records)} runs to {args.to}\n")
    except archive.ArchiveError as exc:
        parser.error(str(exc))
    if args.improved_after is not None:
        print(improved_after(records, args.improved_after))
        return
    print(table(records, [int(b) for b in args.prefix.split(",") if b]))
    print()
    print(timing(records))


if __name__ == "__main__":
    main()
