"""``nas-gym bench``: compare search agents on a nas_gym environment over seeds and budgets.

Every (agent, dataset, reward metric, budget, seed) is an independent run in its own
worker process (or Ray task). Finished runs are kept in ``OUT/runs`` and skipped on a
re-run, and the reports (``results.csv``, ``results.md``, ``curves_*.png``) summarise
every run in ``OUT/runs``. This module parses the text and wires the stages of
:mod:`nas_gym.agents.bench` together; everything is validated before the first run starts.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import re
import shlex
import sys
import time
from pathlib import Path
from typing import Any

#: Named protocols. ``table4.1``: Mills 2020, Table 4.1 (CADAM on NB201).
PRESETS: dict[str, dict[str, str]] = {
    "table4.1": {
        "agents": "cadam",
        "datasets": "cifar10,cifar100,ImageNet16-120",
        "reward_metrics": "valid,test",
        "seeds": "1-10",
        "budgets": "500,1000",
    },
}
DEFAULTS: dict[str, str] = {
    "reward_metrics": "valid",
    "seeds": "1-10",
    "budgets": "500",
}
#: Default datasets per environment (NB201: all three; supernet envs: CIFAR-10).
DEFAULT_DATASETS: dict[str, str] = {"NASBench201-v0": "cifar10,cifar100,ImageNet16-120"}
#: Documented example ``--env-kwargs`` per environment id, tiny configurations (a test
#: builds every registered id from its example, so this help cannot drift).
ENV_KWARGS_EXAMPLES: dict[str, dict[str, Any]] = {
    "NASBench201-v0": {"cost": "edgegpu_latency", "cost_target": 5.0, "constraint": "hard"},
    "ProxylessNAS-v0": {"latency_target": 80.0, "width_mult": 0.25, "resolution": 16},
    "DARTSSupernet-v0": {"C": 4, "num_cells": 3, "warmup_steps": 2, "train_batches": 2},
    "DARTSSupernet-DDAS-v0": {"C": 4, "num_cells": 3, "warmup_steps": 2, "train_batches": 2},
    "DARTSSupernet-CADAM-v0": {
        "checkpoint": "runs/darts_supernet/last.pt",
        "C": 4,
        "num_cells": 3,
        "resolution": 8,
    },
}


# -- text parsing ------------------------------------------------------------------
def parse_list(name: str, text: str) -> list[str]:
    """Comma-separated list without empty or repeated items."""
    items = [item.strip() for item in str(text).split(",")]
    if not items or any(not item for item in items):
        raise ValueError(f"{name}: {text!r} is not a comma-separated list of names")
    if len(set(items)) != len(items):
        raise ValueError(f"{name}: {text!r} repeats an item")
    return items


#: Largest value in an integer list (seeds feed numpy/SB3 seeding, which takes < 2**32).
MAX_INT_VALUE = 2**32 - 1
#: Most values one integer list may expand to (a typo like 1-100000000 fails at once).
MAX_LIST_LEN = 10_000
#: Most runs one bench may define.
MAX_RUNS = 100_000


def parse_int_list(
    name: str, text: str, minimum: int = 0, maximum: int = MAX_INT_VALUE
) -> list[int]:
    """Integers and inclusive ranges, e.g. ``"1-10"``, ``"1,3,5"``, ``"1-3,7"`` (ASCII digits)."""
    out: list[int] = []
    for part in parse_list(name, text):
        match = re.fullmatch(r"([0-9]+)(?:-([0-9]+))?", part, flags=re.ASCII)
        if not match:
            raise ValueError(
                f"{name}: {part!r} in {text!r} is not a whole number (at least {minimum}) "
                "or a range like 1-10"
            )
        lo = int(match.group(1))
        hi = int(match.group(2)) if match.group(2) is not None else lo
        if hi < lo:
            raise ValueError(f"{name}: range {part!r} ends before it starts")
        if lo < minimum:
            raise ValueError(f"{name}: {lo} is below the minimum {minimum}")
        if hi > maximum:
            raise ValueError(f"{name}: {hi} is above the maximum {maximum}")
        if len(out) + hi - lo + 1 > MAX_LIST_LEN:
            raise ValueError(f"{name}: {text!r} has more than {MAX_LIST_LEN} values")
        out.extend(range(lo, hi + 1))
    if len(set(out)) != len(out):
        raise ValueError(f"{name}: {text!r} repeats a value")
    return out


def parse_json_object(name: str, text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"{name}: {text!r} is not valid JSON ({err.msg})") from None
    if not isinstance(value, dict):
        raise ValueError(f"{name}: must be a JSON object, got {text!r}")
    return value


def parse_variant(text: str):
    """``LABEL=AGENT:JSON``, e.g. ``cadam-lr1e-4=cadam:{"actor_learning_rate": 1e-4}``."""
    from nas_gym.agents.bench.spec import Variant, check_label

    label, sep, rest = text.partition("=")
    base, sep2, kwargs_text = rest.partition(":")
    if not sep or not sep2 or not label or not base:
        raise ValueError(
            f"--variant {text!r}: expected LABEL=AGENT:JSON, e.g. 'cadam-x=cadam:{{}}'"
        )
    check_label(label)
    kwargs = parse_json_object(f"--variant {label}: the overrides", kwargs_text)
    return Variant(label, base.strip(), kwargs)


# -- the command -------------------------------------------------------------------
def _variant_help() -> str:
    return (
        "a registered agent with keyword overrides under a new label, e.g. "
        "'cadam-lr1e-4=cadam:{\"actor_learning_rate\": 1e-4}'; use LABEL in --agents "
        "(repeatable). The overrides are checked against the agent's constructor before any run"
    )


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "bench",
        help="run agents x datasets x reward metrics x budgets x seeds on an environment and report",
        description=(
            "Run independent search runs on a nas_gym environment and write OUT/runs/*.json, "
            "OUT/results.csv, OUT/results.md and OUT/curves_*.png. Each agent runs on its "
            "paper's environment configuration (DDAS: observation='last'; CADAM: 'topk' and "
            "the 100**acc reward) unless --env-kwargs overrides a key. Re-running with the "
            "same --out skips finished runs."
        ),
        epilog="documented --env-kwargs examples: "
        + "; ".join(f"{k}: '{json.dumps(v)}'" for k, v in ENV_KWARGS_EXAMPLES.items()),
    )
    parser.add_argument(
        "--agents",
        help="comma-separated agent names (see nas_gym.agents.registry) or --variant labels",
    )
    parser.add_argument(
        "--env",
        default="NASBench201-v0",
        help="environment id: "
        + ", ".join(ENV_KWARGS_EXAMPLES)
        + ", or any of them at -v1 (the same search with flat spaces; default NASBench201-v0)",
    )
    parser.add_argument(
        "--env-kwargs",
        dest="env_kwargs",
        default="{}",
        metavar="JSON",
        help="environment keyword arguments for every run, overriding each agent's paper "
        'configuration key by key, e.g. \'{"cost": "edgegpu_latency", "cost_target": 5.0}\'',
    )
    parser.add_argument(
        "--no-paper-env",
        action="store_true",
        help="give every agent the environment defaults instead of its paper's configuration",
    )
    parser.add_argument(
        "--datasets",
        help="comma-separated (default: all three on NASBench201-v0, else cifar10)",
    )
    parser.add_argument(
        "--reward-metrics",
        dest="reward_metrics",
        help="split searched: valid,test on NASBench201-v0 (default valid)",
    )
    parser.add_argument("--seeds", help="seeds, e.g. 1-10 or 1,3,5 (default 1-10)")
    parser.add_argument("--budgets", help="query budgets, e.g. 500,1000 (default 500)")
    parser.add_argument(
        "--budget-unit",
        dest="budget_unit",
        default="query",
        help="query: every step counts (default); unique: re-querying a known architecture "
        "is free (the env's budget_unit='unique')",
    )
    parser.add_argument(
        "--report-at",
        dest="report_at",
        default=None,
        help="also report best-so-far after these query counts, e.g. 444,500",
    )
    parser.add_argument(
        "--reference",
        default=None,
        help="agent the paired Wilcoxon tests compare against (default: rs if run, else none)",
    )
    parser.add_argument("--log-x", action="store_true", help="log-scale query axis in the curves")
    parser.add_argument("--out", required=True, help="output directory (resumable)")
    parser.add_argument(
        "--jobs", type=int, default=None, help="parallel runs (default: number of CPUs)"
    )
    parser.add_argument("--backend", default="local", help="local (worker processes) or ray")
    parser.add_argument(
        "--ray-address",
        default=None,
        help="HOST:PORT of a running Ray cluster to join deliberately (with --backend ray; "
        "default: start a private local instance bound to 127.0.0.1)",
    )
    parser.add_argument(
        "--ray-timeout",
        dest="ray_timeout",
        type=float,
        default=None,
        help="seconds to wait for --ray-address to answer (default 10)",
    )
    parser.add_argument(
        "--preset",
        default=None,
        help="a named protocol; options given explicitly override it. table4.1 = "
        "cadam, budgets 500,1000, seeds 1-10, all datasets, valid and test",
    )
    parser.add_argument(
        "--variant", action="append", default=[], metavar="LABEL=AGENT:JSON", help=_variant_help()
    )
    parser.add_argument(
        "--data-dir", default=None, help="data directory (default: $NAS_GYM_DATA_DIR)"
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.add_argument("--no-plots", action="store_true", help="skip the PNG curves")
    parser.add_argument(
        "--no-batch",
        action="store_true",
        help="run every run in its own process (default: runs of a batched agent, CADAM, that "
        "differ only in seed, dataset, split or budget run in lockstep in one process, and "
        "runs that differ only in budget replay the longest one's queries)",
    )
    parser.set_defaults(func=_bench)


def resolve_options(args: argparse.Namespace) -> dict[str, str]:
    """Explicit options, else the preset's, else the defaults."""
    if args.preset is not None and args.preset not in PRESETS:
        raise ValueError(f"unknown preset {args.preset!r}; allowed: {', '.join(PRESETS)}")
    preset = PRESETS.get(args.preset, {}) if args.preset else {}
    env_id = getattr(args, "env", "NASBench201-v0")
    from nas_gym.agents.bench.spec import base_env_id

    defaults = {**DEFAULTS, "datasets": DEFAULT_DATASETS.get(base_env_id(env_id), "cifar10")}
    opts = {}
    for name in ("agents", "datasets", "reward_metrics", "seeds", "budgets"):
        value = getattr(args, name)
        if value is None:
            value = preset.get(name, defaults.get(name))
        if value is None:
            raise ValueError(
                f"--{name.replace('_', '-')} is required (or use --preset {'/'.join(PRESETS)})"
            )
        opts[name] = value
    return opts


