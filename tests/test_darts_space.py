"""The DARTS search space: Algorithm 2, genotypes, width/depth, similarity."""

from __future__ import annotations

import numpy as np
import pytest

from nas_gym.spaces import darts as d


def thesis_algorithm_2(alpha: np.ndarray) -> np.ndarray:
    """Algorithm 2 of Mills (2020) transcribed line by line for one cell (14 x ops).

    Start = 0, n = 1; End = Start + n; A = alpha[Start:End] *inclusive* (n + 1 rows);
    (i1, j1) = argmax A; (i2, j2) = argmax over rows i != i1; Start = End + 1; n += 1.
    """
    out = np.zeros_like(alpha)
    start, n = 0, 1
    for _ in range(4):
        end = start + n
        block = alpha[start : end + 1]  # inclusive slice
        i1, j1 = np.unravel_index(np.argmax(block), block.shape)
        best, i2, j2 = -np.inf, None, None
        for i in range(block.shape[0]):
            for j in range(block.shape[1]):
                if i != i1 and block[i, j] > best:
                    best, i2, j2 = block[i, j], i, j
        out[start + i1, j1] = 1
        out[start + i2, j2] = 1
        start = end + 1
        n += 1
    return out


def test_layout_constants():
    assert d.SHAPE == (2, 14, 7) and d.shape() == d.SHAPE and d.shape(True) == (2, 14, 8)
    assert d.OPS_WITH_NONE == ("none",) + d.OPS and len(d.OPS) == 7
    assert d.NODE_ROWS == ((0, 2), (2, 5), (5, 9), (9, 14))
    assert d.EDGES[:2] == ((0, 0), (0, 1)) and d.EDGES[9:] == (
        (3, 0),
        (3, 1),
        (3, 2),
        (3, 3),
        (3, 4),
    )


@pytest.mark.parametrize("with_none", [False, True])
def test_discretize_invariants_and_thesis_reference_on_random_alphas(with_none):
    rng = np.random.default_rng(123)
    first = 1 if with_none else 0
    for _ in range(400):
        alpha = d.sample_uniform(rng, with_none)
        assert alpha.dtype == np.float32 and alpha.shape == d.shape(with_none)
        assert (alpha >= 0).all() and (alpha < 1).all()
        out = d.discretize(alpha, with_none)
        assert out.dtype == np.float32 and out.shape == d.shape(with_none)
        assert set(np.unique(out)) <= {0.0, 1.0}
        if with_none:
            assert not out[..., 0].any()
        for c in range(2):
            assert out[c].sum() == 8
            expected = np.zeros_like(out[c])
            expected[:, first:] = thesis_algorithm_2(alpha[c, :, first:])
            np.testing.assert_array_equal(out[c], expected)
            for start, end in d.NODE_ROWS:
                rows = np.nonzero(out[c, start:end].sum(axis=1))[0]
                assert len(rows) == 2  # two distinct edges per node
                block = alpha[c, start:end, first:]
                # first edge holds the block maximum; second the max over the other edges
                assert block.max() in [block[r].max() for r in rows]
                for r in rows:
                    assert out[c, start + r].argmax() == first + block[r].argmax()
        assert len(d.active_pairs(out)[0]) == 8 and len(d.active_pairs(out)[1]) == 8


