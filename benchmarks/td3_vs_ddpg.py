"""TD3 versus DDPG underneath CADAM, DDAS and stock SB3 on NAS-Bench-201 (issue 12).

Mills (2020, Sec. 5.2) proposes replacing the DDPG underneath DDAS and CADAM with
TD3 (Fujimoto et al., ICML 2018). This script runs that comparison with
``nas-gym bench`` and reports it pair by pair: each DDPG agent against its TD3 twin,
paired by seed, with the bench's statistics (bootstrap CIs, Wilcoxon signed-rank
with Holm's correction; ``nas_gym.agents.bench.stats``).

Protocol: NB201, cifar10 / cifar100 / ImageNet16-120, searched on the validation
split, the test accuracy of the best-by-validation cell reported, budgets 500 and
2,000, seeds 1-20. The grid is split into *stages* (one ``nas-gym bench`` call each,
in a fixed priority order decided before any result was seen); every stage writes
into the bench's own resumable run directory, so re-running resumes.

    python benchmarks/td3_vs_ddpg.py plan                 # the stages and their commands
    python benchmarks/td3_vs_ddpg.py run --jobs 2         # every stage, in order (resumes)
    python benchmarks/td3_vs_ddpg.py run --stage ddas-500 # one stage
    python benchmarks/td3_vs_ddpg.py report --figures docs/figures --doc docs/td3_vs_ddpg.md

``report`` reads whatever runs exist, prints the pair tables (also written to
``OUT/tables.md`` and, with ``--doc``, between the ``<!-- tables -->`` markers of
the doc) and draws ``td3_vs_ddpg_<family>_<unit>_<budget>.png``.

Run directories are large and live outside the repository; machines come and go.
``archive`` keeps what the report reads of each finished run (spec, result columns and
the query sequence, ``arch_index``; the accuracies are looked up in the table again) in
one xz-compressed JSON-lines file, small enough to commit
(``benchmarks/archives/td3_vs_ddpg/``), and
``report --archive FILE...`` reads archives beside the run directory. A run
found in two sources must agree (same result and query sequence; CPU time may
differ), so re-running an archived stage is a reproduction check:

    python benchmarks/td3_vs_ddpg.py archive --stage cadam-2000u-b \
        --to benchmarks/archives/td3_vs_ddpg/cadam-2000u-b.jsonl.xz
    python benchmarks/td3_vs_ddpg.py report --archive benchmarks/archives/td3_vs_ddpg/*.jsonl.xz

A stage can also go on from its archive when its run directory is gone: ``plan`` and
``run`` with ``--archive`` leave out the archived runs (the rest still batched by the
bench, a call per grid of agents x datasets x seeds), and ``archive --archive`` writes
the archived runs and the new ones into one file, which may be the one it read:

    A=benchmarks/archives/td3_vs_ddpg/cadam-printed-2000u.jsonl.xz
    python benchmarks/td3_vs_ddpg.py run --stage cadam-printed-2000u --archive $A --jobs 2
    python benchmarks/td3_vs_ddpg.py archive --stage cadam-printed-2000u --archive $A --to $A
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nas_gym.agents.bench import archive, stats
from nas_gym.agents.bench.store import load_all_records
from nas_gym.agents.ddas.ddas import phase_steps
from nas_gym.data import atomic_write_png, atomic_write_text

DATASETS = ("cifar10", "cifar100", "ImageNet16-120")
PRINTED_LR = 1e-8  # Mills 2020, Sec. 4.4.3 (the registered ``cadam-printed``)

#: TD3 twins of the registered CADAM-TD3 readings at the printed actor lr (bench --variant).
VARIANTS = {
    "cadam-td3-printed": ("cadam-td3", {"actor_learning_rate": PRINTED_LR}),
    "cadam-td3-min-printed": ("cadam-td3-min", {"actor_learning_rate": PRINTED_LR}),
}


@dataclass(frozen=True)
class Family:
    """Agents compared in one figure: the DDPG twin first, then its TD3 twin(s)."""

    key: str
    title: str
    ddpg: str
    td3: tuple[str, ...]


FAMILIES = (
    Family("cadam", "CADAM, actor lr 1e-4 (default)", "cadam", ("cadam-td3", "cadam-td3-min")),
    Family(
        "cadam-printed",
        "CADAM, actor lr 1e-8 (printed)",
        "cadam-printed",
        ("cadam-td3-printed", "cadam-td3-min-printed"),
    ),
    Family("ddas", "DDAS-4S, own 'last' state", "ddas-4s", ("ddas-td3",)),
    Family("sb3", "stock SB3, no action noise (defaults)", "ddpg", ("td3",)),
    Family("sb3-noise", "stock SB3, Gaussian action noise 0.1", "ddpg-noise", ("td3-noise",)),
)


@dataclass(frozen=True)
class Retest:
    """A difference seen on some seeds, declared for a re-test on seeds that had not run.

    The report gives the pair's table on the fresh ``seeds`` alone (an independent
    replication), beside the pooled tables.
    """

    family: str
    td3: str
    unit: str
    budget: int
    seeds: str
    seen: str


#: Declared (docs/td3_vs_ddpg.md, session 5) before seeds 11-20 of ``sb3-2000b`` ran.
RETESTS = (
    Retest(
        "sb3-noise", "td3-noise", "query", 2000, "11-20",
        "seeds 1-10: TD3 +0.75 test [+0.29, +1.24] and +0.68 best valid [+0.25, +1.13] "
        "on CIFAR-100, Holm p 0.042 / 0.047",
    ),
    # declared (session 10) before seeds 21-30 of ``cadam-2000u-retest`` ran
    Retest(
        "cadam", "cadam-td3-min", "unique", 2000, "21-30",
        "seeds 1-20: cadam-td3-min +0.07 test [+0.03, +0.11] on CIFAR-10, Holm p 0.026 "
        "(best valid +0.06, Holm p 0.009); not declared before those seeds ran",
    ),
)  # fmt: skip
CADAM_DEFAULT = ("cadam", "cadam-td3", "cadam-td3-min")
CADAM_PRINTED = ("cadam-printed", "cadam-td3-printed", "cadam-td3-min-printed")
CADAM_AGENTS = CADAM_DEFAULT + CADAM_PRINTED
SB3_AGENTS = ("ddpg", "td3", "ddpg-noise", "td3-noise")
DDAS_AGENTS = ("ddas-4s", "ddas-td3")


@dataclass(frozen=True)
class Stage:
    """One ``nas-gym bench`` call of the study."""

    name: str
    agents: tuple[str, ...]
    budget: int
    unit: str
    seeds: str


#: Priority order, fixed before any result was read. Measured on the shared 2-core
#: machine (load 8-9 from five jobs): this study got about 0.4 core; one run costs SB3 8.5,
#: DDAS 4.8-5.0 and CADAM 5.7 CPU-s at 500 queries (CADAM batched 15 seeds per process by
#: the bench). So: DDAS at 500 first (done, seeds 1-20), then seeds in blocks across the
#: pairs, 500 queries before 2,000, the query reading before the unique one. The frozen
#: actor (lr 1e-8) needs about 8,700 steps for 500 unique cells (issue 12), 17x a
#: 500-query run, so its unique-reading stages come last. Session 7, before any of the
#: last stages ran, split them by cost so that each fits a session: the frozen actor's
#: 500-cell stage and the default actor's 2,000-cell stage (about 2,600-3,600 steps a run)
#: into seed blocks 1-10 and 11-20, and the frozen actor's 2,000-cell stage (about 40,000
#: steps a run, extrapolating 8,700 at 500 cells and 19,400 at 1,000) into its own, last.
#: Session 9, before it ran: that last stage into four blocks of five seeds. At session 8's
#: 43-50 CPU-s per printed 500-cell run (about 8,700 steps, a quiet VM) a 40,000-step run
#: costs about 200 CPU-s, so the 180 runs about 10 CPU-hours (17 at session 7's rate,
#: beside other jobs), and a block of 45 runs 80 minutes or more with ``--jobs 2``: one
#: session's work, archived when it ends (``archive``). Session 10, before it ran: the
#: re-test of the one lead of seeds 1-20 at 2,000 distinct cells (:data:`RETESTS`) on
#: fresh seeds 21-30, placed after the stage that produced the lead and before the frozen
#: actor's stages. Only the pair runs (``cadam-td3`` showed nothing), about 5,400 CPU-s.
STAGES = (
    Stage("ddas-500", DDAS_AGENTS, 500, "query", "1-20"),
    Stage("cadam-500", CADAM_AGENTS, 500, "query", "1-10"),
    Stage("sb3-500", SB3_AGENTS, 500, "query", "1-5"),
    Stage("cadam-500u", CADAM_DEFAULT, 500, "unique", "1-5"),
    Stage("sb3-500b", SB3_AGENTS, 500, "query", "6-10"),
    Stage("cadam-500u-b", CADAM_DEFAULT, 500, "unique", "6-10"),
    Stage("cadam-500-c", CADAM_AGENTS, 500, "query", "11-20"),
    Stage("sb3-500-c", SB3_AGENTS, 500, "query", "11-20"),
    Stage("cadam-500u-c", CADAM_DEFAULT, 500, "unique", "11-20"),
    Stage("ddas-2000", DDAS_AGENTS, 2000, "query", "1-10"),
    Stage("cadam-2000", CADAM_AGENTS, 2000, "query", "1-10"),
    Stage("sb3-2000", SB3_AGENTS, 2000, "query", "1-10"),
    Stage("ddas-2000b", DDAS_AGENTS, 2000, "query", "11-20"),
    Stage("cadam-2000b", CADAM_AGENTS, 2000, "query", "11-20"),
    Stage("sb3-2000b", SB3_AGENTS, 2000, "query", "11-20"),
    Stage("cadam-printed-500u", CADAM_PRINTED, 500, "unique", "1-10"),
    Stage("cadam-2000u", CADAM_DEFAULT, 2000, "unique", "1-10"),
    Stage("cadam-2000u-b", CADAM_DEFAULT, 2000, "unique", "11-20"),
    Stage("cadam-2000u-retest", ("cadam", "cadam-td3-min"), 2000, "unique", "21-30"),
    Stage("cadam-printed-500u-b", CADAM_PRINTED, 500, "unique", "11-20"),
    Stage("cadam-printed-2000u", CADAM_PRINTED, 2000, "unique", "1-5"),
    Stage("cadam-printed-2000u-b", CADAM_PRINTED, 2000, "unique", "6-10"),
    Stage("cadam-printed-2000u-c", CADAM_PRINTED, 2000, "unique", "11-15"),
    Stage("cadam-printed-2000u-d", CADAM_PRINTED, 2000, "unique", "16-20"),
)


# -- running -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """One ``nas-gym bench`` call of a stage: its agents x datasets x seeds grid."""

    stage: Stage
    agents: tuple[str, ...]
    datasets: tuple[str, ...]
    seeds: str


def calls_to_run(stage: Stage, done: set[tuple]) -> list[Call]:
    """Bench calls that run exactly the runs of ``stage`` whose :func:`run_key` is not in
    ``done`` (e.g. the runs of an archive, whose run directory is gone).

    Per dataset, agents missing the same seeds share a call (one grid), and datasets with
    the same grid share a call, so the bench still batches their seeds together. Nothing
    done: the stage's own single call.
    """
    grids: dict[tuple, list[str]] = {}
    for dataset in DATASETS:
        by_seeds: dict[str, list[str]] = {}
        for agent in stage.agents:
            seeds = [
                seed
                for seed in stage_seeds(stage.seeds)
                if (agent, stage.unit, stage.budget, dataset, seed) not in done
            ]
            if seeds:
                by_seeds.setdefault(seed_text(seeds), []).append(agent)
        for seeds, agents in by_seeds.items():
            grids.setdefault((tuple(agents), seeds), []).append(dataset)
    return [Call(stage, a, tuple(d), s) for (a, s), d in grids.items()]


def bench_command(call: Call, out: Path, jobs: int) -> list[str]:
    """The ``nas-gym bench`` argument list of a call (one run directory per budget unit)."""
    exe = shutil.which("nas-gym")
    base = (
        [exe]
        if exe
        else [sys.executable, "-c", "import sys; from nas_gym.cli import main; sys.exit(main())"]
    )
    stage = call.stage
    cmd = base + [
        "bench",
        "--agents", ",".join(call.agents),
        "--datasets", ",".join(call.datasets),
        "--reward-metrics", "valid",
        "--seeds", call.seeds,
        "--budgets", str(stage.budget),
        "--budget-unit", stage.unit,
        "--reference", call.agents[0],
        "--out", str(out / stage.unit),
        "--jobs", str(jobs),
        "--no-plots",
    ]  # fmt: skip
    for label in call.agents:
        if label in VARIANTS:
            agent, kwargs = VARIANTS[label]
            cmd += ["--variant", f"{label}={agent}:{json.dumps(kwargs)}"]
    return cmd


def run_stages(stages: Sequence[Stage], out: Path, jobs: int, done: set[tuple]) -> int:
    """Run the stages in order, less the runs in ``done``; Ctrl-C stops (the bench keeps
    every finished run)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    for i, stage in enumerate(stages, 1):
        calls = calls_to_run(stage, done)
        print(f"[{time.strftime('%H:%M:%S')}] stage {i}/{len(stages)} {stage.name}", flush=True)
        if not calls:
            print(f"  stage {stage.name}: every run is archived", flush=True)
        for call in calls:
            start = time.perf_counter()
            rc = subprocess.call(bench_command(call, out, jobs), env=env)
            print(f"  stage {stage.name}: rc {rc}, {time.perf_counter() - start:.0f} s", flush=True)
            if rc != 0:
                return rc
    return 0


