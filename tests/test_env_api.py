"""API tests run on every registered environment (tiny configurations from env_configs)."""

from __future__ import annotations

import pickle

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env

import nas_gym
from tests.env_configs import TINY_KWARGS

# Every id at v0, plus the cheap NB201 one at v1 (flat spaces); the slow supernets' v1
# ids differ only in the flat flag, covered in test_flat_spaces.py.
ENV_IDS = [*sorted(nas_gym.ENVIRONMENTS), "NASBench201-v1"]


@pytest.fixture(params=ENV_IDS)
def env_id_kwargs(request, tmp_path_factory):
    return request.param, TINY_KWARGS[request.param](tmp_path_factory)


def _actions(env: gym.Env, n: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.random(env.action_space.shape, dtype=np.float32) for _ in range(n)]


def test_every_env_has_tiny_config():
    assert set(ENV_IDS) == set(TINY_KWARGS), "add a tiny configuration to tests/env_configs.py"


def test_import_does_not_pull_torch():
    import subprocess
    import sys

    code = "import sys, nas_gym, gymnasium as gym; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_gymnasium_checker(env_id_kwargs):
    env_id, kwargs = env_id_kwargs
    env = gym.make(env_id, **kwargs)
    gym_check_env(env.unwrapped, skip_render_check=True)


def test_sb3_checker(env_id_kwargs):
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    env_id, kwargs = env_id_kwargs
    sb3_check_env(gym.make(env_id, **kwargs).unwrapped, warn=True)


def test_step_types_and_spaces(env_id_kwargs):
    env_id, kwargs = env_id_kwargs
    env = gym.make(env_id, **kwargs)
    obs, info = env.reset(seed=3)
    assert env.observation_space.contains(obs) and isinstance(info, dict)
    assert env.action_space.dtype == np.float32 and env.observation_space.dtype == np.float32
    for action in _actions(env, 3, 0):
        obs, reward, terminated, truncated, info = env.step(action)
        assert type(reward) is float and np.isfinite(reward)
        assert type(terminated) is bool and type(truncated) is bool
        assert env.observation_space.contains(obs)
        assert info["n_queries"] >= 1


def test_flat_action_accepted(env_id_kwargs):
    env_id, kwargs = env_id_kwargs
    env = gym.make(env_id, **kwargs)
    env.reset(seed=0)
    action = _actions(env, 1, 5)[0]
    _, r_flat, *_ = env.step(action.reshape(-1))
    env.reset(seed=0)
    _, r_mat, *_ = env.step(action)
    assert r_flat == r_mat


@pytest.mark.parametrize(
    "bad, match",
    [
        ("nan", "NaN or inf"),
        ("inf", "NaN or inf"),
        ("shape", "shape"),
        ("strings", "numeric"),
    ],
)
def test_bad_actions_raise_clear_errors(env_id_kwargs, bad, match):
    env_id, kwargs = env_id_kwargs
    env = gym.make(env_id, **kwargs).unwrapped
    env.reset(seed=0)
    action = _actions(env, 1, 0)[0]
    if bad == "nan":
        action.flat[3] = np.nan
    elif bad == "inf":
        action.flat[0] = np.inf
    elif bad == "shape":
        action = np.zeros((3, 3), dtype=np.float32)
    else:
        action = np.array(["a"] * action.size).reshape(action.shape)
    with pytest.raises(ValueError, match=match):
        env.step(action)


def test_deterministic_given_actions(env_id_kwargs):
    env_id, kwargs = env_id_kwargs
    actions = None
    runs = []
    for _ in range(2):
        env = gym.make(env_id, **kwargs)
        obs, _ = env.reset(seed=11)
        actions = actions or _actions(env, 4, 1)
        trace = [obs]
        for a in actions:
            obs, r, _, _, info = env.step(a)
            trace += [obs, r, {k: v for k, v in info.items() if np.isscalar(v)}]
        runs.append(trace)
    for a, b in zip(*runs, strict=True):
        if isinstance(a, np.ndarray):
            np.testing.assert_array_equal(a, b)
        else:
            assert a == b


def test_pickle_round_trip_mid_episode(env_id_kwargs):
    env_id, kwargs = env_id_kwargs
    env = gym.make(env_id, **kwargs).unwrapped
    env.reset(seed=0)
    first, second = _actions(env, 2, 2)
    env.step(first)
    clone = pickle.loads(pickle.dumps(env))
    out_a = env.step(second)
    out_b = clone.step(second)
    np.testing.assert_array_equal(out_a[0], out_b[0])
    assert out_a[1] == out_b[1]
    assert out_a[4]["n_queries"] == out_b[4]["n_queries"] == 2


