"""Pareto figures a reader can trust: labelled axes with units, the target drawn, the
legend outside the data, every series present, and no global matplotlib state."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

from nas_gym.envs.pareto import front_of, pareto_figure, plot_fronts


def _records(n: int = 30, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    lat = rng.uniform(10, 120, n)
    acc = 40 + 0.3 * lat + rng.normal(0, 4, n)
    return [
        {"arch": f"a{i % 25}", "valid_acc": float(a), "latency_ms": float(c), "flops_M": 3 * c}
        for i, (a, c) in enumerate(zip(acc, lat, strict=True))
    ]


def test_axes_target_legend_and_series():
    records = _records()
    fig = pareto_figure(
        records, cost_keys=("latency_ms", "flops_M"), key="arch", targets={"latency_ms": 80}
    )
    FigureCanvasAgg(fig).draw()  # a renderer, for the legend's extent
    lat_ax, flops_ax = fig.axes
    assert lat_ax.get_xlabel() == "latency (ms)"
    assert flops_ax.get_xlabel() == "FLOPs (millions of multiply-accumulates)"
    assert lat_ax.get_ylabel() == flops_ax.get_ylabel() == "validation accuracy (%)"
    # the target: a vertical line at 80 ms in the latency panel only
    verticals = [
        ln
        for ln in lat_ax.get_lines()
        if len(set(ln.get_xdata())) == 1 and ln.get_linestyle() == "--"
    ]
    assert len(verticals) == 1 and verticals[0].get_xdata()[0] == 80
    assert not [ln for ln in flops_ax.get_lines() if ln.get_linestyle() == "--"]
    # every series is in the legend, and the legend does not overlap the data area
    for ax, n_series in ((lat_ax, 3), (flops_ax, 2)):
        legend = ax.get_legend()
        texts = [t.get_text() for t in legend.get_texts()]
        assert len(texts) == n_series and texts[0] == f"sampled ({len(records)} steps)"
        renderer = fig.canvas.get_renderer()
        assert not legend.get_window_extent(renderer).overlaps(ax.get_window_extent(renderer))
    # the plotted front is the front of the records (one point per architecture)
    front = front_of(records, "valid_acc", "latency_ms", "arch").points()
    step_line = next(ln for ln in lat_ax.get_lines() if ln.get_label().startswith("Pareto"))
    np.testing.assert_allclose(step_line.get_xdata(), [p["cost"] for p in front])
    assert step_line.get_label() == f"Pareto front ({len(front)} points, labelled by step)"


def test_unknown_keys_keep_their_name_and_bad_targets_are_refused(tmp_path):
    records = [{"score": 1.0, "joules": 2.0}, {"score": 2.0, "joules": 3.0}]
    fig = pareto_figure(records, value_key="score", cost_keys=("joules",), key=None)
    assert fig.axes[0].get_xlabel() == "joules" and fig.axes[0].get_ylabel() == "score"
    with pytest.raises(
        ValueError, match="targets for 'latency_ms' but the plotted costs are 'joules'"
    ):
        plot_fronts(records, tmp_path / "x.png", "score", ("joules",), targets={"latency_ms": 1})
    assert not (tmp_path / "x.png").exists()
    with pytest.raises(ValueError, match="no records to plot"):
        pareto_figure([])


def test_plotting_leaves_matplotlib_global_state_alone(tmp_path):
    """No backend switch and no pyplot figure left behind (plain subprocess: a fresh state)."""
    code = (
        "import matplotlib, sys\n"
        "from nas_gym.envs.pareto import plot_fronts\n"
        "backend = matplotlib.get_backend()\n"
        f"plot_fronts([{{'valid_acc': 1.0, 'flops_M': 2.0, 'params_M': 3.0}}], {str(tmp_path / 'p.png')!r})\n"
        "assert matplotlib.get_backend() == backend, (backend, matplotlib.get_backend())\n"
        "assert 'matplotlib.pyplot' not in sys.modules\n"
    )
    subprocess.run(
        [sys.executable, "-c", code], check=True, env={**os.environ, "MPLBACKEND": "svg"}
    )
    assert (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"


def test_importing_pareto_does_not_import_matplotlib():
    code = "import sys, nas_gym.envs.pareto; assert 'matplotlib' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
