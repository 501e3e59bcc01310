"""NB201 search space: exhaustive round trips against the benchmark's own columns."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from nas_gym.spaces import nb201 as space


@pytest.fixture(scope="module")
def csv_index_and_strings(data_dir):
    with open(data_dir / "nb201" / "nb201_metrics.csv", newline="") as fh:
        return [(int(r["index"]), r["arch_str"]) for r in csv.DictReader(fh)]


def test_official_index_and_string_match_the_table_for_all_15625(csv_index_and_strings):
    assert len(csv_index_and_strings) == space.N_ARCHS == 15625
    for index, arch_str in csv_index_and_strings:
        assert space.index_to_str(index) == arch_str
        assert space.str_to_index(arch_str) == index


def test_all_representations_round_trip_exhaustively():
    all_ops = space.all_ops()
    strs = space.all_strs()
    for index in range(space.N_ARCHS):
        ops = tuple(all_ops[index])
        assert space.index_to_ops(index) == ops
        assert space.ops_to_index(ops) == index
        assert space.code_to_ops(space.ops_to_code(ops)) == ops
        assert space.str_to_ops(strs[index]) == ops
        onehot = space.ops_to_discrete(ops)
        assert onehot.shape == (6, 5) and onehot.sum() == 6
        assert space.discrete_to_ops(onehot) == ops
        assert space.discretize(onehot) == ops
        assert space.discretize_to_index(onehot) == index


def test_known_architectures():
    # The CIFAR-10 optimum (6111) and the CIFAR-100 optimum (9930) of NB201.
    c10 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"
    c100 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
    assert space.str_to_index(c10) == 6111 and space.str_to_index(c100) == 9930
    assert space.index_to_ops(6111) == (3, 3, 3, 1, 3, 2)


def test_discretize_is_argmax_per_edge_with_lowest_index_ties():
    alpha = np.zeros((6, 5), dtype=np.float32)
    alpha[0, 3] = 0.9
    alpha[1] = [0.2, 0.7, 0.7, 0.1, 0.0]  # tie between ops 1 and 2 -> op 1
    alpha[2, 4] = 0.5
    # rows 3..5 all zero -> op 0 ('none')
    assert space.discretize(alpha) == (3, 1, 4, 0, 0, 0)
    assert space.discretize(alpha.reshape(-1)) == (3, 1, 4, 0, 0, 0)


def test_discretize_many_to_one():
    rng = np.random.default_rng(0)
    alpha = rng.random((6, 5))
    ops = space.discretize(alpha)
    scaled = alpha * 0.5 + 0.1  # monotone transform keeps the argmax
    assert space.discretize(scaled) == ops


@pytest.mark.parametrize(
    "bad, match",
    [
        ("|none~0|+|none~0|none~1|", "3 '\\+'-separated nodes"),
        ("|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|", "unknown op 'conv'"),
        ("|none~1|+|none~0|none~1|+|none~0|none~1|none~2|", "must come from node 0"),
        ("|none~0|+|none~0|+|none~0|none~1|none~2|", "node 2 .* must have 2 edges"),
    ],
)
def test_bad_strings_name_the_problem(bad, match):
    with pytest.raises(ValueError, match=match):
        space.str_to_ops(bad)


def test_bad_values_raise():
    with pytest.raises(ValueError, match="index must be in"):
        space.index_to_ops(15625)
    with pytest.raises(ValueError, match="6 integers"):
        space.ops_to_index((0, 1, 2))
    with pytest.raises(ValueError, match="shape"):
        space.discretize(np.zeros((5, 6)))
    with pytest.raises(ValueError, match="one-hot"):
        space.discrete_to_ops(np.ones((6, 5)))


def test_hamming():
    assert space.hamming((0, 1, 2, 3, 4, 0), (0, 1, 2, 3, 4, 0)) == 0
    assert space.hamming((0, 1, 2, 3, 4, 0), (1, 1, 2, 3, 4, 1)) == 2
