"""DARTS supernet (discrete path, mixed ops, PC-DARTS) and evaluation network, tiny sizes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nas_gym.spaces import darts as d
from nas_gym.supernets.darts import DARTSSupernet, path_from_alpha_d, reduction_cells
from nas_gym.supernets.darts_eval import DARTSEvalNetwork, count_flops_M, params_and_flops
from nas_gym.supernets.darts_ops import FactorizedReduce, channel_shuffle, make_op

torch.set_num_threads(1)


def _alpha_d(seed: int, with_none: bool = False) -> np.ndarray:
    return d.discretize(d.sample_uniform(np.random.default_rng(seed), with_none), with_none)


def _op_params(net: DARTSSupernet) -> dict[tuple[int, int, int], list[torch.nn.Parameter]]:
    """(cell, edge, op) -> that op's parameters."""
    return {
        (i, e, o): list(op.parameters())
        for i, cell in enumerate(net.cells)
        for e, edge in enumerate(cell.edges)
        for o, op in enumerate(edge.ops)
    }


def _selected(net: DARTSSupernet, alpha_d: np.ndarray) -> set[tuple[int, int, int]]:
    pairs = d.active_pairs(alpha_d)
    shift = 1 if alpha_d.shape[-1] == 8 else 0
    return {
        (i, e, o - shift)
        for i, cell in enumerate(net.cells)
        for e, o in pairs[1 if cell.reduction else 0]
    }


@pytest.mark.parametrize(
    "num_cells,expected", [(1, (0,)), (2, (0, 1)), (3, (1, 2)), (5, (1, 3)), (8, (2, 5))]
)
def test_reduction_positions(num_cells, expected):
    assert reduction_cells(num_cells) == expected


@pytest.mark.parametrize("pc_k", [None, 2])
def test_discrete_path_runs_and_trains_only_selected_ops(pc_k):
    torch.manual_seed(0)
    net = DARTSSupernet(C=4, num_cells=3, num_classes=5, pc_k=pc_k)
    assert [c.reduction for c in net.cells] == [False, True, True]
    alpha_d = _alpha_d(1)
    x = torch.randn(3, 3, 8, 8)
    out = net(x, alpha_d)
    assert out.shape == (3, 5) and torch.isfinite(out).all()
    out.square().mean().backward()
    selected = _selected(net, alpha_d)
    has_params = {k for k, ps in _op_params(net).items() if ps}
    for key, params in _op_params(net).items():
        for p in params:
            if key in selected:
                assert p.grad is not None and p.grad.abs().sum() > 0, key
            else:
                assert p.grad is None, key  # never called: no activations, no gradient
    # the path holds parametric ops (so the check above is not vacuous)
    assert selected & has_params
    assert {id(p) for p in net.path_parameters(alpha_d)} == {
        id(p) for p in net.parameters() if p.grad is not None
    }


def test_unselected_ops_do_not_affect_output_selected_do():
    torch.manual_seed(0)
    net = DARTSSupernet(C=4, num_cells=2).eval()
    alpha_d = _alpha_d(2)
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        ref = net(x, alpha_d)
        selected = _selected(net, alpha_d)
        params = _op_params(net)
        for key in params:
            if key not in selected:
                for p in params[key]:
                    p.add_(1.0)
        torch.testing.assert_close(net(x, alpha_d), ref, rtol=0, atol=0)
        key = next(k for k in selected if params[k])
        for p in params[key]:
            p.mul_(-3.0)
        assert not torch.allclose(net(x, alpha_d), ref)


def test_discrete_path_sums_the_two_selected_ops_per_node():
    """Rebuild one normal cell's output by hand from its selected ops."""
    torch.manual_seed(0)
    net = DARTSSupernet(C=4, num_cells=3).eval()
    alpha_d = _alpha_d(5)
    cell = net.cells[0]
    path = path_from_alpha_d(alpha_d)[0]
    s0, s1 = torch.randn(2, 12, 8, 8), torch.randn(2, 12, 8, 8)
    with torch.no_grad():
        states = [cell.preprocess0(s0), cell.preprocess1(s1)]
        for start, end in d.NODE_ROWS:
            node = torch.zeros_like(states[0])
            for e in range(start, end):
                for o in range(7):
                    if alpha_d[0, e, o]:
                        node = node + cell.edges[e].ops[o](states[d.EDGES[e][1]])
            states.append(node)
        expected = torch.cat(states[2:], dim=1)
        torch.testing.assert_close(cell(s0, s1, path), expected)


