"""Supernet pre-training by uniform single-path sampling, with checkpoint and resume.

Mills (2020, Sec. 4.1.3): for every minibatch draw one architecture uniformly
(``sample_discrete(rng)``, e.g. Algorithm 2 applied to ``alpha ~ U(0, 1)``) and train
only its path with SGD + momentum under a cosine learning rate (0.025 -> 0.001,
Sec. 4.4.2). With ``sample_discrete=None`` the loop trains the full mixed-op
supernet instead (the DDAS warm-up, Sec. 3.2.1).

The loop knows nothing about the search space: any supernet with
``forward(x, alpha_d)`` works (DARTS, MobileNetV2, ...). It checkpoints every
epoch atomically (weights, optimizer, scheduler, epoch and every RNG state it
uses) and resumes from the last checkpoint, so a killed run continues where it
stopped and ends in the same state as an uninterrupted one.
"""

from __future__ import annotations

import io
import json
import math
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from nas_gym.data import atomic_write_bytes
from nas_gym.safe_pickle import load_checkpoint
from nas_gym.supernets.datasets import augment_batch, resolve_device

CHECKPOINT_FORMAT = "nas_gym.supernet_checkpoint/1"
CHECKPOINT_NAME = "last.pt"
#: Largest accepted SGD learning rate: far above any published supernet schedule (<= 0.1-1).
MAX_LR = 10.0

#: Config fields that may change between a run and its resumption.
_RESUMABLE_FIELDS = ("device", "log_every")


