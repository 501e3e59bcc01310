"""Classic NAS baselines with the Stable-Baselines3 interface."""

from nas_gym.agents.baselines.random_search import RandomSearch
from nas_gym.agents.baselines.rea import REA
from nas_gym.agents.baselines.reinforce import REINFORCE

__all__ = ["REA", "REINFORCE", "RandomSearch"]
