"""HW-NAS-Bench / HELP cost tables, NB201 FLOPs, and the cost options of NASBench201-v0."""

from __future__ import annotations

import csv
import math
import pickle

import gymnasium as gym
import numpy as np
import pytest

import nas_gym  # noqa: F401  (registers the environments)
from nas_gym.benchmarks import hw_cost
from nas_gym.benchmarks.nb201 import DATASETS
from nas_gym.envs.constraints import Constraint
from nas_gym.spaces import nb201 as space

ARCHS = (0, 1, 857, 6111, 9930, 10676, 15624)


def _csv_rows(path, indices):
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        wanted = set(indices)
        return {int(r["index"]): r for r in reader if int(r["index"]) in wanted}


@pytest.fixture(scope="module")
def hw(data_dir):
    return hw_cost.load_hw_costs(data_dir)


def test_hwnasbench_values_equal_csv(hw, data_dir):
    rows = _csv_rows(data_dir / hw_cost.HWNAS_RELPATH, ARCHS)
    n_checked = 0
    for dataset in DATASETS:
        for name in hw.cost_names(dataset):
            if name.startswith("help_"):
                continue
            col = hw.cost(name, dataset)
            for i in ARCHS:
                raw = float(rows[i][f"{dataset}__{name}"])
                if raw == -1.0:
                    assert math.isnan(col[i]), (dataset, name, i)
                else:
                    assert col[i] == raw, (dataset, name, i)
                n_checked += 1
    assert n_checked == 3 * 9 * len(ARCHS)


def test_help_values_equal_csv_and_cifar10_only(hw, data_dir):
    rows = _csv_rows(data_dir / hw_cost.HELP_RELPATH, ARCHS)
    names = [n for n in hw.cost_names("cifar10") if n.startswith("help_")]
    assert len(names) == 27
    for name in names:
        for i in ARCHS:
            assert hw.cost(name, "cifar10")[i] == float(rows[i][name[len("help_") :]])
    with pytest.raises(ValueError, match="cifar10 network only"):
        hw.cost("help_pixel2", "cifar100")


def test_edgetpu_missing_is_nan_not_minus_one(hw):
    for dataset in DATASETS:
        col = hw.cost("edgetpu_latency", dataset)
        assert hw.n_missing("edgetpu_latency", dataset) == 4699
        assert (col[~np.isnan(col)] > 0).all()
        assert hw.n_missing("edgegpu_latency", dataset) == 0


def test_unknown_cost_lists_allowed(hw):
    with pytest.raises(ValueError, match="allowed: edgegpu_latency"):
        hw.cost("tpu_latency", "cifar10")
    with pytest.raises(ValueError, match="unknown cost 'eyeriss_arithmetic_intensity'"):
        hw.cost("eyeriss_arithmetic_intensity", "cifar10")
    with pytest.raises(ValueError, match="unknown dataset"):
        hw.cost("edgegpu_latency", "imagenet")


def test_binary_cache_written_and_reused(data_dir, _isolated_cache):
    hw_cost.clear_cache()
    first = hw_cost.load_hw_costs(data_dir)
    files = list(_isolated_cache.glob("nb201_hw_cost_v*_*.npy"))
    assert len(files) == 1 and first.sha256[:16] in files[0].name
    hw_cost.clear_cache()
    again = hw_cost.load_hw_costs(data_dir)
    assert isinstance(again.columns, np.memmap)  # read back from the cache, not re-parsed
    np.testing.assert_array_equal(
        again.cost("raspi4_latency", "cifar100"), first.cost("raspi4_latency", "cifar100")
    )
    files[0].unlink()  # a new inode: tables loaded earlier still memory-map the old one
    files[0].write_bytes(b"garbage")  # a broken cache is rebuilt, never trusted
    hw_cost.clear_cache()
    rebuilt = hw_cost.load_hw_costs(data_dir)
    np.testing.assert_array_equal(
        rebuilt.cost("fpga_energy", "cifar10"), first.cost("fpga_energy", "cifar10")
    )


def test_truncated_csv_is_a_clear_error(tmp_path, data_dir):
    (tmp_path / "nb201").mkdir()
    src = (data_dir / hw_cost.HWNAS_RELPATH).read_text().splitlines()
    (tmp_path / hw_cost.HWNAS_RELPATH).write_text("\n".join(src[:100]) + "\n")
    (tmp_path / hw_cost.HELP_RELPATH).write_text((data_dir / hw_cost.HELP_RELPATH).read_text())
    with pytest.raises(nas_gym.data.DataError, match="expected 15625 data rows, found 99"):
        hw_cost.load_hw_costs(tmp_path, use_cache=False)


