"""A weight-sharing MobileNetV2 supernet for the ProxylessNAS space.

Every searchable layer holds its 6 MBConv candidates (expand 3/6 x kernel 3/5/7)
with separate weights, as in ProxylessNAS (Cai et al., ICLR 2019). A forward pass
runs one path only: the ops of one architecture, with ``zero`` skipping the layer.
Trained by uniform single-path sampling (the CADAM recipe, Mills 2020 Ch. 4: draw
alpha ~ U(0, 1), discretize, train that path), then frozen and used to score
architectures. The input resolution is free (a small proxy resolution is fine);
the latency of an architecture comes from a table measured at 224x224.

``width_mult`` scales every channel count (MobileNetV2's width multiplier), for
tiny test configurations; the search space itself is not changed by it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from nas_gym.spaces import proxyless as space
from nas_gym.supernets.op_weights import batched_weights


def scale_channels(channels: int, width_mult: float, divisor: int = 8) -> int:
    """MobileNetV2's rounding: a multiple of ``divisor``, never below it, never 10% below the target."""
    target = channels * width_mult
    out = max(divisor, int(target + divisor / 2) // divisor * divisor)
    if out < 0.9 * target:
        out += divisor
    return out


def check_width_mult(width_mult: float, name: str = "width_mult") -> float:
    """A finite multiplier > 0 (``name``: how the message calls it, e.g. ``--width-mult``)."""
    if not 0 < width_mult < math.inf:
        raise ValueError(f"{name} must be a finite number > 0, got {width_mult}")
    return float(width_mult)


def conv_bn(
    cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1, act: bool = True
) -> nn.Sequential:
    """Conv (no bias) + BatchNorm (+ ReLU6), 'same' padding."""
    layers: list[nn.Module] = [
        nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout),
    ]
    if act:
        layers.append(nn.ReLU6(inplace=True))
    return nn.Sequential(*layers)


class MBConv(nn.Module):
    """Inverted residual block (Sandler et al., CVPR 2018): 1x1 expand, kxk depthwise, 1x1 project.

    The identity shortcut is used exactly when the shape is kept (``idskip`` in the latency table).
    """

    def __init__(self, cin: int, cout: int, expand: int, kernel: int, stride: int):
        super().__init__()
        mid = cin * expand
        layers: list[nn.Module] = []
        if expand != 1:
            layers.append(conv_bn(cin, mid, 1))
        layers.append(conv_bn(mid, mid, kernel, stride, groups=mid))
        layers.append(conv_bn(mid, cout, 1, act=False))
        self.body = nn.Sequential(*layers)
        self.idskip = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.body(x)
        return x + out if self.idskip else out


def as_ops(alpha_d: object) -> tuple[int, ...]:
    """Accept an architecture as 21 op indices, a one-hot (21, 7) matrix or an arch string."""
    if isinstance(alpha_d, str):
        return space.str_to_ops(alpha_d)
    if isinstance(alpha_d, torch.Tensor):
        alpha_d = alpha_d.detach().cpu().numpy()
    arr = np.asarray(alpha_d)
    if arr.shape == space.SHAPE:
        return space.discrete_to_ops(arr)
    return space.check_ops(arr.reshape(-1).tolist())