def test_discretize_hand_computed_example():
    alpha = np.full(d.SHAPE, 0.01, dtype=np.float32)
    # node 0 (rows 0-1): best 0.9 on row 1 op sep_conv_3x3; the other edge (row 0) op dil_conv_3x3.
    alpha[0, 1, 3], alpha[0, 0, 5] = 0.9, 0.5
    # node 1 (rows 2-4): top two entries both on row 4; the second edge must be row 2.
    alpha[0, 4, 0], alpha[0, 4, 6], alpha[0, 2, 2], alpha[0, 3, 1] = 0.95, 0.94, 0.3, 0.2
    # node 3 (rows 9-13): rows 12 then 9.
    alpha[0, 12, 4], alpha[0, 9, 1] = 0.7, 0.6
    out = d.discretize(alpha)
    got = d.active_pairs(out)[0]
    # node 2 (rows 5-8) is all ties: argmax order -> row 5 op 0, then row 6 op 0.
    assert got == [(0, 5), (1, 3), (2, 2), (4, 0), (5, 0), (6, 0), (9, 1), (12, 4)]
    g = d.to_genotype(out)
    assert g.normal == [
        ("dil_conv_3x3", 0),
        ("sep_conv_3x3", 1),
        ("skip_connect", 0),
        ("max_pool_3x3", 2),
        ("max_pool_3x3", 0),
        ("max_pool_3x3", 1),
        ("avg_pool_3x3", 0),
        ("sep_conv_5x5", 3),
    ]
    assert list(g.normal_concat) == [2, 3, 4, 5]


def test_with_none_never_selects_none_even_when_largest():
    alpha = np.zeros(d.shape(True), dtype=np.float32)
    alpha[..., 0] = 1.0  # 'none' is the largest everywhere
    alpha[0, 0, 4] = 0.5
    out = d.discretize(alpha, with_none=True)
    assert not out[..., 0].any() and out[0, 0, 4] == 1
    assert all(op != "none" for op, _ in d.to_genotype(out).normal)


def test_select_none_lets_none_compete_like_any_op():
    alpha = np.zeros(d.shape(True), dtype=np.float32)
    alpha[..., 0] = 1.0  # 'none' is the largest everywhere
    alpha[0, 0, 4] = 2.0
    out = d.discretize(alpha, with_none=True, select_none=True)
    assert out.sum() == 16 and out[0, 0, 4] == 1 and out[..., 0].sum() == 15
    g = d.to_genotype(out)
    assert g.normal[0] == ("sep_conv_3x3", 0) and g.normal[1] == ("none", 1)
    # a 'none' cell converts to and from its string, in the 8-op layout
    text = d.genotype_to_str(g)
    np.testing.assert_array_equal(d.from_genotype(d.str_to_genotype(text)), out)
    assert d.cell_width(g.normal) == 0.5  # thesis Fig. 3.5's lower end needs 'none'
    assert d.op_mask(True, select_none=True).all() and not d.op_mask(True)[..., 0].any()
    rng = np.random.default_rng(0)
    picks = sum(d.sample_path(rng, True, True)[..., 0].sum() for _ in range(50))
    assert 0.05 < picks / (50 * 16) < 0.25  # about 1 pair in 8 under uniform alpha
    with pytest.raises(ValueError, match="select_none=True needs the 8-op layout"):
        d.discretize(np.zeros(d.SHAPE), select_none=True)


def test_discretize_accepts_flat_and_rejects_bad_input():
    rng = np.random.default_rng(0)
    alpha = d.sample_uniform(rng)
    np.testing.assert_array_equal(d.discretize(alpha.ravel()), d.discretize(alpha))
    with pytest.raises(ValueError, match="shape"):
        d.discretize(np.zeros((14, 7)))
    with pytest.raises(ValueError, match="with_none=True layout"):
        d.discretize(np.zeros((2, 14, 8)))
    bad = alpha.copy()
    bad[1, 3, 2] = np.nan
    with pytest.raises(ValueError, match=r"NaN or inf.*\(1, 3, 2\)"):
        d.discretize(bad)
    with pytest.raises(ValueError, match="numeric"):
        d.discretize(np.array(["a"] * 196).reshape(d.SHAPE))


@pytest.mark.parametrize("with_none", [False, True])
def test_genotype_round_trip_random(with_none):
    rng = np.random.default_rng(7)
    for _ in range(200):
        alpha_d = d.discretize(d.sample_uniform(rng, with_none), with_none)
        g = d.to_genotype(alpha_d)
        s = d.genotype_to_str(g)
        g2 = d.str_to_genotype(s)
        assert g2 == g
        np.testing.assert_array_equal(d.from_genotype(g2, with_none), alpha_d)


