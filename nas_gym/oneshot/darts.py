"""DARTS: differentiable architecture search, first and second order (Liu et al., ICLR 2019).

The continuous relaxation: every edge of the DARTS supernet is the softmax(alpha)-
weighted sum of its ops (:meth:`DARTSSupernet.forward_weighted`), and alpha and the
weights w solve the bilevel problem

    min_alpha L_val(w*(alpha), alpha)   s.t.   w*(alpha) = argmin_w L_train(w, alpha)

by alternating one step on each per minibatch (Liu et al. 2019, Alg. 1):

* alpha-step on a D_V batch, Adam (lr 3e-4, betas (0.5, 0.999), weight decay 1e-3):
  - first order: ``grad_alpha L_val(w, alpha)``;
  - second order: the gradient through one virtual SGD step
    ``w' = w - xi (grad_w L_train(w, alpha) + momentum buffer + wd w)`` (xi = the
    current w learning rate), ``grad_alpha L_val(w', alpha) - xi H v`` with
    ``v = grad_w' L_val(w', alpha)`` and the Hessian-vector product
    ``H v = grad^2_{alpha,w} L_train v`` by central finite differences at
    ``w +- eps v``, ``eps = 0.01 / ||v||`` (Liu et al. 2019, Eq. 7-8).
* w-step on the D_T batch: SGD (momentum 0.9, wd 3e-4, cosine lr 0.025 -> 0.001,
  gradient-norm clip 5) on ``L_train(w, alpha)``.

The final cell is read off alpha by Algorithm 2 of Mills (2020), which is DARTS'
own derivation rule with ``none`` excluded (:func:`nas_gym.spaces.darts.discretize`).
"""

from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call

from nas_gym.oneshot.loop import (
    Batch,
    OneShotTrainer,
    SearchConfig,
    SearchRNG,
    darts_genotype,
    module_state,
    weight_optimizer,
)
from nas_gym.spaces import darts as space
from nas_gym.supernets.darts import DARTSSupernet

ORDERS: tuple[int, ...] = (1, 2)


