"""The offline ``digits`` datasets: scikit-learn's real 8x8 digits through every consumer.

Real data (scikit-learn's bundled images), tiny networks: the dataset itself, the
environments, ``nas-gym supernet pretrain`` and ``nas-gym train-genotype``.
"""

from __future__ import annotations

import json
import sys

import gymnasium as gym
import numpy as np
import pytest
import torch

import nas_gym  # noqa: F401  (registers the environments)
from nas_gym.cli import main
from nas_gym.data import DataError
from nas_gym.supernets import datasets as ds

pytest.importorskip("sklearn")
torch.set_num_threads(1)


@pytest.fixture(scope="module")
def digits_train() -> ds.DigitsDataset:
    return ds.DigitsDataset(train=True, size=8)


def test_split_is_fixed_stratified_and_disjoint(digits_train):
    from sklearn.datasets import load_digits

    raw = load_digits()
    test = ds.DigitsDataset(train=False, size=8)
    assert (len(digits_train), len(test)) == (1433, 364)
    mask = ds.digits_split(raw.target)
    np.testing.assert_array_equal(np.asarray(test.targets), raw.target[mask])
    # the stored images are scikit-learn's, scaled from 0..16 to 0..255, grey in all 3 channels
    expected = np.round(raw.images[~mask] / 16.0 * 255.0).astype(np.uint8)
    np.testing.assert_array_equal(digits_train.data[..., 0], expected)
    assert (digits_train.data[..., 1] == digits_train.data[..., 0]).all()
    share = np.bincount(test.targets, minlength=10) / np.bincount(raw.target, minlength=10)
    assert np.all(np.abs(share - 0.2) < 0.01), share


@pytest.mark.parametrize("name", ["digits", "digits16"])
def test_normalization_matches_the_training_images(name):
    data = ds.DigitsDataset(train=True, size=ds.DIGITS_SIZES[name]).data / 255.0
    (mean, *_), (std, *_) = ds.normalization(name)
    assert abs(data.mean() - mean) < 1e-4 and abs(data.std() - std) < 1e-4
    x, y = ds.load_image_dataset(name, "unused", train=True, transform=None)[0]
    assert x.shape == (3, ds.DIGITS_SIZES[name], ds.DIGITS_SIZES[name]) and 0 <= y < 10
    assert ds.num_classes(name) == 10


def test_transforms_keep_the_side_and_never_mirror_a_digit(digits_train):
    assert not ds.hflip_keeps_class("digits") and ds.hflip_keeps_class("cifar10")
    train = ds.dataset_transforms("digits", train=True, cutout=0)
    names = [type(t).__name__ for t in train.transforms]
    assert "RandomHorizontalFlip" not in names and "RandomCrop" in names
    assert "RandomHorizontalFlip" in [
        type(t).__name__ for t in ds.dataset_transforms("cifar10", True).transforms
    ]
    digits_train.transform = train
    assert digits_train[0][0].shape == (3, 8, 8)


def test_bad_variant_and_missing_sklearn_are_clear(monkeypatch):
    with pytest.raises(ValueError, match="'digits16'"):
        ds.load_image_dataset("digits24", "unused", train=True)
    with pytest.raises(ValueError, match=r"\[8, 16, 32\]"):
        ds.DigitsDataset(size=12)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)  # as if not installed
    with pytest.raises(DataError, match=r"pip install nas-gym\[digits\]"):
        ds.DigitsDataset()


def test_darts_env_steps_on_digits_in_both_modes(tmp_path):
    common = {
        "dataset": "digits",
        "C": 4,
        "num_cells": 3,
        "batch_size": 64,
        "valid_batches": 2,
        "eval_channels": 4,
        "eval_cells": 3,
        "progress": False,
    }
    env = gym.make("DARTSSupernet-v1", mode="parallel", warmup_steps=2, train_batches=2, **common)
    _, info = env.reset(seed=0)
    assert env.unwrapped.task.image_size == 8 and env.unwrapped.task.num_classes == 10
    assert not env.unwrapped.task.hflip
    _, reward, _, _, info = env.step(env.action_space.sample())
    assert np.isfinite(reward) and 0.0 <= info["valid_acc"] <= 100.0
    assert len(env.unwrapped.task.d_train) + len(env.unwrapped.task.d_valid) == 1433
    env.close()

    # one tiny pre-training epoch through the CLI, then the frozen sequential env loads it
    out = tmp_path / "pretrain"
    args = ["supernet", "pretrain", "--dataset", "digits", "--out", str(out), "--channels", "4"]
    args += ["--cells", "3", "--epochs", "1", "--batch-size", "64", "--max-batches", "3"]
    assert main([*args, "--no-progress"]) == 0
    env = gym.make("DARTSSupernet-v1", mode="sequential", checkpoint=str(out / "last.pt"), **common)
    env.reset(seed=0)
    _, reward, _, _, info = env.step(env.action_space.sample())
    assert reward >= 1.0 and info["genotype"].startswith("Genotype(")
    env.close()


def test_proxyless_env_steps_on_digits():
    env = gym.make(
        "ProxylessNAS-v1",
        dataset="digits16",
        batch_size=64,
        valid_batches=1,
        width_mult=0.25,
        untrained_ok=True,
    )
    env.reset(seed=0)
    _, reward, _, _, info = env.step(env.action_space.sample())
    assert np.isfinite(reward) and info["latency_ms"] > 0
    env.close()


def test_train_genotype_on_digits(tmp_path):
    out = tmp_path / "tg"
    args = ["train-genotype", "DARTS_V2", "--dataset", "digits", "--layers", "3"]
    args += ["--channels", "4", "--epochs", "1", "--batch-size", "256", "--cutout", "2"]
    assert main([*args, "--out", str(out)]) == 0
    result = json.loads((out / "result.json").read_text())
    assert result["dataset"] == "digits" and result["n_test"] == 364
    assert 0.0 <= result["test_acc"] <= 100.0 and result["params_M"] > 0


@pytest.mark.parametrize(("dataset", "flip"), [("digits16", False), ("cifar10", True)])
def test_oneshot_search_never_mirrors_digits(tmp_path, dataset, flip):
    """`nas-gym search` augments D_T with flips only where a mirror keeps the label."""
    from nas_gym.cli import build_parser
    from nas_gym.commands.search import search_config

    args = build_parser().parse_args(
        ["search", "darts", "--dataset", dataset, "--out", str(tmp_path / "run")]
    )
    assert search_config(args).flip is flip