def test_published_genotypes_parse_and_round_trip():
    # DARTS_V2 as printed in the DARTS repository's genotypes.py (typed in; concat as range).
    text = (
        "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), "
        "('sep_conv_3x3', 1), ('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), "
        "('dil_conv_3x3', 2)], normal_concat=range(2, 6), reduce=[('max_pool_3x3', 0), "
        "('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), "
        "('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], reduce_concat=range(2, 6))"
    )
    g = d.str_to_genotype(text)
    assert g == d.DARTS_V2 == d.str_to_genotype("DARTS_V2")
    alpha_d = d.from_genotype(g)
    # node 2 of the normal cell (genotype node 4) reads k-1 with sep_conv_3x3 and k-2 with skip.
    assert (
        alpha_d[0, 6, d.OPS.index("sep_conv_3x3")] == 1
        and alpha_d[0, 5, d.OPS.index("skip_connect")] == 1
    )
    assert alpha_d[0, 11, d.OPS.index("dil_conv_3x3")] == 1  # node 3 <- node 0
    for name, pub in d.PUBLISHED.items():
        ad = d.from_genotype(pub)
        assert ad.sum() == 16, name
        back = d.to_genotype(ad)
        for cell, cell_back in ((pub.normal, back.normal), (pub.reduce, back.reduce)):
            for j in range(4):  # same pairs per node, canonical order by input
                assert (
                    sorted(cell[2 * j : 2 * j + 2], key=lambda p: p[1])
                    == cell_back[2 * j : 2 * j + 2]
                )
        np.testing.assert_array_equal(
            d.from_genotype(d.str_to_genotype(d.genotype_to_str(pub))), ad
        )
        # and the 8-op layout puts the same choices one column to the right
        np.testing.assert_array_equal(d.from_genotype(pub, with_none=True)[..., 1:], ad)


def test_bad_genotypes_are_clear_errors():
    g = d.DARTS_V2
    with pytest.raises(ValueError, match="'conv_7x1_1x7' is not in the search space"):
        d.from_genotype(g._replace(normal=[("conv_7x1_1x7", 0)] + g.normal[1:]))
    with pytest.raises(ValueError, match="input 0 used twice"):
        d.from_genotype(
            g._replace(normal=[("sep_conv_3x3", 0), ("skip_connect", 0)] + g.normal[2:])
        )
    with pytest.raises(ValueError, match=r"input 2 must be an integer in \[0, 2\)"):
        d.from_genotype(g._replace(normal=[("sep_conv_3x3", 2)] + g.normal[1:]))
    with pytest.raises(ValueError, match="8 .op, input. pairs"):
        d.from_genotype(g._replace(reduce=g.reduce[:6]))
    with pytest.raises(ValueError, match="normal_concat"):
        d.from_genotype(g._replace(normal_concat=[2, 3, 4]))
    with pytest.raises(ValueError, match="cannot parse genotype"):
        d.str_to_genotype("Genotype(normal=[")
    with pytest.raises(ValueError, match="Genotype"):
        d.str_to_genotype("__import__('os').system('true')")
    with pytest.raises(ValueError, match="missing fields"):
        d.str_to_genotype("Genotype(normal=[], reduce=[])")


