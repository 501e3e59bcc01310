"""Classic NAS baselines with the Stable-Baselines3 interface."""

from agents.baselines.random_search import RandomSearch
from agents.baselines.rea import REA
from agents.baselines.reinforce import REINFORCE

__all__ = ["REA", "REINFORCE", "RandomSearch"]
