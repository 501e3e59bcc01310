"""End-to-end tests of ``nas-gym bench`` through the CLI entry point, with tiny budgets.

The runs are real: real registered agents (random search and SB3 TD3 with an
early ``learning_starts`` so it trains), the real NB201 table, real worker
processes and a real local Ray instance. Every number in ``results.csv`` is checked
against the run's JSON history and against the NB201 table itself.
"""

from __future__ import annotations

import csv
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from nas_gym.cli import main

AGENTS = "rs,td3-ls10"
VARIANT = 'td3-ls10=td3:{"learning_starts": 10}'
DATASET = "cifar100"
BUDGET = 30
SEEDS = (1, 2)
METRICS = ("valid", "test")
N_RUNS = 2 * len(SEEDS) * len(METRICS)
ENV = "NASBench201-v0"


def bench_args(out: Path, *extra: str, metrics: str = "valid,test") -> list[str]:
    return [
        "bench",
        "--agents",
        AGENTS,
        "--variant",
        VARIANT,
        "--datasets",
        DATASET,
        "--reward-metrics",
        metrics,
        "--seeds",
        "1-2",
        "--budgets",
        str(BUDGET),
        "--out",
        str(out),
        "--no-progress",
        *extra,
    ]


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def load_runs(out: Path) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in sorted((out / "runs").glob("*.json"))}


def comparable(record: dict) -> dict:
    """A run record without what legitimately changes between executions (timings)."""
    timings = ("wall_s", "agent_s", "env_s", "cpu_s")
    result = {k: v for k, v in record["result"].items() if k not in timings}
    return {"spec": record["spec"], "result": result, "history": record["history"]}


