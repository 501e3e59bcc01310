"""The DARTS cell search space (Liu et al., ICLR 2019) as searched by DDAS/CADAM.

A cell has two inputs, ``k-2`` (node 0) and ``k-1`` (node 1), four intermediate
nodes (2..5 in genotype numbering, 0..3 here) and 14 edges. Intermediate node
``j`` has ``j + 2`` incoming edges, and the rows of alpha are ordered node by
node, inputs first::

    node 0: rows 0-1   (from k-2, k-1)
    node 1: rows 2-4   (from k-2, k-1, node 0)
    node 2: rows 5-8   (from k-2, k-1, node 0, node 1)
    node 3: rows 9-13  (from k-2, k-1, node 0, node 1, node 2)

Normal and reduction cells are searched together, so alpha has shape
``(2, 14, 7)`` = (cell, edge, op) with cell 0 = normal, 1 = reduce. The 7 ops
omit DARTS' ``none`` as CADAM does (Mills 2020, Sec. 4.2.2); ``with_none=True``
gives the 8-op layout of DARTS with ``none`` in column 0. By default
:func:`discretize` never selects that column (DARTS' own derivation rule);
``select_none=True`` lets it compete like any op, as in DDAS (Mills 2020, Ch. 3:
only CADAM removes ``none``; DDAS's cell widths of 0.5 to 4, Fig. 3.5, need it).
A ``none`` pair is an edge that contributes zeros: it counts as one of the node's
two edges, but carries no signal.

Algorithm 2 of Mills (2020) maps a continuous alpha to a binary alpha_d: per
cell, per node, the first edge is the one holding the largest entry of the
node's block of rows (with that entry's op); the second is the one holding the
largest entry among the node's *other* edges (with its argmax op). Every node
therefore gets two distinct incoming edges and every cell 8 active (edge, op)
pairs, exactly the DARTS evaluation space. This is the same rule DARTS uses to
derive its final cell (Liu et al. 2019, Sec. 2.4), with ``none`` excluded.

Ties are broken by ``numpy.argmax`` order over the node's block flattened row
by row: the lower edge row wins, then the lower op column.

The binary alpha_d converts to and from the standard DARTS ``Genotype``, whose
``normal``/``reduce`` lists hold two ``(op_name, input_node)`` pairs per
intermediate node (input 0 = ``k-2``, 1 = ``k-1``, ``2 + i`` = intermediate node
``i``) and whose concat is ``range(2, 6)``. Within a node, pairs are listed by
increasing input node, so a genotype read from a paper may list them in another
order and still map to the same alpha_d.
"""

from __future__ import annotations

import ast
from collections import namedtuple
from collections.abc import Sequence

import numpy as np

OPS: tuple[str, ...] = (
    "max_pool_3x3",
    "avg_pool_3x3",
    "skip_connect",
    "sep_conv_3x3",
    "sep_conv_5x5",
    "dil_conv_3x3",
    "dil_conv_5x5",
)
OPS_WITH_NONE: tuple[str, ...] = ("none", *OPS)
N_NODES = 4
N_INPUTS = 2
N_CELLS = 2  # normal, reduce
CELL_NAMES: tuple[str, ...] = ("normal", "reduce")
N_EDGES = sum(j + N_INPUTS for j in range(N_NODES))  # 14
N_OPS = len(OPS)
SHAPE = (N_CELLS, N_EDGES, N_OPS)
PAIRS_PER_CELL = 2 * N_NODES  # 8

