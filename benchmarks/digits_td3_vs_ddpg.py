"""TD3 versus DDPG underneath CADAM and DDAS on ``DARTSSupernet-v0`` with real images (digits).

Issue 12's short real-image companion of ``docs/td3_vs_ddpg.md`` (NAS-Bench-201): Mills
(2020, Sec. 5.2) proposes replacing the DDPG (Lillicrap et al. 2016) underneath CADAM and
DDAS with TD3 (Fujimoto et al. 2018). Here each DDPG agent and its TD3 twin search the
SAME pre-trained DARTS supernet on scikit-learn's real 8x8 digits, paired by seed, with
the budgets, environments and retraining of ``benchmarks/digits_study.py`` (whose
functions this script imports):

1. ``pretrain``: the digits study's supernet (C=8, 5 cells, 40 epochs), or an existing
   one given with ``--supernet DIR`` (linked as ``OUT/supernet``; checked against the size);
2. ``search``: every agent of :data:`AGENTS` for every seed of :data:`PAIR_SEEDS`;
   CADAM and its TD3 twins in sequential mode (the frozen supernet scores each cell on
   D_V, 60 queries, or ``--cadam-queries N``), DDAS-4S and DDAS-TD3 in parallel mode (each
   query trains the chosen path for 4 minibatches first, 40 queries); each CADAM query
   is logged as actor-chosen or random (:class:`ActorQueryLog`);
3. ``score``: each run's best cell through the frozen supernet (D_V accuracy, %);
4. ``retrain``: each distinct best cell trained stand-alone with ``nas-gym train-genotype``
   exactly as the digits study retrains (2 epochs, seeds 0-2), test accuracy on the 364
   held-out digits;
5. ``report``: per pair and seed, both runs' supernet score and stand-alone accuracy,
   unique queries, actor-chosen queries, whether the two query sequences are identical
   (else the first query where they differ); paired Wilcoxon signed-rank and bootstrap
   CIs of the differences (``nas_gym.agents.bench.stats``); one PNG.

At 60 queries CADAM's epsilon (cosine 1 -> 0.05 over 175 steps) is still 0.76, so only
about 5 queries come from the actor; ``--cadam-queries 250`` lets it choose about 154.
The budget is recorded in ``OUT/config.json``; a directory made with another budget is
refused.

Resumable: each search, the scores and each retraining are written atomically under
``--out`` and skipped (retraining resumed from its checkpoint) on the next run::

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/digits_td3_vs_ddpg.py --out results/digits_td3_vs_ddpg
    python benchmarks/digits_td3_vs_ddpg.py --out results/digits_td3_vs_ddpg --figures docs/figures
    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/digits_td3_vs_ddpg.py \
        --out results/digits_td3_vs_ddpg_250 --supernet results/digits_study/supernet \
        --cadam-queries 250 --agents CADAM,CADAM-TD3,CADAM-TD3-min --figures docs/figures

``--size smoke`` checks the whole pipeline at toy sizes in about a minute (61 CPU-s).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/ (digits_study.py)

import digits_study as study  # noqa: E402

from nas_gym.agents.bench import stats  # noqa: E402
from nas_gym.data import atomic_write_png, atomic_write_text  # noqa: E402

#: Search seeds, fixed before any result of this study was seen; every agent runs each.
PAIR_SEEDS: dict[str, tuple[int, ...]] = {"full": (1, 2, 3, 4, 5), "smoke": (1, 2)}
#: The agents: name -> (registered agent, env mode, agent overrides), as
#: ``digits_study.ENV_SEARCHERS`` (DDAS with the digits study's ``stagnation_steps=8``).
AGENTS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "CADAM": ("cadam", "sequential", {}),
    "CADAM-TD3": ("cadam-td3", "sequential", {}),
    "DDAS-4S": ("ddas-4s", "parallel", {"stagnation_steps": 8}),
    "DDAS-TD3": ("ddas-td3", "parallel", {"stagnation_steps": 8}),
    "CADAM-TD3-min": ("cadam-td3-min", "sequential", {}),
}
#: (DDPG twin, TD3 twin) pairs, in the priority order the study runs them.
PAIRS: tuple[tuple[str, str], ...] = (
    ("CADAM", "CADAM-TD3"),
    ("DDAS-4S", "DDAS-TD3"),
    ("CADAM", "CADAM-TD3-min"),
)


# -- pure helpers (tested in tests/test_digits_td3_vs_ddpg.py) -----------------------------
def first_divergence(a: list[str], b: list[str]) -> int | None:
    """1-based query at which two query sequences first differ; None if identical.

    Sequences of different lengths differ at the first query one of them lacks.
    """
    for k, (x, y) in enumerate(zip(a, b, strict=False), 1):
        if x != y:
            return k
    return None if len(a) == len(b) else min(len(a), len(b)) + 1


def paired_summary(ddpg: list[float], td3: list[float]) -> dict[str, float]:
    """Means of both twins and of the paired difference TD3 - DDPG with its 95% bootstrap
    CI and the two-sided Wilcoxon signed-rank p (NaN when every difference is 0)."""
    if len(ddpg) != len(td3) or not ddpg:
        raise ValueError(
            f"paired lists must be non-empty and equal length, got {len(ddpg)}, {len(td3)}"
        )
    d = np.asarray(td3, dtype=float) - np.asarray(ddpg, dtype=float)
    low, high = stats.bootstrap_ci(d)
    _, p, n_used = stats.wilcoxon_signed_rank(td3, ddpg)
    return {
        "ddpg_mean": float(np.mean(ddpg)),
        "td3_mean": float(np.mean(td3)),
        "diff_mean": float(d.mean()),
        "diff_low": float(low),
        "diff_high": float(high),
        "wilcoxon_p": p,
        "n": len(d),
        "n_nonzero": n_used,
        "td3_wins": int((d > 0).sum()),
        "ties": int((d == 0).sum()),
    }


def actor_queries(a: dict[str, Any], b: dict[str, Any]) -> tuple[int, int] | None:
    """Queries the actor chose in each of two runs (None: a run without the log, e.g. DDAS
    or a CADAM run of a study made before :class:`ActorQueryLog`)."""
    if a.get("from_actor") is None or b.get("from_actor") is None:
        return None
    return sum(a["from_actor"]), sum(b["from_actor"])


def actor_vs_random(run: dict[str, Any]) -> dict[str, Any]:
    """Mean D_V accuracy (%) of a run's actor-chosen and of its random queries, and whether
    its best cell was chosen by the actor (NaN for a kind the run never made)."""
    acc, actor = np.asarray(run["valid_acc"], float), np.asarray(run["from_actor"], bool)
    return {
        "actor_mean": float(acc[actor].mean()) if actor.any() else math.nan,
        "random_mean": float(acc[~actor].mean()) if (~actor).any() else math.nan,
        "best_from_actor": bool(actor[int(np.argmax(acc))]),
    }


def mean_pct(values: list[float]) -> str:
    """Mean of per-run percentages, skipping runs that made no such query (their NaN)."""
    kept = [v for v in values if not math.isnan(v)]
    if not kept:
        return "none (no run made such a query)"
    text = f"{np.mean(kept):.2f} %"
    return text if len(kept) == len(values) else f"{text} (the {len(kept)} runs that made one)"


def identical_curves(ddpg: dict[str, Any], td3: dict[str, Any]) -> int:
    """Seeds (present in both) whose best-so-far search curves are equal at every query."""
    return sum(
        np.array_equal(stats.best_so_far(ddpg[s]["valid_acc"]), stats.best_so_far(r["valid_acc"]))
        for s, r in td3.items()
        if s in ddpg
    )


def min_wilcoxon_p(n: int) -> float:
    """Smallest two-sided exact Wilcoxon p with ``n`` nonzero pairs (all signs equal): 2 / 2^n.

    Exact null without tied |differences|; with ties the bench uses the normal
    approximation, which can go lower (0.037 for five equal differences).
    """
    return min(1.0, 2.0 / 2**n)


# -- steps ---------------------------------------------------------------------------------
def parse_cadam_queries(text: str) -> int:
    """``--cadam-queries``: a whole number of queries >= 1 (argparse names the option)."""
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1 or str(n) != text.strip():
        raise argparse.ArgumentTypeError(f"must be a whole number of queries >= 1, got {text!r}")
    return n


def study_size(size_name: str, cadam_queries: int | None = None) -> dict[str, Any]:
    """The digits study's size, with the sequential (CADAM) budget ``cadam_queries`` if given.

    The one place the CADAM budget is set: every step reads ``size["queries"]``.
    """
    size = dict(study.SIZES[size_name])
    if cadam_queries is not None:
        size["queries"] = int(cadam_queries)
    return size


def study_config(size_name: str, cadam_queries: int | None = None) -> dict[str, Any]:
    """What identifies a study directory: its size (with its CADAM budget) and the pair seeds."""
    seeds = list(PAIR_SEEDS[size_name])
    return {
        "size": size_name,
        **study_size(size_name, cadam_queries),
        "dataset": study.DATASET,
        "pair_seeds": seeds,
    }


def check_inputs(
    out: Path, size_name: str, supernet: Path | None, cadam_queries: int | None = None
) -> None:
    """Refuse, before any work, a changed study in ``out`` or a supernet that does not fit.

    Raises:
        ValueError: naming the mismatch and what is allowed.
    """
    from nas_gym.data import DataError
    from nas_gym.supernets.pretrain import read_checkpoint

    config = study_config(size_name, cadam_queries)
    old = study.read_json(out / "config.json") if (out / "config.json").exists() else None
    if old is not None and old.get("size") == size_name and old.get("queries") != config["queries"]:
        raise ValueError(
            f"{out} was run with --cadam-queries {old.get('queries')}, not "
            f"{config['queries']}; resume it with --cadam-queries {old.get('queries')} "
            "or use another --out"
        )
    if old is not None and old != config:
        raise ValueError(
            f"{out} holds a study with another configuration ({out / 'config.json'}); "
            "use another --out"
        )
    link = out / "supernet"
    if supernet is None:
        return
    target = supernet.resolve()
    if link.is_symlink() and link.resolve() != target:
        raise ValueError(
            f"{link} points at {link.resolve()}, not --supernet {target}; use another --out"
        )
    if link.exists() and not link.is_symlink():
        raise ValueError(
            f"{link} holds a supernet trained here; drop --supernet or use another --out"
        )
    try:
        state = read_checkpoint(target)  # a CheckpointMismatchError is a ValueError
    except (FileNotFoundError, DataError) as err:
        raise ValueError(str(err)) from err
    size, fp = study.SIZES[size_name], state["fingerprint"]
    want = {"space": "darts", "dataset": study.DATASET, "C": size["C"], "num_cells": size["cells"]}
    got = {"space": fp["space"], "dataset": fp["dataset"]}
    got |= {"C": fp["supernet"]["C"], "num_cells": fp["supernet"]["num_cells"]}
    if got != want:
        raise ValueError(f"--supernet {target} has {got}; --size {size_name} needs {want}")
    if state["epoch"] != state["config"]["epochs"]:
        raise ValueError(
            f"--supernet {target} stopped at epoch {state['epoch']} of "
            f"{state['config']['epochs']}; finish its pre-training first"
        )


def link_supernet(out: Path, size: dict[str, Any], supernet: Path | None) -> dict[str, Any]:
    """Point ``out/supernet`` at an existing pre-trained supernet (checked by
    :func:`check_inputs`), or pre-train one there.

    Returns the checkpoint's fingerprint and training config (for the report). Without
    ``supernet`` the digits study's ``pretrain`` step trains one into ``out/supernet``,
    unless an earlier run linked one there (never written through the link).
    """
    from nas_gym.supernets.pretrain import read_checkpoint

    link = out / "supernet"
    if supernet is None and link.is_symlink():  # a study started with --supernet: reuse it
        print(f"[skip] pretrain: {link} -> {link.resolve()}", flush=True)
    elif supernet is None:
        study.timed_step(out, "pretrain", lambda: study.pretrain(out, size))
    elif not link.is_symlink():
        link.symlink_to(supernet.resolve(), target_is_directory=True)
    state = read_checkpoint(link)
    return {
        "path": str(link.resolve()),
        "fingerprint": state["fingerprint"],
        "config": state["config"],
        "epoch": state["epoch"],
    }


class ActorQueryLog:
    """Records, per environment step, whether CADAM's epsilon-greedy action came from the
    actor (True) or was a uniform random cell (False), without changing the run.

    Wraps the agent's ``_sample_action``. The decision in
    :func:`nas_gym.agents.cadam.cadam.epsilon_greedy_action` is the first draw of the
    global numpy stream (the agent's private one inside ``learn``): ``random() < eps`` is
    a random cell. The log replays that draw on a copy of the stream's state, so the
    agent's own draws are untouched.
    """

    def __init__(self, agent: Any) -> None:
        self.agent, self.sample = agent, agent._sample_action
        self.from_actor: list[bool] = []
        agent._sample_action = self

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        eps = self.agent.epsilon()
        copy = np.random.RandomState()
        copy.set_state(np.random.get_state())
        self.from_actor.append(bool(eps < 1.0 and copy.random_sample() >= eps))
        return self.sample(*args, **kwargs)


def search_cadam(out: Path, size: dict[str, Any], name: str, seed: int) -> dict[str, Any]:
    """One sequential-mode search, as ``digits_study.search_in_env``, plus ``from_actor``:
    which of its queries the actor chose (:class:`ActorQueryLog`)."""
    from nas_gym.agents.registry import make_agent
    from nas_gym.wrappers import QueryRecorder

    agent_name, mode, overrides = AGENTS[name]
    budget = size["queries"]
    env = QueryRecorder(study.make_env(out, size, mode, budget), keys=("genotype", "valid_acc"))
    agent = make_agent(agent_name, env, seed=seed, **overrides)
    log = ActorQueryLog(agent)
    agent.learn(total_timesteps=budget)
    env.close()
    record = study.search_record(env.history, budget, name, agent_name, seed, mode)
    return {**record, "from_actor": log.from_actor[:budget]}


def run_search(out: Path, size: dict[str, Any], agent: str, seed: int) -> dict[str, Any]:
    """One search run, skipped when already done: CADAM and its twins by
    :func:`search_cadam`, DDAS by ``digits_study.search_in_env``."""

    def search() -> dict[str, Any]:
        if AGENTS[agent][1] == "sequential":
            return search_cadam(out, size, agent, seed)
        return study.search_in_env(out, size, agent, seed, searcher=AGENTS[agent])

    return study.timed_step(out, f"search-{agent}-seed{seed}", search)


def run_study(
    out: Path,
    size_name: str,
    agents: list[str],
    supernet: Path | None,
    jobs: int = 1,
    cadam_queries: int | None = None,
) -> dict[str, Any]:
    """All steps for ``agents``; agents can be added to a finished study (only new work runs).

    ``cadam_queries`` is the sequential agents' budget (default: the size's, 60 in full).
    """
    check_inputs(out, size_name, supernet, cadam_queries)
    size, seeds = study_size(size_name, cadam_queries), PAIR_SEEDS[size_name]
    config = study_config(size_name, cadam_queries)
    out.mkdir(parents=True, exist_ok=True)
    study.write_json(out / "config.json", config)
    checkpoint = link_supernet(out, size, supernet)

    runs: dict[str, dict[int, dict[str, Any]]] = {}
    n_runs = len(agents) * len(seeds)
    for k, (agent, seed) in enumerate(((a, s) for a in agents for s in seeds), 1):
        print(f"[search {k}/{n_runs}] {agent} seed {seed}", flush=True)
        runs.setdefault(agent, {})[seed] = run_search(out, size, agent, seed)

    best = {f"{a}/seed{s}": r["best_genotype"] for a, rs in runs.items() for s, r in rs.items()}
    score_file = out / "scores.json"
    scores = (
        study.read_json(score_file) if score_file.exists() else {"score": {}, "cpu_seconds": 0.0}
    )
    missing = sorted(set(best.values()) - set(scores["score"]))
    if missing:
        print(f"[score] {len(missing)} cells through the frozen supernet", flush=True)
        clock = study.Clock()
        scores["score"] |= study.supernet_scores(out, size, missing)
        scores["cpu_seconds"] += clock.elapsed()["cpu_seconds"]
        study.write_json(score_file, scores)

    unique = list(dict.fromkeys(best.values()))  # each distinct cell is retrained once
    retrain_runs = [(g, s) for g in unique for s in range(size["seeds"])]
    accs = study.retrain_all(out, size, best, retrain_runs, jobs)

    cpu = {
        p.stem: study.read_seconds(p)["cpu_seconds"] for p in sorted((out / "steps").glob("*.json"))
    }
    retrain_cpu = [
        study.read_seconds(out / "retrain" / f"{study.cell_key(g)}_seed{s}" / "seconds.json")[
            "cpu_seconds"
        ]
        for g, s in retrain_runs
    ]
    summary = {
        "config": config,
        "supernet": checkpoint,
        "runs": {
            a: {
                str(s): {
                    "best_genotype": r["best_genotype"],
                    "search_best_valid_acc": r["best_valid_acc"],
                    "valid_acc": r["valid_acc"],
                    "genotypes": r["genotypes"],
                    "from_actor": r.get("from_actor"),
                    "supernet_score": scores["score"][r["best_genotype"]],
                    "standalone_acc": accs[r["best_genotype"]],
                    "search_cpu_seconds": cpu.get(f"search-{a}-seed{s}"),
                }
                for s, r in rs.items()
            }
            for a, rs in runs.items()
        },
        "cpu_seconds": {
            "pretrain": cpu.get("pretrain"),
            **{
                f"search {a}": sum(cpu.get(f"search-{a}-seed{s}") or 0.0 for s in seeds)
                for a in agents
            },
            "score (frozen supernet)": scores["cpu_seconds"],
            f"retrain ({len(retrain_runs)} train-genotype runs)": sum(
                t or 0.0 for t in retrain_cpu
            ),
        },
    }
    study.write_json(out / "summary.json", summary)
    return summary


# -- report --------------------------------------------------------------------------------
def analyse(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """One entry per pair whose two agents both ran: per-seed rows and paired statistics."""
    runs = summary["runs"]
    result = []
    for ddpg, td3 in PAIRS:
        if ddpg not in runs or td3 not in runs:
            continue
        seeds = [s for s in runs[ddpg] if s in runs[td3]]
        rows = []
        for s in seeds:
            a, b = runs[ddpg][s], runs[td3][s]
            rows.append(
                {
                    "seed": int(s),
                    "score": (a["supernet_score"], b["supernet_score"]),
                    "acc": (
                        float(np.mean(a["standalone_acc"])),
                        float(np.mean(b["standalone_acc"])),
                    ),
                    "acc_std": (
                        float(np.std(a["standalone_acc"], ddof=1)),
                        float(np.std(b["standalone_acc"], ddof=1)),
                    ),
                    "unique": (len(set(a["genotypes"])), len(set(b["genotypes"]))),
                    "same_cell": a["best_genotype"] == b["best_genotype"],
                    "diverge": first_divergence(a["genotypes"], b["genotypes"]),
                    "n_differ": sum(
                        x != y for x, y in zip(a["genotypes"], b["genotypes"], strict=False)
                    )
                    + abs(len(a["genotypes"]) - len(b["genotypes"])),
                    "n_queries": max(len(a["genotypes"]), len(b["genotypes"])),
                    "actor": actor_queries(a, b),
                    "same_draws": a.get("from_actor") is not None
                    and a.get("from_actor") == b.get("from_actor"),
                }
            )
        result.append(
            {
                "ddpg": ddpg,
                "td3": td3,
                "rows": rows,
                "score": paired_summary(
                    [r["score"][0] for r in rows], [r["score"][1] for r in rows]
                ),
                "acc": paired_summary([r["acc"][0] for r in rows], [r["acc"][1] for r in rows]),
                "unique": paired_summary(
                    [r["unique"][0] for r in rows], [r["unique"][1] for r in rows]
                ),
            }
        )
    return result


def budget_notes(summary: dict[str, Any]) -> str:
    """How much of each budget the learned policy chooses, and a consistency check.

    CADAM's cosine epsilon schedule and DDAS's phase schedule are read from the agents'
    own defaults, so the note follows the code.
    """
    import inspect

    from nas_gym.agents.cadam import CADAM
    from nas_gym.agents.cadam.cadam import cosine_epsilon
    from nas_gym.agents.ddas.ddas import phase_steps

    cfg, runs = summary["config"], summary["runs"]
    lines = []
    d = {k: v.default for k, v in inspect.signature(CADAM.__init__).parameters.items()}
    eps = [
        cosine_epsilon(t, d["epsilon_start"], d["epsilon_end"], d["epsilon_decay_steps"])
        for t in range(cfg["queries"])
    ]
    lines.append(
        f"* CADAM and its TD3 twins at {cfg['queries']} queries: epsilon-greedy from {eps[0]:.2f} "
        f"down to {eps[-1]:.2f} at the last query (cosine over {d['epsilon_decay_steps']} "
        f"steps), so on average {sum(1 - e for e in eps):.1f} of the {cfg['queries']} "
        "queries come from the actor; the rest are uniform random cells."
    )
    explore, exploit = phase_steps(cfg["ddas_queries"])
    if any(AGENTS[a][1] == "parallel" for a in runs):
        lines.append(
            f"* DDAS (both) at {cfg['ddas_queries']} queries: queries 1-{explore} explore "
            f"(U(0,1) actions, no updates), {explore + 1}-{explore + exploit} exploit, "
            f"{explore + exploit + 1}-{cfg['ddas_queries']} the 4S stage."
        )
    seq = [r for a, rs in runs.items() if AGENTS[a][1] == "sequential" for r in rs.values()]
    logged = [sum(r["from_actor"]) for r in seq if r.get("from_actor") is not None]
    if logged:
        lines.append(
            f"* Measured (each query's epsilon-greedy draw, logged): {min(logged)}-"
            f"{max(logged)} actor-chosen queries per run, mean {np.mean(logged):.1f}, over "
            f"{len(logged)} CADAM runs."
        )
        for a, rs in runs.items():
            split = [actor_vs_random(r) for r in rs.values() if r.get("from_actor") is not None]
            if not split:
                continue
            best = sum(s["best_from_actor"] for s in split)
            lines.append(
                f"* {a}: mean D_V accuracy of the actor-chosen queries "
                f"{mean_pct([s['actor_mean'] for s in split])}, of the random ones "
                f"{mean_pct([s['random_mean'] for s in split])} (mean over "
                f"{len(split)} runs); the best cell was an actor-chosen query in {best} of "
                f"{len(split)} runs."
            )
    same = sum(abs(r["search_best_valid_acc"] - r["supernet_score"]) < 1e-9 for r in seq)
    lines.append(
        f"* Check: in {same} of {len(seq)} sequential runs the best D_V accuracy seen while "
        "searching equals the best cell's score re-measured through the frozen supernet."
    )
    return "\n".join(lines) + "\n"


def _p(p: float) -> str:
    return "— (all pairs equal)" if math.isnan(p) else f"{p:.3f}"


def markdown(summary: dict[str, Any], result: list[dict[str, Any]]) -> str:
    retrain_seeds = summary["config"]["seeds"]
    lines: list[str] = []
    for pair in result:
        d, t = pair["ddpg"], pair["td3"]
        actor = all(r.get("actor") is not None for r in pair["rows"])
        lines += [
            f"**{d} vs {t}** (paired by search seed; supernet score = D_V accuracy of the best "
            f"cell through the frozen supernet; stand-alone = test accuracy, mean ± std of "
            f"{retrain_seeds} retraining seeds)",
            "",
            f"| seed | supernet score {d} / {t} (%) | stand-alone {d} (%) | stand-alone {t} (%) "
            f"| unique queries {d} / {t} | "
            + (f"actor-chosen queries {d} / {t} | " if actor else "")
            + "query sequences |",
            "|---:|---:|---:|---:|---:|" + ("---:|" if actor else "") + "---|",
        ]
        for r in pair["rows"]:
            seq = (
                "identical"
                if r["diverge"] is None
                else f"first differ at query {r['diverge']}; {r['n_differ']} of "
                f"{r['n_queries']} queries differ"
            )
            if r["same_cell"]:
                seq += "; same best cell"
            if r.get("same_draws"):
                seq += "; same actor/random draws"
            lines.append(
                f"| {r['seed']} | {r['score'][0]:.2f} / {r['score'][1]:.2f} | "
                f"{r['acc'][0]:.2f} ± {r['acc_std'][0]:.2f} | {r['acc'][1]:.2f} ± {r['acc_std'][1]:.2f} "
                f"| {r['unique'][0]} / {r['unique'][1]} | "
                + (f"{r['actor'][0]} / {r['actor'][1]} | " if actor else "")
                + f"{seq} |"
            )
        lines += [
            "",
            f"| outcome | {d} mean | {t} mean | Δ {t} − {d} [95% bootstrap CI] | {t} vs {d} by seed "
            "| Wilcoxon p (two-sided) |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for key, label in (
            ("score", "supernet score of the best cell (%)"),
            ("acc", "stand-alone test accuracy (%)"),
            ("unique", "unique queries"),
        ):
            s = pair[key]
            lines.append(
                f"| {label} | {s['ddpg_mean']:.2f} | {s['td3_mean']:.2f} | {s['diff_mean']:+.2f} "
                f"[{s['diff_low']:+.2f}, {s['diff_high']:+.2f}] | {s['td3_wins']} higher, {s['ties']} equal, "
                f"{s['n'] - s['td3_wins'] - s['ties']} lower | {_p(s['wilcoxon_p'])} |"
            )
        n = len(pair["rows"])
        lines += [
            "",
            f"With {n} pairs the smallest two-sided Wilcoxon p is {min_wilcoxon_p(n):.4f} "
            "(every difference of one sign).",
            "",
        ]
    lines += ["| step | CPU time (s) |", "|---|---:|"]
    cpu = summary["cpu_seconds"]
    lines += [
        f"| {k} | {'n/a (existing supernet)' if v is None else f'{v:.0f}'} |"
        for k, v in cpu.items()
    ]
    total = sum(v for v in cpu.values() if v is not None)
    lines.append(f"| **total** | **{total:.0f}** ({total / 60:.1f} CPU-min) |")
    return "\n".join(lines) + "\n"


#: Fixed colours of the agents in the figure: DDPG twins dark, TD3 twins light/dashed.
STYLE = {
    "CADAM": ("C0", "-"),
    "CADAM-TD3": ("C1", "--"),
    "CADAM-TD3-min": ("C2", ":"),
    "DDAS-4S": ("C3", "-"),
    "DDAS-TD3": ("C4", "--"),
}


def epsilon_floor_step() -> int:
    """CADAM's default ``epsilon_decay_steps``: from this step on epsilon is at its floor."""
    import inspect

    from nas_gym.agents.cadam import CADAM

    return int(inspect.signature(CADAM.__init__).parameters["epsilon_decay_steps"].default)


