"""The built-in agents, registered by name (imported lazily by :mod:`agents.registry`).

Every factory takes ``(env, seed=None, verbose=0, **overrides)``; overrides are
constructor arguments of the agent class, so any hyperparameter can be changed
from the benchmark command line.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym

from agents.baselines import REA, REINFORCE, RandomSearch
from agents.cadam import CADAM
from agents.ddas import DDAS
from agents.registry import register_agent

#: CADAM's paper configuration: top-K state and the 100**acc reward (Mills 2020, Sec. 4.1).
CADAM_ENV = {"observation": "topk", "reward": "cadam"}
#: DDAS sees the last architecture it queried (Mills 2020, Sec. 3.2).
DDAS_ENV = {"observation": "last"}


@register_agent("cadam", env_kwargs=CADAM_ENV, example_kwargs={"actor_learning_rate": 1e-4})
def make_cadam(env: gym.Env, seed: int | None = None, verbose: int = 0, **overrides: Any) -> CADAM:
    """CADAM with the thesis' NAS-Bench-201 settings (Mills 2020, Sec. 4.2.1)."""
    return CADAM("MlpPolicy", env, seed=seed, verbose=verbose, **overrides)


@register_agent("cadam-td3", env_kwargs=CADAM_ENV, example_kwargs={"policy_delay": 3})
def make_cadam_td3(
    env: gym.Env, seed: int | None = None, verbose: int = 0, **overrides: Any
) -> CADAM:
    """CADAM with twin quantile critics (minimum) and delayed actor updates."""
    overrides.setdefault("n_critics", 2)
    overrides.setdefault("policy_delay", 2)
    return CADAM("MlpPolicy", env, seed=seed, verbose=verbose, **overrides)


def _ddas(schedule: str, twin: bool):
    def factory(env: gym.Env, seed: int | None = None, verbose: int = 0, **overrides: Any) -> DDAS:
        overrides.setdefault("schedule", schedule)
        overrides.setdefault("twin", twin)
        return DDAS("MlpPolicy", env, seed=seed, verbose=verbose, **overrides)

    factory.__doc__ = (
        f"DDAS, schedule {schedule!r}, {'TD3' if twin else 'DDPG'} updates (Mills 2020, Ch. 3)."
    )
    return factory


register_agent("ddas-nl", env_kwargs=DDAS_ENV, example_kwargs={"explore_steps": 250})(
    _ddas("nl", False)
)
register_agent("ddas-g", env_kwargs=DDAS_ENV, example_kwargs={"explore_steps": 250})(
    _ddas("g", False)
)
register_agent("ddas-4s", env_kwargs=DDAS_ENV, example_kwargs={"stagnation_steps": 16})(
    _ddas("4s", False)
)
register_agent("ddas-td3", env_kwargs=DDAS_ENV, example_kwargs={"policy_delay": 3})(
    _ddas("4s", True)
)


@register_agent("rs")
def make_rs(
    env: gym.Env, seed: int | None = None, verbose: int = 0, **overrides: Any
) -> RandomSearch:
    """Random search over U(0,1) alphas."""
    return RandomSearch("MlpPolicy", env, seed=seed, verbose=verbose, **overrides)


@register_agent("rea", example_kwargs={"population_size": 20, "sample_size": 5})
def make_rea(env: gym.Env, seed: int | None = None, verbose: int = 0, **overrides: Any) -> REA:
    """Regularized evolution, population 10, sample 3."""
    return REA("MlpPolicy", env, seed=seed, verbose=verbose, **overrides)


@register_agent("reinforce", example_kwargs={"learning_rate": 0.05})
def make_reinforce(
    env: gym.Env, seed: int | None = None, verbose: int = 0, **overrides: Any
) -> REINFORCE:
    """REINFORCE over per-edge categoricals, Adam lr 0.01, EMA baseline 0.9."""
    return REINFORCE("MlpPolicy", env, seed=seed, verbose=verbose, **overrides)
