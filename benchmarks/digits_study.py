"""Real-data study on ``digits``: does a weight-sharing supernet rank cells faithfully?

The thesis' own question (Mills 2020, Ch. 4; issue 11), answered offline on CPU with
scikit-learn's 1,797 real 8x8 handwritten digits:

1. ``pretrain``: a small DARTS supernet, uniform single-path sampling
   (``nas-gym supernet pretrain``);
2. ``search-*``: CADAM (sequential mode), DDAS (parallel mode, from the pre-trained
   supernet), RS and REA through ``DARTSSupernet-v0``, and the one-shot trainers
   ``nas-gym search darts`` / ``search unas`` when this checkout has them;
3. ``cells``: the best cell of each searcher plus ``--n-random`` random cells
   (Algorithm 2 on alpha ~ U(0, 1));
4. ``score``: every cell's supernet score (D_V accuracy of the frozen supernet);
5. ``retrain``: every cell trained stand-alone with ``nas-gym train-genotype`` for
   ``--seeds`` seeds, test accuracy on the 364 held-out digits;
6. ``report``: tables (each searcher's cell vs the random cells, Kendall tau and
   Spearman rho of supernet score vs stand-alone accuracy, time per step) and PNGs.

Resumable: every finished step writes its result atomically under ``--out`` and is
skipped on the next run; pre-training and each retraining resume from their
per-epoch checkpoints. Single-threaded; run it niced on a shared machine::

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/digits_study.py --out results/digits_study --jobs 2
    python benchmarks/digits_study.py --out results/digits_study --figures docs/figures

``--size smoke`` runs the same pipeline at a toy size (a minute) to check it.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from nas_gym.data import atomic_write_png, atomic_write_text

#: Study sizes: ``full`` is the run in docs/digits_study.md (1,178 CPU-s in all; with
#: ``--jobs 2`` about 15 min on two free cores, the issue's target being 30); ``smoke``
#: checks the pipeline in a few minutes.
SIZES: dict[str, dict[str, Any]] = {
    "full": {
        "C": 8,
        "cells": 5,
        "pretrain_epochs": 40,
        "queries": 60,
        "ddas_queries": 40,
        "ddas_train_batches": 4,
        "oneshot_epochs": 3,
        "n_random": 20,
        "seeds": 3,
        "retrain_epochs": 2,
    },
    "smoke": {
        "C": 4,
        "cells": 3,
        "pretrain_epochs": 1,
        "queries": 6,
        "ddas_queries": 4,
        "ddas_train_batches": 1,
        "oneshot_epochs": 1,
        "n_random": 3,
        "seeds": 2,
        "retrain_epochs": 1,
    },
}
DATASET = "digits"
#: Batch size of pre-training, of DDAS' per-step path training and of retraining.
BATCH = 64
#: The in-environment searchers: name -> (agent, env mode, agent overrides). The agent is a
#: name of ``nas_gym.agents.registry`` or, for RS and REA, a function of this file: the
#: registry's RS and REA mutate argmax-per-row spaces (NAS-Bench-201), not DARTS cells.
ENV_SEARCHERS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "CADAM": ("cadam", "sequential", {}),
    "DDAS": ("ddas-4s", "parallel", {"stagnation_steps": 8}),
    "RS": ("darts-rs", "sequential", {}),
    "REA": ("darts-rea", "sequential", {"population_size": 20, "sample_size": 5}),
}
#: One-shot trainers (``nas-gym search NAME``), run when this checkout has the command.
ONESHOT_SEARCHERS: tuple[str, ...] = ("DARTS", "UNAS")
RANDOM_SEED = 2026


# -- bookkeeping ---------------------------------------------------------------------------
def read_json(path: Path) -> Any:
    return json.loads(path.read_text())


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(data, indent=2) + "\n")


class Clock:
    """Wall and CPU seconds since construction (CPU: this process, all its threads)."""

    def __init__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def elapsed(self) -> dict[str, float]:
        return {
            "seconds": time.perf_counter() - self.wall,
            "cpu_seconds": time.process_time() - self.cpu,
        }


def read_seconds(path: Path) -> dict[str, float | None]:
    """``{"seconds", "cpu_seconds"}`` of a timing file (older files hold the wall time only)."""
    data = read_json(path)
    if isinstance(data, (int, float)):
        return {"seconds": float(data), "cpu_seconds": None}
    return {"seconds": data["seconds"], "cpu_seconds": data.get("cpu_seconds")}


def timed_step(out: Path, name: str, fn: Callable[[], Any]) -> Any:
    """Run one step unless ``out/steps/<name>.json`` exists; record its wall and CPU time.

    An interrupted step's time is lost, and a resumed one records only the final
    invocation (pre-training and retraining resume from their own checkpoints).
    """
    done = out / "steps" / f"{name}.json"
    if done.exists():
        print(f"[skip] {name}: done ({read_json(done)['seconds']:.0f} s)", flush=True)
        return read_json(done).get("result")
    print(f"[run ] {name}", flush=True)
    clock = Clock()
    result = fn()
    times = clock.elapsed()
    write_json(done, {**times, "result": result})
    print(
        f"[done] {name}: {times['seconds']:.0f} s wall, {times['cpu_seconds']:.0f} CPU-s",
        flush=True,
    )
    return result


def cli(argv: list[str]) -> None:
    """Run a ``nas-gym`` command in this process (no interpreter start per call)."""
    from nas_gym.cli import main

    code = main([str(a) for a in argv])
    if code != 0:
        raise RuntimeError(f"`nas-gym {' '.join(map(str, argv))}` exited with {code}")


# -- steps ---------------------------------------------------------------------------------
def pretrain(out: Path, size: dict[str, Any]) -> dict[str, Any]:
    ckpt = out / "supernet"
    cli(
        ["supernet", "pretrain", "--space", "darts", "--dataset", DATASET, "--out", ckpt]
        + ["--channels", size["C"], "--cells", size["cells"], "--epochs", size["pretrain_epochs"]]
        + ["--batch-size", BATCH, "--seed", 0]
    )
    return {"checkpoint": str(ckpt / "last.pt")}


def make_env(out: Path, size: dict[str, Any], mode: str, max_queries: int) -> Any:
    """``DARTSSupernet-v0`` on digits with the pre-trained supernet; costs on the
    stand-alone network of this study (C channels, ``cells`` cells)."""
    import gymnasium as gym

    import nas_gym  # noqa: F401  (registers the environments)

    kwargs: dict[str, Any] = {
        "mode": mode,
        "dataset": DATASET,
        "C": size["C"],
        "num_cells": size["cells"],
        "checkpoint": str(out / "supernet" / "last.pt"),
        "eval_channels": size["C"],
        "eval_cells": size["cells"],
        "max_queries": max_queries,
        "progress": False,
    }
    if mode == "parallel":  # DDAS: path training from the same (uniform) supernet
        kwargs |= {"warmup": "uniform", "train_batches": size["ddas_train_batches"]}
        kwargs |= {"batch_size": BATCH}
    else:
        kwargs |= {"batch_size": 256}
    return gym.make("DARTSSupernet-v0", **kwargs)


def darts_random_search(env: Any, budget: int, seed: int) -> None:
    """Random search (Li & Talwalkar 2019): ``budget`` uniform cells (Algorithm 2 on U(0,1))."""
    from nas_gym.spaces import darts as space

    rng = np.random.default_rng(seed)
    env.reset(seed=seed)
    for _ in range(budget):
        env.step(space.sample_path(rng))


def mutate_cell(alpha_d: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One mutation of a DARTS cell pair (Real et al. 2019's op / hidden-state mutations):
    a random pair of a random cell and node gets a new op, or a new input edge (the
    node keeps two distinct inputs)."""
    from nas_gym.spaces import darts as space

    child = alpha_d.copy()
    cell = int(rng.integers(space.N_CELLS))
    start, end = space.NODE_ROWS[int(rng.integers(space.N_NODES))]
    rows = [r for r in range(start, end) if child[cell, r].any()]
    row = rows[int(rng.integers(len(rows)))]
    op = int(np.flatnonzero(child[cell, row])[0])
    child[cell, row, op] = 0.0
    if rng.random() < 0.5:  # op mutation
        ops = [o for o in range(child.shape[-1]) if o != op]
        child[cell, row, ops[int(rng.integers(len(ops)))]] = 1.0
    else:  # input mutation: move the pair to an unused incoming edge of the node
        free = [r for r in range(start, end) if not child[cell, r].any() and r != row]
        child[cell, free[int(rng.integers(len(free)))] if free else row, op] = 1.0
    return child


