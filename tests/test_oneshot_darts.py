"""DARTS search (first/second order) and the shared one-shot loop, on a tiny supernet."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from nas_gym.oneshot.darts import DARTS, DARTSConfig
from nas_gym.oneshot.loop import SearchConfig, read_search_checkpoint, run_search
from nas_gym.spaces import darts as space
from nas_gym.supernets import datasets as ds
from nas_gym.supernets.darts import DARTSSupernet
from nas_gym.supernets.pretrain import (
    CheckpointMismatchError,
    PretrainConfig,
    darts_fingerprint,
    init_parameters,
    pretrain_supernet,
)
from tests.test_datasets import make_tiny_cifar

torch.set_num_threads(1)


def _trainer(order: int, dtype=torch.float32, fd_r: float = 0.01, **search) -> DARTS:
    net = init_parameters(DARTSSupernet(C=2, num_cells=3, num_classes=4), seed=0).to(dtype)
    config = SearchConfig(**{"epochs": 2, "batch_size": 4, **search})
    return DARTS(net, config, DARTSConfig(order=order, fd_r=fd_r))


def _batches(dtype=torch.float32):
    g = torch.Generator().manual_seed(1)
    make = lambda: (  # noqa: E731
        torch.randn(4, 3, 8, 8, generator=g, dtype=dtype),
        torch.randint(0, 4, (4,), generator=g),
    )
    return make(), make()


def _alpha_with_spread(trainer: DARTS) -> None:
    """Move alpha off DARTS' near-zero init, so the softmax is not flat."""
    g = torch.Generator().manual_seed(2)
    with torch.no_grad():
        trainer.alpha.copy_(
            torch.randn(trainer.alpha.shape, generator=g, dtype=trainer.alpha.dtype)
        )


def test_first_order_alpha_gradient_matches_finite_differences():
    trainer = _trainer(1, torch.float64)
    _alpha_with_spread(trainer)
    train, valid = _batches(torch.float64)
    grad = trainer.alpha_grad(train, valid)
    h = 1e-6
    for idx in [(0, 0, 3), (0, 7, 1), (1, 13, 6), (1, 2, 2)]:
        values = []
        for sign in (1.0, -1.0):
            with torch.no_grad():
                trainer.alpha[idx] += sign * h
                values.append(float(trainer.loss(valid)))
                trainer.alpha[idx] -= sign * h
        fd = (values[0] - values[1]) / (2 * h)
        assert grad[idx].item() == pytest.approx(fd, rel=1e-4, abs=1e-9), idx


def test_second_order_matches_explicit_unroll_autograd():
    # A small finite-difference radius in float64 makes the check tight: it tests the
    # formula (signs, xi, momentum, weight decay). DARTS' r = 0.01 is a coarse
    # approximation on a net this small (eps = r / ||v|| is large when ||v|| is small).
    trainer = _trainer(2, torch.float64, fd_r=1e-6, weight_decay=3e-4, momentum=0.9, lr=0.05)
    _alpha_with_spread(trainer)
    train, valid = _batches(torch.float64)
    # one real w step first, so the virtual step uses a momentum buffer as DARTS' does
    trainer.step(train, valid, rng=None)
    xi = trainer.w_optimizer.param_groups[0]["lr"]
    mu, wd = 0.9, 3e-4

    params = dict(trainer.net.named_parameters())
    grads = torch.autograd.grad(
        trainer.loss(train, params), list(params.values()), create_graph=True
    )
    w_prime = {
        n: p - xi * (g + wd * p + mu * trainer.w_optimizer.state[p]["momentum_buffer"])
        for (n, p), g in zip(params.items(), grads, strict=True)
    }
    reference = torch.autograd.grad(trainer.loss(valid, w_prime), trainer.alpha)[0]
    ours = trainer.unrolled_alpha_grad(train, valid)
    w_prime_detached = {n: p.detach().requires_grad_() for n, p in w_prime.items()}
    first_order_at_w_prime = torch.autograd.grad(
        trainer.loss(valid, w_prime_detached), trainer.alpha
    )[0]

    error = float((ours - reference).norm())
    hessian_term = float((first_order_at_w_prime - reference).norm())
    assert error <= 1e-6 * float(reference.norm())
    assert hessian_term > 1e4 * error  # the finite-difference term is what makes them agree


