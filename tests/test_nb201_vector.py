"""The native vector NASBench201-v0 behaves exactly like N single environments."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import nas_gym  # noqa: F401  (registers the ids)
from nas_gym.envs.nb201_vector import NASBench201VectorEnv
from nas_gym.spaces import nb201 as space

pytestmark = pytest.mark.skipif(
    int(gym.__version__.split(".")[0]) < 1, reason="the vector API of gymnasium>=1.0"
)


def _assert_same_info(native: dict, sync: dict, step: int) -> None:
    assert sorted(native) == sorted(sync), f"step {step}: info keys differ"
    for key in sync:
        if key.startswith("_"):
            np.testing.assert_array_equal(native[key], sync[key], err_msg=f"{key} @ {step}")
            continue
        mask = sync[f"_{key}"]
        got, want = native[key][mask], sync[key][mask]
        if want.dtype == object:
            assert got.tolist() == want.tolist(), f"{key} @ {step}"
        else:
            assert got.dtype.kind == want.dtype.kind, f"{key} dtype @ {step}"
            np.testing.assert_array_equal(got, want, err_msg=f"{key} @ {step}")


def _actions(rng: np.random.Generator, n: int, step: int) -> np.ndarray:
    """Random actions, with repeats of earlier cells (re-queries) and score ties."""
    acts = rng.random((n, *space.SHAPE), dtype=np.float32)
    if step % 3 == 0:  # a few fixed cells: re-queries and many equal scores
        ops = rng.integers(0, 2, size=(n, space.N_EDGES))
        acts = np.zeros((n, *space.SHAPE), dtype=np.float32)
        acts[np.arange(n)[:, None], np.arange(space.N_EDGES), ops] = 1.0
    return acts


@pytest.mark.parametrize(
    "kwargs",
    [
        {"top_k": 4, "max_queries": 25},
        {"observation": "last", "reward": "accuracy", "dataset": "cifar100", "max_queries": 9},
        {"top_k": 3, "max_queries": 12, "reward_metric": "test", "fidelity": 12},
    ],
)
def test_matches_n_single_envs_step_by_step(nb201_table, kwargs):
    n = 5
    native = gym.make_vec(
        "NASBench201-v0",
        num_envs=n,
        vectorization_mode="vector_entry_point",
        table=nb201_table,
        **kwargs,
    )
    assert isinstance(native.unwrapped, NASBench201VectorEnv)
    sync = gym.make_vec(
        "NASBench201-v0", num_envs=n, vectorization_mode="sync", table=nb201_table, **kwargs
    )
    assert native.observation_space == sync.observation_space
    assert native.action_space == sync.action_space
    obs_n, info_n = native.reset(seed=1)
    obs_s, info_s = sync.reset(seed=1)
    np.testing.assert_array_equal(obs_n, obs_s)
    _assert_same_info(info_n, info_s, -1)
    rng = np.random.default_rng(0)
    n_truncations = 0
    for step in range(2 * kwargs["max_queries"] + 3):  # crosses two autoresets
        acts = _actions(rng, n, step)
        out_n, out_s = native.step(acts), sync.step(acts)
        np.testing.assert_array_equal(out_n[0], out_s[0], err_msg=f"obs @ {step}")
        assert out_n[0].dtype == out_s[0].dtype
        np.testing.assert_array_equal(out_n[1], out_s[1], err_msg=f"reward @ {step}")
        np.testing.assert_array_equal(out_n[2], out_s[2])
        np.testing.assert_array_equal(out_n[3], out_s[3], err_msg=f"truncated @ {step}")
        _assert_same_info(out_n[4], out_s[4], step)
        n_truncations += int(out_s[3].sum())
    assert n_truncations == 2 * n
    native.close()
    sync.close()


def test_flat_actions_and_clear_errors(nb201_table):
    env = NASBench201VectorEnv(3, table=nb201_table, max_queries=4)
    env.reset()
    flat = np.zeros((3, 30), dtype=np.float32)
    flat[:, 3::5] = 1.0  # nor_conv_3x3 on every edge
    info = env.step(flat)[4]
    assert (
        info["arch_str"].tolist()
        == [
            "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
        ]
        * 3
    )
    with pytest.raises(ValueError, match=r"shape \(2, 6, 5\); expected \(3, 6, 5\)"):
        env.step(np.zeros((2, 6, 5)))
    bad = np.zeros((3, 6, 5))
    bad[2, 1, 1] = np.nan
    with pytest.raises(ValueError, match="sub-environment 2 contains NaN"):
        env.step(bad)
    with pytest.raises(ValueError, match=r"does not support \['cost'\].*vectorization_mode='sync'"):
        NASBench201VectorEnv(2, table=nb201_table, cost="edgegpu_latency")
    with pytest.raises(ValueError, match="num_envs must be a positive integer"):
        NASBench201VectorEnv(0, table=nb201_table)
