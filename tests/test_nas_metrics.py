"""NAS metrics reach the user's logger: the Gymnasium wrapper and the SB3 callback.

Real SB3 algorithms (ours and stock TD3) on NASBench201-v0 with VecNormalize,
EvalCallback, CheckpointCallback and TensorBoard; the tests read the event files back.
"""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import nas_gym  # noqa: F401  (registers the ids)
from nas_gym.wrappers import NAS_METRIC_KEYS, NASMetrics

QUERIES = 40  # queries per search: a few searches fit in a few hundred steps


def test_wrapper_adds_episode_statistics(nb201_table):
    env = NASMetrics(gym.make("NASBench201-v0", max_queries=QUERIES, table=nb201_table))
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    finals = []
    for _ in range(2 * QUERIES):
        obs, reward, terminated, truncated, info = env.step(rng.random((6, 5), dtype=np.float32))
        assert env.metrics["best_valid_acc"] == info["best_valid_acc"]
        if truncated:
            finals.append(info)
            env.reset()
        else:
            assert "nas_episode" not in info
    assert len(finals) == 2 and len(env.episode_metrics) == 2
    for info, stats in zip(finals, env.episode_metrics, strict=True):
        assert info["nas_episode"] == stats
        assert set(stats) == set(NAS_METRIC_KEYS)
        assert stats["n_queries"] == QUERIES and 1 <= stats["n_unique_queries"] <= QUERIES
        optimum = nb201_table.optimum("cifar10", "valid")[1]
        assert stats["regret"] == pytest.approx(optimum - stats["best_valid_acc"])


def _scalars(logdir: Path) -> dict[str, list[float]]:
    """Every scalar written under ``logdir``'s TensorBoard event files, by tag."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out: dict[str, list[float]] = {}
    for events in logdir.rglob("events.out.tfevents.*"):
        acc = EventAccumulator(str(events.parent))
        acc.Reload()
        for tag in acc.Tags()["scalars"]:
            out.setdefault(tag, []).extend(e.value for e in acc.Scalars(tag))
    return out


def _check_logged(logdir: Path, callback, n_searches: int, table) -> None:
    scalars = _scalars(logdir)
    for tag in ("nas/best_valid_acc", "nas/best_test_acc", "nas/regret", "nas/unique_queries"):
        assert len(scalars.get(tag, [])) == n_searches, (tag, sorted(scalars))
    assert len(callback.episodes) == n_searches
    optimum = table.optimum("cifar10", "valid")[1]
    for logged, episode in zip(scalars["nas/best_valid_acc"], callback.episodes, strict=True):
        assert logged == pytest.approx(episode["best_valid_acc"], abs=1e-4)  # float32 in TB
        assert episode["regret"] == pytest.approx(optimum - episode["best_valid_acc"])
        assert 0 < episode["n_unique_queries"] <= QUERIES


@pytest.mark.parametrize("agent", ["rs", "cadam"])
def test_callback_with_our_agents_and_tensorboard(nb201_table, tmp_path, agent):
    from nas_gym.agents.callbacks import NASMetricsCallback
    from nas_gym.agents.registry import make_agent

    env = gym.make("NASBench201-v0", max_queries=QUERIES, table=nb201_table)
    overrides = {"tensorboard_log": str(tmp_path / "tb")}
    if agent == "cadam":
        overrides.update(warmup_steps=20, batch_size=16, buffer_size=500, net_arch=[16])
    model = make_agent(agent, env, seed=0, **overrides)
    callback = NASMetricsCallback()
    model.learn(3 * QUERIES, callback=callback)
    _check_logged(tmp_path / "tb", callback, 3, nb201_table)


def test_callback_with_stock_td3_vecnormalize_eval_and_checkpoints(nb201_table, tmp_path):
    from stable_baselines3 import TD3
    from stable_baselines3.common.callbacks import CheckpointCallback, EvalCallback
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import VecNormalize

    from nas_gym.agents.callbacks import NASMetricsCallback

    kwargs = {"max_queries": QUERIES, "table": nb201_table}
    venv = VecNormalize(make_vec_env("NASBench201-v0", n_envs=1, seed=0, env_kwargs=kwargs))
    eval_env = VecNormalize(
        make_vec_env("NASBench201-v0", n_envs=1, seed=1, env_kwargs=kwargs), training=False
    )
    model = TD3(
        "MlpPolicy",
        venv,
        learning_starts=20,
        batch_size=16,
        buffer_size=500,
        policy_kwargs={"net_arch": [16]},
        tensorboard_log=str(tmp_path / "tb"),
        seed=0,
    )
    metrics = NASMetricsCallback()
    evaluation = EvalCallback(
        eval_env, eval_freq=2 * QUERIES, n_eval_episodes=1, log_path=str(tmp_path / "eval")
    )
    checkpoints = CheckpointCallback(save_freq=QUERIES, save_path=str(tmp_path / "ckpt"))
    model.learn(5 * QUERIES, callback=[metrics, evaluation, checkpoints])
    _check_logged(tmp_path / "tb", metrics, 5, nb201_table)
    assert len(list((tmp_path / "ckpt").glob("*.zip"))) == 5
    assert len(np.load(tmp_path / "eval" / "evaluations.npz")["timesteps"]) == 2
    assert "eval/mean_reward" in _scalars(tmp_path / "tb")


def test_callback_running_values_every_n_steps(nb201_table, tmp_path):
    from stable_baselines3.common.logger import configure

    from nas_gym.agents.callbacks import NASMetricsCallback
    from nas_gym.agents.registry import make_agent

    model = make_agent("rs", gym.make("NASBench201-v0", max_queries=QUERIES, table=nb201_table))
    model.set_logger(configure(str(tmp_path / "csv"), ["csv"]))
    model.learn(QUERIES, callback=NASMetricsCallback(log_every=10))
    text = (tmp_path / "csv" / "progress.csv").read_text().splitlines()
    header = text[0].split(",")
    rows = [dict(zip(header, line.split(","), strict=True)) for line in text[1:]]
    logged = [r for r in rows if r.get("nas/queries")]
    assert [float(r["nas/queries"]) for r in logged] == [10, 20, 30, 40]
    with pytest.raises(ValueError, match="log_every must be 'episode' or a positive int, got 0"):
        NASMetricsCallback(log_every=0)
