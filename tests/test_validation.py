"""Bad input fails before any work starts, with our one-line message (issue 9, sec. 5 and 7)."""

from __future__ import annotations

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
    assert "--resolution must be >= 32" in err
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