@pytest.mark.parametrize("order", [1, 2])
def test_step_updates_alpha_and_weights_and_only_w_step_moves_bn_stats(order):
    trainer = _trainer(order)
    train, valid = _batches()
    running = trainer.net.stem[1].running_mean.clone()
    with torch.no_grad():
        stem_out = trainer.net.stem[0](train[0])  # the w-step's forward runs before its update
    alpha0 = trainer.alpha.detach().clone()
    w0 = [p.detach().clone() for p in trainer.net.parameters()]
    metrics = trainer.step(train, valid, rng=None)
    assert set(metrics) >= {"train_loss", "train_acc", "alpha_grad_norm"}
    assert not torch.equal(alpha0, trainer.alpha)
    assert sum(not torch.equal(a, b) for a, b in zip(w0, trainer.net.parameters(), strict=True))
    # only the w-step's forward on D_T moved the running mean: one momentum update
    expected = 0.9 * running + 0.1 * stem_out.mean(dim=(0, 2, 3))
    torch.testing.assert_close(trainer.net.stem[1].running_mean, expected)


def _tiny_data(tmp_path: Path, per_class: int = 4):
    root = make_tiny_cifar(tmp_path / "data", per_class=per_class)
    train = ds.load_image_dataset(
        "cifar10", root, True, ds.cifar_transforms(False, resolution=8), verify=False
    )
    return root, *ds.split_train(train, 0.5, 0)


def test_stop_and_resume_in_process_equals_uninterrupted(tmp_path):
    _, d_t, d_v = _tiny_data(tmp_path)
    config = dict(epochs=2, batch_size=5, max_batches=1, pad=1, flip=True)

    def trainer():
        net = init_parameters(DARTSSupernet(C=2, num_cells=3), seed=0)
        return DARTS(net, SearchConfig(**config), DARTSConfig(order=2))

    fp = {"test": 1}
    full = trainer()
    run_search(full, d_t, d_v, SearchConfig(**config), tmp_path / "full", fp, progress=False)
    run_search(
        trainer(), d_t, d_v, SearchConfig(**config), tmp_path / "split", fp, progress=False,
        stop_after=1,
    )  # fmt: skip
    assert read_search_checkpoint(tmp_path / "split")["epoch"] == 1
    resumed = trainer()
    run_search(resumed, d_t, d_v, SearchConfig(**config), tmp_path / "split", fp, progress=False)
    torch.testing.assert_close(resumed.alpha, full.alpha, rtol=0, atol=0)
    for (n, a), b in zip(
        full.net.state_dict().items(), resumed.net.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), n
    a = read_search_checkpoint(tmp_path / "full")
    b = read_search_checkpoint(tmp_path / "split")
    assert a["history"] == b["history"] and a["derived"] == b["derived"]
    # another searcher configuration is refused, naming the difference
    other = DARTS(
        init_parameters(DARTSSupernet(C=2, num_cells=3), seed=0),
        SearchConfig(**config),
        DARTSConfig(order=1),
    )
    with pytest.raises(CheckpointMismatchError, match="cannot resume.*order"):
        run_search(other, d_t, d_v, SearchConfig(**config), tmp_path / "split", fp, progress=False)


def _cli(out: Path, root: Path, score_ckpt: Path) -> list[str]:
    script = Path(sys.executable).parent / "nas-gym"
    prefix = [str(script)] if script.exists() else [sys.executable, "-m", "nas_gym.cli"]
    return prefix + [
        "search", "darts", "--order", "1", "--root", str(root), "--no-verify", "--resolution", "8",
        "--channels", "2", "--cells", "3", "--batch-size", "10", "--epochs", "4", "--seed", "3",
        "--score-batches", "1", "--score-checkpoint", str(score_ckpt), "--eval-channels", "2",
        "--eval-cells", "3", "--out", str(out), "--no-progress",
    ]  # fmt: skip


