"""The DARTS evaluation network for one genotype, and its params/FLOPs.

:class:`DARTSEvalNetwork` is the CIFAR network DARTS (Liu et al. 2019, Sec. 3.2)
trains from scratch to evaluate a found cell: a 3x3 stem of ``3 * C`` channels,
``layers`` cells built from the genotype (normal, or reduce at ``layers // 3``
and ``2 * layers // 3``), affine batch norms, pools without BN, drop path on
every non-identity op, and an optional auxiliary head after the second
reduction (Szegedy et al. 2016), weighted 0.4 by the trainer.

:func:`params_and_flops` gives the numbers the environments report and the
Pareto fronts use (Mills 2020 reports them for 6-cell search and 10/20-cell,
36-channel evaluation networks).
"""

from __future__ import annotations

from functools import lru_cache

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from nas_gym.spaces import darts as space
from nas_gym.supernets.darts import _check_int, reduction_cells
from nas_gym.supernets.darts_ops import FactorizedReduce, ReLUConvBN, drop_path, make_op


def _as_genotype(genotype: space.Genotype | str) -> space.Genotype:
    """A validated genotype from a Genotype, its string, or a :data:`PUBLISHED` name."""
    if isinstance(genotype, str):
        return space.str_to_genotype(genotype)
    space.from_genotype(genotype)  # validates
    return genotype


class EvalCell(nn.Module):
    """A cell of a fixed genotype: node j sums its two ops of the genotype."""

    def __init__(
        self,
        genotype: space.Genotype,
        c_pp: int,
        c_p: int,
        c: int,
        reduction: bool,
        reduction_prev: bool,
    ):
        super().__init__()
        self.reduction = reduction
        self.preprocess0 = (
            FactorizedReduce(c_pp, c) if reduction_prev else ReLUConvBN(c_pp, c, 1, 1, 0)
        )
        self.preprocess1 = ReLUConvBN(c_p, c, 1, 1, 0)
        pairs = genotype.reduce if reduction else genotype.normal
        concat = genotype.reduce_concat if reduction else genotype.normal_concat
        self.inputs = [int(src) for _, src in pairs]
        self.concat = [int(i) for i in concat]
        self.ops = nn.ModuleList(
            make_op(op, c, 2 if reduction and src < space.N_INPUTS else 1, affine=True)
            for op, src in pairs
        )

    def forward(self, s0: Tensor, s1: Tensor, drop_prob: float) -> Tensor:
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        for j in range(len(self.ops) // 2):
            total = 0
            for k in (2 * j, 2 * j + 1):
                h = self.ops[k](states[self.inputs[k]])
                if self.training and drop_prob > 0 and not isinstance(self.ops[k], nn.Identity):
                    h = drop_path(h, drop_prob)
                total = total + h
            states.append(total)
        return torch.cat([states[i] for i in self.concat], dim=1)


class AuxiliaryHead(nn.Module):
    """Auxiliary classifier on the 2/3-depth features (DARTS' CIFAR head).

    DARTS pools its 8x8 input with a 5x5 window, stride 3, to 2x2; smaller inputs
    (tiny test images) are pooled adaptively to 2x2 instead.
    """

    def __init__(self, c: int, num_classes: int):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(c, 128, 1, bias=False),
            nn.BatchNorm2d(128),
            nn.ReLU(inplace=True),
            nn.Conv2d(128, 768, 2, bias=False),
            nn.BatchNorm2d(768),
            nn.ReLU(inplace=True),
        )
        self.classifier = nn.Linear(768, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = F.relu(x)
        if min(x.shape[-2:]) >= 5:
            x = F.avg_pool2d(x, 5, stride=3, padding=0, count_include_pad=False)
        x = F.adaptive_avg_pool2d(x, 2)
        return self.classifier(self.features(x).flatten(1))


class DARTSEvalNetwork(nn.Module):
    """The DARTS CIFAR evaluation network of a genotype.

    Args:
        genotype: a :class:`~nas_gym.spaces.darts.Genotype`, its string, or a published name.
        C: initial channels (DARTS: 36).
        layers: number of cells (DARTS: 20; Mills 2020 also uses 10 and 6).
        num_classes: classifier outputs.
        auxiliary: add the auxiliary head after cell ``2 * layers // 3``.
        in_channels: image channels.

    Set ``drop_path_prob`` (default 0) before each epoch, as DARTS does (linearly increased).
    """

    def __init__(
        self,
        genotype: space.Genotype | str,
        C: int = 36,
        layers: int = 20,
        num_classes: int = 10,
        auxiliary: bool = False,
        in_channels: int = 3,
    ):
        super().__init__()
        genotype = _as_genotype(genotype)
        C = _check_int("C", C)
        layers = _check_int("layers", layers)
        num_classes = _check_int("num_classes", num_classes)
        in_channels = _check_int("in_channels", in_channels)
        self.genotype = genotype
        self.config = {
            "genotype": space.genotype_to_str(genotype),
            "C": C,
            "layers": layers,
            "num_classes": num_classes,
            "auxiliary": bool(auxiliary),
            "in_channels": in_channels,
        }
        self.drop_path_prob = 0.0
        self.reductions = reduction_cells(layers)
        self.aux_position = 2 * layers // 3
        c_curr = 3 * C
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, c_curr, 3, padding=1, bias=False), nn.BatchNorm2d(c_curr)
        )
        c_pp, c_p, c_curr = c_curr, c_curr, C
        cells, reduction_prev, c_aux = [], False, c_p
        for i in range(layers):
            reduction = i in self.reductions
            if reduction:
                c_curr *= 2
            cells.append(EvalCell(genotype, c_pp, c_p, c_curr, reduction, reduction_prev))
            reduction_prev = reduction
            c_pp, c_p = c_p, len(cells[-1].concat) * c_curr
            if i == self.aux_position:
                c_aux = c_p
        self.cells = nn.ModuleList(cells)
        self.auxiliary_head = AuxiliaryHead(c_aux, num_classes) if auxiliary else None
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_p, num_classes)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor | None]:
        """``(logits, aux_logits)``; ``aux_logits`` only in training mode with the head, else None."""
        aux = None
        s0 = s1 = self.stem(x)
        for i, cell in enumerate(self.cells):
            s0, s1 = s1, cell(s0, s1, self.drop_path_prob)
            if i == self.aux_position and self.auxiliary_head is not None and self.training:
                aux = self.auxiliary_head(s1)
        return self.classifier(self.global_pooling(s1).flatten(1)), aux


