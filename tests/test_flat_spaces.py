"""Flat ``-v1`` ids: 1-D spaces in the row-major alpha layout, same search as ``-v0``."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import nas_gym
from nas_gym.agents.registry import agent_env_kwargs, agent_names, make_agent


def test_every_v0_id_has_a_flat_v1_id():
    ids = [*nas_gym.ENVIRONMENTS, *nas_gym.VARIANTS]
    for env_id in ids:
        v1 = nas_gym.versioned(env_id, "v1")
        for name in (v1, f"{nas_gym.NAMESPACE}/{v1}"):
            assert gym.spec(name).kwargs.get("flat") is True, name
        assert "flat" not in gym.spec(env_id).kwargs  # v0 unchanged


def test_v1_is_v0_flattened_row_major():
    v0 = gym.make("NASBench201-v0", max_queries=30, top_k=4)
    v1 = gym.make("NASBench201-v1", max_queries=30, top_k=4)
    assert v1.action_space.shape == v1.observation_space.shape == (30,)
    assert v1.unwrapped.alpha_shape == v0.action_space.shape == (6, 5)
    o0, _ = v0.reset(seed=1)
    o1, _ = v1.reset(seed=1)
    np.testing.assert_array_equal(o0.reshape(-1), o1)
    rng = np.random.default_rng(0)
    for i in range(30):
        alpha = rng.random((6, 5), dtype=np.float32)
        # v1 takes the flat vector (and still the matrix); flat[5 * edge + op] = alpha[edge, op]
        action = alpha.reshape(-1) if i % 2 else alpha
        s0, s1 = v0.step(alpha), v1.step(action)
        np.testing.assert_array_equal(s0[0].reshape(-1), s1[0])
        assert s0[1:4] == s1[1:4] and s0[4]["arch_str"] == s1[4]["arch_str"]
        assert v1.observation_space.contains(s1[0])


def test_flat_must_be_a_bool():
    with pytest.raises(ValueError, match="flat must be True or False, got 'yes'"):
        gym.make("NASBench201-v0", flat="yes")


@pytest.mark.parametrize("name", agent_names())
def test_every_agent_searches_the_flat_id(name):
    """Our agents read the matrix shape from the env (``alpha_shape``), not the space."""
    env = gym.make("NASBench201-v1", max_queries=12, top_k=4, **agent_env_kwargs(name))
    agent = make_agent(name, env, seed=0, **_tiny(name))
    agent.learn(12)
    action, _ = agent.predict(env.reset(seed=0)[0], deterministic=True)
    assert action.shape == (30,)
    assert env.action_space.contains(np.asarray(action, dtype=np.float32))


def _tiny(name: str) -> dict:
    """Short warm-up phases so 12 steps reach each agent's learning code."""
    from nas_gym.agents.registry import agent_keywords

    keys = agent_keywords(name) or ()
    small = {
        "learning_starts": 4,
        "batch_size": 4,
        "explore_steps": 4,
        "exploit_steps": 4,
        "population_size": 4,
        "sample_size": 2,
    }
    return {k: v for k, v in small.items() if k in keys}


def test_vector_env_flat_matches_single_envs_step_by_step():
    n = 3
    vec = gym.make_vec(
        "NASBench201-v1", num_envs=n, vectorization_mode="vector_entry_point", max_queries=6
    )
    singles = [gym.make("NASBench201-v1", max_queries=6) for _ in range(n)]
    assert vec.single_action_space.shape == (30,) and vec.unwrapped.alpha_shape == (6, 5)
    obs, _ = vec.reset(seed=0)
    np.testing.assert_array_equal(obs, np.stack([e.reset(seed=0)[0] for e in singles]))
    rng = np.random.default_rng(1)
    for _ in range(6):
        actions = rng.random((n, 30), dtype=np.float32)
        obs, rewards, _, truncated, _ = vec.step(actions)
        outs = [e.step(a) for e, a in zip(singles, actions, strict=True)]
        np.testing.assert_array_equal(obs, np.stack([o[0] for o in outs]))
        np.testing.assert_allclose(rewards, [o[1] for o in outs])
        np.testing.assert_array_equal(truncated, [o[3] for o in outs])


def test_proxyless_v1_is_flat_and_takes_both_action_layouts(tmp_path):
    """One supernet id at v1 (tiny): the flag reaches SearchEnv through its constructor."""
    from tests.test_proxyless_env import tiny_proxyless_kwargs

    env = gym.make("ProxylessNAS-v1", **tiny_proxyless_kwargs(tmp_path))
    assert env.action_space.shape == env.observation_space.shape == (21 * 7,)
    assert env.unwrapped.alpha_shape == (21, 7)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (147,)
    alpha = np.random.default_rng(0).random((21, 7), dtype=np.float32)
    flat_info = env.step(alpha.reshape(-1))[4]
    matrix_info = env.step(alpha)[4]
    assert flat_info["arch"] == matrix_info["arch"]