def canonical_command(opts: dict[str, str], args: argparse.Namespace) -> str:
    """The command line that reproduces this invocation: the report's, and the one an
    interrupted bench prints to resume with (every option given, so a resume runs the
    same way: the same data, Ray cluster, batching and output)."""
    parts = ["nas-gym", "bench", "--env", args.env]
    for name, value in opts.items():
        parts += [f"--{name.replace('_', '-')}", value]
    if args.env_kwargs != "{}":
        parts += ["--env-kwargs", args.env_kwargs]
    if args.budget_unit != "query":
        parts += ["--budget-unit", args.budget_unit]
    if args.no_paper_env:
        parts += ["--no-paper-env"]
    for variant in args.variant:
        parts += ["--variant", variant]
    if args.report_at is not None:
        parts += ["--report-at", args.report_at]
    if args.reference is not None:
        parts += ["--reference", args.reference]
    if args.log_x:
        parts += ["--log-x"]
    parts += ["--out", str(args.out)]
    if args.jobs is not None:
        parts += ["--jobs", str(args.jobs)]
    if args.backend != "local":
        parts += ["--backend", args.backend]
    if args.ray_address is not None:
        parts += ["--ray-address", args.ray_address]
    if args.ray_timeout is not None:
        parts += ["--ray-timeout", repr(args.ray_timeout)]
    if args.data_dir is not None:
        parts += ["--data-dir", str(args.data_dir)]
    for flag in ("no_progress", "no_plots", "no_batch"):
        if getattr(args, flag):
            parts += [f"--{flag.replace('_', '-')}"]
    return " ".join(shlex.quote(p) for p in parts)