#: ``NODE_ROWS[j]`` = (first row, end row) of node j's incoming edges: rows first..end-1.
NODE_ROWS: tuple[tuple[int, int], ...] = tuple(
    (sum(i + N_INPUTS for i in range(j)), sum(i + N_INPUTS for i in range(j + 1)))
    for j in range(N_NODES)
)
#: ``EDGES[e] = (node, input)``: edge row e enters intermediate node ``node`` (0..3)
#: from genotype input ``input`` (0 = k-2, 1 = k-1, 2 + i = intermediate node i).
EDGES: tuple[tuple[int, int], ...] = tuple(
    (j, src) for j in range(N_NODES) for src in range(j + N_INPUTS)
)
_EDGE_INDEX = {edge: e for e, edge in enumerate(EDGES)}
CONCAT: tuple[int, ...] = tuple(range(N_INPUTS, N_INPUTS + N_NODES))

Genotype = namedtuple("Genotype", "normal normal_concat reduce reduce_concat")
"""The DARTS genotype (``genotypes.py`` of quark0/darts): field names and meaning as there."""


def shape(with_none: bool = False) -> tuple[int, int, int]:
    """Alpha shape: ``(2, 14, 7)``, or ``(2, 14, 8)`` with ``none`` in column 0."""
    return (N_CELLS, N_EDGES, N_OPS + 1) if with_none else SHAPE


def op_names(with_none: bool = False) -> tuple[str, ...]:
    """Column names of alpha for the chosen layout."""
    return OPS_WITH_NONE if with_none else OPS


def _check_select_none(with_none: bool, select_none: bool) -> None:
    if select_none and not with_none:
        raise ValueError(
            "select_none=True needs the 8-op layout: pass with_none=True as well "
            "('none' is column 0 of that layout)"
        )


def op_mask(with_none: bool = False, select_none: bool = False) -> np.ndarray:
    """Read-only bool mask of :func:`shape`: False for the ``none`` column unless
    ``select_none`` (then :func:`discretize` may select it); True = the op can be chosen."""
    _check_select_none(with_none, select_none)
    mask = np.ones(shape(with_none), dtype=bool)
    if with_none and not select_none:
        mask[..., 0] = False
    mask.flags.writeable = False
    return mask


def _as_alpha(alpha: object, with_none: bool, what: str = "alpha") -> np.ndarray:
    """``alpha`` as a float array of :func:`shape`; flat input accepted; clear errors."""
    arr = np.asarray(alpha)
    want = shape(with_none)
    size = int(np.prod(want))
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise ValueError(f"{what} must be a numeric array of shape {want}, got dtype {arr.dtype}")
    if arr.shape != want and arr.shape != (size,):
        other = shape(not with_none)
        hint = f" (that is the with_none={not with_none} layout)" if arr.shape == other else ""
        raise ValueError(f"{what} has shape {arr.shape}; expected {want} or flat ({size},){hint}")
    arr = arr.reshape(want)
    if not np.isfinite(arr).all():
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(arr))[0])
        raise ValueError(f"{what} contains NaN or inf (first at position {bad})")
    return arr


def discretize(alpha: np.ndarray, with_none: bool = False, select_none: bool = False) -> np.ndarray:
    """Algorithm 2 (Mills 2020): continuous alpha -> binary alpha_d, 8 ones per cell.

    Args:
        alpha: ``shape(with_none)`` array (or its flat form) of architecture weights.
        with_none: alpha has the 8-op layout, ``none`` in column 0.
        select_none: ``none`` competes like any op (DDAS); False: column 0 is never
            selected (DARTS' derivation, and this space's default).

    Returns:
        float32 alpha_d of ``shape(with_none)``.
    """
    _check_select_none(with_none, select_none)
    arr = _as_alpha(alpha, with_none).astype(np.float64, copy=False)
    first_op = 1 if with_none and not select_none else 0
    out = np.zeros(arr.shape, dtype=np.float32)
    for cell in range(N_CELLS):
        for start, end in NODE_ROWS:
            # Only the op columns that may be chosen take part in the ranking.
            block = arr[cell, start:end, first_op:]
            n_ops = block.shape[1]
            flat = int(np.argmax(block))
            e1, o1 = divmod(flat, n_ops)
            masked = block.copy()
            masked[e1, :] = -np.inf
            e2, o2 = divmod(int(np.argmax(masked)), n_ops)
            out[cell, start + e1, first_op + o1] = 1.0
            out[cell, start + e2, first_op + o2] = 1.0
    return out


