"""What to run: one :class:`RunSpec` per (agent, env, dataset, split, budget, seed).

A spec holds the *resolved* environment configuration of its run: the agent's
paper configuration from the registry (e.g. DDAS sees the ``"last"`` architecture,
Mills 2020 Sec. 3.2; CADAM the top-K state and the ``100**acc`` reward), overridden
key by key by the user's ``--env-kwargs``. The record of the run repeats it, so a
result always says which configuration produced it.
"""

from __future__ import annotations

import inspect
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

DEFAULT_ENV = "NASBench201-v0"
BUDGET_UNITS: tuple[str, ...] = ("query", "unique")
LABEL_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
#: Keys the bench sets itself from the grid; --env-kwargs may not set them.
GRID_KEYS: tuple[str, ...] = ("dataset", "reward_metric", "max_queries", "budget_unit")


@dataclass(frozen=True)
class RunSpec:
    """One search run. ``agent`` is the label in file names; ``base_agent`` the registry name."""

    agent: str
    dataset: str
    reward_metric: str
    budget: int
    seed: int
    base_agent: str = ""
    #: JSON object of keyword overrides passed to ``make_agent`` (sorted keys).
    agent_kwargs: str = "{}"
    env_id: str = DEFAULT_ENV
    #: JSON object: the environment configuration besides the grid keys (sorted keys).
    env_kwargs: str = "{}"
    #: ``"query"``: every step counts; ``"unique"``: re-querying a known cell is free.
    budget_unit: str = "query"

    def __post_init__(self) -> None:
        if not self.base_agent:
            object.__setattr__(self, "base_agent", self.agent)

    @property
    def key(self) -> str:
        unit = "u" if self.budget_unit == "unique" else ""
        return (
            f"{self.agent}__{self.env_id}__{self.dataset}__{self.reward_metric}"
            f"__{self.budget}{unit}__{self.seed}"
        )

    @property
    def filename(self) -> str:
        return f"{self.key}.json"

    def make_kwargs(self) -> dict[str, Any]:
        """The keyword arguments of ``gym.make(self.env_id, ...)`` for this run."""
        kwargs = json.loads(self.env_kwargs)
        kwargs["dataset"] = self.dataset
        if accepts(self.env_id, "reward_metric"):
            kwargs["reward_metric"] = self.reward_metric
        kwargs["max_queries"] = self.budget
        if self.budget_unit != "query":
            kwargs["budget_unit"] = self.budget_unit
        return kwargs


@dataclass(frozen=True)
class Variant:
    """A labelled agent: a registered agent with keyword overrides (``--variant``)."""

    label: str
    base_agent: str
    kwargs: dict[str, Any] = field(default_factory=dict)

    @property
    def kwargs_json(self) -> str:
        return json.dumps(self.kwargs, sort_keys=True)


def check_label(label: str, what: str = "--variant label") -> str:
    """A label becomes part of file names: letters, digits, '.', '-', '_' and no '__'."""
    if not LABEL_RE.match(label) or "__" in label:
        raise ValueError(
            f"{what} {label!r}: use letters, digits, '.', '-', '_' (no '__'), "
            "since it becomes part of file names"
        )
    return label


def env_ids() -> tuple[str, ...]:
    """The environment ids the bench accepts: nas_gym's ids and registered variants, at
    every version (``-v1`` is the same search as ``-v0`` with flat spaces)."""
    import nas_gym

    names = (*nas_gym.ENVIRONMENTS, *getattr(nas_gym, "VARIANTS", {}))
    return tuple(nas_gym.versioned(name, v) for name in names for v in nas_gym.VERSIONS)


def search_id(env_id: str) -> str:
    """The ``-v0`` id of the search an id runs: ``nas_gym/X-v1`` is ``X-v0``.

    Versions differ only in the layout of their spaces, so records, optima and published
    rows of one search apply to every version of it.
    """
    import nas_gym

    name = env_id.split("/", 1)[1] if env_id.startswith("nas_gym/") else env_id
    if name not in env_ids():
        raise ValueError(f"unknown env {env_id!r}; allowed: {', '.join(env_ids())}")
    return nas_gym.versioned(name, "v0")


def base_env_id(env_id: str) -> str:
    """The environment class an id builds, as its ``-v0`` id: a variant is its base."""
    import nas_gym

    name = search_id(env_id)
    return getattr(nas_gym, "VARIANTS", {}).get(name, (name,))[0]


def env_parameters(env_id: str) -> tuple[str, ...]:
    """Keyword arguments the registered environment's constructor takes."""
    import gymnasium as gym

    base_env_id(env_id)  # an unknown id fails here, naming the known ones
    entry = gym.spec(env_id).entry_point
    cls = gym.envs.registration.load_env_creator(entry) if isinstance(entry, str) else entry
    params = inspect.signature(cls).parameters
    return tuple(name for name in params if name not in ("self", "render_mode"))


def accepts(env_id: str, keyword: str) -> bool:
    return keyword in env_parameters(env_id)


