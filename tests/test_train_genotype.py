"""``nas-gym train-genotype`` on a tiny CIFAR-10 written here in the official pickle format."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from nas_gym.cli import main
from nas_gym.supernets.darts_eval import params_and_flops

torch.set_num_threads(1)

N_PER_BATCH, N_TEST = 4, 8


def _write_tiny_cifar10(root: Path) -> Path:
    """cifar-10-batches-py/{data_batch_1..5, test_batch, batches.meta}, as the official release."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)

    def batch(n: int, name: str) -> None:
        labels = rng.integers(0, 10, n).tolist()
        data = rng.integers(0, 256, (n, 3 * 32 * 32), dtype=np.uint8)  # rows: R plane, G, B
        with open(folder / name, "wb") as fh:
            pickle.dump({"batch_label": name, "labels": labels, "data": data}, fh)

    for i in range(1, 6):
        batch(N_PER_BATCH, f"data_batch_{i}")
    batch(N_TEST, "test_batch")
    with open(folder / "batches.meta", "wb") as fh:
        pickle.dump({"label_names": [f"c{i}" for i in range(10)], "num_vis": 3072}, fh)
    return root


@pytest.fixture(scope="module")
def cifar_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _write_tiny_cifar10(tmp_path_factory.mktemp("cifar"))


def _args(root: Path, out: Path, *extra: str) -> list[str]:
    return [
        "train-genotype",
        "DARTS_V2",
        "--dataset",
        "cifar10",
        "--root",
        str(root),
        "--no-verify",
        "--layers",
        "3",
        "--channels",
        "4",
        "--batch-size",
        "4",
        "--out",
        str(out),
        *extra,
    ]


def test_one_tiny_epoch_reports_accuracy_params_flops(cifar_root, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(_args(cifar_root, out, "--epochs", "1")) == 0
    result = json.loads((out / "result.json").read_text())
    assert result["n_test"] == N_TEST and 0.0 <= result["test_acc"] <= 100.0
    assert np.isfinite(result["test_loss"]) and result["test_loss"] > 0
    assert (result["params_M"], result["flops_M"]) == pytest.approx(
        params_and_flops("DARTS_V2", C=4, layers=3)
    )
    assert result["genotype"].startswith(
        "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1)"
    )
    (h,) = result["history"]
    assert h["epoch"] == 1 and h["lr"] == pytest.approx(0.025) and h["drop_path_prob"] == 0.0
    assert np.isfinite(h["train_loss"])
    ckpt = torch.load(out / "checkpoint.pt", weights_only=False)
    assert ckpt["epoch"] == 1 and set(ckpt) >= {
        "model",
        "optimizer",
        "scheduler",
        "rng",
        "fingerprint",
    }
    assert "test accuracy" in capsys.readouterr().out
    # the optimizer stepped (SGD momentum buffers exist only after a step)
    assert ckpt["optimizer"]["state"], "SGD never stepped"


def test_resume_after_interruption_matches_uninterrupted_run(cifar_root, tmp_path):
    common = ("--epochs", "2", "--drop-path", "0.3", "--seed", "5")
    straight, split = tmp_path / "straight", tmp_path / "split"
    assert main(_args(cifar_root, straight, *common)) == 0
    assert main(_args(cifar_root, split, *common, "--stop-after", "1")) == 0
    assert not (split / "result.json").exists()
    assert torch.load(split / "checkpoint.pt", weights_only=False)["epoch"] == 1
    assert main(_args(cifar_root, split, *common, "--resume")) == 0
    a = json.loads((straight / "result.json").read_text())
    b = json.loads((split / "result.json").read_text())
    assert b["history"] == a["history"] and len(a["history"]) == 2
    assert a["history"][1]["drop_path_prob"] == pytest.approx(0.15)
    assert a["history"][1]["lr"] < a["history"][0]["lr"]  # cosine schedule
    assert (
        b["test_loss"] == pytest.approx(a["test_loss"], rel=1e-6) and b["test_acc"] == a["test_acc"]
    )
    wa = torch.load(straight / "checkpoint.pt", weights_only=False)["model"]
    wb = torch.load(split / "checkpoint.pt", weights_only=False)["model"]
    for k in wa:
        torch.testing.assert_close(wa[k], wb[k], rtol=1e-5, atol=1e-6)


def test_clear_errors(cifar_root, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(_args(cifar_root, out, "--epochs", "1", "--stop-after", "1")) == 0
    assert main(_args(cifar_root, out, "--epochs", "1")) == 2
    assert "pass --resume" in capsys.readouterr().err
    assert main(_args(cifar_root, out, "--epochs", "1", "--lr", "0.1", "--resume")) == 2
    assert "lr: 0.025 vs 0.1" in capsys.readouterr().err
    # found before the data is read: with no dataset at all, the settings are the error
    nowhere = _args(tmp_path / "nowhere", out, "--epochs", "1", "--lr", "0.1", "--resume")
    assert main(nowhere) == 2
    err = capsys.readouterr().err
    assert "other settings (checkpoint vs now): lr: 0.025 vs 0.1" in err and "cifar-10" not in err
    assert main(_args(tmp_path / "nowhere", tmp_path / "o2", "--epochs", "1")) == 2
    assert "cifar-10-batches-py" in capsys.readouterr().err
    bad = _args(cifar_root, tmp_path / "o3", "--epochs", "1")
    bad[1] = "Genotype(normal=[('conv_9x9', 0)])"
    assert main(bad) == 2
    assert "cannot parse genotype" in capsys.readouterr().err
