"""Agents by name, so benchmarks, examples and the CLI build them the same way.

``make_agent(name, env, seed=..., verbose=..., **overrides)`` returns an object with
the Stable-Baselines3 interface (``learn``, ``predict``, ``save``, ``load``).

Each entry also carries the environment configuration of the agent's paper
(``env_kwargs``, e.g. DDAS sees the ``"last"`` architecture, Mills 2020 Sec. 3.2),
which the bench applies unless the user overrides it, and a documented example of
keyword overrides (``example_kwargs``), which help texts show and a test builds.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import gymnasium as gym

AgentFactory = Callable[..., Any]


@dataclass(frozen=True)
class AgentEntry:
    """One registered agent: how to build it and the configuration it was published with."""

    factory: AgentFactory
    #: Environment keyword arguments of the agent's paper (applied unless overridden).
    env_kwargs: Mapping[str, Any] = field(default_factory=dict)
    #: A documented example of keyword overrides (help text; built by a test).
    example_kwargs: Mapping[str, Any] = field(default_factory=dict)


_AGENTS: dict[str, AgentEntry] = {}
#: Parameters that ``make_agent`` sets itself, never overrides.
_NOT_OVERRIDES = frozenset({"self", "policy", "env", "seed", "verbose"})


def register_agent(
    name: str,
    env_kwargs: Mapping[str, Any] | None = None,
    example_kwargs: Mapping[str, Any] | None = None,
) -> Callable[[AgentFactory], AgentFactory]:
    """Decorator: register ``factory(env, seed=None, verbose=0, **overrides)`` under ``name``.

    Args:
        name: the registered name.
        env_kwargs: the environment configuration of the agent's paper, e.g.
            ``{"observation": "last"}``; the bench passes it to ``gym.make`` unless
            the user overrides a key.
        example_kwargs: documented keyword overrides that the factory accepts.
    """

    def deco(factory: AgentFactory) -> AgentFactory:
        if name in _AGENTS:
            raise ValueError(f"agent {name!r} is already registered")
        _AGENTS[name] = AgentEntry(
            factory,
            MappingProxyType(dict(env_kwargs or {})),
            MappingProxyType(dict(example_kwargs or {})),
        )
        return factory

    return deco


def agent_names() -> tuple[str, ...]:
    _load_builtin()
    return tuple(_AGENTS)


def _entry(name: str) -> AgentEntry:
    _load_builtin()
    if name not in _AGENTS:
        raise ValueError(f"unknown agent {name!r}; allowed: {', '.join(_AGENTS)}")
    return _AGENTS[name]


def agent_env_kwargs(name: str) -> dict[str, Any]:
    """The environment configuration of ``name``'s paper (a copy; may be empty)."""
    return dict(_entry(name).env_kwargs)


def agent_example_kwargs(name: str) -> dict[str, Any]:
    """The documented example overrides of ``name`` (a copy; may be empty)."""
    return dict(_entry(name).example_kwargs)


def agent_keywords(name: str) -> tuple[str, ...] | None:
    """Keyword overrides ``make_agent(name, ...)`` accepts, or None when unknown.

    Read from the factory's signature and, through its ``**overrides``, from the
    ``__init__`` of the class it returns (its return annotation) and of that
    class's bases while they forward ``**kwargs``. So a misspelt override can be
    rejected before a long bench starts.
    """
    factory = _entry(name).factory
    names = _named_params(factory)
    if names is None:
        return None
    if not _has_var_keyword(factory):
        return tuple(sorted(names - _NOT_OVERRIDES))
    try:
        cls = typing.get_type_hints(factory).get("return")
    except Exception:  # an unresolvable annotation: the keywords are unknown
        return None
    if not inspect.isclass(cls):
        return None
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        names |= _named_params(init) or set()
        if not _has_var_keyword(init):
            return tuple(sorted(names - _NOT_OVERRIDES))
    return None


def agent_class(name: str) -> type | None:
    """The class ``make_agent(name, ...)`` returns, from its factory's return annotation (or None)."""
    try:
        cls = typing.get_type_hints(_entry(name).factory).get("return")
    except Exception:  # an unresolvable annotation: the class is unknown
        return None
    return cls if inspect.isclass(cls) else None


def _named_params(fn: Callable[..., Any]) -> set[str] | None:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return None
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return {p.name for p in params if p.kind in kinds and not p.name.startswith("_")}


def _has_var_keyword(fn: Callable[..., Any]) -> bool:
    params = inspect.signature(fn).parameters.values()
    return any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params)


def make_agent(
    name: str, env: gym.Env, seed: int | None = None, verbose: int = 0, **overrides: Any
) -> Any:
    """Build the agent registered as ``name`` on ``env``.

    Raises:
        ValueError: an unknown ``name``, a ``seed`` that is not None or an integer in
            0..2**32 - 1, or an override the agent does not take (the message lists
            the ones it does).
    """
    from nas_gym.agents.common.rng import check_seed  # imports torch: not at module load

    entry = _entry(name)
    check_seed(seed)
    problem = unknown_overrides(name, overrides, agent_keywords(name))
    if problem:
        raise ValueError(problem)
    return entry.factory(env, seed=seed, verbose=verbose, **overrides)


def unknown_overrides(
    name: str, overrides: Mapping[str, Any], keywords: Sequence[str] | None
) -> str | None:
    """Which of ``overrides`` agent ``name`` does not take (its ``keywords``; None:
    unknown, so none is refused), and the ones it does; None when all are taken."""
    unknown = sorted(set(overrides) - set(keywords or overrides))
    if not unknown:
        return None
    return (
        f"{name} takes no keyword {', '.join(map(repr, unknown))}; "
        f"allowed: {', '.join(keywords or ())}"
    )


def _load_builtin() -> None:
    """Import the modules whose decorators fill the registry (lazy: they import torch)."""
    from nas_gym.agents import sb3_stock, zoo  # noqa: F401
