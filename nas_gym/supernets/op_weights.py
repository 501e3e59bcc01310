"""Op weights for the supernets' ``forward_weighted``: one check for every search space."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch


def batched_weights(
    weights: torch.Tensor | np.ndarray, x: torch.Tensor, shapes: Sequence[tuple[int, ...]]
) -> torch.Tensor:
    """``weights`` as a finite ``(B or 1, *shape)`` tensor on ``x``'s device and dtype.

    ``shapes`` are the accepted per-architecture shapes; a weight array of one of them is
    shared by the batch (leading axis 1), one with a leading axis of ``len(x)`` is per
    example. Anything else is refused, naming the shape given and the ones allowed.
    """
    w = torch.as_tensor(weights, device=x.device).to(x.dtype)
    allowed = [tuple(s) for s in shapes]
    if tuple(w.shape) in allowed:
        w = w.unsqueeze(0)
    elif tuple(w.shape[1:]) not in allowed:
        raise ValueError(
            f"weights must have shape {' or '.join(map(str, allowed))} (shared), or "
            f"(B, *that) per example; got {tuple(w.shape)}"
        )
    elif w.shape[0] != x.shape[0]:
        raise ValueError(
            f"per-example weights have batch size {w.shape[0]} but x has {x.shape[0]} examples"
        )
    if not torch.isfinite(w).all():
        raise ValueError("weights contain NaN or inf")
    return w
