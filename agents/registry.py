"""Agents by name, so benchmarks, examples and the CLI build them the same way.

``make_agent(name, env, seed=..., verbose=..., **overrides)`` returns an object with
the Stable-Baselines3 interface (``learn``, ``predict``, ``save``, ``load``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym

AgentFactory = Callable[..., Any]
_AGENTS: dict[str, AgentFactory] = {}


def register_agent(name: str) -> Callable[[AgentFactory], AgentFactory]:
    """Decorator: register ``factory(env, seed=None, verbose=0, **overrides)`` under ``name``."""

    def deco(factory: AgentFactory) -> AgentFactory:
        if name in _AGENTS:
            raise ValueError(f"agent {name!r} is already registered")
        _AGENTS[name] = factory
        return factory

    return deco


def agent_names() -> tuple[str, ...]:
    _load_builtin()
    return tuple(_AGENTS)


def make_agent(
    name: str, env: gym.Env, seed: int | None = None, verbose: int = 0, **overrides: Any
) -> Any:
    """Build the agent registered as ``name`` on ``env``."""
    _load_builtin()
    if name not in _AGENTS:
        raise ValueError(f"unknown agent {name!r}; allowed: {', '.join(_AGENTS)}")
    return _AGENTS[name](env, seed=seed, verbose=verbose, **overrides)


def _load_builtin() -> None:
    """Import the modules whose decorators fill the registry (lazy: they import torch)."""
    from agents import sb3_stock, zoo  # noqa: F401
