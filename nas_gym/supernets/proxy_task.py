"""``ProxyTask``: the image task a weight-sharing supernet is trained and scored on.

One object for what the supernet environments used to assemble each on their own:
the training set of a torchvision dataset, its D_T / D_V split (D_T trains the
supernet, D_V scores paths; Mills 2020, Sec. 3.4.1 and 4.2.2) and the fixed,
deterministic batches that scoring and batch-norm recalibration use.

A task pickles by reference (its constructor arguments), so an environment that
holds one pickles without copying images; the device batches are rebuilt on demand.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Subset

from nas_gym.data import default_data_root
from nas_gym.supernets import datasets as ds
from nas_gym.supernets.pretrain import forward_logits

Batches = list[tuple[torch.Tensor, torch.Tensor]]


class ProxyTask:
    """A dataset's training set split into D_T and D_V, and fixed batches of either.

    Args:
        dataset: a name of :data:`nas_gym.supernets.datasets.DATASETS`: ``"cifar10"``,
            ``"cifar100"``, ``"imagefolder"`` or ``"digits"`` / ``"digits16"`` /
            ``"digits32"`` (scikit-learn's real 8x8 digits, offline; 8, 16 or 32 px).
        root: its directory (default :func:`nas_gym.data.default_data_root`; unused
            for digits).
        download, verify: passed to :func:`nas_gym.supernets.datasets.load_image_dataset`.
        resolution: resize images to this side (None: native).
        train_fraction: share of the training set in D_T (0.5, as the thesis).
        split_seed: seed of the split and of the fixed batch orders.
    """

    def __init__(
        self,
        dataset: str = "cifar10",
        root: str | os.PathLike[str] | None = None,
        *,
        download: bool = False,
        verify: bool = True,
        resolution: int | None = None,
        train_fraction: float = 0.5,
        split_seed: int = 0,
    ):
        self.dataset = dataset
        self.root = Path(root).expanduser() if root is not None else default_data_root()
        self.download, self.verify = bool(download), bool(verify)
        self.resolution = resolution
        self.train_fraction, self.split_seed = float(train_fraction), int(split_seed)
        transform = ds.dataset_transforms(dataset, train=False, resolution=resolution)
        train_set = ds.load_image_dataset(
            dataset, self.root, train=True, transform=transform, download=download, verify=verify
        )
        self.num_classes = ds.num_classes(dataset, train_set)
        self.d_train, self.d_valid = ds.split_train(train_set, self.train_fraction, self.split_seed)
        sample = train_set[0][0]
        self.in_channels, self.image_size = int(sample.shape[0]), int(sample.shape[-1])
        #: Whether a horizontal flip keeps the label (False for digits): batch augmentation.
        self.hflip = ds.hflip_keeps_class(dataset)
        self._batches: dict[tuple[Any, ...], Batches] = {}

    def __reduce__(self):
        return _rebuild, (
            self.dataset,
            str(self.root),
            self.download,
            self.verify,
            self.resolution,
            self.train_fraction,
            self.split_seed,
        )

    def fixed_batches(
        self,
        part: str,
        batch_size: int,
        n_batches: int | None,
        device: torch.device | str = "cpu",
        salt: int = 1,
    ) -> Batches:
        """The first ``n_batches`` batches (all if None) of a fixed permutation of D_T
        (``part="train"``) or D_V (``"valid"``), on ``device``; built once, then reused.

        The permutation is seeded by ``split_seed * 1000 + salt``, so every environment
        on this task scores every path on the same images.
        """
        key = (part, batch_size, n_batches, str(device), salt)
        if key not in self._batches:
            subset = {"train": self.d_train, "valid": self.d_valid}[part]
            order = torch.randperm(
                len(subset), generator=torch.Generator().manual_seed(self.split_seed * 1000 + salt)
            )
            if n_batches is not None:
                order = order[: n_batches * batch_size]
            loader = DataLoader(
                Subset(subset, order.tolist()), batch_size=batch_size, shuffle=False
            )
            self._batches[key] = [(x.to(device), y.to(device)) for x, y in loader]
        return self._batches[key]


def _rebuild(dataset, root, download, verify, resolution, train_fraction, split_seed) -> ProxyTask:
    return ProxyTask(
        dataset,
        root,
        download=download,
        verify=verify,
        resolution=resolution,
        train_fraction=train_fraction,
        split_seed=split_seed,
    )


def score_path(
    net: nn.Module,
    batches: Batches,
    alpha_d: Any,
    recalibration: Batches | None = None,
) -> tuple[float, float]:
    """(accuracy %, mean cross-entropy) of one path (``alpha_d``; None: the mixed supernet).

    Batch norm for a single path: a supernet's running statistics mix every path it
    trained, so they fit none. Without ``recalibration`` each batch is normalised with
    its own statistics (train-mode BN, momentum 0: running statistics untouched), as
    DARTS' search networks do. With it, the running statistics are re-estimated for the
    path from those batches and the path is scored in eval mode (SPOS-style). Either way
    every BN buffer, momentum and mode is put back afterwards.
    """
    bns = [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    full = recalibration is not None
    saved = [
        (
            m.training,
            m.momentum,
            {k: v.clone() for k, v in m.state_dict().items()} if full else None,
        )
        for m in bns
    ]
    counters = [
        m.num_batches_tracked.clone() if m.num_batches_tracked is not None else None for m in bns
    ]
    was_training = net.training
    net.eval()
    loss_sum, correct, seen = 0.0, 0, 0
    try:
        with torch.no_grad():
            for m in bns:
                m.train()
                if full:
                    m.reset_running_stats()
                # None: cumulative average over the recalibration batches; 0: batch statistics
                m.momentum = None if full else 0.0
            if full:
                for x, _ in recalibration:
                    forward_logits(net, x, alpha_d)
                for m in bns:
                    m.eval()
            for x, y in batches:
                logits = forward_logits(net, x, alpha_d)
                loss_sum += float(nn.functional.cross_entropy(logits, y, reduction="sum"))
                correct += int((logits.argmax(1) == y).sum())
                seen += len(y)
    finally:
        for m, (training, momentum, state), counter in zip(bns, saved, counters, strict=True):
            if state is not None:
                m.load_state_dict(state)
            elif counter is not None:
                m.num_batches_tracked.copy_(counter)
            m.momentum = momentum
            m.train(training)
        net.train(was_training)
    return 100.0 * correct / seen, loss_sum / seen
