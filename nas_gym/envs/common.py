"""Pieces every NAS environment shares: action checks, the top-K state, rewards.

One place for each concept, so the three environments agree on conventions:

* actions are float32 alpha matrices in [0, 1], matrix-shaped (``rows x ops``;
  a flat vector of the same size is also accepted);
* the CADAM "topk" state (Mills 2020, Sec. 4.1.1) and the DDAS "last" state;
* the reward transforms of the SPEC.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable
from math import isfinite

import numpy as np

OBSERVATIONS: tuple[str, ...] = ("topk", "last")
REWARDS: tuple[str, ...] = ("cadam", "accuracy")


def check_choice(name: str, value: object, allowed: tuple) -> None:
    """Raise a ValueError naming the argument, the bad value and the allowed ones."""
    if value not in allowed:
        raise ValueError(f"unknown {name} {value!r}; allowed: {', '.join(map(repr, allowed))}")


class UnsupportedRenderMode(ValueError, TypeError):
    """An unsupported ``render_mode``.

    Also a ``TypeError`` because Stable-Baselines3's ``make_vec_env`` first tries
    ``render_mode="rgb_array"`` and falls back to no render mode on ``TypeError``.
    """


def check_render_mode(render_mode: str | None, allowed: tuple[str, ...]) -> None:
    if render_mode is not None and render_mode not in allowed:
        raise UnsupportedRenderMode(
            f"unknown render_mode {render_mode!r}; allowed: None, {', '.join(map(repr, allowed))}"
        )


def check_real(
    name: str,
    value: object,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """A finite real number (Python or numpy scalar; not bool or str) in an optional range.

    The one check every numeric keyword uses, so ``np.float32(5)`` is accepted like ``5.0``
    and ``'0.1'``, NaN and inf get our message instead of a numpy error later.
    """
    if (
        isinstance(value, (bool, np.bool_))
        or not isinstance(value, (int, float, np.integer, np.floating))
        or not math.isfinite(float(value))
    ):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    x = float(value)
    if low is not None and (x < low or (low_open and x == low)):
        raise ValueError(f"{name} must be {'>' if low_open else '>='} {low}, got {value!r}")
    if high is not None and (x > high or (high_open and x == high)):
        raise ValueError(f"{name} must be {'<' if high_open else '<='} {high}, got {value!r}")
    return x


def check_nonneg_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
    return int(value)


def check_positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


#: numpy dtype kinds an action may have: float, signed and unsigned integer.
ACTION_KINDS = "fiu"


def _as_real_array(action: object, shape: tuple[int, ...]) -> np.ndarray:
    """The action as a real-valued numpy array, or a ValueError saying what it is instead.

    Torch tensors are converted (detached, moved to the CPU, as float32: bfloat16 and
    tensors that require grad included); complex, masked, timedelta/datetime, bool,
    string and object actions are refused (argmax on them would be meaningless).
    """
    if isinstance(action, np.ma.MaskedArray):
        raise ValueError(
            f"action is a masked array; pass a plain array of shape {shape} (a mask would be "
            "ignored by argmax)"
        )
    if type(action).__module__.split(".")[0] == "torch" and hasattr(action, "detach"):
        if action.is_complex():
            raise ValueError(f"action must be real-valued, got a {action.dtype} tensor")
        action = action.detach().to("cpu").float().numpy()
    arr = np.asarray(action)
    if arr.dtype.kind not in ACTION_KINDS:
        raise ValueError(
            f"action must be a real-valued numeric (float or integer) array of shape {shape}, "
            f"got dtype {arr.dtype}"
        )
    return arr


def validate_action(action: object, shape: tuple[int, ...]) -> np.ndarray:
    """Return the action as a ``shape`` array, or raise ValueError naming the defect.

    Accepts the matrix shape or its flattened form. Values outside [0, 1] are
    allowed (many RL algorithms add noise beyond the box) because discretization
    only uses their order; NaN/inf and wrong shapes are errors, never fixed silently.
    """
    arr = _as_real_array(action, shape)
    size = int(np.prod(shape))
    if arr.shape != shape and arr.shape != (size,):
        raise ValueError(f"action has shape {arr.shape}; expected {shape} (or flat ({size},))")
    if not np.isfinite(arr).all():
        bad = np.argwhere(~np.isfinite(arr.reshape(shape)))[0].tolist()
        raise ValueError(
            f"action contains NaN or inf (first at position {bad}): {arr.reshape(shape)[tuple(bad)]}"
        )
    return arr.reshape(shape)


def read_only_copy(array: np.ndarray) -> np.ndarray:
    """A fresh read-only copy (Gymnasium requires every info to hold new objects)."""
    out = array.copy()
    out.flags.writeable = False
    return out


class ActionCheck:
    """:func:`validate_action` for one shape, with a fast path for the usual float array.

    A float ndarray of the right shape only needs a finiteness check, done as one dot
    product with ones (NaN or inf anywhere makes the sum non-finite; ``dot`` is the
    cheapest numpy reduction on a small array). Anything else, and any failure, goes
    through :func:`validate_action` for the precise error (or acceptance, when a finite
    action only overflowed the sum).
    """

    def __init__(self, shape: tuple[int, ...]):
        self.shape = tuple(shape)
        self.size = int(np.prod(self.shape))
        self._flat = (self.size,)
        self._ones = {np.dtype(t): np.ones(self.size, dtype=t) for t in (np.float32, np.float64)}

    def __call__(self, action: object) -> np.ndarray:
        if type(action) is np.ndarray:
            ones = self._ones.get(action.dtype)
            shape = action.shape
            if ones is not None and (shape == self.shape or shape == self._flat):
                if isfinite(action.ravel().dot(ones)):
                    return action if shape == self.shape else action.reshape(self.shape)
        return validate_action(action, self.shape)


class TopKState:
    """The CADAM state: element-wise mean of the K best alpha_d seen so far.

    Holds K slots; unfilled slots count as zeros, so the state is
    ``sum(top-K alpha_d) / K`` (zeros before the first query) and each entry is the
    fraction of the K slots that use that op on that edge (Mills 2020, Sec. 4.1.1).
    Architectures are kept once each (re-querying one does not fill two slots).
    An alpha_d is binary, so it is passed as the flat positions of its ones; an
    update is then O(rows x ops + log K), never O(K x rows x ops).
    Ties in score keep the architecture seen first.
    """

    def __init__(self, k: int, shape: tuple[int, ...]):
        self.k = check_positive_int("top_k", k)
        self.shape = shape
        self.reset()

    def reset(self) -> None:
        self._counts = np.zeros(self.shape, dtype=np.float32)
        self._flat = self._counts.reshape(-1)  # a view: writes go to _counts
        self._heap: list[tuple[float, int, object]] = []  # (score, -arrival, key); worst on top
        self._members: dict[object, np.ndarray] = {}
        self._arrivals = 0
        self._state = np.zeros(self.shape, dtype=np.float32)

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        del state["_flat"]  # a view of _counts; pickling would turn it into a copy
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._flat = self._counts.reshape(-1)

    def __len__(self) -> int:
        return len(self._heap)

    def __contains__(self, key: object) -> bool:
        return key in self._members

    def push(self, key: object, active: np.ndarray, score: float) -> bool:
        """Offer one architecture: ``key`` (hashable id), ``active`` (flat indices of the
        ones in its alpha_d). Returns True if it entered the top-K."""
        if key in self._members:
            return False
        self._arrivals += 1
        item = (float(score), -self._arrivals, key)
        if len(self._heap) < self.k:
            heapq.heappush(self._heap, item)
        elif item[0] > self._heap[0][0]:
            _, _, old = heapq.heapreplace(self._heap, item)
            self._flat[self._members.pop(old)] -= 1.0
        else:
            return False
        self._members[key] = active
        self._flat[active] += 1.0
        self._state = self._counts * np.float32(1.0 / self.k)
        return True

    def state(self) -> np.ndarray:
        """A fresh float32 array (callers may keep or modify it)."""
        return self._state.copy()

    def keys(self) -> list[object]:
        """Members, best first."""
        return [key for _, _, key in sorted(self._heap, reverse=True)]


def cadam_reward(acc: float) -> float:
    """Mills (2020) Eq. 4.1: ``100 ** (acc / 100)`` with ``acc`` in percent (90% -> 63.1)."""
    return float(math.pow(100.0, acc / 100.0))


def accuracy_reward(acc: float) -> float:
    """Accuracy as a decimal."""
    return float(acc / 100.0)


_REWARD_FNS: dict[str, Callable[[float], float]] = {
    "cadam": cadam_reward,
    "accuracy": accuracy_reward,
}


def reward_fn(kind: str) -> Callable[[float], float]:
    """The reward transform named ``kind`` (module-level functions, so environments pickle)."""
    check_choice("reward", kind, REWARDS)
    return _REWARD_FNS[kind]
