"""One-shot (gradient-based) architecture search on the weight-sharing supernets.

Unlike the Gym agents, these searchers need gradients through the supernet: they
train the weights w and the architecture parameters together through
``forward_weighted``. :mod:`nas_gym.oneshot.loop` holds what they share (epoch
loop, D_T / D_V batches, checkpoint and exact resume, atomic outputs);
:mod:`nas_gym.oneshot.darts` is DARTS (Liu et al., ICLR 2019) and
:mod:`nas_gym.oneshot.unas` is UNAS (Vahdat et al., CVPR 2020). The command line
is ``nas-gym search darts|unas``.
"""

import importlib
from typing import Any

#: Re-exported lazily from :mod:`nas_gym.oneshot.loop` (so importing the package, e.g. for
#: the CLI's argument definitions, does not import torch).
__all__ = [
    "OneShotTrainer",
    "SearchConfig",
    "SearchRNG",
    "darts_genotype",
    "read_search_checkpoint",
    "run_search",
    "weight_optimizer",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module("nas_gym.oneshot.loop"), name)
    raise AttributeError(f"module 'nas_gym.oneshot' has no attribute {name!r}")
