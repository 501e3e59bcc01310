"""ProxylessNAS-v0 on a tiny configuration: real torchvision CIFAR-10 reader on files written here."""

from __future__ import annotations

import pickle
import warnings
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env as gym_check_env

import nas_gym  # noqa: F401
from nas_gym.benchmarks.latency import load_lut
from nas_gym.data import DataError
from nas_gym.spaces import proxyless as space
from nas_gym.supernets import datasets as ds
from nas_gym.supernets.mobilenet import ProxylessSupernet
from nas_gym.supernets.pretrain import (
    CheckpointMismatchError,
    PretrainConfig,
    init_parameters,
    pretrain_supernet,
)


def write_tiny_cifar10(root: Path, per_class: int = 4, seed: int = 0) -> Path:
    """A CIFAR-10 subset in the official pickle format: each class a distinct colour + noise,
    so a few steps of training can separate them."""
    rng = np.random.default_rng(seed)
    colours = rng.integers(0, 256, (10, 3))

    def images(n: int) -> tuple[np.ndarray, list[int]]:
        labels = [i % 10 for i in range(n)]
        base = colours[labels][:, None, None, :].astype(np.int64)
        noise = rng.integers(-40, 41, (n, 32, 32, 3))
        return np.clip(base + noise, 0, 255).astype(np.uint8), labels

    ds.write_cifar_batches(root, "cifar10", images(10 * per_class), images(10))
    return root


def tiny_proxyless_kwargs(root: Path) -> dict[str, Any]:
    """Tiny configuration: 40 images at 16 px, width 0.25, one validation batch."""
    write_tiny_cifar10(root)
    return {
        "root": str(root),
        "verify_data": False,
        "resolution": 16,
        "width_mult": 0.25,
        "batch_size": 20,
        "valid_batches": 1,
        "max_queries": 20,
        "top_k": 4,
        "latency_target": 80.0,
        "untrained_ok": True,
    }


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> dict[str, Any]:
    torch.set_num_threads(1)
    return tiny_proxyless_kwargs(tmp_path_factory.mktemp("cifar"))


def _alpha(arch: str) -> np.ndarray:
    return space.ops_to_discrete(space.str_to_ops(arch))


SMALL = "e3k3-zero-zero-zero|e3k3-zero-zero-zero|e3k3-zero-zero-zero|e3k3-zero-zero-zero|e3k3-zero-zero-zero|e3k3"
BIG = "|".join(["-".join(["e6k7"] * 4)] * 5) + "|e6k7"


def test_both_checkers_pass(tiny):
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    for constraint in ("hard", "unas", "mnas"):
        env = gym.make("ProxylessNAS-v0", constraint=constraint, **tiny).unwrapped
        gym_check_env(env, skip_render_check=True)
        sb3_check_env(env, warn=False)


def test_info_latency_flops_feasibility(tiny, data_dir):
    env = gym.make("ProxylessNAS-v0", **tiny).unwrapped
    env.reset(seed=0)
    pixel1 = load_lut("pixel1", data_dir)
    for arch in (SMALL, BIG):
        _, reward, terminated, truncated, info = env.step(_alpha(arch))
        ops = space.str_to_ops(arch)
        assert info["arch"] == arch
        assert info["latency_ms"] == pytest.approx(pixel1.latency(ops), rel=1e-12)
        assert info["flops_M"] == space.flops_M(ops) and info["params_M"] == space.params_M(ops)
        assert info["feasible"] is (info["latency_ms"] <= 80.0)
        assert 0.0 <= info["valid_acc"] <= 100.0 and info["valid_loss"] > 0
        assert isinstance(reward, float) and terminated is False and truncated is False
    assert info["latency_ms"] > 80.0 > env.latency_ms(space.str_to_ops(SMALL))
    assert info["best_feasible_arch"] == SMALL  # the big one is infeasible
    assert info["best_arch"] == SMALL  # hard constraint: infeasible never becomes best
    assert reward == 0.0  # hard: fixed low reward


