"""Resumable NAS-Bench-201 study of the seed-system agents (GA-NAS, UNAS, RNN controllers).

Each run (agent x dataset x searched split x seed) writes one JSON file, atomically,
under ``OUT/runs``; a rerun skips the files that exist, so an interrupted study
resumes where it stopped. ``report`` turns the runs into ``OUT/results.md`` and
best-so-far curves (``OUT/curves_<metric>.png``).

    # GA-NAS Table 4 (searched on test) and the honest protocol (searched on valid)
    nice -n 10 python benchmarks/seed_agents_study.py run --agents ganas,rs,rea \\
        --metrics test,valid --seeds 1-20 --out results/seed_agents
    python benchmarks/seed_agents_study.py report --out results/seed_agents --report-at 444,500

    # latency-constrained NB201: UNAS' hinge vs REA with the env's hard constraint
    nice -n 10 python benchmarks/seed_agents_study.py run --agents unas,unas-reinforce \\
        --datasets cifar10 --metrics valid --seeds 1-10 --tag lat \\
        --env-kwargs '{"cost": "edgegpu_latency", "reward": "accuracy"}' \\
        --agent-kwargs '{"target_latency": 5.0}' --out results/seed_agents_lat

Per run it records every query's architecture index, valid/test accuracy and, when
present, ``cost``/``feasible``; for GA-NAS also the query count at which paper mode
(T = 3) would have stopped (budget mode runs the same stream, then goes on) and
the number of uniform-fallback queries. Rank: 1 + the number of the 15,625 cells
with a strictly higher accuracy on the searched split (ties share the better rank).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

DATASETS = ("cifar10", "cifar100", "ImageNet16-120")


def parse_seeds(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return out


def run_one(agent_name: str, dataset: str, metric: str, seed: int, budget: int, env_kwargs: dict, agent_kwargs: dict) -> dict[str, Any]:  # fmt: skip
    import gymnasium as gym
    import torch
    from stable_baselines3.common.callbacks import BaseCallback

    import nas_gym  # noqa: F401
    from nas_gym.agents.registry import make_agent

    torch.set_num_threads(1)
    env = gym.make(
        "NASBench201-v0", dataset=dataset, reward_metric=metric, max_queries=budget, **env_kwargs
    )
    agent = make_agent(agent_name, env, seed=seed, **agent_kwargs)
    rec: dict[str, list] = {"arch_index": [], "valid_acc": [], "test_acc": [], "cost": [], "feasible": []}  # fmt: skip
    paper_stop = {"q": None}
    t_paper = getattr(agent, "max_iterations", None)

    class Record(BaseCallback):
        def _on_step(self) -> bool:
            info = self.locals["infos"][0]
            for key in rec:
                rec[key].append(info.get(key))
            if t_paper is not None and paper_stop["q"] is None and agent.iteration > t_paper:
                paper_stop["q"] = self.num_timesteps - 1  # this query came from X_{T+1}
            return True

    t0 = time.perf_counter()
    cpu0 = time.process_time()
    agent.learn(budget, callback=Record())
    out = {
        "agent": agent_name, "dataset": dataset, "metric": metric, "seed": seed, "budget": budget,
        "env_kwargs": env_kwargs, "agent_kwargs": agent_kwargs,
        "wall_s": time.perf_counter() - t0, "cpu_s": time.process_time() - cpu0,
        "n_unique_queries": len(set(rec["arch_index"])),
        **{k: v for k, v in rec.items() if any(x is not None for x in v)},
    }  # fmt: skip
    if t_paper is not None:
        out["paper_queries"] = paper_stop["q"] if paper_stop["q"] is not None else budget
        out["fallback_queries"] = int(agent.n_fallback_queries)
    return out


def cmd_run(args: argparse.Namespace) -> None:
    from nas_gym.data import atomic_write_text

    runs = Path(args.out) / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    env_kwargs, agent_kwargs = json.loads(args.env_kwargs), json.loads(args.agent_kwargs)
    todo = [
        (a, d, m, s)
        for a in args.agents.split(",")
        for d in args.datasets.split(",")
        for m in args.metrics.split(",")
        for s in parse_seeds(args.seeds)
    ]
    print(f"{len(todo)} runs -> {runs} ({platform.machine()}, {os.cpu_count()} cores, shared)")
    for n, (agent, dataset, metric, seed) in enumerate(todo, 1):
        path = runs / f"{agent}{args.tag}__{dataset}__{metric}__s{seed}.json"
        if path.exists():
            continue
        result = run_one(agent, dataset, metric, seed, args.budget, env_kwargs, agent_kwargs)
        result["tag"] = args.tag
        atomic_write_text(path, json.dumps(result))
        acc = result[f"{metric}_acc"]
        print(
            f"[{n}/{len(todo)}] {agent}{args.tag} {dataset} {metric} seed {seed}: best {max(acc):.2f} "
            f"unique {result['n_unique_queries']} ({result['wall_s']:.1f} s)",
            flush=True,
        )


def feasible_of(run: dict[str, Any]) -> np.ndarray | None:
    """Per-query feasibility: the env's ``feasible``, else ``cost <= target_latency``, else None."""
    if run.get("feasible") and run["feasible"][0] is not None:
        return np.asarray(run["feasible"], dtype=bool)
    target = run["agent_kwargs"].get("target_latency")
    if target is not None and run.get("cost"):
        return np.asarray([c is not None and c <= target for c in run["cost"]], dtype=bool)
    return None


