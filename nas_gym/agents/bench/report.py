"""Pure tables from run records: ``results.csv`` text and the ``results.md`` sections.

Two NB201 protocols are reported (Mills 2020 searched each split directly; the NB201
paper, Dong & Yang 2020, searches on validation and reports the test accuracy of
the best-by-validation architecture). Standard deviations are population standard
deviations over seeds (ddof=0); confidence intervals are bootstrap percentile 95%
intervals of the mean; the paired test is Wilcoxon's signed-rank test against a
reference agent over the same seeds, Holm-corrected within each (environment,
dataset, split, budget) family. Nothing here reads or writes files.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Sequence
from typing import Any

from nas_gym.agents.bench import published as pub
from nas_gym.agents.bench import stats
from nas_gym.agents.bench.order import DATASET_ORDER, METRIC_ORDER, SHORT, GroupKey, group_rows
from nas_gym.agents.bench.record import RESULT_COLUMNS, csv_row, result_rows

Groups = dict[GroupKey, list[dict[str, Any]]]


# -- small helpers -------------------------------------------------------------
def fmt_stat(mean: float, std: float) -> str:
    return "—" if math.isnan(mean) else f"{mean:.2f} ± {std:.2f}"


def fmt(value: float | None, digits: int = 2) -> str:
    return "—" if value is None or math.isnan(value) else f"{value:.{digits}f}"


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


def budget_label(budget: int, unit: str) -> str:
    return f"{budget}" if unit == "query" else f"{budget} unique"


def _mean_of(rows: Sequence[dict[str, Any]], key: str) -> float:
    values = [float(r[key]) for r in rows if r.get(key) is not None]
    return stats.mean_std(values)[0] if values else math.nan


# -- results.csv ---------------------------------------------------------------
def results_csv(rows: Sequence[dict[str, Any]]) -> str:
    """One row per run, columns from :class:`nas_gym.agents.bench.record.RunResult`."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(RESULT_COLUMNS), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(csv_row(row))
    return buf.getvalue()


# -- published rows --------------------------------------------------------------
def published_cell(entries: list[tuple[pub.Published, pub.Stat]], ours: float) -> str:
    """Published values beside ours: Δ only for a comparable row, else its protocol."""
    cells = []
    for row, (mean, std) in entries:
        if row.budget is None:
            cells.append(f"{row.method} {mean:.2f} ± {std:.2f} [{row.protocol}; no Δ]")
            continue
        delta = ours - mean
        verdict = "within 1 std" if abs(delta) <= std + 1e-9 else "outside 1 std"
        cells.append(f"{row.method} {mean:.2f} ± {std:.2f} (Δ {delta:+.2f}, {verdict})")
    return "; ".join(cells) if cells else "—"


def optima_of(records: Sequence[dict[str, Any]]) -> dict[tuple[str, str], float]:
    """(dataset, reward_metric) -> the table's optimum, as recorded in NB201 runs."""
    return {
        (r["spec"]["dataset"], r["spec"]["reward_metric"]): r["env"]["optimum_acc"]
        for r in records
        if "optimum_acc" in r["env"]
    }


# -- the main tables -------------------------------------------------------------
def paired_tests(groups: Groups, reference: str | None) -> dict[GroupKey, tuple[float, float, int]]:
    """Group -> (Holm-adjusted p, mean paired difference, pairs) against ``reference``."""
    if reference is None:
        return {}
    families: dict[tuple, list[tuple[GroupKey, float, float, int]]] = {}
    for key, rows in groups.items():
        agent, *cell = key
        ref_rows = groups.get((reference, *cell))
        if agent == reference or ref_rows is None:
            continue
        ref = {r["seed"]: searched_acc(r) for r in ref_rows}
        pairs = [(searched_acc(r), ref[r["seed"]]) for r in rows if r["seed"] in ref]
        if not pairs:
            continue
        x, y = zip(*pairs, strict=True)
        _, p, _ = stats.wilcoxon_signed_rank(x, y)
        diff = float(sum(a - b for a, b in pairs) / len(pairs))
        families.setdefault(tuple(cell), []).append((key, p, diff, len(pairs)))
    out = {}
    for tests in families.values():
        adjusted = stats.holm([p for _, p, _, _ in tests])
        for (key, _, diff, n), p_holm in zip(tests, adjusted, strict=True):
            out[key] = (p_holm, diff, n)
    return out


