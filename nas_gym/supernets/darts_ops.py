"""The DARTS candidate operations (Liu et al., ICLR 2019), written for nas_gym.

Every op maps ``(N, C_in, H, W)`` to ``(N, C_out, H/stride, W/stride)``:

* ``sep_conv_kxk``: two stacked (ReLU, depthwise kxk, pointwise 1x1, BN) blocks,
  the first carrying the stride, as in DARTS;
* ``dil_conv_kxk``: one (ReLU, depthwise kxk dilation 2, pointwise 1x1, BN) block;
* ``max_pool_3x3`` / ``avg_pool_3x3``: 3x3 pooling (``count_include_pad=False``);
  inside the search supernet they are followed by a non-affine BN, as in DARTS'
  search model, to put them on the scale of the convolutions;
* ``skip_connect``: identity, or :class:`FactorizedReduce` when the edge has stride 2;
* ``none``: zeros (only the mixed-op baseline can weight it; a discrete path never
  selects it).

``affine`` follows DARTS: ``False`` in the search supernet, ``True`` in evaluation networks.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class ReLUConvBN(nn.Module):
    """ReLU -> conv -> BN: the 1x1 preprocessing of a cell's inputs."""

    def __init__(
        self, c_in: int, c_out: int, kernel: int, stride: int, padding: int, affine: bool = True
    ):
        super().__init__()
        self.op = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding, bias=False),
            nn.BatchNorm2d(c_out, affine=affine),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.op(x)


class DilConv(nn.Module):
    """ReLU -> depthwise (dilated) conv -> pointwise conv -> BN."""

    def __init__(
        self,
        c_in: int,
        c_out: int,
        kernel: int,
        stride: int,
        padding: int,
        dilation: int,
        affine: bool = True,
    ):
        super().__init__()
        self.op = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.Conv2d(
                c_in,
                c_in,
                kernel,
                stride=stride,
                padding=padding,
                dilation=dilation,
                groups=c_in,
                bias=False,
            ),
            nn.Conv2d(c_in, c_out, 1, bias=False),
            nn.BatchNorm2d(c_out, affine=affine),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.op(x)


class SepConv(nn.Module):
    """Two stacked undilated :class:`DilConv` blocks; only the first one strides."""

    def __init__(
        self, c_in: int, c_out: int, kernel: int, stride: int, padding: int, affine: bool = True
    ):
        super().__init__()
        self.op = nn.Sequential(
            DilConv(c_in, c_in, kernel, stride, padding, 1, affine),
            DilConv(c_in, c_out, kernel, 1, padding, 1, affine),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.op(x)


class Zero(nn.Module):
    """The ``none`` op: zeros of the output shape."""

    def __init__(self, stride: int):
        super().__init__()
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        if self.stride == 1:
            return x.mul(0.0)
        return x[:, :, :: self.stride, :: self.stride].mul(0.0)


class FactorizedReduce(nn.Module):
    """Halve the resolution without losing half the pixels: two 1x1 stride-2 convs,
    the second on the input shifted by one pixel, concatenated (Zoph et al. 2018).

    The shifted input is zero-padded back to its size, so odd resolutions work too.
    """

    def __init__(self, c_in: int, c_out: int, affine: bool = True):
        super().__init__()
        if c_out % 2:
            raise ValueError(
                f"FactorizedReduce needs an even number of output channels, got {c_out}"
            )
        self.relu = nn.ReLU(inplace=False)
        self.conv_a = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.conv_b = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.bn = nn.BatchNorm2d(c_out, affine=affine)

    def forward(self, x: Tensor) -> Tensor:
        x = self.relu(x)
        shifted = F.pad(x[:, :, 1:, 1:], (0, 1, 0, 1))
        return self.bn(torch.cat([self.conv_a(x), self.conv_b(shifted)], dim=1))


def _pool(kind: str, c: int, stride: int, affine: bool, bn: bool) -> nn.Module:
    pool: nn.Module = (
        nn.MaxPool2d(3, stride=stride, padding=1)
        if kind == "max"
        else nn.AvgPool2d(3, stride=stride, padding=1, count_include_pad=False)
    )
    return nn.Sequential(pool, nn.BatchNorm2d(c, affine=False)) if bn else pool


OpFactory = Callable[[int, int, bool, bool], nn.Module]
"""``factory(C, stride, affine, pool_bn) -> module`` with C input = output channels."""

OP_FACTORIES: dict[str, OpFactory] = {
    "none": lambda c, stride, affine, pool_bn: Zero(stride),
    "max_pool_3x3": lambda c, stride, affine, pool_bn: _pool("max", c, stride, affine, pool_bn),
    "avg_pool_3x3": lambda c, stride, affine, pool_bn: _pool("avg", c, stride, affine, pool_bn),
    "skip_connect": lambda c, stride, affine, pool_bn: (
        nn.Identity() if stride == 1 else FactorizedReduce(c, c, affine)
    ),
    "sep_conv_3x3": lambda c, stride, affine, pool_bn: SepConv(c, c, 3, stride, 1, affine),
    "sep_conv_5x5": lambda c, stride, affine, pool_bn: SepConv(c, c, 5, stride, 2, affine),
    "dil_conv_3x3": lambda c, stride, affine, pool_bn: DilConv(c, c, 3, stride, 2, 2, affine),
    "dil_conv_5x5": lambda c, stride, affine, pool_bn: DilConv(c, c, 5, stride, 4, 2, affine),
}


def make_op(name: str, c: int, stride: int, affine: bool, pool_bn: bool = False) -> nn.Module:
    """Build DARTS op ``name`` on ``c`` channels; ``pool_bn`` adds the search model's pool BN."""
    if name not in OP_FACTORIES:
        raise ValueError(f"unknown DARTS op {name!r}; allowed: {', '.join(OP_FACTORIES)}")
    if stride not in (1, 2):
        raise ValueError(f"stride must be 1 or 2, got {stride}")
    return OP_FACTORIES[name](c, stride, affine, pool_bn)


def channel_shuffle(x: Tensor, groups: int) -> Tensor:
    """Interleave ``groups`` channel groups (ShuffleNet), as PC-DARTS does after each edge."""
    n, c, h, w = x.shape
    return x.view(n, groups, c // groups, h, w).transpose(1, 2).reshape(n, c, h, w)


def drop_path(x: Tensor, drop_prob: float) -> Tensor:
    """Zero whole samples of a branch with probability ``drop_prob`` and rescale the rest
    (Larsson et al. 2017, as used by DARTS' evaluation). Uses torch's default generator."""
    if drop_prob <= 0.0:
        return x
    keep = 1.0 - drop_prob
    mask = torch.empty(x.shape[0], 1, 1, 1, device=x.device, dtype=x.dtype).bernoulli_(keep)
    return x / keep * mask
