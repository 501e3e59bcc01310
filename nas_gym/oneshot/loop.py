"""The epoch loop every one-shot searcher shares: data, checkpoints, resume, outputs.

A one-shot searcher (DARTS, UNAS, ...) trains the supernet weights w on D_T and
its architecture parameters on D_V through :meth:`forward_weighted` of the
supernet; it is not a Gym agent because it needs gradients through the network.
What differs between searchers is one step (:meth:`OneShotTrainer.step`) and how
the final architecture is read off (:meth:`OneShotTrainer.derive`); everything
else lives here, once:

* D_T / D_V: the thesis split of the training set (:class:`~nas_gym.supernets.proxy_task.ProxyTask`,
  Mills 2020, Sec. 3.4.1); every step sees one D_T batch and one D_V batch, as
  DARTS' search loop does (Liu et al. 2019, Alg. 1).
* Exact resume: every epoch ends with an atomic checkpoint (trainer state: supernet,
  architecture parameters, optimizers, schedules; the data order; every RNG), and a
  killed run continues to the same final state as an uninterrupted one.
* Outputs, all written atomically every epoch: ``history.csv`` (one row per epoch:
  losses, the derived architecture and its score), ``genotype.json`` and
  ``genotype.txt`` (the derived architecture; for the DARTS space a ``Genotype(...)``
  string that ``nas-gym train-genotype`` and ``DARTSSupernet-v0`` accept).
"""

from __future__ import annotations

import csv
import io
import json
import os
import random
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from nas_gym.data import atomic_write_text
from nas_gym.safe_pickle import load_checkpoint
from nas_gym.spaces import darts as darts_space
from nas_gym.supernets import datasets as ds
from nas_gym.supernets.pretrain import (
    CheckpointMismatchError,
    _canonical,
    _save,
    check_finite_loss,
    check_sgd_config,
    refuse_changed_resume,
)

CHECKPOINT_FORMAT = "nas_gym.oneshot_checkpoint/1"
CHECKPOINT_NAME = "last.pt"
HISTORY_NAME = "history.csv"
GENOTYPE_JSON = "genotype.json"
GENOTYPE_TXT = "genotype.txt"
#: Config fields that may change between a run and its resumption.
_RESUMABLE_FIELDS = ("device", "log_every", "progress")


@dataclass
class SearchConfig:
    """Options every one-shot searcher shares (defaults: DARTS' search, Liu et al. 2019, Sec. 3.1).

    Attributes:
        epochs: passes over D_T (DARTS: 50; the cosine schedule spans all of them).
        batch_size: D_T and D_V minibatch size (DARTS: 64).
        lr: initial SGD learning rate of the weights w (DARTS: 0.025).
        lr_min: final learning rate of the cosine schedule (DARTS: 0.001).
        momentum: SGD momentum of w.
        weight_decay: L2 penalty on w (DARTS: 3e-4).
        grad_clip: gradient-norm clip of w (0 = off; DARTS: 5).
        seed: seeds the data order, the augmentation and the searcher's own sampling.
        device: ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
        max_batches: stop each epoch after this many steps (None = a whole pass over D_T).
        pad: random-crop padding of D_T batches (0 = off).
        flip: random horizontal flips of D_T batches.
        cutout: cutout length on D_T batches (0 = off).
        log_every: update the progress bar's losses every this many steps.
    """

    epochs: int = 50
    batch_size: int = 64
    lr: float = 0.025
    lr_min: float = 0.001
    momentum: float = 0.9
    weight_decay: float = 3e-4
    grad_clip: float = 5.0
    seed: int = 0
    device: str = "cpu"
    max_batches: int | None = None
    pad: int = 0
    flip: bool = False
    cutout: int = 0
    log_every: int = 10

    def __post_init__(self) -> None:
        check_sgd_config(self, "SearchConfig")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SearchConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def _check_positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


