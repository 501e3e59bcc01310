"""Datasets: CIFAR through torchvision from files written in the official pickle format."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from nas_gym.data import DataError
from nas_gym.supernets import datasets as ds


def make_tiny_cifar(
    root: Path, name: str = "cifar10", per_class: int = 6, n_test: int = 20, seed: int = 0
) -> Path:
    """Write a tiny learnable CIFAR (each class its own mean colour plus noise) in the real format."""
    rng = np.random.default_rng(seed)
    n_classes = 10 if name == "cifar10" else 100
    colours = rng.integers(30, 225, (n_classes, 3))

    def images(n: int) -> tuple[np.ndarray, list[int]]:
        labels = np.arange(n) % n_classes
        noise = rng.integers(-30, 31, (n, 32, 32, 3))
        return np.clip(colours[labels][:, None, None, :] + noise, 0, 255).astype(
            np.uint8
        ), labels.tolist()

    ds.write_cifar_batches(root, name, images(per_class * n_classes), images(n_test))
    return root


def test_written_files_are_the_official_layout(tmp_path):
    make_tiny_cifar(tmp_path, per_class=3)
    folder = tmp_path / "cifar-10-batches-py"
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [
            "batches.meta",
            "data_batch_1",
            "data_batch_2",
            "data_batch_3",
            "data_batch_4",
            "data_batch_5",
            "test_batch",
        ]
    )
    with open(folder / "data_batch_1", "rb") as fh:
        entry = pickle.load(fh, encoding="latin1")
    assert entry["data"].dtype == np.uint8 and entry["data"].shape[1] == 3072 and "labels" in entry


def test_rewriting_a_cifar_folder_replaces_each_file(tmp_path):
    """Each batch file is replaced whole (a new file renamed over the old), never rewritten
    in place: a hard link to the old file keeps the old bytes, and no temporary is left."""
    folder = make_tiny_cifar(tmp_path, per_class=3, seed=0) / "cifar-10-batches-py"
    old = (folder / "data_batch_1").read_bytes()
    (tmp_path / "old_link").hardlink_to(folder / "data_batch_1")
    make_tiny_cifar(tmp_path, per_class=3, seed=1)
    assert (tmp_path / "old_link").read_bytes() == old != (folder / "data_batch_1").read_bytes()
    assert len(list(folder.iterdir())) == 7


@pytest.mark.parametrize("name", ["cifar10", "cifar100"])
def test_torchvision_reads_tiny_cifar(tmp_path, name):
    make_tiny_cifar(tmp_path, name, per_class=1 if name == "cifar100" else 4, n_test=7)
    train = ds.load_image_dataset(name, tmp_path, train=True, verify=False)
    test = ds.load_image_dataset(name, tmp_path, train=False, verify=False)
    from torchvision.datasets import CIFAR10

    assert isinstance(train, CIFAR10)
    assert len(train) == (40 if name == "cifar10" else 100) and len(test) == 7
    x, y = train[3]
    assert x.shape == (3, 32, 32) and y == 3
    # pixels round-trip: torchvision's HWC array equals what was written
    with open(tmp_path / train.base_folder / train.train_list[0][0], "rb") as fh:
        entry = pickle.load(fh, encoding="latin1")
    np.testing.assert_array_equal(
        train.data[0], entry["data"][0].reshape(3, 32, 32).transpose(1, 2, 0)
    )


def test_missing_dataset_says_where_and_how(tmp_path):
    with pytest.raises(DataError) as err:
        ds.load_image_dataset("cifar10", tmp_path, train=True)
    msg = str(err.value)
    assert "cifar-10-batches-py/data_batch_1" in msg and str(tmp_path) in msg
    # library keyword, CLI flag, the root argument and the environment variable
    for hint in ("download=True", "--download", "root=DIR", "--root DIR", "$NAS_GYM_DATASETS_DIR"):
        assert hint in msg, hint
    with pytest.raises(DataError, match=r"train.*val.*root=DIR.*NAS_GYM_DATASETS_DIR"):
        ds.load_image_dataset("imagefolder", tmp_path, train=True)


def test_checksums_verified_by_default(tmp_path):
    make_tiny_cifar(tmp_path, per_class=2)
    with pytest.raises(DataError) as err:
        ds.load_image_dataset("cifar10", tmp_path, train=True)
    msg = str(err.value)
    assert "MD5 mismatch" in msg and "cifar-10-batches-py/data_batch_1" in msg
    # each audience gets its own real keyword or flag
    for hint in ("verify_data=False", "verify=False for load_image_dataset", "--no-verify"):
        assert hint in msg, hint


def test_the_keywords_named_in_the_hints_exist(tmp_path):
    """The hints are only useful if following them works: the environment keyword and the
    CLI flags they name are real (an unknown one would raise TypeError / exit 2)."""
    import inspect

    from nas_gym.cli import build_parser
    from nas_gym.envs.darts import DARTSSupernetEnv
    from nas_gym.envs.proxyless import ProxylessNASEnv

    for env_cls in (DARTSSupernetEnv, ProxylessNASEnv):
        params = inspect.signature(env_cls).parameters
        assert {"verify_data", "download", "root"} <= set(params), env_cls
    assert {"verify", "download", "root"} <= set(
        inspect.signature(ds.load_image_dataset).parameters
    )
    parser = build_parser()
    for argv in (
        ["supernet", "pretrain", "--out", "x", "--root", "r", "--download", "--no-verify"],
        ["train-genotype", "DARTS_V2", "--root", "r", "--download", "--no-verify"],
    ):
        args = parser.parse_args(argv)
        assert args.download and args.no_verify and args.root == "r"


def test_unknown_dataset_name():
    with pytest.raises(ValueError, match="unknown dataset 'mnist'.*cifar10"):
        ds.load_image_dataset("mnist", "/nonexistent", train=True)


def test_imagefolder(tmp_path):
    from PIL import Image

    for split in ("train", "val"):
        for cls in ("cat", "dog"):
            (tmp_path / split / cls).mkdir(parents=True)
            for i in range(2):
                Image.fromarray(np.full((12, 12, 3), 40 * i, np.uint8)).save(
                    tmp_path / split / cls / f"{i}.png"
                )
    train = ds.load_image_dataset(
        "imagefolder", tmp_path, train=True, transform=ds.cifar_transforms(False, resolution=8)
    )
    assert len(train) == 4 and train[0][0].shape == (3, 8, 8)
    assert ds.num_classes("imagefolder", train) == 2


def test_split_is_disjoint_complete_and_seeded(tmp_path):
    make_tiny_cifar(tmp_path, per_class=5)
    train = ds.load_image_dataset("cifar10", tmp_path, train=True, verify=False)
    d_t, d_v = ds.split_train(train, 0.5, seed=3)
    assert len(d_t) == len(d_v) == 25
    assert set(d_t.indices).isdisjoint(d_v.indices) and set(d_t.indices) | set(d_v.indices) == set(
        range(50)
    )
    again, _ = ds.split_train(train, 0.5, seed=3)
    other, _ = ds.split_train(train, 0.5, seed=4)
    assert again.indices == d_t.indices and other.indices != d_t.indices
    assert len(ds.split_train(train, 0.8, seed=0)[0]) == 40
    for bad in (0.0, 1.0, 1.5):
        with pytest.raises(ValueError, match="strictly between 0 and 1"):
            ds.split_train(train, bad)


def test_loader_order_follows_its_own_generator(tmp_path):
    data = torch.utils.data.TensorDataset(torch.arange(20))
    first = [b[0].tolist() for b in ds.make_loader(data, 5, True, seed=1)]
    again = [b[0].tolist() for b in ds.make_loader(data, 5, True, seed=1)]
    other = [b[0].tolist() for b in ds.make_loader(data, 5, True, seed=2)]
    assert first == again and first != other
    assert sorted(sum(first, [])) == list(range(20))


def test_transforms_and_cutout():
    from PIL import Image

    img = Image.fromarray(np.full((32, 32, 3), 200, np.uint8))
    x = ds.cifar_transforms(train=False, resolution=8)(img)
    assert x.shape == (3, 8, 8)
    torch.manual_seed(0)
    y = ds.cifar_transforms(train=True, cutout=16)(img)
    assert y.shape == (3, 32, 32)
    assert (
        int((y == 0).all(0).sum()) >= 8 * 8
    )  # a cutout square of at least a quarter (clipped) is zeroed
    with pytest.raises(ValueError, match="cutout"):
        ds.cifar_transforms(train=True, cutout=-1)


def test_augment_batch_is_reproducible_and_shifts():
    x = torch.arange(2 * 3 * 6 * 6, dtype=torch.float32).reshape(2, 3, 6, 6) + 1
    a = ds.augment_batch(x, torch.Generator().manual_seed(0), pad=2, flip=True, cutout=2)
    b = ds.augment_batch(x, torch.Generator().manual_seed(0), pad=2, flip=True, cutout=2)
    assert torch.equal(a, b) and a.shape == x.shape
    # with only padding each output is a shifted window of the zero-padded input
    out = ds.augment_batch(x, torch.Generator().manual_seed(5), pad=2)
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    for i in range(2):
        assert any(
            torch.equal(out[i], padded[i, :, dy : dy + 6, dx : dx + 6])
            for dy in range(5)
            for dx in range(5)
        )
    flipped = ds.augment_batch(x, torch.Generator().manual_seed(0), flip=True)
    for i in range(2):
        assert torch.equal(flipped[i], x[i]) or torch.equal(flipped[i], x[i].flip(-1))


def test_resolve_device():
    assert ds.resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        ds.resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="not available.*available: cpu"):
            ds.resolve_device("cuda:0")
