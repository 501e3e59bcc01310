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


@register_agent("cadam")
def make_cadam(env: gym.Env, seed: int | None = None, verbose: int = 0, **overrides: Any) -> CADAM:
    """CADAM with the thesis' NAS-Bench-201 settings (Mills 2020, Sec. 4.2.1)."""
    return CADAM("MlpPolicy", env, seed=seed, verbose=verbose, **overrides)


@register_agent("cadam-td3")
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


register_agent("ddas-nl")(_ddas("nl", False))
register_agent("ddas-g")(_ddas("g", False))
register_agent("ddas-4s")(_ddas("4s", False))
register_agent("ddas-td3")(_ddas("4s", True))


@register_agent("rs")
def make_rs(
    env: gym.Env, seed: int | None = None, verbose: int = 0, **overrides: Any
) -> RandomSearch:
    """Random search over U(0,1) alphas."""
    return RandomSearch("MlpPolicy", env, seed=seed, verbose=verbose, **overrides)


@register_agent("rea")
def make_rea(env: gym.Env, seed: int | None = None, verbose: int = 0, **overrides: Any) -> REA:
    """Regularized evolution, population 10, sample 3."""
    return REA("MlpPolicy", env, seed=seed, verbose=verbose, **overrides)


@register_agent("reinforce")
def make_reinforce(
    env: gym.Env, seed: int | None = None, verbose: int = 0, **overrides: Any
) -> REINFORCE:
    """REINFORCE over per-edge categoricals, Adam lr 0.01, EMA baseline 0.9."""
    return REINFORCE("MlpPolicy", env, seed=seed, verbose=verbose, **overrides)


# Seed systems (issue 10): GA-NAS, black-box UNAS, ENAS/NASNet-style RNN controllers ------
from agents.ganas import GANAS  # noqa: E402


@register_agent("ganas")
def make_ganas(env: gym.Env, seed: int | None = None, verbose: int = 0, **overrides: Any) -> GANAS:
    """GA-NAS (IJCAI 2021): |X_0| = 50, +50 per iteration, k = 25; budget mode."""
    return GANAS("MlpPolicy", env, seed=seed, verbose=verbose, **overrides)


from agents.rnn import RNNController  # noqa: E402
from agents.unas import UNAS  # noqa: E402


@register_agent("unas")
def make_unas(env: gym.Env, seed: int | None = None, verbose: int = 0, **overrides: Any) -> UNAS:
    """Black-box UNAS: RELAX with ridge-fitted linear surrogates, tau 0.4, Adam lr 0.01."""
    return UNAS("MlpPolicy", env, seed=seed, verbose=verbose, **overrides)


@register_agent("unas-reinforce")
def make_unas_reinforce(
    env: gym.Env, seed: int | None = None, verbose: int = 0, **overrides: Any
) -> UNAS:
    """Black-box UNAS' REINFORCE special case: EMA baseline 0.9, Adam lr 0.01."""
    overrides.setdefault("estimator", "reinforce")
    return UNAS("MlpPolicy", env, seed=seed, verbose=verbose, **overrides)


@register_agent("rnn-reinforce")
def make_rnn_reinforce(
    env: gym.Env, seed: int | None = None, verbose: int = 0, **overrides: Any
) -> RNNController:
    """ENAS controller (NB201's settings): 2x32 LSTM, REINFORCE, entropy 1e-4, baseline 0.99."""
    return RNNController("MlpPolicy", env, seed=seed, verbose=verbose, **overrides)


@register_agent("rnn-ppo")
def make_rnn_ppo(
    env: gym.Env, seed: int | None = None, verbose: int = 0, **overrides: Any
) -> RNNController:
    """NASNet-style controller trained by PPO (1x100 LSTM from memory of Zoph et al., unverified)."""
    overrides.setdefault("algo", "ppo")
    overrides.setdefault("hidden", 100)
    overrides.setdefault("lstm_layers", 1)
    return RNNController("MlpPolicy", env, seed=seed, verbose=verbose, **overrides)
