"""``nas-gym bench``: compare search agents on NAS-Bench-201 over seeds and query budgets.

Every (agent, dataset, reward metric, budget, seed) is an independent run in its own
worker process (or Ray task). Finished runs are kept in ``OUT/runs`` and skipped on a
re-run, and the reports (``results.csv``, ``results.md``, ``curves_*.png``) summarise
every run in ``OUT/runs``.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

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
    "datasets": "cifar10,cifar100,ImageNet16-120",
    "reward_metrics": "valid",
    "seeds": "1-10",
    "budgets": "500",
}


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "bench",
        help="run agents x datasets x reward metrics x budgets x seeds on NASBench201-v0 and report",
        description=(
            "Run independent search runs on NASBench201-v0 and write OUT/runs/*.json, "
            "OUT/results.csv, OUT/results.md and OUT/curves_<dataset>_<metric>.png. "
            "Re-running with the same --out skips finished runs."
        ),
    )
    parser.add_argument(
        "--agents", help="comma-separated agent names (see agents.registry) or --variant labels"
    )
    parser.add_argument("--datasets", help=f"comma-separated (default {DEFAULTS['datasets']})")
    parser.add_argument(
        "--reward-metrics", dest="reward_metrics", help="split searched: valid,test (default valid)"
    )
    parser.add_argument("--seeds", help="seeds, e.g. 1-10 or 1,3,5 (default 1-10)")
    parser.add_argument("--budgets", help="query budgets, e.g. 500,1000 (default 500)")
    parser.add_argument("--out", required=True, help="output directory (resumable)")
    parser.add_argument(
        "--jobs", type=int, default=None, help="parallel runs (default: number of CPUs)"
    )
    parser.add_argument("--backend", default="local", help="local (worker processes) or ray")
    parser.add_argument(
        "--ray-address",
        default=None,
        help="address of a running Ray cluster (default: start a local one)",
    )
    parser.add_argument(
        "--preset",
        default=None,
        help="a named protocol; options given explicitly override it. table4.1 = "
        "cadam, budgets 500,1000, seeds 1-10, all datasets, valid and test",
    )
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="LABEL=AGENT:JSON",
        help="a registered agent with keyword overrides under a new label, e.g. "
        "'cadam-lr1e-4=cadam:{\"actor_lr\": 1e-4}'; use LABEL in --agents (repeatable)",
    )
    parser.add_argument(
        "--data-dir", default=None, help="data directory (default: $NAS_GYM_DATA_DIR)"
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.add_argument("--no-plots", action="store_true", help="skip the PNG curves")
    parser.set_defaults(func=_bench)


def resolve_options(args: argparse.Namespace) -> dict[str, str]:
    """Explicit options, else the preset's, else the defaults."""
    if args.preset is not None and args.preset not in PRESETS:
        raise ValueError(f"unknown preset {args.preset!r}; allowed: {', '.join(PRESETS)}")
    preset = PRESETS.get(args.preset, {}) if args.preset else {}
    opts = {}
    for name in ("agents", "datasets", "reward_metrics", "seeds", "budgets"):
        value = getattr(args, name)
        if value is None:
            value = preset.get(name, DEFAULTS.get(name))
        if value is None:
            raise ValueError(
                f"--{name.replace('_', '-')} is required (or use --preset {'/'.join(PRESETS)})"
            )
        opts[name] = value
    return opts


def canonical_command(opts: dict[str, str], args: argparse.Namespace) -> str:
    """The command line that reproduces this invocation, for the report."""
    parts = ["nas-gym", "bench"]
    for name, value in opts.items():
        parts += [f"--{name.replace('_', '-')}", value]
    for variant in args.variant:
        parts += ["--variant", variant]
    parts += ["--out", str(args.out)]
    return " ".join(shlex.quote(p) for p in parts)


def _bench(args: argparse.Namespace) -> int:
    from agents.bench import report, runner
    from nas_gym.data import resolve_data_dir

    opts = resolve_options(args)
    if args.backend not in runner.BACKENDS:
        raise ValueError(f"unknown backend {args.backend!r}; allowed: {', '.join(runner.BACKENDS)}")
    jobs = args.jobs if args.jobs is not None else (os.cpu_count() or 1)
    if jobs < 1:
        raise ValueError(f"--jobs must be at least 1, got {jobs}")
    agents = runner.parse_list("--agents", opts["agents"])
    variants = [runner.parse_variant(text) for text in args.variant]
    specs = runner.build_specs(
        agents=agents,
        datasets=runner.parse_list("--datasets", opts["datasets"]),
        reward_metrics=runner.parse_list("--reward-metrics", opts["reward_metrics"]),
        budgets=runner.parse_int_list("--budgets", opts["budgets"], minimum=1),
        seeds=runner.parse_int_list("--seeds", opts["seeds"]),
        variants=variants,
    )
    data_dir = str(resolve_data_dir(args.data_dir)[0])
    from nas_gym.benchmarks.nb201 import load_nb201

    load_nb201(
        data_dir
    )  # a missing table fails here once, with the data error, not in every worker

    done, todo = runner.split_done(specs, Path(args.out))
    print(
        f"nas-gym bench: {len(specs)} runs ({len(done)} already finished in {args.out}, "
        f"{len(todo)} to run) on backend {args.backend} with {jobs} job(s)",
        file=sys.stderr,
    )
    outcome = runner.execute(
        specs,
        args.out,
        jobs=jobs,
        backend=args.backend,
        data_dir=data_dir,
        progress=not args.no_progress,
        ray_address=args.ray_address,
    )
    records = runner.load_all_records(args.out)
    command = canonical_command(opts, args)
    written = report.write_reports(
        args.out,
        records,
        preferred_agents=agents,
        command=command,
        bench_wall_s=outcome.wall_s,
        plots=not args.no_plots,
        data_dir=data_dir,
        bench_cpu_s=outcome.cpu_s,
    )
    print(
        f"ran {outcome.n_ran}, skipped {outcome.n_skipped} finished, failed {len(outcome.failures)}; "
        f"wall time {outcome.wall_s:.1f} s"
    )
    if outcome.n_ran:
        print(
            f"CPU time of the runs: {outcome.cpu_s:.1f} s, i.e. {outcome.cpu_s / jobs:.1f} s of wall "
            f"time on {jobs} otherwise idle core(s); measured wall {outcome.wall_s:.1f} s"
        )
    print(f"wrote {', '.join(written)} in {args.out}")
    rows = report.result_rows(records)
    print()
    print("best accuracy (%) on the searched split, mean ± std over seeds:")
    print(report.searched_table(report.group_rows(rows, agents), report.optima_of(records)))
    print()
    print("time per run (agent vs environment):")
    print(report.timing_text(report.result_rows(records), agents))
    for key, error in outcome.failures:
        print(f"FAILED {key}: {error}", file=sys.stderr)
    return 1 if outcome.failures else 0
