"""The record of one run: one dataclass schema for ``results.csv``, and the run metadata.

:class:`RunResult` is the single definition of a run's summary; the CSV columns are
its fields. The record around it (``runs/<key>.json``) adds the per-query history,
the environment configuration used, the agent's hyperparameters, timings, package
versions and the git state, so a number can always be traced to what made it.
"""

from __future__ import annotations

import functools
import os
import platform
import sys
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

RECORD_FORMAT = 2
#: Info keys recorded per query when the environment sets them (all-None ones are dropped).
HISTORY_KEYS: tuple[str, ...] = (
    "arch_index",
    "arch",
    "genotype",
    "valid_acc",
    "valid_acc_mean",  # noise="seed": valid_acc is one seed's draw, this its seed mean
    "test_acc",
    "cost",
    "latency_ms",
    "flops_M",
    "params_M",
    "feasible",
)
#: Info keys naming the queried architecture, by environment (first present wins).
ARCH_KEYS: tuple[str, ...] = ("arch_index", "arch", "genotype")
#: Info keys of a query's hardware cost (NB201 ``cost=``; ProxylessNAS latency).
COST_KEYS: tuple[str, ...] = ("cost", "latency_ms")

#: Attributes of SB3-style agents that are run state, not hyperparameters.
RUNTIME_ATTRS = frozenset(
    {
        "num_timesteps",
        "start_time",
        "verbose",
        "device",
        "seed",
        "n_envs",
        "tensorboard_log",
        "ep_info_buffer",
        "ep_success_buffer",
    }
)


@dataclass
class RunResult:
    """One run's summary; ``best`` = the query with the highest searched-split accuracy."""

    agent: str
    env_id: str
    dataset: str
    reward_metric: str
    budget: int
    budget_unit: str
    seed: int
    #: NB201: the official index; other spaces: the architecture string.
    best_arch: str
    best_valid_acc: float
    #: None where the environment has no test split (supernet environments).
    best_test_acc: float | None
    #: 1-based query at which the best was first reached (queries-to-best).
    best_found_at: int
    #: NB201: 1 + number of the 15,625 cells strictly better on the searched split.
    best_rank: int | None
    n_queries: int
    n_unique_queries: int
    #: Constrained runs: share of queries that met the target (else None).
    feasible_fraction: float | None
    best_feasible_acc: float | None
    best_feasible_cost: float | None
    #: Hardware cost (NB201 ``cost``, ProxylessNAS latency in ms) of the best, or None.
    best_cost: float | None
    wall_s: float
    agent_s: float
    env_s: float
    cpu_s: float


RESULT_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(RunResult))


def arch_key(history: dict[str, list[Any]]) -> str:
    """The history column that names architectures in this environment."""
    for key in ARCH_KEYS:
        if any(v is not None for v in history.get(key, ())):
            return key
    raise ValueError(f"the history has none of {ARCH_KEYS}; got {sorted(history)}")


def cost_key(history: dict[str, list[Any]]) -> str | None:
    for key in COST_KEYS:
        if any(v is not None for v in history.get(key, ())):
            return key
    return None


def searched_scores(history: dict[str, list[Any]], reward_metric: str) -> list[float]:
    return [float(v) for v in history["test_acc" if reward_metric == "test" else "valid_acc"]]


def best_of_history(history: dict[str, list[Any]], reward_metric: str) -> int:
    """Position of the first query reaching the highest accuracy on the searched split."""
    best, best_pos = float("-inf"), -1
    for pos, score in enumerate(searched_scores(history, reward_metric)):
        if score > best:
            best, best_pos = score, pos
    return best_pos


def feasible_summary(
    history: dict[str, list[Any]], reward_metric: str
) -> tuple[float | None, float | None, float | None]:
    """(feasible fraction, best feasible accuracy, its cost); Nones for an unconstrained run."""
    flags = history.get("feasible")
    if not flags or all(f is None for f in flags):
        return None, None, None
    scores = searched_scores(history, reward_metric)
    ckey = cost_key(history)
    feasible = [i for i, f in enumerate(flags) if f]
    if not feasible:
        return 0.0, None, None
    best = max(feasible, key=lambda i: (scores[i], -i))
    cost = history[ckey][best] if ckey else None
    return len(feasible) / len(flags), scores[best], cost


