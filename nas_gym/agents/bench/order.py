"""Reading order of datasets, splits, environments and agents, shared by report and plots."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

DATASET_ORDER: tuple[str, ...] = ("cifar10", "cifar100", "ImageNet16-120")
METRIC_ORDER: tuple[str, ...] = ("valid", "test")
ENV_ORDER: tuple[str, ...] = ("NASBench201-v0", "ProxylessNAS-v0", "DARTSSupernet-v0")
SHORT: dict[str, str] = {"cifar10": "C10", "cifar100": "C100", "ImageNet16-120": "IN16"}

#: (agent, env_id, dataset, reward_metric, budget, budget_unit)
GroupKey = tuple[str, str, str, str, int, str]


def ordered(values: Iterable[str], preferred: Sequence[str]) -> list[str]:
    """``values`` in ``preferred`` order first, then the rest sorted."""
    present = set(values)
    return [v for v in preferred if v in present] + sorted(present - set(preferred))


def agent_order(rows: Sequence[dict[str, Any]], preferred: Sequence[str] = ()) -> list[str]:
    return ordered((r["agent"] for r in rows), preferred)


def group_key(row: dict[str, Any]) -> GroupKey:
    return (
        row["agent"],
        row.get("env_id", ENV_ORDER[0]),
        row["dataset"],
        row["reward_metric"],
        int(row["budget"]),
        row.get("budget_unit", "query"),
    )


def group_rows(
    rows: Sequence[dict[str, Any]], preferred_agents: Sequence[str] = ()
) -> dict[GroupKey, list[dict[str, Any]]]:
    """Rows by (agent, env, dataset, split, budget, unit), in reading order, seeds sorted."""
    groups: dict[GroupKey, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(group_key(row), []).append(row)
    agents = agent_order(rows, preferred_agents)
    envs = ordered((k[1] for k in groups), ENV_ORDER)
    datasets = ordered((k[2] for k in groups), DATASET_ORDER)
    metrics = ordered((k[3] for k in groups), METRIC_ORDER)

    def rank(key: GroupKey) -> tuple[int, ...]:
        return (
            envs.index(key[1]),
            agents.index(key[0]),
            key[4],
            key[5] == "unique",
            datasets.index(key[2]),
            metrics.index(key[3]),
        )

    return {key: sorted(groups[key], key=lambda r: r["seed"]) for key in sorted(groups, key=rank)}
