"""Random search, regularized evolution and REINFORCE."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces
from stable_baselines3.common.callbacks import BaseCallback

import nas_gym  # noqa: F401
from nas_gym.agents.baselines import REA, REINFORCE, RandomSearch
from nas_gym.agents.baselines.rea import mutate
from nas_gym.agents.registry import make_agent
from nas_gym.spaces import nb201

torch.set_num_threads(1)


class Queries(BaseCallback):
    def __init__(self):
        super().__init__()
        self.ops: list[tuple[int, ...]] = []
        self.rewards: list[float] = []

    def _on_step(self) -> bool:
        self.ops.append(tuple(int(o) for o in self.locals["actions"][0].argmax(axis=1)))
        self.rewards.append(float(self.locals["rewards"][0]))
        return True


def test_rea_population_ages_and_children_are_one_edge_mutants():
    agent = REA(env=gym.make("NASBench201-v0", max_queries=120), seed=0)
    rec = Queries()
    agent.learn(120, callback=rec)
    assert agent.population_size == 10 and agent.sample_size == 3
    # aging: the population is exactly the last 10 queries, oldest first
    assert list(agent.population) == agent.history[-10:]
    assert [ops for ops, _ in agent.history] == rec.ops
    # after the random initial population, every child differs from some member of the
    # population it was bred from in exactly one edge
    for t in range(10, 120):
        pool = [np.array(ops) for ops, _ in agent.history[t - 10 : t]]
        child = np.array(rec.ops[t])
        assert any((child != parent).sum() == 1 for parent in pool), t


def test_rea_parent_is_the_tournament_winner():
    """With sample size = population size every parent is the population's best."""
    agent = REA(
        env=gym.make("NASBench201-v0", max_queries=80), population_size=5, sample_size=200, seed=1
    )
    rec = Queries()
    agent.learn(80, callback=rec)
    for t in range(5, 80):
        pool = agent.history[t - 5 : t]
        best = np.array(max(pool, key=lambda m: m[1])[0])
        assert (np.array(rec.ops[t]) != best).sum() == 1, t


def test_mutate_changes_exactly_one_row_to_another_op():
    rng_ops = np.array([0, 1, 2, 3, 4, 0])
    np.random.seed(
        0
    )  # the test owns its process' global RNG; REA draws from it under its own states
    for _ in range(200):
        child = mutate(rng_ops, 5)
        assert (child != rng_ops).sum() == 1 and child.max() < 5


def test_random_search_samples_architectures_uniformly():
    agent = RandomSearch(env=gym.make("NASBench201-v0", max_queries=3000), seed=0)
    rec = Queries()
    agent.learn(3000, callback=rec)
    counts = np.bincount(np.array(rec.ops).reshape(-1), minlength=5)  # op frequency over all edges
    assert counts.min() > 0.18 * counts.sum() and counts.max() < 0.22 * counts.sum()
    best = np.argmax(rec.rewards)
    np.testing.assert_array_equal(
        agent.predict(np.zeros((6, 5)), deterministic=True)[0].argmax(axis=1), rec.ops[best]
    )


def test_reinforce_moves_probability_towards_rewarded_ops():
    agent = REINFORCE(env=gym.make("NASBench201-v0", dataset="cifar10", max_queries=400), seed=0)
    agent.learn(400)
    probs = torch.softmax(agent.policy.logits.detach(), dim=1).numpy()
    none = nb201.OPS.index("none")
    conv3 = nb201.OPS.index("nor_conv_3x3")
    # 'none' on an edge hurts NB201 cells; 3x3 convolutions help (Mills 2020, Fig. 4.2)
    assert probs[:, none].mean() < 0.2 < probs[:, conv3].mean()
    assert agent.learning_rate == 0.01 and agent.ema_momentum == 0.9
    assert 0 < agent.baseline < 100


def test_reinforce_baseline_is_a_bias_corrected_moving_average():
    agent = REINFORCE(env=gym.make("NASBench201-v0"), seed=0)
    agent.set_logger(
        __import__("stable_baselines3.common.logger", fromlist=["configure"]).configure(None, [])
    )
    agent._observe(np.zeros(6, dtype=int), 10.0)
    assert agent.baseline == pytest.approx(10.0)
    agent._observe(np.zeros(6, dtype=int), 20.0)
    assert agent.baseline == pytest.approx((0.9 * 0.1 * 10 + 0.1 * 20) / (0.9 * 0.1 + 0.1))


class DartsShaped(gym.Env):
    """An action space without argmax-per-row discretization (DARTS' 2 x 14 x 7)."""

    action_space = spaces.Box(0.0, 1.0, (2, 14, 7), dtype=np.float32)
    observation_space = spaces.Box(0.0, 1.0, (2, 14, 7), dtype=np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros((2, 14, 7), np.float32), {}

    def step(self, action):
        return np.zeros((2, 14, 7), np.float32), 0.0, False, False, {}


@pytest.mark.parametrize("name", ["rs", "rea", "reinforce"])
def test_baselines_refuse_spaces_without_argmax_per_row(name):
    with pytest.raises(ValueError, match="argmax-per-row"):
        make_agent(name, DartsShaped())