# -- analysis ------------------------------------------------------------------------------


def load(out: Path) -> list[dict[str, Any]]:
    records = []
    for unit in ("query", "unique"):
        if (out / unit / "runs").is_dir():
            records += load_all_records(out / unit)
    return records


def run_key(record: dict[str, Any]) -> tuple:
    """(agent, unit, budget, dataset, seed): one run of the study."""
    s = record["spec"]
    return (s["agent"], s["budget_unit"], s["budget"], s["dataset"], s["seed"])


def in_stage(record: dict[str, Any], stage: Stage) -> bool:
    agent, unit, budget, dataset, seed = run_key(record)
    return (
        agent in stage.agents
        and (unit, budget) == (stage.unit, stage.budget)
        and dataset in DATASETS
        and seed in stage_seeds(stage.seeds)
    )


# -- archives ------------------------------------------------------------------------------


def write_archive(records: Sequence[dict[str, Any]], path: Path) -> None:
    """:func:`nas_gym.agents.bench.archive.write_archive`, its refusal as the script's error."""
    try:
        archive.write_archive(records, path)
    except archive.ArchiveError as exc:
        raise SystemExit(str(exc)) from None


def read_archive(path: Path) -> list[dict[str, Any]]:
    """:func:`nas_gym.agents.bench.archive.read_archive`, its refusal as the script's error."""
    try:
        return archive.read_archive(path)
    except archive.ArchiveError as exc:
        raise SystemExit(str(exc)) from None


