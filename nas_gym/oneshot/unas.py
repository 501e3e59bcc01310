"""UNAS one-shot search (Vahdat et al., "UNAS: Differentiable Architecture Search Meets
Reinforcement Learning", CVPR 2020) on the DARTS and ProxylessNAS supernets.

UNAS keeps a factorised categorical p_phi(z) over architectures
(:mod:`nas_gym.oneshot.unas_dist`) and trains it jointly with the supernet weights w:

* **w** (training split D_T): SGD on the cross-entropy of the supernet run with the
  step's relaxed sample zeta (detached) as op weights, per example
  (:meth:`~nas_gym.supernets.darts.DARTSSupernet.forward_weighted`), so the supernet
  learns on the same relaxed architectures the search explores (UNAS Sec. 3.3).
* **phi** (validation split D_V): Adam on the generalisation-gap objective
  ``L_g(z) = L_train(z) + lambda |L_val(z) - L_train(z)|`` (lambda = 0.5, UNAS Eq. 7),
  taken per example (example b of the train and of the validation batch share sample b),
  with REBAR: the control variate is the same loss on the relaxed architecture,
  ``(L_g(z) - L_g(zeta~)) d log p(z) + d L_g(zeta) - d L_g(zeta~)``
  (:func:`~nas_gym.agents.unas.estimators.score_function_objective`).
* **latency** (ProxylessNAS, optional target t): the hinge ``lambda_t max(0, LAT(z) - t)``
  with LAT from a lookup table (``pixel1`` by default) is not differentiable, so it goes
  through RELAX with a linear surrogate g(zeta) fitted once by ridge regression on
  architectures from the initial distribution (UNAS Sec. 3.2). A table latency is a sum
  over layers, so the linear g is exact up to float error; lambda_t ramps linearly from
  0 to ``latency_coeff`` over the first ``latency_ramp`` of the search (UNAS: 0.1 over
  30,000 of about 90,000 ImageNet steps).

Deviations, each for a stated reason: nas_gym's DARTS op set (``dil_conv_5x5``, no
``sep_conv_7x7``) and distinct node inputs, so the result trains with ``nas-gym
train-genotype``; SGD for w (the DARTS/nas_gym supernet recipe; UNAS used Adam); the
latency term uses the same per-example samples as the REBAR term instead of a separate
sample; UNAS' L_arch is zero on every z here (distinct inputs) and is left out.

Each epoch ends with an atomic checkpoint (weights, both optimizers, schedulers, every
RNG and data-order state, history) in ``out/last.pt``; rerunning the same command
resumes it and ends bit-identical to an uninterrupted run. The current most likely
architecture is written atomically every epoch (``genotype.txt`` for DARTS, readable by
``nas-gym train-genotype``; ``arch.txt`` for ProxylessNAS, readable by
``ProxylessNAS-v0``), with ``history.json``.
"""

from __future__ import annotations

import io
import json
import math
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from nas_gym.agents.unas.estimators import score_function_objective
from nas_gym.data import atomic_write_bytes, atomic_write_text
from nas_gym.oneshot.unas_dist import ArchSample, FactorizedCell, LayerCategorical
from nas_gym.safe_pickle import load_checkpoint
from nas_gym.spaces import proxyless as proxyless_space

CHECKPOINT_FORMAT = "nas_gym.unas_checkpoint/1"
CHECKPOINT_NAME = "last.pt"
SPACES: tuple[str, ...] = ("darts", "proxyless")
#: Config fields that may differ between a run and its resumption.
_RESUMABLE = ("device",)


class ResumeMismatchError(ValueError):
    """``out/last.pt`` was written by a run with other settings."""


