"""Anytime curves: best-so-far accuracy on the searched split vs queries (matplotlib Agg)."""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from agents.bench.report import DATASET_ORDER, METRIC_ORDER, agent_order


def best_so_far(record: dict[str, Any]) -> np.ndarray:
    """Running maximum of the searched split's accuracy over a run's queries."""
    metric = record["spec"]["reward_metric"]
    scores = np.asarray(record["history"]["valid_acc" if metric == "valid" else "test_acc"], float)
    return np.maximum.accumulate(scores)


def curve_bands(
    records: Sequence[dict[str, Any]],
    dataset: str,
    metric: str,
    preferred_agents: Sequence[str] = (),
) -> dict[str, tuple[np.ndarray, np.ndarray, int]]:
    """Line label -> (mean, std, n_seeds) of best-so-far over seeds for one dataset and split.

    An agent run at several budgets gets one line per budget (``agent @budget``).
    """
    chosen = [
        r
        for r in records
        if r["spec"]["dataset"] == dataset and r["spec"]["reward_metric"] == metric
    ]
    budgets: dict[str, set[int]] = {}
    for r in chosen:
        budgets.setdefault(r["spec"]["agent"], set()).add(r["spec"]["budget"])
    order = agent_order([r["spec"] for r in chosen], preferred_agents)
    out = {}
    for agent in order:
        for budget in sorted(budgets[agent]):
            curves = [
                best_so_far(r)
                for r in chosen
                if r["spec"]["agent"] == agent and r["spec"]["budget"] == budget
            ]
            stack = np.stack(curves)
            label = agent if len(budgets[agent]) == 1 else f"{agent} @{budget}"
            out[label] = (stack.mean(axis=0), stack.std(axis=0), len(curves))
    return out


def plot_curves(
    records: Sequence[dict[str, Any]],
    dataset: str,
    metric: str,
    path: str | os.PathLike[str],
    preferred_agents: Sequence[str] = (),
) -> bool:
    """Write ``path`` (PNG); False when no run matches."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from nas_gym.data import atomic_write_bytes

    bands = curve_bands(records, dataset, metric, preferred_agents)
    if not bands:
        return False
    optimum = next(
        r["env"]["optimum_acc"]
        for r in records
        if r["spec"]["dataset"] == dataset and r["spec"]["reward_metric"] == metric
    )
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=90)
    cmap = plt.get_cmap("tab20" if len(bands) > 10 else "tab10")
    lows = []
    for i, (label, (mean, std, n)) in enumerate(bands.items()):
        x = np.arange(1, len(mean) + 1)
        color = cmap(i % cmap.N)
        ax.plot(x, mean, color=color, lw=1.3, label=f"{label} (n={n})")
        ax.fill_between(x, mean - std, mean + std, color=color, alpha=0.15, lw=0)
        lows.append(float(mean[min(len(mean) - 1, max(9, len(mean) // 10))]))
    ax.axhline(optimum, color="k", ls="--", lw=0.8, label=f"optimum {optimum:.2f}")
    # Start the y axis where the curves have climbed a little: the first queries are noise.
    low = min(lows)
    ax.set_ylim(low - 0.1 * (optimum - low + 1e-6), optimum + 0.08 * (optimum - low + 1e-6))
    ax.set_xlabel("queries")
    ax.set_ylabel(f"best {metric} accuracy so far [%]")
    ax.set_title(
        f"NAS-Bench-201 {dataset}, searched on {metric} (mean ± 1 std over seeds)", fontsize=9
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right", ncol=2 if len(bands) > 6 else 1)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
    return True


def plot_all_curves(
    records: Sequence[dict[str, Any]],
    out_dir: str | os.PathLike[str],
    preferred_agents: Sequence[str] = (),
) -> list[str]:
    """One ``curves_<dataset>_<metric>.png`` per dataset and split present; returns the names."""
    names = []
    present = {(r["spec"]["dataset"], r["spec"]["reward_metric"]) for r in records}
    for dataset in DATASET_ORDER:
        for metric in METRIC_ORDER:
            if (dataset, metric) in present:
                name = f"curves_{dataset}_{metric}.png"
                if plot_curves(records, dataset, metric, Path(out_dir) / name, preferred_agents):
                    names.append(name)
    return names
