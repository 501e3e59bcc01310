"""The NB201 protocol: noisy single-seed queries and a simulated training-time budget."""

from __future__ import annotations

import csv

import gymnasium as gym
import numpy as np
import pytest

import nas_gym  # noqa: F401  (registers the environments)
from nas_gym.benchmarks.nb201 import load_nb201
from nas_gym.spaces import nb201 as space


def _alpha(index: int) -> np.ndarray:
    """The one-hot alpha of the cell with this official index."""
    alpha = np.zeros((6, 5), dtype=np.float32)
    alpha[np.arange(6), space.all_ops()[index]] = 1.0
    return alpha


def _csv_row(index: int) -> dict[str, str]:
    with load_nb201().source.open(newline="") as f:
        for row in csv.DictReader(f):
            if int(row["index"]) == index:
                return row
    raise AssertionError(index)


def test_seed_noise_returns_one_training_seed_per_query():
    index = 1
    row = _csv_row(index)
    seeds = {float(v) for v in row["c10valid_valid_acc_seeds"].split(";")}
    env = gym.make("NASBench201-v1", noise="seed", max_queries=60)
    env.reset(seed=0)
    draws = []
    for _ in range(60):
        _, reward, _, _, info = env.step(_alpha(index))
        draws.append(info["valid_acc"])
        assert info["valid_acc_mean"] == pytest.approx(float(row["c10valid_valid_acc_mean"]))
        assert info["test_acc"] == pytest.approx(float(row["c10_test_acc_mean"]))  # the mean
        assert reward == pytest.approx(100 ** (info["valid_acc"] / 100))
    assert set(draws) == seeds  # only the stored seeds, and every one of them
    # the best-observed cell's regret is measured on its seed mean, not on the lucky draw
    assert info["best_valid_acc"] == max(seeds)
    optimum = env.unwrapped.optimum_acc
    assert info["regret"] == pytest.approx(optimum - float(row["c10valid_valid_acc_mean"]))


def test_seed_noise_is_reproducible_from_the_reset_seed():
    def draws(seed):
        env = gym.make("NASBench201-v1", noise="seed", max_queries=20)
        env.reset(seed=seed)
        return [env.step(_alpha(1))[4]["valid_acc"] for _ in range(20)]

    assert draws(3) == draws(3)
    assert draws(3) != draws(4)


def test_time_budget_truncates_at_the_query_that_reaches_it():
    table = load_nb201()
    seconds = table.column("c10valid_train_time_200ep_s") * (12 / 200)
    cells = [1, 2, 3, 4, 5, 6]
    budget = float(seconds[cells[:3]].sum()) - 1.0  # the third query crosses it
    env = gym.make("NASBench201-v1", time_budget_s=budget, time_epochs=12)
    env.reset(seed=0)
    spent = 0.0
    for n, index in enumerate(cells[:3], start=1):
        _, _, terminated, truncated, info = env.step(_alpha(index))
        spent += seconds[index]
        assert info["sim_time_s"] == pytest.approx(spent)
        assert not terminated and truncated == (n == 3)
    with pytest.raises(RuntimeError, match="time budget of .* s spent"):
        env.step(_alpha(cells[3]))
    env.reset()
    assert env.step(_alpha(cells[0]))[4]["sim_time_s"] == pytest.approx(seconds[cells[0]])


def test_time_epochs_defaults_to_the_fidelity():
    table = load_nb201()
    env = gym.make("NASBench201-v1", time_budget_s=1e9)
    env.reset(seed=0)
    info = env.step(_alpha(7))[4]
    assert info["sim_time_s"] == pytest.approx(table.column("c10valid_train_time_200ep_s")[7])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"noise": "gauss"}, "unknown noise 'gauss'; allowed: None, 'seed'"),
        ({"noise": "seed", "reward_metric": "test"}, "noise='seed' needs reward_metric='valid'"),
        ({"noise": "seed", "fidelity": 12}, "and fidelity=200"),
        ({"time_budget_s": -5}, "time_budget_s must be a positive number of seconds, got -5"),
        ({"time_budget_s": "12000"}, "time_budget_s must be a positive number"),
        ({"time_epochs": 0}, "time_epochs must be an integer in 1..200, got 0"),
        ({"time_epochs": 12}, "time_epochs=12 has no effect without time_budget_s"),
    ],
)
def test_bad_protocol_arguments_raise_clear_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        gym.make("NASBench201-v1", **kwargs)


@pytest.mark.parametrize("kwargs", [{"noise": "seed"}, {"time_budget_s": 12000}])
def test_vector_env_refuses_the_protocol_options_clearly(kwargs):
    with pytest.raises(ValueError, match="does not support .*vectorization_mode='sync'"):
        gym.make_vec(
            "NASBench201-v1", num_envs=2, vectorization_mode="vector_entry_point", **kwargs
        )


def test_bench_runs_the_protocol_until_the_time_budget(tmp_path):
    """``nas-gym bench`` stops at the env's time truncation and reports the seed mean."""
    import contextlib
    import io
    import json

    from nas_gym.cli import main

    kwargs = {"noise": "seed", "time_budget_s": 12000, "time_epochs": 12}
    args = [
        "bench", "--agents", "rs", "--datasets", "cifar10", "--seeds", "1", "--budgets", "2000",
        "--env-kwargs", json.dumps(kwargs), "--out", str(tmp_path), "--jobs", "1",
        "--no-progress", "--no-plots",
    ]  # fmt: skip
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(args) == 0
    with (tmp_path / "results.csv").open(newline="") as f:
        (row,) = list(csv.DictReader(f))
    table = load_nb201()
    seconds = table.column("c10valid_train_time_200ep_s") * (12 / 200)
    # the run ended at the time budget: about 12,000 s / ~110 s per query, far below 2000
    n = int(row["n_queries"])
    assert 50 < n < 2000
    assert n * seconds.min() < 12000 + seconds.max()
    best = int(row["best_arch"])
    valid_mean = table.accuracy("cifar10", "valid")[best]
    assert float(row["best_valid_acc"]) == pytest.approx(valid_mean)  # the mean, not a draw