@dataclass
class UNASConfig:
    """UNAS search settings (defaults: UNAS' CIFAR-10 recipe where it applies).

    Attributes:
        space: ``"darts"`` (factorised cell) or ``"proxyless"`` (one op per layer).
        epochs: passes over D_T; the first ``warmup_epochs`` train w only (UNAS: 15 of 100).
        batch_size: minibatch of D_T and of D_V.
        train_fraction: D_T share of the training set (UNAS: 0.9).
        tau: Gumbel-softmax temperature (0.4).
        gap_lambda: lambda of L_train + lambda |L_val - L_train| (0.5).
        arch_lr, arch_lr_min, arch_weight_decay: Adam on phi, cosine (1e-3 -> 3e-4, 1e-6).
        lr, lr_min, momentum, weight_decay, grad_clip: SGD on w, cosine.
        per_example: one architecture per example (UNAS' DARTS default) or one per
            minibatch (its ProxylessNAS setting); None = that per-space default.
        soften_eps: ProxylessNAS softening epsilon (0.08).
        lut: latency table (``"pixel1"``, ``"cpu"``, ``"cuda"`` or a path).
        latency_target: t in ms; None = no latency term (ProxylessNAS only).
        latency_coeff: final lambda_t (0.1 per ms, in cross-entropy units).
        latency_ramp: share of the search steps over which lambda_t ramps up.
        surrogate_samples: architectures for the ridge fit of g (UNAS: 10,000).
        eval_batches: D_V batches to score the most likely architecture each epoch.
        max_batches: stop each epoch after this many batches (None = all of D_T).
        seed: seeds the samples, the data order and the weight initialisation.
        device: ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
    """

    space: str = "darts"
    epochs: int = 10
    warmup_epochs: int = 0
    batch_size: int = 32
    train_fraction: float = 0.9
    tau: float = 0.4
    gap_lambda: float = 0.5
    arch_lr: float = 1e-3
    arch_lr_min: float = 3e-4
    arch_weight_decay: float = 1e-6
    lr: float = 0.025
    lr_min: float = 0.001
    momentum: float = 0.9
    weight_decay: float = 3e-4
    grad_clip: float = 5.0
    per_example: bool | None = None
    soften_eps: float = 0.08
    lut: str = "pixel1"
    latency_target: float | None = None
    latency_coeff: float = 0.1
    latency_ramp: float = 1 / 3
    surrogate_samples: int = 10_000
    eval_batches: int = 4
    max_batches: int | None = None
    seed: int = 0
    device: str = "cpu"

    def __post_init__(self) -> None:
        if self.space not in SPACES:
            raise ValueError(f"space must be one of {', '.join(SPACES)}, got {self.space!r}")
        for name in ("epochs", "batch_size", "surrogate_samples", "eval_batches"):
            _check_int(name, getattr(self, name), 1)
        _check_int("warmup_epochs", self.warmup_epochs, 0)
        if self.warmup_epochs >= self.epochs:
            raise ValueError(
                f"warmup_epochs ({self.warmup_epochs}) must be < epochs ({self.epochs}): "
                "the search itself needs at least one epoch"
            )
        if self.max_batches is not None:
            _check_int("max_batches", self.max_batches, 1)
        for name in ("tau", "arch_lr", "lr"):
            _check_number(name, getattr(self, name), positive=True)
        for name in (
            "gap_lambda",
            "arch_lr_min",
            "arch_weight_decay",
            "lr_min",
            "momentum",
            "weight_decay",
            "grad_clip",
            "latency_coeff",
            "soften_eps",
        ):
            _check_number(name, getattr(self, name))
        if not 0 < self.train_fraction < 1:
            raise ValueError(f"train_fraction must be in (0, 1), got {self.train_fraction!r}")
        if not 0 <= self.latency_ramp <= 1:
            raise ValueError(f"latency_ramp must be in [0, 1], got {self.latency_ramp!r}")
        if not self.soften_eps < 1 or not self.momentum < 1:
            raise ValueError(
                f"soften_eps and momentum must be < 1, got {self.soften_eps!r}, {self.momentum!r}"
            )
        if self.latency_target is not None:
            if self.space != "proxyless":
                raise ValueError(
                    "latency_target needs space='proxyless' (latency tables exist only for "
                    f"the ProxylessNAS space), got space={self.space!r}"
                )
            _check_number("latency_target", self.latency_target, positive=True)
        if self.per_example is None:
            self.per_example = self.space == "darts"


def _check_int(name: str, value: object, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"UNASConfig.{name} must be an integer >= {minimum}, got {value!r}")


def _check_number(name: str, value: object, positive: bool = False) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < 0 or (positive and value == 0):
        need = "> 0" if positive else ">= 0"
        raise ValueError(f"UNASConfig.{name} must be a finite number {need}, got {value!r}")


# ----------------------------------------------------------------------------- losses


