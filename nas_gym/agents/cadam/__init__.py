"""CADAM: Continuous Action-Discrete Architecture Mapping (Mills 2020, Ch. 4)."""

from nas_gym.agents.cadam.cadam import CADAM
from nas_gym.agents.cadam.policies import CADAMPolicy

__all__ = ["CADAM", "CADAMPolicy"]
