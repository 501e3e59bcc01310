"""ENAS/NASNet-style RNN controllers: sampling vs teacher forcing, masks, learning."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from stable_baselines3.common.callbacks import BaseCallback

import nas_gym  # noqa: F401
from nas_gym.agents.common.rng import private_rng
from nas_gym.agents.registry import make_agent

torch.set_num_threads(1)


def nb201(**kwargs) -> gym.Env:
    return gym.make("NASBench201-v0", dataset="cifar100", **kwargs)


@pytest.mark.parametrize("name", ["rnn-reinforce", "rnn-ppo"])
def test_teacher_forced_log_prob_matches_step_by_step_sampling(name):
    agent = make_agent(name, nb201(), seed=0)
    pol = agent.policy
    with private_rng(agent):
        ops, entropy = pol.sample(64)
    # step-by-step log-probabilities, recomputed from the LSTM one row at a time
    x, state, logp = pol.start.expand(64, 1, -1), None, torch.zeros(64)
    with torch.no_grad():
        for s in range(ops.shape[1]):
            out, state = pol.lstm(x, state)
            logp += torch.log_softmax(pol._logits(out[:, -1], s), -1)[torch.arange(64), ops[:, s]]
            x = pol.embed(ops[:, s : s + 1])
        forced, forced_entropy = pol.log_prob(ops)
    torch.testing.assert_close(forced, logp)
    torch.testing.assert_close(forced_entropy, entropy)


def test_masked_ops_are_never_sampled():
    agent = make_agent("rnn-reinforce", nb201(), seed=0)
    agent.policy.op_mask[:3, 0] = False  # forbid 'none' on the first three rows
    with private_rng(agent):
        ops, _ = agent.policy.sample(2000)
    assert not (ops[:, :3] == 0).any()
    assert (ops[:, 3:] == 0).any()


class Accs(BaseCallback):
    def __init__(self):
        super().__init__()
        self.acc: list[float] = []

    def _on_step(self) -> bool:
        self.acc.append(self.locals["infos"][0]["valid_acc"])
        return True


@pytest.mark.parametrize("name", ["rnn-reinforce", "rnn-ppo"])
def test_controller_improves_its_samples(name):
    """The last 100 of 300 queries are better on average than the first 100 (fails if the update is broken)."""
    agent = make_agent(name, nb201(max_queries=300), seed=0, learning_rate=0.01)
    rec = Accs()
    agent.learn(300, callback=rec)
    acc = np.asarray(rec.acc)
    assert acc[-100:].mean() > acc[:100].mean() + 3.0


def test_bad_arguments_are_clear_errors():
    with pytest.raises(ValueError, match="algo must be one of"):
        make_agent("rnn-reinforce", nb201(), algo="a2c")
    with pytest.raises(ValueError, match="num_aggregate"):
        make_agent("rnn-reinforce", nb201(), num_aggregate=0)
