"""Every registered agent through the same small scenarios (SB3-style shared suite).

Registering an agent adds it to all of these: learn/predict/save/load round trip,
determinism under a seed, SB3 callbacks and the SB3 CSV logger.
"""

from __future__ import annotations

import random

import gymnasium as gym
import numpy as np
import pytest
import torch
from stable_baselines3.common.callbacks import BaseCallback, CheckpointCallback
from stable_baselines3.common.logger import configure

import nas_gym  # noqa: F401  (registers the environments)
from nas_gym.agents.registry import agent_names, make_agent

torch.set_num_threads(1)  # tiny networks: extra threads only contend with xdist workers

STEPS = 40
# stock SB3 (plain or with action noise): untouched, so they seed the global RNGs as SB3 does
STOCK = {"ddpg", "td3", "ddpg-noise", "td3-noise"}


def tiny(name: str) -> dict:
    """Overrides that exercise every phase of an agent within ``STEPS`` queries."""
    if name.startswith("ddas"):
        return dict(
            explore_steps=10, exploit_steps=10, stagnation_steps=3, net_arch=(32, 32), batch_size=8
        )
    if name in STOCK:
        return dict(learning_starts=10, batch_size=8, policy_kwargs=dict(net_arch=[32, 32]))
    if name.startswith("cadam"):
        return dict(net_arch=(32, 32))
    return {}


def make_env(**kwargs) -> gym.Env:
    return gym.make("NASBench201-v0", max_queries=STEPS, **kwargs)


class Recorder(BaseCallback):
    """Counts SB3 callback events and records the architecture of every query."""

    def __init__(self):
        super().__init__()
        self.events = {"training_start": 0, "step": 0, "training_end": 0}
        self.arch_indices: list[int] = []

    def _on_training_start(self) -> None:
        self.events["training_start"] += 1

    def _on_step(self) -> bool:
        self.events["step"] += 1
        self.arch_indices.extend(int(info["arch_index"]) for info in self.locals["infos"])
        return True

    def _on_training_end(self) -> None:
        self.events["training_end"] += 1


def run(name: str, seed: int) -> tuple[object, Recorder]:
    agent = make_agent(name, make_env(), seed=seed, **tiny(name))
    rec = Recorder()
    agent.learn(STEPS, callback=rec)
    return agent, rec


def test_registry_holds_every_agent_of_the_issue():
    assert set(agent_names()) >= {
        "cadam", "cadam-td3", "ddas-nl", "ddas-g", "ddas-4s", "ddas-td3", "ddpg", "td3", "rs", "rea", "reinforce",
    }  # fmt: skip


def test_unknown_agent_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown agent 'nope'; allowed: .*cadam"):
        make_agent("nope", make_env())


@pytest.mark.parametrize("name", agent_names())
def test_learn_predict_save_load_round_trip(name, tmp_path):
    agent, rec = run(name, seed=3)
    assert rec.events == {"training_start": 1, "step": STEPS, "training_end": 1}
    assert len(set(rec.arch_indices)) > 1, "the agent queried a single architecture"
    env = make_env()
    obs, _ = env.reset(seed=0)
    for _ in range(5):
        obs, *_ = env.step(env.action_space.sample())
    before, _ = agent.predict(obs, deterministic=True)
    assert before.shape == env.action_space.shape
    assert np.isfinite(before).all()
    agent.save(tmp_path / "agent.zip")
    loaded = type(agent).load(tmp_path / "agent.zip", env=make_env())
    after, _ = loaded.predict(obs, deterministic=True)
    np.testing.assert_array_equal(before, after)
    loaded.learn(5)  # a loaded agent keeps learning
    assert loaded.num_timesteps == 5


@pytest.mark.parametrize("name", agent_names())
def test_same_seed_same_queries(name):
    _, first = run(name, seed=7)
    _, again = run(name, seed=7)
    _, other = run(name, seed=8)
    assert first.arch_indices == again.arch_indices
    assert first.arch_indices != other.arch_indices


@pytest.mark.parametrize("name", sorted(set(agent_names()) - STOCK))
def test_agents_leave_global_rngs_alone(name):
    """Library code never seeds global RNGs: the caller's streams continue unchanged."""
    random.seed(1), np.random.seed(1), torch.manual_seed(1)
    expected = (random.random(), np.random.random(), torch.rand(1).item())
    random.seed(1), np.random.seed(1), torch.manual_seed(1)
    run(name, seed=5)
    assert (random.random(), np.random.random(), torch.rand(1).item()) == expected


@pytest.mark.parametrize("name", agent_names())
def test_sb3_checkpoint_callback_and_csv_logger(name, tmp_path):
    agent = make_agent(name, make_env(), seed=0, **tiny(name))
    agent.set_logger(configure(str(tmp_path / "log"), ["csv"]))
    ckpt = CheckpointCallback(save_freq=10, save_path=str(tmp_path / "ckpt"), name_prefix=name)
    agent.learn(STEPS, callback=[ckpt], log_interval=1)
    saved = sorted(p.name for p in (tmp_path / "ckpt").glob("*.zip"))
    assert saved == sorted(f"{name}_{n}_steps.zip" for n in (10, 20, 30, 40))
    csv = (tmp_path / "log" / "progress.csv").read_text().splitlines()
    assert len(csv) >= 2 and "time/total_timesteps" in csv[0]
    type(agent).load(tmp_path / "ckpt" / f"{name}_20_steps.zip")


@pytest.mark.parametrize("name", sorted(set(agent_names()) - STOCK))
def test_callback_can_stop_learning(name):
    class StopAt(BaseCallback):
        def _on_step(self) -> bool:
            return self.num_timesteps < 12

    agent = make_agent(name, make_env(), seed=0, **tiny(name))
    agent.learn(STEPS, callback=StopAt())
    assert agent.num_timesteps == 12