def check_sgd_config(config: Any, owner: str) -> None:
    """Validate the SGD-training fields shared by :class:`PretrainConfig` and the
    one-shot searchers' ``SearchConfig``; errors name ``owner.field`` and the bad value."""
    for name in ("epochs", "batch_size", "log_every"):
        value = getattr(config, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{owner}.{name} must be a positive integer, got {value!r}")
    value = config.max_batches
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ValueError(
            f"{owner}.max_batches must be a positive integer, got {value!r} "
            "(leave it unset to use every batch)"
        )
    for name in ("lr", "lr_min", "momentum", "weight_decay", "grad_clip"):
        value = getattr(config, name)
        if (
            not isinstance(value, (int, float))
            or isinstance(value, bool)
            or not np.isfinite(value)
            or value < 0
        ):
            raise ValueError(f"{owner}.{name} must be a finite number >= 0, got {value!r}")
    if not 0 < config.lr <= MAX_LR:
        raise ValueError(
            f"{owner}.lr must be in (0, {MAX_LR}] (SGD diverges far below that), got {config.lr!r}"
        )
    if config.lr_min > config.lr:
        raise ValueError(
            f"{owner}.lr_min ({config.lr_min!r}) must be <= lr ({config.lr!r}): the cosine "
            "schedule decays from lr to lr_min"
        )
    if not config.momentum < 1:
        raise ValueError(f"{owner}.momentum must be in [0, 1), got {config.momentum!r}")
    for name in ("pad", "cutout"):
        value = getattr(config, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{owner}.{name} must be an integer >= 0, got {value!r}")


class CheckpointMismatchError(ValueError):
    """A checkpoint was built for another search space, supernet or data configuration."""


@dataclass
class PretrainConfig:
    """Hyperparameters of supernet pre-training (defaults: Mills 2020, Sec. 4.4.2).

    Attributes:
        epochs: passes over D_T (the thesis: 10,000 on CIFAR-10; cosine over all of them).
        batch_size: minibatch size; must equal the loader's (the thesis: 250).
        lr: initial SGD learning rate.
        lr_min: final learning rate of the cosine schedule.
        momentum: SGD momentum.
        weight_decay: L2 penalty.
        grad_clip: gradient-norm clip (0 = off), as in DARTS.
        seed: seeds the architecture sampler and the batch augmentation.
        device: ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
        log_every: update the progress bar every this many batches; without a bar, print a line every this many epochs.
        pad: random-crop padding of the batch augmentation (0 = off; CIFAR: 4).
        flip: random horizontal flips in the batch augmentation.
        cutout: cutout length of the batch augmentation (0 = off; CIFAR-10: 16).
        max_batches: stop each epoch after this many batches (None = the whole loader).
    """

    epochs: int = 1
    batch_size: int = 64
    lr: float = 0.025
    lr_min: float = 0.001
    momentum: float = 0.9
    weight_decay: float = 3e-4
    grad_clip: float = 5.0
    seed: int = 0
    device: str = "cpu"
    log_every: int = 50
    pad: int = 0
    flip: bool = False
    cutout: int = 0
    max_batches: int | None = None

    def __post_init__(self) -> None:
        check_sgd_config(self, "PretrainConfig")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PretrainConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def _canonical(value: Any) -> Any:
    """JSON round trip, so tuples and lists (and int vs float keys) compare alike."""
    return json.loads(json.dumps(value, sort_keys=True, default=str))


def _differences(
    found: dict[str, Any], expected: dict[str, Any], skip: tuple[str, ...] = ()
) -> list[str]:
    found, expected = _canonical(found), _canonical(expected)
    out = []
    for key in sorted(set(found) | set(expected)):
        if key in skip:
            continue
        if found.get(key, "<absent>") != expected.get(key, "<absent>"):
            out.append(
                f"{key}: checkpoint has {found.get(key, '<absent>')!r}, expected {expected.get(key, '<absent>')!r}"
            )
    return out


def refuse_changed_resume(
    path: Path,
    identity: tuple[dict[str, Any], dict[str, Any]],
    config: tuple[dict[str, Any], dict[str, Any]],
    resumable: tuple[str, ...],
    where: str,
) -> None:
    """Refuse to resume ``path`` when its (stored, requested) identity or config differ.

    Config fields in ``resumable`` may change between a run and its resumption; every
    other difference is named in the error, so the user sees which setting changed.
    """
    diffs = _differences(*identity) + _differences(*config, skip=resumable)
    if diffs:
        raise CheckpointMismatchError(
            f"cannot resume {str(path)!r}: it was made with another configuration ("
            + "; ".join(diffs)
            + f"). Use a new {where} or the original settings."
        )


class TrainingDivergedError(ValueError):
    """A training loss became NaN or infinite; training stopped instead of saving NaN weights."""


def check_finite_loss(loss: float, step: str, lr: float) -> None:
    """Stop training at the first non-finite loss, naming where and the learning rate."""
    if not math.isfinite(loss):
        raise TrainingDivergedError(
            f"training diverged: the loss is {loss} at {step} with learning rate {lr:g}; "
            "lower the learning rate (or enable gradient clipping) and start again"
        )


def nonfinite_tensors(state: dict[str, Any]) -> list[str]:
    """Names of floating-point tensors in a state dict holding NaN or infinity."""
    return [
        name
        for name, value in state.items()
        if isinstance(value, torch.Tensor)
        and value.is_floating_point()
        and not bool(torch.isfinite(value).all())
    ]


def read_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load a checkpoint file written by :func:`pretrain_supernet` (tensors on CPU).

    Loaded with ``weights_only=True`` (:func:`nas_gym.safe_pickle.load_checkpoint`), so
    a file from elsewhere cannot run code; weights holding NaN/inf are refused.
    """
    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT_NAME
    if not path.is_file():
        raise FileNotFoundError(
            f"supernet checkpoint {str(path)!r} not found; create one with "
            "`nas-gym supernet pretrain --out DIR` (it writes DIR/last.pt)"
        )
    state = load_checkpoint(path, map_location="cpu")
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointMismatchError(
            f"{str(path)!r} is not a nas_gym supernet checkpoint (format {CHECKPOINT_FORMAT!r})"
        )
    model = state.get("model")
    bad = nonfinite_tensors(model) if isinstance(model, dict) else []
    if bad:
        raise CheckpointMismatchError(
            f"{str(path)!r} holds NaN or infinite weights ({', '.join(bad[:3])}"
            f"{', ...' if len(bad) > 3 else ''}): the training that wrote it diverged; "
            "retrain with a lower learning rate"
        )
    return state


def load_supernet_checkpoint(
    path: str | os.PathLike[str], supernet: nn.Module, fingerprint: dict[str, Any]
) -> dict[str, Any]:
    """Load pre-trained weights into ``supernet`` after checking what they were built for.

    Args:
        path: a checkpoint file, or the directory holding ``last.pt``.
        supernet: the module to fill (same architecture as the one trained).
        fingerprint: what this caller expects (search space, supernet config, dataset, split).

    Returns:
        The checkpoint dict (``epoch``, ``config``, ``history``, ...).

    Raises:
        CheckpointMismatchError: the checkpoint's fingerprint differs; the message names
            every differing key with both values.
    """
    state = read_checkpoint(path)
    diffs = _differences(state["fingerprint"], fingerprint)
    if diffs:
        raise CheckpointMismatchError(
            f"checkpoint {str(path)!r} was built for another configuration: " + "; ".join(diffs)
        )
    supernet.load_state_dict(state["model"])
    return state


def init_parameters(module: nn.Module, seed: int) -> nn.Module:
    """Re-draw PyTorch's default initialisation of every conv, linear and BN layer from a local generator.

    Module constructors draw from torch's global RNG; re-initialising from ``seed``
    makes a supernet's starting weights reproducible without seeding global state.
    """
    generator = torch.Generator().manual_seed(int(seed))
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)):
                weight = m.weight
                nn.init.kaiming_uniform_(weight, a=math.sqrt(5), generator=generator)
                if m.bias is not None:
                    fan_in = weight[0].numel()
                    bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
                    nn.init.uniform_(m.bias, -bound, bound, generator=generator)
            elif isinstance(m, nn.modules.batchnorm._NormBase):
                m.reset_parameters()
    return module


def forward_logits(
    supernet: nn.Module, x: torch.Tensor, alpha_d: np.ndarray | None
) -> torch.Tensor:
    """Logits of one path (``alpha_d``) or of the mixed supernet (``alpha_d=None``)."""
    out = supernet.forward_mixed(x) if alpha_d is None else supernet(x, alpha_d)
    return out[0] if isinstance(out, tuple) else out


def train_step(
    supernet: nn.Module,
    optimizer: torch.optim.Optimizer,
    x: torch.Tensor,
    y: torch.Tensor,
    alpha_d: np.ndarray | None,
    grad_clip: float = 0.0,
) -> tuple[float, int]:
    """One SGD step on one path; returns (summed loss, number correct) of the batch.

    Gradients are reset to None, so parameters off the path get no update at all
    (no momentum, no weight decay): only the sampled architecture is trained.
    """
    logits = forward_logits(supernet, x, alpha_d)
    loss = nn.functional.cross_entropy(logits, y)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if grad_clip:
        nn.utils.clip_grad_norm_(supernet.parameters(), grad_clip)
    optimizer.step()
    return float(loss.detach()) * len(y), int((logits.detach().argmax(1) == y).sum())


def _save(path: Path, payload: dict[str, Any]) -> None:
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def pretrain_supernet(
    supernet: nn.Module,
    sample_discrete: Callable[[np.random.Generator], np.ndarray] | None,
    train_loader: DataLoader,
    config: PretrainConfig,
    checkpoint_dir: str | os.PathLike[str],
    fingerprint: dict[str, Any],
    progress: bool = True,
) -> Path:
    """Train ``supernet`` by uniform single-path sampling; checkpoint and resume every epoch.

    Args:
        supernet: module with ``forward(x, alpha_d)`` (and ``forward_mixed(x)`` when
            ``sample_discrete`` is None).
        sample_discrete: draws one discrete architecture per minibatch from the given
            generator; None trains all ops at once (mixed warm-up).
        train_loader: D_T loader; it must shuffle with its own generator (see
            :func:`nas_gym.supernets.datasets.make_loader`) so the data order resumes too.
        config: hyperparameters.
        checkpoint_dir: where ``last.pt`` goes; an existing ``last.pt`` is resumed.
        fingerprint: JSON-like dict naming what is trained (space, supernet config,
            dataset, split); stored in the checkpoint and checked on resume and load.
        progress: show a tqdm bar and a line per epoch (without it: a line every
            ``log_every`` epochs and at the end; a resume is always reported).

    Returns:
        Path of the final checkpoint (``checkpoint_dir/last.pt``).
    """
    from nas_gym.progress import progress_bar

    if not isinstance(config, PretrainConfig):
        raise ValueError(f"config must be a PretrainConfig, got {type(config).__name__}")
    if train_loader.batch_size != config.batch_size:
        raise ValueError(
            f"train_loader.batch_size is {train_loader.batch_size} but config.batch_size is {config.batch_size}"
        )
    if train_loader.generator is None:
        raise ValueError(
            "train_loader has no generator: build it with nas_gym.supernets.datasets.make_loader "
            "(or DataLoader(generator=torch.Generator().manual_seed(s))) so the data order can resume"
        )
    device = resolve_device(config.device)
    checkpoint_dir = Path(checkpoint_dir)
    path = checkpoint_dir / CHECKPOINT_NAME

    supernet.to(device)
    optimizer = torch.optim.SGD(
        supernet.parameters(),
        lr=config.lr,
        momentum=config.momentum,
        weight_decay=config.weight_decay,
    )
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
        optimizer, T_max=config.epochs, eta_min=config.lr_min
    )
    seeds = np.random.SeedSequence(config.seed).spawn(2)
    arch_rng = np.random.default_rng(seeds[0])
    aug_gen = torch.Generator().manual_seed(int(seeds[1].generate_state(1)[0]))
    start_epoch, history = 0, []

    if path.is_file():
        state = read_checkpoint(path)
        refuse_changed_resume(
            path,
            (state["fingerprint"], fingerprint),
            (state["config"], asdict(config)),
            _RESUMABLE_FIELDS,
            "checkpoint directory",
        )
        supernet.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        arch_rng.bit_generator.state = state["rng"]["arch"]
        aug_gen.set_state(state["rng"]["augment"])
        train_loader.generator.set_state(state["rng"]["loader"])
        start_epoch, history = int(state["epoch"]), list(state["history"])
        print(f"resuming {path} at epoch {start_epoch}/{config.epochs}", flush=True)

    augment = bool(config.pad or config.flip or config.cutout)
    for epoch in range(start_epoch, config.epochs):
        supernet.train()
        total = (
            len(train_loader)
            if config.max_batches is None
            else min(len(train_loader), config.max_batches)
        )
        bar = progress_bar(
            total=total,
            desc=f"epoch {epoch + 1}/{config.epochs}",
            disable=not progress,
            leave=False,
        )
        loss_sum, correct, seen = 0.0, 0, 0
        for i, (x, y) in enumerate(train_loader):
            if i >= total:
                break
            alpha_d = sample_discrete(arch_rng) if sample_discrete is not None else None
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            if augment:
                x = augment_batch(
                    x, aug_gen, pad=config.pad, flip=config.flip, cutout=config.cutout
                )
            batch_loss, batch_correct = train_step(
                supernet, optimizer, x, y, alpha_d, config.grad_clip
            )
            check_finite_loss(
                batch_loss,
                f"epoch {epoch + 1}, batch {i + 1}",
                optimizer.param_groups[0]["lr"],
            )
            loss_sum += batch_loss
            correct += batch_correct
            seen += len(y)
            bar.update(1)
            if (i + 1) % config.log_every == 0:
                bar.set_postfix(loss=f"{loss_sum / seen:.3f}", acc=f"{100 * correct / seen:.1f}")
        bar.close()
        scheduler.step()
        history.append(
            {
                "epoch": epoch + 1,
                "train_loss": loss_sum / max(seen, 1),
                "train_acc": 100.0 * correct / max(seen, 1),
            }
        )
        _save(
            path,
            {
                "format": CHECKPOINT_FORMAT,
                "fingerprint": _canonical(fingerprint),
                "config": asdict(config),
                "epoch": epoch + 1,
                "model": supernet.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "rng": {
                    "arch": arch_rng.bit_generator.state,
                    "augment": aug_gen.get_state(),
                    "loader": train_loader.generator.get_state(),
                },
                "history": history,
            },
        )
        if progress or (epoch + 1) % config.log_every == 0 or epoch + 1 == config.epochs:
            h = history[-1]
            print(
                f"epoch {epoch + 1}/{config.epochs}: train loss {h['train_loss']:.4f}, "
                f"train acc {h['train_acc']:.2f}%, saved {path}",
                flush=True,
            )
    if not path.is_file():  # epochs already done and no checkpoint: nothing was trained
        raise RuntimeError(f"no checkpoint written to {str(path)!r}")
    return path


def pretrain_fingerprint(
    space: str,
    supernet: dict[str, Any],
    dataset: str,
    resolution: int | None,
    train_fraction: float,
    split_seed: int,
    sampling: str = "uniform",
    **space_fields: Any,
) -> dict[str, Any]:
    """What a supernet checkpoint was trained for; an environment refuses any other.

    The D_T/D_V split is part of it: a checkpoint trained on another D_T may have seen
    this D_V. ``sampling`` is ``"uniform"`` (single paths, CADAM) or ``"mixed"`` (all
    ops, the DDAS warm-up); ``space_fields`` are the space's own options (``with_none``).
    """
    return {
        "space": space,
        "sampling": sampling,
        **space_fields,
        "supernet": dict(supernet),
        "dataset": dataset,
        "resolution": resolution,
        "train_fraction": float(train_fraction),
        "split_seed": int(split_seed),
    }


def build_proxyless(args: Any, num_classes: int, in_channels: int) -> tuple[nn.Module, Any, dict]:
    """Builder for ``nas-gym supernet pretrain --space proxyless``: the MobileNetV2
    supernet, its uniform path sampler and the fingerprint ``ProxylessNAS-v0`` expects."""
    from nas_gym.spaces.proxyless import UniformPath
    from nas_gym.supernets.mobilenet import ProxylessSupernet

    if in_channels != 3:
        raise ValueError(f"the MobileNetV2 supernet takes RGB images, got {in_channels} channels")
    width = float(getattr(args, "width_mult", 1.0))
    net = ProxylessSupernet(num_classes=num_classes, width_mult=width)
    fingerprint = proxyless_fingerprint(
        width, num_classes, args.dataset, args.resolution, args.train_fraction, args.split_seed
    )
    return net, UniformPath(), fingerprint


def proxyless_fingerprint(
    width_mult: float,
    num_classes: int,
    dataset: str,
    resolution: int | None,
    train_fraction: float,
    split_seed: int,
) -> dict[str, Any]:
    """:func:`pretrain_fingerprint` of a MobileNetV2 supernet (what ``ProxylessNAS-v0`` checks)."""
    supernet = {"width_mult": float(width_mult), "num_classes": int(num_classes)}
    return pretrain_fingerprint(
        "proxyless", supernet, dataset, resolution, train_fraction, split_seed
    )


def darts_fingerprint(
    supernet_config: dict[str, Any],
    with_none: bool,
    dataset: str,
    resolution: int | None,
    train_fraction: float,
    split_seed: int,
    sampling: str = "uniform",
) -> dict[str, Any]:
    """:func:`pretrain_fingerprint` of a DARTS supernet (what ``DARTSSupernet-v0`` checks)."""
    return pretrain_fingerprint(
        "darts",
        supernet_config,
        dataset,
        resolution,
        train_fraction,
        split_seed,
        sampling,
        with_none=bool(with_none),
    )
