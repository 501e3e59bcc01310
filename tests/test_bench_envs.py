"""``nas-gym bench`` on every environment, on tiny configurations, through the CLI.

Real supernets on tiny images, real worker processes, real records: each test
checks that the run used its agent's paper configuration (DDAS sees ``"last"``),
and that the latency/cost-aware columns agree with the per-query history.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
from pathlib import Path

import gymnasium as gym
import pytest

import nas_gym
from nas_gym.agents.bench.spec import resolve_env_kwargs
from nas_gym.cli import main
from nas_gym.commands.bench import ENV_KWARGS_EXAMPLES
from tests.test_darts_env import checkpoint, tiny_root  # noqa: F401  (fixtures)


def run_bench(
    out: Path, env_id: str, env_kwargs: dict, *extra: str, agents: str = "rs,ddas-4s"
) -> str:
    args = [
        "bench", "--env", env_id, "--env-kwargs", json.dumps(env_kwargs),
        "--agents", agents, "--seeds", "1", "--budgets", "4",
        "--out", str(out), "--jobs", "1", "--no-progress", *extra,
    ]  # fmt: skip
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        assert main(args) == 0
    return stdout.getvalue()


def records(out: Path) -> dict[str, dict]:
    return {p.stem.split("__")[0]: json.loads(p.read_text()) for p in (out / "runs").glob("*.json")}


def check_paper_configuration(runs: dict[str, dict], plain: str = "rs") -> None:
    assert runs["ddas-4s"]["env"]["kwargs"]["observation"] == "last"
    assert "observation" not in runs[plain]["env"]["kwargs"]  # no paper config: env defaults


def check_constrained(out: Path, runs: dict[str, dict], cost_key: str) -> None:
    rows = {r["agent"]: r for r in csv.DictReader(open(out / "results.csv"))}
    for agent, record in runs.items():
        hist, row = record["history"], rows[agent]
        flags = hist["feasible"]
        assert float(row["feasible_fraction"]) == pytest.approx(sum(flags) / len(flags))
        feasible = [i for i, f in enumerate(flags) if f]
        if feasible:
            best = max(hist["valid_acc"][i] for i in feasible)
            assert float(row["best_feasible_acc"]) == pytest.approx(best)
            costs = [hist[cost_key][i] for i in feasible if hist["valid_acc"][i] == best]
            assert float(row["best_feasible_cost"]) == pytest.approx(costs[0])
    assert "## Constrained search: feasibility and cost" in (out / "results.md").read_text()


def test_bench_on_constrained_nb201(tmp_path):
    kwargs = ENV_KWARGS_EXAMPLES["NASBench201-v0"]
    printed = run_bench(tmp_path, "NASBench201-v0", kwargs, "--datasets", "cifar10")
    runs = records(tmp_path)
    check_paper_configuration(runs)
    for record in runs.values():
        assert record["env"]["kwargs"]["cost"] == "edgegpu_latency"
    check_constrained(tmp_path, runs, "cost")
    assert "constrained search:" in printed


def test_bench_on_tiny_proxylessnas(tmp_path):
    from tests.test_proxyless_env import tiny_proxyless_kwargs

    kwargs = tiny_proxyless_kwargs(tmp_path / "cifar")
    kwargs.pop("max_queries")
    run_bench(tmp_path / "out", "ProxylessNAS-v0", kwargs)
    runs = records(tmp_path / "out")
    check_paper_configuration(runs)
    check_constrained(tmp_path / "out", runs, "latency_ms")
    for record in runs.values():
        assert record["result"]["best_test_acc"] is None and record["result"]["best_rank"] is None
        assert record["result"]["best_cost"] is not None  # latency of the best, in ms
    assert (tmp_path / "out" / "curves_ProxylessNAS-v0_cifar10_valid.png").stat().st_size > 5000


def test_bench_on_tiny_darts_supernet(tmp_path):
    from tests.test_darts_env import tiny_darts_kwargs

    kwargs = tiny_darts_kwargs(tmp_path / "cifar")
    kwargs.pop("max_queries")
    # the categorical baselines need an argmax-per-row space; DARTS cells are not one
    run_bench(tmp_path / "out", "DARTSSupernet-v0", kwargs, "--no-plots", agents="td3,ddas-4s")
    runs = records(tmp_path / "out")
    check_paper_configuration(runs, plain="td3")
    for record in runs.values():
        assert record["result"]["n_queries"] == 4
        assert len(record["history"]["genotype"]) == 4
    md = (tmp_path / "out" / "results.md").read_text()
    assert "| ddas-4s | 4 | cifar10 | valid | 1 |" in md
    assert "NB201 protocol" not in md  # no NB201 tables or published rows for DARTS


def test_every_env_id_builds_from_its_documented_example(tmp_path, checkpoint, tiny_root):  # noqa: F811
    """The --env-kwargs examples in the help text build every registered environment id."""
    from tests.test_proxyless_env import tiny_proxyless_kwargs

    assert set(ENV_KWARGS_EXAMPLES) == set(nas_gym.ENVIRONMENTS) | set(nas_gym.VARIANTS)
    # where the (tiny) data and the pre-trained supernet are, not the documented settings
    data = {"root": str(tiny_root), "verify_data": False}
    where = {
        "ProxylessNAS-v0": {
            **{k: tiny_proxyless_kwargs(tmp_path)[k] for k in ("root", "verify_data")},
            "untrained_ok": True,
        },
        "DARTSSupernet-v0": data,
        "DARTSSupernet-DDAS-v0": data,
        "DARTSSupernet-CADAM-v0": {**data, "checkpoint": str(checkpoint)},
    }
    for env_id, example in ENV_KWARGS_EXAMPLES.items():
        kwargs = {**example, **where.get(env_id, {})}
        for name in (env_id, f"nas_gym/{env_id}"):
            env = gym.make(name, **kwargs)
            for key, value in example.items():
                if key != "checkpoint":
                    assert getattr(env.unwrapped, key, value) == value, (name, key)
            env.close()
        # the bench accepts every id (plain and namespaced) and checks keywords against it
        assert resolve_env_kwargs(f"nas_gym/{env_id}", {}, example) == dict(sorted(example.items()))


def test_budget_unit_reaches_the_environment():
    from nas_gym.agents.bench.spec import build_specs

    specs = build_specs(["rs"], ["cifar10"], ["valid"], [50], [1], budget_unit="unique")
    assert specs[0].make_kwargs()["budget_unit"] == "unique"
    assert specs[0].key.endswith("__50u__1")
    (query,) = build_specs(["rs"], ["cifar10"], ["valid"], [50], [1])
    assert "budget_unit" not in query.make_kwargs() and query.key != specs[0].key


def test_unique_budget_end_to_end(tmp_path):
    """Re-queries are free: each run ends at 10 distinct cells, whatever it re-queried."""
    variant = 'td3-ls5=td3:{"learning_starts": 5}'
    args = ["--datasets", "cifar10", "--budget-unit", "unique", "--budgets", "10"]
    args += ["--variant", variant, "--no-plots"]  # the last --budgets given wins
    run_bench(tmp_path, "NASBench201-v0", {}, *args, agents="rs,td3-ls5")
    runs = records(tmp_path)
    for record in runs.values():
        result = record["result"]
        assert result["budget_unit"] == "unique" and result["n_unique_queries"] == 10
        assert len(set(record["history"]["arch_index"])) == 10
        assert result["n_queries"] == len(record["history"]["arch_index"])
        assert record["env"]["kwargs"]["budget_unit"] == "unique"
        assert record["budget"]["step_cap_reached"] is False
    # a deterministic TD3 policy re-queries known cells, which cost nothing here
    assert runs["td3-ls5"]["result"]["n_queries"] > 10
    assert "| rs | 10 unique | cifar10 | valid | 1 |" in (tmp_path / "results.md").read_text()