def darts_regularized_evolution(
    env: Any, budget: int, seed: int, population_size: int = 20, sample_size: int = 5
) -> None:
    """Regularized evolution (Real et al. 2019, aging): tournament of ``sample_size``,
    the winner's mutant replaces the oldest member; the first ``population_size``
    queries are random cells."""
    from collections import deque

    from nas_gym.spaces import darts as space

    rng = np.random.default_rng(seed)
    env.reset(seed=seed)
    population: deque[tuple[np.ndarray, float]] = deque()
    for step in range(budget):
        if step < population_size:
            alpha_d = space.sample_path(rng)
        else:
            picks = rng.choice(len(population), size=sample_size, replace=False)
            parent = max((population[i] for i in picks), key=lambda m: m[1])[0]
            alpha_d = mutate_cell(parent, rng)
        info = env.step(alpha_d)[-1]
        population.append((alpha_d, float(info["valid_acc"])))
        if len(population) > population_size:
            population.popleft()


def search_in_env(
    out: Path,
    size: dict[str, Any],
    name: str,
    seed: int,
    searcher: tuple[str, str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """One search run; ``searcher`` (agent, mode, overrides) defaults to ``ENV_SEARCHERS[name]``."""
    from nas_gym.agents.registry import make_agent
    from nas_gym.wrappers import QueryRecorder

    agent_name, mode, overrides = searcher or ENV_SEARCHERS[name]
    budget = size["ddas_queries"] if mode == "parallel" else size["queries"]
    env = QueryRecorder(make_env(out, size, mode, budget), keys=("genotype", "valid_acc"))
    if agent_name == "darts-rs":
        darts_random_search(env, budget, seed=seed)
    elif agent_name == "darts-rea":
        darts_regularized_evolution(env, budget, seed=seed, **overrides)
    else:
        agent = make_agent(agent_name, env, seed=seed, **overrides)
        agent.learn(total_timesteps=budget)
    env.close()
    return search_record(env.history, budget, name, agent_name, seed, mode)


def search_record(
    history: dict[str, list[Any]], budget: int, name: str, agent: str, seed: int, mode: str
) -> dict[str, Any]:
    """A search's result from its ``QueryRecorder`` history: every query and the best by D_V."""
    accs = history["valid_acc"][:budget]
    best = int(np.argmax(accs))
    return {
        "searcher": name,
        "agent": agent,
        "seed": seed,
        "mode": mode,
        "queries": len(accs),
        "valid_acc": accs,
        "genotypes": history["genotype"][:budget],
        "best_genotype": history["genotype"][best],
        "best_valid_acc": accs[best],
    }


def search_oneshot(out: Path, size: dict[str, Any], name: str) -> dict[str, Any] | None:
    """``nas-gym search darts|unas`` on the same supernet size and data (None: not here)."""
    if importlib.util.find_spec("nas_gym.commands.search") is None:
        return None
    from nas_gym.commands import search

    if name.lower() not in getattr(search, "SEARCHERS", {}):
        return None
    run_dir = out / f"search_{name.lower()}"  # an existing run resumes from its last.pt
    argv = ["search", name.lower(), "--dataset", DATASET, "--out", run_dir]
    argv += ["--epochs", size["oneshot_epochs"], "--batch-size", BATCH, "--seed", 0]
    argv += ["--channels", size["C"], "--cells", size["cells"]]
    if name == "DARTS":  # first order; each epoch's cell also scored on the frozen supernet
        argv += ["--order", 1, "--eval-channels", size["C"], "--eval-cells", size["cells"]]
        argv += ["--score-checkpoint", out / "supernet" / "last.pt"]
    else:
        argv += ["--space", "darts"]
    cli(argv)
    genotype = read_json(run_dir / "genotype.json")
    text = genotype["genotype"] if isinstance(genotype, dict) else str(genotype)
    return {"searcher": name, "best_genotype": text, "run_dir": str(run_dir)}


def random_cells(n: int) -> list[str]:
    """``n`` distinct cells from Algorithm 2 on alpha ~ U(0, 1) (uniform path sampling)."""
    from nas_gym.spaces import darts as space

    rng = np.random.default_rng(RANDOM_SEED)
    cells: list[str] = []
    while len(cells) < n:
        g = space.genotype_to_str(space.to_genotype(space.sample_path(rng)))
        if g not in cells:
            cells.append(g)
    return cells


def supernet_scores(out: Path, size: dict[str, Any], cells: list[str]) -> dict[str, float]:
    """D_V accuracy (%) of each cell's path through the frozen pre-trained supernet."""
    from nas_gym.spaces import darts as space

    env = make_env(out, size, "sequential", len(cells) + 1)
    env.reset(seed=0)
    scores = {}
    for g in cells:
        alpha_d = space.from_genotype(space.str_to_genotype(g))  # Algorithm 2 keeps it
        info = env.step(alpha_d)[-1]
        assert info["genotype"] == g, (info["genotype"], g)
        scores[g] = float(info["valid_acc"])
    env.close()
    return scores


def retrain(out: Path, size: dict[str, Any], cell_id: str, genotype: str, seed: int) -> float:
    """Stand-alone test accuracy (%) of one cell and seed (``nas-gym train-genotype``)."""
    run = retrain_dir(out, cell_id, seed)
    if not (run / "result.json").exists():
        clock = Clock()
        cli(
            ["train-genotype", genotype, "--dataset", DATASET, "--out", run, "--resume"]
            + ["--layers", size["cells"], "--channels", size["C"]]
            + ["--epochs", size["retrain_epochs"], "--batch-size", BATCH, "--lr", 0.05]
            + ["--cutout", 0, "--auxiliary-weight", 0, "--drop-path", 0, "--seed", seed]
        )
        write_json(run / "seconds.json", clock.elapsed())  # last invocation
    return float(read_json(run / "result.json")["test_acc"])


def retrain_dir(out: Path, cell_id: str, seed: int) -> Path:
    """Where :func:`retrain` keeps one (cell, seed) run; its ``result.json`` marks it finished."""
    return out / "retrain" / f"{cell_id}_seed{seed}"


def _retrain_job(job: tuple[str, dict[str, Any], str, str, int]) -> float:
    """:func:`retrain` in a worker process (one torch thread, like the parent)."""
    import torch

    torch.set_num_threads(1)
    out, size, cell_id, genotype, seed = job
    return retrain(Path(out), size, cell_id, genotype, seed)


# -- the study -----------------------------------------------------------------------------
def cell_key(genotype: str) -> str:
    """A short stable id of a genotype string (retraining directories are keyed by it)."""
    import hashlib

    return hashlib.sha1(genotype.encode()).hexdigest()[:10]


def run_study(out: Path, size_name: str, searchers: list[str], jobs: int = 1) -> dict[str, Any]:
    """All steps; searchers can be added to a finished study (only new work runs).

    ``jobs`` > 1 retrains cells in that many worker processes (the retraining runs are
    independent; every other step runs in this process, one after the other).
    """
    size = SIZES[size_name]
    out.mkdir(parents=True, exist_ok=True)
    config = {"size": size_name, **size, "dataset": DATASET}
    if (out / "config.json").exists() and read_json(out / "config.json") != config:
        raise ValueError(
            f"{out} holds a study with another configuration ({out / 'config.json'}); "
            "use another --out"
        )
    write_json(out / "config.json", config)

    timed_step(out, "pretrain", lambda: pretrain(out, size))
    cells: dict[str, str] = {}
    for k, name in enumerate(searchers):
        if name in ENV_SEARCHERS:
            fn = lambda n=name, k=k: search_in_env(out, size, n, seed=k + 1)  # noqa: E731
        else:
            fn = lambda n=name: search_oneshot(out, size, n)  # noqa: E731
        res = timed_step(out, f"search-{name}", fn)
        if res is None:
            print(f"[note] {name}: `nas-gym search {name.lower()}` is not in this checkout")
            continue
        write_json(out / f"search_{name}.json", res)
        cells[name] = res["best_genotype"]
    for i, g in enumerate(random_cells(size["n_random"])):
        cells[f"random{i:02d}"] = g
    write_json(out / "cells.json", cells)

    # supernet scores, incrementally (a searcher added later adds its cell only)
    score_file = out / "scores.json"
    scores = read_json(score_file) if score_file.exists() else {"seconds": 0.0, "score": {}}
    missing = sorted(set(cells.values()) - set(scores["score"]))
    if missing:
        print(f"[run ] score: {len(missing)} cells through the frozen supernet", flush=True)
        clock = Clock()
        scores["score"] |= supernet_scores(out, size, missing)
        times = clock.elapsed()
        scores["seconds"] += times["seconds"]
        scores["cpu_seconds"] = scores.get("cpu_seconds", 0.0) + times["cpu_seconds"]
        write_json(score_file, scores)

    unique = list(dict.fromkeys(cells.values()))  # each distinct cell is retrained once
    runs = [(g, s) for g in unique for s in range(size["seeds"])]
    accs = retrain_all(out, size, cells, runs, jobs)
    steps = {p.stem: read_seconds(p) for p in sorted((out / "steps").glob("*.json"))}
    steps["score (frozen supernet, all cells)"] = {
        "seconds": scores["seconds"],
        "cpu_seconds": scores.get("cpu_seconds"),
    }
    retrain_times = [
        read_seconds(out / "retrain" / f"{cell_key(g)}_seed{s}" / "seconds.json") for g, s in runs
    ]
    steps["retrain (sum of train-genotype runs)"] = {
        "seconds": sum(t["seconds"] for t in retrain_times),
        "cpu_seconds": None
        if any(t["cpu_seconds"] is None for t in retrain_times)
        else sum(t["cpu_seconds"] for t in retrain_times),
    }
    seconds = {k: v["seconds"] for k, v in steps.items()}
    cpu_seconds = {k: v["cpu_seconds"] for k, v in steps.items()}
    summary = {
        "config": config,
        "cells": cells,
        "supernet_score": {g: scores["score"][g] for g in unique},
        "standalone_acc": accs,
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "retrain_jobs": jobs,
    }
    write_json(out / "summary.json", summary)
    return summary


def retrain_all(
    out: Path,
    size: dict[str, Any],
    cells: dict[str, str],
    runs: list[tuple[str, int]],
    jobs: int,
) -> dict[str, list[float]]:
    """Stand-alone accuracy of every (cell, seed) run, in ``jobs`` processes.

    Finished runs are read back without a progress line (one summary line says how
    many); the progress lines count only the runs that train.
    """
    finished = [(retrain_dir(out, cell_key(g), s) / "result.json").exists() for g, s in runs]
    todo = [i for i, done in enumerate(finished) if not done]
    if len(todo) < len(runs):
        print(
            f"[retrain] {len(runs) - len(todo)} of {len(runs)} runs already finished in "
            f"{out / 'retrain'}; reading them back",
            flush=True,
        )
    results: dict[int, float] = {}
    if jobs <= 1:
        for k, i in enumerate(todo, 1):
            g, s = runs[i]
            names = ", ".join(c for c, v in cells.items() if v == g)
            print(f"[retrain {k}/{len(todo)}] {names} (cell {cell_key(g)}) seed {s}", flush=True)
            results[i] = retrain(out, size, cell_key(g), g, s)
    elif todo:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        work = [(str(out), size, cell_key(runs[i][0]), *runs[i]) for i in todo]
        ctx = mp.get_context("spawn")  # no forked torch state in the workers
        with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
            for k, (i, acc) in enumerate(zip(todo, pool.map(_retrain_job, work), strict=True), 1):
                print(f"[retrain {k}/{len(todo)}] done: {acc:.2f} %", flush=True)
                results[i] = acc
    accs: dict[str, list[float]] = {}
    for i, (g, s) in enumerate(runs):
        acc = results[i] if i in results else retrain(out, size, cell_key(g), g, s)
        accs.setdefault(g, []).append(acc)
    return accs


# -- report --------------------------------------------------------------------------------
def analyse(summary: dict[str, Any]) -> dict[str, Any]:
    """Each searcher's cell vs the random cells; rank correlations over all distinct cells."""
    from scipy import stats

    cells, accs, score = summary["cells"], summary["standalone_acc"], summary["supernet_score"]
    mean = {g: float(np.mean(v)) for g, v in accs.items()}
    std = {g: float(np.std(v, ddof=1)) if len(v) > 1 else 0.0 for g, v in accs.items()}
    random_cells_ = [g for c, g in cells.items() if c.startswith("random")]
    random_means = np.array([mean[g] for g in random_cells_])
    rows = [
        {
            "searcher": c,
            "genotype": g,
            "supernet_score": score[g],
            "acc_mean": mean[g],
            "acc_std": std[g],
            "beats_random": float(np.mean(random_means < mean[g])),
        }
        for c, g in cells.items()
        if not c.startswith("random")
    ]
    unique = list(accs)
    x = np.array([score[g] for g in unique])
    y = np.array([mean[g] for g in unique])
    tau, rho = stats.kendalltau(x, y), stats.spearmanr(x, y)
    return {
        "rows": rows,
        "random": {
            "n": len(random_cells_),
            "acc_mean": float(random_means.mean()),
            "acc_std": float(random_means.std(ddof=1)),
            "acc_min": float(random_means.min()),
            "acc_max": float(random_means.max()),
            "score_mean": float(np.mean([score[g] for g in random_cells_])),
            "score_std": float(np.std([score[g] for g in random_cells_], ddof=1)),
            "seed_std_mean": float(np.mean([std[g] for g in random_cells_])),
        },
        "n_cells": len(unique),
        "kendall_tau": float(tau.statistic),
        "kendall_p": float(tau.pvalue),
        "spearman_rho": float(rho.statistic),
        "spearman_p": float(rho.pvalue),
    }


def markdown(summary: dict[str, Any], result: dict[str, Any]) -> str:
    cfg = summary["config"]
    seeds = cfg["seeds"]
    lines = [
        f"| cell | supernet score (D_V acc, %) | stand-alone test acc (%, mean ± std, {seeds} seeds) "
        "| better than this share of random cells |",
        "|---|---:|---:|---:|",
    ]
    for r in result["rows"]:
        lines.append(
            f"| {r['searcher']} | {r['supernet_score']:.2f} | {r['acc_mean']:.2f} ± "
            f"{r['acc_std']:.2f} | {100 * r['beats_random']:.0f} % |"
        )
    rnd = result["random"]
    lines.append(
        f"| {rnd['n']} random cells | {rnd['score_mean']:.2f} ± {rnd['score_std']:.2f} | "
        f"{rnd['acc_mean']:.2f} ± {rnd['acc_std']:.2f} (min {rnd['acc_min']:.2f}, "
        f"max {rnd['acc_max']:.2f}) | |"
    )
    lines += [
        "",
        f"Rank correlation over all {result['n_cells']} retrained cells (supernet score vs "
        "mean stand-alone accuracy): Kendall tau = "
        f"{result['kendall_tau']:.3f} (p = {result['kendall_p']:.3f}), Spearman rho = "
        f"{result['spearman_rho']:.3f} (p = {result['spearman_p']:.3f}).",
        "",
        "| step | wall time (s) | CPU time (s) |",
        "|---|---:|---:|",
    ]
    cpu = summary.get("cpu_seconds", {})
    lines += [
        f"| {k} | {v:.0f} | {'n/a' if cpu.get(k) is None else f'{cpu[k]:.0f}'} |"
        for k, v in summary["seconds"].items()
    ]
    return "\n".join(lines) + "\n"


#: Fixed colours and markers of the searchers in every figure.
STYLE = {
    "CADAM": ("C0", "o"),
    "DDAS": ("C1", "s"),
    "RS": ("C2", "^"),
    "REA": ("C3", "v"),
    "DARTS": ("C4", "D"),
    "UNAS": ("C5", "P"),
}


def figures(out: Path, summary: dict[str, Any], fig_dir: Path) -> list[Path]:
    from matplotlib.figure import Figure

    fig_dir.mkdir(parents=True, exist_ok=True)
    cells, accs = summary["cells"], summary["standalone_acc"]
    score = summary["supernet_score"]
    seeds = summary["config"]["seeds"]
    paths = []

    fig = Figure(figsize=(7.5, 5.0), layout="constrained")
    ax = fig.subplots()
    rnd = [g for c, g in cells.items() if c.startswith("random")]
    ax.errorbar(
        [score[g] for g in rnd],
        [np.mean(accs[g]) for g in rnd],
        yerr=[np.std(accs[g], ddof=1) for g in rnd],
        fmt="o",
        color="0.55",
        ms=5,
        capsize=2,
        label=f"random cells ({len(rnd)})",
    )
    for c, g in cells.items():
        if c.startswith("random"):
            continue
        color, marker = STYLE.get(c, ("k", "*"))
        ax.errorbar(
            [score[g]],
            [np.mean(accs[g])],
            yerr=[np.std(accs[g], ddof=1)],
            fmt=marker,
            color=color,
            ms=9,
            mfc="none" if c in ("RS", "REA") else color,
            capsize=3,
            label=f"{c}'s best cell",
        )
    ax.set_xlabel("supernet score: D_V accuracy of the cell's path (%)")
    ax.set_ylabel(f"stand-alone test accuracy (%, mean ± std of {seeds} seeds)")
    ax.set_title("digits: supernet ranking vs stand-alone training")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    paths.append(fig_dir / "digits_rank.png")
    atomic_write_png(paths[-1], fig, dpi=120)

    fig = Figure(figsize=(7.5, 4.6), layout="constrained")
    ax = fig.subplots()
    for name in ENV_SEARCHERS:
        f = out / f"search_{name}.json"
        if not f.exists():
            continue
        res = read_json(f)
        best = np.maximum.accumulate(res["valid_acc"])
        color, marker = STYLE[name]
        label = name + (" (its own supernet, trained while searching)" if name == "DDAS" else "")
        ax.plot(
            np.arange(1, len(best) + 1),
            best,
            color=color,
            marker=marker,
            markevery=max(1, len(best) // 10),
            label=label,
        )
    ax.set_xlabel("query (environment step)")
    ax.set_ylabel("best D_V accuracy so far (%)")
    ax.set_title("digits: search curves through DARTSSupernet-v0")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    paths.append(fig_dir / "digits_search.png")
    atomic_write_png(paths[-1], fig, dpi=120)
    return paths


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, help="study directory (resumed if it exists)")
    p.add_argument("--size", default="full", choices=sorted(SIZES))
    p.add_argument(
        "--searchers",
        default=",".join([*ENV_SEARCHERS, *ONESHOT_SEARCHERS]),
        help="comma-separated, from " + ", ".join([*ENV_SEARCHERS, *ONESHOT_SEARCHERS]),
    )
    p.add_argument("--figures", default=None, help="write the PNGs here (default: --out)")
    p.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="worker processes for the stand-alone retraining step (default 1; 2 on 2 cores)",
    )
    args = p.parse_args(argv)
    if args.jobs < 1:
        p.error(f"--jobs must be >= 1, got {args.jobs}")
    searchers = [s.strip() for s in args.searchers.split(",") if s.strip()]
    allowed = [*ENV_SEARCHERS, *ONESHOT_SEARCHERS]
    bad = [s for s in searchers if s not in allowed]
    if bad:
        p.error(f"unknown searcher(s) {', '.join(bad)}; allowed: {', '.join(allowed)}")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)
    out = Path(args.out)
    summary = run_study(out, args.size, searchers, jobs=args.jobs)
    result = analyse(summary)
    table = markdown(summary, result)
    write_json(out / "analysis.json", result)
    atomic_write_text(out / "table.md", table)
    for path in figures(out, summary, Path(args.figures) if args.figures else out):
        print(f"figure: {path}")
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