def best_at(run: dict[str, Any], q: int) -> tuple[float, float, int]:
    """(best searched acc, test acc of that cell, its position) within the first q queries.

    Under a latency constraint only feasible queries count.
    """
    searched = np.asarray(run[f"{run['metric']}_acc"][:q], dtype=float)
    ok = feasible_of(run)
    if ok is not None:
        searched = np.where(ok[:q], searched, -np.inf)
    pos = int(np.argmax(searched))  # first occurrence: queries-to-best
    return float(searched[pos]), float(run["test_acc"][pos]), pos


def cmd_report(args: argparse.Namespace) -> None:
    from nas_gym.benchmarks.nb201 import load_nb201
    from nas_gym.data import atomic_write_text

    table = load_nb201()
    runs = [json.loads(p.read_text()) for p in sorted((Path(args.out) / "runs").glob("*.json"))]
    if not runs:
        sys.exit(f"no runs under {args.out}/runs")
    report_at = [int(q) for q in args.report_at.split(",")]
    groups: dict[tuple, list[dict]] = {}
    for r in runs:
        groups.setdefault((r["agent"] + r.get("tag", ""), r["dataset"], r["metric"]), []).append(r)
    lines = [
        f"machine: {platform.machine()}, {os.cpu_count()} cores (shared and loaded)",
        "",
        "| agent | dataset | searched | seeds | "
        + " | ".join(f"best@{q} | test of best@{q} | rank@{q}" for q in report_at)
        + " | queries-to-best | unique | feasible frac (1st/last 100) | s/run |",
        "|---" * (5 + 3 * len(report_at) + 3) + "|",
    ]
    for (agent, dataset, metric), rs in sorted(groups.items()):
        acc_all = table.accuracy(dataset, metric)
        cells = []
        for q in report_at:
            b = [best_at(r, q) for r in rs]
            best = np.array([x[0] for x in b])
            test = np.array([x[1] for x in b])
            ranks = np.array([1 + int((acc_all > x[0] + 1e-9).sum()) for x in b])
            cells.append(f"{best.mean():.2f} ± {best.std():.2f} | {test.mean():.2f} ± {test.std():.2f} | {ranks.mean():.2f}")  # fmt: skip
        qtb = np.mean([best_at(r, r["budget"])[2] + 1 for r in rs])
        uniq = np.array([r["n_unique_queries"] for r in rs])
        feas = "-"
        if feasible_of(rs[0]) is not None:
            f = np.array([feasible_of(r) for r in rs], dtype=float)
            feas = f"{f[:, :100].mean():.2f} / {f[:, -100:].mean():.2f}"
        wall = np.mean([r["wall_s"] for r in rs])
        lines.append(
            f"| {agent} | {dataset} | {metric} | {len(rs)} | {' | '.join(cells)} | {qtb:.0f} | "
            f"{uniq.mean():.0f} | {feas} | {wall:.1f} |"
        )
    paper = [r for r in runs if "paper_queries" in r]
    if paper:
        lines += ["", "GA-NAS paper mode (T = 3; the first part of each budget-mode run):", ""]
        lines += ["| dataset | searched | seeds | #Q (unique) | best@#Q | test of best@#Q | rank | fallback queries (500) |", "|---|---|---|---|---|---|---|---|"]  # fmt: skip
        pg: dict[tuple, list[dict]] = {}
        for r in paper:
            pg.setdefault((r["dataset"], r["metric"]), []).append(r)
        for (dataset, metric), rs in sorted(pg.items()):
            acc_all = table.accuracy(dataset, metric)
            q = np.array([r["paper_queries"] for r in rs])
            b = [best_at(r, r["paper_queries"]) for r in rs]
            best = np.array([x[0] for x in b])
            test = np.array([x[1] for x in b])
            ranks = np.mean([1 + int((acc_all > x[0] + 1e-9).sum()) for x in b])
            fb = np.mean([r["fallback_queries"] for r in rs])
            lines.append(
                f"| {dataset} | {metric} | {len(rs)} | {q.mean():.1f} ± {q.std():.1f} ({q.min()}-{q.max()}) | "
                f"{best.mean():.2f} ± {best.std():.2f} | {test.mean():.2f} ± {test.std():.2f} | {ranks:.2f} | {fb:.1f} |"
            )
    text = "\n".join(lines) + "\n"
    atomic_write_text(Path(args.out) / "results.md", text)
    print(text)
    plot_curves(groups, Path(args.out))