def test_cli_kill_and_resume_matches_uninterrupted_and_genotype_trains(tmp_path):
    root, d_t, _ = _tiny_data(tmp_path, per_class=10)  # D_T, D_V: 50 images = 5 steps per epoch
    # a pre-trained (uniform) supernet for DARTSSupernet-v0's sequential scoring
    net = init_parameters(DARTSSupernet(C=2, num_cells=3), seed=0)
    fp = darts_fingerprint(net.config, False, "cifar10", 8, 0.5, 0)
    score_ckpt = pretrain_supernet(
        net, space.sample_path, ds.make_loader(d_t, 10, True, 0),
        PretrainConfig(epochs=1, batch_size=10, max_batches=1), tmp_path / "pre", fp,
        progress=False,
    )  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    full = subprocess.Popen(
        _cli(tmp_path / "full", root, score_ckpt), env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    killed = subprocess.Popen(
        _cli(tmp_path / "killed", root, score_ckpt), env=env, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    ckpt = tmp_path / "killed" / "last.pt"
    deadline = time.monotonic() + 120
    while not ckpt.exists() and killed.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    assert killed.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    stopped_at = read_search_checkpoint(ckpt)["epoch"]
    assert 1 <= stopped_at < 4

    resumed = subprocess.run(
        _cli(tmp_path / "killed", root, score_ckpt), env=env, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming {ckpt} at epoch {stopped_at}/4" in resumed.stdout
    assert full.wait(timeout=300) == 0, full.stdout.read().decode()

    a, b = read_search_checkpoint(tmp_path / "full"), read_search_checkpoint(ckpt)
    assert a["epoch"] == b["epoch"] == 4
    assert torch.equal(a["trainer"]["alpha"], b["trainer"]["alpha"])
    for name, tensor in a["trainer"]["supernet"].items():
        assert torch.equal(tensor, b["trainer"]["supernet"][name]), name
    assert a["history"] == b["history"]
    for name in ("history.csv", "genotype.json", "genotype.txt"):
        assert (tmp_path / "full" / name).read_text() == (tmp_path / "killed" / name).read_text()

    rows = list(csv.DictReader((tmp_path / "full" / "history.csv").open()))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3, 4]
    for r in rows:  # the search curve: the derived cell scored by DARTSSupernet-v0 each epoch
        assert 0.0 <= float(r["env_valid_acc"]) <= 100.0
        assert 0.0 <= float(r["oneshot_valid_acc"]) <= 100.0
        assert float(r["params_M"]) > 0
    derived = json.loads((tmp_path / "full" / "genotype.json").read_text())
    genotype = (tmp_path / "full" / "genotype.txt").read_text().strip()
    assert derived["genotype"] == genotype == rows[-1]["genotype"]
    # Algorithm 2 of the final alpha is the saved cell
    alpha_d = space.discretize(a["trainer"]["alpha"].numpy())
    assert space.genotype_to_str(space.to_genotype(alpha_d)) == genotype

    from nas_gym.cli import main

    out = tmp_path / "retrain"
    rc = main([
        "train-genotype", genotype, "--root", str(root), "--no-verify", "--resolution", "8",
        "--epochs", "1", "--layers", "3", "--channels", "2", "--batch-size", "50",
        "--out", str(out),
    ])  # fmt: skip
    assert rc == 0
    result = json.loads((out / "result.json").read_text())
    assert result["genotype"] == genotype and 0.0 <= result["test_acc"] <= 100.0


def test_bad_arguments_fail_before_data(tmp_path, capsys):
    from nas_gym.cli import main

    base = ["search", "darts", "--root", str(tmp_path), "--out", str(tmp_path / "o")]
    assert main([*base, "--lr", "-1"]) == 2
    assert "--lr must be a finite number >= 0, got -1.0" in capsys.readouterr().err
    assert main([*base, "--resolution", "10"]) == 2
    assert "--resolution must be >= 8 and a multiple of 4" in capsys.readouterr().err
    assert main([*base, "--device", "gpu"]) == 2
    assert "unknown device 'gpu'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([*base, "--order", "3"])
    with pytest.raises(ValueError, match="order must be 1 or 2"):
        DARTSConfig(order=3)
    t = _trainer(1)
    data = lambda n: torch.utils.data.TensorDataset(  # noqa: E731
        torch.randn(n, 3, 8, 8), torch.zeros(n, dtype=torch.long)
    )
    with pytest.raises(ValueError, match="D_V has 3 images, fewer than one batch of 4"):
        run_search(t, data(8), data(3), t.search, tmp_path / "x", {}, progress=False)


def test_with_none_layout_searches_and_never_derives_none():
    net = init_parameters(DARTSSupernet(C=2, num_cells=3, num_classes=4), seed=0)
    trainer = DARTS(net, SearchConfig(epochs=1, batch_size=4), DARTSConfig(with_none=True))
    assert tuple(trainer.alpha.shape) == space.shape(True)
    with torch.no_grad():
        trainer.alpha[..., 0] = 5.0  # 'none' dominates every edge
    train, valid = _batches()
    trainer.step(train, valid, rng=None)
    derived = trainer.derive()
    assert "none" not in derived["genotype"]
    assert np.asarray(derived["alpha_d"])[..., 0].sum() == 0
    # 'none' takes softmax mass but outputs zeros: the weighted forward equals the mixed one
    torch.testing.assert_close(
        net.forward_weighted(train[0], F.softmax(trainer.alpha, -1)),
        net.forward_mixed(train[0], trainer.alpha),
    )
