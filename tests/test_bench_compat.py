"""The bench refuses agent/environment pairs that cannot work before it builds anything,
and accepts every registered id at every version (``-v1``: flat spaces)."""

from __future__ import annotations

import contextlib
import io
import json
import math
from pathlib import Path

import gymnasium as gym
import pytest

import nas_gym
from nas_gym.agents.bench.spec import (
    agent_env_problem,
    base_env_id,
    build_specs,
    env_action_shape,
    search_id,
)
from nas_gym.cli import main
from nas_gym.envs.search import SearchEnv

TINY_DARTS = {"C": 4, "num_cells": 3, "warmup_steps": 1, "train_batches": 1}


class _Shape(Exception):
    """Raised by the patched ``_setup_search``: the env class's shape, before any heavy work."""


@pytest.fixture
def no_env_is_built(monkeypatch):
    """Fail the test if any nas_gym environment gets as far as setting up its search."""
    built: list[str] = []

    def record(self, *args, **kwargs):
        built.append(type(self).__name__)
        raise AssertionError(f"{type(self).__name__} was built")

    monkeypatch.setattr(SearchEnv, "_setup_search", record)
    return built


def bench(out: Path, env_id: str, agents: str, *extra: str) -> int:
    args = [
        "bench", "--env", env_id, "--agents", agents, "--datasets", "digits",
        "--env-kwargs", json.dumps(TINY_DARTS), "--seeds", "1", "--budgets", "2",
        "--jobs", "1", "--no-progress", "--no-plots", "--out", str(out), *extra,
    ]  # fmt: skip
    with contextlib.redirect_stdout(io.StringIO()):
        return main(args)


def test_incompatible_agents_are_refused_before_anything_is_built(
    tmp_path, capsys, no_env_is_built
):
    out = tmp_path / "out"
    variant = 'rea-p5=rea:{"population_size": 5}'
    rc = bench(out, "DARTSSupernet-v0", "rea-p5,ddas-4s,rs", "--variant", variant)
    err = capsys.readouterr().err.strip()
    assert rc == 2, err
    assert len(err.splitlines()) == 1, err
    assert err.startswith(
        "nas-gym bench: error: rea-p5, rs cannot run on DARTSSupernet-v0 (alpha shape (2, 14, 7)): "
    )
    assert "argmax-per-row discretization" in err and "(2, 14, 7)" in err
    agents_ok = err.split("Agents that can: ")[1].split(";")[0].split(", ")
    assert "ddas-4s" in agents_ok and "cadam" in agents_ok and "rs" not in agents_ok
    envs_ok = err.split("can run on: ")[1].split(", ")
    assert envs_ok == ["NASBench201-v0", "NASBench201-v1", "ProxylessNAS-v0", "ProxylessNAS-v1"]
    assert not no_env_is_built
    assert not out.exists()  # no run directory, no records


@pytest.mark.parametrize("env_id", ["DARTSSupernet-DDAS-v1", "nas_gym/DARTSSupernet-v1"])
def test_flat_darts_ids_are_refused_too(env_id, tmp_path, capsys, no_env_is_built):
    assert bench(tmp_path / "out", env_id, "reinforce") == 2
    err = capsys.readouterr().err
    assert f"reinforce cannot run on {env_id} (alpha shape (2, 14, 7)): " in err
    assert "got Box(0.0, 1.0, (196,), float32)" in err
    assert not (tmp_path / "out").exists()


def test_compatible_pairs_pass_validation_without_building(no_env_is_built):
    for env_id, agents in [
        ("DARTSSupernet-v0", ["ddas-4s", "td3", "cadam"]),
        ("DARTSSupernet-DDAS-v1", ["ddas-4s"]),
        ("ProxylessNAS-v0", ["rs", "rea", "ganas", "unas", "rnn-ppo", "reinforce"]),
        ("NASBench201-v1", ["rs", "rea", "reinforce", "ganas", "unas", "rnn-ppo", "cadam"]),
    ]:
        specs = build_specs(agents, ["cifar10"], ["valid"], [5], [1], env_id=env_id)
        assert [s.agent for s in specs] == agents
    assert not no_env_is_built


