"""Torch intra-op threads for small networks, set for a block and restored after.

The agents' networks are tiny MLPs (a few thousand weights, batches of 64-256). For
them torch's default of one intra-op thread per core only adds synchronisation: on a
loaded 2-core machine the README snippet (SB3 ``TD3`` then ``CADAM``, 500 queries
each) took 585 s with the default threads and 41 s with one (issue 14). Setting
``torch.set_num_threads(1)`` globally would change the user's other torch code, so
the count is set only while an agent runs and the caller's value comes back after,
also when the block raises.

Our agents do this themselves (``torch_threads`` attribute, default 1; see
:class:`nas_gym.agents.common.rng.LocalRNGMixin`). Stock Stable-Baselines3 algorithms do
not: wrap them in :func:`single_thread`::

    with single_thread():
        TD3("MlpPolicy", env).learn(500)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

import torch


def check_threads(n: int | None, name: str = "torch_threads") -> int | None:
    """``n`` if it is a valid thread count (None = leave torch's setting alone)."""
    if n is None:
        return None
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(
            f"{name} must be a positive integer or None (leave torch's setting), got {n!r}"
        )
    return n


@contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run a block with ``n`` torch intra-op threads, then restore the caller's count.

    Args:
        n: threads inside the block; None leaves the current setting untouched.
    """
    n = check_threads(n)
    outer = torch.get_num_threads()
    if n is None or n == outer:
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(outer)


def single_thread() -> AbstractContextManager[None]:
    """``torch_threads(1)``: the setting small-network RL wants (e.g. around SB3 ``learn``)."""
    return torch_threads(1)