def check_variants(variants: list, env_id: str, data_dir: str | None) -> None:
    """Build nothing long: each variant's overrides against its agent's keywords, then
    the agent once on a small NB201 environment, so a misspelt keyword or a bad value
    (``batch_size: -3``, ``learning_rate: "abc"``) fails before the bench, not in
    every run of the variant. Values the agent only reads in ``learn`` still fail there.
    """
    import gymnasium as gym

    from nas_gym.agents.bench.spec import check_variant_kwargs
    from nas_gym.agents.registry import agent_env_kwargs, agent_keywords, make_agent

    for variant in variants:
        keywords = agent_keywords(variant.base_agent)
        if keywords is not None:
            check_variant_kwargs(variant, keywords)
        env = gym.make(
            "NASBench201-v0",
            max_queries=5,
            data_dir=data_dir,
            **agent_env_kwargs(variant.base_agent),
        )
        try:
            make_agent(variant.base_agent, env, seed=0, **variant.kwargs)
        except Exception as err:  # SB3 asserts on some values: one line either way
            kind = "" if isinstance(err, ValueError | TypeError) else f"{type(err).__name__}: "
            raise ValueError(f"--variant {variant.label}: {kind}{err}") from None
        finally:
            env.close()


def check_envs(specs: list, data_dir: str | None) -> None:
    """Build each distinct environment configuration once (no reset): bad kwargs fail now."""
    import gymnasium as gym

    from nas_gym.agents.bench.run import env_make_kwargs

    seen = set()
    for spec in specs:
        key = (spec.env_id, spec.env_kwargs, spec.dataset, spec.reward_metric, spec.budget_unit)
        if key in seen:
            continue
        seen.add(key)
        try:
            env = gym.make(spec.env_id, **env_make_kwargs(spec, data_dir))
        except (TypeError, ValueError) as err:
            raise ValueError(f"--env {spec.env_id} with {spec.make_kwargs()}: {err}") from None
        env.close()


