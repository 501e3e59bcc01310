"""Turn run records into ``results.csv``, ``results.md`` and the timing table.

Two protocols are reported (Mills 2020 searched each split directly; the NB201
paper, Dong & Yang 2020, searches on validation and reports the test accuracy of
the best-by-validation architecture). Standard deviations are population standard
deviations over seeds (``numpy.std``, ddof=0).
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Iterable, Sequence
from typing import Any

from agents.bench import published as pub

RESULT_COLUMNS: tuple[str, ...] = (
    "agent",
    "dataset",
    "reward_metric",
    "budget",
    "seed",
    "best_arch_index",
    "best_valid_acc",
    "best_test_acc",
    "best_found_at",
    "n_queries",
    "n_unique_queries",
    "wall_s",
    "agent_s",
    "env_s",
    "cpu_s",
)
DATASET_ORDER: tuple[str, ...] = ("cifar10", "cifar100", "ImageNet16-120")
METRIC_ORDER: tuple[str, ...] = ("valid", "test")
_SHORT = {"cifar10": "C10", "cifar100": "C100", "ImageNet16-120": "IN16"}

GroupKey = tuple[str, str, str, int]


# -- small helpers -------------------------------------------------------------
def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and population std (ddof=0); NaN for an empty list."""
    if not values:
        return math.nan, math.nan
    mean = sum(values) / len(values)
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))


def fmt_stat(mean: float, std: float) -> str:
    return "—" if math.isnan(mean) else f"{mean:.2f} ± {std:.2f}"


def seed_list(seeds: Iterable[int]) -> str:
    """Compact seed list: ``1-10`` or ``1-3,7``."""
    values = sorted(set(seeds))
    parts: list[str] = []
    i = 0
    while i < len(values):
        j = i
        while j + 1 < len(values) and values[j + 1] == values[j] + 1:
            j += 1
        parts.append(str(values[i]) if i == j else f"{values[i]}-{values[j]}")
        i = j + 1
    return ",".join(parts)


def searched_acc(row: dict[str, Any]) -> float:
    """Accuracy on the split the run searched (the thesis' protocol)."""
    return row["best_valid_acc"] if row["reward_metric"] == "valid" else row["best_test_acc"]


def _order(values: Iterable[str], preferred: Sequence[str]) -> list[str]:
    values = set(values)
    return [v for v in preferred if v in values] + sorted(values - set(preferred))


def agent_order(rows: Sequence[dict[str, Any]], preferred: Sequence[str] = ()) -> list[str]:
    return _order((r["agent"] for r in rows), preferred)


def group_rows(
    rows: Sequence[dict[str, Any]], preferred_agents: Sequence[str] = ()
) -> dict[GroupKey, list[dict[str, Any]]]:
    """Rows by (agent, dataset, reward_metric, budget), in a stable reading order."""
    groups: dict[GroupKey, list[dict[str, Any]]] = {}
    for row in rows:
        key = (row["agent"], row["dataset"], row["reward_metric"], int(row["budget"]))
        groups.setdefault(key, []).append(row)
    agents = agent_order(rows, preferred_agents)
    datasets = _order((k[1] for k in groups), DATASET_ORDER)
    metrics = _order((k[2] for k in groups), METRIC_ORDER)

    def rank(key: GroupKey) -> tuple[int, int, int, int]:
        return (agents.index(key[0]), key[3], datasets.index(key[1]), metrics.index(key[2]))

    return {key: sorted(groups[key], key=lambda r: r["seed"]) for key in sorted(groups, key=rank)}