def searched_table(
    groups: Groups,
    optima: dict[tuple[str, str], float],
    reference: str | None = None,
) -> str:
    """Best accuracy on the searched split with CI, rank, queries-to-best and the paired test."""
    tests = paired_tests(groups, reference)
    ref_head = f"vs {reference}: Δ, Holm p (pairs)" if reference else "paired test"
    lines = [
        f"| agent | budget | dataset | searched split | seeds | ours: best on searched split "
        f"| 95% CI | mean rank | queries to best | unique queries | {ref_head} "
        "| published (Δ = ours − published) | optimum |",
        "|---" * 13 + "|",
    ]
    for key, rows in groups.items():
        agent, env_id, dataset, metric, budget, unit = key
        values = [searched_acc(r) for r in rows]
        mean, std = stats.mean_std(values)
        low, high = stats.bootstrap_ci(values)
        test = tests.get(key)
        test_cell = "—" if test is None else f"{test[1]:+.2f}, p={fmt(test[0], 3)} ({test[2]})"
        base = rows[0].get("base_agent", agent)
        entries = pub.published_for(base, dataset, metric, budget, env_id, unit)
        lines.append(
            f"| {agent} | {budget_label(budget, unit)} | {dataset} | {metric} "
            f"| {seed_list(r['seed'] for r in rows)} | {fmt_stat(mean, std)} "
            f"| [{float(low):.2f}, {float(high):.2f}] | {fmt(_mean_of(rows, 'best_rank'), 1)} "
            f"| {fmt(_mean_of(rows, 'best_found_at'), 1)} "
            f"| {fmt(_mean_of(rows, 'n_unique_queries'), 1)} | {test_cell} "
            f"| {published_cell(entries, mean)} | {fmt(optima.get((dataset, metric)))} |"
        )
    return "\n".join(lines)


def constrained_table(groups: Groups) -> str | None:
    """Latency/cost-aware summary of constrained runs; None when no run was constrained."""
    lines = [
        "| agent | budget | dataset | seeds | feasible fraction | best feasible acc "
        "| cost of best feasible | best acc (any) | cost of the best |",
        "|---" * 9 + "|",
    ]
    n = 0
    for (agent, _, dataset, _, budget, unit), rows in groups.items():
        if all(r.get("feasible_fraction") is None for r in rows):
            continue
        n += 1
        bf = [float(r["best_feasible_acc"]) for r in rows if r.get("best_feasible_acc") is not None]
        lines.append(
            f"| {agent} | {budget_label(budget, unit)} | {dataset} "
            f"| {seed_list(r['seed'] for r in rows)} | {fmt(_mean_of(rows, 'feasible_fraction'), 3)} "
            f"| {fmt_stat(*stats.mean_std(bf))} ({len(bf)} of {len(rows)} runs feasible) "
            f"| {fmt(_mean_of(rows, 'best_feasible_cost'))} "
            f"| {fmt_stat(*stats.mean_std([searched_acc(r) for r in rows]))} "
            f"| {fmt(_mean_of(rows, 'best_cost'))} |"
        )
    return "\n".join(lines) if n else None


def test_of_best_valid_table(groups: Groups, optima: dict[tuple[str, str], float]) -> str:
    lines = [
        "| agent | budget | dataset | seeds | ours: test acc of best-by-valid "
        "| published (Δ = ours − published) | test optimum |",
        "|---" * 7 + "|",
    ]
    n = 0
    for (agent, env_id, dataset, metric, budget, unit), rows in groups.items():
        if metric != "valid" or any(r.get("best_test_acc") is None for r in rows):
            continue
        n += 1
        mean, std = stats.mean_std([r["best_test_acc"] for r in rows])
        base = rows[0].get("base_agent", agent)
        entries = pub.published_test_of_best_valid(base, dataset, env_id)
        lines.append(
            f"| {agent} | {budget_label(budget, unit)} | {dataset} "
            f"| {seed_list(r['seed'] for r in rows)} | {fmt_stat(mean, std)} "
            f"| {published_cell(entries, mean)} | {fmt(optima.get((dataset, 'test')))} |"
        )
    return "\n".join(lines) if n else "(no NB201 run searched the validation split)"


def report_at_table(
    records: Sequence[dict[str, Any]], points: Sequence[int], preferred_agents: Sequence[str] = ()
) -> str:
    """Best-so-far on the searched split after each of ``points`` queries (``--report-at``)."""
    head = " | ".join(f"at {k}" for k in points)
    lines = [
        f"| agent | budget | dataset | searched split | seeds | {head} | published at that count |",
        "|---" * (6 + len(points)) + "|",
    ]
    rows = result_rows(records)
    groups = group_rows(rows, preferred_agents)
    by_key = {}
    for record, row in zip(records, rows, strict=True):
        metric = row["reward_metric"]
        scores = record["history"]["test_acc" if metric == "test" else "valid_acc"]
        by_key[(row["agent"], row["seed"], *row_key(row))] = stats.best_so_far(scores)
    for key, grows in groups.items():
        agent, env_id, dataset, metric, budget, unit = key
        cells, published = [], []
        for k in points:
            values = [stats.value_at(by_key[(agent, r["seed"], *row_key(r))], k) for r in grows]
            values = [v for v in values if not math.isnan(v)]
            cells.append(fmt_stat(*stats.mean_std(values)) if values else "—")
            base = grows[0].get("base_agent", agent)
            for row, stat in pub.published_for(base, dataset, metric, k, env_id, "query"):
                if row.budget == k and values:
                    published.append(
                        f"{row.method} at {k}: {published_cell([(row, stat)], stats.mean_std(values)[0])}"
                    )
        lines.append(
            f"| {agent} | {budget_label(budget, unit)} | {dataset} | {metric} "
            f"| {seed_list(r['seed'] for r in grows)} | {' | '.join(cells)} "
            f"| {'; '.join(published) or '—'} |"
        )
    return "\n".join(lines)