def merge(sources: Sequence[tuple[str, Sequence[dict[str, Any]]]]) -> tuple[list[dict], int]:
    """:func:`nas_gym.agents.bench.archive.merge` by :func:`run_key`; a disagreement is the
    script's error."""
    try:
        return archive.merge(sources, key=run_key)
    except archive.ArchiveError as exc:
        raise SystemExit(str(exc)) from None


def index(records: Sequence[dict[str, Any]]) -> dict[tuple, dict[int, dict[str, Any]]]:
    """(agent, unit, budget, dataset) -> seed -> record."""
    out: dict[tuple, dict[int, dict[str, Any]]] = {}
    for r in records:
        s = r["spec"]
        key = (s["agent"], s["budget_unit"], s["budget"], s["dataset"])
        out.setdefault(key, {})[s["seed"]] = r
    return out


def first_divergence(a: Sequence[int], b: Sequence[int]) -> int | None:
    """1-based query at which two query sequences first differ (None: identical)."""
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return i + 1
    return None if len(a) == len(b) else min(len(a), len(b)) + 1


def anytime(record: dict[str, Any], unit: str) -> tuple[np.ndarray, np.ndarray]:
    """Best valid so far and the test accuracy of the best-by-valid cell so far.

    Indexed by query (``query`` unit) or by distinct architecture (``unique`` unit:
    re-queries are free, so the k-th point is after the k-th new cell).
    """
    h = record["history"]
    valid, test, arch = (
        np.asarray(h[k], dtype=float) for k in ("valid_acc", "test_acc", "arch_index")
    )
    if unit == "unique":
        _, first = np.unique(arch, return_index=True)
        keep = np.sort(first)
        valid, test = valid[keep], test[keep]
    best = np.maximum.accumulate(valid)
    at = np.zeros(len(valid), dtype=int)
    for i in range(1, len(valid)):
        at[i] = i if valid[i] > valid[at[i - 1]] else at[i - 1]
    return best, test[at]


