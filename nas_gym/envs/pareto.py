"""Pareto fronts of searched architectures: maximise accuracy, minimise a cost.

DDAS reads its result as a front of validation accuracy against FLOPs or
parameters (Mills 2020, Sec. 3.1.3 and Fig. 3.4); the latency environment uses
the same structure for accuracy against latency. No torch here.
"""

from __future__ import annotations

import json
import os
from collections.abc import Hashable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nas_gym.data import atomic_write_png

if TYPE_CHECKING:
    from matplotlib.figure import Figure


class ParetoFront:
    """The non-dominated (value, cost) points seen so far, one per architecture key.

    A point dominates another when its value is >= and its cost <=, one of them
    strictly. Re-adding a key keeps its highest value (in the parallel DDAS mode the
    same architecture scores differently as the supernet trains). Points with exactly
    equal (value, cost) keep the first seen. Only front members are stored, so an
    update costs O(front size).
    """

    def __init__(self) -> None:
        self._points: dict[Hashable, tuple[float, float, dict[str, Any]]] = {}

    def __len__(self) -> int:
        return len(self._points)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._points

    def add(self, key: Hashable, value: float, cost: float, **payload: Any) -> bool:
        """Offer a point; returns True if it is on the front afterwards."""
        value, cost = float(value), float(cost)
        old = self._points.get(key)
        if old is not None:
            if value <= old[0]:
                return True
            del self._points[key]
        for v, c, _ in self._points.values():
            if v >= value and c <= cost:
                if old is not None:  # an improved key that is still dominated: keep the old point
                    self._points[key] = old
                    return True
                return False
        self._points = {
            k: p for k, p in self._points.items() if not (value >= p[0] and cost <= p[1])
        }
        self._points[key] = (value, cost, dict(payload))
        return True

    def points(self) -> list[dict[str, Any]]:
        """Front members by increasing cost: dicts with key, value, cost and the payload."""
        rows = [{"key": k, "value": v, "cost": c, **p} for k, (v, c, p) in self._points.items()]
        return sorted(rows, key=lambda r: (r["cost"], -r["value"]))

    def compact(self) -> tuple[tuple[float, float], ...]:
        """``((cost, value), ...)`` by increasing cost; small enough for a step's info."""
        return tuple((r["cost"], r["value"]) for r in self.points())

    def clear(self) -> None:
        self._points.clear()


def front_of(
    records: Iterable[dict[str, Any]], value_key: str, cost_key: str, key: str | None = None
) -> ParetoFront:
    """The front of a run's per-step records (e.g. ``info`` dicts) for one cost column."""
    front = ParetoFront()
    for i, rec in enumerate(records):
        for name in (value_key, cost_key):
            if name not in rec:
                raise ValueError(f"record {i} has no {name!r} (keys: {', '.join(sorted(rec))})")
        front.add(rec[key] if key else i, rec[value_key], rec[cost_key], step=i + 1)
    return front


