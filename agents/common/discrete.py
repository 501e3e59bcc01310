"""What an agent may assume about the action -> architecture map, and nothing more.

Agents only see the Gymnasium API. The baselines (random search, REA, REINFORCE)
and DDAS' similarity test need to know which architecture an action selects;
they assume the argmax-per-row discretization of NAS-Bench-201 (Mills 2020,
Algorithm 3) and ProxylessNAS, i.e. a 2-D ``Box(rows, ops)`` action whose row-wise
argmax is the architecture. Where that does not hold (DARTS' ``(2, 14, 7)``
top-2-edges rule, Algorithm 2) they raise a clear ``ValueError`` instead of
silently searching the wrong space.
"""

from __future__ import annotations

import math

import numpy as np
from gymnasium import spaces


def env_alpha_shape(env: object, action_space: spaces.Space) -> tuple[int, ...]:
    """The alpha matrix shape: the env's ``alpha_shape`` (flat ``-v1`` ids), else the space's.

    ``env`` is an SB3 VecEnv, a Gymnasium env or None.
    """
    try:
        if hasattr(env, "get_attr"):
            shape = env.get_attr("alpha_shape")[0]
        else:
            shape = env.get_wrapper_attr("alpha_shape")  # type: ignore[union-attr]
    except AttributeError:
        shape = None
    return tuple(shape) if shape is not None else tuple(getattr(action_space, "shape", ()) or ())


def row_action_shape(
    action_space: spaces.Space, who: str, alpha_shape: tuple[int, ...] | None = None
) -> tuple[int, int]:
    """``(rows, ops)`` of a 2-D Box action space (or of ``alpha_shape``, the matrix shape
    of a flat ``-v1`` space), or a ValueError naming ``who``."""
    if (
        alpha_shape is not None
        and isinstance(action_space, spaces.Box)
        and len(alpha_shape) == 2
        and math.prod(alpha_shape) == math.prod(action_space.shape)
    ):
        return int(alpha_shape[0]), int(alpha_shape[1])
    if not isinstance(action_space, spaces.Box) or len(action_space.shape) != 2:
        shape = getattr(action_space, "shape", None)
        raise ValueError(
            f"{who} assumes an argmax-per-row discretization: it needs a 2-D Box action "
            f"space (rows, ops) such as NASBench201-v0's (6, 5); got {action_space!r} with shape {shape}. "
            "Spaces with another discretization (e.g. DARTS' (2, 14, 7)) are not supported."
        )
    rows, ops = action_space.shape
    if ops < 2:
        raise ValueError(
            f"{who} needs at least 2 ops per row, got action shape {action_space.shape}"
        )
    return int(rows), int(ops)


def ops_to_alpha(ops: np.ndarray, n_ops: int) -> np.ndarray:
    """One-hot alpha whose argmax per row is ``ops`` (float32, shape ``(rows, n_ops)``)."""
    alpha = np.zeros((len(ops), n_ops), dtype=np.float32)
    alpha[np.arange(len(ops)), ops] = 1.0
    return alpha


def active_pairs(alpha_d: np.ndarray) -> frozenset[int]:
    """Flat positions of the ones of a discrete architecture alpha_d."""
    return frozenset(np.flatnonzero(np.asarray(alpha_d).reshape(-1) > 0.5).tolist())


def is_discrete(obs: np.ndarray) -> bool:
    """True when ``obs`` looks like an alpha_d (0/1 entries, at least one 1)."""
    arr = np.asarray(obs)
    return bool(arr.size and np.all((arr == 0.0) | (arr == 1.0)) and arr.any())


def default_similarity_threshold(action_shape: tuple[int, ...]) -> int:
    """Fewest differing (edge, op) pairs that make two architectures *different*.

    Mills (2020), Sec. 3.2.1: on DARTS two architectures are similar when fewer than
    6 of the 16 active pairs differ (6/16 ~ 3/8). For argmax-per-row spaces we use
    ``ceil(rows / 3)``, i.e. NAS-Bench-201: fewer than 2 of 6 edges differ.
    """
    if len(action_shape) == 3 and tuple(action_shape[:2]) == (2, 14):
        return 6
    return max(1, math.ceil(action_shape[0] / 3))