@dataclass
class PairRow:
    dataset: str
    seeds: list[int]
    ddpg_test: np.ndarray
    td3_test: np.ndarray
    ddpg_valid: np.ndarray
    td3_valid: np.ndarray
    ddpg_unique: np.ndarray
    td3_unique: np.ndarray
    ddpg_steps: np.ndarray
    td3_steps: np.ndarray
    divergence: list[int | None]


def pair_row(
    by_seed_a: dict[int, dict], by_seed_b: dict[int, dict], dataset: str
) -> PairRow | None:
    seeds = sorted(set(by_seed_a) & set(by_seed_b))
    if not seeds:
        return None

    def col(recs: dict[int, dict], key: str) -> np.ndarray:
        return np.array([recs[s]["result"][key] for s in seeds], dtype=float)

    return PairRow(
        dataset, seeds,
        col(by_seed_a, "best_test_acc"), col(by_seed_b, "best_test_acc"),
        col(by_seed_a, "best_valid_acc"), col(by_seed_b, "best_valid_acc"),
        col(by_seed_a, "n_unique_queries"), col(by_seed_b, "n_unique_queries"),
        col(by_seed_a, "n_queries"), col(by_seed_b, "n_queries"),
        [
            first_divergence(by_seed_a[s]["history"]["arch_index"], by_seed_b[s]["history"]["arch_index"])
            for s in seeds
        ],
    )  # fmt: skip


