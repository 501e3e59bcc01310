"""forward_weighted on the DARTS and ProxylessNAS supernets, tiny sizes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from nas_gym.spaces import darts as d
from nas_gym.spaces import proxyless as p
from nas_gym.supernets.darts import DARTSSupernet
from nas_gym.supernets.mobilenet import ProxylessSupernet

torch.set_num_threads(1)


def _darts(pc_k: int | None = None) -> DARTSSupernet:
    torch.manual_seed(0)
    return DARTSSupernet(C=4, num_cells=3, num_classes=5, pc_k=pc_k)


def _alpha_d(seed: int, with_none: bool = False) -> np.ndarray:
    return d.discretize(d.sample_uniform(np.random.default_rng(seed), with_none), with_none)


def _proxyless() -> ProxylessSupernet:
    torch.manual_seed(0)
    return ProxylessSupernet(num_classes=5, width_mult=0.25)


def _proxyless_probs(batch: int | None, seed: int) -> torch.Tensor:
    """Softmax over the allowed ops (``zero`` masked on a stage's first layer)."""
    g = torch.Generator().manual_seed(seed)
    shape = (batch, *p.SHAPE) if batch else p.SHAPE
    logits = torch.randn(shape, generator=g)
    logits = logits.masked_fill(~torch.tensor(p.op_mask()), float("-inf"))
    return F.softmax(logits, dim=-1)


@pytest.mark.parametrize("pc_k", [None, 2])
@pytest.mark.parametrize("with_none", [False, True])
def test_darts_one_hot_equals_path_forward(pc_k, with_none):
    net = _darts(pc_k)
    x = torch.randn(4, 3, 8, 8)
    alpha_d = _alpha_d(1, with_none)
    # Train mode: batch-norm uses batch statistics, so equality also needs the same ops run.
    torch.testing.assert_close(net.forward_weighted(x, torch.as_tensor(alpha_d)), net(x, alpha_d))


def test_darts_zero_weight_ops_are_not_run():
    net = _darts()
    x = torch.randn(2, 3, 8, 8)
    a, b = _alpha_d(1), _alpha_d(2)
    w = torch.as_tensor(np.stack([a, b]))  # per example: a different path each
    net.forward_weighted(x, w).sum().backward()
    for cell in net.cells:
        c = 1 if cell.reduction else 0
        for e, edge in enumerate(cell.edges):
            for o, op in enumerate(edge.ops):
                params = list(op.parameters())
                if not params:
                    continue
                ran = bool(a[c, e, o] or b[c, e, o])
                assert all((q.grad is not None) == ran for q in params), (c, e, o)


@pytest.mark.parametrize("pc_k", [None, 2])
def test_darts_uniform_softmax_equals_mixed(pc_k):
    net = _darts(pc_k)
    x = torch.randn(3, 3, 8, 8)
    uniform = F.softmax(torch.zeros(d.SHAPE), dim=-1)
    torch.testing.assert_close(net.forward_weighted(x, uniform), net.forward_mixed(x))


@pytest.mark.parametrize("with_none", [False, True])
def test_darts_softmax_of_logits_equals_mixed(with_none):
    net = _darts()
    x = torch.randn(3, 3, 8, 8)
    logits = torch.randn(d.shape(with_none), generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(
        net.forward_weighted(x, F.softmax(logits, dim=-1)), net.forward_mixed(x, logits)
    )


def test_darts_per_example_equals_loop_and_gradients_flow():
    net = _darts().eval()  # running statistics: each example's output depends on it alone
    x = torch.randn(3, 3, 8, 8)
    logits = torch.randn(3, *d.SHAPE, generator=torch.Generator().manual_seed(4))
    logits.requires_grad_(True)
    w = F.softmax(logits, dim=-1)
    out = net.forward_weighted(x, w)
    loop = torch.cat([net.forward_weighted(x[i : i + 1], w[i]) for i in range(3)])
    torch.testing.assert_close(out, loop)
    out.square().sum().backward()
    assert torch.isfinite(logits.grad).all()
    assert (logits.grad.abs().sum(dim=-1) > 0).all()  # every (example, cell, edge) gets signal


def test_darts_gradient_matches_finite_differences():
    net = _darts().double().eval()
    x = torch.randn(2, 3, 8, 8, dtype=torch.float64)
    w = F.softmax(torch.randn(d.SHAPE, dtype=torch.float64), dim=-1).requires_grad_(True)
    net.forward_weighted(x, w).sum().backward()
    h = 1e-6
    for idx in [(0, 0, 3), (1, 13, 6), (0, 9, 2)]:
        plus, minus = w.detach().clone(), w.detach().clone()
        plus[idx] += h
        minus[idx] -= h
        with torch.no_grad():
            fd = (net.forward_weighted(x, plus).sum() - net.forward_weighted(x, minus).sum()) / (
                2 * h
            )
        assert w.grad[idx].item() == pytest.approx(fd.item(), rel=1e-5, abs=1e-8)


def test_darts_all_none_node_contributes_zeros():
    net = _darts().eval()
    x = torch.randn(2, 3, 8, 8)
    w = torch.as_tensor(_alpha_d(1, with_none=True))
    w[:, :2] = 0.0
    w[:, :2, 0] = 1.0  # node 0 of both cells: all weight on 'none'
    cell_outputs = []  # what each cell returns: its nodes' states side by side, node 0 first
    for cell in net.cells:
        inner = cell.forward_weighted
        cell.forward_weighted = lambda *a, inner=inner: (
            cell_outputs.append(inner(*a)) or (cell_outputs[-1])
        )
    out = net.forward_weighted(x, w)
    assert out.shape == (2, 5) and torch.isfinite(out).all()
    assert len(cell_outputs) == len(net.cells)
    for states in cell_outputs:
        width = states.shape[1] // len(d.NODE_ROWS)
        assert torch.count_nonzero(states[:, :width]) == 0  # the all-'none' node: exact zeros
        assert torch.count_nonzero(states[:, width:]) > 0  # the other nodes are not


@pytest.mark.parametrize(
    "weights,match",
    [
        (torch.zeros(2, 14, 6), r"shape \(2, 14, 7\) or \(2, 14, 8\)"),
        (torch.zeros(3, 2, 14, 7), "batch size 3 but x has 2"),
        (torch.full(d.SHAPE, float("nan")), "NaN"),
    ],
)
def test_darts_bad_weights(weights, match):
    with pytest.raises(ValueError, match=match):
        _darts().forward_weighted(torch.randn(2, 3, 8, 8), weights)


def test_proxyless_one_hot_equals_path_forward():
    net = _proxyless()
    x = torch.randn(3, 3, 16, 16)
    ops = list(p.sample_ops(np.random.default_rng(0)))
    skippable = [lay.index for lay in p.LAYERS if not lay.first]
    ops[skippable[0]] = ops[skippable[-1]] = p.ZERO  # the identity branch is exercised
    one_hot = torch.as_tensor(p.ops_to_discrete(ops))
    torch.testing.assert_close(net.forward_weighted(x, one_hot), net(x, ops))


def test_proxyless_per_example_equals_loop_and_gradients_flow():
    net = _proxyless().eval()
    x = torch.randn(3, 3, 16, 16)
    w = _proxyless_probs(3, seed=1).requires_grad_(True)
    out = net.forward_weighted(x, w)
    loop = torch.cat([net.forward_weighted(x[i : i + 1], w[i]) for i in range(3)])
    torch.testing.assert_close(out, loop)
    out.square().sum().backward()
    allowed = torch.tensor(p.op_mask()).expand(3, -1, -1)
    assert torch.isfinite(w.grad).all() and (w.grad[allowed] != 0).all()


def test_proxyless_weighted_is_the_sum_of_candidates():
    """One layer mixed, the rest one-hot: that layer is the explicit weighted sum of its
    candidates and the identity, built from the same modules."""
    net = _proxyless().eval()
    x = torch.randn(2, 3, 16, 16)
    layer = next(lay for lay in p.LAYERS if not lay.first)
    w = torch.as_tensor(p.ops_to_discrete(tuple(0 for _ in p.LAYERS)))
    w[layer.index] = _proxyless_probs(None, seed=2)[layer.index]
    h = net.first(net.stem(x))
    for lay, cands in zip(p.LAYERS, net.layers, strict=True):
        if lay.index == layer.index:
            h = sum(w[lay.index, k] * (h if k == p.ZERO else cands[k](h)) for k in range(p.N_OPS))
        else:
            h = cands[0](h)
    ref = net.classifier(net.pool(net.head(h)).flatten(1))
    torch.testing.assert_close(net.forward_weighted(x, w), ref)


@pytest.mark.parametrize(
    "weights,match",
    [
        (torch.zeros(21, 6), r"shape \(21, 7\)"),
        (torch.zeros(4, 21, 7), "batch size 4 but x has 2"),
        (torch.full(p.SHAPE, 1.0 / p.N_OPS), "'zero'.*cannot be skipped"),
        (torch.as_tensor(p.ops_to_discrete([0] * p.N_LAYERS)) * 0, "all zero"),
    ],
)
def test_proxyless_bad_weights(weights, match):
    with pytest.raises(ValueError, match=match):
        _proxyless().forward_weighted(torch.randn(2, 3, 16, 16), weights)
