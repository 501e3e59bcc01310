"""A finished search stays readable after the reset that ends it.

SB3's vector envs reset an environment at the step that spends its budget, so after
``agent.learn(max_queries)`` the running search is already a new, empty one. ``reset()``
keeps the search it ends as ``env.unwrapped.last_search``; the result readers take
``search="last"`` for it and read the running search by default.
"""

from __future__ import annotations

import pickle
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.vec_env import DummyVecEnv

import nas_gym
from nas_gym.agents.registry import make_agent
from nas_gym.envs.nb201 import NASBench201Env
from nas_gym.envs.search import SearchEnv, SearchResult
from nas_gym.spaces import nb201 as space
from tests.env_configs import TINY_KWARGS

NB201 = {"dataset": "cifar100", "top_k": 4}


class InfoLog(BaseCallback):
    """Every info dict the (single) environment emitted during ``learn``."""

    def __init__(self) -> None:
        super().__init__()
        self.infos: list[dict[str, Any]] = []

    def _on_step(self) -> bool:
        self.infos.append(dict(self.locals["infos"][0]))
        return True


def _topk_from_infos(infos: list[dict[str, Any]], k: int) -> list[int]:
    """Brute-force top-K of one episode: best valid_acc first, ties to the first seen."""
    first: dict[int, int] = {}
    acc: dict[int, float] = {}
    for step, info in enumerate(infos):
        first.setdefault(info["arch_index"], step)
        acc[info["arch_index"]] = info["valid_acc"]
    return sorted(first, key=lambda i: (-acc[i], first[i]))[:k]


def _assert_is_episode(result: SearchResult, infos: list[dict[str, Any]], top_k: int) -> None:
    last = infos[-1]
    assert result.n_queries == last["n_queries"] == len(infos)
    assert result.n_unique_queries == last["n_unique_queries"]
    assert set(result.best) == set(NASBench201Env.BEST_INFO)
    assert result.best == {key: last[key] for key in result.best}
    assert list(result.topk) == _topk_from_infos(infos, top_k)
    best = max(infos, key=lambda i: i["valid_acc"])
    assert result.best["best_valid_acc"] == best["valid_acc"]


def _assert_empty(env: SearchEnv) -> None:
    now = env.search_result()
    assert (now.n_queries, now.n_unique_queries, now.topk) == (0, 0, ())
    assert now.best["best_arch_index"] == -1 and now.best["best_valid_acc"] is None
    assert env.topk_indices() == []


@pytest.mark.parametrize("agent_name", ["rs", "cadam"])
def test_learn_whole_budget_keeps_the_finished_search(agent_name):
    budget = 12
    env = gym.make("NASBench201-v0", **NB201, max_queries=budget)
    agent = make_agent(agent_name, env, seed=1)
    log = InfoLog()
    agent.learn(budget, callback=log)
    inner = env.unwrapped
    assert len(log.infos) == budget and log.infos[-1]["n_queries"] == budget
    _assert_is_episode(inner.last_search, log.infos, inner.top_k)
    assert inner.search_result("last") is inner.last_search
    assert inner.topk_indices(search="last") == _topk_from_infos(log.infos, inner.top_k)
    _assert_empty(inner)  # SB3 reset the env at the last step: the running search is new


def test_learn_below_budget_leaves_the_search_running():
    env = gym.make("NASBench201-v0", **NB201, max_queries=12)
    log = InfoLog()
    make_agent("rs", env, seed=1).learn(7, callback=log)
    inner = env.unwrapped
    assert inner.last_search is None  # no reset ended a search with a query
    _assert_is_episode(inner.search_result(), log.infos, inner.top_k)
    with pytest.raises(RuntimeError, match="no search has ended yet"):
        inner.topk_indices(search="last")


