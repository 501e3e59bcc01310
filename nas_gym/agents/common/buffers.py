"""Replay-buffer helpers on top of Stable-Baselines3's ``ReplayBuffer``."""

from __future__ import annotations

import numpy as np
from stable_baselines3.common.buffers import ReplayBuffer

_ARRAYS = ("observations", "next_observations", "actions", "rewards", "dones", "timeouts")


def truncate_replay_buffer(buffer: ReplayBuffer, keep: int) -> ReplayBuffer:
    """A new ``keep``-capacity buffer holding the last ``keep`` transitions, oldest first.

    Later additions overwrite the oldest, so the buffer stays a window of the last
    ``keep`` steps (DDAS-4S' fourth phase, Mills 2020 Sec. 3.4.2).
    """
    if keep < 1:
        raise ValueError(f"keep must be >= 1, got {keep!r}")
    if buffer.optimize_memory_usage:
        raise ValueError(
            "truncate_replay_buffer does not support optimize_memory_usage=True buffers"
        )
    size = buffer.size()
    n = min(keep, size)
    order = (buffer.pos - n + np.arange(n)) % buffer.buffer_size
    new = ReplayBuffer(
        keep,
        buffer.observation_space,
        buffer.action_space,
        device=buffer.device,
        n_envs=buffer.n_envs,
        handle_timeout_termination=buffer.handle_timeout_termination,
    )
    for name in _ARRAYS:
        src = getattr(buffer, name, None)
        if src is not None and getattr(new, name, None) is not None:
            getattr(new, name)[:n] = src[order]
    new.pos = n % keep
    new.full = n == keep
    return new