@dataclass
class SearchRNG:
    """The searcher's own random streams, seeded from ``SearchConfig.seed``; all checkpointed.

    Library code never touches the global RNGs: a trainer draws from these
    (``torch`` for relaxed samples on CPU, ``numpy`` and ``python`` for anything else).
    """

    torch: torch.Generator
    numpy: np.random.Generator
    python: random.Random

    @classmethod
    def from_seed(cls, seed: int) -> SearchRNG:
        a, b, c = np.random.SeedSequence([int(seed), 11]).spawn(3)
        return cls(
            torch.Generator().manual_seed(int(a.generate_state(1)[0])),
            np.random.default_rng(b),
            random.Random(int(c.generate_state(1)[0])),
        )

    def state(self) -> dict[str, Any]:
        return {
            "torch": self.torch.get_state(),
            "numpy": self.numpy.bit_generator.state,
            "python": _canonical(self.python.getstate()),
        }

    def set_state(self, state: dict[str, Any]) -> None:
        self.torch.set_state(state["torch"])
        self.numpy.bit_generator.state = state["numpy"]
        version, internal, gauss = state["python"]
        self.python.setstate((version, tuple(internal), gauss))


Batch = tuple[torch.Tensor, torch.Tensor]


class OneShotTrainer(ABC):
    """One one-shot searcher, as :func:`run_search` drives it.

    Subclasses hold the supernet, the architecture parameters and their optimizers;
    :attr:`name` and :meth:`hparams` identify the run (a resume with other values is
    refused).
    """

    name: str = "oneshot"
    space: str = "darts"

    @abstractmethod
    def hparams(self) -> dict[str, Any]:
        """The searcher's own hyperparameters (JSON-like), stored and checked on resume."""

    @abstractmethod
    def step(self, train: Batch, valid: Batch, rng: SearchRNG) -> dict[str, float]:
        """One search step on a D_T batch and a D_V batch; returns its scalar metrics
        (at least ``"train_loss"``)."""

    def end_epoch(self) -> None:  # noqa: B027 (optional hook, not abstract)
        """Called after each epoch (e.g. to advance learning-rate schedules)."""

    @abstractmethod
    def derive(self) -> dict[str, Any]:
        """The architecture the search has found so far: ``{"genotype": str, "alpha": list,
        ...}`` (``genotype``: a DARTS ``Genotype(...)`` string or a ProxylessNAS arch string)."""

    @abstractmethod
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue exactly (tensors, numbers, strings, containers)."""

    @abstractmethod
    def load_state_dict(self, state: dict[str, Any]) -> None: ...


def weight_optimizer(
    params: Any, config: SearchConfig
) -> tuple[torch.optim.SGD, torch.optim.lr_scheduler.CosineAnnealingLR]:
    """SGD with momentum on the weights w and its cosine schedule over ``config.epochs``
    (DARTS and UNAS both train w this way)."""
    optimizer = torch.optim.SGD(
        params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay
    )
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
        optimizer, T_max=config.epochs, eta_min=config.lr_min
    )
    return optimizer, scheduler


def darts_genotype(alpha: np.ndarray | torch.Tensor, with_none: bool = False) -> dict[str, Any]:
    """The DARTS cell of continuous ``alpha`` by the env's Algorithm 2 (Mills 2020), as
    :meth:`OneShotTrainer.derive` returns it: genotype string, alpha_d and alpha."""
    if isinstance(alpha, torch.Tensor):
        alpha = alpha.detach().cpu().numpy()
    alpha = np.asarray(alpha, dtype=np.float64)
    alpha_d = darts_space.discretize(alpha, with_none)
    genotype = darts_space.genotype_to_str(darts_space.to_genotype(alpha_d))
    return {
        "space": "darts",
        "genotype": genotype,
        "with_none": bool(with_none),
        "alpha": alpha.tolist(),
        "alpha_d": alpha_d.astype(int).tolist(),
    }


def _cycle(loader: DataLoader) -> Iterator[Batch]:
    while True:
        yield from loader


def _write_history(path: Path, history: list[dict[str, Any]]) -> None:
    columns: list[str] = []
    for row in history:
        columns += [k for k in row if k not in columns]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(history)
    atomic_write_text(path, buffer.getvalue())


def read_search_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load a one-shot search checkpoint (``weights_only``: never runs code from the file)."""
    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT_NAME
    state = load_checkpoint(path, map_location="cpu")
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointMismatchError(
            f"{str(path)!r} is not a nas_gym one-shot search checkpoint (format {CHECKPOINT_FORMAT!r})"
        )
    return state


