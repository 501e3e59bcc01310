"""NASBench201-v0 semantics: info against the table, the top-K state, SB3 without wrappers."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import nas_gym  # noqa: F401
from nas_gym.envs.common import cadam_reward
from nas_gym.envs.nb201 import NASBench201Env
from nas_gym.spaces import nb201 as space


def _alpha_for(index: int, rng: np.random.Generator) -> np.ndarray:
    """A non-one-hot alpha whose argmax per row is architecture ``index``."""
    alpha = rng.random((6, 5), dtype=np.float32) * 0.5
    alpha[np.arange(6), list(space.index_to_ops(index))] = 0.9
    return alpha


def test_issue_example(nb201_table):
    env = gym.make("NASBench201-v0", dataset="cifar100", reward_metric="valid")
    obs, info = env.reset(seed=0)
    obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
    rec = nb201_table.record(info["arch_index"], "cifar100")
    assert info["arch_str"] == space.index_to_str(info["arch_index"])
    assert info["valid_acc"] == rec["valid_acc"] and info["test_acc"] == rec["test_acc"]
    assert info["params_M"] == rec["params_M"]
    assert reward == pytest.approx(100 ** (rec["valid_acc"] / 100))


@pytest.mark.parametrize("dataset", ["cifar10", "cifar100", "ImageNet16-120"])
@pytest.mark.parametrize("metric", ["valid", "test"])
def test_best_so_far_regret_and_counts(nb201_table, dataset, metric):
    rng = np.random.default_rng(1)
    env = NASBench201Env(dataset=dataset, reward_metric=metric, max_queries=100)
    env.reset(seed=0)
    indices = list(rng.integers(0, space.N_ARCHS, size=40)) + [17, 17, 17]
    score = nb201_table.accuracy(dataset, metric)
    other = nb201_table.accuracy(dataset, "test" if metric == "valid" else "valid")
    opt_index, opt = nb201_table.optimum(dataset, metric)
    for n, index in enumerate(indices, start=1):
        _, reward, _, _, info = env.step(_alpha_for(int(index), rng))
        assert info["arch_index"] == index
        assert reward == pytest.approx(cadam_reward(score[index]))
        seen = indices[:n]
        best = max(seen, key=lambda i: (score[i], -seen.index(i)))
        assert info["best_arch_index"] == best
        assert info[f"best_{metric}_acc"] == score[best]
        assert info[f"best_{'test' if metric == 'valid' else 'valid'}_acc"] == other[best]
        assert info["regret"] == pytest.approx(opt - score[best])
        assert info["n_queries"] == n
        assert info["n_unique_queries"] == len(set(seen))
    _, _, _, _, info = env.step(_alpha_for(opt_index, rng))
    assert info["regret"] == 0.0 and info["best_arch_index"] == opt_index


def test_topk_state_equals_brute_force_mean(nb201_table):
    k = 8
    env = NASBench201Env(dataset="cifar10", top_k=k, max_queries=300)
    obs, _ = env.reset(seed=0)
    assert not obs.any()  # zeros before the first query
    rng = np.random.default_rng(5)
    valid = nb201_table.accuracy("cifar10", "valid")
    seen: list[int] = []
    for _ in range(200):
        index = int(rng.integers(0, 200))  # a small pool, so repeats happen
        obs, *_ = env.step(_alpha_for(index, rng))
        if index not in seen:
            seen.append(index)
        top = sorted(seen, key=lambda i: (-valid[i], seen.index(i)))[:k]
        expected = sum(space.ops_to_discrete(space.index_to_ops(i)) for i in top) / k
        np.testing.assert_allclose(obs, expected, atol=1e-7)
    assert env.topk_indices() == sorted(seen, key=lambda i: (-valid[i], seen.index(i)))[:k]


def test_last_observation_is_previous_architecture():
    rng = np.random.default_rng(0)
    env = NASBench201Env(observation="last")
    obs, _ = env.reset(seed=0)
    assert not obs.any()
    for index in (5, 9000, 5):
        obs, *_ = env.step(_alpha_for(index, rng))
        np.testing.assert_array_equal(obs, space.ops_to_discrete(space.index_to_ops(index)))


def test_reward_accuracy_and_fidelity_12(nb201_table):
    env = NASBench201Env(dataset="ImageNet16-120", reward="accuracy", fidelity=12)
    env.reset(seed=0)
    _, reward, _, _, info = env.step(_alpha_for(100, np.random.default_rng(0)))
    acc = nb201_table.accuracy("ImageNet16-120", "valid", 12)[100]
    assert reward == pytest.approx(acc / 100) and info["valid_acc"] == acc


def test_render_ansi():
    env = gym.make("NASBench201-v0", render_mode="ansi")
    env.reset(seed=0)
    assert env.render() == ""
    env.step(_alpha_for(6111, np.random.default_rng(0)))
    assert env.render() == space.index_to_str(6111)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"dataset": "imagenet"}, "unknown dataset 'imagenet'"),
        ({"reward_metric": "train"}, "unknown split / reward_metric 'train'"),
        ({"reward": "log"}, "unknown reward 'log'"),
        ({"observation": "full"}, "unknown observation 'full'"),
        ({"top_k": 0}, "top_k must be a positive integer"),
        ({"max_queries": -1}, "max_queries must be a positive integer"),
        ({"fidelity": 100}, "unknown fidelity 100"),
        ({"render_mode": "human"}, "unknown render_mode 'human'"),
    ],
)
def test_bad_kwargs(kwargs, match):
    with pytest.raises(ValueError, match=match):
        gym.make("NASBench201-v0", **kwargs)


def test_out_of_box_actions_use_only_their_order():
    rng = np.random.default_rng(0)
    env = NASBench201Env()
    env.reset(seed=0)
    alpha = _alpha_for(1234, rng)
    _, r1, _, _, i1 = env.step(alpha * 7 - 3)
    assert i1["arch_index"] == 1234 and np.isfinite(r1)


@pytest.mark.parametrize("algo", ["DDPG", "TD3"])
def test_stock_sb3_learns_without_wrappers(algo):
    import stable_baselines3 as sb3

    env = gym.make("NASBench201-v0", dataset="cifar10", max_queries=60)
    model = getattr(sb3, algo)("MlpPolicy", env, learning_starts=20, seed=0, device="cpu")
    model.learn(total_timesteps=130)
    assert model.num_timesteps == 130
    action, _ = model.predict(env.reset(seed=0)[0], deterministic=True)
    assert action.shape == (6, 5)


def test_sb3_make_vec_env_with_subprocesses():
    from stable_baselines3 import TD3
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import SubprocVecEnv

    # Subprocesses start fresh interpreters: the "module:id" form imports nas_gym there.
    venv = make_vec_env(
        "nas_gym:NASBench201-v0",
        n_envs=2,
        seed=0,
        vec_env_cls=SubprocVecEnv,
        env_kwargs={"max_queries": 25},
    )
    try:
        model = TD3("MlpPolicy", venv, learning_starts=10, seed=0, device="cpu")
        model.learn(total_timesteps=60)
        assert model.num_timesteps == 60
    finally:
        venv.close()
