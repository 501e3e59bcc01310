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
from typing import Any

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


def env_op_mask(env: Any, shape: tuple[int, int]) -> np.ndarray:
    """The env's per-row op mask, ``(rows, ops)`` bool, True = allowed.

    The one place agents read it. Environments expose it as ``env.unwrapped.op_mask``
    (ProxylessNAS-v0 forbids ``zero`` on the first layer of a stage; an action that
    picks it there is executed as another op, so an agent ignoring the mask would
    learn from a cell it did not query). Works on a Gymnasium env (through its
    wrappers) or an SB3 VecEnv; all True when the attribute is absent.
    """
    mask = None
    if hasattr(env, "get_attr") and hasattr(env, "num_envs"):  # an SB3 VecEnv
        try:
            mask = env.get_attr("op_mask")[0]
        except AttributeError:
            mask = None
    else:
        mask = getattr(getattr(env, "unwrapped", env), "op_mask", None)
    if mask is None:
        return np.ones(shape, dtype=bool)
    mask = np.array(mask, dtype=bool)  # a writable copy
    if mask.ndim == 1 and mask.size == int(np.prod(shape)):
        mask = mask.reshape(shape)  # flat -v1 ids: the action's row-major layout
    if mask.shape != tuple(shape):
        raise ValueError(f"env.op_mask has shape {mask.shape}; expected the action shape {shape}")
    if not mask.any(axis=1).all():
        rows = np.flatnonzero(~mask.any(axis=1)).tolist()
        raise ValueError(f"env.op_mask allows no op on rows {rows}; every row needs one")
    return mask


def env_reward_kind(env: Any) -> str | None:
    """The env's ``reward`` setting (``"cadam"``, ``"accuracy"``) through wrappers/VecEnv, or None."""
    try:
        if hasattr(env, "get_attr") and hasattr(env, "num_envs"):
            kind = env.get_attr("reward")[0]
        else:
            kind = getattr(getattr(env, "unwrapped", env), "reward", None)
    except AttributeError:
        return None
    return kind if isinstance(kind, str) else None


def accuracy_fraction(reward: float, kind: str | None) -> float:
    """Undo the env's reward transform: the searched objective as a fraction in [0, 1].

    ``"cadam"`` rewards are ``100 ** (acc / 100)`` (Mills 2020, Eq. 4.1), so the
    objective is ``log_100(reward)``; a non-positive reward (e.g. a hard-infeasible
    cell's 0) maps to 0. ``"accuracy"`` rewards already are ``acc / 100``; any other
    kind passes through unchanged. Policy-gradient agents (ENAS, UNAS) are tuned
    for accuracy in [0, 1], so they learn from this, not from 100^acc.
    """
    if kind == "cadam":
        return math.log(reward) / math.log(100.0) if reward > 0 else 0.0
    return float(reward)


def random_ops(mask: np.ndarray) -> np.ndarray:
    """One op per row, uniform over that row's allowed ops (global numpy RNG)."""
    u = np.random.random(mask.shape) * mask  # disallowed entries are 0, never the max
    return u.argmax(axis=1)


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
