"""A native vector ``NASBench201-v0``: N independent searches stepped as numpy arrays.

``gym.make_vec("NASBench201-v0", num_envs=N, vectorization_mode="vector_entry_point")``
returns :class:`NASBench201VectorEnv`. Each sub-environment keeps the single
environment's semantics exactly (observation, reward, truncation at ``max_queries``,
info keys and values) and Gymnasium's next-step autoreset: after a truncation, the
next ``step`` resets that sub-environment, ignores its action and returns its reset
observation with reward 0 and its reset info. ``tests/test_nb201_vector.py`` checks
this against ``SyncVectorEnv`` of N single environments, step by step.

One step is a handful of array operations over all N searches: argmax per edge, a
table lookup, a ``(N, 15625)`` seen-mask for the unique queries, and an incremental
top-K state (a per-row count matrix with the K members' scores and arrival order,
so an insertion costs ``O(rows x ops)`` plus a ``K``-wide minimum for the rows that
inserted: one ``argmin`` over integer keys). The top-K rule is :class:`nas_gym.envs.common.TopKState`'s: a new
architecture enters when a slot is free or its score beats the worst member
strictly; among members with equal scores the latest arrival is evicted first.

Supported arguments are the single environment's search options (``dataset``,
``reward_metric``, ``reward``, ``observation``, ``top_k``, ``max_queries``,
``fidelity``, ``data_dir``, ``table``). Hardware costs and constraints are not
vectorized: use ``vectorization_mode="sync"`` for those.
"""

from __future__ import annotations

import os
from typing import Any

import gymnasium as gym
import numpy as np

from nas_gym.benchmarks.hw_cost import load_flops
from nas_gym.benchmarks.nb201 import NB201Table, load_nb201
from nas_gym.envs.common import check_positive_int, reward_fn
from nas_gym.envs.nb201 import NASBench201Env
from nas_gym.spaces import nb201 as space

_SIZE = space.N_EDGES * space.N_OPS
_POWERS = 5 ** np.arange(space.N_EDGES - 1, -1, -1)
_FLAT_BASE = np.arange(space.N_EDGES) * space.N_OPS
_ARRIVAL_MAX = (1 << 32) - 1
_SEEN_BYTES = (space.N_ARCHS + 7) // 8
_BITS = (1 << np.arange(8)).astype(np.uint8)
_FREE = np.int64(-(1 << 62))  # key of a free top-K slot: below every member's key


def _next_step_mode() -> dict[str, Any]:
    """``metadata["autoreset_mode"]`` where this Gymnasium has the enum (1.1+)."""
    mode = getattr(gym.vector, "AutoresetMode", None)
    return {} if mode is None else {"autoreset_mode": mode.NEXT_STEP}


