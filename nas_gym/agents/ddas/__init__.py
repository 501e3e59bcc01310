"""DDAS: Deep Deterministic Architecture Sampling (Mills 2020, Ch. 3)."""

from nas_gym.agents.ddas.ddas import DDAS, DDAS_SCHEDULES

__all__ = ["DDAS", "DDAS_SCHEDULES"]