class ProxylessSupernet(nn.Module):
    """MobileNetV2 supernet over the 21 x 7 ProxylessNAS space.

    Args:
        num_classes: classifier outputs (the dataset's classes).
        width_mult: channel multiplier (1.0 = the real space).
        dropout: dropout before the classifier.
    """

    def __init__(self, num_classes: int = 10, width_mult: float = 1.0, dropout: float = 0.0):
        super().__init__()
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        check_width_mult(width_mult)
        self.num_classes = int(num_classes)
        self.width_mult = float(width_mult)
        c = lambda n: scale_channels(n, width_mult)  # noqa: E731
        self.stem = conv_bn(3, c(space.STEM_CHANNELS), 3, space.STEM_STRIDE)
        self.first = MBConv(
            c(space.STEM_CHANNELS), c(space.FIRST_BLOCK_CHANNELS), *space.FIRST_BLOCK, 1
        )
        self.layers = nn.ModuleList(
            nn.ModuleList(
                MBConv(c(layer.in_channels), c(layer.out_channels), e, k, layer.stride)
                for e, k in space.MBCONV
            )
            for layer in space.LAYERS
        )
        head = c(space.HEAD_CHANNELS)
        self.head = conv_bn(c(space.LAYERS[-1].out_channels), head, 1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(head, num_classes)

    def forward(self, x: torch.Tensor, alpha_d: object) -> torch.Tensor:
        """Logits of the architecture ``alpha_d`` (ops, one-hot matrix or string): one path only."""
        ops = as_ops(alpha_d)
        x = self.first(self.stem(x))
        for candidates, op in zip(self.layers, ops, strict=True):
            if op != space.ZERO:
                x = candidates[op](x)
        x = self.pool(self.head(x)).flatten(1)
        return self.classifier(self.dropout(x))

    def forward_weighted(self, x: torch.Tensor, weights: torch.Tensor | np.ndarray) -> torch.Tensor:
        """All candidates of every layer weighted by already-normalized ``weights``.

        Layer l gives ``sum_{k != zero} W[l, k] * cand_k(x) + W[l, zero] * x``: the
        ProxylessNAS mixed op (Cai et al., ICLR 2019) with ``zero`` as the identity of a
        skipped layer, so it may carry weight only on layers that keep the shape. A
        candidate whose weight is exactly zero for every example is not run, so a
        one-hot W gives exactly :meth:`forward` (same batch-norm batch statistics).

        Args:
            x: input images ``(B, 3, H, W)``.
            weights: ``(21, 7)`` shared or ``(B, 21, 7)`` per example; gradients flow
                to them.

        Returns:
            Logits ``(B, num_classes)``.
        """
        w = _as_weights(weights, x)
        active = (w != 0).any(dim=0).cpu().numpy()  # (21, 7)
        x = self.first(self.stem(x))
        for layer, candidates, w_l, act in zip(
            space.LAYERS, self.layers, w.unbind(1), active, strict=True
        ):
            if not act.any():
                raise ValueError(f"weights of layer {layer.index} are all zero; nothing to run")
            terms = [
                w_l[:, k].view(-1, 1, 1, 1) * (x if k == space.ZERO else candidates[k](x))
                for k in np.flatnonzero(act).tolist()
            ]
            x = sum(terms)
        x = self.pool(self.head(x)).flatten(1)
        return self.classifier(self.dropout(x))

    def subnet(self, alpha_d: object) -> nn.Sequential:
        """The stand-alone network of one architecture (sharing this supernet's modules)."""
        ops = as_ops(alpha_d)
        chosen = [cands[op] for cands, op in zip(self.layers, ops, strict=True) if op != space.ZERO]
        return nn.Sequential(
            self.stem,
            self.first,
            *chosen,
            self.head,
            self.pool,
            nn.Flatten(1),
            self.dropout,
            self.classifier,
        )


def _as_weights(weights: torch.Tensor | np.ndarray, x: torch.Tensor) -> torch.Tensor:
    """Validate op weights for :meth:`ProxylessSupernet.forward_weighted`; return ``(B or 1, 21, 7)``."""
    w = batched_weights(weights, x, [space.SHAPE])
    bad = [
        layer.index
        for layer in space.LAYERS
        if layer.first and bool((w[:, layer.index, space.ZERO] != 0).any())
    ]
    if bad:
        raise ValueError(
            f"'zero' (column {space.ZERO}) has non-zero weight on layers {bad}, which change the "
            f"shape and cannot be skipped; give it weight 0 there (see spaces.proxyless.op_mask())"
        )
    return w


def sample_discrete(rng: np.random.Generator) -> tuple[int, ...]:
    """Uniform single-path sampling: alpha ~ U(0, 1), discretized (CADAM pre-training)."""
    return space.sample_ops(rng)


def count_params(module: nn.Module) -> int:
    """Distinct parameters of a module."""
    return sum(p.numel() for p in module.parameters())


def path_params(supernet: ProxylessSupernet, ops: Sequence[int]) -> int:
    """Parameters of one architecture's stand-alone network."""
    return count_params(supernet.subnet(ops))
