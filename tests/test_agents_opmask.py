"""Every categorical agent respects the env's op mask: the cell executed is the cell proposed.

ProxylessNAS-v0 forbids ``zero`` on the first layer of each stage and executes
another op there; an agent that ignores ``env.unwrapped.op_mask`` learns from a
cell it did not query. Uniform proposals hit a forbidden op with probability
1 - (6/7)^6 = 0.60 per query. Each query scores the tiny supernet (about 0.5
CPU-s), so each agent makes 3 real queries (a broken agent passes with
probability 0.4^3) and then 100 proposals are checked against the env's own
discretization without querying (a broken agent passes with probability ~0).
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

import nas_gym  # noqa: F401
from nas_gym.agents.baselines.rea import mutate
from nas_gym.agents.common.discrete import env_op_mask
from nas_gym.agents.common.rng import private_rng
from nas_gym.agents.registry import make_agent
from nas_gym.spaces import proxyless

torch.set_num_threads(1)

CATEGORICAL = (
    "rs",
    "rea",
    "reinforce",
    "ganas",
    "unas",
    "unas-reinforce",
    "rnn-reinforce",
    "rnn-ppo",
)
TINY = {  # make GA-NAS reach its generator within a few queries
    "ganas": dict(initial_size=2, increment=2, k=2, alternations=1, d_steps=2, d_batch=4,
                  ppo_rollouts=1, ppo_batch=8, ppo_epochs=1, hidden=16, n_layers=1),
    "rea": dict(population_size=2, sample_size=2),
}  # fmt: skip


@pytest.fixture(scope="module")
def env_kwargs(tmp_path_factory) -> dict:
    from tests.test_proxyless_env import tiny_proxyless_kwargs

    return {**tiny_proxyless_kwargs(tmp_path_factory.mktemp("cifar")), "max_queries": 50}


class Proposed(gym.Wrapper):
    """Records the cell each action proposes (row argmax) and the cell the env executed."""

    def __init__(self, env: gym.Env):
        super().__init__(env)
        self.pairs: list[tuple[tuple[int, ...], tuple[int, ...]]] = []

    def step(self, action):
        out = self.env.step(action)
        proposed = tuple(int(o) for o in np.asarray(action).reshape(proxyless.SHAPE).argmax(1))
        self.pairs.append((proposed, proxyless.str_to_ops(out[4]["arch"])))
        return out


def test_the_mask_is_read_through_wrappers_and_vec_envs(env_kwargs):
    env = gym.make("ProxylessNAS-v0", **env_kwargs)
    np.testing.assert_array_equal(env_op_mask(env, proxyless.SHAPE), proxyless.op_mask())
    agent = make_agent("rs", env, seed=0)  # SB3 wraps it in a DummyVecEnv
    np.testing.assert_array_equal(agent.op_mask, proxyless.op_mask())
    assert env_op_mask(object(), (3, 4)).all()  # no attribute: everything allowed


@pytest.mark.parametrize("name", CATEGORICAL)
def test_executed_cell_equals_proposed_cell_on_proxyless(name, env_kwargs):
    env = Proposed(gym.make("ProxylessNAS-v0", **env_kwargs))
    agent = make_agent(name, env, seed=0, **TINY.get(name, {}))
    agent.learn(3)
    assert len(env.pairs) == 3
    for proposed, executed in env.pairs:
        assert proposed == executed
    # many more proposals, without queries: never a forbidden op (the env's own rule)
    with private_rng(agent):
        for _ in range(100):
            alpha = agent._propose_alpha()
            assert proxyless.discretize(alpha) == tuple(alpha.argmax(1))


def test_rea_mutation_respects_the_mask():
    mask = proxyless.op_mask()
    rng_state = np.random.get_state()
    try:
        np.random.seed(0)
        parent = np.array(proxyless.sample_ops(np.random.default_rng(0)))
        for _ in range(500):
            child = mutate(parent, proxyless.N_OPS, mask)
            assert mask[np.arange(len(child)), child].all()
            assert (child != parent).sum() == 1
    finally:
        np.random.set_state(rng_state)
