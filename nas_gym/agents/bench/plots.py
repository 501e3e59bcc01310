"""Anytime curves: best-so-far accuracy on the searched split vs queries, as pure figures.

Every series stays visible: each has its own line style and marker (markers offset
per series), curves that coincide exactly are named together in the legend, the
legend sits outside the data, and an agent has the same colour in every figure
(a fixed agent -> colour map; variants get a stable colour from their label).
matplotlib is imported lazily (an optional extra) and only through its OO API.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from nas_gym.agents.bench import stats
from nas_gym.agents.bench.order import DATASET_ORDER, ENV_ORDER, METRIC_ORDER, agent_order, ordered

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: Fixed colours (tab20) of the registered agents, so a figure never recolours them.
AGENT_COLORS: dict[str, str] = {
    "cadam": "#1f77b4",
    "cadam-td3": "#aec7e8",
    "cadam-printed": "#393b79",
    "ddas-nl": "#ff7f0e",
    "ddas-g": "#ffbb78",
    "ddas-4s": "#2ca02c",
    "ddas-td3": "#98df8a",
    "ddpg": "#d62728",
    "td3": "#ff9896",
    "rs": "#7f7f7f",
    "rea": "#9467bd",
    "reinforce": "#8c564b",
    "ganas": "#e377c2",
    "unas": "#17becf",
    "unas-reinforce": "#9edae5",
    "rnn-reinforce": "#bcbd22",
    "rnn-ppo": "#dbdb8d",
}
_EXTRA = ("#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd", "#e6550d", "#31a354")
LINESTYLES = ("-", "--", "-.", ":")
MARKERS = ("o", "s", "^", "v", "D", "P", "X", "*", "<", ">")


def agent_color(label: str) -> str:
    """The agent's fixed colour; other labels (variants) get a stable one from their name."""
    if label in AGENT_COLORS:
        return AGENT_COLORS[label]
    return _EXTRA[zlib.crc32(label.encode()) % len(_EXTRA)]


def searched_curve(record: dict[str, Any]) -> np.ndarray:
    metric = record["spec"]["reward_metric"]
    return stats.best_so_far(record["history"]["test_acc" if metric == "test" else "valid_acc"])


def curve_bands(
    records: Sequence[dict[str, Any]], preferred_agents: Sequence[str] = ()
) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, int]]:
    """Line label -> (mean, CI low, CI high, n seeds) of best-so-far curves.

    ``records`` are one figure's (one env, dataset and split). An agent run at
    several budgets gets one line per budget (``agent @budget``).
    """
    budgets: dict[str, set[tuple[int, str]]] = {}
    for r in records:
        budgets.setdefault(r["spec"]["agent"], set()).add(
            (r["spec"]["budget"], r["spec"]["budget_unit"])
        )
    out = {}
    for agent in agent_order([r["spec"] for r in records], preferred_agents):
        for budget, unit in sorted(budgets[agent]):
            curves = [
                searched_curve(r)
                for r in records
                if r["spec"]["agent"] == agent
                and (r["spec"]["budget"], r["spec"]["budget_unit"]) == (budget, unit)
            ]
            suffix = f" @{budget}{' unique' if unit == 'unique' else ''}"
            label = agent if len(budgets[agent]) == 1 else agent + suffix
            out[label] = (*stats.anytime_band(curves), len(curves))
    return out


def coinciding(bands: dict[str, tuple[np.ndarray, ...]]) -> list[list[str]]:
    """Groups (of two or more labels) whose mean curves are exactly equal."""
    groups: list[list[str]] = []
    for label, band in bands.items():
        for group in groups:
            ref = bands[group[0]][0]
            if len(ref) == len(band[0]) and np.array_equal(ref, band[0]):
                group.append(label)
                break
        else:
            groups.append([label])
    return [g for g in groups if len(g) > 1]


def curves_figure(
    records: Sequence[dict[str, Any]],
    title: str,
    preferred_agents: Sequence[str] = (),
    log_x: bool = False,
    optimum: float | None = None,
) -> Figure:
    """Mean best-so-far with its 95% bootstrap CI band, one series per agent."""
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    bands = curve_bands(records, preferred_agents)
    # room for a dozen series: a larger canvas and a taller legend than one agent needs
    fig = Figure(figsize=(10.5, 5.6), dpi=100)
    ax = fig.add_subplot()
    lows = []
    for i, (label, (mean, low, high, n)) in enumerate(bands.items()):
        x = np.arange(1, len(mean) + 1)
        color = agent_color(label.split(" @")[0])
        ax.plot(
            x, mean, color=color, lw=max(1.0, 2.4 - 0.3 * i), ls=LINESTYLES[i % len(LINESTYLES)],
            marker=MARKERS[i % len(MARKERS)], ms=4,
            markevery=(0.012 * i, 0.08),  # offset per series: coinciding curves stay visible
            label=f"{label} (n={n})",
        )  # fmt: skip
        ax.fill_between(x, low, high, color=color, alpha=0.12, lw=0)
        lows.append(float(mean[min(len(mean) - 1, max(9, len(mean) // 10))]))
    handles, labels = ax.get_legend_handles_labels()
    if optimum is not None:
        handles.append(ax.axhline(optimum, color="k", ls="--", lw=0.8))
        labels.append(f"optimum {optimum:.2f}")
    for group in coinciding(bands):
        handles.append(Line2D([], [], color="none"))
        labels.append("identical curves: " + " = ".join(group))
    top = optimum if optimum is not None else max(float(b[2].max()) for b in bands.values())
    low = min(lows) if lows else top
    span = top - low + 1e-6
    ax.set_ylim(low - 0.1 * span, top + 0.08 * span)
    if log_x:
        ax.set_xscale("log")
    ax.set_xlabel("queries (environment steps)" + (", log scale" if log_x else ""))
    ax.set_ylabel("best accuracy so far on the searched split [%]")
    ax.set_title(f"{title} (mean, 95% bootstrap CI band over seeds)", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(handles, labels, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.subplots_adjust(left=0.08, right=0.72, bottom=0.1, top=0.92)
    return fig


def all_curve_figures(
    records: Sequence[dict[str, Any]],
    preferred_agents: Sequence[str] = (),
    log_x: bool = False,
) -> dict[str, Figure]:
    """File name -> figure, one per (env, dataset, split) present."""
    present: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for r in records:
        key = (r["env"]["id"], r["spec"]["dataset"], r["spec"]["reward_metric"])
        present.setdefault(key, []).append(r)
    out = {}
    for env_id in ordered((k[0] for k in present), ENV_ORDER):
        for dataset in ordered((k[1] for k in present if k[0] == env_id), DATASET_ORDER):
            for metric in METRIC_ORDER:
                chosen = present.get((env_id, dataset, metric))
                if not chosen:
                    continue
                optimum = chosen[0]["env"].get("optimum_acc")
                prefix = "curves" if env_id == ENV_ORDER[0] else f"curves_{env_id}"
                out[f"{prefix}_{dataset}_{metric}.png"] = curves_figure(
                    chosen,
                    f"{env_id} {dataset}, searched on {metric}",
                    preferred_agents,
                    log_x,
                    optimum,
                )
    return out


def png_bytes(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    return buf.getvalue()
