"""Bad input fails before any work starts, with our one-line message (issue 9, sec. 5 and 7)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from nas_gym.cli import error_line, main


def _one_error_line(capsys, argv: list[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--lr", "1e30"], "--lr must be in (0, 10.0]"),
        (["--lr", "nan"], "--lr must be a finite number"),
        (["--lr", "0.01", "--lr-min", "0.1"], "--lr-min (0.1) must be <= lr (0.01)"),
        (["--momentum", "5"], "--momentum must be in [0, 1)"),
        (["--resolution", "1"], "--resolution must be >= 8"),
        (["--resolution", "10"], "a multiple of 4"),
    ],
)
def test_pretrain_arguments_refused_before_data(extra, message, tmp_path, capsys):
    # the dataset root does not exist: an error about the data would mean work started
    argv = ["supernet", "pretrain", "--root", str(tmp_path / "nothing"), "--out", str(tmp_path)]
    err = _one_error_line(capsys, argv + extra)
    assert err.startswith("nas-gym supernet: error:") and message in err, err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--layers", "1"], "--layers must be >= 3"),
        (["--resolution", "2"], "--resolution must be a multiple of 4 and >= 8"),
        (["--lr", "1e30"], "--lr must be in (0, 10.0]"),
        (["--momentum", "1.5"], "--momentum must be in [0, 1)"),
    ],
)
def test_train_genotype_arguments_refused_before_data(extra, message, tmp_path, capsys):
    argv = ["train-genotype", "DARTS_V2", "--root", str(tmp_path / "nothing")]
    err = _one_error_line(capsys, argv + ["--out", str(tmp_path / "o"), *extra])
    assert err.startswith("nas-gym train-genotype: error:") and message in err, err


def test_latency_measure_resolution(capsys, tmp_path):
    argv = ["latency", "measure", "--resolution", "3", "--out", str(tmp_path / "t.yaml")]
    err = _one_error_line(capsys, argv)
    assert "--resolution must be >= 8" in err
    assert not (tmp_path / "t.yaml").exists()


def test_cli_errors_are_one_line_and_debug_shows_the_traceback(tmp_path):
    line = error_line("bench", KeyError("agent"))
    assert line.startswith("nas-gym bench: error: KeyError: 'agent'") and "--debug" in line
    assert error_line("bench", ValueError("bad\n value")) == "nas-gym bench: error: bad value"
    argv = ["train-genotype", "DARTS_V2", "--root", str(tmp_path), "--layers", "1"]
    with pytest.raises(ValueError, match="--layers must be >= 3"):
        main(["--debug", *argv])


def test_nan_loss_stops_pretraining_naming_step_and_lr(tmp_path):
    from nas_gym.envs.darts import pretrain_fingerprint, sample_darts_path
    from nas_gym.supernets.darts import DARTSSupernet
    from nas_gym.supernets.pretrain import (
        PretrainConfig,
        TrainingDivergedError,
        init_parameters,
        pretrain_supernet,
    )

    net = init_parameters(DARTSSupernet(C=4, num_cells=3), seed=0)
    images = torch.full((4, 3, 8, 8), float("nan"))  # a corrupt batch: the loss is NaN
    data = TensorDataset(images, torch.zeros(4, dtype=torch.long))
    loader = DataLoader(data, batch_size=2, generator=torch.Generator().manual_seed(0))
    fp = pretrain_fingerprint(net.config, False, "cifar10", 8, 0.5, 0)
    config = PretrainConfig(epochs=1, batch_size=2, lr=0.05, lr_min=0.0, pad=0, flip=False)
    with pytest.raises(TrainingDivergedError, match="at epoch 1, batch 1 with learning rate 0.05"):
        pretrain_supernet(
            net, sample_darts_path, loader, config, tmp_path / "ck", fp, progress=False
        )
    assert not (tmp_path / "ck" / "last.pt").exists()  # no NaN checkpoint written


def test_pareto_refuses_nan_values_and_a_directory_out(tmp_path, capsys):
    import json

    hist = tmp_path / "h.json"
    rows = [{"valid_acc": 90.0, "flops_M": 1.0}, {"valid_acc": float("nan"), "flops_M": 2.0}]
    hist.write_text(json.dumps(rows))
    argv = ["supernet", "pareto", str(hist), "--costs", "flops_M", "--out"]
    err = _one_error_line(capsys, [*argv, str(tmp_path / "p.png")])
    assert "record 1 has valid_acc = nan, not a finite number" in err
    assert not (tmp_path / "p.png").exists()
    rows[1]["valid_acc"] = 91.0
    rows[0]["flops_M"] = float("inf")
    hist.write_text(json.dumps(rows))
    assert "record 0 has flops_M = inf" in _one_error_line(capsys, [*argv, str(tmp_path / "p.png")])
    err = _one_error_line(capsys, [*argv, str(tmp_path)])
    assert "is a directory or empty; give a PNG file path" in err


# -- environment keywords and actions (sec. 5) ------------------------------------------


def _make(env_id: str, tmp_path, **kwargs):
    import gymnasium as gym

    import nas_gym  # noqa: F401

    # the dataset root does not exist: keyword errors must come before any data is read
    if env_id != "NASBench201-v0":
        kwargs.setdefault("root", str(tmp_path / "no_data"))
    return gym.make(env_id, **kwargs)


@pytest.mark.parametrize(
    ("env_id", "kwargs", "message"),
    [
        ("DARTSSupernet-v0", {"warmup_lr": float("nan")}, "warmup_lr must be a finite number"),
        ("DARTSSupernet-v0", {"warmup_steps": 2.7}, "warmup_steps must be an integer >= 0"),
        ("DARTSSupernet-v0", {"lr": "0.1"}, "lr must be a finite number, got '0.1'"),
        ("ProxylessNAS-v0", {"lut": None}, "lut must be one of 'pixel1', 'cpu', 'cuda'"),
        ("ProxylessNAS-v0", {"latency_target": 1.0}, "latency_target 1.0 ms is below every"),
        ("NASBench201-v0", {"top_k": 20000}, "top_k=20000 exceeds the 15625 architectures"),
    ],
)
def test_env_keywords_refused_before_work(env_id, kwargs, message, tmp_path):
    with pytest.raises(ValueError) as info:
        _make(env_id, tmp_path, **kwargs)
    assert message in str(info.value)


def test_numpy_scalar_cost_target_is_a_finite_number():
    import gymnasium as gym
    import numpy as np

    env = gym.make("NASBench201-v0", cost="edgegpu_latency", cost_target=np.float32(5))
    assert env.unwrapped._constraint.target == 5.0
    env.close()


def _nb201():
    import gymnasium as gym

    env = gym.make("NASBench201-v0", max_queries=20)
    env.reset(seed=0)
    return env


@pytest.mark.parametrize(
    ("make_action", "message"),
    [
        (lambda a: a.astype(np.complex64), "got dtype complex64"),
        (lambda a: np.ma.masked_array(a, mask=a > 0.5), "masked array"),
        (lambda a: (a * 100).astype("timedelta64[s]"), "got dtype timedelta64[s]"),
        (lambda a: torch.from_numpy(a).to(torch.complex64), "must be real-valued"),
    ],
)
def test_actions_that_are_not_real_numbers_are_refused(make_action, message):
    env = _nb201()
    action = env.action_space.sample()
    with pytest.raises(ValueError, match="action"):
        try:
            env.step(make_action(action))
        except ValueError as err:
            assert message in str(err), err
            raise
    env.close()


def test_torch_tensors_are_converted_like_their_numpy_values():
    from nas_gym.spaces import nb201 as space

    env = _nb201()
    action = env.action_space.sample()
    _, _, _, _, want = env.step(action)
    for tensor in (
        torch.from_numpy(action).requires_grad_(True),
        torch.from_numpy(action).to(torch.bfloat16),
    ):
        env.reset(seed=0)
        _, _, _, _, info = env.step(tensor)
        expected = env.unwrapped._architecture(tensor.detach().float().numpy())
        assert info["arch_str"] == space.index_to_str(expected)
    assert want["arch_str"] == space.index_to_str(env.unwrapped._architecture(action))
    env.close()


def test_nan_loss_stops_parallel_ddas_training(tmp_path):
    """A supernet weight turned NaN (fault injected) stops the next DDAS query with our error."""
    import gymnasium as gym

    from nas_gym.supernets.pretrain import TrainingDivergedError
    from tests.test_darts_env import tiny_darts_kwargs

    env = gym.make("DARTSSupernet-v0", **tiny_darts_kwargs(tmp_path, lr=0.01))
    env.reset(seed=0)
    env.step(env.action_space.sample())  # a healthy query
    with torch.no_grad():
        next(env.unwrapped._net.parameters()).fill_(float("nan"))
    with pytest.raises(TrainingDivergedError, match="at query 2, batch 1 with learning rate 0.01"):
        env.step(env.action_space.sample())
    env.close()
