"""The SearchEnv mechanics shared by every environment: budget units, step cap,
registration (namespace, variants, max_episode_steps), pickling by reference."""

from __future__ import annotations

import pickle

import gymnasium as gym
import numpy as np
import pytest

import nas_gym
from nas_gym.spaces import nb201 as space

TINY = {"dataset": "cifar100", "top_k": 4}


def _one_hot(index: int) -> np.ndarray:
    return space.ops_to_discrete(space.index_to_ops(index))


def test_query_budget_counts_every_step_including_repeats():
    env = gym.make("NASBench201-v0", **TINY, max_queries=3).unwrapped
    env.reset(seed=0)
    a = _one_hot(10)
    flags = [env.step(a)[3] for _ in range(3)]
    assert flags == [False, False, True]
    with pytest.raises(RuntimeError, match="query budget of 3 spent"):
        env.step(a)


def test_unique_budget_makes_repeats_free_and_counts_queries_separately():
    env = gym.make("NASBench201-v0", **TINY, max_queries=2, budget_unit="unique").unwrapped
    env.reset(seed=0)
    infos = [env.step(_one_hot(i))[4] for i in (10, 10, 10)]
    assert [i["n_queries"] for i in infos] == [1, 2, 3]
    assert [i["n_unique_queries"] for i in infos] == [1, 1, 1]
    *_, truncated, info = env.step(_one_hot(11))
    assert truncated and info["n_unique_queries"] == 2 and info["n_queries"] == 4
    assert info["step_cap_reached"] is False
    with pytest.raises(RuntimeError, match="query budget of 2 spent"):
        env.step(_one_hot(12))


def test_unique_budget_step_cap_ends_an_endless_episode():
    env = gym.make(
        "NASBench201-v0", **TINY, max_queries=5, budget_unit="unique", max_steps=6
    ).unwrapped
    env.reset(seed=0)
    flags = [env.step(_one_hot(7))[3:] for _ in range(6)]
    assert [f[0] for f in flags] == [False] * 5 + [True]
    assert flags[-1][1]["step_cap_reached"] is True and flags[-1][1]["n_unique_queries"] == 1
    with pytest.raises(RuntimeError, match="max_steps=6"):
        env.step(_one_hot(8))
    default = gym.make("NASBench201-v0", **TINY, max_queries=5, budget_unit="unique").unwrapped
    assert default.max_steps == 500  # 100 x max_queries, documented default


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"budget_unit": "arch"}, "unknown budget_unit 'arch'; allowed: 'query', 'unique'"),
        ({"max_steps": 0, "budget_unit": "unique"}, "max_steps must be a positive integer"),
        ({"max_steps": 900}, "max_steps=900 applies to budget_unit='unique' only"),
        (
            {"max_queries": 5, "max_steps": 4, "budget_unit": "unique"},
            r"max_steps \(4\) must be >=",
        ),
    ],
)
def test_bad_budget_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        gym.make("NASBench201-v0", **{**TINY, **kwargs})


def test_spec_max_episode_steps_follows_the_budget_without_a_time_limit_wrapper():
    env = gym.make("NASBench201-v0", **TINY, max_queries=7)
    assert env.spec.max_episode_steps == 7
    assert "TimeLimit" not in str(env)
    env = gym.make("NASBench201-v0", **TINY, max_queries=7, budget_unit="unique", max_steps=20)
    assert env.spec.max_episode_steps == 20


def test_namespace_and_plain_ids_build_the_same_env():
    plain = gym.make("NASBench201-v0", **TINY, max_queries=3).unwrapped
    spaced = gym.make("nas_gym/NASBench201-v0", **TINY, max_queries=3).unwrapped
    assert type(plain) is type(spaced)
    for env_id in [*nas_gym.ENVIRONMENTS, *nas_gym.VARIANTS]:
        assert gym.spec(env_id).entry_point == gym.spec(f"nas_gym/{env_id}").entry_point


def test_darts_variants_spell_out_each_papers_configuration():
    from nas_gym.envs.darts import MODE_DEFAULTS

    for env_id, mode in (
        ("DARTSSupernet-DDAS-v0", "parallel"),
        ("DARTSSupernet-CADAM-v0", "sequential"),
    ):
        kwargs = gym.spec(env_id).kwargs
        assert kwargs == {"mode": mode, **MODE_DEFAULTS[mode]}
    with pytest.raises(ValueError, match="needs checkpoint=PATH"):
        gym.make("DARTSSupernet-CADAM-v0")


def test_table_pickles_by_reference():
    env = gym.make("NASBench201-v0", **TINY, max_queries=3).unwrapped
    env.reset(seed=0)
    env.step(_one_hot(3))
    blob = pickle.dumps(env)
    assert len(blob) < 20_000  # the table and its columns travel as their loader + source
    clone = pickle.loads(blob)
    assert clone.step(_one_hot(4))[4] == env.step(_one_hot(4))[4]
