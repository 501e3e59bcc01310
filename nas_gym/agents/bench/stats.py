"""Statistics a NAS reader expects, in plain numpy: CIs, paired tests, anytime curves.

* Bootstrap percentile 95% confidence interval of a mean (Efron & Tibshirani 1993).
* Wilcoxon signed-rank test of paired differences (Wilcoxon 1945): exact null
  distribution for n <= 25 without ties, else the normal approximation with the
  tie-corrected variance and a continuity correction; zero differences are dropped
  (Wilcoxon's rule), two-sided.
* Holm's step-down correction for several tests (Holm 1979).
Resampling uses a fixed seed, so a report is reproducible.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

EXACT_MAX_N = 25


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and population std (ddof=0); NaN for an empty list."""
    if len(values) == 0:
        return math.nan, math.nan
    arr = np.asarray(values, dtype=float)
    return float(arr.mean()), float(arr.std())


def bootstrap_ci(
    values: np.ndarray | Sequence[float],
    level: float = 0.95,
    n_boot: int = 2000,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Percentile bootstrap CI of the mean over axis 0 (seeds); works column-wise on 2-D.

    One seed gives a zero-width interval at its value.
    """
    arr = np.asarray(values, dtype=float)
    n = arr.shape[0]
    if n == 0:
        raise ValueError("bootstrap_ci needs at least one value")
    idx = np.random.default_rng(seed).integers(0, n, size=(n_boot, n))
    means = arr[idx].mean(axis=1)
    alpha = (1.0 - level) / 2.0
    return np.quantile(means, alpha, axis=0), np.quantile(means, 1.0 - alpha, axis=0)


def _exact_signed_rank_pvalue(ranks: np.ndarray, w_plus: float) -> float:
    """Two-sided exact p-value: all 2^n sign patterns, counted by dynamic programming."""
    n = len(ranks)
    total = int(n * (n + 1) / 2)
    counts = np.zeros(total + 1)
    counts[0] = 1.0
    for r in ranks.astype(int):
        counts[r:] = counts[r:] + counts[: total + 1 - r].copy()
    probs = counts / counts.sum()
    lower = probs[: int(math.floor(min(w_plus, total - w_plus))) + 1].sum()
    return float(min(1.0, 2.0 * lower))


def wilcoxon_signed_rank(x: Sequence[float], y: Sequence[float]) -> tuple[float, float, int]:
    """Two-sided Wilcoxon signed-rank test of paired ``x - y``.

    Returns:
        (W+, p-value, n used); p is NaN when every difference is zero.
    """
    d = np.asarray(x, dtype=float) - np.asarray(y, dtype=float)
    if d.ndim != 1:
        raise ValueError(f"paired samples must be 1-D of equal length, got shape {d.shape}")
    d = d[np.abs(d) > 1e-12]
    n = len(d)
    if n == 0:
        return 0.0, math.nan, 0
    ranks = _average_ranks(np.abs(d))
    w_plus = float(ranks[d > 0].sum())
    ties = len(np.unique(ranks)) < n
    if n <= EXACT_MAX_N and not ties:
        return w_plus, _exact_signed_rank_pvalue(ranks, w_plus), n
    mean = n * (n + 1) / 4.0
    _, counts = np.unique(ranks, return_counts=True)
    var = n * (n + 1) * (2 * n + 1) / 24.0 - (counts**3 - counts).sum() / 48.0
    z = (abs(w_plus - mean) - 0.5) / math.sqrt(var) if var > 0 else 0.0
    p = math.erfc(max(z, 0.0) / math.sqrt(2.0))
    return w_plus, float(min(1.0, p)), n


def _average_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks 1..n, ties sharing their average rank."""
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(len(values))
    sorted_vals = values[order]
    i = 0
    while i < len(values):
        j = i
        while j + 1 < len(values) and sorted_vals[j + 1] == sorted_vals[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    return ranks


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm-adjusted p-values (NaN stays NaN and is not counted as a test)."""
    valid = [(p, i) for i, p in enumerate(pvalues) if not math.isnan(p)]
    valid.sort()
    m = len(valid)
    adjusted = [math.nan] * len(pvalues)
    running = 0.0
    for k, (p, i) in enumerate(valid):
        running = max(running, min(1.0, (m - k) * p))
        adjusted[i] = running
    return adjusted


def best_so_far(scores: Sequence[float]) -> np.ndarray:
    """Running maximum of a run's searched-split accuracies (the anytime curve)."""
    return np.maximum.accumulate(np.asarray(scores, dtype=float))


def anytime_band(
    curves: Sequence[np.ndarray], level: float = 0.95
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and bootstrap CI band over seeds of best-so-far curves (truncated to the shortest)."""
    length = min(len(c) for c in curves)
    stack = np.stack([np.asarray(c[:length], dtype=float) for c in curves])
    low, high = bootstrap_ci(stack, level=level, n_boot=1000)
    return stack.mean(axis=0), low, high


def value_at(curve: np.ndarray, query: int) -> float:
    """Best-so-far after ``query`` queries (NaN if the run made fewer)."""
    return float(curve[query - 1]) if 1 <= query <= len(curve) else math.nan