def test_agent_env_problem():
    assert agent_env_problem("rea", "NASBench201-v0", {}) is None
    assert agent_env_problem("rea", "nas_gym/NASBench201-v1", {}) is None
    assert agent_env_problem("rs", "ProxylessNAS-v1", {}) is None
    assert agent_env_problem("cadam-darts", "DARTSSupernet-v0", {}) is None
    assert agent_env_problem("ddas-4s", "DARTSSupernet-v1", {}) is None
    problem = agent_env_problem("rea", "DARTSSupernet-v0", {"with_none": True})
    assert problem is not None and problem.startswith("REA assumes an argmax-per-row")
    assert "(2, 14, 8)" in problem
    assert agent_env_problem("not-an-agent", "DARTSSupernet-v0", {}) is None


def _setup_shape(env_id: str, kwargs: dict, monkeypatch) -> tuple:
    def capture(self, shape, op_mask, **kw):
        raise _Shape(tuple(shape), bool(kw.get("flat", False)))

    monkeypatch.setattr(SearchEnv, "_setup_search", capture)
    with pytest.raises(_Shape) as got:
        gym.make(env_id, **kwargs)
    return got.value.args


@pytest.mark.parametrize(
    "env_id, kwargs",
    [
        ("NASBench201-v0", {}),
        ("NASBench201-v1", {}),
        ("ProxylessNAS-v0", {}),
        ("ProxylessNAS-v1", {}),
        ("DARTSSupernet-v0", {}),
        ("DARTSSupernet-v1", {"with_none": True}),
        ("DARTSSupernet-DDAS-v1", {}),
    ],
)
def test_action_shape_agrees_with_the_env_class(env_id, kwargs, monkeypatch):
    """The shape the bench reads from the search space is the one the env sets up."""
    shape, flat = _setup_shape(env_id, kwargs, monkeypatch)
    action, alpha = env_action_shape(env_id, kwargs)
    assert alpha == shape
    assert action == ((math.prod(shape),) if flat else shape)


def test_every_version_is_accepted_and_maps_to_its_search():
    assert search_id("nas_gym/DARTSSupernet-DDAS-v1") == "DARTSSupernet-DDAS-v0"
    assert base_env_id("DARTSSupernet-DDAS-v1") == "DARTSSupernet-v0"
    assert base_env_id("NASBench201-v1") == "NASBench201-v0"
    with pytest.raises(ValueError, match="allowed: NASBench201-v0, NASBench201-v1, "):
        base_env_id("NASBench201-v7")
    for name in (*nas_gym.ENVIRONMENTS, *nas_gym.VARIANTS):
        assert search_id(nas_gym.versioned(name, "v1")) == name
    for name in nas_gym.ENVIRONMENTS:  # a new env class needs its shape described
        assert env_action_shape(name, {}) is not None, name


def test_bench_on_nb201_v1_end_to_end(tmp_path):
    """-v1 runs the same search: NB201 ranks, optimum and published rows all apply."""
    out = tmp_path / "out"
    args = [
        "bench", "--env", "NASBench201-v1", "--agents", "rs,rea", "--datasets", "cifar10",
        "--seeds", "1", "--budgets", "5", "--jobs", "1", "--no-progress", "--no-plots",
        "--out", str(out),
    ]  # fmt: skip
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(args) == 0
    record = json.loads(next((out / "runs").glob("rea__*.json")).read_text())
    assert record["spec"]["env_id"] == "NASBench201-v1"
    assert record["result"]["best_rank"] is not None and "optimum_acc" in record["env"]
    md = (out / "results.md").read_text()
    assert "| REA 91.19 ± 0.31 [NB201 protocol" in md
    assert "## Test accuracy of the best-by-validation architecture (NB201 protocol)" in md