def resuming_text(args: argparse.Namespace, todo: list) -> str:
    """``", 15 of them resuming from 2 saved unit(s) in OUT/partial"`` (or ``""``): the
    runs an interrupted bench's batched units will carry on from their saves."""
    from nas_gym.agents.bench import backends, run

    partial = Path(args.out) / backends.PARTIAL_DIR
    if args.no_batch or args.backend != "local" or not partial.is_dir():
        return ""
    keep = [saved.get("keys") or [] for saved in run.saved_batches(partial).values()]
    units, _ = backends.saved_units(todo, keep)
    if not units:
        return ""
    runs = sum(len(unit) for _, unit in units)
    return f", {runs} of them resuming from {len(units)} saved unit(s) in {partial}"


def _bench(args: argparse.Namespace) -> int:
    from nas_gym.agents.bench import backends, plots, report, run, store
    from nas_gym.agents.bench.record import result_rows
    from nas_gym.agents.bench.run import quiet_version_notice
    from nas_gym.agents.bench.spec import build_specs
    from nas_gym.data import (
        atomic_write_bytes,
        atomic_write_text,
        check_out_dir,
        resolve_data_dir,
    )

    wall0, cpu0 = time.perf_counter(), time.process_time()
    quiet_version_notice()
    opts = resolve_options(args)
    if args.backend not in backends.BACKENDS:
        raise ValueError(
            f"unknown backend {args.backend!r}; allowed: {', '.join(backends.BACKENDS)}"
        )
    if not args.no_plots and importlib.util.find_spec("matplotlib") is None:
        raise ValueError(
            "the curves need matplotlib, which is not installed: "
            "pip install 'nas_gym[plot]', or pass --no-plots"
        )
    jobs = args.jobs if args.jobs is not None else (os.cpu_count() or 1)
    if jobs < 1:
        raise ValueError(f"--jobs must be at least 1, got {jobs}")
    if args.ray_address is not None and args.backend != "ray":
        raise ValueError(
            f"--ray-address {args.ray_address!r} needs --backend ray (got --backend {args.backend})"
        )
    ray_timeout = backends.RAY_CONNECT_TIMEOUT_S if args.ray_timeout is None else args.ray_timeout
    if not (0 < ray_timeout < float("inf")):
        raise ValueError(f"--ray-timeout must be a positive number of seconds, got {ray_timeout}")
    check_out_dir(args.out)
    agents = parse_list("--agents", opts["agents"])
    variants = [parse_variant(text) for text in args.variant]
    report_at = parse_int_list("--report-at", args.report_at, minimum=1) if args.report_at else []
    grid = {
        "datasets": parse_list("--datasets", opts["datasets"]),
        "reward_metrics": parse_list("--reward-metrics", opts["reward_metrics"]),
        "budgets": parse_int_list("--budgets", opts["budgets"], minimum=1),
        "seeds": parse_int_list("--seeds", opts["seeds"]),
    }
    # queries past the largest budget: a column of "—" (with budget_unit "unique" a run
    # makes more queries than its budget, so any count may be reached)
    too_late = [q for q in report_at if q > max(grid["budgets"])]
    if too_late and args.budget_unit == "query":
        raise ValueError(
            f"--report-at {','.join(map(str, too_late))} is past the largest budget "
            f"{max(grid['budgets'])}; allowed: query counts 1..{max(grid['budgets'])}"
        )
    n_runs = len(agents) * math.prod(len(values) for values in grid.values())
    if n_runs > MAX_RUNS:
        raise ValueError(
            f"the grid defines {n_runs} runs ({len(agents)} agents x "
            + " x ".join(f"{len(v)} {k.replace('_', ' ')}" for k, v in grid.items())
            + f"); at most {MAX_RUNS} per bench"
        )
    specs = build_specs(
        agents=agents,
        **grid,
        variants=variants,
        env_id=args.env,
        env_kwargs=parse_json_object("--env-kwargs", args.env_kwargs),
        budget_unit=args.budget_unit,
        paper_env_kwargs=(lambda name: {}) if args.no_paper_env else None,
    )
    reference = args.reference
    if reference is not None and reference not in agents:
        raise ValueError(f"--reference {reference!r} is not in --agents ({', '.join(agents)})")
    if reference is None and "rs" in agents and len(agents) > 1:
        reference = "rs"
    data_dir = str(resolve_data_dir(args.data_dir)[0])
    check_variants(variants, args.env, data_dir)
    check_envs(specs, data_dir)  # a missing table or a bad kwarg fails here once

    done, todo = store.split_done(specs, Path(args.out))
    print(
        f"nas-gym bench: {len(specs)} runs on {args.env} ({len(done)} already finished in "
        f"{args.out}, {len(todo)} to run{resuming_text(args, todo)}) on backend "
        f"{args.backend} with {jobs} job(s)",
        file=sys.stderr,
    )
    try:
        outcome = backends.execute(
            specs,
            args.out,
            jobs=jobs,
            backend=args.backend,
            data_dir=data_dir,
            progress=not args.no_progress,
            ray_address=args.ray_address,
            ray_timeout_s=ray_timeout,
            batch=not args.no_batch,
        )
    except backends.BenchStopped as stop:
        for key, error in stop.failures:
            print(f"FAILED {key}: {error}", file=sys.stderr)
        saves = len(run.saved_batches(Path(args.out) / backends.PARTIAL_DIR))
        units = f", {saves} unfinished batched unit(s) mid-run in its partial/" if saves else ""
        print(
            f"nas-gym bench: {stop.reason}; {stop.n_saved} of {len(specs)} runs are saved in "
            f"{args.out}{units}; resume with: {canonical_command(opts, args)}",
            file=sys.stderr,
        )
        return 130 if stop.reason == "interrupted" else 1
    records = store.load_all_records(args.out)
    out = Path(args.out)
    rows = result_rows(records)
    atomic_write_text(out / "results.csv", report.results_csv(rows))
    invocation = report.invocation_text(
        outcome.n_ran, outcome.n_total, outcome.wall_s, outcome.cpu_s
    )
    markdown = report.results_markdown(
        records,
        preferred_agents=agents,
        command=canonical_command(opts, args),
        invocation=invocation,
        optima=report.optima_of(records),
        reference=reference,
        report_at=report_at,
    )
    atomic_write_text(out / "results.md", markdown)
    written = ["results.csv", "results.md"]
    if not args.no_plots:
        for name, fig in plots.all_curve_figures(records, agents, args.log_x).items():
            atomic_write_bytes(out / name, plots.png_bytes(fig))
            written.append(name)
    print(
        f"ran {outcome.n_ran}, skipped {outcome.n_skipped} finished, failed {len(outcome.failures)}"
    )
    print(f"wrote {', '.join(written)} in {args.out}")
    print()
    print("best accuracy (%) on the searched split, mean ± std over seeds:")
    groups = report.group_rows(rows, agents)
    print(report.searched_table(groups, report.optima_of(records), reference))
    constrained = report.constrained_table(groups)
    if constrained:
        print()
        print("constrained search:")
        print(constrained)
    if report_at:
        print()
        print("best so far at the --report-at query counts:")
        print(report.report_at_table(records, report_at, agents))
    print()
    print("time per run (agent vs environment):")
    print(report.timing_text(rows, agents))
    for key, error in outcome.failures:
        print(f"FAILED {key}: {error}", file=sys.stderr)
    print()
    print(
        f"measured: {time.perf_counter() - wall0:.1f} s wall for this command, "
        f"{outcome.total_cpu_s(time.process_time() - cpu0):.1f} CPU-s "
        "(this process and the runs it ran)"
    )
    return 1 if outcome.failures else 0