@pytest.fixture(scope="module")
def bench_jobs1(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("bench") / "out"
    import contextlib
    import io

    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        code = main(bench_args(out, "--jobs", "1", "--report-at", "10,30"))
    assert code == 0
    return out, stdout.getvalue()


def test_bench_writes_every_output_consistent_with_the_table(bench_jobs1, nb201_table):
    out, stdout = bench_jobs1
    keys = {
        f"{agent}__{ENV}__{DATASET}__{metric}__{BUDGET}__{seed}"
        for agent in AGENTS.split(",")
        for metric in METRICS
        for seed in SEEDS
    }
    runs = load_runs(out)
    assert set(runs) == keys
    for metric in METRICS:
        png = out / f"curves_{DATASET}_{metric}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000

    valid = nb201_table.accuracy(DATASET, "valid", 200)
    test = nb201_table.accuracy(DATASET, "test", 200)
    rows = read_csv(out / "results.csv")
    assert len(rows) == N_RUNS
    assert list(rows[0]) == [
        "agent",
        "env_id",
        "dataset",
        "reward_metric",
        "budget",
        "budget_unit",
        "seed",
        "best_arch",
        "best_valid_acc",
        "best_test_acc",
        "best_found_at",
        "best_rank",
        "n_queries",
        "n_unique_queries",
        "feasible_fraction",
        "best_feasible_acc",
        "best_feasible_cost",
        "best_cost",
        "wall_s",
        "agent_s",
        "env_s",
        "cpu_s",
    ]
    for row in rows:
        key = f"{row['agent']}__{row['env_id']}__{row['dataset']}__{row['reward_metric']}__{row['budget']}__{row['seed']}"
        record = runs[key]
        hist = record["history"]
        arch = np.asarray(hist["arch_index"])
        # exactly `budget` queries, each with the table's metrics
        assert int(row["n_queries"]) == BUDGET == len(arch) == len(hist["reward"])
        np.testing.assert_allclose(hist["valid_acc"], valid[arch], rtol=0, atol=1e-9)
        np.testing.assert_allclose(hist["test_acc"], test[arch], rtol=0, atol=1e-9)
        # the best architecture by the searched split, recomputed from the table alone
        searched = valid if row["reward_metric"] == "valid" else test
        best = int(row["best_arch"])
        assert best in set(arch.tolist())
        assert searched[best] == pytest.approx(searched[arch].max(), abs=1e-9)
        # rank among all 15,625 cells: 1 + the number strictly better
        assert int(row["best_rank"]) == 1 + int((searched > searched[best]).sum())
        assert row["feasible_fraction"] == "" and row["budget_unit"] == "query"
        assert float(row["best_valid_acc"]) == pytest.approx(valid[best], abs=1e-9)
        assert float(row["best_test_acc"]) == pytest.approx(test[best], abs=1e-9)
        assert int(row["n_unique_queries"]) == len(set(arch.tolist()))
        assert arch[int(row["best_found_at"]) - 1] == best
        # csv and json agree
        for col, value in row.items():
            expected = record["result"][col]
            if expected is None:
                assert value == ""
            elif isinstance(expected, float):
                assert float(value) == pytest.approx(expected, rel=1e-12)
            else:
                assert str(expected) == value
        # time split: agent + env = wall, env measured
        assert float(row["env_s"]) > 0 and float(row["cpu_s"]) > 0
        assert float(row["agent_s"]) + float(row["env_s"]) == pytest.approx(float(row["wall_s"]))
        assert record["versions"]["gymnasium"] and record["versions"]["torch"]
        assert record["env"]["kwargs"]["max_queries"] == BUDGET
    # the variant's override reached the agent
    td3 = runs[f"td3-ls10__{ENV}__{DATASET}__valid__{BUDGET}__1"]
    assert td3["hyperparameters"]["learning_starts"] == 10
    assert td3["agent_kwargs"] == {"learning_starts": 10}

    # results.md carries the mean ± std of each group and the test-of-best-valid protocol
    md = (out / "results.md").read_text()
    for agent in AGENTS.split(","):
        for metric in METRICS:
            group = [r for r in rows if r["agent"] == agent and r["reward_metric"] == metric]
            accs = [float(r[f"best_{metric}_acc"]) for r in group]
            cell = f"{np.mean(accs):.2f} ± {np.std(accs):.2f}"
            line = f"| {agent} | {BUDGET} | {DATASET} | {metric} | 1-2 | {cell} |"
            assert line in md, line
        tests = [
            float(r["best_test_acc"])
            for r in rows
            if r["agent"] == agent and r["reward_metric"] == "valid"
        ]
        assert (
            f"| {agent} | {BUDGET} | {DATASET} | 1-2 | {np.mean(tests):.2f} ± {np.std(tests):.2f} |"
            in md
        )
    assert "Test accuracy of the best-by-validation architecture" in md
    # the NB201 paper's RS row appears beside our rs on validation, labelled with its
    # protocol and without a difference (it is not query-matched)
    rs_line = next(
        ln for ln in md.splitlines() if ln.startswith(f"| rs | {BUDGET} | {DATASET} | valid")
    )
    assert "RS 70.93 ± 1.09 [NB201 protocol" in rs_line and "Δ +" not in rs_line
    assert "Δ -" not in rs_line and "within 1 std" not in rs_line
    # paired test against rs (the default reference) and the bootstrap CI are reported
    assert "vs rs: Δ, Holm p (pairs)" in md and "95% CI" in md
    # the timing table is printed
    assert "agent s" in stdout and "env s" in stdout
    assert any(line.startswith("rs ") for line in stdout.splitlines())
    assert any(line.startswith("td3-ls10 ") for line in stdout.splitlines())


def test_rerun_skips_finished_runs_and_redoes_missing_ones(bench_jobs1, tmp_path, capsys):
    src, _ = bench_jobs1
    out = tmp_path / "out"
    shutil.copytree(src, out)
    before = {p.name: p.stat().st_mtime_ns for p in (out / "runs").glob("*.json")}
    assert main(bench_args(out, "--jobs", "1")) == 0
    printed = capsys.readouterr().out
    assert f"ran 0, skipped {N_RUNS} finished" in printed
    # a resumed bench does not claim its runs took 0.0 s
    md = (out / "results.md").read_text()
    assert "ran no new run" in md and "0.0 s" not in md
    assert "measured:" in printed and "CPU-s" in printed
    # the results table is printed, with the same means as results.md
    table = [line for line in printed.splitlines() if line.startswith("| td3-ls10 |")]
    assert table and table[0] in (out / "results.md").read_text()
    assert {p.name: p.stat().st_mtime_ns for p in (out / "runs").glob("*.json")} == before

    # an interrupted run (file missing) is redone, and deterministically so
    victim = out / "runs" / f"td3-ls10__{ENV}__{DATASET}__valid__{BUDGET}__2.json"
    old = json.loads(victim.read_text())
    victim.unlink()
    assert main(bench_args(out, "--jobs", "1")) == 0
    assert f"ran 1, skipped {N_RUNS - 1} finished" in capsys.readouterr().out
    assert comparable(json.loads(victim.read_text())) == comparable(old)
    untouched = {p.name: p.stat().st_mtime_ns for p in (out / "runs").glob("*.json") if p != victim}
    assert untouched == {k: v for k, v in before.items() if k != victim.name}


def test_parallel_jobs_give_the_same_runs(bench_jobs1, tmp_path):
    src, _ = bench_jobs1
    out = tmp_path / "out"
    assert main(bench_args(out, "--jobs", "2")) == 0
    ours, ref = load_runs(out), load_runs(src)
    assert set(ours) == set(ref)
    for key in ref:
        assert comparable(ours[key]) == comparable(ref[key]), key


def test_ray_backend_on_a_local_instance(bench_jobs1, tmp_path):
    pytest.importorskip("ray", reason="the ray extra: pip install 'nas_gym[ray]'")
    src, _ = bench_jobs1
    out = tmp_path / "out"
    assert main(bench_args(out, "--jobs", "2", "--backend", "ray", metrics="valid")) == 0
    ours, ref = load_runs(out), load_runs(src)
    assert len(ours) == N_RUNS // 2
    for key, record in ours.items():
        assert comparable(record) == comparable(ref[key]), key
    assert len(read_csv(out / "results.csv")) == N_RUNS // 2


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"--agents": "rs,nope"}, "unknown agent 'nope'"),
        ({"--datasets": "cifar11"}, "unknown dataset 'cifar11'"),
        ({"--reward-metrics": "train"}, "unknown reward metric 'train'"),
        ({"--seeds": "1-"}, "'1-' in '1-' is not a whole number (at least 0) or a range"),
        ({"--budgets": "-5"}, "'-5' in '-5' is not a whole number (at least 1) or a range"),
        ({"--seeds": "5-2"}, "range '5-2' ends before it starts"),
        ({"--seeds": "1,1"}, "'1,1' repeats an item"),
        ({"--seeds": "1-3,2"}, "'1-3,2' repeats a value"),
        ({"--budgets": "0"}, "below the minimum 1"),
        ({"--jobs": "0"}, "--jobs must be at least 1"),
        ({"--backend": "slurm"}, "unknown backend 'slurm'"),
        ({"--preset": "table9"}, "unknown preset 'table9'"),
        ({"--variant": "x=td3:[1]"}, "must be a JSON object"),
        ({"--variant": "bad__label=td3:{}"}, "--variant label 'bad__label'"),
        ({"--variant": "y=nope:{}"}, "unknown agent 'nope'"),
        (
            {"--variant": 'td3-ls10=td3:{"learning_startz": 10}'},
            "td3 takes no keyword 'learning_startz'; allowed: action_noise",
        ),
        (  # values too: the agent is built once before the bench (SB3 asserts on this one)
            {"--variant": 'td3-ls10=td3:{"learning_rate": "abc"}'},
            "--variant td3-ls10: AssertionError: The learning rate schedule must be a float",
        ),
        (
            {"--variant": 'td3-ls10=cadam:{"quantile": 2.0}'},
            "--variant td3-ls10: quantile (tau) must be in (0, 1), got 2.0",
        ),
        ({"--agents": "rs"}, "--variant td3-ls10 is defined but not used"),
        ({"--env": "Pong-v5"}, "unknown env 'Pong-v5'; allowed: NASBench201-v0"),
        (  # the grid's keys are not offered: the bench sets them
            {"--env-kwargs": '{"top_kk": 3}'},
            "takes no keyword 'top_kk'; allowed: reward, observation, top_k, fidelity,",
        ),
        ({"--env-kwargs": '{"max_queries": 3}'}, "sets 'max_queries', which the bench sets"),
        ({"--env-kwargs": "[1]"}, "--env-kwargs: must be a JSON object"),
        ({"--budget-unit": "step"}, "unknown budget unit 'step'; allowed: query, unique"),
        ({"--reference": "rea"}, "--reference 'rea' is not in --agents"),
        ({"--report-at": "0"}, "--report-at: 0 is below the minimum 1"),
        (
            {"--report-at": "10,600,900", "--budgets": "500"},
            "--report-at 600,900 is past the largest budget 500; allowed: query counts 1..500",
        ),
    ],
)
def test_bad_input_is_one_clear_error_line(change, message, tmp_path, capsys):
    args = bench_args(tmp_path / "out")
    for flag, value in change.items():
        if flag in args:
            args[args.index(flag) + 1] = value
        else:
            args += [flag, value]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("nas-gym bench: error:") and message in err, err
    assert len(err.splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_runs_made_with_other_settings_are_not_silently_reused(bench_jobs1, tmp_path, capsys):
    src, _ = bench_jobs1
    out = tmp_path / "out"
    shutil.copytree(src, out)
    args = bench_args(out)
    args[args.index("--variant") + 1] = 'td3-ls10=td3:{"learning_starts": 20}'
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "was made with other settings (agent_kwargs: saved " in err
    assert """now '{"learning_starts": 20}')""" in err  # names what changed, not the whole spec


def test_preset_table41_expands_to_the_thesis_protocol():
    import argparse

    from nas_gym.agents.bench.spec import build_specs
    from nas_gym.commands.bench import parse_int_list, parse_list, resolve_options

    args = argparse.Namespace(
        preset="table4.1", agents=None, datasets=None, reward_metrics=None, seeds=None, budgets=None
    )
    opts = resolve_options(args)
    specs = build_specs(
        parse_list("a", opts["agents"]),
        parse_list("d", opts["datasets"]),
        parse_list("m", opts["reward_metrics"]),
        parse_int_list("b", opts["budgets"]),
        parse_int_list("s", opts["seeds"]),
        known_agents=("cadam",),
        paper_env_kwargs=lambda name: {"observation": "topk", "reward": "cadam"},
    )
    assert len(specs) == 1 * 3 * 2 * 2 * 10
    assert {s.agent for s in specs} == {"cadam"}
    assert {s.budget for s in specs} == {500, 1000}
    assert {s.seed for s in specs} == set(range(1, 11))
    assert {s.dataset for s in specs} == {"cifar10", "cifar100", "ImageNet16-120"}
    assert {s.reward_metric for s in specs} == {"valid", "test"}
    # an explicit option overrides the preset
    args.seeds = "1-3"
    assert resolve_options(args)["seeds"] == "1-3"


def test_report_statistics_and_published_lookup():
    from nas_gym.agents.bench.published import published_for, published_test_of_best_valid
    from nas_gym.agents.bench.report import seed_list
    from nas_gym.agents.bench.stats import mean_std

    values = [72.1, 73.4, 71.9, 73.5]
    mean, std = mean_std(values)
    assert mean == pytest.approx(np.mean(values)) and std == pytest.approx(np.std(values))
    assert all(math.isnan(v) for v in mean_std([]))
    assert seed_list([3, 1, 2, 7, 9, 8]) == "1-3,7-9"

    def methods(entries):
        return [row.method for row, _ in entries]

    assert methods(published_for("cadam", "cifar100", "test", 500)) == ["CADAM-500"]
    assert methods(published_for("cadam", "cifar100", "test", 1000)) == ["CADAM-1k"]
    assert published_for("cadam", "cifar100", "test", 700) == []
    # a query-budget row is never compared with another unit or environment
    assert published_for("cadam", "cifar100", "test", 500, budget_unit="unique") == []
    assert published_for("cadam", "cifar100", "test", 500, env_id="ProxylessNAS-v0") == []
    assert methods(published_for("rs", "cifar10", "test", 500)) == ["RS-500"]
    assert methods(published_test_of_best_valid("rea", "ImageNet16-120")) == ["REA"]
    assert methods(published_for("ganas", "cifar10", "test", 444)) == ["GA-NAS"]


def test_report_at_gives_best_so_far_at_each_count(bench_jobs1):
    out, stdout = bench_jobs1
    runs = load_runs(out)
    md = (out / "results.md").read_text()
    assert "## Best so far at chosen query counts" in md
    for agent in AGENTS.split(","):
        for metric in METRICS:
            cells = []
            for k in (10, 30):
                values = [
                    max(
                        runs[f"{agent}__{ENV}__{DATASET}__{metric}__{BUDGET}__{s}"]["history"][
                            f"{metric}_acc"
                        ][:k]
                    )
                    for s in SEEDS
                ]
                cells.append(f"{np.mean(values):.2f} ± {np.std(values):.2f}")
            line = f"| {agent} | {BUDGET} | {DATASET} | {metric} | 1-2 | {cells[0]} | {cells[1]} |"
            assert line in md and line in stdout, line


def test_curves_show_every_series_with_fixed_colours(bench_jobs1):
    from nas_gym.agents.bench.plots import AGENT_COLORS, all_curve_figures, curves_figure, png_bytes
    from nas_gym.agents.bench.store import load_all_records

    out, _ = bench_jobs1
    records = [r for r in load_all_records(out) if r["spec"]["reward_metric"] == "valid"]
    # a copy of rs under another label: its curve coincides exactly with rs
    twins = [json.loads(json.dumps(r)) for r in records if r["spec"]["agent"] == "rs"]
    for r in twins:
        r["spec"]["agent"] = "rs-twin"
    fig = curves_figure(records + twins, "test", ["rs", "td3-ls10", "rs-twin"])
    png_bytes(fig)  # draws the figure
    ax = fig.axes[0]
    series = [ln for ln in ax.get_lines() if "(n=" in ln.get_label()]
    assert [ln.get_label() for ln in series] == ["rs (n=2)", "td3-ls10 (n=2)", "rs-twin (n=2)"]
    styles = {(ln.get_linestyle(), ln.get_marker()) for ln in series}
    assert len(styles) == 3  # every series distinguishable even where curves coincide
    assert series[0].get_color() == AGENT_COLORS["rs"]
    legend = ax.get_legend()
    texts = [t.get_text() for t in legend.get_texts()]
    assert "identical curves: rs = rs-twin" in texts
    assert legend.get_window_extent().x0 >= ax.get_window_extent().x1  # outside the data
    assert ax.get_xlabel().startswith("queries") and "[%]" in ax.get_ylabel()
    # the same agent keeps its colour in every figure
    colours = {
        name: {ln.get_label(): ln.get_color() for ln in f.axes[0].get_lines()}
        for name, f in all_curve_figures(load_all_records(out), log_x=True).items()
    }
    assert {c["rs (n=2)"] for c in colours.values()} == {AGENT_COLORS["rs"]}
    assert all(
        f.axes[0].get_xscale() == "log" for f in all_curve_figures(records, log_x=True).values()
    )


def test_help_text_examples_name_real_keywords():
    """The --variant and --env-kwargs examples in the help pass the bench's own checks."""
    import re

    from nas_gym.agents.bench.spec import check_variant_kwargs, resolve_env_kwargs
    from nas_gym.agents.registry import agent_keywords
    from nas_gym.commands.bench import ENV_KWARGS_EXAMPLES, _variant_help, parse_variant

    example = re.search(r"'([^']+)'", _variant_help()).group(1)
    variant = parse_variant(example)
    assert variant.kwargs == {"actor_learning_rate": 1e-4}
    check_variant_kwargs(variant, agent_keywords(variant.base_agent))
    for env_id, kwargs in ENV_KWARGS_EXAMPLES.items():
        assert resolve_env_kwargs(env_id, {}, kwargs) == dict(sorted(kwargs.items()))


def test_canonical_command_round_trips_every_result_changing_option(tmp_path):
    """The report's "Command line" (also the resume command) re-parses to the same options."""
    import shlex

    from nas_gym.cli import build_parser
    from nas_gym.commands.bench import canonical_command, resolve_options

    argv = [
        "bench",
        "--agents",
        "rs,rea",
        "--seeds",
        "1-3",
        "--budgets",
        "50",
        "--report-at",
        "10,50",
        "--reference",
        "rea",
        "--log-x",
        "--budget-unit",
        "unique",
        "--out",
        str(tmp_path),
        "--jobs",
        "1",
        "--backend",
        "ray",
        "--ray-address",
        "127.0.0.1:6379",
        "--ray-timeout",
        "2.5",
        "--data-dir",
        str(tmp_path / "data dir"),
        "--no-progress",
        "--no-plots",
        "--no-batch",
    ]
    args = build_parser().parse_args(argv)
    command = canonical_command(resolve_options(args), args)
    again = build_parser().parse_args(shlex.split(command)[1:])
    # every option given comes back (the resume command of an interrupted bench is this one)
    for name, value in vars(args).items():
        if name not in ("datasets", "reward_metrics", "env", "func"):  # defaults made explicit
            assert getattr(again, name) == value, name
    assert again.datasets == "cifar10,cifar100,ImageNet16-120" and again.reward_metrics == "valid"
    assert again.jobs == 1 and again.out == str(tmp_path) and again.ray_timeout == 2.5


def test_a_record_keeps_the_settings_learn_resolved_from_the_budget(data_dir):
    """DDAS scales its phases to the budget inside ``learn``: the record's
    hyperparameters are the ones that ran, and the construction-time values that
    ``learn`` replaced are kept beside them."""
    from nas_gym.agents.bench.run import finish_run, learn_alone, start_run
    from nas_gym.agents.bench.spec import RunSpec
    from nas_gym.agents.ddas.ddas import THESIS_STEPS, phase_steps

    run = start_run(RunSpec("ddas-4s", "cifar10", "valid", 30, 1), str(data_dir))
    learn_alone(run)  # what the bench's worker does, without importing every agent first
    record = finish_run(run)
    explore, exploit = phase_steps(30)
    preset_explore, _ = phase_steps(THESIS_STEPS[2])
    assert record["hyperparameters"]["explore_steps"] == explore == 10
    assert record["hyperparameters"]["exploit_steps"] == exploit
    changed = record["hyperparameters_set_by_learn"]
    assert changed["explore_steps"] == [preset_explore, explore]
    assert "seed" not in changed and "learning_rate" not in changed
