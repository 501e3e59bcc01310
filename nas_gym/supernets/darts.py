"""The DARTS weight-sharing supernet with a discrete-path forward (Mills 2020, Sec. 4.1.3).

The network is DARTS' search model (Liu et al. 2019): a 3x3 stem of
``stem_multiplier * C`` channels, ``num_cells`` cells with reductions (stride 2,
channels doubled) at cells ``num_cells // 3`` and ``2 * num_cells // 3``, global
average pooling and a linear classifier. Each cell preprocesses its two inputs
(outputs of the two previous cells) to ``C_cell`` channels with 1x1 ReLU-conv-BN
(a :class:`FactorizedReduce` when the previous cell reduced), holds one candidate
op per (edge, op) of the 14 x 7 space, and concatenates its four intermediate nodes.

:meth:`DARTSSupernet.forward` takes a binary alpha_d (see
:func:`nas_gym.spaces.darts.discretize`) and *calls only the 8 selected ops per
cell*: the other ops get no activations and no gradients, so time and memory are
those of one architecture. This is how DDAS trains a path and how CADAM
pre-trains by uniform sampling. :meth:`DARTSSupernet.forward_mixed` is the full
DARTS continuous relaxation (every node sums all incoming edges, each edge a
softmax-weighted sum of all ops); it is the memory baseline of
``benchmarks/darts_path_vs_mixed.py`` and the "all ops active" warm-up.
:meth:`DARTSSupernet.forward_weighted` is the same relaxation with weights the
caller has already normalized (shared or per example), skipping zero-weight ops:
the forward of the one-shot trainers in :mod:`nas_gym.oneshot`.

With ``pc_k=K`` the edges use PC-DARTS partial channel connections (Xu et al.,
ICLR 2020): an edge runs its op on the first ``C/K`` channels only, passes the
other channels through (max-pooled 2x2 on stride-2 edges), concatenates, and
shuffles the channels in K groups. PC-DARTS' edge normalization (beta) is not
needed because alpha_d already selects the edges (Mills 2020, Sec. 4.1.3).

Ops are built with ``affine=False`` batch norms, as in DARTS' search model.
Modules are device-agnostic: move them with ``.to(device)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from nas_gym.spaces import darts as space
from nas_gym.supernets.darts_ops import FactorizedReduce, ReLUConvBN, channel_shuffle, make_op
from nas_gym.supernets.op_weights import batched_weights

Path = tuple[tuple[tuple[tuple[int, int], ...], ...], ...]
"""``path[cell][node]`` = the node's two ``(edge, op)`` pairs; cell 0 normal, 1 reduce; op in
OPS, or :data:`NONE_OP` for a ``none`` pair (8-op layout with ``select_none``)."""

NONE_OP = -1
"""Op index of ``none`` in a :data:`Path`: the edge contributes zeros (DARTS' ``Zero``)."""


def _check_int(name: str, value: object, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def reduction_cells(num_cells: int) -> tuple[int, ...]:
    """Indices of the reduction cells: ``num_cells // 3`` and ``2 * num_cells // 3`` (DARTS)."""
    return tuple(sorted({num_cells // 3, 2 * num_cells // 3}))


#: How :func:`check_shape` names the supernet's size arguments on the command line.
SHAPE_FLAGS = {"C": "--channels", "num_cells": "--cells", "pc_k": "--pc-k"}


def check_shape(
    C: int, num_cells: int, pc_k: int | None = None, names: dict[str, str] | None = None
) -> tuple[int, int, int | None]:
    """Validate the supernet's size before building it (or before reading any data).

    PC-DARTS (Xu et al., ICLR 2020) splits every cell's channels into ``pc_k`` parts, so
    ``pc_k`` must divide each cell's channel count, and a reduction cell's share must be
    even (its stride-2 skip is a factorized reduce, two half-width convs). ``names``
    renames the arguments in the message (:data:`SHAPE_FLAGS` for the CLI's flags).
    """
    name = {"C": "C", "num_cells": "num_cells", "pc_k": "pc_k", **(names or {})}
    C = _check_int(name["C"], C)
    num_cells = _check_int(name["num_cells"], num_cells)
    if pc_k is None:
        return C, num_cells, None
    pc_k = _check_int(name["pc_k"], pc_k)
    c_curr, reductions = C, reduction_cells(num_cells)
    for i in range(num_cells):
        reduction = i in reductions
        c_curr *= 2 if reduction else 1
        if c_curr % pc_k or (reduction and (c_curr // pc_k) % 2):
            raise ValueError(
                f"{name['pc_k']}={pc_k} must divide the {c_curr} channels of cell {i}"
                + (" into an even number (stride-2 skip needs it)" if reduction else "")
                + f"; choose {name['C']} (got {C}) as a multiple of {name['pc_k']} ({pc_k}),"
                " which every cell then divides (a reduction cell doubles the channels)"
            )
    return C, num_cells, pc_k


def path_from_alpha_d(alpha_d: np.ndarray | Tensor) -> Path:
    """The selected ``(edge, op)`` pairs per cell and node of a binary alpha_d (either layout).

    A ``none`` pair (column 0 of the 8-op layout) maps to op :data:`NONE_OP`.
    """
    if isinstance(alpha_d, Tensor):
        alpha_d = alpha_d.detach().cpu().numpy()
    arr = np.asarray(alpha_d)
    with_none = arr.shape == space.shape(True)
    shift = 1 if with_none else 0
    pairs = space.active_pairs(arr)  # validates: 2 distinct edges per node
    out = []
    for cell_pairs in pairs:
        nodes: list[list[tuple[int, int]]] = [[] for _ in range(space.N_NODES)]
        for e, o in cell_pairs:
            nodes[space.EDGES[e][0]].append((e, o - shift))
        out.append(tuple(tuple(n) for n in nodes))
    return tuple(out)


def _as_weights(weights: Tensor | np.ndarray, x: Tensor) -> Tensor:
    """Validate op weights for :meth:`DARTSSupernet.forward_weighted`; return ``(B or 1, 2, 14, 7)``."""
    w = batched_weights(weights, x, [space.shape(False), space.shape(True)])
    if w.shape[-1] == space.N_OPS + 1:
        w = w[..., 1:]  # 'none' contributes zeros
    return w


class SearchEdge(nn.Module):
    """All candidate ops of one edge, optionally on a partial channel set (PC-DARTS)."""

    def __init__(self, c: int, stride: int, pc_k: int | None):
        super().__init__()
        self.stride = stride
        self.pc_k = pc_k
        c_op = c // pc_k if pc_k else c
        self.c_op = c_op
        self.ops = nn.ModuleList(
            make_op(name, c_op, stride, affine=False, pool_bn=True) for name in space.OPS
        )

    def _bypass(self, x: Tensor) -> Tensor:
        if self.stride == 1:
            return x
        return F.max_pool2d(x, 2, 2, ceil_mode=True)

    def forward(self, x: Tensor, op: int) -> Tensor:
        """Run the single op ``op`` (index into OPS; :data:`NONE_OP`: zeros) on this edge."""
        if op == NONE_OP:  # 'none': zeros of the output shape, no parameters
            return x[..., :: self.stride, :: self.stride].mul(0.0)
        if not self.pc_k:
            return self.ops[op](x)
        y = self.ops[op](x[:, : self.c_op])
        return channel_shuffle(torch.cat([y, self._bypass(x[:, self.c_op :])], dim=1), self.pc_k)

    def forward_mixed(self, x: Tensor, weights: Tensor) -> Tensor:
        """Weighted sum of all 7 ops (``weights`` has 7 entries, already normalized)."""
        part = x[:, : self.c_op] if self.pc_k else x
        y = sum(w * op(part) for w, op in zip(weights, self.ops, strict=True))
        if not self.pc_k:
            return y
        return channel_shuffle(torch.cat([y, self._bypass(x[:, self.c_op :])], dim=1), self.pc_k)

    def forward_weighted(self, x: Tensor, weights: Tensor, ops: Sequence[int]) -> Tensor:
        """Sum over ``ops`` of ``weights[:, o] * op_o(x)``; ``weights`` is ``(B or 1, 7)``.

        Only the listed ops run (the caller drops those with zero weight everywhere).
        """
        part = x[:, : self.c_op] if self.pc_k else x
        y = sum(weights[:, o].view(-1, 1, 1, 1) * self.ops[o](part) for o in ops)
        if not self.pc_k:
            return y
        return channel_shuffle(torch.cat([y, self._bypass(x[:, self.c_op :])], dim=1), self.pc_k)


class SearchCell(nn.Module):
    """One DARTS search cell: 2 preprocessed inputs, 4 nodes, 14 edges of 7 ops."""

    def __init__(
        self, c_pp: int, c_p: int, c: int, reduction: bool, reduction_prev: bool, pc_k: int | None
    ):
        super().__init__()
        self.reduction = reduction
        self.preprocess0 = (
            FactorizedReduce(c_pp, c, affine=False)
            if reduction_prev
            else ReLUConvBN(c_pp, c, 1, 1, 0, affine=False)
        )
        self.preprocess1 = ReLUConvBN(c_p, c, 1, 1, 0, affine=False)
        self.edges = nn.ModuleList(
            SearchEdge(c, 2 if reduction and src < space.N_INPUTS else 1, pc_k)
            for _, src in space.EDGES
        )

    def forward(self, s0: Tensor, s1: Tensor, nodes: Sequence[Sequence[tuple[int, int]]]) -> Tensor:
        """Discrete path: node j sums its two selected edges' single ops."""
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        for pairs in nodes:
            states.append(sum(self.edges[e](states[space.EDGES[e][1]], op) for e, op in pairs))
        return torch.cat(states[space.N_INPUTS :], dim=1)

    def forward_mixed(self, s0: Tensor, s1: Tensor, weights: Tensor) -> Tensor:
        """DARTS relaxation: node j sums all its incoming mixed edges; ``weights`` is (14, 7)."""
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        for start, end in space.NODE_ROWS:
            states.append(
                sum(
                    self.edges[e].forward_mixed(states[space.EDGES[e][1]], weights[e])
                    for e in range(start, end)
                )
            )
        return torch.cat(states[space.N_INPUTS :], dim=1)

    def forward_weighted(
        self, s0: Tensor, s1: Tensor, weights: Tensor, active: np.ndarray
    ) -> Tensor:
        """Node j sums its incoming edges, edge e sums its ``active[e]`` ops weighted by
        ``weights[:, e]`` (``(B or 1, 14, 7)``); an edge with no active op is not run."""
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        for start, end in space.NODE_ROWS:
            terms = [
                self.edges[e].forward_weighted(
                    states[space.EDGES[e][1]], weights[:, e], np.flatnonzero(active[e]).tolist()
                )
                for e in range(start, end)
                if active[e].any()
            ]
            states.append(sum(terms) if terms else self._zero_node(states))
        return torch.cat(states[space.N_INPUTS :], dim=1)

    def _zero_node(self, states: list[Tensor]) -> Tensor:
        """Output of a node whose every incoming weight is zero (e.g. all on 'none')."""
        s = states[0]
        if self.reduction:
            return s.new_zeros(s.shape[0], s.shape[1], -(-s.shape[2] // 2), -(-s.shape[3] // 2))
        return torch.zeros_like(s)


class DARTSSupernet(nn.Module):
    """DARTS search network whose forward runs one discrete architecture (a path).

    Args:
        C: channels of the first cells (doubled at each reduction).
        num_cells: number of cells N; reductions at N // 3 and 2N // 3.
        num_classes: classifier outputs.
        stem_multiplier: stem conv has ``stem_multiplier * C`` channels (DARTS: 3).
        pc_k: PC-DARTS channel proportion K (an op sees 1/K of the channels); None = off.
        in_channels: image channels.
    """

    search_space = "darts"
    op_names = space.OPS

    def __init__(
        self,
        C: int = 16,
        num_cells: int = 8,
        num_classes: int = 10,
        stem_multiplier: int = 3,
        pc_k: int | None = None,
        in_channels: int = 3,
    ):
        super().__init__()
        C, num_cells, pc_k = check_shape(C, num_cells, pc_k)
        num_classes = _check_int("num_classes", num_classes)
        stem_multiplier = _check_int("stem_multiplier", stem_multiplier)
        in_channels = _check_int("in_channels", in_channels)
        self.config: dict = {
            "C": C,
            "num_cells": num_cells,
            "num_classes": num_classes,
            "stem_multiplier": stem_multiplier,
            "pc_k": pc_k,
            "in_channels": in_channels,
        }
        self.reductions = reduction_cells(num_cells)
        c_curr = stem_multiplier * C
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, c_curr, 3, padding=1, bias=False),
            nn.BatchNorm2d(c_curr),
        )
        c_pp, c_p, c_curr = c_curr, c_curr, C
        cells = []
        reduction_prev = False
        for i in range(num_cells):
            reduction = i in self.reductions
            if reduction:
                c_curr *= 2
            cells.append(SearchCell(c_pp, c_p, c_curr, reduction, reduction_prev, pc_k))
            reduction_prev = reduction
            c_pp, c_p = c_p, space.N_NODES * c_curr
        self.cells = nn.ModuleList(cells)
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_p, num_classes)

    def forward(self, x: Tensor, alpha_d: np.ndarray | Tensor) -> Tensor:
        """Logits of the architecture ``alpha_d`` (binary, ``(2, 14, 7)`` or ``(2, 14, 8)``)."""
        return self.forward_path(x, path_from_alpha_d(alpha_d))

    def forward_path(self, x: Tensor, path: Path) -> Tensor:
        """:meth:`forward` with a pre-parsed path (see :func:`path_from_alpha_d`)."""
        s0 = s1 = self.stem(x)
        for cell in self.cells:
            s0, s1 = s1, cell(s0, s1, path[1 if cell.reduction else 0])
        return self.classifier(self.global_pooling(s1).flatten(1))

    def forward_mixed(self, x: Tensor, weights: Tensor | np.ndarray | None = None) -> Tensor:
        """DARTS mixed-op forward through all 14 x 7 (edge, op) pairs of every cell.

        Args:
            x: input images.
            weights: architecture logits of shape ``(2, 14, 7)``, or ``(2, 14, 8)`` with
                'none' in column 0 (its op outputs zeros, so it only takes softmax mass);
                softmax over ops per edge. None: uniform over the 7 ops.
        """
        if weights is None:
            probs = torch.full(space.SHAPE, 1.0 / space.N_OPS, device=x.device, dtype=x.dtype)
        else:
            w = torch.as_tensor(weights, device=x.device, dtype=x.dtype)
            if tuple(w.shape) not in (space.shape(False), space.shape(True)):
                raise ValueError(
                    f"weights must have shape {space.shape(False)} or {space.shape(True)}, got {tuple(w.shape)}"
                )
            probs = F.softmax(w, dim=-1)
            if w.shape[-1] == space.N_OPS + 1:
                probs = probs[..., 1:]  # 'none' contributes zeros
        s0 = s1 = self.stem(x)
        for cell in self.cells:
            s0, s1 = s1, cell.forward_mixed(s0, s1, probs[1 if cell.reduction else 0])
        return self.classifier(self.global_pooling(s1).flatten(1))

    def forward_weighted(self, x: Tensor, weights: Tensor | np.ndarray) -> Tensor:
        """Every (edge, op) weighted by already-normalized ``weights``, shared or per example.

        Node j sums all its incoming edges, edge e gives ``sum_o weights[e, o] * op_o(x)``
        (the DARTS relaxation with the softmax left to the caller, which lets
        gradient-based searchers such as DARTS, GDAS or UNAS feed their own relaxed
        samples). An (edge, op) whose weight is exactly zero for every example is not
        run at all, so a binary alpha_d gives exactly :meth:`forward` (same ops, same
        batch-norm batch statistics) and sparse samples cost only their active ops.
        With ``pc_k`` an edge with no active op is dropped with its channel bypass.

        Args:
            x: input images ``(B, C, H, W)``.
            weights: ``(2, 14, 7)`` shared or ``(B, 2, 14, 7)`` per example; the 8-op
                layouts ``(2, 14, 8)`` / ``(B, 2, 14, 8)`` have 'none' in column 0,
                which contributes zeros. Gradients flow to ``weights``.

        Returns:
            Logits ``(B, num_classes)``.
        """
        w = _as_weights(weights, x)
        active = (w != 0).any(dim=0).cpu().numpy()  # (2, 14, 7): ops to run
        s0 = s1 = self.stem(x)
        for cell in self.cells:
            c = 1 if cell.reduction else 0
            s0, s1 = s1, cell.forward_weighted(s0, s1, w[:, c], active[c])
        return self.classifier(self.global_pooling(s1).flatten(1))

    def path_parameters(self, alpha_d: np.ndarray | Tensor) -> list[nn.Parameter]:
        """Parameters a path uses (stem, preprocessing, its 16 ops' weights, classifier)."""
        path = path_from_alpha_d(alpha_d)
        selected = {
            id(p)
            for cell in self.cells
            for node in path[1 if cell.reduction else 0]
            for e, op in node
            if op != NONE_OP
            for p in cell.edges[e].ops[op].parameters()
        }
        op_params = {id(p) for cell in self.cells for p in cell.edges.parameters()}
        return [p for p in self.parameters() if id(p) not in op_params or id(p) in selected]
