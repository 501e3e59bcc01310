"""``benchmarks/cadam_batched.py --device``: a device this machine has, or a clear error."""

from __future__ import annotations

import argparse
import math

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


def test_floor_of_no_seeds_is_refused(script, capsys, monkeypatch):
    monkeypatch.setattr("sys.argv", ["cadam_batched.py", "--floor", "0"])
    with pytest.raises(SystemExit):
        script.main()
    assert "--floor must be a positive number of seeds, got 0" in capsys.readouterr().err


@pytest.mark.parametrize(
    "kwargs",
    [
        {},  # CADAM: one critic, an actor step every cycle
        {"n_critics": 2, "policy_delay": 2, "actor_q": "q1"},  # cadam-td3
        {"n_critics": 2, "policy_delay": 2, "actor_q": "min"},  # cadam-td3-min
    ],
)
def test_floor_counts_the_matmuls_the_update_runs(script, kwargs):
    """``--floor`` times the matmuls :func:`cycle_matmuls` lists; a real update must run
    exactly those: as many ``baddbmm`` (forward) and ``bmm`` (gradients) per cycle."""
    from torch.profiler import ProfilerActivity, profile

    from nas_gym.agents.cadam.batched import BatchedCADAM

    batched = BatchedCADAM([script.make_env(10) for _ in range(2)], [1, 2], **kwargs)
    agent = batched.agents[0]
    cycles, rows = 4, agent.batch_size
    obs, act = math.prod(agent.observation_space.shape), math.prod(agent.action_space.shape)
    # replay batches as sample_batches gives them: (cycles, batch, flat dim)
    batches = [
        (torch.rand(cycles, rows, obs), torch.rand(cycles, rows, act), torch.rand(cycles, rows, 1))
        for _ in range(2)
    ]
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        batched._train(batches)
    ran = {e.key: e.count for e in prof.key_averages()}
    listed = script.cycle_matmuls(batched)
    forward = sum(n for _, kind, _, n in listed if kind == "forward")
    grads = sum(n for _, kind, _, n in listed if kind != "forward")
    assert ran["aten::baddbmm"] == cycles * forward
    assert ran["aten::bmm"] == cycles * grads
