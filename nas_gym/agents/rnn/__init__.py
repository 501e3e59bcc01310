"""ENAS/NASNet-style RNN controllers (Pham et al. 2018; Zoph et al. 2018)."""

from nas_gym.agents.rnn.controller import ControllerPolicy, RNNController

__all__ = ["ControllerPolicy", "RNNController"]