def gap_loss(
    supernet: nn.Module,
    weights: torch.Tensor,
    batch: tuple[torch.Tensor, torch.Tensor],
    val_batch: tuple[torch.Tensor, torch.Tensor],
    gap_lambda: float,
) -> torch.Tensor:
    """Per-example L_train + lambda |L_val - L_train| of the architectures ``weights`` (UNAS Eq. 7)."""
    (x, y), (xv, yv) = batch, val_batch
    ce = nn.functional.cross_entropy
    l_train = ce(supernet.forward_weighted(x, weights), y, reduction="none")
    l_val = ce(supernet.forward_weighted(xv, weights), yv, reduction="none")
    return l_train + gap_lambda * (l_val - l_train).abs()


class LinearLatency(nn.Module):
    """g(W) = <coef, W> + bias: UNAS' linear latency surrogate on the ``(21, 7)`` op weights."""

    def __init__(self, coef: torch.Tensor, bias: float, r2: float):
        super().__init__()
        self.register_buffer("coef", coef)
        self.bias, self.r2 = float(bias), float(r2)

    def forward(self, weights: torch.Tensor) -> torch.Tensor:
        return (weights * self.coef).sum(dim=(-2, -1)) + self.bias


def fit_latency_surrogate(
    table: Any, n: int, generator: torch.Generator, ridge: float = 1.0
) -> LinearLatency:
    """Ridge-fit g on ``n`` one-hot architectures drawn uniformly over the allowed ops
    (UNAS' initial distribution): 80% fit, 20% held out for the reported R^2."""
    from nas_gym.benchmarks.latency import latency_array

    allowed = torch.as_tensor(proxyless_space.op_mask().copy())
    logits = torch.zeros(n, *proxyless_space.SHAPE).masked_fill(~allowed, -torch.inf)
    u = torch.rand(n, *proxyless_space.SHAPE, generator=generator)
    ops = (logits - torch.log(-torch.log(u))).argmax(-1)
    lat = torch.as_tensor(latency_array(table, ops.numpy()), dtype=torch.float64)
    x = nn.functional.one_hot(ops, proxyless_space.N_OPS).flatten(1).double()
    x = torch.cat([x, torch.ones(n, 1, dtype=torch.float64)], dim=1)
    n_fit = max(int(0.8 * n), 1)
    penalty = ridge * torch.eye(x.shape[1], dtype=torch.float64)
    penalty[-1, -1] = 0.0  # the bias is not shrunk
    xf, yf = x[:n_fit], lat[:n_fit]
    beta = torch.linalg.solve(xf.T @ xf + penalty, xf.T @ yf)
    xh, yh = (x[n_fit:], lat[n_fit:]) if n_fit < n else (xf, yf)
    resid = ((xh @ beta - yh) ** 2).sum()
    r2 = 1.0 - float(resid / ((yh - yh.mean()) ** 2).sum().clamp_min(1e-12))
    coef = beta[:-1].reshape(proxyless_space.SHAPE).float()
    return LinearLatency(coef, float(beta[-1]), r2)


