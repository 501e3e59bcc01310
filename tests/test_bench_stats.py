"""The bench's statistics against hand-checked cases (no scipy needed)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nas_gym.agents.bench import stats


def test_wilcoxon_exact_small_samples_hand_checked():
    # all five differences positive: W+ = 15; P(W+ = 15) = 1/32, two-sided 2/32
    w, p, n = stats.wilcoxon_signed_rank([2, 3, 4, 5, 6], [1, 1, 1, 1, 1])
    assert (w, n) == (15.0, 5) and p == pytest.approx(0.0625)
    # d = 1,-2,3,4,5,6: W- = 2; sign patterns with rank-sum <= 2: {}, {1}, {2} -> 3/64
    w, p, n = stats.wilcoxon_signed_rank([1, -2, 3, 4, 5, 6], [0] * 6)
    assert (w, n) == (19.0, 6) and p == pytest.approx(2 * 3 / 64)
    # symmetric in x and y
    assert stats.wilcoxon_signed_rank([0] * 6, [1, -2, 3, 4, 5, 6])[1] == pytest.approx(p)


def test_wilcoxon_ties_and_zeros_use_the_corrected_normal_approximation():
    # d = 1, -1, 2 (and a zero, dropped): ranks 1.5, 1.5, 3; W+ = 4.5, mean 3,
    # var = 3*4*7/24 - (2^3-2)/48 = 3.375, z = (1.5 - 0.5)/sqrt(3.375) = 0.5443
    w, p, n = stats.wilcoxon_signed_rank([1, -1, 2, 5], [0, 0, 0, 5])
    assert (w, n) == (4.5, 3)
    assert p == pytest.approx(math.erfc(0.5443 / math.sqrt(2)), abs=1e-3)
    assert p == pytest.approx(0.586, abs=1e-3)
    # identical samples: no test (NaN), which Holm leaves out
    assert math.isnan(stats.wilcoxon_signed_rank([1, 2], [1, 2])[1])


def test_holm_step_down():
    assert stats.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    adjusted = stats.holm([0.2, math.nan, 0.01])
    assert adjusted[0] == pytest.approx(0.2) and adjusted[2] == pytest.approx(0.02)
    assert math.isnan(adjusted[1])


def test_bootstrap_ci_brackets_the_mean_and_is_reproducible():
    values = [71.2, 72.5, 73.1, 72.0, 71.7, 72.9]
    low, high = stats.bootstrap_ci(values)
    assert low < np.mean(values) < high
    assert low >= min(values) and high <= max(values)
    assert (low, high) == stats.bootstrap_ci(values)
    assert stats.bootstrap_ci([70.0]) == (70.0, 70.0)
    # column-wise over curves: the band of constant curves has zero width
    curves = [np.array([1.0, 2.0, 3.0])] * 4
    mean, lo, hi = stats.anytime_band(curves)
    np.testing.assert_array_equal(mean, [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(lo, hi)


def test_best_so_far_and_value_at():
    curve = stats.best_so_far([70.0, 69.0, 72.0, 71.0])
    np.testing.assert_array_equal(curve, [70.0, 70.0, 72.0, 72.0])
    assert stats.value_at(curve, 2) == 70.0 and stats.value_at(curve, 4) == 72.0
    assert math.isnan(stats.value_at(curve, 5))
