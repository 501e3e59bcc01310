"""One-shot (gradient-based) architecture search on the weight-sharing supernets.

Unlike the Gym agents, these searchers need gradients through the supernet: they
train the weights w and the architecture parameters together through
``forward_weighted``. :mod:`nas_gym.oneshot.loop` holds what they share (epoch
loop, D_T / D_V batches, checkpoint and exact resume, atomic outputs);
:mod:`nas_gym.oneshot.darts` is DARTS (Liu et al., ICLR 2019) and
:mod:`nas_gym.oneshot.unas` is UNAS (Vahdat et al., CVPR 2020). The command line
is ``nas-gym search darts|unas``.
"""

from nas_gym.oneshot.loop import (
    OneShotTrainer,
    SearchConfig,
    SearchRNG,
    darts_genotype,
    read_search_checkpoint,
    run_search,
    weight_optimizer,
)

__all__ = [
    "OneShotTrainer",
    "SearchConfig",
    "SearchRNG",
    "darts_genotype",
    "read_search_checkpoint",
    "run_search",
    "weight_optimizer",
]