def read_history(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Per-step records of a run: a JSON list of dicts, an object whose ``"history"`` is such a
    list or a dict of equal-length columns (as ``nas-gym bench`` writes), or JSON lines."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"run history {str(path)!r} not found")
    text = path.read_text()
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        try:
            data = [json.loads(line) for line in text.splitlines() if line.strip()]
        except json.JSONDecodeError as err:
            raise ValueError(f"{str(path)!r} is neither JSON nor JSON lines: {err}") from err
    if isinstance(data, dict):
        if "history" not in data:
            raise ValueError(f"{str(path)!r} is a JSON object without a 'history' list")
        data = data["history"]
    if isinstance(data, dict):  # columns, as `nas-gym bench` stores them: {key: [per step]}
        lengths = {len(v) for v in data.values() if isinstance(v, list)}
        if len(lengths) != 1 or not all(isinstance(v, list) for v in data.values()):
            raise ValueError(f"{str(path)!r}: a column history needs lists of one common length")
        data = [dict(zip(data, row, strict=True)) for row in zip(*data.values(), strict=True)]
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise ValueError(f"{str(path)!r} must hold a list of per-step records (dicts)")
    return data


#: Axis labels (with units) of the keys the environments and ``nas-gym bench`` record.
AXIS_LABELS: dict[str, str] = {
    "valid_acc": "validation accuracy (%)",
    "test_acc": "test accuracy (%)",
    "reward": "reward",
    "flops_M": "FLOPs (millions of multiply-accumulates)",
    "params_M": "parameters (millions)",
    "latency_ms": "latency (ms)",
    "energy_mJ": "energy (mJ)",
}
_UNITS = {"flops_M": "M FLOPs", "params_M": "M params", "latency_ms": "ms", "energy_mJ": "mJ"}
#: Costs measured on a network built from the architecture: their front says which network.
NETWORK_COSTS: frozenset[str] = frozenset({"flops_M", "params_M"})


def cost_network(records: Sequence[dict[str, Any]]) -> str | None:
    """The records' common ``cost_network`` label (DARTSSupernet-v0 sets it), else None."""
    labels = {r.get("cost_network") for r in records}
    return labels.pop() if len(labels) == 1 else None


def axis_label(key: str) -> str:
    """A reader's label with units for a record key (the key itself when unknown)."""
    return AXIS_LABELS.get(key, key)


def plot_fronts(
    records: Sequence[dict[str, Any]],
    out: str | os.PathLike[str],
    value_key: str = "valid_acc",
    cost_keys: Sequence[str] = ("flops_M", "params_M"),
    key: str | None = "genotype",
    title: str | None = None,
    targets: Mapping[str, float] | None = None,
    network: str | None = None,
) -> Path:
    """Write :func:`pareto_figure` as a PNG at ``out`` (parent folders are created)."""
    fig = pareto_figure(records, value_key, cost_keys, key, title, targets, network)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_png(out, fig, dpi=120)
    return out


def pareto_figure(
    records: Sequence[dict[str, Any]],
    value_key: str = "valid_acc",
    cost_keys: Sequence[str] = ("flops_M", "params_M"),
    key: str | None = "genotype",
    title: str | None = None,
    targets: Mapping[str, float] | None = None,
    network: str | None = None,
) -> Figure:
    """One panel per cost: every sampled point, its Pareto front and the cost target.

    Axes are labelled with units (:data:`AXIS_LABELS`), the legend sits below the
    data, and front points are labelled with the step that found them.

    Args:
        records: per-step dicts holding ``value_key`` and every cost key.
        value_key: the key to maximise (y axis).
        cost_keys: keys to minimise, one panel each (x axes).
        key: architecture key, so a re-queried architecture is one front point.
        title: figure title.
        targets: cost constraints to draw as vertical lines, e.g. ``{"latency_ms": 80}``.
        network: the network FLOPs/params are measured on, written under those axes
            (None: the records' ``cost_network``, as DARTSSupernet-v0 records it). DDAS
            fronts differ between the 6-cell search and the 20-cell evaluation network.
    """
    from matplotlib.figure import Figure  # optional dependency, only for plots

    if not records:
        raise ValueError("no records to plot")
    targets = dict(targets or {})
    network = network if network is not None else cost_network(records)
    unknown = sorted(set(targets) - set(cost_keys))
    if unknown:
        raise ValueError(
            f"targets for {', '.join(map(repr, unknown))} but the plotted costs are "
            f"{', '.join(map(repr, cost_keys))}"
        )
    key = key if key and all(key in r for r in records) else None
    fig = Figure(figsize=(5.2 * len(cost_keys), 4.6), layout="constrained")
    axes = fig.subplots(1, len(cost_keys), squeeze=False)[0]
    for ax, cost_key in zip(axes, cost_keys, strict=True):
        front = front_of(records, value_key, cost_key, key)
        ax.scatter(
            [r[cost_key] for r in records],
            [r[value_key] for r in records],
            s=10,
            alpha=0.4,
            color="C0",
            label=f"sampled ({len(records)} steps)",
        )
        pts = front.points()
        ax.step(
            [p["cost"] for p in pts],
            [p["value"] for p in pts],
            where="post",
            color="C3",
            marker="o",
            markersize=4,
            zorder=3,
            label=f"Pareto front ({len(pts)} points, labelled by step)",
        )
        for p in pts:
            ax.annotate(
                str(p["step"]),
                (p["cost"], p["value"]),
                fontsize=7,
                xytext=(3, -9),
                textcoords="offset points",
                color="C3",
                bbox={"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.7},
            )
        if cost_key in targets:
            target = float(targets[cost_key])
            unit = _UNITS.get(cost_key, "")
            ax.axvline(
                target,
                color="k",
                linestyle="--",
                linewidth=1.2,
                label=f"target {target:.4g} {unit}",
            )
        label = axis_label(cost_key)
        if network and cost_key in NETWORK_COSTS:
            label += f"\nmeasured on the {network}"
        ax.set_xlabel(label)
        ax.set_ylabel(axis_label(value_key))
        ax.grid(alpha=0.3)
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), fontsize=8, frameon=False)
    if title:
        fig.suptitle(title)
    return fig
