"""Stock Stable-Baselines3 DDPG and TD3, untouched (SB3 defaults, ``"MlpPolicy"``).

They run on the CPU unless an override says otherwise (``device="cuda"``): their
networks are far too small for a GPU to pay.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
from stable_baselines3 import DDPG, TD3

from nas_gym.agents.registry import register_agent


@register_agent("ddpg", example_kwargs={"learning_starts": 10})
def make_ddpg(env: gym.Env, seed: int | None = None, verbose: int = 0, **overrides: Any) -> DDPG:
    return DDPG("MlpPolicy", env, seed=seed, verbose=verbose, **{"device": "cpu", **overrides})


@register_agent("td3", example_kwargs={"learning_starts": 10})
def make_td3(env: gym.Env, seed: int | None = None, verbose: int = 0, **overrides: Any) -> TD3:
    return TD3("MlpPolicy", env, seed=seed, verbose=verbose, **{"device": "cpu", **overrides})