def _check_discrete(alpha_d: object, with_none: bool | None = None) -> tuple[np.ndarray, bool]:
    """Validate a binary alpha_d (either layout unless fixed); return it and its layout."""
    arr = np.asarray(alpha_d)
    if with_none is None:
        with_none = arr.shape == shape(True) or arr.shape == (int(np.prod(shape(True))),)
    arr = _as_alpha(arr, bool(with_none), "alpha_d")
    if not np.isin(arr, (0, 1)).all():
        raise ValueError("alpha_d must be binary (0/1); discretize a continuous alpha first")
    for cell in range(N_CELLS):
        for j, (start, end) in enumerate(NODE_ROWS):
            block = arr[cell, start:end]
            per_edge = block.sum(axis=1)
            if block.sum() != 2 or per_edge.max() > 1:
                raise ValueError(
                    f"alpha_d {CELL_NAMES[cell]} cell node {j} must select exactly 2 distinct "
                    f"incoming edges with one op each; got {int(block.sum())} ones on edges "
                    f"{np.nonzero(per_edge)[0].tolist()} of rows {start}..{end - 1}"
                )
    return arr, bool(with_none)


def active_pairs(alpha_d: np.ndarray) -> list[list[tuple[int, int]]]:
    """Per cell (normal, reduce), the 8 active ``(edge, op)`` pairs, sorted by edge.

    Op indices refer to the layout of ``alpha_d`` (column 0 is ``none`` in the 8-op one).
    """
    arr, _ = _check_discrete(alpha_d)
    return [
        [(int(e), int(o)) for e, o in zip(*np.nonzero(arr[c]), strict=True)] for c in range(N_CELLS)
    ]


def to_genotype(alpha_d: np.ndarray) -> Genotype:
    """The DARTS ``Genotype`` of a binary alpha_d (either op layout)."""
    arr, with_none = _check_discrete(alpha_d)
    names = op_names(with_none)
    cells = []
    for c in range(N_CELLS):
        rows, cols = np.nonzero(arr[c])
        cells.append([(names[int(o)], EDGES[int(e)][1]) for e, o in zip(rows, cols, strict=True)])
    return Genotype(cells[0], list(CONCAT), cells[1], list(CONCAT))


def uses_none(g: Genotype) -> bool:
    """Whether a genotype has a ``none`` pair (then only the 8-op layout holds it)."""
    try:
        return any(pair[0] == "none" for cell in (g[0], g[2]) for pair in cell)
    except (TypeError, IndexError, KeyError):
        return False  # malformed: from_genotype says what is wrong