def count_params_M(model: nn.Module, exclude_auxiliary: bool = True) -> float:
    """Parameters in millions, the auxiliary head excluded as in DARTS' reports."""
    return (
        sum(
            p.numel()
            for name, p in model.named_parameters()
            if not (exclude_auxiliary and "auxiliary" in name)
        )
        / 1e6
    )


def count_flops_M(model: nn.Module, input_shape: tuple[int, ...]) -> float:
    """Multiply-accumulates (in millions) of one forward pass of one input.

    Counted with :class:`torch.utils.flop_counter.FlopCounterMode`, which counts
    2 FLOPs per multiply-accumulate of convolutions and matrix products; the
    result is halved to MACs, the convention of NAS papers' "FLOPs" (DARTS V2:
    about 0.53 G on CIFAR). Batch norm, activations, pooling and additions are not
    counted. Mills (2020, Table 3.1) lists about twice these values (2 FLOPs/MAC).
    """
    from torch.utils.flop_counter import FlopCounterMode

    was_training = model.training
    model.eval()
    try:
        param = next(model.parameters())
        x = torch.zeros(1, *input_shape, device=param.device, dtype=param.dtype)
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(x)
    finally:
        model.train(was_training)
    return counter.get_total_flops() / 2 / 1e6


@lru_cache(maxsize=65536)
def _canonical_str(genotype: str) -> str:
    """Canonical string of a genotype string or name (memoized: the env passes strings each step)."""
    return space.genotype_to_str(space.str_to_genotype(genotype))


@lru_cache(maxsize=4096)
def _params_and_flops_cached(
    genotype_str: str, C: int, layers: int, num_classes: int, input_size: int, in_channels: int
) -> tuple[float, float]:
    net = DARTSEvalNetwork(
        genotype_str, C=C, layers=layers, num_classes=num_classes, in_channels=in_channels
    )
    return count_params_M(net), count_flops_M(net, (in_channels, input_size, input_size))


def params_and_flops(
    genotype: space.Genotype | str,
    C: int = 36,
    layers: int = 20,
    num_classes: int = 10,
    input_size: int = 32,
    in_channels: int = 3,
) -> tuple[float, float]:
    """``(params_M, flops_M)`` of the evaluation network without auxiliary head.

    ``flops_M`` is in millions of multiply-accumulates (see :func:`count_flops_M`).
    Cached per (canonical genotype string, configuration) in this process, because
    environments report it at every step and architectures repeat.
    """
    key = _canonical_str(genotype) if isinstance(genotype, str) else space.genotype_to_str(genotype)
    return _params_and_flops_cached(
        key,
        _check_int("C", C),
        _check_int("layers", layers),
        _check_int("num_classes", num_classes),
        _check_int("input_size", input_size),
        _check_int("in_channels", in_channels),
    )