class NASBench201VectorEnv(gym.vector.VectorEnv):
    """N independent NAS-Bench-201 searches (see the module docstring).

    Args:
        num_envs: number of independent searches N.
        dataset, reward_metric, reward, observation, top_k, max_queries, fidelity,
        data_dir, table, flat: as for :class:`~nas_gym.envs.nb201.NASBench201Env`
        (``flat=True`` is NASBench201-v1: ``(N, 30)`` actions and observations).

    ``noise`` and ``time_budget_s`` (the NB201 protocol) are refused: use
    ``gym.make_vec(..., vectorization_mode="sync")`` for them.
    """

    metadata: dict[str, Any] = {"render_modes": [], **_next_step_mode()}

    def __init__(
        self,
        num_envs: int,
        dataset: str = "cifar10",
        reward_metric: str = "valid",
        reward: str = "cadam",
        observation: str = "topk",
        top_k: int = 64,
        max_queries: int = 500,
        fidelity: int = 200,
        data_dir: str | os.PathLike[str] | None = None,
        table: NB201Table | None = None,
        flat: bool = False,
        **unsupported: Any,
    ):
        if int(gym.__version__.split(".")[0]) < 1:
            raise RuntimeError(
                f"the native vector environment needs gymnasium>=1.0 (installed: {gym.__version__}); "
                "use gym.vector.SyncVectorEnv with single environments on older versions"
            )
        if unsupported:
            raise ValueError(
                f"NASBench201-v0's vector environment does not support {sorted(unsupported)}; "
                "supported: dataset, reward_metric, reward, observation, top_k, max_queries, "
                "fidelity, data_dir, table, flat. Use gym.make_vec(..., vectorization_mode='sync') "
                "for the other options."
            )
        self.num_envs = check_positive_int("num_envs", num_envs)
        table = table if table is not None else load_nb201(data_dir)
        # One single environment validates the arguments and gives the optimum and reset info.
        self._single = NASBench201Env(
            dataset=dataset,
            reward_metric=reward_metric,
            reward=reward,
            observation=observation,
            top_k=top_k,
            max_queries=max_queries,
            fidelity=fidelity,
            table=table,
            flat=flat,
        )
        self.dataset, self.reward_metric, self.fidelity = dataset, reward_metric, int(fidelity)
        self.reward, self.observation = reward, observation
        self.top_k, self.max_queries = int(top_k), int(max_queries)
        self.optimum_acc = float(self._single.optimum_acc)
        self._reset_info = self._single.reset()[1]

        valid = np.asarray(table.accuracy(dataset, "valid", fidelity), dtype=np.float64)
        test = np.asarray(table.accuracy(dataset, "test", fidelity), dtype=np.float64)
        self._valid, self._test = valid, test
        self._score = valid if reward_metric == "valid" else test
        self._params = np.asarray(table.params(dataset), dtype=np.float64)
        self._flops = np.asarray(load_flops(dataset), dtype=np.float64)
        fn = reward_fn(reward)  # the single env's own transform, so rewards match bit for bit
        self._reward_of = np.array([fn(s) for s in self._score.tolist()], dtype=np.float64)
        # Dense rank of each score: equal scores share a rank, so ranks order exactly as scores.
        rank = np.unique(self._score, return_inverse=True)[1].reshape(-1).astype(np.int64)
        self._key_base = rank << 32  # a top-K member's key, before its arrival order
        self._strs = np.array(space.all_strs(), dtype=object)
        self._code_to_index = space.code_to_index_table().astype(np.int64)
        positions = (_FLAT_BASE + space.all_ops()).astype(np.int64)  # (15625, 6)
        # One-hot alpha_d of every cell, plus a zero row at index -1 (a free top-K slot).
        self._onehot = np.zeros((space.N_ARCHS + 1, _SIZE), dtype=np.float32)
        self._onehot[np.arange(space.N_ARCHS)[:, None], positions] = 1.0

        self.flat, self.alpha_shape = self._single.flat, self._single.alpha_shape
        self._obs_shape = self._single.observation_space.shape
        self.single_action_space = self._single.action_space
        self.single_observation_space = self._single.observation_space
        self.action_space = gym.vector.utils.batch_space(self.single_action_space, self.num_envs)
        self.observation_space = gym.vector.utils.batch_space(
            self.single_observation_space, self.num_envs
        )
        self._rows = np.arange(self.num_envs)
        n, k = self.num_envs, self.top_k
        # The unique-query sets as bits (N x 15625 bits, 2 MB at N = 1024): a step's
        # random reads and writes then stay in cache, unlike a 16 MB bool array.
        self._seen = np.zeros((n, _SEEN_BYTES), dtype=np.uint8)
        self._seen_flat = self._seen.reshape(-1)  # a view: writes go to the 2-D array
        self._n_queries = np.zeros(n, dtype=np.int64)
        self._n_unique = np.zeros(n, dtype=np.int64)
        self._best_index = np.full(n, -1, dtype=np.int64)
        self._best_score = np.full(n, -np.inf)
        self._counts = np.zeros((n, _SIZE), dtype=np.float32)
        self._last = np.zeros((n, _SIZE), dtype=np.float32)
        self._last_flat = self._last.reshape(-1)  # a view: writes go to _last
        self._top = np.full((n, k), _FREE, dtype=np.int64)  # member keys (see _push_topk)
        self._top_index = np.full((n, k), -1, dtype=np.int64)
        self._worst = np.zeros(n, dtype=np.int64)  # slot to fill next: free, else the worst
        self._filled = np.zeros(n, dtype=np.int64)
        self._top_flat, self._top_index_flat = self._top.reshape(-1), self._top_index.reshape(-1)
        self._needs_reset = np.zeros(n, dtype=bool)

    # -- state ---------------------------------------------------------------------------
    def _clear(self, rows: np.ndarray) -> None:
        self._seen[rows] = 0
        self._n_queries[rows] = 0
        self._n_unique[rows] = 0
        self._best_index[rows] = -1
        self._best_score[rows] = -np.inf
        self._counts[rows] = 0.0
        self._last[rows] = 0.0
        self._top[rows] = _FREE
        self._top_index[rows] = -1
        self._worst[rows] = 0
        self._filled[rows] = 0
        self._needs_reset[rows] = False

    def _obs(self) -> np.ndarray:
        if self.observation == "topk":
            flat = self._counts * np.float32(1.0 / self.top_k)
        else:
            flat = self._last.copy()
        return flat.reshape(self.num_envs, *self._obs_shape)

    def _add_reset_info(self, info: dict[str, Any], rows: np.ndarray) -> None:
        """The single env's reset info for ``rows``, in Gymnasium's batched info layout."""
        for key, value in self._reset_info.items():
            if key not in info:
                if isinstance(value, np.ndarray):
                    info[key] = np.zeros((self.num_envs, *value.shape), dtype=value.dtype)
                else:
                    info[key] = np.zeros(self.num_envs, dtype=type(value))
                info[f"_{key}"] = np.zeros(self.num_envs, dtype=bool)
            info[key][rows] = value
            info[f"_{key}"][rows] = True

    def reset(self, *, seed: int | list[int] | None = None, options: dict[str, Any] | None = None):
        """Start N fresh searches (the searches are deterministic; ``seed`` seeds the spaces)."""
        if seed is not None:
            first = seed if isinstance(seed, int) else seed[0]
            self.action_space.seed(first)
            self.observation_space.seed(first)
        self._clear(self._rows)
        info: dict[str, Any] = {}
        self._add_reset_info(info, self._rows)
        return self._obs(), info

    # -- step ----------------------------------------------------------------------------
    def _check_actions(self, actions: Any) -> np.ndarray:
        arr = np.asarray(actions)
        if arr.dtype.kind not in "iufc":  # numeric, as the single env's check (np.number)
            raise ValueError(f"actions must be a numeric array, got dtype {arr.dtype}")
        n = self.num_envs
        if arr.shape not in ((n, *space.SHAPE), (n, _SIZE)):
            raise ValueError(
                f"actions have shape {arr.shape}; expected ({n}, {space.N_EDGES}, {space.N_OPS}) "
                f"(or flat ({n}, {_SIZE}))"
            )
        arr = arr.reshape(n, *space.SHAPE)
        if not np.isfinite(arr).all():
            row = int(np.argmin(np.isfinite(arr).all(axis=(1, 2))))
            raise ValueError(f"action of sub-environment {row} contains NaN or inf: {arr[row]}")
        return arr

    def step(self, actions):
        acts = self._check_actions(actions)
        resetting = self._needs_reset.copy()
        any_reset = bool(resetting.any())
        if any_reset:
            self._clear(np.flatnonzero(resetting))
            live = np.flatnonzero(~resetting)
            sel: np.ndarray | slice = live
            ops = acts[live].argmax(axis=2)
        else:  # the common case: every search steps, so rows are plain slices
            live, sel = self._rows, slice(None)
            ops = acts.argmax(axis=2)

        index = self._code_to_index[ops @ _POWERS]
        score = self._score[index]
        self._n_queries[sel] += 1
        byte = live * _SEEN_BYTES + (index >> 3)  # 1-D indices: cheaper than 2-D fancy indexing
        bit = _BITS[index & 7]
        old = self._seen_flat[byte]
        new = (old & bit) == 0
        self._seen_flat[byte] = old | bit  # one query per row: no two writes to one byte
        self._n_unique[sel] += new

        better = new & (score > self._best_score[sel])
        if better.any():
            rows = live[better]
            self._best_score[rows] = score[better]
            self._best_index[rows] = index[better]

        if self.observation == "topk":
            self._push_topk(live[new], index[new])
        else:
            self._last[sel] = 0.0
            self._last_flat[(live * _SIZE)[:, None] + _FLAT_BASE + ops] = 1.0

        n = self.num_envs
        rewards = np.zeros(n, dtype=np.float64)
        rewards[sel] = self._reward_of[index]
        truncated = np.zeros(n, dtype=bool)
        truncated[sel] = self._n_queries[sel] >= self.max_queries
        self._needs_reset = truncated.copy()
        info = self._step_info(live, index, not any_reset) if len(live) else {}
        if any_reset:
            self._add_reset_info(info, np.flatnonzero(resetting))
        return self._obs(), rewards, np.zeros(n, dtype=bool), truncated, info

    def _push_topk(self, rows: np.ndarray, index: np.ndarray) -> None:
        """Offer each row's new architecture to that row's top-K (at most one per row).

        Members are stored as one int64 key each, ``rank << 32 | (2**32 - 1 - arrival)``,
        where ``rank`` is the dense rank of the architecture's score: the smallest key
        is then the worst member (lowest score, latest arrival among equal scores) and
        one ``argmin`` finds it. Free slots hold a key below every member and are used
        in order, so until a row is full its next slot is simply its member count.
        """
        if len(rows) == 0:
            return
        k = self.top_k
        slot = rows * k + self._worst[rows]  # flat index of each row's slot to fill
        worst_key = self._top_flat[slot]
        key = self._key_base[index]
        enters = key > worst_key  # free slot, or a strictly better score than the worst
        if not enters.all():
            if not enters.any():
                return
            rows, index, key, slot = rows[enters], index[enters], key[enters], slot[enters]
        evicted = self._top_index_flat[slot]  # -1 (the zero row of _onehot) for a free slot
        delta = self._onehot[index] - self._onehot[evicted]
        every_row = len(rows) == self.num_envs
        if every_row:
            self._counts += delta
        else:
            self._counts[rows] += delta
        self._top_flat[slot] = key | (_ARRIVAL_MAX - self._n_unique[rows])  # arrival order
        self._top_index_flat[slot] = index
        filled = self._filled[rows] + (evicted < 0)
        self._filled[rows] = filled
        full = filled >= k
        if full.all():
            self._worst[rows] = (self._top if every_row else self._top[rows]).argmin(axis=1)
        elif full.any():
            self._worst[rows] = filled
            done = rows[full]
            self._worst[done] = self._top[done].argmin(axis=1)
        else:
            self._worst[rows] = filled

    def _step_info(self, live: np.ndarray, index: np.ndarray, all_live: bool) -> dict[str, Any]:
        """The single env's step info for the live rows, batched as Gymnasium does."""
        n = self.num_envs
        best = self._best_index[live]
        values: dict[str, tuple[np.ndarray, type]] = {
            "arch_index": (index, int),
            "arch_str": (self._strs[index], object),
            "valid_acc": (self._valid[index], float),
            "test_acc": (self._test[index], float),
            "params_M": (self._params[index], float),
            "flops_M": (self._flops[index], float),
            "best_arch_index": (best, int),
            "best_arch_str": (self._strs[best], object),
            "best_valid_acc": (self._valid[best], float),
            "best_test_acc": (self._test[best], float),
            "n_queries": (self._n_queries[live], int),
            "n_unique_queries": (self._n_unique[live], int),
            "regret": (self.optimum_acc - self._best_score[live], float),
        }
        info: dict[str, Any] = {}
        mask = np.zeros(n, dtype=bool)
        mask[live] = True
        for key, (column, dtype) in values.items():
            if all_live:
                array = column.astype(dtype, copy=False)
            else:
                array = np.full(n, None, dtype=object) if dtype is object else np.zeros(n, dtype)
                array[live] = column
            info[key] = array
            info[f"_{key}"] = mask.copy()
        return info

    def close_extras(self, **kwargs: Any) -> None:
        self._single.close()