def _alpha_shapes() -> dict[str, Callable[[Mapping[str, Any]], tuple[int, ...]]]:
    from nas_gym.spaces import darts, nb201, proxyless

    return {
        "NASBench201-v0": lambda kwargs: nb201.SHAPE,
        "ProxylessNAS-v0": lambda kwargs: proxyless.SHAPE,
        "DARTSSupernet-v0": lambda kwargs: darts.shape(bool(kwargs.get("with_none", False))),
    }


def env_action_shape(
    env_id: str, env_kwargs: Mapping[str, Any]
) -> tuple[tuple[int, ...], tuple[int, ...]] | None:
    """``(action shape, alpha_shape)`` of ``gym.make(env_id, **env_kwargs)``, without building it.

    Read from the environment's search space (numpy only), so a bench can check its
    agents against a supernet environment before paying for the supernet. None for an
    environment class the bench does not describe.
    """
    import gymnasium as gym

    shape_of = _alpha_shapes().get(base_env_id(env_id))
    if shape_of is None:
        return None
    kwargs = {**gym.spec(env_id).kwargs, **env_kwargs}
    alpha = tuple(int(n) for n in shape_of(kwargs))
    return ((math.prod(alpha),) if kwargs.get("flat") else alpha), alpha


def agent_env_problem(
    agent: str, env_id: str, env_kwargs: Mapping[str, Any], who: str | None = None
) -> str | None:
    """Why the registered ``agent`` cannot search ``gym.make(env_id, **env_kwargs)``, or None.

    Decided without building the environment. The black-box searches (every
    :class:`~nas_gym.agents.common.search.SearchAlgorithm`: RS, REA, REINFORCE, GA-NAS,
    UNAS, the RNN controllers) assume the argmax-per-row discretization; the rule is
    :func:`~nas_gym.agents.common.discrete.row_action_shape`, applied here to the space
    the environment would have. ``who`` names the agent in the text (default: its class).
    """
    import numpy as np
    from gymnasium import spaces

    from nas_gym.agents.common.discrete import row_action_shape
    from nas_gym.agents.common.search import SearchAlgorithm
    from nas_gym.agents.registry import agent_class, agent_names

    cls = agent_class(agent) if agent in agent_names() else None
    if cls is None or not issubclass(cls, SearchAlgorithm):
        return None
    shapes = env_action_shape(env_id, env_kwargs)
    if shapes is None:
        return None
    action, alpha = shapes
    try:
        row_action_shape(spaces.Box(0.0, 1.0, action, np.float32), who or cls.__name__, alpha)
    except ValueError as err:
        return str(err)
    return None


def resolve_env_kwargs(
    env_id: str,
    paper: Mapping[str, Any],
    user: Mapping[str, Any],
) -> dict[str, Any]:
    """The agent's paper configuration, overridden key by key by the user's.

    Paper keys that this environment does not take are dropped (an agent's paper
    configuration is written once for every environment); a user key it does not
    take is an error naming the keywords it does take.
    """
    params = env_parameters(env_id)
    for key in user:
        if key in GRID_KEYS:
            raise ValueError(
                f"--env-kwargs sets {key!r}, which the bench sets from the grid; use "
                "--datasets, --reward-metrics, --budgets or --budget-unit instead"
            )
        if key not in params:
            raise ValueError(
                f"--env-kwargs: {env_id} takes no keyword {key!r}; allowed: "
                + ", ".join(k for k in params if k not in GRID_KEYS)
            )
    merged = {k: v for k, v in paper.items() if k in params}
    merged.update(user)
    return dict(sorted(merged.items()))


def build_specs(
    agents: Sequence[str],
    datasets: Sequence[str],
    reward_metrics: Sequence[str],
    budgets: Sequence[int],
    seeds: Sequence[int],
    variants: Sequence[Variant] = (),
    known_agents: Iterable[str] | None = None,
    env_id: str = DEFAULT_ENV,
    env_kwargs: Mapping[str, Any] | None = None,
    budget_unit: str = "query",
    paper_env_kwargs: Callable[[str], Mapping[str, Any]] | None = None,
) -> list[RunSpec]:
    """The grid of runs, validated: bad names raise ``ValueError`` naming what is allowed.

    Args:
        paper_env_kwargs: agent name -> its paper's env configuration (default: the
            registry's); pass ``lambda name: {}`` to give every agent the env defaults.
    """
    if known_agents is None or paper_env_kwargs is None:
        from nas_gym.agents.registry import agent_env_kwargs, agent_names

        known_agents = agent_names() if known_agents is None else known_agents
        paper_env_kwargs = agent_env_kwargs if paper_env_kwargs is None else paper_env_kwargs
    known = tuple(known_agents)
    by_label = _check_variants(variants, known)
    for agent in agents:
        if agent not in known and agent not in by_label:
            extra = f"; variants: {', '.join(by_label)}" if by_label else ""
            raise ValueError(f"unknown agent {agent!r}; allowed: {', '.join(known)}{extra}")
    for label in by_label:
        if label not in agents:
            raise ValueError(f"--variant {label} is defined but not used; add it to --agents")
    if budget_unit not in BUDGET_UNITS:
        raise ValueError(f"unknown budget unit {budget_unit!r}; allowed: {', '.join(BUDGET_UNITS)}")
    _check_grid(env_id, datasets, reward_metrics, budgets)
    user = dict(env_kwargs or {})
    resolved: dict[str, tuple[str, str, dict[str, Any]]] = {}
    for agent in agents:
        variant = by_label.get(agent)
        base = variant.base_agent if variant else agent
        kwargs = variant.kwargs_json if variant else "{}"
        resolved[agent] = (base, kwargs, resolve_env_kwargs(env_id, paper_env_kwargs(base), user))
    _check_compatible(env_id, resolved, known, user, paper_env_kwargs)
    specs = []
    for agent, (base, kwargs, env) in resolved.items():
        env_json = json.dumps(env)
        for dataset in datasets:
            for metric in reward_metrics:
                for budget in budgets:
                    for seed in seeds:
                        specs.append(
                            RunSpec(
                                agent, dataset, metric, budget, seed, base, kwargs,
                                env_id, env_json, budget_unit,
                            )
                        )  # fmt: skip
    return specs