# -- results.csv ---------------------------------------------------------------
def result_rows(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [dict(record["result"]) for record in records]


def results_csv(rows: Sequence[dict[str, Any]]) -> str:
    """One row per run; floats in their shortest round-tripping form."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(RESULT_COLUMNS), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: row[key] for key in RESULT_COLUMNS})
    return buf.getvalue()


# -- results.md ----------------------------------------------------------------
def _published_cell(entries: list[tuple[str, pub.Stat]], ours: float) -> str:
    cells = []
    for method, (mean, std) in entries:
        delta = ours - mean
        verdict = "within 1 std" if abs(delta) <= std + 1e-9 else "outside 1 std"
        cells.append(f"{method} {mean:.2f} ± {std:.2f} (Δ {delta:+.2f}, {verdict})")
    return "; ".join(cells) if cells else "—"


def table_optima(data_dir: str | os.PathLike[str] | None = None) -> dict[tuple[str, str], float]:
    """Best accuracy of every (dataset, split) in the NB201 table (200 epochs)."""
    from nas_gym.benchmarks.nb201 import load_nb201

    table = load_nb201(data_dir)
    return {(d, m): float(table.optimum(d, m, 200)[1]) for d in DATASET_ORDER for m in METRIC_ORDER}


def optima_of(records: Sequence[dict[str, Any]]) -> dict[tuple[str, str], float]:
    """(dataset, reward_metric) -> the table's optimum, as recorded in the runs."""
    return {
        (r["spec"]["dataset"], r["spec"]["reward_metric"]): r["env"]["optimum_acc"] for r in records
    }


def searched_table(
    groups: dict[GroupKey, list[dict[str, Any]]], optima: dict[tuple[str, str], float]
) -> str:
    lines = [
        "| agent | budget | dataset | searched split | seeds | ours: best on searched split | published (Δ = ours − published) | optimum |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for (agent, dataset, metric, budget), rows in groups.items():
        mean, std = mean_std([searched_acc(r) for r in rows])
        base = rows[0].get("base_agent", agent)
        entries = pub.published_for(base, dataset, metric, budget)
        optimum = optima.get((dataset, metric), math.nan)
        lines.append(
            f"| {agent} | {budget} | {dataset} | {metric} | {seed_list(r['seed'] for r in rows)} "
            f"| {fmt_stat(mean, std)} | {_published_cell(entries, mean)} | {optimum:.2f} |"
        )
    return "\n".join(lines)


def test_of_best_valid_table(
    groups: dict[GroupKey, list[dict[str, Any]]], optima: dict[tuple[str, str], float]
) -> str:
    lines = [
        "| agent | budget | dataset | seeds | ours: test acc of best-by-valid | published (Δ = ours − published) | test optimum |",
        "|---|---|---|---|---|---|---|",
    ]
    n = 0
    for (agent, dataset, metric, budget), rows in groups.items():
        if metric != "valid":
            continue
        n += 1
        mean, std = mean_std([r["best_test_acc"] for r in rows])
        base = rows[0].get("base_agent", agent)
        entries = pub.published_test_of_best_valid(base, dataset)
        optimum = optima.get((dataset, "test"), math.nan)
        lines.append(
            f"| {agent} | {budget} | {dataset} | {seed_list(r['seed'] for r in rows)} "
            f"| {fmt_stat(mean, std)} | {_published_cell(entries, mean)} | "
            f"{'—' if math.isnan(optimum) else f'{optimum:.2f}'} |"
        )
    if n == 0:
        return "(no run searched the validation split)"
    return "\n".join(lines)


def thesis_layout_table(
    groups: dict[GroupKey, list[dict[str, Any]]], optima: dict[tuple[str, str], float]
) -> str:
    """Rows agent@budget, columns dataset x searched split, as in Mills 2020 Table 4.1."""
    cols = [(d, m) for d in DATASET_ORDER for m in METRIC_ORDER]
    header = "| method | " + " | ".join(f"{_SHORT[d]} {m}" for d, m in cols) + " |"
    lines = [header, "|---" * (len(cols) + 1) + "|"]
    rows_by: dict[tuple[str, int], dict[tuple[str, str], str]] = {}
    seeds: dict[tuple[str, int], set[int]] = {}
    for (agent, dataset, metric, budget), rows in groups.items():
        cell = fmt_stat(*mean_std([searched_acc(r) for r in rows]))
        rows_by.setdefault((agent, budget), {})[(dataset, metric)] = cell
        seeds.setdefault((agent, budget), set()).update(r["seed"] for r in rows)
    for (agent, budget), cells in rows_by.items():
        label = f"{agent} @{budget} (ours, seeds {seed_list(seeds[(agent, budget)])})"
        lines.append(f"| {label} | " + " | ".join(cells.get(c, "—") for c in cols) + " |")
    for row in pub.ALL_ROWS:
        cells = []
        for c in cols:
            stat = row.searched.get(c)
            if stat is None and c[1] == "test":
                stat = row.test_of_best_valid.get(c[0])
            cells.append("—" if stat is None else f"{stat[0]:.2f} ± {stat[1]:.2f}")
        lines.append(f"| {row.method} (published) | " + " | ".join(cells) + " |")
    lines.append("| optimal (thesis) | " + " | ".join(f"{pub.OPTIMAL[c]:.2f}" for c in cols) + " |")
    if optima:
        lines.append(
            "| optimal (this table) | "
            + " | ".join(f"{optima[c]:.2f}" if c in optima else "—" for c in cols)
            + " |"
        )
    return "\n".join(lines)


def nb201_protocol_wide_table(groups: dict[GroupKey, list[dict[str, Any]]]) -> str:
    """Rows agent@budget, columns dataset: test accuracy of the best-by-validation architecture."""
    lines = [
        "| method | "
        + " | ".join(f"{_SHORT[d]} test (best by valid)" for d in DATASET_ORDER)
        + " |",
        "|---" * (len(DATASET_ORDER) + 1) + "|",
    ]
    rows_by: dict[tuple[str, int], dict[str, str]] = {}
    seeds: dict[tuple[str, int], set[int]] = {}
    for (agent, dataset, metric, budget), rows in groups.items():
        if metric == "valid":
            cell = fmt_stat(*mean_std([r["best_test_acc"] for r in rows]))
            rows_by.setdefault((agent, budget), {})[dataset] = cell
            seeds.setdefault((agent, budget), set()).update(r["seed"] for r in rows)
    if not rows_by:
        return "(no run searched the validation split)"
    for (agent, budget), cells in rows_by.items():
        label = f"{agent} @{budget} (ours, seeds {seed_list(seeds[(agent, budget)])})"
        lines.append(f"| {label} | " + " | ".join(cells.get(d, "—") for d in DATASET_ORDER) + " |")
    for row in pub.ALL_ROWS:
        if row.test_of_best_valid:
            cells = [row.test_of_best_valid.get(d) for d in DATASET_ORDER]
            lines.append(
                f"| {row.method} (published) | "
                + " | ".join("—" if c is None else f"{c[0]:.2f} ± {c[1]:.2f}" for c in cells)
                + " |"
            )
    return "\n".join(lines)


def timing_rows(
    rows: Sequence[dict[str, Any]], preferred_agents: Sequence[str] = ()
) -> list[dict[str, Any]]:
    """Per (agent, budget): mean seconds per run split into agent and environment time."""
    by: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for row in rows:
        by.setdefault((row["agent"], int(row["budget"])), []).append(row)
    order = agent_order(rows, preferred_agents)
    out = []
    for agent, budget in sorted(by, key=lambda k: (order.index(k[0]), k[1])):
        group = by[(agent, budget)]
        wall = mean_std([r["wall_s"] for r in group])[0]
        agent_s = mean_std([r["agent_s"] for r in group])[0]
        env_s = mean_std([r["env_s"] for r in group])[0]
        cpu_s = mean_std([float(r.get("cpu_s", math.nan)) for r in group])[0]
        out.append(
            {
                "agent": agent,
                "budget": budget,
                "runs": len(group),
                "wall_s": wall,
                "agent_s": agent_s,
                "env_s": env_s,
                "cpu_s": cpu_s,
                "env_share": env_s / wall if wall > 0 else math.nan,
                "env_us_per_query": 1e6 * env_s / budget,
                "agent_env_ratio": agent_s / env_s if env_s > 0 else math.inf,
            }
        )
    return out


def timing_markdown(rows: Sequence[dict[str, Any]], preferred_agents: Sequence[str] = ()) -> str:
    lines = [
        "| agent | budget | runs | wall s/run | CPU s/run | agent s/run | env s/run | env share | env µs/query | agent/env |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for t in timing_rows(rows, preferred_agents):
        lines.append(
            f"| {t['agent']} | {t['budget']} | {t['runs']} | {t['wall_s']:.3f} | {t['cpu_s']:.3f} "
            f"| {t['agent_s']:.3f} "
            f"| {t['env_s']:.3f} | {100 * t['env_share']:.1f}% | {t['env_us_per_query']:.1f} "
            f"| {t['agent_env_ratio']:.0f}x |"
        )
    return "\n".join(lines)


def timing_text(rows: Sequence[dict[str, Any]], preferred_agents: Sequence[str] = ()) -> str:
    """The timing table for the terminal."""
    head = f"{'agent':<18} {'budget':>6} {'runs':>5} {'wall s/run':>10} {'cpu s':>7} {'agent s':>8} {'env s':>7} {'env %':>6} {'env us/q':>9}"
    lines = [head, "-" * len(head)]
    for t in timing_rows(rows, preferred_agents):
        lines.append(
            f"{t['agent']:<18} {t['budget']:>6} {t['runs']:>5} {t['wall_s']:>10.3f} {t['cpu_s']:>7.3f} "
            f"{t['agent_s']:>8.3f} "
            f"{t['env_s']:>7.3f} {100 * t['env_share']:>5.1f}% {t['env_us_per_query']:>9.1f}"
        )
    return "\n".join(lines)


def results_markdown(
    records: Sequence[dict[str, Any]],
    preferred_agents: Sequence[str] = (),
    command: str | None = None,
    bench_wall_s: float | None = None,
    optima: dict[tuple[str, str], float] | None = None,
    bench_cpu_s: float | None = None,
) -> str:
    """The whole ``results.md``; ``optima`` defaults to those recorded in the runs."""
    rows = []
    for record in records:
        row = dict(record["result"])
        row["base_agent"] = record["spec"]["base_agent"]
        rows.append(row)
    groups = group_rows(rows, preferred_agents)
    optima = {**optima_of(records), **(optima or {})}
    machine = records[0]["machine"] if records else {}
    versions = records[0]["versions"] if records else {}
    parts = ["# nas-gym bench results", ""]
    if command:
        parts += [f"Command: `{command}`", ""]
    parts += [
        f"{len(records)} runs on NASBench201-v0 (200-epoch accuracies, NATS-Bench TSS / NB201 v1.1 means). "
        f"Machine: {machine.get('platform', '?')}, {machine.get('cpu_count', '?')} CPUs; "
        + ", ".join(f"{k} {v}" for k, v in versions.items())
        + ".",
        "",
        "Mean ± std over seeds (population std, ddof=0). `best` = the architecture with the highest "
        "accuracy on the searched split among all queried; accuracies in percent.",
        "",
    ]
    if bench_wall_s is not None:
        cpu = f"; CPU time of the runs it ran: {bench_cpu_s:.1f} s" if bench_cpu_s else ""
        parts += [
            f"Wall time of the last `nas-gym bench` invocation: {bench_wall_s:.1f} s{cpu}.",
            "",
        ]
    parts += [
        "## Accuracy on the searched split (Mills 2020 protocol)",
        "",
        searched_table(groups, optima),
        "",
        "## Test accuracy of the best-by-validation architecture (NB201 protocol)",
        "",
        test_of_best_valid_table(groups, optima),
        "",
        nb201_protocol_wide_table(groups),
        "",
        "## Table 4.1 layout (searched split; published rows from Mills 2020 Table 4.1 and the SPEC)",
        "",
        thesis_layout_table(groups, optima),
        "",
        "RS/REA/REINFORCE (published) are Dong & Yang (2020)'s runs: searched on validation under a "
        "simulated time budget, so their test column is the test accuracy of the best-by-validation "
        "architecture. RS-500 and GA-NAS searched on test.",
        "",
        "## Time per run: agent vs environment",
        "",
        timing_markdown(rows, preferred_agents),
        "",
    ]
    return "\n".join(parts)


def write_reports(
    out_dir: str | os.PathLike[str],
    records: Sequence[dict[str, Any]],
    preferred_agents: Sequence[str] = (),
    command: str | None = None,
    bench_wall_s: float | None = None,
    plots: bool = True,
    data_dir: str | os.PathLike[str] | None = None,
    bench_cpu_s: float | None = None,
) -> list[str]:
    """Write results.csv, results.md and the curves; returns the written file names."""
    from pathlib import Path

    from nas_gym.data import atomic_write_text

    out = Path(out_dir)
    rows = result_rows(records)
    atomic_write_text(out / "results.csv", results_csv(rows))
    atomic_write_text(
        out / "results.md",
        results_markdown(records, preferred_agents, command, bench_wall_s, table_optima(data_dir)),
    )
    written = ["results.csv", "results.md"]
    if plots:
        from agents.bench.plots import plot_all_curves

        written += plot_all_curves(records, out, preferred_agents)
    return written