def from_genotype(g: Genotype, with_none: bool | None = None) -> np.ndarray:
    """Binary alpha_d of a DARTS ``Genotype`` in this space; ValueError if it is outside it.

    ``with_none=None`` picks the 8-op layout exactly when the genotype has a ``none``
    pair (a DDAS cell with ``select_none``); False rejects ``none``.
    """
    if not (isinstance(g, tuple) and len(g) == 4):
        raise ValueError(
            f"expected a Genotype(normal, normal_concat, reduce, reduce_concat), got {g!r}"
        )
    if with_none is None:
        with_none = uses_none(g)
    names = op_names(with_none)
    out = np.zeros(shape(with_none), dtype=np.float32)
    for c, (cell, concat) in enumerate(((g[0], g[1]), (g[2], g[3]))):
        label = CELL_NAMES[c]
        try:
            concat_ok = [int(i) for i in concat] == list(CONCAT)
        except (TypeError, ValueError):
            concat_ok = False
        if not concat_ok:
            raise ValueError(
                f"{label}_concat must be {list(CONCAT)} (all 4 nodes), got {list(concat)!r}"
            )
        cell = list(cell)
        if len(cell) != PAIRS_PER_CELL:
            raise ValueError(
                f"{label} cell must list {PAIRS_PER_CELL} (op, input) pairs, got {len(cell)}"
            )
        for j in range(N_NODES):
            seen: set[int] = set()
            for pair in cell[2 * j : 2 * j + 2]:
                if not (isinstance(pair, Sequence) and len(pair) == 2):
                    raise ValueError(
                        f"{label} node {j}: expected an (op, input) pair, got {pair!r}"
                    )
                op, src = pair
                if op not in names:
                    hint = " ('none' needs with_none=True)" if op == "none" else ""
                    raise ValueError(
                        f"{label} node {j}: op {op!r} is not in the search space; allowed: "
                        f"{', '.join(names)}{hint}"
                    )
                if (
                    isinstance(src, bool)
                    or not isinstance(src, (int, np.integer))
                    or not 0 <= src < j + N_INPUTS
                ):
                    raise ValueError(
                        f"{label} node {j} (genotype node {j + N_INPUTS}): input {src!r} must be an "
                        f"integer in [0, {j + N_INPUTS})"
                    )
                if int(src) in seen:
                    raise ValueError(
                        f"{label} node {j}: input {src} used twice; a node needs 2 distinct inputs"
                    )
                seen.add(int(src))
                out[c, _EDGE_INDEX[(j, int(src))], names.index(op)] = 1.0
    return out


def _fmt_cell(cell: Sequence[tuple[str, int]]) -> str:
    return "[" + ", ".join(f"({op!r}, {int(src)})" for op, src in cell) + "]"


def genotype_to_str(g: Genotype) -> str:
    """The DARTS repr: ``Genotype(normal=[('sep_conv_3x3', 0), ...], normal_concat=[2, 3, 4, 5], ...)``.

    The genotype is validated and written in canonical order (pairs of a node by input).
    """
    g = to_genotype(from_genotype(g))
    return (
        f"Genotype(normal={_fmt_cell(g.normal)}, normal_concat={list(g.normal_concat)}, "
        f"reduce={_fmt_cell(g.reduce)}, reduce_concat={list(g.reduce_concat)})"
    )


def _literal(node: ast.AST, text: str) -> object:
    """A literal, or ``range(a, b)`` as DARTS' genotypes.py writes concats; nothing is evaluated."""
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "range"
        and not node.keywords
    ):
        return list(range(*[int(ast.literal_eval(a)) for a in node.args]))
    try:
        return ast.literal_eval(node)
    except ValueError as err:
        raise ValueError(f"cannot parse genotype {text!r}: {err}") from None


def str_to_genotype(s: str) -> Genotype:
    """Parse a genotype string (the DARTS repr, ``range(2, 6)`` concats accepted) or a name
    from :data:`PUBLISHED`; the result is validated against this search space."""
    text = s.strip()
    if text in PUBLISHED:
        return PUBLISHED[text]
    try:
        tree = ast.parse(text, mode="eval").body
    except SyntaxError:
        raise ValueError(
            f"cannot parse genotype {s!r}: expected 'Genotype(normal=[...], normal_concat=[...], "
            f"reduce=[...], reduce_concat=[...])' or one of {', '.join(PUBLISHED)}"
        ) from None
    if not (
        isinstance(tree, ast.Call)
        and isinstance(tree.func, ast.Name)
        and tree.func.id == "Genotype"
    ):
        raise ValueError(f"cannot parse genotype {s!r}: it must be a Genotype(...) expression")
    values = [_literal(a, s) for a in tree.args]
    fields = dict(zip(Genotype._fields, values, strict=False))
    for kw in tree.keywords:
        if kw.arg not in Genotype._fields or kw.arg in fields:
            raise ValueError(
                f"cannot parse genotype {s!r}: unexpected or repeated field {kw.arg!r}"
            )
        fields[kw.arg] = _literal(kw.value, s)
    if set(fields) != set(Genotype._fields):
        missing = sorted(set(Genotype._fields) - set(fields))
        raise ValueError(f"cannot parse genotype {s!r}: missing fields {missing}")
    g = Genotype(**{k: (list(v) if isinstance(v, (list, tuple)) else v) for k, v in fields.items()})
    from_genotype(g)  # validate
    return Genotype(
        [tuple(p) for p in g.normal],
        list(g.normal_concat),
        [tuple(p) for p in g.reduce],
        list(g.reduce_concat),
    )