@pytest.mark.parametrize("constraint", ["hard", "unas", "mnas"])
def test_rewards_follow_the_constraint_formulas(tiny, constraint):
    target = 80.0
    env = gym.make(
        "ProxylessNAS-v0",
        **{**tiny, "latency_target": target},
        constraint=constraint,
        reward="accuracy",
        penalty_lambda=0.3,
        infeasible_reward=-5.0,
    ).unwrapped
    env.reset(seed=0)
    for arch in (SMALL, BIG):
        _, reward, _, _, info = env.step(_alpha(arch))
        acc, ratio = info["valid_acc"] / 100, info["latency_ms"] / target
        if constraint == "hard":
            expected = acc if ratio <= 1 else -5.0
        elif constraint == "unas":
            expected = acc - 0.3 * max(0.0, ratio - 1)
        else:
            expected = acc * (ratio**-0.07 if ratio > 1 else 1.0)
        assert reward == pytest.approx(expected, rel=1e-12)


def test_pareto_front_of_accuracy_vs_latency(tiny):
    env = gym.make("ProxylessNAS-v0", **{**tiny, "latency_target": None}).unwrapped
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    records = []
    for _ in range(8):
        info = env.step(rng.random(space.SHAPE).astype(np.float32))[4]
        records.append((info["latency_ms"], info["valid_acc"], info["arch"]))
        assert info["feasible"] is True  # no target
    front = env.pareto_front()
    assert info["pareto_latency"] == tuple((p["latency_ms"], p["valid_acc"]) for p in front)
    for p in front:  # nothing sampled dominates a front member
        assert not any(
            (a >= p["valid_acc"] and lat <= p["latency_ms"])
            and (a > p["valid_acc"] or lat < p["latency_ms"])
            for lat, a, _ in records
        )
    for lat, a, _ in records:  # every sampled point is on or behind the front
        assert any(p["valid_acc"] >= a and p["latency_ms"] <= lat for p in front)


def test_deterministic_cached_and_pickles(tiny):
    env = gym.make("ProxylessNAS-v0", **tiny).unwrapped
    env.reset(seed=0)
    a = np.random.default_rng(1).random(space.SHAPE).astype(np.float32)
    first = env.step(a)
    again = env.step(a)  # cached score: same numbers
    assert first[4]["valid_acc"] == again[4]["valid_acc"] and again[4]["n_unique_queries"] == 1
    copy = pickle.loads(pickle.dumps(env))
    b = np.random.default_rng(2).random(space.SHAPE).astype(np.float32)
    r1, r2 = env.step(b), copy.step(b)
    assert r1[1] == r2[1] and r1[4] == r2[4]
    np.testing.assert_array_equal(r1[0], r2[0])


def test_measured_cpu_table_and_missing_entries(tiny, tmp_path):
    from nas_gym.benchmarks.latency import measure

    path = measure(
        "cpu", resolution=16, repeats=1, warmup=0, progress=False, out=tmp_path / "cpu16.yaml"
    )
    env = gym.make(
        "ProxylessNAS-v0", **{**tiny, "lut": str(path), "latency_target": 1000.0}
    ).unwrapped
    env.reset(seed=0)
    info = env.step(_alpha(SMALL))[4]
    assert info["latency_ms"] == pytest.approx(load_lut(path).latency(space.str_to_ops(SMALL)))
    lines = path.read_text().splitlines()
    key = space.layer_key(space.layers(16)[5], 3)  # stage 2, second layer, e6k3
    cut = lines.index(f"{key}:")
    (tmp_path / "partial.yaml").write_text("\n".join(lines[:cut] + lines[cut + 4 :]) + "\n")
    with pytest.raises(DataError, match="no entry for 1 block"):
        gym.make("ProxylessNAS-v0", **{**tiny, "lut": str(tmp_path / "partial.yaml")})