def seed_text(seeds: Sequence[int]) -> str:
    seeds = sorted(seeds)
    if seeds == list(range(seeds[0], seeds[-1] + 1)):
        return f"{seeds[0]}-{seeds[-1]}" if len(seeds) > 1 else str(seeds[0])
    return ",".join(map(str, seeds))


def stat_ci(x: np.ndarray) -> str:
    mean, std = stats.mean_std(x)
    lo, hi = stats.bootstrap_ci(x)
    return f"{mean:.2f} ± {std:.2f} [{float(lo):.2f}, {float(hi):.2f}]"


def delta_text(diff: np.ndarray, p_holm: float) -> str:
    """Mean paired difference, its 95% bootstrap CI and the Holm-corrected Wilcoxon p."""
    lo, hi = stats.bootstrap_ci(diff)
    p = "— (all pairs equal)" if np.isnan(p_holm) else f"p={p_holm:.3f}"
    return f"{float(np.mean(diff)):+.2f} [{float(lo):+.2f}, {float(hi):+.2f}], {p}"


def divergence_text(div: Sequence[int | None]) -> str:
    same = sum(d is None for d in div)
    firsts = sorted(d for d in div if d is not None)
    text = f"{same}/{len(div)}"
    if firsts:
        text += (
            f"; first diff. at query {int(np.median(firsts))} (median; {firsts[0]}-{firsts[-1]})"
        )
    return text


def pair_table(
    idx: dict, family: Family, td3: str, unit: str, budget: int, seeds: Sequence[int] | None = None
) -> str | None:
    """The pair's table: one row per dataset over the seeds both twins ran (only ``seeds``
    if given), Holm-corrected over the datasets."""

    def runs(agent: str, dataset: str) -> dict[int, dict]:
        by_seed = idx.get((agent, unit, budget, dataset), {})
        return by_seed if seeds is None else {s: r for s, r in by_seed.items() if s in seeds}

    rows = [row for d in DATASETS if (row := pair_row(runs(family.ddpg, d), runs(td3, d), d))]
    if not rows:
        return None
    tests = [stats.wilcoxon_signed_rank(r.td3_test, r.ddpg_test) for r in rows]
    valids = [stats.wilcoxon_signed_rank(r.td3_valid, r.ddpg_valid) for r in rows]
    holm_t = stats.holm([t[1] for t in tests])
    holm_v = stats.holm([t[1] for t in valids])
    steps = unit == "unique"
    head = (
        f"**{family.ddpg} vs {td3}**, budget {budget} ({'unique architectures' if steps else 'queries'})\n\n"
        f"| dataset | seeds | test of best-by-valid: {family.ddpg} | {td3} | Δ test (TD3 − DDPG) [95% CI], Holm p "
        f"| Δ best valid [95% CI], Holm p | unique queries {family.ddpg} / {td3} "
        + ("| steps taken " if steps else "")
        + "| identical query sequences |\n"
        + "|---" * (8 + steps)
        + "|\n"
    )
    lines = []
    for r, pt, pv in zip(rows, holm_t, holm_v, strict=True):
        cells = [
            r.dataset,
            seed_text(r.seeds),
            stat_ci(r.ddpg_test),
            stat_ci(r.td3_test),
            delta_text(r.td3_test - r.ddpg_test, pt),
            delta_text(r.td3_valid - r.ddpg_valid, pv),
            f"{r.ddpg_unique.mean():.0f} / {r.td3_unique.mean():.0f}",
        ]
        if steps:
            cells.append(f"{r.ddpg_steps.mean():.0f} / {r.td3_steps.mean():.0f}")
        cells.append(divergence_text(r.divergence))
        lines.append("| " + " | ".join(cells) + " |")
    return head + "\n".join(lines) + "\n"