def run_search(
    trainer: OneShotTrainer,
    d_train: Dataset,
    d_valid: Dataset,
    config: SearchConfig,
    out: str | os.PathLike[str],
    fingerprint: dict[str, Any],
    scorer: Callable[[dict[str, Any]], dict[str, float]] | None = None,
    progress: bool = True,
    stop_after: int | None = None,
) -> dict[str, Any]:
    """Run ``trainer`` for ``config.epochs`` epochs, checkpointing and resuming in ``out``.

    Args:
        trainer: the searcher (its modules already on ``config.device``).
        d_train, d_valid: D_T (weights) and D_V (architecture), e.g. a
            :class:`~nas_gym.supernets.proxy_task.ProxyTask`'s halves.
        config: shared options.
        out: output directory: ``last.pt`` (an existing one is resumed),
            ``history.csv``, ``genotype.json``, ``genotype.txt``.
        fingerprint: JSON-like description of the supernet and data; checked on resume.
        scorer: called at the end of every epoch with :meth:`OneShotTrainer.derive`'s
            dict; its metrics (e.g. the derived cell's validation accuracy) join the
            epoch's history row.
        progress: a tqdm bar per epoch (a line per epoch is printed either way).
        stop_after: return after this many epochs of this call (for time-limited job
            slots; run again with the same arguments to continue).

    Returns:
        The final derived architecture (what ``genotype.json`` holds).
    """
    from nas_gym.progress import progress_bar

    if not isinstance(config, SearchConfig):
        raise ValueError(f"config must be a SearchConfig, got {type(config).__name__}")
    for part, data in (("D_T", d_train), ("D_V", d_valid)):
        if len(data) < config.batch_size:
            raise ValueError(
                f"{part} has {len(data)} images, fewer than one batch of {config.batch_size}; "
                "lower the batch size or use a larger train fraction / dataset"
            )
    device = ds.resolve_device(config.device)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"output directory {str(out)!r} is a file; give a directory")
    out.mkdir(parents=True, exist_ok=True)
    if not os.access(out, os.W_OK):
        raise ValueError(f"output directory {str(out)!r} is not writable")
    path = out / CHECKPOINT_NAME
    seeds = np.random.SeedSequence(config.seed).spawn(3)
    train_loader = ds.make_loader(
        d_train, config.batch_size, True, int(seeds[0].generate_state(1)[0]), drop_last=True
    )
    valid_loader = ds.make_loader(
        d_valid, config.batch_size, True, int(seeds[1].generate_state(1)[0]), drop_last=True
    )
    aug_gen = torch.Generator().manual_seed(int(seeds[2].generate_state(1)[0]))
    rng = SearchRNG.from_seed(config.seed)
    identity = {
        "trainer": trainer.name,
        "space": trainer.space,
        **{f"hparams.{k}": v for k, v in trainer.hparams().items()},
        **{f"fingerprint.{k}": v for k, v in fingerprint.items()},
    }  # flat, so a refused resume names each differing setting
    start_epoch, history = 0, []
    if path.is_file():
        state = read_search_checkpoint(path)
        refuse_changed_resume(
            path,
            (state["identity"], identity),
            (state["config"], asdict(config)),
            _RESUMABLE_FIELDS,
            "output directory",
        )
        trainer.load_state_dict(state["trainer"])
        rng.set_state(state["rng"]["search"])
        aug_gen.set_state(state["rng"]["augment"])
        train_loader.generator.set_state(state["rng"]["train_loader"])
        valid_loader.generator.set_state(state["rng"]["valid_loader"])
        start_epoch, history = int(state["epoch"]), list(state["history"])
        print(f"resuming {path} at epoch {start_epoch}/{config.epochs}", flush=True)

    augment = bool(config.pad or config.flip or config.cutout)
    total = (
        len(train_loader)
        if config.max_batches is None
        else min(len(train_loader), config.max_batches)
    )
    derived = trainer.derive()
    if stop_after is not None:
        _check_positive_int("stop_after", stop_after)
    end_epoch = (
        config.epochs if stop_after is None else min(config.epochs, start_epoch + stop_after)
    )
    for epoch in range(start_epoch, end_epoch):
        bar = progress_bar(
            total=total,
            desc=f"{trainer.name} epoch {epoch + 1}/{config.epochs}",
            disable=not progress,
            leave=False,
        )
        valid_iter = _cycle(valid_loader)
        sums: dict[str, float] = {}
        for i, (x, y) in enumerate(train_loader):
            if i >= total:
                break
            x, y = x.to(device), y.to(device)
            if augment:
                x = ds.augment_batch(
                    x, aug_gen, pad=config.pad, flip=config.flip, cutout=config.cutout
                )
            xv, yv = next(valid_iter)
            metrics = trainer.step((x, y), (xv.to(device), yv.to(device)), rng)
            check_finite_loss(metrics["train_loss"], f"epoch {epoch + 1}, step {i + 1}", config.lr)
            for k, v in metrics.items():
                sums[k] = sums.get(k, 0.0) + float(v)
            bar.update(1)
            if (i + 1) % config.log_every == 0:
                bar.set_postfix({k: f"{v / (i + 1):.3f}" for k, v in sums.items()})
        bar.close()
        del valid_iter  # a fresh D_V pass each epoch: its order is part of the loader's state
        trainer.end_epoch()
        derived = {**trainer.derive(), "epoch": epoch + 1, "trainer": trainer.name}
        row: dict[str, Any] = {"epoch": epoch + 1, **{k: v / total for k, v in sums.items()}}
        if scorer is not None:
            row.update(scorer(derived))
        row["genotype"] = derived["genotype"]
        history.append(row)
        _write_history(out / HISTORY_NAME, history)
        atomic_write_text(out / GENOTYPE_JSON, json.dumps(derived, indent=1) + "\n")
        atomic_write_text(out / GENOTYPE_TXT, derived["genotype"] + "\n")
        _save(
            path,
            {
                "format": CHECKPOINT_FORMAT,
                "identity": _canonical(identity),
                "config": asdict(config),
                "epoch": epoch + 1,
                "trainer": trainer.state_dict(),
                "rng": {
                    "search": rng.state(),
                    "augment": aug_gen.get_state(),
                    "train_loader": train_loader.generator.get_state(),
                    "valid_loader": valid_loader.generator.get_state(),
                },
                "history": history,
                "derived": derived,
            },
        )
        scores = ", ".join(f"{k} {v:.4g}" for k, v in row.items() if k not in ("epoch", "genotype"))
        print(
            f"{trainer.name} epoch {epoch + 1}/{config.epochs}: {scores}; saved {path}", flush=True
        )
    if not path.is_file():
        raise RuntimeError(f"no checkpoint written to {str(path)!r}")
    return read_search_checkpoint(path)["derived"] if start_epoch >= end_epoch else derived


def module_state(module: nn.Module) -> dict[str, torch.Tensor]:
    """A module's state dict with tensors detached on CPU (for checkpoints)."""
    return {k: v.detach().cpu() for k, v in module.state_dict().items()}
