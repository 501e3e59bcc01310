"""``ddpg-noise`` / ``td3-noise``: stock SB3 DDPG / TD3 plus Gaussian action noise (issue 12).

The TD3-vs-DDPG study (docs/td3_vs_ddpg.md) runs stock SB3 both with its default (no
action noise) and with N(0, 0.1^2) noise; these tests check the noise is really there.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.noise import NormalActionNoise

import nas_gym  # noqa: F401  (registers the environments)
from nas_gym.agents.registry import make_agent

torch.set_num_threads(1)

STEPS, WARMUP = 30, 10
TINY = dict(learning_starts=WARMUP, batch_size=8, policy_kwargs=dict(net_arch=[16, 16]))


class ActorDeviation(BaseCallback):
    """Per step: the env action minus the actor's deterministic action on the same state."""

    def __init__(self):
        super().__init__()
        self.deviation: list[np.ndarray] = []

    def _on_step(self) -> bool:
        # SB3 calls on_step after env.step and before storing the transition, so
        # _last_obs is still the state the action was chosen on (and no update ran since)
        if self.num_timesteps > WARMUP:
            actor, _ = self.model.predict(self.model._last_obs, deterministic=True)
            self.deviation.append(self.locals["actions"] - actor)
        return True


def deviation(name: str) -> np.ndarray:
    env = gym.make("NASBench201-v0", max_queries=STEPS)
    agent = make_agent(name, env, seed=4, **TINY)
    rec = ActorDeviation()
    agent.learn(STEPS, callback=rec)
    return np.concatenate(rec.deviation).ravel()


@pytest.mark.parametrize("name", ["ddpg-noise", "td3-noise"])
def test_noise_agents_carry_gaussian_sigma_0_1_of_the_action_shape(name):
    for env_id, shape in (("NASBench201-v0", (6, 5)), ("NASBench201-v1", (30,))):
        agent = make_agent(name, gym.make(env_id), seed=0)
        noise = agent.action_noise
        assert isinstance(noise, NormalActionNoise)
        assert noise().shape == shape
        np.testing.assert_array_equal(noise._sigma, np.full(shape, 0.1))
        np.testing.assert_array_equal(noise._mu, np.zeros(shape))
    assert make_agent(name.removesuffix("-noise"), gym.make("NASBench201-v0")).action_noise is None


@pytest.mark.parametrize("plain", ["ddpg", "td3"])
def test_the_noise_reaches_the_environment(plain):
    """After warm-up: stock agents act their actor exactly; the noisy twins add N(0, 0.1^2).

    The std 0.1 is in SB3's scaled units [-1, 1], i.e. 0.05 on the Box [0, 1], before
    clipping to the box, so the mean |deviation| is at most E|N(0, 0.05^2)| = 0.04.
    """
    np.testing.assert_allclose(deviation(plain), 0.0, atol=1e-6)
    noisy = np.abs(deviation(f"{plain}-noise"))
    assert (noisy > 1e-6).mean() > 0.5
    assert 0.01 < noisy.mean() < 0.045
