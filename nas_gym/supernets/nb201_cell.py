"""The NAS-Bench-201 network in torch, used to count FLOPs and parameters of every cell.

Macro skeleton of NAS-Bench-201 (Dong & Yang, ICLR 2020): a 3x3 conv stem (16
channels) + BN; three stages of 5 cells at 16, 32 and 64 channels, separated by
residual reduction blocks (ReLU-conv3x3/2-BN, ReLU-conv3x3-BN, shortcut
avgpool2x2 + conv1x1); then BN-ReLU, global average pooling and a linear
classifier. A cell is the 4-node DAG of :mod:`nas_gym.spaces.nb201`: node j sums
its incoming edges; ``nor_conv_kxk`` is ReLU-conv-BN, ``avg_pool_3x3`` excludes
padding, ``none`` outputs zeros.

FLOPs are counted with :class:`torch.utils.flop_counter.FlopCounterMode` (which
counts convolutions and matrix products) and reported as millions of
multiply-accumulates (the counter's FLOPs / 2), the unit of the NB201 and mobile NAS
papers. Every edge of a cell sees the same shape, and modules run independently,
so a network's count is exactly the count of the all-``none`` network plus one
increment per edge for its op; the increments are counted on the real network and
the tests check the sum against direct counts of whole networks.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from nas_gym.spaces import nb201 as space

#: dataset -> (input resolution, classes), as in NAS-Bench-201.
DATASET_SHAPES: dict[str, tuple[int, int]] = {
    "cifar10": (32, 10),
    "cifar100": (32, 100),
    "ImageNet16-120": (16, 120),
}


class ReLUConvBN(nn.Sequential):
    def __init__(self, cin: int, cout: int, kernel: int, stride: int):
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(cin, cout, kernel, stride, kernel // 2, bias=False),
            nn.BatchNorm2d(cout),
        )


class Zero(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mul(0.0)


def make_op(name: str, channels: int) -> nn.Module:
    """One cell edge (stride 1, channels kept)."""
    if name == "none":
        return Zero()
    if name == "skip_connect":
        return nn.Identity()
    if name == "nor_conv_1x1":
        return ReLUConvBN(channels, channels, 1, 1)
    if name == "nor_conv_3x3":
        return ReLUConvBN(channels, channels, 3, 1)
    if name == "avg_pool_3x3":
        return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
    raise ValueError(f"unknown NB201 op {name!r}; allowed: {', '.join(space.OPS)}")


class Cell(nn.Module):
    """The NB201 cell: node j = sum of its incoming edges, output = node 3."""

    def __init__(self, ops: Sequence[int], channels: int):
        super().__init__()
        self.edges = nn.ModuleList(make_op(space.OPS[o], channels) for o in ops)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for to in (1, 2, 3):
            nodes.append(
                sum(
                    self.edges[row](nodes[frm])
                    for row, (t, frm) in enumerate(space.EDGES)
                    if t == to
                )
            )
        return nodes[3]


class ResidualReduction(nn.Module):
    """NB201's reduction block between stages (a ResNet basic block with stride 2)."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv_a = ReLUConvBN(cin, cout, 3, 2)
        self.conv_b = ReLUConvBN(cout, cout, 3, 1)
        self.shortcut = nn.Sequential(nn.AvgPool2d(2, 2), nn.Conv2d(cin, cout, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shortcut(x) + self.conv_b(self.conv_a(x))


class NB201Network(nn.Module):
    """The NAS-Bench-201 evaluation network of one cell.

    Args:
        ops: the cell (6 op indices, :mod:`nas_gym.spaces.nb201` order) or its arch string.
        num_classes: classifier outputs.
        channels: stem / first-stage channels (16 in NB201).
        cells_per_stage: cells per stage (5 in NB201).
    """

    def __init__(
        self,
        ops: Sequence[int] | str,
        num_classes: int = 10,
        channels: int = 16,
        cells_per_stage: int = 5,
    ):
        super().__init__()
        if isinstance(ops, str):
            ops = space.str_to_ops(ops)
        ops = space._check_ops(ops)
        layers: list[nn.Module] = [
            nn.Conv2d(3, channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
        ]
        c = channels
        for stage in range(3):
            if stage > 0:
                layers.append(ResidualReduction(c, c * 2))
                c *= 2
            layers += [Cell(ops, c) for _ in range(cells_per_stage)]
        layers += [nn.BatchNorm2d(c), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(1)]
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(c, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def count_macs(model: nn.Module, resolution: int) -> int:
    """Multiply-accumulates of one forward pass on a 1 x 3 x r x r input (torch's counter / 2)."""
    model.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.zeros(1, 3, resolution, resolution))
    return counter.get_total_flops() // 2


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def network_counts(ops: Sequence[int] | str, dataset: str) -> tuple[int, int]:
    """(multiply-accumulates, parameters) of one network, counted directly with torch."""
    if dataset not in DATASET_SHAPES:
        raise ValueError(f"unknown dataset {dataset!r}; allowed: {', '.join(DATASET_SHAPES)}")
    res, classes = DATASET_SHAPES[dataset]
    model = NB201Network(ops, classes)
    return count_macs(model, res), count_params(model)


def network_costs(ops: Sequence[int] | str, dataset: str) -> tuple[float, float]:
    """(MFLOPs as multiply-accumulates, params in millions) of one network, counted directly."""
    macs, params = network_counts(ops, dataset)
    return macs / 1e6, params / 1e6


def compute_increments() -> dict[str, dict[str, list[int]]]:
    """Exact integer counts that determine every network's cost, per dataset.

    ``{"base": [macs, params] of the all-none network, "<op>": [dmacs, dparams] of
    putting that op on one edge}``. Every edge sees the same shape, so a network
    costs ``base + sum(increment[op] for op in its 6 edges)``. The result is shipped
    as ``nas_gym/resources/nb201_cost_increments.json`` so environments never need
    torch; ``tests/test_hw_cost.py`` recounts it here and compares.
    """
    none = space.OPS.index("none")
    out: dict[str, dict[str, list[int]]] = {}
    for dataset in DATASET_SHAPES:
        base = network_counts([none] * space.N_EDGES, dataset)
        entry = {"base": [int(base[0]), int(base[1])]}
        for op, name in enumerate(space.OPS):
            counts = network_counts([op] + [none] * (space.N_EDGES - 1), dataset)
            entry[name] = [int(counts[0] - base[0]), int(counts[1] - base[1])]
        out[dataset] = entry
    return out


if __name__ == "__main__":  # regenerate the shipped resource
    import json

    from nas_gym.data import RESOURCES_DIR, atomic_write_text

    atomic_write_text(
        RESOURCES_DIR / "nb201_cost_increments.json",
        json.dumps(compute_increments(), indent=1) + "\n",
    )