def plot_curves(groups: dict[tuple, list[dict]], out: Path) -> None:
    """Mean best-so-far per agent; the bench's fixed agent colours, styles and outside legend."""
    from matplotlib.figure import Figure

    from nas_gym.agents.bench.plots import LINESTYLES, MARKERS, agent_color
    from nas_gym.data import atomic_write_png

    for metric in sorted({m for _, _, m in groups}):
        datasets = sorted({d for _, d, m in groups if m == metric})
        fig = Figure(figsize=(5 * len(datasets) + 2, 4))
        axes = fig.subplots(1, len(datasets), squeeze=False)[0]
        for ax, dataset in zip(axes, datasets, strict=True):
            series = [
                (a, rs) for (a, d, m), rs in sorted(groups.items()) if (d, m) == (dataset, metric)
            ]
            for i, (agent, rs) in enumerate(series):
                curves = []
                for r in rs:
                    acc = np.asarray(r[f"{metric}_acc"], dtype=float)
                    ok = feasible_of(r)
                    if ok is not None:
                        acc = np.where(ok, acc, -np.inf)
                    curves.append(np.maximum.accumulate(acc))
                mean = np.mean(curves, axis=0)
                ax.plot(
                    np.arange(1, len(mean) + 1), mean, color=agent_color(agent),
                    ls=LINESTYLES[i % len(LINESTYLES)], marker=MARKERS[i % len(MARKERS)], ms=4,
                    markevery=(0.03 * i, 0.12), label=f"{agent} (n={len(rs)})",
                )  # fmt: skip
            ax.set_title(f"NB201 {dataset}, searched on {metric}")
            ax.set_xlabel("queries (environment steps, log scale)")
            ax.set_ylabel(f"best {metric} accuracy so far [%]")
            ax.set_xscale("log")
            ax.grid(alpha=0.3)
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, fontsize=8, loc="upper right")
        fig.tight_layout(rect=(0, 0, 1 - 1.9 / fig.get_figwidth(), 1))
        atomic_write_png(out / f"curves_{metric}.png", fig, dpi=120)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--agents", default="ganas,rs,rea")
    r.add_argument("--datasets", default=",".join(DATASETS))
    r.add_argument("--metrics", default="test,valid")
    r.add_argument("--seeds", default="1-20")
    r.add_argument("--budget", type=int, default=500)
    r.add_argument("--env-kwargs", default="{}")
    r.add_argument("--agent-kwargs", default="{}")
    r.add_argument("--tag", default="", help="suffix of the agent name in file names and tables")
    r.add_argument("--out", required=True)
    rep = sub.add_parser("report")
    rep.add_argument("--out", required=True)
    rep.add_argument("--report-at", default="444,500")
    args = p.parse_args()
    cmd_run(args) if args.cmd == "run" else cmd_report(args)


if __name__ == "__main__":
    main()