def row_key(row: dict[str, Any]) -> tuple:
    return (
        row.get("env_id"),
        row["dataset"],
        row["reward_metric"],
        row["budget"],
        row.get("budget_unit"),
    )


def thesis_layout_table(groups: Groups, optima: dict[tuple[str, str], float]) -> str:
    """Rows agent@budget, columns dataset x searched split, as in Mills 2020 Table 4.1."""
    cols = [(d, m) for d in DATASET_ORDER for m in METRIC_ORDER]
    header = "| method | " + " | ".join(f"{SHORT[d]} {m}" for d, m in cols) + " |"
    lines = [header, "|---" * (len(cols) + 1) + "|"]
    rows_by: dict[tuple[str, str], dict[tuple[str, str], str]] = {}
    seeds: dict[tuple[str, str], set[int]] = {}
    for (agent, env_id, dataset, metric, budget, unit), rows in groups.items():
        if not pub.same_search(env_id, pub.NB201):
            continue
        cell = fmt_stat(*stats.mean_std([searched_acc(r) for r in rows]))
        label = (agent, budget_label(budget, unit))
        rows_by.setdefault(label, {})[(dataset, metric)] = cell
        seeds.setdefault(label, set()).update(r["seed"] for r in rows)
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
        lines.append(f"| {row.method} (published; {row.protocol}) | " + " | ".join(cells) + " |")
    lines.append("| optimal (thesis) | " + " | ".join(f"{pub.OPTIMAL[c]:.2f}" for c in cols) + " |")
    if optima:
        lines.append(
            "| optimal (this table) | " + " | ".join(fmt(optima.get(c)) for c in cols) + " |"
        )
    return "\n".join(lines)


# -- time ------------------------------------------------------------------------
def timing_rows(
    rows: Sequence[dict[str, Any]], preferred_agents: Sequence[str] = ()
) -> list[dict[str, Any]]:
    """Per (agent, budget): mean seconds per run split into agent and environment time."""
    from nas_gym.agents.bench.order import agent_order

    by: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for row in rows:
        by.setdefault((row["agent"], int(row["budget"])), []).append(row)
    order = agent_order(rows, preferred_agents)
    out = []
    for agent, budget in sorted(by, key=lambda k: (order.index(k[0]), k[1])):
        group = by[(agent, budget)]
        wall, agent_s, env_s, cpu_s = (
            _mean_of(group, key) for key in ("wall_s", "agent_s", "env_s", "cpu_s")
        )
        queries = _mean_of(group, "n_queries")
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
                "env_us_per_query": 1e6 * env_s / queries,
                "agent_env_ratio": agent_s / env_s if env_s > 0 else math.inf,
            }
        )
    return out


def timing_markdown(rows: Sequence[dict[str, Any]], preferred_agents: Sequence[str] = ()) -> str:
    lines = [
        "| agent | budget | runs | wall s/run | CPU s/run | agent s/run | env s/run | env share "
        "| env µs/query | agent/env |",
        "|---" * 10 + "|",
    ]
    for t in timing_rows(rows, preferred_agents):
        lines.append(
            f"| {t['agent']} | {t['budget']} | {t['runs']} | {t['wall_s']:.3f} | {t['cpu_s']:.3f} "
            f"| {t['agent_s']:.3f} | {t['env_s']:.3f} | {100 * t['env_share']:.1f}% "
            f"| {t['env_us_per_query']:.1f} | {t['agent_env_ratio']:.0f}x |"
        )
    return "\n".join(lines)


def timing_text(rows: Sequence[dict[str, Any]], preferred_agents: Sequence[str] = ()) -> str:
    """The timing table for the terminal."""
    head = (
        f"{'agent':<18} {'budget':>6} {'runs':>5} {'wall s/run':>10} {'cpu s':>7} "
        f"{'agent s':>8} {'env s':>7} {'env %':>6} {'env us/q':>9}"
    )
    lines = [head, "-" * len(head)]
    for t in timing_rows(rows, preferred_agents):
        lines.append(
            f"{t['agent']:<18} {t['budget']:>6} {t['runs']:>5} {t['wall_s']:>10.3f} "
            f"{t['cpu_s']:>7.3f} {t['agent_s']:>8.3f} {t['env_s']:>7.3f} "
            f"{100 * t['env_share']:>5.1f}% {t['env_us_per_query']:>9.1f}"
        )
    return "\n".join(lines)


