"""``learn``'s step count: a whole number >= 1, or one clear error before any step.

SB3 itself runs ``learn(-5)`` as no step and ``learn(2.5)`` as three, which would look
like a finished search; our agents refuse both, and accept SB3's idiomatic ``1e3``.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import nas_gym  # noqa: F401  (registers the environments)
from nas_gym.agents.cadam.batched import BatchedCADAM
from nas_gym.agents.registry import agent_env_kwargs, make_agent

BAD = [-5, 0, 2.5, float("nan"), float("inf"), True, "5", None]


def _env(name: str = "cadam") -> gym.Env:
    return gym.make("NASBench201-v0", dataset="cifar10", max_queries=50, **agent_env_kwargs(name))


@pytest.mark.parametrize("name", ["cadam", "ddas-4s", "rs", "rea"])
@pytest.mark.parametrize("total", BAD)
def test_bad_step_counts_are_refused_before_any_step(name, total):
    agent = make_agent(name, _env(name), seed=0)
    with pytest.raises(ValueError, match="total_timesteps must be a whole number of steps >= 1"):
        agent.learn(total)
    assert agent.num_timesteps == 0


@pytest.mark.parametrize("name", ["cadam", "rs"])
@pytest.mark.parametrize("total", [1e1, np.int64(10), np.float32(10.0)])
def test_whole_numbers_of_any_type_run_exactly_that_many_steps(name, total):
    agent = make_agent(name, _env(name), seed=0)
    agent.learn(total)
    assert agent.num_timesteps == 10


@pytest.mark.parametrize("total", [-3, 0, 2.7, [3, 0], "5"])
def test_the_batched_runner_refuses_bad_step_counts(total):
    batched = BatchedCADAM([_env(), _env()], [1, 2])
    with pytest.raises(ValueError, match="total_timesteps must be a whole number of steps >= 1"):
        batched.learn(total)
    assert [agent.num_timesteps for agent in batched.agents] == [0, 0]


def test_the_batched_runner_takes_one_whole_total_per_seed():
    batched = BatchedCADAM([_env(), _env()], [1, 2])
    batched.learn([3, 4.0])
    assert [agent.num_timesteps for agent in batched.agents] == [3, 4]