def sample_uniform(rng: np.random.Generator, with_none: bool = False) -> np.ndarray:
    """A random continuous alpha ~ U(0, 1) (float32), as used for uniform path sampling."""
    return rng.random(shape(with_none), dtype=np.float32)


def sample_path(
    rng: np.random.Generator, with_none: bool = False, select_none: bool = False
) -> np.ndarray:
    """Uniform single-path sampling (Mills 2020, Sec. 4.1.3): Algorithm 2 applied to alpha ~ U(0, 1)."""
    return discretize(sample_uniform(rng, with_none), with_none, select_none)


class UniformPath:
    """Picklable ``sample_discrete`` for supernet pre-training: :func:`sample_path`."""

    def __init__(self, with_none: bool = False, select_none: bool = False):
        _check_select_none(with_none, select_none)
        self.with_none = with_none
        self.select_none = select_none

    def __call__(self, rng: np.random.Generator) -> np.ndarray:
        return sample_path(rng, self.with_none, getattr(self, "select_none", False))


def _cell_pairs(genotype_cell: Sequence[tuple[str, int]]) -> list[tuple[int, str, int]]:
    """``(node, op, input)`` per pair of a genotype cell list, validated (8 pairs, 2 per node)."""
    cell = list(genotype_cell)
    if len(cell) != PAIRS_PER_CELL:
        raise ValueError(
            f"a genotype cell must list {PAIRS_PER_CELL} (op, input) pairs, got {len(cell)}"
        )
    out = []
    for k, (op, src) in enumerate(cell):
        node = k // 2
        if op not in OPS_WITH_NONE or not 0 <= int(src) < node + N_INPUTS:
            raise ValueError(f"bad pair {(op, src)!r} for genotype node {node + N_INPUTS}")
        out.append((node, op, int(src)))
    return out


def cell_width(genotype_cell: Sequence[tuple[str, int]]) -> float:
    """Cell width of Shu et al. (2020) in units of a node's width c, 'none' excluded.

    Shu et al. define the width of a cell as the total width of the intermediate
    nodes connected to the input nodes, a node that is only partly connected to
    the inputs counting for the fraction of its inputs that are cell inputs. With
    every DARTS node having two inputs, this equals Mills (2020, Fig. 3.5)'s
    "average number of op-edge pairs originating from the two input nodes":
    ``(#non-none pairs whose input is k-2 or k-1) / 2``, in [0.5, 4] for a cell
    whose node 0 is not all 'none' (in [1, 4] without 'none').
    """
    pairs = _cell_pairs(genotype_cell)
    return sum(1 for _, op, src in pairs if op != "none" and src < N_INPUTS) / 2.0


def cell_depth(genotype_cell: Sequence[tuple[str, int]]) -> int:
    """Cell depth of Shu et al. (2020): connections on the longest path from an input to the output.

    The path counts the final connection of an intermediate node into the
    concatenated output, so a cell whose nodes all read only the cell inputs has
    depth 2 and a chain input -> n0 -> n1 -> n2 -> n3 -> output has depth 5
    (the DARTS_V2 normal cell: 3). 'none' pairs are not connections.
    """
    pairs = _cell_pairs(genotype_cell)
    # depth[s]: connections on the longest input path into node s (None: unreachable).
    depth: list[int | None] = [0] * N_INPUTS
    for j in range(N_NODES):
        reach = [depth[src] for node, op, src in pairs if node == j and op != "none"]
        reach = [d for d in reach if d is not None]
        depth.append(max(reach) + 1 if reach else None)
    ends = [d for d in depth[N_INPUTS:] if d is not None]
    return max(ends) + 1 if ends else 0