def figure_name(config: dict[str, Any]) -> str:
    """``td3_vs_ddpg_digits.png`` at the size's CADAM budget, else ``..._q<N>.png``."""
    if config["queries"] == study.SIZES[config["size"]]["queries"]:
        return "td3_vs_ddpg_digits.png"
    return f"td3_vs_ddpg_digits_q{config['queries']}.png"


def window_means(
    runs: list[dict[str, Any]], pick: bool, width: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean D_V accuracy (%) of the queries with ``from_actor == pick``, pooled over
    ``runs``, per window of ``width`` queries: (window centres, means, counts)."""
    n = max(len(r["valid_acc"]) for r in runs)
    centres, means, counts = [], [], []
    for lo in range(0, n, width):
        accs = [
            acc
            for r in runs
            for acc, f in zip(
                r["valid_acc"][lo : lo + width], r["from_actor"][lo : lo + width], strict=True
            )
            if f == pick
        ]
        centres.append(lo + (min(lo + width, n) - lo + 1) / 2)
        means.append(np.mean(accs) if accs else np.nan)
        counts.append(len(accs))
    return np.asarray(centres), np.asarray(means), np.asarray(counts)


def actor_panel(ax: Any, runs: dict[str, dict[str, Any]], width: int = 25) -> None:
    """Mean D_V accuracy of the actor-chosen queries of each agent, and of the random
    queries, per window of ``width`` queries (windows with < 5 pooled queries left out)."""
    from matplotlib.ticker import MaxNLocator

    first = next(iter(runs.values()))
    x, y, k = window_means(list(first.values()), False, width)
    ax.plot(x[k >= 5], y[k >= 5], color="0.35", lw=2.0, marker="x", label="random queries")
    for j, (a, rs) in enumerate(runs.items()):
        color, ls = STYLE[a]
        x, y, k = window_means(list(rs.values()), True, width)
        ax.plot(
            x[k >= 5] + 1.5 * j,  # nudged: coinciding points stay visible
            y[k >= 5],
            color=color,
            ls=ls,
            lw=2.0,
            marker="os^"[j % 3],
            label=f"{a}: actor-chosen queries",
        )
    ax.axvline(
        epsilon_floor_step(), color="0.4", ls="-.", lw=1.0, label="epsilon reaches its floor"
    )
    ax.set_title(
        f"What the actors propose: queries of each {width}-query window, {len(first)} seeds "
        "pooled\n(random queries: the same cells for every twin; windows of < 5 left out)",
        fontsize=10,
    )
    ax.set_xlabel("query (environment step)")
    ax.set_ylabel("mean D_V accuracy, frozen supernet (%)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    low, high = ax.get_ylim()
    ax.set_ylim(low - 0.35 * (high - low), high)  # room for the legend below the curves
    ax.legend(fontsize=8, loc="lower center", ncol=2)


def figure(summary: dict[str, Any], result: list[dict[str, Any]], path: Path) -> Path:
    """Top: best D_V accuracy so far vs query (mean bold, each seed thin) per family;
    bottom: the best cell's supernet score and stand-alone accuracy, pairs joined by seed."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    runs = summary["runs"]
    families = [
        ("CADAM", [a for a in ("CADAM", "CADAM-TD3", "CADAM-TD3-min") if a in runs]),
        ("DDAS", [a for a in ("DDAS-4S", "DDAS-TD3") if a in runs]),
    ]
    families = [(f, agents) for f, agents in families if agents]
    fig = Figure(figsize=(12.0, 8.5), layout="constrained")
    axes = fig.subplots(2, 2, squeeze=False)
    for col in range(2):
        ax = axes[0, col]
        if col >= len(families):
            logged = [
                a for a in families[0][1] if all(r.get("from_actor") for r in runs[a].values())
            ]
            if families[0][0] == "CADAM" and logged:
                actor_panel(ax, {a: runs[a] for a in logged})
            else:
                ax.set_visible(False)
            continue
        fam, agents = families[col]
        for j, a in enumerate(agents):
            color, ls = STYLE[a]
            curves = [stats.best_so_far(r["valid_acc"]) for r in runs[a].values()]
            for c in curves:
                ax.plot(np.arange(1, len(c) + 1), c, color=color, ls=ls, lw=0.8, alpha=0.45)
            mean = np.mean(np.stack(curves), axis=0)
            every = max(1, len(mean) // 8)  # staggered markers: coinciding curves stay visible
            ax.plot(
                np.arange(1, len(mean) + 1),
                mean,
                color=color,
                ls=ls,
                lw=2.4,
                marker="os^"[j % 3],
                markevery=(j * every // len(agents), every),
                label=f"{a}: mean of {len(curves)} seeds (thin: each seed)",
            )
        same = ", ".join(
            f"{t} {identical_curves(runs[agents[0]], runs[t])}/{len(runs[t])}" for t in agents[1:]
        )
        note = f"\nseeds whose best-so-far curve equals {agents[0]}'s: {same}"
        if fam == "CADAM":
            decay = epsilon_floor_step()
            if decay < summary["config"]["queries"]:
                ax.axvline(
                    decay,
                    color="0.4",
                    ls="-.",
                    lw=1.0,
                    label=f"epsilon at its floor from query {decay + 1}",
                )
            ax.set_title(
                f"CADAM twins, sequential mode, {summary['config']['queries']} queries: "
                "frozen supernet" + note,
                fontsize=10,
            )
            ax.set_ylabel("best D_V accuracy so far, frozen supernet (%)")
        else:
            ax.set_title("DDAS twins, parallel mode: each run's own supernet" + note, fontsize=10)
            ax.set_ylabel("best D_V accuracy so far, run's own supernet (%)")
        ax.set_xlabel("query (environment step)")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")

    for col, (key, ylabel) in enumerate(
        (
            ("score", "best cell's supernet score: D_V accuracy, frozen supernet (%)"),
            (
                "acc",
                f"best cell's stand-alone test accuracy (%, mean of {summary['config']['seeds']} retrainings)",
            ),
        )
    ):
        ax = axes[1, col]
        ticks, labels = [], []
        for k, pair in enumerate(result):
            x0, x1 = 3 * k, 3 * k + 1
            cd, ct = STYLE[pair["ddpg"]][0], STYLE[pair["td3"]][0]
            for k_seed, r in enumerate(pair["rows"]):
                y0, y1 = r[key]
                ax.plot([x0, x1], [y0, y1], color="0.6", lw=0.8, zorder=1)
                ax.annotate(
                    str(r["seed"]),
                    (x1, y1),
                    xytext=(4 + 6 * (k_seed % 5), 0),  # coinciding points: labels side by side
                    textcoords="offset points",
                    fontsize=7,
                    va="center",
                    color="0.35",
                )
            ax.scatter(
                [x0] * len(pair["rows"]),
                [r[key][0] for r in pair["rows"]],
                color=cd,
                zorder=2,
                s=30,
            )
            ax.scatter(
                [x1] * len(pair["rows"]),
                [r[key][1] for r in pair["rows"]],
                color=ct,
                zorder=2,
                s=30,
                marker="s",
            )
            ticks += [x0, x1]
            labels += [pair["ddpg"], pair["td3"]]
        ax.set_xticks(ticks, labels, rotation=20, fontsize=8)
        ax.set_xlim(-0.6, 3 * max(len(result), 1) - 1.0)
        ax.set_ylabel(ylabel, fontsize=9)
        ax.set_title("per seed, lines join the two runs of one seed (number: seed)", fontsize=9)
        ax.grid(alpha=0.3, axis="y")
    fig.suptitle(
        f"TD3 vs DDPG under {' and '.join(f for f, _ in families)} on DARTSSupernet-v0, "
        "digits (real 8x8 images)"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_png(path, fig, dpi=110)
    return path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, help="study directory (resumed if it exists)")
    p.add_argument("--size", default="full", choices=sorted(PAIR_SEEDS))
    p.add_argument(
        "--supernet",
        default=None,
        help="an existing pre-trained supernet directory (DIR/last.pt) of this size; "
        "default: pre-train one into OUT/supernet (the digits study's pretrain step)",
    )
    p.add_argument(
        "--agents",
        default=",".join(AGENTS),
        help="comma-separated, from " + ", ".join(AGENTS) + " (default: all)",
    )
    p.add_argument(
        "--cadam-queries",
        type=parse_cadam_queries,
        default=None,
        metavar="N",
        help="budget of CADAM and its TD3 twins (sequential mode), a whole number >= 1 "
        "(default: the size's, 60 in full, 6 in smoke); recorded in OUT/config.json",
    )
    p.add_argument("--figures", default=None, help="write the PNG here (default: --out)")
    p.add_argument(
        "--jobs", type=int, default=1, help="worker processes for retraining (default 1)"
    )
    args = p.parse_args(argv)
    if args.jobs < 1:
        p.error(f"--jobs must be >= 1, got {args.jobs}")
    agents = [a.strip() for a in args.agents.split(",") if a.strip()]
    bad = [a for a in agents if a not in AGENTS]
    if bad or not agents:
        p.error(
            f"unknown agent(s) {', '.join(bad) or '(none given)'}; allowed: {', '.join(AGENTS)}"
        )
    supernet = Path(args.supernet) if args.supernet else None
    if supernet is not None and not (supernet / "last.pt").is_file():
        p.error(
            f"--supernet {supernet}: no last.pt there (a `nas-gym supernet pretrain --out DIR`)"
        )
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)
    out = Path(args.out)
    try:
        check_inputs(out, args.size, supernet, args.cadam_queries)
    except ValueError as err:
        p.error(str(err))
    summary = run_study(out, args.size, agents, supernet, args.jobs, args.cadam_queries)
    result = analyse(summary)
    table = markdown(summary, result) + "\n" + budget_notes(summary)
    study.write_json(out / "analysis.json", result)
    atomic_write_text(out / "table.md", table)
    fig_dir = Path(args.figures) if args.figures else out
    print(f"figure: {figure(summary, result, fig_dir / figure_name(summary['config']))}")
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
