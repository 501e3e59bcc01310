"""CADAM: Continuous Action-Discrete Architecture Mapping (Mills 2020, Ch. 4)."""

from agents.cadam.cadam import CADAM
from agents.cadam.policies import CADAMPolicy

__all__ = ["CADAM", "CADAMPolicy"]