def test_with_none_layout_and_tensor_alpha_d_give_the_same_path():
    torch.manual_seed(0)
    net = DARTSSupernet(C=4, num_cells=2).eval()
    alpha_d = _alpha_d(3)
    padded = np.concatenate([np.zeros((2, 14, 1), np.float32), alpha_d], axis=-1)
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        ref = net(x, alpha_d)
        torch.testing.assert_close(net(x, padded), ref)
        torch.testing.assert_close(net(x, torch.from_numpy(alpha_d)), ref)


def test_invalid_alpha_d_is_a_clear_error():
    net = DARTSSupernet(C=4, num_cells=2)
    x = torch.randn(1, 3, 8, 8)
    with pytest.raises(ValueError, match="binary"):
        net(x, d.sample_uniform(np.random.default_rng(0)))
    bad = _alpha_d(0)
    bad[1, 13] = 1
    with pytest.raises(ValueError, match="reduce cell node 3"):
        net(x, bad)
    with pytest.raises(ValueError, match="shape"):
        net(x, np.zeros((14, 7)))


def test_forward_mixed_uses_every_op_and_softmax_weights():
    torch.manual_seed(0)
    net = DARTSSupernet(C=4, num_cells=2)
    x = torch.randn(2, 3, 8, 8)
    logits = torch.zeros(2, 14, 7, requires_grad=True)
    net.forward_mixed(x, logits).square().mean().backward()
    for key, params in _op_params(net).items():
        for p in params:
            assert p.grad is not None, key
    assert logits.grad is not None and logits.grad.abs().sum() > 0
    net.eval()
    with torch.no_grad():
        uniform = net.forward_mixed(x)
        torch.testing.assert_close(net.forward_mixed(x, torch.zeros(2, 14, 7)), uniform)
        # with 'none' in column 0 and a very negative logit it takes no mass: same as uniform
        none = torch.zeros(2, 14, 8)
        none[..., 0] = -1e9
        torch.testing.assert_close(net.forward_mixed(x, none), uniform)
        # 'none' with mass scales every edge down: a different output
        assert not torch.allclose(net.forward_mixed(x, torch.zeros(2, 14, 8)), uniform)
    with pytest.raises(ValueError, match="weights must have shape"):
        net.forward_mixed(x, torch.zeros(14, 7))


def test_pc_darts_partial_channels():
    net = DARTSSupernet(C=8, num_cells=3, pc_k=4)
    edge = net.cells[0].edges[0]
    assert edge.c_op == 2
    conv = edge.ops[d.OPS.index("sep_conv_3x3")].op[0].op[1]
    assert conv.in_channels == 2  # the op sees C/K channels
    # op output on the first C/K channels, the rest bypassed, then shuffled in K groups
    x = torch.randn(2, 8, 6, 6)
    op = d.OPS.index("dil_conv_3x3")
    with torch.no_grad():
        y = edge(x, op)
        manual = channel_shuffle(torch.cat([edge.ops[op](x[:, :2]), x[:, 2:]], 1), 4)
    torch.testing.assert_close(y, manual)
    red = net.cells[1].edges[0]
    assert (
        red.stride == 2
        and edge(x, op).shape == (2, 8, 6, 6)
        and red(torch.randn(2, 16, 6, 6), op).shape
        == (
            2,
            16,
            3,
            3,
        )
    )
    out = net(torch.randn(2, 3, 8, 8), _alpha_d(4))
    assert out.shape == (2, 10)
    with pytest.raises(
        ValueError, match=r"pc_k=4 must divide .*got 6\) as a multiple of pc_k \(4\)"
    ):
        DARTSSupernet(C=6, num_cells=3, pc_k=4)
    for c in (4, 12):  # the hint's rule is enough: every multiple of pc_k builds
        net = DARTSSupernet(C=c, num_cells=8, pc_k=4)
        assert net(torch.randn(2, 3, 8, 8), _alpha_d(0)).shape == (2, 10)


def test_channel_shuffle_interleaves_groups():
    x = torch.arange(8.0).view(1, 8, 1, 1)
    assert channel_shuffle(x, 2).flatten().tolist() == [0, 4, 1, 5, 2, 6, 3, 7]
    assert channel_shuffle(x, 4).flatten().tolist() == [0, 2, 4, 6, 1, 3, 5, 7]


