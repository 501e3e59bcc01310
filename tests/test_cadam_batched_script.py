"""``benchmarks/cadam_batched.py --device``: a device this machine has, or a clear error."""

from __future__ import annotations

import argparse

import pytest
import torch

from tests.scripts import load_script


@pytest.fixture(scope="module")
def script():
    return load_script("benchmarks/cadam_batched.py")


def test_cpu_is_accepted(script):
    assert script.parse_device(argparse.ArgumentParser(), "cpu") == torch.device("cpu")


@pytest.mark.parametrize(
    "text, message",
    [
        ("xyz", "--device must be a torch device such as cpu or cuda, got 'xyz'"),
        ("meta", "--device must be cpu or cuda (optionally cuda:N), got 'meta'"),
    ],
)
def test_bad_devices_are_named(script, capsys, text, message):
    with pytest.raises(SystemExit):
        script.parse_device(argparse.ArgumentParser(), text)
    assert message in capsys.readouterr().err


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_without_a_gpu_is_refused(script, capsys):
    with pytest.raises(SystemExit):
        script.parse_device(argparse.ArgumentParser(), "cuda")
    assert "--device cuda: torch.cuda.is_available() is False" in capsys.readouterr().err


def test_compile_without_sweep_is_refused(script, capsys, monkeypatch):
    monkeypatch.setattr("sys.argv", ["cadam_batched.py", "--compile"])
    with pytest.raises(SystemExit):
        script.main()
    assert "--compile needs --sweep (it times the update alone)" in capsys.readouterr().err