def n_differing_pairs(alpha_d_a: np.ndarray, alpha_d_b: np.ndarray) -> int:
    """How many of the 16 active (edge, op) pairs of ``a`` are not active in ``b``.

    DDAS-4S calls two architectures similar when fewer than 6 differ (Mills 2020, Sec. 3.2.1).
    Symmetric, because both select exactly 16 pairs.
    """
    a, wa = _check_discrete(alpha_d_a)
    b, wb = _check_discrete(alpha_d_b)
    if wa != wb:
        raise ValueError(f"alpha_d layouts differ: shapes {a.shape} and {b.shape}")
    return int(np.count_nonzero((a > 0.5) & ~(b > 0.5)))


#: Published DARTS-space genotypes, typed in from the papers' released cells:
#: DARTS first and second order (Liu et al. 2019) and PC-DARTS on CIFAR-10 (Xu et al. 2020).
PUBLISHED: dict[str, Genotype] = {
    "DARTS_V1": Genotype(
        normal=[
            ("sep_conv_3x3", 1),
            ("sep_conv_3x3", 0),
            ("skip_connect", 0),
            ("sep_conv_3x3", 1),
            ("skip_connect", 0),
            ("sep_conv_3x3", 1),
            ("sep_conv_3x3", 0),
            ("skip_connect", 2),
        ],
        normal_concat=[2, 3, 4, 5],
        reduce=[
            ("max_pool_3x3", 0),
            ("max_pool_3x3", 1),
            ("skip_connect", 2),
            ("max_pool_3x3", 0),
            ("max_pool_3x3", 0),
            ("skip_connect", 2),
            ("skip_connect", 2),
            ("avg_pool_3x3", 0),
        ],
        reduce_concat=[2, 3, 4, 5],
    ),
    "DARTS_V2": Genotype(
        normal=[
            ("sep_conv_3x3", 0),
            ("sep_conv_3x3", 1),
            ("sep_conv_3x3", 0),
            ("sep_conv_3x3", 1),
            ("sep_conv_3x3", 1),
            ("skip_connect", 0),
            ("skip_connect", 0),
            ("dil_conv_3x3", 2),
        ],
        normal_concat=[2, 3, 4, 5],
        reduce=[
            ("max_pool_3x3", 0),
            ("max_pool_3x3", 1),
            ("skip_connect", 2),
            ("max_pool_3x3", 1),
            ("max_pool_3x3", 0),
            ("skip_connect", 2),
            ("skip_connect", 2),
            ("max_pool_3x3", 1),
        ],
        reduce_concat=[2, 3, 4, 5],
    ),
    "PC_DARTS": Genotype(
        normal=[
            ("sep_conv_3x3", 1),
            ("skip_connect", 0),
            ("sep_conv_3x3", 0),
            ("dil_conv_3x3", 1),
            ("sep_conv_5x5", 0),
            ("sep_conv_3x3", 1),
            ("avg_pool_3x3", 0),
            ("dil_conv_3x3", 1),
        ],
        normal_concat=[2, 3, 4, 5],
        reduce=[
            ("sep_conv_5x5", 1),
            ("max_pool_3x3", 0),
            ("sep_conv_5x5", 1),
            ("sep_conv_5x5", 2),
            ("sep_conv_3x3", 0),
            ("sep_conv_3x3", 3),
            ("sep_conv_3x3", 1),
            ("sep_conv_3x3", 2),
        ],
        reduce_concat=[2, 3, 4, 5],
    ),
}
DARTS_V2 = PUBLISHED["DARTS_V2"]