def test_dummy_vec_env_autoreset_keeps_each_finished_episode():
    budget = 5
    vec = DummyVecEnv([lambda: gym.make("NASBench201-v0", **NB201, max_queries=budget)])
    vec.seed(0)
    vec.reset()
    rng = np.random.default_rng(0)
    episodes: list[list[dict[str, Any]]] = [[]]
    for _ in range(2 * budget + 2):
        _, _, dones, infos = vec.step(rng.random((1, 6, 5), dtype=np.float32))
        episodes[-1].append(infos[0])
        if dones[0]:
            (result,) = vec.get_attr("last_search")
            _assert_is_episode(result, episodes[-1], NB201["top_k"])
            (now,) = vec.env_method("search_result")
            assert now.n_queries == 0 and now.topk == ()
            episodes.append([])
    assert [len(e) for e in episodes] == [budget, budget, 2]
    inner = vec.envs[0].unwrapped
    _assert_is_episode(inner.search_result(), episodes[-1], NB201["top_k"])
    _assert_is_episode(inner.last_search, episodes[1], NB201["top_k"])  # not the first
    assert vec.env_method("topk_indices", search="last") == [
        _topk_from_infos(episodes[1], NB201["top_k"])
    ]


def _step(env: gym.Env, indices: list[int]) -> list[dict[str, Any]]:
    return [env.step(space.ops_to_discrete(space.index_to_ops(i)))[4] for i in indices]


def test_reset_mid_episode_keeps_it_and_an_empty_reset_keeps_the_previous_one():
    env = gym.make("NASBench201-v0", **NB201, max_queries=20).unwrapped
    obs, _ = env.reset(seed=0)
    infos = _step(env, [10, 11, 10, 400])
    env.reset()  # interrupted, not finished: still a search worth keeping
    _assert_is_episode(env.last_search, infos, env.top_k)
    kept = env.last_search
    env.reset()  # nothing searched since: the record is not overwritten with nothing
    assert env.last_search is kept
    _assert_empty(env)
    _step(env, [5, 6, 7])  # later steps do not touch the kept record
    assert env.last_search.n_queries == 4 and env.topk_indices(search="last") == list(kept.topk)
    clone = pickle.loads(pickle.dumps(env))
    assert clone.last_search == kept and clone.search_result().n_queries == 3


def test_new_episode_observation_starts_empty():
    env = gym.make("NASBench201-v0", **NB201, max_queries=3).unwrapped
    env.reset(seed=0)
    _step(env, [1, 2, 3])
    obs, info = env.reset()
    assert not obs.any() and info["n_queries"] == 0
    assert env.last_search.n_queries == 3
    _assert_empty(env)


@pytest.mark.parametrize(
    "read",
    [
        lambda env: env.search_result("previous"),
        lambda env: env.topk_indices(search="previous"),
        lambda env: env.topk_indices("previous"),
    ],
)
def test_bad_search_selector_names_value_and_allowed(read):
    env = gym.make("NASBench201-v0", **NB201, max_queries=3).unwrapped
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"unknown search 'previous'; allowed: 'current', 'last'"):
        read(env)


@pytest.mark.parametrize("env_id", sorted(nas_gym.ENVIRONMENTS))
def test_every_env_keeps_its_finished_search(env_id, tmp_path_factory):
    kwargs = {**TINY_KWARGS[env_id](tmp_path_factory), "max_queries": 3}
    env = gym.make(env_id, **kwargs)
    env.reset(seed=0)
    rng = np.random.default_rng(1)
    for _ in range(3):
        *_, truncated, info = env.step(rng.random(env.action_space.shape, dtype=np.float32))
    assert truncated
    inner = env.unwrapped
    front_names = tuple(inner.PARETO)
    fronts = {name: inner._front_points(name) for name in front_names}
    env.reset(seed=1)
    last = inner.last_search
    assert (last.n_queries, last.n_unique_queries) == (3, info["n_unique_queries"])
    assert last.best == {key: info[key] for key in last.best}
    assert set(front_names) == set(last.fronts)
    for name in front_names:  # info's compact front is the kept front, point for point
        assert [(p["cost"], p["value"]) for p in fronts[name]] == list(info[name])
        assert inner._front_points(name, "last") == fronts[name]
        assert inner._front_points(name) == []
    if env_id.startswith("DARTS"):
        assert [p["genotype"] for p in inner.pareto_front("flops", search="last")] == [
            p["key"] for p in fronts["pareto_flops"]
        ]
        assert inner.topk_genotypes(search="last") == [str(k) for k in last.topk]
        assert inner.topk_genotypes() == []
    if env_id.startswith("ProxylessNAS"):
        assert len(inner.pareto_front(search="last")) == len(fronts["pareto_latency"])
        assert inner.pareto_front() == []
