"""Black-box UNAS (Vahdat et al., CVPR 2020): RELAX with a linear surrogate, or REINFORCE."""

from nas_gym.agents.unas.unas import UNAS

__all__ = ["UNAS"]