# -- FLOPs and params of the real NB201 network ------------------------------------------


def test_shipped_increments_equal_a_fresh_torch_count():
    import json

    from nas_gym.supernets.nb201_cell import compute_increments

    shipped = json.loads(hw_cost.INCREMENTS_FILE.read_text())
    assert shipped == compute_increments()


def test_nb201_env_does_not_need_torch(data_dir):
    import subprocess
    import sys

    code = (
        "import sys, gymnasium as gym, nas_gym;"
        "env = gym.make('NASBench201-v0', cost='edgegpu_latency'); env.reset(seed=0);"
        "info = env.step(env.action_space.sample())[4];"
        "print(info['flops_M'] > 0, 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "False"]


def test_flops_table_equals_direct_torch_counts():
    from nas_gym.supernets.nb201_cell import network_costs

    table = hw_cost.load_network_costs()
    rng = np.random.default_rng(0)
    for d, dataset in enumerate(DATASETS):
        for index in (int(rng.integers(space.N_ARCHS)), 6111):
            flops, params = network_costs(space.index_to_ops(index), dataset)
            assert table[d, 0, index] == pytest.approx(flops, abs=1e-9)
            assert table[d, 1, index] == pytest.approx(params, abs=1e-9)
    # only convolutions cost: conv-free cells are the cheapest, the all-3x3 cell the dearest
    flops = table[0, 0]
    assert flops[space.ops_to_index([0] * 6)] == flops[space.ops_to_index([4] * 6)] == flops.min()
    assert flops.argmax() == space.ops_to_index([3] * 6)
    assert (hw_cost.load_flops("cifar10") == flops).all()


def test_params_agree_with_benchmark_params_column(nb201_table):
    table = hw_cost.load_network_costs()
    for d, dataset in enumerate(DATASETS):
        ours, theirs = table[d, 1], nb201_table.params(dataset)
        exact = np.abs(ours - theirs) < 1e-6
        assert exact.mean() > 0.99, (dataset, exact.mean())
        for index in (0, 857, 6111, 9930, 10676):  # the published optima, and the ResNet-like cell
            assert ours[index] == pytest.approx(theirs[index], abs=1e-6)


# -- NASBench201-v0 with a cost ------------------------------------------------------------


def _alpha(index: int) -> np.ndarray:
    return space.ops_to_discrete(space.index_to_ops(index)).astype(np.float32)


def test_env_reports_cost_flops_and_csv_values(hw, data_dir):
    env = gym.make("NASBench201-v0", dataset="cifar100", cost="pixel3_latency").unwrapped
    env.reset(seed=0)
    rows = _csv_rows(data_dir / hw_cost.HWNAS_RELPATH, ARCHS)
    flops = hw_cost.load_flops("cifar100")
    for i in ARCHS:
        _, _, _, _, info = env.step(_alpha(i))
        assert info["arch_index"] == i
        assert info["cost"] == float(rows[i]["cifar100__pixel3_latency"])
        assert info["cost_unit"] == "ms"
        assert info["flops_M"] == flops[i]
        assert "feasible" not in info  # no target, no constraint


def test_reported_edgetpu_cost_is_none_where_unmeasured(hw):
    col = hw.cost("edgetpu_latency", "cifar10")
    missing = int(np.flatnonzero(np.isnan(col))[0])
    env = gym.make("NASBench201-v0", cost="edgetpu_latency").unwrapped
    env.reset(seed=0)
    assert env.step(_alpha(missing))[4]["cost"] is None


def test_constraining_on_missing_column_raises():
    with pytest.raises(ValueError, match="edgetpu_latency.*did not measure it for 4699"):
        gym.make("NASBench201-v0", cost="edgetpu_latency", cost_target=1.0)
    with pytest.raises(ValueError, match="cost_target needs a cost"):
        gym.make("NASBench201-v0", cost_target=5.0)
    with pytest.raises(ValueError, match="unknown constraint"):
        gym.make("NASBench201-v0", cost="edgegpu_latency", cost_target=5.0, constraint="soft")
    with pytest.raises(ValueError, match="no architecture is feasible"):
        gym.make("NASBench201-v0", cost="edgegpu_latency", cost_target=0.001)


@pytest.mark.parametrize("constraint", ["hard", "unas", "mnas"])
def test_constrained_rewards_follow_the_formulas(hw, nb201_table, constraint):
    target = 6.0
    env = gym.make(
        "NASBench201-v0",
        cost="edgegpu_latency",
        cost_target=target,
        constraint=constraint,
        reward="accuracy",
        penalty_lambda=0.5,
        infeasible_reward=-1.0,
    ).unwrapped
    env.reset(seed=0)
    cost = hw.cost("edgegpu_latency", "cifar10")
    acc = nb201_table.accuracy("cifar10", "valid") / 100
    feasible_i = int(np.flatnonzero(cost <= target)[5])
    infeasible_i = int(np.flatnonzero(cost > 1.5 * target)[5])
    for i in (feasible_i, infeasible_i):
        _, reward, _, _, info = env.step(_alpha(i))
        ratio = cost[i] / target
        assert info["feasible"] is bool(ratio <= 1)
        if constraint == "hard":
            expected = acc[i] if ratio <= 1 else -1.0
        elif constraint == "unas":
            expected = acc[i] - 0.5 * max(0.0, ratio - 1)
        else:
            expected = acc[i] * (ratio**-0.07 if ratio > 1 else 1.0)
        assert isinstance(reward, float)
        assert reward == pytest.approx(expected, rel=1e-12)
    assert info["best_feasible_arch_index"] == feasible_i
    assert info["best_feasible_cost"] == cost[feasible_i]


def test_best_feasible_and_regret_against_brute_force(hw, nb201_table):
    target = 5.5
    env = gym.make(
        "NASBench201-v0", cost="edgegpu_latency", cost_target=target, max_queries=300
    ).unwrapped
    env.reset(seed=3)
    cost = hw.cost("edgegpu_latency", "cifar10")
    acc = nb201_table.accuracy("cifar10", "valid")
    feasible = cost <= target
    best_possible = acc[feasible].max()
    assert env.optimum_acc == best_possible
    rng = np.random.default_rng(1)
    seen = []
    for _ in range(300):
        _, _, _, truncated, info = env.step(rng.random((6, 5)).astype(np.float32))
        seen.append(info["arch_index"])
    seen = np.array(seen)
    ok = seen[feasible[seen]]
    assert info["best_feasible_acc"] == acc[ok].max()
    assert info["best_arch_index"] in set(ok.tolist())  # hard: only feasible cells can be best
    assert info["regret"] == pytest.approx(best_possible - acc[ok].max())
    assert truncated
    # top-K state holds feasible cells only
    assert all(feasible[i] for i in env.topk_indices())


def test_constrained_env_pickles_and_passes_checkers():
    from gymnasium.utils.env_checker import check_env as gym_check
    from stable_baselines3.common.env_checker import check_env as sb3_check

    env = gym.make(
        "NASBench201-v0", cost="raspi4_latency", cost_target=20.0, constraint="unas"
    ).unwrapped
    gym_check(env, skip_render_check=True)
    sb3_check(env)
    env.reset(seed=0)
    a = np.random.default_rng(0).random((6, 5)).astype(np.float32)
    copy = pickle.loads(pickle.dumps(env))
    r1, r2 = env.step(a), copy.step(a)
    assert r1[1] == r2[1] and r1[4] == r2[4]


def test_constraint_validation():
    # the errors name the environments' keywords, which the user wrote
    cost = {"cost": "edgegpu_latency", "cost_target": 5.0}
    for kwargs, message in [
        ({**cost, "cost_target": 0.0}, "cost_target must be > 0, got 0.0"),
        (
            {**cost, "constraint": "unas", "penalty_lambda": -1},
            "penalty_lambda must be >= 0, got -1",
        ),
        (
            {**cost, "constraint": "mnas", "mnas_w": 0.5},
            r"mnas_w \(MnasNet's exponent\) must be <= 0, got 0.5",
        ),
        ({**cost, "penalty_lambda": float("nan")}, "penalty_lambda"),
    ]:
        with pytest.raises(ValueError, match=message):
            gym.make("NASBench201-v0", **kwargs)
    with pytest.raises(ValueError, match="w_within .* must be <= 0, got 0.1"):
        Constraint(1.0, "mnas", w_within=0.1)
    c = Constraint(10.0, "mnas")
    assert c.score(0.8, 5.0) == 0.8  # no bonus within the target (w_within = 0)
    assert c.score(0.8, 20.0) == pytest.approx(0.8 * 2**-0.07)
    assert Constraint(10.0, "hard").score(0.8, 10.0) == 0.8  # the target itself is feasible