def overview_table(idx: dict) -> str:
    """One line per pair, reading and budget: Δ test per dataset (Holm p), sequences, uniques."""
    head = (
        "| DDPG twin → TD3 twin | reading | budget | "
        + " | ".join(f"Δ test {d} (Holm p)" for d in DATASETS)
        + " | identical sequences | unique queries DDPG / TD3 |\n"
        + "|---" * (5 + len(DATASETS))
        + "|\n"
    )
    lines = []
    for family in FAMILIES:
        for unit in ("query", "unique"):
            for budget in (500, 2000):
                for td3 in family.td3:
                    rows = {
                        d: pair_row(
                            idx.get((family.ddpg, unit, budget, d), {}),
                            idx.get((td3, unit, budget, d), {}),
                            d,
                        )
                        for d in DATASETS
                    }
                    present = [r for r in rows.values() if r is not None]
                    if not present:
                        continue
                    pvals = stats.holm(
                        [stats.wilcoxon_signed_rank(r.td3_test, r.ddpg_test)[1] for r in present]
                    )
                    cells = {}
                    for r, p in zip(present, pvals, strict=True):
                        d = float(np.mean(r.td3_test - r.ddpg_test))
                        cells[r.dataset] = (
                            f"{d:+.2f} ({'—' if np.isnan(p) else f'{p:.2f}'}, n={len(r.seeds)})"
                        )
                    same = sum(x is None for r in present for x in r.divergence)
                    total = sum(len(r.divergence) for r in present)
                    uniq_a = np.mean([r.ddpg_unique.mean() for r in present])
                    uniq_b = np.mean([r.td3_unique.mean() for r in present])
                    steps_a = np.mean([r.ddpg_steps.mean() for r in present])
                    steps_b = np.mean([r.td3_steps.mean() for r in present])
                    lines.append(
                        f"| {family.ddpg} → {td3} | {unit} | {budget} | "
                        + " | ".join(cells.get(d, "not run") for d in DATASETS)
                        + f" | {same}/{total} | {uniq_a:.0f} / {uniq_b:.0f}"
                        + (f" (steps {steps_a:.0f} / {steps_b:.0f})" if unit == "unique" else "")
                        + " |"
                    )
    return (
        "**Overview** (Δ = TD3 − DDPG twin, test accuracy of the best-by-valid cell, mean over seeds, percentage points)\n\n"
        + head
        + "\n".join(lines)
        + "\n"
    )


def stage_seeds(text: str) -> list[int]:
    """The seeds of a stage's ``--seeds`` text, e.g. ``"11-20"``."""
    lo, _, hi = text.partition("-")
    return list(range(int(lo), int(hi or lo) + 1))


def planned_runs(stage: Stage) -> int:
    """Runs a stage plans: one per agent, dataset and seed."""
    return len(stage.agents) * len(DATASETS) * len(stage_seeds(stage.seeds))


def coverage_table(idx: dict) -> str:
    """Which stages ran: finished runs against planned runs, stage by stage in priority order."""
    lines = [
        "| stage | agents | budget | seeds | runs finished / planned | status |",
        "|---|---|---|---|---|---|",
    ]
    for stage in STAGES:
        seeds = stage_seeds(stage.seeds)
        planned = planned_runs(stage)
        done = sum(
            seed in idx.get((agent, stage.unit, stage.budget, dataset), {})
            for agent in stage.agents
            for dataset in DATASETS
            for seed in seeds
        )
        status = "complete" if done == planned else ("not run" if done == 0 else "partial")
        what = "distinct cells" if stage.unit == "unique" else "queries"
        agents = ", ".join(f"`{a}`" for a in stage.agents)
        lines.append(
            f"| `{stage.name}` | {agents} | {stage.budget} {what} | {stage.seeds} | "
            f"{done} / {planned} | {status} |"
        )
    return (
        "**Coverage** (the stages in their fixed priority order; a pair is compared only on "
        "the seeds both twins ran)\n\n" + "\n".join(lines) + "\n"
    )


def all_tables(records: Sequence[dict[str, Any]]) -> str:
    idx = index(records)
    parts = [coverage_table(idx), overview_table(idx)]
    for family in FAMILIES:
        for unit in ("query", "unique"):
            for budget in (500, 2000):
                for td3 in family.td3:
                    table = pair_table(idx, family, td3, unit, budget)
                    if table:
                        parts.append(table)
    parts.extend(retest_tables(idx))
    parts.append(timing_table(records))
    return "\n".join(parts)


def retest_tables(idx: dict) -> list[str]:
    """Each declared :data:`RETESTS` pair on its fresh seeds alone (once they have run)."""
    families = {f.key: f for f in FAMILIES}
    parts = []
    for r in RETESTS:
        table = pair_table(idx, families[r.family], r.td3, r.unit, r.budget, stage_seeds(r.seeds))
        if table:
            parts.append(
                f"**Re-test on fresh seeds {r.seeds}** (declared before they ran; seen on "
                f"{r.seen})\n\n{table}"
            )
    return parts


def timing_table(records: Sequence[dict[str, Any]]) -> str:
    """CPU seconds per run by agent, budget and unit (the cost of the study)."""
    groups: dict[tuple, list[float]] = {}
    for r in records:
        s = r["spec"]
        groups.setdefault((s["agent"], s["budget_unit"], s["budget"]), []).append(
            r["result"]["cpu_s"]
        )
    lines = ["| agent | unit | budget | runs | CPU s/run (mean) |", "|---|---|---|---|---|"]
    for (agent, unit, budget), cpu in sorted(
        groups.items(), key=lambda kv: (kv[0][1], kv[0][2], kv[0][0])
    ):
        lines.append(f"| {agent} | {unit} | {budget} | {len(cpu)} | {np.mean(cpu):.2f} |")
    return "**Cost** (process CPU time of each run, one torch thread)\n\n" + "\n".join(lines) + "\n"


