"""``nas_gym.wrappers.QueryRecorder``: transparent, complete, and counting across resets."""

from __future__ import annotations

import gymnasium as gym
import numpy as np

import nas_gym  # noqa: F401
from nas_gym.wrappers import QueryRecorder


def test_recorder_is_transparent_and_records_every_query(data_dir):
    plain = gym.make("NASBench201-v0", dataset="cifar10", max_queries=12, data_dir=data_dir)
    wrapped = QueryRecorder(
        gym.make("NASBench201-v0", dataset="cifar10", max_queries=12, data_dir=data_dir)
    )
    rng = np.random.default_rng(0)
    obs_a, _ = plain.reset(seed=3)
    obs_b, _ = wrapped.reset(seed=3)
    np.testing.assert_array_equal(obs_a, obs_b)
    infos = []
    for _ in range(12):
        action = rng.random((6, 5), dtype=np.float32)
        a = plain.step(action)
        b = wrapped.step(action)
        np.testing.assert_array_equal(a[0], b[0])
        assert a[1:4] == b[1:4]
        assert a[4] == b[4]
        infos.append(b[4])
    assert wrapped.n_queries == 12
    assert wrapped.history["arch_index"] == [i["arch_index"] for i in infos]
    assert wrapped.history["valid_acc"] == [i["valid_acc"] for i in infos]
    assert wrapped.history["test_acc"] == [i["test_acc"] for i in infos]
    assert wrapped.last_info == infos[-1]
    assert wrapped.env_step_s > 0 and wrapped.env_reset_s > 0
    assert wrapped.env_s == wrapped.env_step_s + wrapped.env_reset_s

    # a second episode keeps counting, and episode starts are recorded
    wrapped.reset()
    wrapped.step(np.full((6, 5), 0.5, dtype=np.float32))
    assert wrapped.n_queries == 13
    assert wrapped.episode_starts == [0, 12]
    wrapped.clear()
    assert wrapped.n_queries == 0 and wrapped.env_s == 0.0 and wrapped.episode_starts == []
