"""The NAS-Bench-201 cell search space (Dong & Yang, ICLR 2020).

A cell is a DAG on 4 nodes; each of its 6 edges carries one of 5 ops. Edges are
ordered as in the official architecture string
``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``::

    row 0: (1<-0)   row 1: (2<-0)   row 2: (2<-1)
    row 3: (3<-0)   row 4: (3<-1)   row 5: (3<-2)

Representations, all interconvertible:

* ``index``: the official NAS-Bench-201 / NATS-Bench topology index, 0..15624.
  The official order is not lexicographic, so it is read from a small resource
  file (``nas_gym/resources/nb201_index_codes.npy``) built from, and tested
  against, the benchmark's own ``index``/``arch_str`` columns.
* ``arch_str``: the official string.
* ``ops``: a tuple of 6 op indices into :data:`OPS`.
* ``code``: the base-5 number ``ops[0] ops[1] ... ops[5]`` (ops[0] most significant).
* ``discrete`` (alpha_d): a one-hot ``(6, 5)`` matrix.

The continuous action alpha in [0, 1]^(6x5) is mapped to alpha_d by Algorithm 3 of
Mills (2020): argmax per edge. Ties go to the lowest op index (``numpy.argmax``
semantics), i.e. in the order of :data:`OPS`.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from nas_gym.data import RESOURCES_DIR

OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
EDGES: tuple[tuple[int, int], ...] = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))
"""(to, from) node pairs, one per row of alpha."""
N_EDGES = len(EDGES)
N_OPS = len(OPS)
N_ARCHS = N_OPS**N_EDGES  # 15,625
SHAPE = (N_EDGES, N_OPS)

_POWERS = N_OPS ** np.arange(N_EDGES - 1, -1, -1)  # most significant edge first
_INDEX_CODES_FILE = RESOURCES_DIR / "nb201_index_codes.npy"


@lru_cache(maxsize=1)
def index_to_code_table() -> np.ndarray:
    """``table[index] = code``: the official order, read once per process."""
    table = np.load(_INDEX_CODES_FILE)
    if table.shape != (N_ARCHS,) or not np.array_equal(np.sort(table), np.arange(N_ARCHS)):
        raise RuntimeError(f"{_INDEX_CODES_FILE} is corrupt: reinstall nas_gym")
    table = table.astype(np.int64)
    table.flags.writeable = False
    return table


@lru_cache(maxsize=1)
def code_to_index_table() -> np.ndarray:
    """``table[code] = index``: inverse permutation of :func:`index_to_code_table`."""
    fwd = index_to_code_table()
    inv = np.empty_like(fwd)
    inv[fwd] = np.arange(N_ARCHS)
    inv.flags.writeable = False
    return inv


def _check_ops(ops: Sequence[int]) -> tuple[int, ...]:
    ops = tuple(int(o) for o in ops)
    if len(ops) != N_EDGES or any(not 0 <= o < N_OPS for o in ops):
        raise ValueError(f"ops must be {N_EDGES} integers in [0, {N_OPS}), got {ops!r}")
    return ops


def _check_index(index: int) -> int:
    index = int(index)
    if not 0 <= index < N_ARCHS:
        raise ValueError(f"NAS-Bench-201 index must be in [0, {N_ARCHS}), got {index}")
    return index


def ops_to_code(ops: Sequence[int]) -> int:
    """Base-5 code of an op tuple."""
    return int(np.dot(_check_ops(ops), _POWERS))


def code_to_ops(code: int) -> tuple[int, ...]:
    """Inverse of :func:`ops_to_code`."""
    code = int(code)
    if not 0 <= code < N_ARCHS:
        raise ValueError(f"code must be in [0, {N_ARCHS}), got {code}")
    return tuple(int(d) for d in (code // _POWERS) % N_OPS)


def ops_to_index(ops: Sequence[int]) -> int:
    """Official index of an op tuple."""
    return int(code_to_index_table()[ops_to_code(ops)])


def index_to_ops(index: int) -> tuple[int, ...]:
    """Op tuple of an official index."""
    return code_to_ops(int(index_to_code_table()[_check_index(index)]))


def ops_to_str(ops: Sequence[int]) -> str:
    """Official architecture string of an op tuple."""
    ops = _check_ops(ops)
    nodes, k = [], 0
    for node in range(1, 4):
        nodes.append("|" + "|".join(f"{OPS[ops[k + j]]}~{j}" for j in range(node)) + "|")
        k += node
    return "+".join(nodes)


def str_to_ops(arch_str: str) -> tuple[int, ...]:
    """Parse an official architecture string; errors name the offending token."""
    nodes = arch_str.strip().split("+")
    if len(nodes) != 3:
        raise ValueError(f"NAS-Bench-201 string needs 3 '+'-separated nodes, got {arch_str!r}")
    ops: list[int] = []
    for node, text in enumerate(nodes, start=1):
        tokens = [t for t in text.strip("|").split("|")]
        if len(tokens) != node:
            raise ValueError(
                f"node {node} of {arch_str!r} must have {node} edges, got {len(tokens)}"
            )
        for j, tok in enumerate(tokens):
            name, _, src = tok.partition("~")
            if name not in OPS:
                raise ValueError(f"unknown op {name!r} in {arch_str!r}; allowed: {', '.join(OPS)}")
            if src != str(j):
                raise ValueError(f"edge token {tok!r} in {arch_str!r} must come from node {j}")
            ops.append(OPS.index(name))
    return tuple(ops)


def index_to_str(index: int) -> str:
    return ops_to_str(index_to_ops(index))


def str_to_index(arch_str: str) -> int:
    return ops_to_index(str_to_ops(arch_str))


def ops_to_discrete(ops: Sequence[int]) -> np.ndarray:
    """One-hot alpha_d, shape ``(6, 5)``, float32."""
    ops = _check_ops(ops)
    out = np.zeros(SHAPE, dtype=np.float32)
    out[np.arange(N_EDGES), ops] = 1.0
    return out


def discrete_to_ops(discrete: np.ndarray) -> tuple[int, ...]:
    """Op tuple of a one-hot alpha_d; rejects matrices that are not one-hot per row."""
    discrete = np.asarray(discrete)
    if discrete.shape != SHAPE:
        raise ValueError(f"alpha_d must have shape {SHAPE}, got {discrete.shape}")
    if not (np.isin(discrete, (0, 1)).all() and (discrete.sum(axis=1) == 1).all()):
        raise ValueError("alpha_d must be one-hot in every row")
    return tuple(int(o) for o in discrete.argmax(axis=1))


def discretize(alpha: np.ndarray) -> tuple[int, ...]:
    """Algorithm 3: argmax per edge (ties -> lowest op index). Returns the op tuple."""
    alpha = np.asarray(alpha)
    if alpha.shape != SHAPE and alpha.shape != (N_EDGES * N_OPS,):
        raise ValueError(
            f"alpha must have shape {SHAPE} or ({N_EDGES * N_OPS},), got {alpha.shape}"
        )
    return tuple(int(o) for o in alpha.reshape(SHAPE).argmax(axis=1))


def discretize_to_index(alpha: np.ndarray) -> int:
    """Algorithm 3 straight to the official index (the hot path of the oracle env)."""
    code = int(np.dot(np.asarray(alpha).reshape(SHAPE).argmax(axis=1), _POWERS))
    return int(code_to_index_table()[code])


def op_mask() -> np.ndarray:
    """Read-only ``(6, 5)`` bool mask of the ops an environment executes as proposed: all True."""
    mask = np.ones(SHAPE, dtype=bool)
    mask.flags.writeable = False
    return mask


def hamming(ops_a: Sequence[int], ops_b: Sequence[int]) -> int:
    """Number of edges whose op differs (DDAS 'similarity' on NB201)."""
    return sum(int(a != b) for a, b in zip(_check_ops(ops_a), _check_ops(ops_b), strict=True))


@lru_cache(maxsize=1)
def all_strs() -> tuple[str, ...]:
    """Architecture strings in official index order (built once; used on hot paths)."""
    return tuple(ops_to_str(ops) for ops in all_ops().tolist())


def all_ops() -> np.ndarray:
    """``(15625, 6)`` op tuples in official index order."""
    codes = index_to_code_table()
    return ((codes[:, None] // _POWERS[None, :]) % N_OPS).astype(np.int64)
