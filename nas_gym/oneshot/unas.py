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

The epoch loop, D_T / D_V batches, the per-epoch atomic checkpoint, exact resume and
the outputs (``history.csv``, ``genotype.txt`` / ``genotype.json``) are the shared
:func:`nas_gym.oneshot.loop.run_search`. ``genotype.txt`` holds the most likely
architecture: a ``Genotype(...)`` string for DARTS (``nas-gym train-genotype`` and
``DARTSSupernet-v0`` read it) or a ProxylessNAS arch string (``ProxylessNAS-v0``,
``nas-gym latency estimate``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
import torch
from torch import nn

from nas_gym.agents.unas.estimators import score_function_objective
from nas_gym.oneshot.loop import Batch, OneShotTrainer, SearchConfig, SearchRNG, weight_optimizer
from nas_gym.oneshot.unas_dist import ArchSample, FactorizedCell, LayerCategorical
from nas_gym.spaces import proxyless as proxyless_space

SPACES: tuple[str, ...] = ("darts", "proxyless")


@dataclass
class UNASConfig:
    """UNAS' own hyperparameters (defaults: UNAS' official settings where they apply).

    The options every one-shot searcher shares (epochs, batch, SGD on w, seed, device)
    are in :class:`~nas_gym.oneshot.loop.SearchConfig`.

    Attributes:
        warmup_epochs: first epochs that train w only, on samples of the initial
            (uniform) distribution (UNAS: 15 of 100 on CIFAR-10).
        tau: Gumbel-softmax temperature (0.4).
        gap_lambda: lambda of L_train + lambda |L_val - L_train| (0.5).
        arch_lr, arch_lr_min, arch_weight_decay: Adam on phi with a cosine schedule over
            the search epochs (1e-3 -> 3e-4, weight decay 1e-6).
        per_example: one architecture per example (UNAS' DARTS setting) or one per
            minibatch (its ProxylessNAS setting); None = that per-space default.
        soften_eps: ProxylessNAS probability softening (0.08); DARTS uses 0.
        lut: latency table (``"pixel1"``, ``"cpu"``, ``"cuda"`` or a path).
        latency_target: t in ms; None = no latency term (ProxylessNAS only).
        latency_coeff: final lambda_t (0.1 per ms, in cross-entropy units).
        latency_ramp: share of the search steps over which lambda_t ramps from 0.
        surrogate_samples: architectures for the ridge fit of g (UNAS: 10,000).
    """

    warmup_epochs: int = 0
    tau: float = 0.4
    gap_lambda: float = 0.5
    arch_lr: float = 1e-3
    arch_lr_min: float = 3e-4
    arch_weight_decay: float = 1e-6
    per_example: bool | None = None
    soften_eps: float = 0.08
    lut: str = "pixel1"
    latency_target: float | None = None
    latency_coeff: float = 0.1
    latency_ramp: float = 1 / 3
    surrogate_samples: int = 10_000

    def __post_init__(self) -> None:
        _check_int("warmup_epochs", self.warmup_epochs, 0)
        _check_int("surrogate_samples", self.surrogate_samples, 1)
        for name in ("tau", "arch_lr"):
            _check_number(name, getattr(self, name), positive=True)
        for name in (
            "gap_lambda",
            "arch_lr_min",
            "arch_weight_decay",
            "latency_coeff",
            "soften_eps",
        ):
            _check_number(name, getattr(self, name))
        if not 0 <= self.latency_ramp <= 1:
            raise ValueError(
                f"UNASConfig.latency_ramp must be in [0, 1], got {self.latency_ramp!r}"
            )
        if not self.soften_eps < 1:
            raise ValueError(f"UNASConfig.soften_eps must be < 1, got {self.soften_eps!r}")
        if self.latency_target is not None:
            _check_number("latency_target", self.latency_target, positive=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> UNASConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


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

        ops = np.atleast_2d(sample.hard.argmax(-1).cpu().numpy())
        lat = torch.as_tensor(latency_array(table, ops), dtype=sample.relaxed.dtype)
        lat = lat.reshape(sample.log_prob.shape)
        hinge = lam * torch.relu(lat.to(sample.relaxed.device) - target)
        surrogate = lam * torch.relu(g(sample.relaxed) - target)
        objective = objective + score_function_objective(sample.log_prob, hinge, surrogate).mean()
        logs.update(
            sample_latency_ms=float(lat.mean()),
            sample_feasible=float((lat <= target).double().mean()),
            hinge=float(hinge.mean()),
        )
    return objective, logs


# ----------------------------------------------------------------------------- the trainer


def build_distribution(space: str, config: UNASConfig) -> FactorizedCell | LayerCategorical:
    """p_phi for ``space``, logits at 0 (uniform)."""
    if space == "darts":
        return FactorizedCell(tau=config.tau)
    return LayerCategorical(tau=config.tau, soften_eps=config.soften_eps)


def fastest_latency(table: Any) -> float:
    """The smallest table latency (ms) of any architecture of the space."""
    fixed, rows = table.layer_matrix()
    allowed = proxyless_space.op_mask()
    return fixed + sum(
        min(r for r, ok in zip(row, allowed[i], strict=True) if ok) for i, row in enumerate(rows)
    )


class UNASTrainer(OneShotTrainer):
    """UNAS on a DARTS or ProxylessNAS supernet, driven by :func:`~nas_gym.oneshot.loop.run_search`.

    Args:
        supernet: a ``DARTSSupernet`` (``space="darts"``) or ``ProxylessSupernet``, on the device.
        space: ``"darts"`` or ``"proxyless"``.
        search: the shared options (epochs, SGD on w, seed, device).
        config: UNAS' own options.
        steps_per_epoch: steps the loop runs per epoch (for the latency ramp).
    """

    name = "unas"

    def __init__(
        self,
        supernet: nn.Module,
        space: str,
        search: SearchConfig,
        config: UNASConfig,
        steps_per_epoch: int,
    ):
        if space not in SPACES:
            raise ValueError(f"space must be one of {', '.join(SPACES)}, got {space!r}")
        if config.warmup_epochs >= search.epochs:
            raise ValueError(
                f"warmup_epochs ({config.warmup_epochs}) must be < epochs ({search.epochs}): "
                "the search itself needs at least one epoch"
            )
        if config.latency_target is not None and space != "proxyless":
            raise ValueError(
                "a latency target needs the proxyless space (latency tables exist only for "
                f"the ProxylessNAS space), got space={space!r}"
            )
        self.space, self.supernet, self.config = space, supernet, config
        self.per_example = space == "darts" if config.per_example is None else config.per_example
        self.grad_clip = search.grad_clip
        device = next(supernet.parameters()).device
        self.dist = build_distribution(space, config).to(device)
        self.w_opt, self.w_sched = weight_optimizer(supernet.parameters(), search)
        self.a_opt = torch.optim.Adam(
            self.dist.parameters(), lr=config.arch_lr, weight_decay=config.arch_weight_decay
        )
        search_epochs = search.epochs - config.warmup_epochs
        self.a_sched = torch.optim.lr_scheduler.CosineAnnealingLR(
            self.a_opt, search_epochs, config.arch_lr_min
        )
        self.ramp_steps = config.latency_ramp * search_epochs * steps_per_epoch
        self.epoch = self.search_step = 0
        self.table = self.surrogate = None
        if space == "proxyless":
            from nas_gym.benchmarks.latency import load_lut

            self.table = load_lut(config.lut)
        if config.latency_target is not None:
            fastest = fastest_latency(self.table)
            if config.latency_target < fastest:
                raise ValueError(
                    f"latency target {config.latency_target} ms is below every architecture's "
                    f"latency (the fastest takes {fastest:.3f} ms on {self.table.source.name})"
                )
            fit_gen = torch.Generator().manual_seed(search.seed)
            self.surrogate = fit_latency_surrogate(
                self.table, config.surrogate_samples, fit_gen
            ).to(device)
            print(f"latency surrogate: linear, held-out R^2 = {self.surrogate.r2:.6f}", flush=True)

    def hparams(self) -> dict[str, Any]:
        return {**asdict(self.config), "per_example": self.per_example}

    def _latency_args(self) -> tuple[LinearLatency, Any, float, float] | None:
        if self.surrogate is None:
            return None
        ramp = min(self.search_step / self.ramp_steps, 1.0) if self.ramp_steps > 0 else 1.0
        target = float(self.config.latency_target)
        return self.surrogate, self.table, target, self.config.latency_coeff * ramp

    def step(self, train: Batch, valid: Batch, rng: SearchRNG) -> dict[str, float]:
        """Arch step (REBAR + RELAX on D_T/D_V), then a w step on the same relaxed sample."""
        sample = self.dist.sample(len(train[1]) if self.per_example else 1, rng.torch)
        if not self.per_example:  # one architecture shared by the minibatch
            sample = ArchSample(sample.relaxed[0], sample.hard[0], sample.log_prob[0])
        logs: dict[str, float] = {}
        if self.epoch >= self.config.warmup_epochs:
            self.search_step += 1
            latency = self._latency_args()
            objective, logs = architecture_objective(
                self.supernet, sample, train, valid, self.config.gap_lambda, latency
            )
            if latency is not None:
                logs["lambda_t"] = latency[3]
            elif self.table is not None:  # no target: still log what latency it samples
                from nas_gym.benchmarks.latency import latency_array

                ops = np.atleast_2d(sample.hard.argmax(-1).cpu().numpy())
                logs["sample_latency_ms"] = float(latency_array(self.table, ops).mean())
            params = list(self.dist.parameters())
            for p, grad in zip(params, torch.autograd.grad(objective, params), strict=True):
                p.grad = grad
            self.a_opt.step()
        self.w_opt.zero_grad(set_to_none=True)
        logits = self.supernet.forward_weighted(train[0], sample.relaxed.detach())
        loss = nn.functional.cross_entropy(logits, train[1])
        loss.backward()
        if self.grad_clip > 0:
            nn.utils.clip_grad_norm_(self.supernet.parameters(), self.grad_clip)
        self.w_opt.step()
        return {"train_loss": float(loss.detach()), **logs}

    def end_epoch(self) -> None:
        self.w_sched.step()
        if self.epoch >= self.config.warmup_epochs:
            self.a_sched.step()
        self.epoch += 1

    def derive(self) -> dict[str, Any]:
        """The most likely architecture (argmax of every selector, UNAS' rule)."""
        arch = self.dist.mode()
        out: dict[str, Any] = {"space": self.space, "genotype": self.dist.describe(arch)}
        if self.space == "darts":
            out["alpha_d"] = arch.astype(int).tolist()
        else:
            out["ops"] = [int(o) for o in arch]
            out["latency_ms"] = float(self.table.latency(out["ops"]))
        out["logits"] = {k: v.detach().cpu().tolist() for k, v in self.dist.named_parameters()}
        return out

    def state_dict(self) -> dict[str, Any]:
        return {
            "supernet": {k: v.detach().cpu() for k, v in self.supernet.state_dict().items()},
            "distribution": {k: v.detach().cpu() for k, v in self.dist.state_dict().items()},
            "w_optimizer": self.w_opt.state_dict(),
            "w_scheduler": self.w_sched.state_dict(),
            "arch_optimizer": self.a_opt.state_dict(),
            "arch_scheduler": self.a_sched.state_dict(),
            "epoch": self.epoch,
            "search_step": self.search_step,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.supernet.load_state_dict(state["supernet"])
        self.dist.load_state_dict(state["distribution"])
        self.w_opt.load_state_dict(state["w_optimizer"])
        self.w_sched.load_state_dict(state["w_scheduler"])
        self.a_opt.load_state_dict(state["arch_optimizer"])
        self.a_sched.load_state_dict(state["arch_scheduler"])
        self.epoch, self.search_step = int(state["epoch"]), int(state["search_step"])

    def scorer(self, batches: list[Batch]):
        """A ``run_search`` scorer: the derived architecture's supernet accuracy on fixed
        D_V batches (batch-statistics BN, as the environments score a path)."""
        from nas_gym.supernets.proxy_task import score_path

        def score(derived: dict[str, Any]) -> dict[str, float]:
            arch = np.asarray(derived["alpha_d"]) if self.space == "darts" else derived["ops"]
            acc, loss = score_path(self.supernet, batches, arch)
            row = {"valid_acc": acc, "valid_loss": loss}
            if self.space == "proxyless":
                row["latency_ms"] = derived["latency_ms"]
            return row

        return score


# ----------------------------------------------------------------------------- command line


def add_arguments(p: Any) -> None:
    """``nas-gym search unas`` options (the shared ones come from ``nas_gym.commands.search``)."""
    p.set_defaults(train_fraction=0.9)  # UNAS: 90/10 split of the training set
    g = p.add_argument_group("UNAS")
    g.add_argument("--space", default="darts", choices=SPACES, help="search space")
    g.add_argument("--warmup-epochs", type=int, default=0, help="first epochs train w only")
    g.add_argument("--tau", type=float, default=0.4, help="Gumbel-softmax temperature")
    g.add_argument("--gap-lambda", type=float, default=0.5, help="lambda of the generalization gap")
    g.add_argument("--arch-lr", type=float, default=1e-3, help="Adam learning rate of phi")
    g.add_argument("--arch-lr-min", type=float, default=3e-4, help="final cosine lr of phi")
    g.add_argument("--arch-weight-decay", type=float, default=1e-6, help="Adam weight decay of phi")
    g.add_argument(
        "--sampling",
        default=None,
        choices=("per-example", "per-batch"),
        help="one architecture per example or per minibatch (default: per-example for darts, "
        "per-batch for proxyless, as UNAS)",
    )
    g.add_argument("--soften-eps", type=float, default=0.08, help="proxyless softening epsilon")
    d = p.add_argument_group("supernet")
    d.add_argument("--channels", type=int, default=16, help="darts: initial channels C")
    d.add_argument("--cells", type=int, default=8, help="darts: cells")
    d.add_argument("--width-mult", type=float, default=1.0, help="proxyless: width multiplier")
    lat = p.add_argument_group("latency (proxyless)")
    lat.add_argument("--lut", default="pixel1", help="latency table: pixel1, cpu, cuda or a path")
    lat.add_argument("--latency-target", type=float, default=None, help="target t in ms")
    lat.add_argument("--latency-coeff", type=float, default=0.1, help="final lambda_t per ms")
    lat.add_argument(
        "--latency-ramp", type=float, default=1 / 3, help="share of the search to ramp lambda_t"
    )
    lat.add_argument(
        "--surrogate-samples", type=int, default=10_000, help="architectures for the ridge fit"
    )


def _unas_config(args: Any) -> UNASConfig:
    from nas_gym.commands.flags import as_flags

    try:
        return UNASConfig(
            warmup_epochs=args.warmup_epochs,
            tau=args.tau,
            gap_lambda=args.gap_lambda,
            arch_lr=args.arch_lr,
            arch_lr_min=args.arch_lr_min,
            arch_weight_decay=args.arch_weight_decay,
            per_example=None if args.sampling is None else args.sampling == "per-example",
            soften_eps=args.soften_eps,
            lut=args.lut,
            latency_target=args.latency_target,
            latency_coeff=args.latency_coeff,
            latency_ramp=args.latency_ramp,
            surrogate_samples=args.surrogate_samples,
        )
    except ValueError as err:  # name the flags, not the dataclass fields
        raise as_flags(err, "UNASConfig") from None


def build_supernet(space: str, args: Any, num_classes: int, in_channels: int) -> nn.Module:
    """The supernet of ``space`` from the CLI options, freshly initialised from ``--seed``."""
    from nas_gym.supernets.pretrain import init_parameters

    if space == "darts":
        from nas_gym.supernets.darts import DARTSSupernet

        net = DARTSSupernet(
            C=args.channels,
            num_cells=args.cells,
            num_classes=num_classes,
            in_channels=in_channels,
        )
    else:
        from nas_gym.supernets.mobilenet import ProxylessSupernet

        if in_channels != 3:
            raise ValueError(
                f"the MobileNetV2 supernet takes RGB images, got {in_channels} channels"
            )
        net = ProxylessSupernet(num_classes=num_classes, width_mult=args.width_mult)
    return init_parameters(net, args.seed)


def run_cli(args: Any) -> int:
    """``nas-gym search unas``: build task, supernet and trainer; run the shared loop."""
    from pathlib import Path

    from nas_gym.commands.flags import check_supernet_flags
    from nas_gym.commands.search import search_config, search_task
    from nas_gym.oneshot.loop import run_search
    from nas_gym.supernets.pretrain import darts_fingerprint, proxyless_fingerprint

    config = _unas_config(args)
    if args.latency_target is not None and args.space != "proxyless":
        raise ValueError(
            "--latency-target needs --space proxyless (latency tables exist only there)"
        )
    if args.warmup_epochs >= args.epochs:
        raise ValueError(
            f"--warmup-epochs ({args.warmup_epochs}) must be < --epochs ({args.epochs})"
        )
    check_supernet_flags(args.space, args)
    search = search_config(args)  # bad flags fail before any data is read
    if args.space == "proxyless":  # the trainer reads the table; a bad --lut fails now
        from nas_gym.benchmarks.latency import load_lut

        table = load_lut(args.lut)
        if args.latency_target is not None and args.latency_target < fastest_latency(table):
            raise ValueError(
                f"--latency-target {args.latency_target} ms is below every architecture's "
                f"latency (the fastest takes {fastest_latency(table):.3f} ms on {table.source.name})"
            )
    task = search_task(args)
    search = search_config(args, task.image_size)
    net = build_supernet(args.space, args, task.num_classes, task.in_channels).to(search.device)
    steps = len(task.d_train) // search.batch_size
    steps = steps if search.max_batches is None else min(steps, search.max_batches)
    trainer = UNASTrainer(net, args.space, search, config, max(steps, 1))
    split = (args.dataset, args.resolution, task.train_fraction, task.split_seed)
    if args.space == "darts":
        fingerprint = darts_fingerprint(net.config, False, *split, sampling=trainer.name)
    else:
        fingerprint = {**proxyless_fingerprint(args.width_mult, task.num_classes, *split)}
        fingerprint["sampling"] = trainer.name
    batches = task.fixed_batches("valid", search.batch_size, args.score_batches, search.device)
    derived = run_search(
        trainer,
        task.d_train,
        task.d_valid,
        search,
        Path(args.out),
        fingerprint,
        scorer=trainer.scorer(batches),
        progress=not args.no_progress,
        stop_after=args.stop_after,
    )
    what = "cell" if args.space == "darts" else "architecture"
    print(f"UNAS {what}: {derived['genotype']}")
    if "latency_ms" in derived:
        print(f"table latency ({args.lut}): {derived['latency_ms']:.2f} ms")
    print(f"wrote {Path(args.out) / 'genotype.txt'}")
    return 0
