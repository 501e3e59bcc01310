"""Supernet pre-training: single-path updates, checkpoints, and resume after a real kill."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from nas_gym.envs.darts import pretrain_fingerprint, sample_darts_path
from nas_gym.spaces import darts as space
from nas_gym.supernets import datasets as ds
from nas_gym.supernets.darts import DARTSSupernet
from nas_gym.supernets.pretrain import (
    CheckpointMismatchError,
    PretrainConfig,
    init_parameters,
    load_supernet_checkpoint,
    pretrain_supernet,
    read_checkpoint,
)
from tests.test_datasets import make_tiny_cifar

torch.set_num_threads(1)


def _tiny_setup(root: Path, per_class: int = 4):
    make_tiny_cifar(root, per_class=per_class)
    train = ds.load_image_dataset(
        "cifar10", root, True, ds.cifar_transforms(False, resolution=8), verify=False
    )
    d_t, _ = ds.split_train(train, 0.5, 0)
    net = init_parameters(DARTSSupernet(C=4, num_cells=3), seed=0)
    fp = pretrain_fingerprint(net.config, False, "cifar10", 8, 0.5, 0)
    return d_t, net, fp


def test_each_minibatch_trains_only_its_sampled_path(tmp_path):
    d_t, net, fp = _tiny_setup(tmp_path)
    before = {n: p.detach().clone() for n, p in net.named_parameters()}
    drawn = []

    def sampler(rng):
        drawn.append(sample_darts_path(rng))
        return drawn[-1]

    config = PretrainConfig(epochs=1, batch_size=5, max_batches=1, weight_decay=3e-4)
    pretrain_supernet(
        net, sampler, ds.make_loader(d_t, 5, True, 0), config, tmp_path / "ck", fp, progress=False
    )
    assert len(drawn) == 1
    on_path = {id(p) for p in net.path_parameters(drawn[0])}
    changed = {n for n, p in net.named_parameters() if not torch.equal(p, before[n])}
    names_on_path = {n for n, p in net.named_parameters() if id(p) in on_path}
    assert changed, "nothing was trained"
    assert changed <= names_on_path, (
        f"off-path weights changed: {sorted(changed - names_on_path)[:3]}"
    )
    # every one of the 16 (edge, op) pairs of the path has a conv or pool on it; at least the convs moved
    assert len(names_on_path) < len(before)


def test_checkpoint_round_trip_and_mismatch(tmp_path):
    d_t, net, fp = _tiny_setup(tmp_path)
    config = PretrainConfig(epochs=2, batch_size=5, max_batches=2)
    path = pretrain_supernet(
        net,
        sample_darts_path,
        ds.make_loader(d_t, 5, True, 0),
        config,
        tmp_path / "ck",
        fp,
        progress=False,
    )
    state = read_checkpoint(path)
    assert state["epoch"] == 2 and len(state["history"]) == 2
    fresh = DARTSSupernet(C=4, num_cells=3)
    load_supernet_checkpoint(tmp_path / "ck", fresh, fp)  # a directory works too
    for (n, a), b in zip(net.state_dict().items(), fresh.state_dict().values(), strict=True):
        assert torch.equal(a, b), n
    other = pretrain_fingerprint(
        DARTSSupernet(C=8, num_cells=3).config, False, "cifar10", 8, 0.5, 1
    )
    with pytest.raises(
        CheckpointMismatchError, match=r"split_seed: checkpoint has 0, expected 1"
    ) as err:
        load_supernet_checkpoint(path, DARTSSupernet(C=8, num_cells=3), other)
    assert "supernet" in str(err.value) and "'C': 4" in str(err.value)
    with pytest.raises(
        CheckpointMismatchError, match="space: checkpoint has 'darts', expected 'proxyless'"
    ):
        load_supernet_checkpoint(path, fresh, {**fp, "space": "proxyless"})
    with pytest.raises(FileNotFoundError, match="nas-gym supernet pretrain"):
        load_supernet_checkpoint(tmp_path / "nowhere.pt", fresh, fp)


def test_resume_refuses_another_config(tmp_path):
    d_t, net, fp = _tiny_setup(tmp_path)
    loader = ds.make_loader(d_t, 5, True, 0)
    pretrain_supernet(
        net,
        sample_darts_path,
        loader,
        PretrainConfig(epochs=1, batch_size=5, max_batches=1),
        tmp_path / "ck",
        fp,
        progress=False,
    )
    with pytest.raises(
        CheckpointMismatchError, match=r"cannot resume.*lr: checkpoint has 0.025, expected 0.1"
    ):
        pretrain_supernet(
            net,
            sample_darts_path,
            loader,
            PretrainConfig(epochs=2, batch_size=5, max_batches=1, lr=0.1),
            tmp_path / "ck",
            fp,
            progress=False,
        )


def test_mixed_warmup_and_bad_inputs(tmp_path):
    d_t, net, fp = _tiny_setup(tmp_path)
    before = [p.detach().clone() for p in net.parameters()]
    config = PretrainConfig(epochs=1, batch_size=5, max_batches=1, grad_clip=0.0, weight_decay=0.0)
    pretrain_supernet(
        net, None, ds.make_loader(d_t, 5, True, 0), config, tmp_path / "mixed", fp, progress=False
    )
    # the mixed forward reaches every op: every conv weight moved
    moved = [not torch.equal(a, b) for a, b in zip(before, net.parameters(), strict=True)]
    assert sum(moved) == len(moved)
    with pytest.raises(ValueError, match="batch_size is 4 but config.batch_size is 5"):
        pretrain_supernet(
            net, None, ds.make_loader(d_t, 4, True, 0), config, tmp_path / "x", fp, progress=False
        )
    unseeded = torch.utils.data.DataLoader(d_t, batch_size=5, shuffle=True)
    with pytest.raises(ValueError, match="no generator"):
        pretrain_supernet(net, None, unseeded, config, tmp_path / "x", fp, progress=False)
    for bad in (
        {"epochs": 0},
        {"lr": -1.0},
        {"cutout": -2},
        {"max_batches": 0},
        {"lr": float("nan")},
    ):
        with pytest.raises(ValueError, match=next(iter(bad))):
            PretrainConfig(**bad)
    with pytest.raises(ValueError, match="unknown device 'gpu'"):
        pretrain_supernet(
            net,
            None,
            ds.make_loader(d_t, 5, True, 0),
            PretrainConfig(batch_size=5, device="gpu"),
            tmp_path / "x",
            fp,
        )


def test_init_parameters_is_local_and_reproducible():
    state = torch.random.get_rng_state()
    a = init_parameters(DARTSSupernet(C=4, num_cells=3), seed=7)
    b = init_parameters(DARTSSupernet(C=4, num_cells=3), seed=7)
    c = init_parameters(DARTSSupernet(C=4, num_cells=3), seed=8)
    for (n, pa), pb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(pa, pb), n
    assert any(
        not torch.equal(pa, pc) for pa, pc in zip(a.parameters(), c.parameters(), strict=True)
    )
    # constructing modules uses the global RNG; init_parameters itself draws nothing from it
    torch.random.set_rng_state(state)
    DARTSSupernet(C=4, num_cells=3)
    expected = torch.rand(3)
    torch.random.set_rng_state(state)
    init_parameters(DARTSSupernet(C=4, num_cells=3), seed=1)
    assert torch.equal(torch.rand(3), expected)


def _args(out: Path, root: Path, epochs: int) -> list[str]:
    return [
        "supernet", "pretrain", "--space", "darts", "--root", str(root), "--no-verify", "--resolution", "8",
        "--channels", "4", "--cells", "3", "--batch-size", "10", "--epochs", str(epochs), "--cutout", "2",
        "--seed", "3", "--out", str(out), "--no-progress",
    ]  # fmt: skip


def _cli(out: Path, root: Path, epochs: int) -> list[str]:
    script = Path(sys.executable).parent / "nas-gym"
    prefix = [str(script)] if script.exists() else [sys.executable, "-m", "nas_gym.cli"]
    return prefix + _args(out, root, epochs)


def test_kill_and_resume_matches_uninterrupted_run(tmp_path, capsys):
    """A real SIGKILL after the first checkpoint, then a resume; the resume and the
    uninterrupted reference run in this process (one thread, same code path as the
    CLI), which saves two interpreter starts with torch and torchvision."""
    from nas_gym.cli import main

    root = make_tiny_cifar(
        tmp_path / "data", per_class=20
    )  # D_T: 100 images = 10 batches per epoch
    epochs = 4
    killed = subprocess.Popen(
        _cli(tmp_path / "killed", root, epochs),
        env={**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    ckpt = tmp_path / "killed" / "last.pt"
    deadline = time.monotonic() + 120
    while not ckpt.exists() and killed.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    assert killed.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    stopped_at = read_checkpoint(ckpt)["epoch"]
    assert 1 <= stopped_at < epochs

    assert torch.get_num_threads() == 1  # as the killed process (set at this module's import)
    capsys.readouterr()
    assert main(_args(tmp_path / "killed", root, epochs)) == 0, capsys.readouterr().err
    assert f"resuming {ckpt} at epoch {stopped_at}/{epochs}" in capsys.readouterr().out
    assert main(_args(tmp_path / "full", root, epochs)) == 0, capsys.readouterr().err

    a, b = read_checkpoint(tmp_path / "full" / "last.pt"), read_checkpoint(ckpt)
    assert a["epoch"] == b["epoch"] == epochs
    for name, tensor in a["model"].items():
        assert torch.equal(tensor, b["model"][name]), name
    for pid, st in a["optimizer"]["state"].items():
        assert torch.equal(st["momentum_buffer"], b["optimizer"]["state"][pid]["momentum_buffer"])
    assert a["history"] == b["history"]
    assert a["scheduler"] == b["scheduler"]

    # the CLI's checkpoint is what the sequential (CADAM) environment loads
    from nas_gym.envs.darts import DARTSSupernetEnv

    env = DARTSSupernetEnv(
        mode="sequential", checkpoint=str(ckpt), root=str(root), verify_data=False, resolution=8, C=4,
        num_cells=3, batch_size=10, valid_batches=1, eval_channels=4, eval_cells=3, top_k=2,
    )  # fmt: skip
    env.reset(seed=0)
    assert 0.0 <= env.step(env.action_space.sample())[4]["valid_acc"] <= 100.0


def test_cli_missing_data_is_one_clear_line(tmp_path, capsys):
    from nas_gym.cli import main

    assert (
        main(["supernet", "pretrain", "--root", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    )
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert "\n" not in err and "Traceback" not in err and captured.out == ""
    assert err.startswith("nas-gym supernet: error: cifar10 not found")
    assert f"'{tmp_path / 'cifar-10-batches-py'}'" in err and "data_batch_1" in err
    assert "--download" in err and "--root DIR" in err  # options that exist (see --help)
    assert not (tmp_path / "o").exists()  # nothing written before the data is found


def test_sample_darts_path_is_algorithm_2_of_uniform_alpha():
    rng_a, rng_b = np.random.default_rng(4), np.random.default_rng(4)
    alpha_d = sample_darts_path(rng_a)
    np.testing.assert_array_equal(
        alpha_d, space.discretize(rng_b.random(space.SHAPE, dtype=np.float32))
    )
    assert alpha_d.sum() == 16