# -- figures -------------------------------------------------------------------------------

#: One meaning per colour in every figure: the DDPG twin, TD3 as written, TD3 with min(Q1, Q2).
TWIN_COLORS = ("#1f77b4", "#d62728", "#2ca02c")
LINESTYLES = ("-", "--", ":", "-.")
MARKERS = ("o", "s", "^", "D")


def family_figure(idx: dict, family: Family, unit: str, budget: int):
    """2 x 3 panels: best valid so far (top) and test of best-by-valid (bottom) per dataset."""
    from matplotlib.figure import Figure

    labels = (family.ddpg, *family.td3)
    # a panel needs the DDPG twin and at least one TD3 twin: one agent alone compares nothing
    present = [
        d
        for d in DATASETS
        if idx.get((family.ddpg, unit, budget, d))
        and any(idx.get((a, unit, budget, d)) for a in family.td3)
    ]
    if not present:
        return None
    fig = Figure(figsize=(4.2 * len(present) + 2.6, 7.0), dpi=100)
    axes = fig.subplots(2, len(present), squeeze=False)
    xlabel = "distinct architectures queried" if unit == "unique" else "queries (environment steps)"
    spans: dict[tuple[int, int], list[np.ndarray]] = {}  # panel -> band edges after a tenth
    means: dict[str, list[np.ndarray]] = {}  # label -> its mean curve in every panel
    for col, dataset in enumerate(present):
        # the seeds every series of the panel ran: the curves stay paired, as in the tables
        ran = [set(idx[key]) for a in labels if (key := (a, unit, budget, dataset)) in idx]
        seeds = sorted(set.intersection(*ran))
        for i, label in enumerate(labels):
            runs = idx.get((label, unit, budget, dataset), {})
            if not runs or not seeds:
                continue
            curves = [anytime(runs[s], unit) for s in seeds]
            for row in range(2):
                mean, lo, hi = stats.anytime_band([c[row] for c in curves])
                x = np.arange(1, len(mean) + 1)
                ax = axes[row, col]
                color = TWIN_COLORS[i]
                ax.plot(
                    x, mean, color=color, ls=LINESTYLES[i], lw=2.0 - 0.4 * i,
                    marker=MARKERS[i], ms=4, markevery=(0.03 * i, 0.1),
                    label=label,
                )  # fmt: skip
                ax.fill_between(x, lo, hi, color=color, alpha=0.15, lw=0)
                spans.setdefault((row, col), []).extend([lo[len(lo) // 10 :], hi[len(hi) // 10 :]])
                means.setdefault(label, []).append(mean)
        for row, what in enumerate(
            ("best valid acc. so far [%]", "test acc. of best-by-valid [%]")
        ):
            ax = axes[row, col]
            ax.set_xlabel(xlabel)
            ax.set_ylabel(what)
            ax.grid(alpha=0.3)
            if (row, col) in spans:  # zoom on the bands after the first tenth of the run
                tail = np.concatenate(spans[row, col])
                lo_y, hi_y = float(tail.min()), float(tail.max())
                pad = 0.08 * (hi_y - lo_y + 1e-6)
                ax.set_ylim(lo_y - pad, hi_y + pad)
            if family.key == "ddas" and unit == "query":  # DDAS's scaled phase boundaries
                explore, exploit = phase_steps(budget)
                name = "DDAS phase ends (explore, exploit; then 4S)"
                for q in (explore, explore + exploit):
                    ax.axvline(q + 0.5, color="0.4", lw=0.8, ls=(0, (2, 2)), label=name)
                    name = "_nolegend_"
        # n in the title, not the legend: panels may pair different numbers of seeds
        n = len(seeds)
        axes[0, col].set_title(f"{dataset} (n={n} seed{'' if n == 1 else 's'})", fontsize=10)
    handles, names = axes[0, 0].get_legend_handles_labels()
    same = [a for a in means if a != labels[0] and _equal_curves(means.get(labels[0]), means[a])]
    if same:  # drawn on top of each other: say so, so no series looks missing
        from matplotlib.lines import Line2D

        handles.append(Line2D([], [], color="none"))
        names.append("identical mean curves in every panel:\n" + " = ".join([labels[0], *same]))
    fig.legend(handles, names, loc="upper left", bbox_to_anchor=(0.84, 0.93), fontsize=8)
    what = "unique architectures" if unit == "unique" else "queries"
    fig.suptitle(
        f"{family.title}: DDPG vs TD3, NB201 searched on valid, budget {budget} {what}\n"
        "mean over the seeds every twin of a panel ran (n in its title), 95% bootstrap CI band",
        fontsize=10,
    )
    fig.subplots_adjust(left=0.06, right=0.83, bottom=0.08, top=0.88, wspace=0.3, hspace=0.3)
    return fig


def _equal_curves(a: list[np.ndarray] | None, b: list[np.ndarray]) -> bool:
    return (
        a is not None
        and len(a) == len(b)
        and all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    )


def write_figures(records: Sequence[dict[str, Any]], folder: Path) -> list[Path]:
    """One :func:`family_figure` PNG per family, unit and budget with data, written atomically."""
    idx = index(records)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for family in FAMILIES:
        for unit in ("query", "unique"):
            for budget in (500, 2000):
                fig = family_figure(idx, family, unit, budget)
                if fig is None:
                    continue
                path = folder / f"td3_vs_ddpg_{family.key}_{unit}_{budget}.png"
                atomic_write_png(path, fig, bbox_inches="tight")
                written.append(path)
    return written


def update_doc(doc: Path, tables: str) -> None:
    """Replace the text between ``<!-- tables:begin -->`` and ``<!-- tables:end -->``."""
    text = doc.read_text()
    pattern = re.compile(r"(<!-- tables:begin -->\n).*?(<!-- tables:end -->)", re.S)
    if not pattern.search(text):
        raise SystemExit(f"{doc}: no '<!-- tables:begin -->' ... '<!-- tables:end -->' markers")
    atomic_write_text(doc, pattern.sub(lambda m: m.group(1) + tables + "\n" + m.group(2), text))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("action", choices=("plan", "run", "report", "archive"))
    parser.add_argument("--out", default="results/td3_vs_ddpg", help="run directories (resumable)")
    parser.add_argument(
        "--stage", action="append", default=[], help="only these stages (repeatable)"
    )
    parser.add_argument("--jobs", type=int, default=1, help="parallel runs per bench call")
    parser.add_argument("--figures", default=None, help="write the PNG figures into this folder")
    parser.add_argument("--doc", default=None, help="markdown file whose tables block to replace")
    parser.add_argument(
        "--archive",
        action="extend",
        nargs="+",
        default=[],
        metavar="FILE",
        help="runs already kept in these archives (e.g. benchmarks/archives/td3_vs_ddpg/"
        "*.jsonl.xz): report and archive read them beside --out, plan and run skip them",
    )
    parser.add_argument("--to", default=None, help="archive: the .jsonl.xz file to write")
    args = parser.parse_args(argv)
    out = Path(args.out)
    names = [s.name for s in STAGES]
    unknown = [s for s in args.stage if s not in names]
    if unknown:
        parser.error(f"unknown stage(s) {unknown}; allowed: {', '.join(names)}")
    if args.action == "archive" and not (args.to or "").endswith(".jsonl.xz"):
        parser.error(f"archive needs --to FILE.jsonl.xz, got {args.to!r}")
    chosen = [s for s in STAGES if not args.stage or s.name in args.stage]
    for name in args.archive:
        if not Path(name).is_file():
            parser.error(f"--archive {name}: no such file")
    archived = [(a, read_archive(Path(a))) for a in args.archive]
    done = {run_key(r) for _, records in archived for r in records}
    if args.action == "plan":
        for s in chosen:
            calls = calls_to_run(s, done)
            if not calls:
                print(f"{s.name}: every run is archived")
            for call in calls:
                cmd = bench_command(call, out, args.jobs)
                print(f"{s.name}: nas-gym " + shlex.join(cmd[cmd.index("bench") :]))
        return 0
    if args.action == "run":
        return run_stages(chosen, out, args.jobs, done)
    records, repeated = merge([(str(out), load(out)), *archived])
    if repeated:
        print(f"{repeated} runs were found in more than one source; every copy agrees")
    if args.action == "archive":
        records = [r for r in records if any(in_stage(r, s) for s in chosen)]
        if not records:
            sources = ", ".join([str(out), *args.archive])
            parser.error(f"no finished runs of stage(s) {[s.name for s in chosen]} in {sources}")
        write_archive(records, Path(args.to))
        planned = sum(planned_runs(s) for s in chosen)
        size = Path(args.to).stat().st_size / 1e6
        print(f"archived {len(records)} of {planned} planned runs ({size:.2f} MB) to {args.to}")
        return 0
    tables = all_tables(records)
    print(tables)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "tables.md", tables)
    if args.doc:
        update_doc(Path(args.doc), tables)
    if args.figures:
        for path in write_figures(records, Path(args.figures)):
            print("wrote", path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