def invocation_text(n_ran: int, n_total: int, wall_s: float, cpu_s: float) -> str:
    """What the last invocation did; a resumed one says so instead of '0.0 s'."""
    if n_ran == 0:
        return (
            f"The last `nas-gym bench` invocation ran no new run: all {n_total} runs were "
            "resumed from `runs/` (their own times are in the timing table)."
        )
    return (
        f"The last `nas-gym bench` invocation ran {n_ran} of {n_total} runs in {wall_s:.1f} s "
        f"wall, {cpu_s:.1f} CPU-s in the runs."
    )


def env_summary(records: Sequence[dict[str, Any]]) -> str:
    """One line per (env, configuration): the env kwargs besides the grid, and its agents."""
    import json

    grid = ("dataset", "reward_metric", "max_queries", "budget_unit")
    seen: dict[tuple[str, str], set[str]] = {}
    for r in records:
        kwargs = {k: v for k, v in r["env"]["kwargs"].items() if k not in grid}
        key = (r["env"]["id"], json.dumps(kwargs, sort_keys=True) if kwargs else "defaults")
        seen.setdefault(key, set()).add(r["spec"]["agent"])
    return "\n".join(
        f"- `{env_id}` {kwargs}: {', '.join(sorted(agents))}"
        for (env_id, kwargs), agents in seen.items()
    )


def results_markdown(
    records: Sequence[dict[str, Any]],
    preferred_agents: Sequence[str] = (),
    command: str | None = None,
    invocation: str | None = None,
    optima: dict[tuple[str, str], float] | None = None,
    reference: str | None = None,
    report_at: Sequence[int] = (),
) -> str:
    """The whole ``results.md``; ``optima`` defaults to those recorded in the runs."""
    rows = result_rows(records)
    groups = group_rows(rows, preferred_agents)
    optima = {**optima_of(records), **(optima or {})}
    machine = records[0]["machine"] if records else {}
    versions = records[0]["versions"] if records else {}
    envs = sorted({r["env"]["id"] for r in records})
    parts = ["# nas-gym bench results", ""]
    if command:
        parts += [f"Command: `{command}`", ""]
    parts += [
        f"{len(records)} runs on {', '.join(envs)}. "
        f"Machine: {machine.get('platform', '?')}, {machine.get('cpu_count', '?')} CPUs; "
        + ", ".join(f"{k} {v}" for k, v in versions.items())
        + ".",
        "",
        "Environment configuration per agent (each agent's paper configuration unless "
        "overridden by `--env-kwargs`):",
        "",
        env_summary(records),
        "",
        "Mean ± std over seeds (population std, ddof=0); 95% CI = bootstrap percentile interval "
        "of the mean. `best` = the architecture with the highest accuracy on the searched split "
        "among all queried; accuracies in percent. Mean rank (NB201): 1 + the number of the "
        "15,625 cells strictly better on the searched split (tied cells share the better rank). "
        "Queries to best: the query at which the run's best was first found. Paired test: "
        "Wilcoxon signed-rank over the seeds both agents ran, Holm-corrected within each "
        "dataset/split/budget.",
        "",
    ]
    if invocation:
        parts += [invocation, ""]
    parts += [
        "## Accuracy on the searched split (Mills 2020 protocol)",
        "",
        searched_table(groups, optima, reference),
        "",
    ]
    constrained = constrained_table(groups)
    if constrained:
        parts += ["## Constrained search: feasibility and cost", "", constrained, ""]
    if report_at:
        parts += [
            "## Best so far at chosen query counts (`--report-at`)",
            "",
            report_at_table(records, report_at, preferred_agents),
            "",
        ]
    if any(pub.same_search(k[1], pub.NB201) for k in groups):
        parts += [
            "## Test accuracy of the best-by-validation architecture (NB201 protocol)",
            "",
            test_of_best_valid_table(groups, optima),
            "",
            "## Table 4.1 layout (searched split; published rows with their protocol)",
            "",
            thesis_layout_table(groups, optima),
            "",
            "RS/REA/REINFORCE (published) are Dong & Yang (2020)'s runs: searched on validation "
            "under a simulated time budget, so they are not query-matched and get no Δ; their test "
            "column is the test accuracy of the best-by-validation architecture. RS-500 and GA-NAS "
            "(IJCAI 2021) searched on test; a Δ is printed only at their own query budget.",
            "",
        ]
    parts += [
        "## Time per run: agent vs environment",
        "",
        timing_markdown(rows, preferred_agents),
        "",
    ]
    return "\n".join(parts)