def test_truncates_at_query_budget(env_id_kwargs):
    env_id, kwargs = env_id_kwargs
    budget = 3
    env = gym.make(env_id, **{**kwargs, "max_queries": budget})
    env.reset(seed=0)
    flags = [env.step(a)[3] for a in _actions(env, budget, 4)]
    assert flags == [False] * (budget - 1) + [True]
    with pytest.raises(RuntimeError, match="budget"):
        env.step(_actions(env, 1, 9)[0])
    _, info = env.reset()
    assert info["n_queries"] == 0


def test_sync_and_async_vector_envs(env_id_kwargs):
    env_id, kwargs = env_id_kwargs
    results = []
    for cls in (gym.vector.SyncVectorEnv, gym.vector.AsyncVectorEnv):
        venv = cls([lambda: gym.make(env_id, **kwargs) for _ in range(2)])
        try:
            venv.reset(seed=[0, 1])
            rng = np.random.default_rng(7)
            shape = (2, *venv.single_action_space.shape)
            rewards = [venv.step(rng.random(shape, dtype=np.float32))[1].tolist() for _ in range(2)]
        finally:
            venv.close()
        results.append(rewards)
    assert results[0] == results[1]
    assert all(np.isfinite(r).all() for r in results[0])


def test_op_mask_is_read_only_and_returned_by_reset(env_id_kwargs):
    env_id, kwargs = env_id_kwargs
    env = gym.make(env_id, **kwargs)
    _, info = env.reset(seed=0)
    mask = env.unwrapped.op_mask
    assert mask.dtype == bool and mask.shape == env.action_space.shape
    np.testing.assert_array_equal(info["op_mask"], mask)
    for array in (mask, info["op_mask"]):
        with pytest.raises(ValueError, match="read-only"):
            array[(0,) * mask.ndim] = not mask[(0,) * mask.ndim]


@pytest.mark.parametrize("name", ["nb201", "proxyless"])
def test_op_mask_true_exactly_where_the_op_is_executed_as_proposed(name):
    """Put the largest alpha on one (row, op): the row keeps that op iff the mask says so."""
    import importlib

    space = importlib.import_module(f"nas_gym.spaces.{name}")
    mask = space.op_mask()
    assert mask.shape == space.SHAPE
    for row in range(space.SHAPE[0]):
        for op in range(space.SHAPE[1]):
            alpha = np.zeros(space.SHAPE, dtype=np.float32)
            alpha[row, op] = 1.0
            assert (space.discretize(alpha)[row] == op) == mask[row, op], (row, op)
    if name == "nb201":
        assert mask.all()
    else:
        assert (~mask).sum() == 6 and mask[:, :-1].all()  # only `zero`, on 6 stage starts


@pytest.mark.parametrize("with_none", [False, True])
def test_darts_op_mask_excludes_none_only_when_present(with_none):
    from nas_gym.spaces import darts

    mask = darts.op_mask(with_none)
    assert mask.shape == darts.shape(with_none)
    if with_none:
        assert not mask[..., 0].any() and mask[..., 1:].all()
        alpha = np.zeros(mask.shape, dtype=np.float32)
        alpha[..., 0] = 1.0  # the largest entries all on `none`: never selected
        assert darts.discretize(alpha, with_none)[..., 0].sum() == 0
    else:
        assert mask.all()


def test_sb3_make_vec_env_builds_every_id(env_id_kwargs):
    """make_vec_env first asks for render_mode="rgb_array" and falls back on TypeError:
    every env must raise UnsupportedRenderMode (a TypeError) for it."""
    from stable_baselines3.common.env_util import make_vec_env

    from nas_gym.envs.common import UnsupportedRenderMode

    env_id, kwargs = env_id_kwargs
    with pytest.raises(UnsupportedRenderMode, match="unknown render_mode 'rgb_array'"):
        gym.make(env_id, **kwargs, render_mode="rgb_array")
    venv = make_vec_env(env_id, n_envs=1, seed=0, env_kwargs=kwargs)
    try:
        venv.reset()
        obs, reward, done, info = venv.step(_actions(venv, 1, 3)[0][None])
        assert obs.shape == (1, *venv.observation_space.shape) and np.isfinite(reward).all()
    finally:
        venv.close()