@dataclass
class DARTSConfig:
    """DARTS' own hyperparameters (defaults: the DARTS code, ``cnn/train_search.py``).

    Attributes:
        order: 1 = first-order approximation, 2 = the unrolled second-order hypergradient.
        arch_lr: Adam learning rate of alpha.
        arch_betas: Adam betas of alpha.
        arch_weight_decay: Adam weight decay of alpha.
        arch_grad_clip: gradient-norm clip of alpha (0 = off; DARTS' architect: 10).
        fd_r: the finite-difference radius r of the Hessian-vector product, eps = r / ||v||.
        with_none: the 8-op layout with ``none`` in column 0 (it takes softmax mass,
            outputs zeros, and is never selected by the derivation).
    """

    order: int = 1
    arch_lr: float = 3e-4
    arch_betas: tuple[float, float] = (0.5, 0.999)
    arch_weight_decay: float = 1e-3
    arch_grad_clip: float = 10.0
    fd_r: float = 0.01
    with_none: bool = False

    def __post_init__(self) -> None:
        if self.order not in ORDERS:
            raise ValueError(f"order must be 1 or 2, got {self.order!r}")
        for name in ("arch_lr", "arch_weight_decay", "arch_grad_clip", "fd_r"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
                raise ValueError(f"DARTSConfig.{name} must be a number >= 0, got {value!r}")
        if not self.arch_lr > 0 or not self.fd_r > 0:
            raise ValueError(
                f"arch_lr and fd_r must be > 0, got {self.arch_lr!r} and {self.fd_r!r}"
            )
        self.arch_betas = tuple(float(b) for b in self.arch_betas)  # type: ignore[assignment]
        if len(self.arch_betas) != 2 or not all(0 <= b < 1 for b in self.arch_betas):
            raise ValueError(f"arch_betas must be two numbers in [0, 1), got {self.arch_betas!r}")


class _Weighted(nn.Module):
    """``forward = supernet.forward_weighted``, so ``functional_call`` can run it at other weights."""

    def __init__(self, net: DARTSSupernet):
        super().__init__()
        self.net = net

    def forward(self, x: Tensor, weights: Tensor) -> Tensor:
        return self.net.forward_weighted(x, weights)


class DARTS(OneShotTrainer):
    """The DARTS searcher on a :class:`DARTSSupernet` (drive it with :func:`run_search`).

    Args:
        supernet: the search network (DARTS: C=16, 8 cells), on its device.
        search: the shared options (w optimizer, epochs, ...).
        config: DARTS' own options.
    """

    space = "darts"

    def __init__(self, supernet: DARTSSupernet, search: SearchConfig, config: DARTSConfig):
        self.net = supernet
        self._weighted = _Weighted(supernet)
        self.search = search
        self.config = config
        self.name = f"darts-{'1st' if config.order == 1 else '2nd'}"
        like = next(supernet.parameters())
        # DARTS initialises alpha as 1e-3 * N(0, 1); a local generator keeps global RNGs untouched.
        gen = torch.Generator().manual_seed(int(search.seed))
        alpha = 1e-3 * torch.randn(space.shape(config.with_none), generator=gen, dtype=like.dtype)
        self.alpha = alpha.to(like.device)
        self.alpha.requires_grad_(True)
        self.w_optimizer, self.w_scheduler = weight_optimizer(supernet.parameters(), search)
        self.a_optimizer = torch.optim.Adam(
            [self.alpha],
            lr=config.arch_lr,
            betas=config.arch_betas,
            weight_decay=config.arch_weight_decay,
        )

    # -- the losses ---------------------------------------------------------------
    def weights(self) -> Tensor:
        """The op weights softmax(alpha), per edge."""
        return F.softmax(self.alpha, dim=-1)

    def loss(self, batch: Batch, params: dict[str, Tensor] | None = None) -> Tensor:
        """Cross-entropy of the relaxed supernet at weights ``params`` (None: its own).

        With ``params`` the supernet's buffers are copied, so the alpha-step's forwards
        (on D_V, and the virtual ones of second order) leave its batch-norm running
        statistics alone: only the w-step's forward on D_T updates them.
        """
        x, y = batch
        if params is None:
            return F.cross_entropy(self.net.forward_weighted(x, self.weights()), y)
        state = {f"net.{k}": v for k, v in params.items()}
        state.update({f"net.{k}": b.clone() for k, b in self.net.named_buffers()})
        logits = functional_call(self._weighted, state, (x, self.weights()))
        return F.cross_entropy(logits, y)

    def _params(self) -> dict[str, Tensor]:
        return dict(self.net.named_parameters())

    def alpha_grad(self, train: Batch, valid: Batch) -> Tensor:
        """The hypergradient of alpha of this step's order (not applied)."""
        if self.config.order == 1:
            return torch.autograd.grad(self.loss(valid, self._params()), self.alpha)[0]
        return self.unrolled_alpha_grad(train, valid)

    def virtual_step(self, train: Batch) -> dict[str, Tensor]:
        """w' = w - xi (grad_w L_train(w, alpha) + momentum * buffer + wd * w), detached."""
        params = self._params()
        names = [n for n, p in params.items() if p.requires_grad]
        grads = torch.autograd.grad(self.loss(train, params), [params[n] for n in names])
        group = self.w_optimizer.param_groups[0]
        xi, mu, wd = group["lr"], group["momentum"], group["weight_decay"]
        out = dict(params)
        for n, g in zip(names, grads, strict=True):
            p = params[n]
            buf = self.w_optimizer.state.get(p, {}).get("momentum_buffer")
            step = g + wd * p.detach() + (mu * buf if buf is not None else 0.0)
            out[n] = (p.detach() - xi * step).requires_grad_(True)
        return out

    def unrolled_alpha_grad(self, train: Batch, valid: Batch) -> Tensor:
        """``grad_alpha L_val(w', alpha) - xi * [grad_alpha L_train(w+) - grad_alpha L_train(w-)] / (2 eps)``."""
        xi = self.w_optimizer.param_groups[0]["lr"]
        w_prime = self.virtual_step(train)
        names = [n for n, p in w_prime.items() if p.requires_grad]
        grads = torch.autograd.grad(
            self.loss(valid, w_prime), [self.alpha] + [w_prime[n] for n in names]
        )
        d_alpha, v = grads[0], dict(zip(names, grads[1:], strict=True))
        eps = self.config.fd_r / torch.sqrt(sum((g * g).sum() for g in v.values()))
        params = {n: p.detach() for n, p in self._params().items()}
        alpha_grads = []
        for sign in (1.0, -1.0):
            shifted = {n: p + sign * eps * v[n] if n in v else p for n, p in params.items()}
            alpha_grads.append(torch.autograd.grad(self.loss(train, shifted), self.alpha)[0])
        hessian_v = (alpha_grads[0] - alpha_grads[1]) / (2 * eps)
        return d_alpha - xi * hessian_v

    # -- OneShotTrainer ------------------------------------------------------------
    def hparams(self) -> dict[str, Any]:
        return {**asdict(self.config), "supernet": dict(self.net.config)}

    def alpha_step(self, train: Batch, valid: Batch) -> Tensor:
        """Adam on alpha with this order's hypergradient (clipped); returns the gradient."""
        grad = self.alpha_grad(train, valid)
        self.a_optimizer.zero_grad(set_to_none=True)
        self.alpha.grad = grad
        if self.config.arch_grad_clip:
            nn.utils.clip_grad_norm_([self.alpha], self.config.arch_grad_clip)
        self.a_optimizer.step()
        return grad

    def w_step(self, train: Batch) -> tuple[Tensor, Tensor]:
        """SGD on w for ``L_train(w, alpha)`` (gradient clipped); returns (loss, logits)."""
        x, y = train
        logits = self.net.forward_weighted(x, self.weights().detach())
        loss = F.cross_entropy(logits, y)
        self.w_optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.search.grad_clip:
            nn.utils.clip_grad_norm_(self.net.parameters(), self.search.grad_clip)
        self.w_optimizer.step()
        return loss.detach(), logits.detach()

    def step(self, train: Batch, valid: Batch, rng: SearchRNG | None) -> dict[str, float]:
        """One alpha-step on the D_V batch, then one w-step on the D_T batch (DARTS' order)."""
        self.net.train()
        grad = self.alpha_step(train, valid)
        loss, logits = self.w_step(train)
        return {
            "train_loss": float(loss),
            "train_acc": 100.0 * float((logits.argmax(1) == train[1]).float().mean()),
            "alpha_grad_norm": float(grad.norm()),
        }

    def end_epoch(self) -> None:
        self.w_scheduler.step()

    def derive(self) -> dict[str, Any]:
        return darts_genotype(self.alpha, self.config.with_none)

    def state_dict(self) -> dict[str, Any]:
        return {
            "supernet": module_state(self.net),
            "alpha": self.alpha.detach().cpu().clone(),
            "w_optimizer": self.w_optimizer.state_dict(),
            "w_scheduler": self.w_scheduler.state_dict(),
            "a_optimizer": self.a_optimizer.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.net.load_state_dict(state["supernet"])
        with torch.no_grad():
            self.alpha.copy_(state["alpha"])
        self.w_optimizer.load_state_dict(state["w_optimizer"])
        self.w_scheduler.load_state_dict(state["w_scheduler"])
        self.a_optimizer.load_state_dict(state["a_optimizer"])


# -- scoring the derived cell each epoch ---------------------------------------------
def oneshot_scorer(net: DARTSSupernet, batches: list[Batch]):
    """Scores the derived cell on fixed D_V batches with the search supernet's own weights
    (one path, batch-statistics BN: the rule of ``DARTSSupernet-v0``'s scoring)."""
    from nas_gym.supernets.proxy_task import score_path

    def score(derived: dict[str, Any]) -> dict[str, float]:
        acc, loss = score_path(net, batches, np.asarray(derived["alpha_d"], dtype=np.float32))
        return {"oneshot_valid_acc": acc, "oneshot_valid_loss": loss}

    return score


def env_scorer(env: Any):
    """Scores the derived cell through a ``DARTSSupernet-v0`` environment (sequential mode:
    a frozen pre-trained supernet), one ``step`` per epoch, like any agent's query."""
    env.reset(seed=0)

    def score(derived: dict[str, Any]) -> dict[str, float]:
        # via the genotype, so a search with(out) 'none' scores on a supernet in the other layout
        genotype = space.str_to_genotype(derived["genotype"])
        info = env.step(space.from_genotype(genotype, with_none=env.with_none))[4]
        return {
            "env_valid_acc": float(info["valid_acc"]),
            "env_valid_loss": float(info["valid_loss"]),
            "params_M": float(info["params_M"]),
            "flops_M": float(info["flops_M"]),
        }

    return score


def run_cli(args: argparse.Namespace) -> int:
    """``nas-gym search darts``: build task, supernet, trainer and scorers; run the loop."""
    from pathlib import Path

    from nas_gym.commands.flags import as_flags, check_supernet_flags
    from nas_gym.commands.search import search_config, search_task
    from nas_gym.oneshot.loop import run_search
    from nas_gym.supernets.pretrain import darts_fingerprint, init_parameters

    try:
        config = DARTSConfig(
            order=args.order,
            arch_lr=args.arch_lr,
            arch_weight_decay=args.arch_weight_decay,
            arch_grad_clip=args.arch_grad_clip,
            with_none=args.with_none,
        )
    except ValueError as err:  # name the flags, not the dataclass fields
        raise as_flags(err, "DARTSConfig") from None
    check_supernet_flags("darts", args)
    search = search_config(args)  # bad flags fail before any data is read
    task = search_task(args)
    search = search_config(args, task.image_size)
    net = DARTSSupernet(
        C=args.channels,
        num_cells=args.cells,
        num_classes=task.num_classes,
        pc_k=args.pc_k,
        in_channels=task.in_channels,
    )
    init_parameters(net, args.seed)
    net.to(search.device)
    trainer = DARTS(net, search, config)
    fingerprint = darts_fingerprint(
        net.config,
        args.with_none,
        args.dataset,
        args.resolution,
        task.train_fraction,
        task.split_seed,
        sampling=trainer.name,
    )
    batches = task.fixed_batches("valid", search.batch_size, args.score_batches, search.device)
    scorers = [oneshot_scorer(net, batches)]
    if args.score_checkpoint:
        scorers.append(env_scorer(_scoring_env(args, search)))

    def scorer(derived: dict[str, Any]) -> dict[str, float]:
        return {k: v for s in scorers for k, v in s(derived).items()}

    derived = run_search(
        trainer,
        task.d_train,
        task.d_valid,
        search,
        Path(args.out),
        fingerprint,
        scorer=scorer,
        progress=not args.no_progress,
        stop_after=args.stop_after,
    )
    print(f"derived cell: {derived['genotype']}")
    print(f"wrote {Path(args.out) / 'genotype.txt'} (train it with `nas-gym train-genotype`)")
    return 0


def _scoring_env(args: argparse.Namespace, search: SearchConfig) -> Any:
    """``DARTSSupernet-v0`` in sequential mode on the pre-trained ``--score-checkpoint``,
    with that checkpoint's supernet configuration and this run's data settings."""
    from nas_gym.envs.darts import DARTSSupernetEnv
    from nas_gym.supernets.pretrain import read_checkpoint

    fp = read_checkpoint(args.score_checkpoint)["fingerprint"]
    sup = fp.get("supernet", {})
    return DARTSSupernetEnv(
        mode="sequential",
        checkpoint=args.score_checkpoint,
        dataset=args.dataset,
        root=args.root,
        download=args.download,
        verify_data=not args.no_verify,
        resolution=args.resolution,
        train_fraction=args.train_fraction,
        split_seed=args.split_seed,
        C=sup.get("C", args.channels),
        num_cells=sup.get("num_cells", args.cells),
        stem_multiplier=sup.get("stem_multiplier", 3),
        pc_k=sup.get("pc_k"),
        with_none=bool(fp.get("with_none", args.with_none)),
        batch_size=search.batch_size,
        valid_batches=args.score_batches,
        max_queries=search.epochs,
        eval_channels=args.eval_channels,
        eval_cells=args.eval_cells,
        progress=False,
        device=search.device,
    )