def _check_variants(variants: Sequence[Variant], known: Sequence[str]) -> dict[str, Variant]:
    by_label: dict[str, Variant] = {}
    for variant in variants:
        if variant.label in known:
            raise ValueError(
                f"--variant label {variant.label!r} is already a registered agent name"
            )
        if variant.base_agent not in known:
            raise ValueError(
                f"--variant {variant.label}: unknown agent {variant.base_agent!r}; "
                f"allowed: {', '.join(known)}"
            )
        if variant.label in by_label:
            raise ValueError(f"--variant label {variant.label!r} is defined twice")
        by_label[variant.label] = variant
    return by_label


def _check_compatible(
    env_id: str,
    resolved: Mapping[str, tuple[str, str, dict[str, Any]]],
    known: Sequence[str],
    user: Mapping[str, Any],
    paper_env_kwargs: Callable[[str], Mapping[str, Any]],
) -> None:
    """Refuse agents that cannot search ``env_id`` before any environment is built.

    One error names them, says why, and lists the agents that can search ``env_id``
    and the environments they can search.
    """
    bad: dict[str, list[str]] = {}  # problem -> labels
    for label, (base, _, env) in resolved.items():
        problem = agent_env_problem(base, env_id, env, who="each")
        if problem is not None:
            bad.setdefault(problem, []).append(label)
    if not bad:
        return
    labels = [label for group in bad.values() for label in group]
    bases = sorted({resolved[label][0] for label in labels})
    fits = [
        name
        for name in known
        if agent_env_problem(name, env_id, resolve_env_kwargs(env_id, paper_env_kwargs(name), user))
        is None
    ]
    homes = [
        other
        for other in env_ids()
        if all(
            agent_env_problem(b, other, resolve_env_kwargs(other, paper_env_kwargs(b), {})) is None
            for b in bases
        )
    ]
    why = " ".join(
        f"{', '.join(group)} cannot run on {env_id} (alpha shape "
        f"{_alpha_of(env_id, resolved[group[0]][2])}): {text}"
        for text, group in bad.items()
    )
    raise ValueError(
        f"{why} Agents that can: {', '.join(fits) or 'none'}; "
        f"environments {', '.join(labels)} can run on: {', '.join(homes) or 'none'}"
    )


def _alpha_of(env_id: str, env_kwargs: Mapping[str, Any]) -> tuple[int, ...] | None:
    shapes = env_action_shape(env_id, env_kwargs)
    return None if shapes is None else shapes[1]


def _check_grid(
    env_id: str, datasets: Sequence[str], metrics: Sequence[str], budgets: Sequence[int]
) -> None:
    if base_env_id(env_id) == DEFAULT_ENV:
        from nas_gym.benchmarks.nb201 import DATASETS, SPLITS
    else:
        DATASETS, SPLITS = None, ("valid",)  # noqa: N806  (the env validates its datasets)
        env_parameters(env_id)  # an unknown env id fails here
    for dataset in datasets:
        if DATASETS is not None and dataset not in DATASETS:
            raise ValueError(f"unknown dataset {dataset!r}; allowed: {', '.join(DATASETS)}")
    for metric in metrics:
        if metric not in SPLITS:
            raise ValueError(
                f"unknown reward metric {metric!r} for {env_id}; allowed: {', '.join(SPLITS)}"
            )
    for budget in budgets:
        if budget < 1:
            raise ValueError(f"budget {budget} must be a positive number of queries")


def check_variant_kwargs(variant: Variant, keywords: Sequence[str] | None) -> None:
    """Reject an override the agent does not take, naming the keywords it does take."""
    from nas_gym.agents.registry import unknown_overrides

    problem = unknown_overrides(variant.base_agent, variant.kwargs, keywords)
    if problem:
        raise ValueError(f"--variant {variant.label}: {problem}")