def architecture_objective(
    supernet: nn.Module,
    sample: ArchSample,
    batch: tuple[torch.Tensor, torch.Tensor],
    val_batch: tuple[torch.Tensor, torch.Tensor],
    gap_lambda: float,
    latency: tuple[LinearLatency, Any, float, float] | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Mean REBAR (+ RELAX latency) objective whose gradient in phi is UNAS' estimate.

    Args:
        latency: ``(g, table, target_ms, lambda_t)`` or None.

    Returns:
        The objective and logged values (L_g of z, latency of z, hinge, feasible share).
    """
    with torch.no_grad():
        value = gap_loss(supernet, sample.hard, batch, val_batch, gap_lambda)
    control = gap_loss(supernet, sample.relaxed, batch, val_batch, gap_lambda)
    objective = score_function_objective(sample.log_prob, value, control).mean()
    logs = {"arch_loss": float(value.mean())}
    if latency is not None:
        g, table, target, lam = latency
        from nas_gym.benchmarks.latency import latency_array

        ops = sample.hard.argmax(-1).cpu().numpy()
        lat = torch.as_tensor(latency_array(table, ops), dtype=sample.relaxed.dtype)
        hinge = lam * torch.relu(lat.to(sample.relaxed.device) - target)
        surrogate = lam * torch.relu(g(sample.relaxed) - target)
        objective = objective + score_function_objective(sample.log_prob, hinge, surrogate).mean()
        logs.update(
            latency_ms=float(lat.mean()),
            feasible=float((lat <= target).double().mean()),
            hinge=float(hinge.mean()),
        )
    return objective, logs


# ----------------------------------------------------------------------------- the search


def build_distribution(config: UNASConfig) -> FactorizedCell | LayerCategorical:
    """p_phi for the config's space, logits at 0 (uniform)."""
    if config.space == "darts":
        return FactorizedCell(tau=config.tau)
    return LayerCategorical(tau=config.tau, soften_eps=config.soften_eps)


def _save(path: Path, payload: dict[str, Any]) -> None:
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def _differences(found: dict[str, Any], expected: dict[str, Any]) -> list[str]:
    keys = sorted(set(found) | set(expected))
    return [
        f"{k}: checkpoint has {found.get(k, '<absent>')!r}, expected {expected.get(k, '<absent>')!r}"
        for k in keys
        if k not in _RESUMABLE and found.get(k, "<absent>") != expected.get(k, "<absent>")
    ]


def read_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A UNAS checkpoint (file or the directory holding ``last.pt``), tensors on CPU, safely unpickled."""
    path = Path(path)
    path = path / CHECKPOINT_NAME if path.is_dir() else path
    if not path.is_file():
        raise FileNotFoundError(f"UNAS checkpoint {str(path)!r} not found")
    state = load_checkpoint(path, map_location="cpu")
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise ResumeMismatchError(
            f"{str(path)!r} is not a UNAS search checkpoint (format {CHECKPOINT_FORMAT!r})"
        )
    return state


def _cycle(loader: DataLoader):
    """Endless batches of ``loader`` (a new shuffle, from its own generator, per pass)."""
    while True:
        yield from loader


def search(
    config: UNASConfig,
    supernet: nn.Module,
    train_loader: DataLoader,
    val_loader: DataLoader,
    out: str | os.PathLike[str],
    fingerprint: dict[str, Any] | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Run (or resume) a UNAS search; write ``last.pt``, ``history.json`` and the architecture.

    Args:
        config: settings.
        supernet: a ``DARTSSupernet`` (space ``darts``) or ``ProxylessSupernet``, freshly
            initialised; it is trained in place.
        train_loader: D_T, shuffling with its own generator
            (:func:`nas_gym.supernets.datasets.make_loader`) so the order resumes.
        val_loader: D_V, the same kind of loader; cycled, one batch per step.
        out: output directory.
        fingerprint: what is searched (dataset, split, supernet config); checked on resume.
        progress: tqdm bar per epoch.

    Returns:
        The final result dict (also in ``out/result.json``).
    """
    from tqdm.auto import tqdm

    from nas_gym.supernets.datasets import resolve_device

    for name, loader in (("train_loader", train_loader), ("val_loader", val_loader)):
        if loader.generator is None:
            raise ValueError(
                f"{name} has no generator: build it with nas_gym.supernets.datasets.make_loader "
                "so the data order can resume"
            )
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / CHECKPOINT_NAME
    device = resolve_device(config.device)
    fingerprint = dict(fingerprint or {})
    dist = build_distribution(config).to(device)
    supernet.to(device)
    w_opt = torch.optim.SGD(
        supernet.parameters(),
        lr=config.lr,
        momentum=config.momentum,
        weight_decay=config.weight_decay,
    )
    a_opt = torch.optim.Adam(
        dist.parameters(), lr=config.arch_lr, weight_decay=config.arch_weight_decay
    )
    search_epochs = config.epochs - config.warmup_epochs
    w_sched = torch.optim.lr_scheduler.CosineAnnealingLR(w_opt, config.epochs, config.lr_min)
    a_sched = torch.optim.lr_scheduler.CosineAnnealingLR(a_opt, search_epochs, config.arch_lr_min)
    gen = torch.Generator().manual_seed(int(config.seed))
    steps_per_epoch = len(train_loader)
    if config.max_batches is not None:
        steps_per_epoch = min(steps_per_epoch, config.max_batches)
    if steps_per_epoch == 0 or len(val_loader) == 0:
        raise ValueError("D_T and D_V each need at least one full batch; lower batch_size")

    latency = None
    if config.latency_target is not None:
        from nas_gym.benchmarks.latency import load_lut

        table = load_lut(config.lut)
        fixed, rows = table.layer_matrix()
        fastest = fixed + sum(
            min(r[o] for o in range(len(r)) if proxyless_space.ALLOWED[i, o])
            for i, r in enumerate(rows)
        )
        if config.latency_target < fastest:
            raise ValueError(
                f"latency_target {config.latency_target} ms is below every architecture's "
                f"latency (the fastest takes {fastest:.3f} ms on {table.source.name})"
            )
        fit_gen = torch.Generator().manual_seed(int(config.seed) + 1)
        g = fit_latency_surrogate(table, config.surrogate_samples, fit_gen).to(device)
        latency = (g, table)
        print(f"latency surrogate: linear, held-out R^2 = {g.r2:.6f}", flush=True)

    start, history = 0, []
    if path.is_file():
        state = read_checkpoint(path)
        diffs = _differences(state["config"], asdict(config))
        diffs += _differences(state["fingerprint"], fingerprint)
        if diffs:
            raise ResumeMismatchError(
                f"cannot resume {str(path)!r}: it was made with other settings ("
                + "; ".join(diffs)
                + "). Use a new --out directory or the original settings."
            )
        supernet.load_state_dict(state["model"])
        dist.load_state_dict(state["distribution"])
        w_opt.load_state_dict(state["w_optimizer"])
        a_opt.load_state_dict(state["arch_optimizer"])
        w_sched.load_state_dict(state["w_scheduler"])
        a_sched.load_state_dict(state["arch_scheduler"])
        gen.set_state(state["rng"]["sample"])
        train_loader.generator.set_state(state["rng"]["train"])
        val_loader.generator.set_state(state["rng"]["val"])
        start, history = int(state["epoch"]), list(state["history"])
        print(f"resuming {path} at epoch {start}/{config.epochs}", flush=True)

    ramp_steps = config.latency_ramp * search_epochs * steps_per_epoch
    for epoch in range(start, config.epochs):
        searching = epoch >= config.warmup_epochs
        supernet.train()
        val_iter = _cycle(val_loader)
        sums: dict[str, float] = {}
        bar = tqdm(
            total=steps_per_epoch,
            desc=f"unas {'search' if searching else 'warm-up'} {epoch + 1}/{config.epochs}",
            disable=not progress,
            leave=False,
        )
        for i, (x, y) in enumerate(train_loader):
            if i >= steps_per_epoch:
                break
            batch = (x.to(device), y.to(device))
            val_batch = tuple(t.to(device) for t in next(val_iter))
            sample = dist.sample(len(y) if config.per_example else 1, gen)
            logs: dict[str, float] = {}
            if searching:
                lat = None
                if latency is not None:
                    step = (epoch - config.warmup_epochs) * steps_per_epoch + i + 1
                    ramp = min(step / ramp_steps, 1.0) if ramp_steps > 0 else 1.0
                    lat = (*latency, float(config.latency_target), config.latency_coeff * ramp)
                    logs["lambda_t"] = lat[3]
                objective, more = architecture_objective(
                    supernet, sample, batch, val_batch, config.gap_lambda, lat
                )
                logs.update(more)
                a_opt.zero_grad(set_to_none=True)
                grads = torch.autograd.grad(objective, list(dist.parameters()))
                for p, grad in zip(dist.parameters(), grads, strict=True):
                    p.grad = grad
                a_opt.step()
            w_opt.zero_grad(set_to_none=True)
            logits = supernet.forward_weighted(batch[0], sample.relaxed.detach())
            loss = nn.functional.cross_entropy(logits, batch[1])
            loss.backward()
            if config.grad_clip > 0:
                nn.utils.clip_grad_norm_(supernet.parameters(), config.grad_clip)
            w_opt.step()
            if not math.isfinite(float(loss)):
                raise FloatingPointError(
                    f"training loss is {float(loss)} at epoch {epoch + 1}, batch {i + 1}; "
                    f"lower lr (now {w_opt.param_groups[0]['lr']:.4g})"
                )
            logs["train_loss"] = float(loss)
            for k, v in logs.items():
                sums[k] = sums.get(k, 0.0) + v
            bar.update(1)
            bar.set_postfix(loss=f"{float(loss):.3f}")
        bar.close()
        w_sched.step()
        if searching:
            a_sched.step()
        arch = dist.mode()
        record = {
            "epoch": epoch + 1,
            "phase": "search" if searching else "warm-up",
            **{k: v / steps_per_epoch for k, v in sums.items()},
            "arch": dist.describe(arch),
            **_score_arch(config, supernet, arch, val_loader, device, latency),
        }
        history.append(record)
        _save(
            path,
            {
                "format": CHECKPOINT_FORMAT,
                "config": asdict(config),
                "fingerprint": fingerprint,
                "epoch": epoch + 1,
                "model": supernet.state_dict(),
                "distribution": dist.state_dict(),
                "w_optimizer": w_opt.state_dict(),
                "arch_optimizer": a_opt.state_dict(),
                "w_scheduler": w_sched.state_dict(),
                "arch_scheduler": a_sched.state_dict(),
                "rng": {
                    "sample": gen.get_state(),
                    "train": train_loader.generator.get_state(),
                    "val": val_loader.generator.get_state(),
                },
                "history": history,
            },
        )
        _write_outputs(out, config, record, history)
        print(_epoch_line(record, config), flush=True)
    if not history:
        raise RuntimeError(f"no epoch ran and {str(path)!r} holds no history")
    return json.loads((out / "result.json").read_text())


@torch.no_grad()
def _score_arch(
    config: UNASConfig,
    supernet: nn.Module,
    arch: np.ndarray,
    val_loader: DataLoader,
    device: torch.device,
    latency: tuple[LinearLatency, Any] | None,
) -> dict[str, float]:
    """Supernet accuracy (%) of the most likely architecture on the first D_V batches
    (eval mode, in loader order from a copy of its generator state), and its table latency."""
    state = val_loader.generator.get_state()
    was_training = supernet.training
    supernet.eval()
    weights = torch.as_tensor(
        arch if config.space == "darts" else proxyless_space.ops_to_discrete(arch)
    )
    correct = seen = 0
    for i, (x, y) in enumerate(val_loader):
        if i >= config.eval_batches:
            break
        logits = supernet.forward_weighted(x.to(device), weights.to(device))
        correct += int((logits.argmax(1).cpu() == y).sum())
        seen += len(y)
    val_loader.generator.set_state(state)  # scoring must not move the data order
    supernet.train(was_training)
    out = {"valid_acc": 100.0 * correct / max(seen, 1)}
    if config.space == "proxyless":
        from nas_gym.benchmarks.latency import load_lut

        table = latency[1] if latency is not None else load_lut(config.lut)
        out["arch_latency_ms"] = float(table.latency(tuple(int(o) for o in arch)))
    return out


def _write_outputs(
    out: Path, config: UNASConfig, record: dict[str, Any], history: list[dict[str, Any]]
) -> None:
    name = "genotype.txt" if config.space == "darts" else "arch.txt"
    atomic_write_text(out / name, record["arch"] + "\n")
    atomic_write_text(out / "history.json", json.dumps(history, indent=1) + "\n")
    result = {"space": config.space, "epochs": record["epoch"], **record, "config": asdict(config)}
    atomic_write_text(out / "result.json", json.dumps(result, indent=1) + "\n")


def _epoch_line(record: dict[str, Any], config: UNASConfig) -> str:
    parts = [f"epoch {record['epoch']}/{config.epochs} ({record['phase']})"]
    parts.append(f"train loss {record['train_loss']:.4f}")
    if "arch_loss" in record:
        parts.append(f"L_g(z) {record['arch_loss']:.4f}")
    if "latency_ms" in record:
        parts.append(f"sampled latency {record['latency_ms']:.1f} ms ({record['feasible']:.0%} feasible)")
    parts.append(f"mode: supernet acc {record['valid_acc']:.2f}%")
    if "arch_latency_ms" in record:
        parts.append(f"{record['arch_latency_ms']:.1f} ms")
    return ", ".join(parts)


def config_from_dict(data: dict[str, Any]) -> UNASConfig:
    """A :class:`UNASConfig` from a dict (unknown keys ignored)."""
    known = {f.name for f in fields(UNASConfig)}
    return UNASConfig(**{k: v for k, v in data.items() if k in known})