def test_bad_arguments(tiny):
    with pytest.raises(ValueError, match="unknown constraint"):
        gym.make("ProxylessNAS-v0", **tiny, constraint="soft")
    with pytest.raises(ValueError, match="latency_target must be > 0, got -3.0"):
        gym.make("ProxylessNAS-v0", **{**tiny, "latency_target": -3.0})
    with pytest.raises(ValueError, match="not found"):
        gym.make("ProxylessNAS-v0", **tiny, lut="no_such_table.yaml")
    env = gym.make("ProxylessNAS-v0", **tiny).unwrapped
    env.reset(seed=0)
    with pytest.raises(ValueError, match="NaN or inf"):
        env.step(np.full(space.SHAPE, np.nan, dtype=np.float32))
    with pytest.raises(ValueError, match="shape"):
        env.step(np.zeros((21, 6), dtype=np.float32))


def test_supernet_single_path_and_pretrain_checkpoint(tiny, tmp_path):
    """Uniform single-path pre-training through the shared loop; the env loads and checks it."""
    from nas_gym.spaces.proxyless import UniformPath
    from nas_gym.supernets.pretrain import proxyless_fingerprint

    net = ProxylessSupernet(num_classes=10, width_mult=0.25)
    x = torch.randn(2, 3, 16, 16)
    ops = space.str_to_ops(SMALL)
    net(x, ops).sum().backward()
    used = {id(p) for p in net.subnet(ops).parameters()}
    for p in net.parameters():  # only the sampled path gets gradients
        assert (p.grad is not None) == (id(p) in used)

    mean, std = ds.normalization("cifar10")
    train = ds.load_image_dataset(
        "cifar10",
        tiny["root"],
        train=True,
        transform=ds.cifar_transforms(False, mean=mean, std=std, resolution=16),
        verify=False,
    )
    d_train, _ = ds.split_train(train, 0.5, 0)
    fingerprint = proxyless_fingerprint(0.25, 10, "cifar10", 16, 0.5, 0)
    net = init_parameters(ProxylessSupernet(num_classes=10, width_mult=0.25), 0)
    config = PretrainConfig(epochs=2, batch_size=10, lr=0.05, seed=0)
    loader = ds.make_loader(d_train, 10, shuffle=True, seed=0, drop_last=True)
    ckpt = pretrain_supernet(
        net, UniformPath(), loader, config, tmp_path / "ck", fingerprint, progress=False
    )
    env = gym.make("ProxylessNAS-v0", **tiny, checkpoint=str(ckpt)).unwrapped
    loaded = dict(env._net.named_parameters())
    for name, p in net.named_parameters():
        assert torch.equal(loaded[name].cpu(), p.detach().cpu())
    with pytest.raises(CheckpointMismatchError, match="width_mult"):
        gym.make("ProxylessNAS-v0", **{**tiny, "width_mult": 0.5}, checkpoint=str(ckpt))


def test_supernet_pretrain_cli_checkpoint_loads_in_env(tiny, tmp_path, capsys):
    from nas_gym.cli import main as cli_main

    out = tmp_path / "ck"
    argv = [
        "supernet",
        "pretrain",
        "--space",
        "proxyless",
        "--out",
        str(out),
        "--root",
        tiny["root"],
    ]
    argv += ["--no-verify", "--resolution", "16", "--width-mult", "0.25", "--epochs", "1"]
    argv += ["--batch-size", "10", "--no-progress"]
    assert cli_main(argv) == 0
    assert (out / "last.pt").is_file()
    env = gym.make("ProxylessNAS-v0", **tiny, checkpoint=str(out)).unwrapped
    env.reset(seed=0)
    assert 0.0 <= env.step(_alpha(SMALL))[4]["valid_acc"] <= 100.0
    with pytest.raises(CheckpointMismatchError, match="resolution"):
        gym.make("ProxylessNAS-v0", **{**tiny, "resolution": 8}, checkpoint=str(out))


def test_no_checkpoint_warns_of_chance_accuracy_unless_opted_in(tiny):
    from nas_gym.envs.proxyless import UntrainedSupernetWarning

    with pytest.warns(UntrainedSupernetWarning, match="untrained_ok=True"):
        gym.make("ProxylessNAS-v0", **{**tiny, "untrained_ok": False})
    with warnings.catch_warnings():
        warnings.simplefilter("error", UntrainedSupernetWarning)
        gym.make("ProxylessNAS-v0", **tiny)