def compact_history(history: dict[str, list[Any]]) -> dict[str, list[Any]]:
    """Drop the columns this environment never set; JSON-friendly values."""
    out = {}
    for key, values in history.items():
        if all(v is None for v in values):
            continue
        out[key] = [v if v is None or isinstance(v, bool | int | float) else str(v) for v in values]
    return out


def csv_row(result: RunResult | dict[str, Any]) -> dict[str, Any]:
    data = result if isinstance(result, dict) else vars(result)
    return {key: data.get(key) for key in RESULT_COLUMNS}


# -- run metadata ------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def git_state() -> dict[str, Any]:
    """Commit of the source tree the agents came from, and whether it had local changes.

    Cached per process and taken before the agents are imported, so it describes the
    code a worker actually runs even if the checkout moves on during a long bench.
    """
    import subprocess

    repo = Path(__file__).resolve().parents[2]

    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(
                ["git", "-C", str(repo), *args],
                capture_output=True,
                text=True,
                timeout=10,
                check=True,
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout.strip()

    commit = git("rev-parse", "HEAD")
    if not commit:
        return {}
    dirty = git("status", "--porcelain", "--untracked-files=no", "--", "nas_gym")
    return {"git_commit": commit, "git_dirty": bool(dirty)}


def package_versions() -> dict[str, Any]:
    """Versions of what a run's numbers depend on (and the source commit, when known)."""
    import gymnasium
    import numpy

    import nas_gym

    versions: dict[str, Any] = {
        "python": platform.python_version(),
        "nas_gym": nas_gym.__version__,
        "numpy": numpy.__version__,
        "gymnasium": gymnasium.__version__,
    }
    for name in ("torch", "stable_baselines3"):
        module = sys.modules.get(name)
        if module is not None:
            versions[name] = getattr(module, "__version__", "?")
    versions.update(git_state())
    return versions


def machine_info() -> dict[str, Any]:
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
    }


def jsonable(value: Any, depth: int = 0) -> Any:
    """JSON form of a hyperparameter value: scalars as is, containers recursively, else repr."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else repr(value)
    if depth < 3 and isinstance(value, list | tuple):
        return [jsonable(v, depth + 1) for v in value]
    if depth < 3 and isinstance(value, dict):
        return {str(k): jsonable(v, depth + 1) for k, v in value.items()}
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        return jsonable(value.item(), depth)
    if isinstance(value, type) or callable(value):
        return getattr(value, "__qualname__", repr(value))
    return repr(value)[:200]


def agent_hyperparameters(agent: Any) -> dict[str, Any]:
    """Public settings of an agent (the bench reads them before and after ``learn``).

    Uses the agent's own ``hyperparameters()`` when it has one; otherwise the public
    plain-valued attributes (SB3 keeps its hyperparameters as attributes), skipping
    run state such as ``num_timesteps``.
    """
    own = getattr(agent, "hyperparameters", None)
    if callable(own):
        return {str(k): jsonable(v) for k, v in dict(own()).items()}
    out: dict[str, Any] = {}
    for name, value in sorted(vars(agent).items()):
        if name.startswith("_") or name in RUNTIME_ATTRS:
            continue
        if value is None or isinstance(value, bool | int | float | str):
            out[name] = jsonable(value)
        elif name in ("policy_kwargs", "train_freq", "action_noise", "replay_buffer_kwargs"):
            out[name] = jsonable(value)
        elif name == "learning_rate" or name.endswith("_schedule"):
            out[name] = jsonable(value)
    return out


def result_rows(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ``result`` of each record, with the registry name of its agent."""
    rows = []
    for record in records:
        row = dict(record["result"])
        row["base_agent"] = record["spec"]["base_agent"]
        rows.append(row)
    return rows