def test_ops_shapes_and_factorized_reduce_odd_sizes():
    x = torch.randn(2, 4, 7, 7)
    for name in d.OPS_WITH_NONE:
        for stride in (1, 2):
            y = make_op(name, 4, stride, affine=False, pool_bn=True)(x)
            assert y.shape == (2, 4, 4 if stride == 2 else 7, 4 if stride == 2 else 7), (
                name,
                stride,
            )
    assert isinstance(make_op("skip_connect", 4, 2, affine=True), FactorizedReduce)
    with pytest.raises(ValueError, match="unknown DARTS op"):
        make_op("conv_7x7", 4, 1, affine=True)


def test_config_rebuilds_and_bad_arguments():
    net = DARTSSupernet(C=4, num_cells=2, num_classes=3, pc_k=2, in_channels=1)
    clone = DARTSSupernet(**net.config)
    clone.load_state_dict(net.state_dict(), strict=True)
    assert net(torch.randn(1, 1, 8, 8), _alpha_d(0)).shape == (1, 3)
    for kwargs, match in [
        ({"C": 0}, "C must"),
        ({"num_cells": 1.5}, "num_cells"),
        ({"pc_k": 0}, "pc_k"),
    ]:
        with pytest.raises(ValueError, match=match):
            DARTSSupernet(**kwargs)


def test_path_memory_is_one_architecture_not_all_ops():
    """Parameters touched by a path are a small fraction of the supernet's op parameters."""
    net = DARTSSupernet(C=8, num_cells=5)
    used = sum(p.numel() for p in net.path_parameters(_alpha_d(9)))
    total = sum(p.numel() for p in net.parameters())
    assert used < total / 3


def test_eval_network_forward_aux_and_drop_path():
    torch.manual_seed(0)
    net = DARTSEvalNetwork("DARTS_V2", C=4, layers=5, num_classes=7, auxiliary=True)
    assert [c.reduction for c in net.cells] == [False, True, False, True, False]
    x = torch.randn(3, 3, 16, 16)
    logits, aux = net(x)
    assert logits.shape == (3, 7) and aux is not None and aux.shape == (3, 7)
    net.eval()
    logits, aux = net(x)
    assert aux is None
    with torch.no_grad():
        torch.testing.assert_close(net(x)[0], logits)
    # drop path makes training forwards stochastic; without it, train-mode forwards repeat
    net.train()
    net.drop_path_prob = 0.0
    with torch.no_grad():
        a, b = net(x)[0], net(x)[0]
    torch.testing.assert_close(a, b)
    net.drop_path_prob = 0.5
    with torch.no_grad():
        a, b = net(x)[0], net(x)[0]
    assert not torch.allclose(a, b)
    no_aux = DARTSEvalNetwork(d.DARTS_V2, C=4, layers=5)
    assert no_aux(x)[1] is None and no_aux.auxiliary_head is None


def test_eval_network_rejects_bad_genotype():
    with pytest.raises(ValueError, match="not in the search space"):
        DARTSEvalNetwork(
            d.DARTS_V2._replace(normal=[("conv_1x1", 0)] + d.DARTS_V2.normal[1:]), C=4, layers=2
        )
    with pytest.raises(ValueError, match="cannot parse genotype"):
        DARTSEvalNetwork("DARTS_V3", C=4, layers=2)


def test_params_and_flops_match_published_darts_v2():
    # DARTS (Liu et al. 2019, Table 1): DARTS (2nd order) has 3.3M parameters at C=36, 20 cells.
    params, flops = params_and_flops("DARTS_V2")
    assert 3.3 < params < 3.4
    # with the auxiliary head the thesis' Table 3.1 figure (3.83M) is reached
    aux = DARTSEvalNetwork("DARTS_V2", auxiliary=True)
    assert abs(sum(p.numel() for p in aux.parameters()) / 1e6 - 3.83) < 0.01
    # ~0.53 G multiply-accumulates on a 32x32 image (the thesis lists ~2x: 2 FLOPs per MAC)
    assert 500 < flops < 560
    # cached: same object, and string / Genotype / name forms share one entry
    assert params_and_flops(d.genotype_to_str(d.DARTS_V2)) is params_and_flops(d.DARTS_V2)
    small = params_and_flops("DARTS_V2", C=16, layers=6)
    assert small[0] < params and small[1] < flops


def test_flop_count_of_a_single_conv_is_its_macs():
    conv = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1, bias=False))
    assert count_flops_M(conv, (3, 10, 10)) == pytest.approx(3 * 8 * 9 * 100 / 1e6)