def test_invalid_alpha_d_rejected():
    alpha_d = d.from_genotype(d.DARTS_V2)
    with pytest.raises(ValueError, match="binary"):
        d.to_genotype(alpha_d * 0.5)
    three = alpha_d.copy()
    three[0, 12, 0] = 1  # a third edge into node 3
    with pytest.raises(ValueError, match="normal cell node 3 must select exactly 2"):
        d.active_pairs(three)
    same_edge = alpha_d.copy()
    same_edge[0, 0] = 0
    same_edge[0, 1, :2] = 1  # two ops on one edge of node 0
    with pytest.raises(ValueError, match="node 0"):
        d.to_genotype(same_edge)
    # 'none' is an op like any other in the 8-op layout: one more op on a used edge is invalid
    with_none = d.from_genotype(d.DARTS_V2, with_none=True)
    with_none[1, 0, 0] = 1
    with pytest.raises(ValueError, match="reduce cell node 0 must select exactly 2"):
        d.to_genotype(with_none)
    with pytest.raises(ValueError, match=r"op 'none' is not in the search space.*with_none=True"):
        d.from_genotype(d.Genotype([("none", 0)] + d.DARTS_V2.normal[1:], *d.DARTS_V2[1:]), False)


def test_width_and_depth_of_known_cells():
    # DARTS_V2 normal: 7 of 8 pairs read the inputs -> width 3.5 (Shu et al. 2020, Fig. 1);
    # longest path k-2 -> node0 -> node3 -> output: depth 3.
    assert d.cell_width(d.DARTS_V2.normal) == 3.5 and d.cell_depth(d.DARTS_V2.normal) == 3
    assert d.cell_width(d.DARTS_V2.reduce) == 2.5 and d.cell_depth(d.DARTS_V2.reduce) == 3
    widest = [("sep_conv_3x3", 0), ("sep_conv_3x3", 1)] * 4
    assert d.cell_width(widest) == 4.0 and d.cell_depth(widest) == 2
    # a chain k-2/k-1 -> n0 -> n1 -> n2 -> n3: three input pairs, depth 5
    chain = [("sep_conv_3x3", 0), ("sep_conv_3x3", 1), ("sep_conv_3x3", 1), ("sep_conv_3x3", 2)]
    chain += [("sep_conv_3x3", 2), ("sep_conv_3x3", 3), ("sep_conv_3x3", 3), ("sep_conv_3x3", 4)]
    assert d.cell_width(chain) == 1.5 and d.cell_depth(chain) == 5
    # 'none' pairs are not connections (thesis Sec. 3.2.2): node 0 reads only k-1.
    with_none = [("none", 0), ("sep_conv_3x3", 1)] + chain[2:]
    assert d.cell_width(with_none) == 1.0 and d.cell_depth(with_none) == 5
    deep_none = chain[:6] + [("none", 3), ("none", 4)]  # node 3 disconnected
    assert d.cell_depth(deep_none) == 4


def test_width_range_over_random_cells():
    rng = np.random.default_rng(3)
    widths, depths = set(), set()
    for _ in range(500):
        g = d.to_genotype(d.discretize(d.sample_uniform(rng)))
        widths.add(d.cell_width(g.normal))
        depths.add(d.cell_depth(g.reduce))
    assert widths <= {1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0} and len(widths) >= 5
    assert min(depths) >= 2 and max(depths) <= 5


def test_n_differing_pairs():
    a = d.from_genotype(d.DARTS_V2)
    assert d.n_differing_pairs(a, a) == 0
    b = d.from_genotype(d.PUBLISHED["DARTS_V1"])
    n = d.n_differing_pairs(a, b)
    assert n == d.n_differing_pairs(b, a)
    pairs_a = {(c, e, o) for c, cell in enumerate(d.active_pairs(a)) for e, o in cell}
    pairs_b = {(c, e, o) for c, cell in enumerate(d.active_pairs(b)) for e, o in cell}
    assert n == len(pairs_a - pairs_b) and 0 < n <= 16
    # change one op on one edge: exactly one pair differs
    c = a.copy()
    c[1, 0] = 0
    c[1, 0, d.OPS.index("avg_pool_3x3")] = 1
    assert d.n_differing_pairs(a, c) == 1
    with pytest.raises(ValueError, match="layouts differ"):
        d.n_differing_pairs(a, d.from_genotype(d.DARTS_V2, with_none=True))
