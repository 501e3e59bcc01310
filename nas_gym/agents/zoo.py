"""The built-in agents, registered by name (imported lazily by :mod:`nas_gym.agents.registry`).

Every factory takes ``(env, seed=None, verbose=0, **overrides)``; overrides are
constructor arguments of the agent class, so any hyperparameter can be changed
from the benchmark command line.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3 import DDPG, TD3
from stable_baselines3.common.noise import NormalActionNoise

from nas_gym.agents.baselines import REA, REINFORCE, RandomSearch
from nas_gym.agents.cadam import CADAM
from nas_gym.agents.ddas import DDAS
from nas_gym.agents.registry import register_agent
from nas_gym.agents.sb3_stock import make_ddpg, make_td3

#: CADAM's paper configuration: top-K state and the 100**acc reward (Mills 2020, Sec. 4.1).
CADAM_ENV = {"observation": "topk", "reward": "cadam"}
#: DDAS sees the last architecture it queried (Mills 2020, Sec. 3.2).
DDAS_ENV = {"observation": "last"}


@register_agent("cadam", env_kwargs=CADAM_ENV, example_kwargs={"actor_learning_rate": 1e-4})
def make_cadam(env: gym.Env, seed: int | None = None, verbose: int = 0, **overrides: Any) -> CADAM:
    """CADAM with the thesis' NAS-Bench-201 settings (Mills 2020, Sec. 4.2.1, 4.4.3).

    Actor lr 1e-4, the value that reproduces Table 4.1 (see ``cadam-printed``).
    """
    return CADAM("MlpPolicy", env, seed=seed, verbose=verbose, **overrides)


@register_agent("cadam-printed", env_kwargs=CADAM_ENV, example_kwargs={"quantile": 0.9})
def make_cadam_printed(
    env: gym.Env, seed: int | None = None, verbose: int = 0, **overrides: Any
) -> CADAM:
    """CADAM exactly as printed in the thesis (Sec. 4.4.3): actor lr 1e-8, a frozen actor."""
    overrides.setdefault("actor_learning_rate", 1e-8)
    return CADAM("MlpPolicy", env, seed=seed, verbose=verbose, **overrides)


@register_agent("cadam-darts", env_kwargs=CADAM_ENV, example_kwargs={"warmup_steps": 10})
def make_cadam_darts(
    env: gym.Env, seed: int | None = None, verbose: int = 0, **overrides: Any
) -> CADAM:
    """CADAM with the thesis' DARTS-supernet settings (Mills 2020, Sec. 4.2.2, 4.4.3).

    K = 500 is the environment's ``top_k``; the thesis runs 20k steps.
    """
    darts = dict(
        quantile=0.95,
        batch_size=64,
        xi=5e-5,
        max_cycles=1,
        exploration="warmup",
        warmup_steps=3000,
        replay_window=5000,
        net_arch=(256, 256, 256),
    )
    return CADAM("MlpPolicy", env, seed=seed, verbose=verbose, **{**darts, **overrides})


@register_agent("cadam-td3", env_kwargs=CADAM_ENV, example_kwargs={"policy_delay": 3})
def make_cadam_td3(
    env: gym.Env, seed: int | None = None, verbose: int = 0, **overrides: Any
) -> CADAM:
    """CADAM-TD3 as TD3 is written: twin critics trained independently, delayed actor ascends Q1."""
    td3 = dict(n_critics=2, policy_delay=2, actor_q="q1")
    return CADAM("MlpPolicy", env, seed=seed, verbose=verbose, **{**td3, **overrides})


@register_agent("cadam-td3-min", env_kwargs=CADAM_ENV, example_kwargs={"policy_delay": 3})
def make_cadam_td3_min(
    env: gym.Env, seed: int | None = None, verbose: int = 0, **overrides: Any
) -> CADAM:
    """CADAM-TD3 with the minimum of the twin critics in the actor's objective (pessimistic)."""
    td3 = dict(n_critics=2, policy_delay=2, actor_q="min")
    return CADAM("MlpPolicy", env, seed=seed, verbose=verbose, **{**td3, **overrides})


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


#: Gaussian action noise std of the TD3-vs-DDPG study (issue 12), in SB3's scaled action
#: units [-1, 1] (SB3 adds the noise after scaling), i.e. 0.05 on the env's Box [0, 1].
ACTION_NOISE_SIGMA = 0.1


def gaussian_action_noise(env: gym.Env, sigma: float = ACTION_NOISE_SIGMA) -> NormalActionNoise:
    """Independent N(0, sigma^2) noise on every action component (Fujimoto et al. 2018, Sec. 6.1)."""
    shape = env.action_space.shape
    return NormalActionNoise(mean=np.zeros(shape), sigma=np.full(shape, sigma))


@register_agent("ddpg-noise", example_kwargs={"learning_starts": 10})
def make_ddpg_noise(
    env: gym.Env, seed: int | None = None, verbose: int = 0, **overrides: Any
) -> DDPG:
    """Stock SB3 DDPG plus Gaussian action noise, sigma 0.1 (stock ``ddpg`` has none)."""
    overrides.setdefault("action_noise", gaussian_action_noise(env))
    return make_ddpg(env, seed=seed, verbose=verbose, **overrides)


@register_agent("td3-noise", example_kwargs={"learning_starts": 10})
def make_td3_noise(
    env: gym.Env, seed: int | None = None, verbose: int = 0, **overrides: Any
) -> TD3:
    """Stock SB3 TD3 plus Gaussian action noise, sigma 0.1 (stock ``td3`` has none)."""
    overrides.setdefault("action_noise", gaussian_action_noise(env))
    return make_td3(env, seed=seed, verbose=verbose, **overrides)


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


# Seed systems (issue 10): GA-NAS, black-box UNAS, ENAS/NASNet-style RNN controllers ------
from nas_gym.agents.ganas import GANAS  # noqa: E402


@register_agent("ganas")
def make_ganas(env: gym.Env, seed: int | None = None, verbose: int = 0, **overrides: Any) -> GANAS:
    """GA-NAS (IJCAI 2021): |X_0| = 50, +50 per iteration, k = 25; budget mode."""
    return GANAS("MlpPolicy", env, seed=seed, verbose=verbose, **overrides)


from nas_gym.agents.rnn import RNNController  # noqa: E402
from nas_gym.agents.unas import UNAS  # noqa: E402


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
