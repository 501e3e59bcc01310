"""``DARTSSupernet-v0``: the DARTS space scored by a weight-sharing supernet on real images."""

from __future__ import annotations

import copy
import os
import sys
import time
from typing import Any

import numpy as np
import torch

from nas_gym.envs.common import check_choice, check_nonneg_int, check_positive_int, check_real
from nas_gym.envs.search import SearchEnv
from nas_gym.progress import progress_bar
from nas_gym.spaces import darts as space
from nas_gym.supernets import datasets as ds
from nas_gym.supernets.darts import DARTSSupernet
from nas_gym.supernets.darts_eval import params_and_flops
from nas_gym.supernets.pretrain import (
    check_finite_loss,
    darts_fingerprint,
    init_parameters,
    load_supernet_checkpoint,
    train_step,
)
from nas_gym.supernets.proxy_task import ProxyTask, score_path

MODES: tuple[str, ...] = ("parallel", "sequential")
WARMUPS: tuple[str, ...] = ("mixed", "uniform")
BN_MODES: tuple[str, ...] = ("batch", "recalibrate")
COSTS: tuple[str, ...] = ("flops", "params")
#: Which network the reported params/FLOPs (and the Pareto fronts) are measured on.
COST_NETWORKS: tuple[str, ...] = ("eval", "search")
#: In-environment warm-up length when neither ``warmup_steps`` nor ``warmup_epochs`` is given.
DEFAULT_WARMUP_STEPS = 100
#: Mills (2020, Sec. 3.4): DDAS warms the one-shot supernet up for 75 epochs, all ops active.
THESIS_WARMUP_EPOCHS = 75
#: The thesis' DDAS configuration beyond ``DARTSSupernet-DDAS-v0``'s defaults (Mills 2020,
#: Ch. 3): 75 epochs of mixed-op warm-up (Sec. 3.4), cells that may select ``none``
#: (only CADAM drops it, Sec. 4.2.2) and Pareto costs of the 6-cell search network
#: (Sec. 3.4). ``gym.make("DARTSSupernet-DDAS-v0", **DDAS_THESIS)``.
DDAS_THESIS: dict[str, Any] = {
    "warmup": "mixed",
    "warmup_epochs": THESIS_WARMUP_EPOCHS,
    "with_none": True,
    "select_none": True,
    "cost_network": "search",
}
_REWARDS = {"parallel": ("ddas", "accuracy", "cadam"), "sequential": ("cadam", "accuracy")}
#: The paper configuration of each mode, used where an argument is None (Mills 2020:
#: DDAS Sec. 3.2.1 / 3.4.1, CADAM Sec. 4.2.2 / 4.4.2). The registered ids
#: ``DARTSSupernet-DDAS-v0`` / ``DARTSSupernet-CADAM-v0`` spell them out.
MODE_DEFAULTS = {
    "parallel": {"num_cells": 6, "batch_size": 64, "reward": "ddas", "observation": "last"},
    "sequential": {"num_cells": 8, "batch_size": 250, "reward": "cadam", "observation": "topk"},
}

# Names kept where callers written before the move import them (now in spaces / supernets).
pretrain_fingerprint = darts_fingerprint
sample_darts_path = space.sample_path
_UniformPath = space.UniformPath


class DARTSSupernetEnv(SearchEnv):
    """The DARTS cell space (Liu et al. 2019) scored by a weight-sharing supernet.

    ## Description
    One episode is one search run; each ``step(alpha)`` maps alpha to one discrete
    architecture with Algorithm 2 of Mills (2020) (per node, two distinct incoming
    edges with their argmax ops) and scores it on D_V, the half of the official
    training set the supernet never trains on. Two modes (SPEC section 2):

    * ``"parallel"`` (DDAS, Mills 2020 Ch. 3): the supernet is warmed up once
      (all ops active, or uniform path sampling), then every step trains the chosen
      path for ``train_batches`` minibatches of D_T (SGD, momentum, constant ``lr``)
      and scores it (Algorithm 1). ``reset()`` restores the warmed-up weights, so
      each episode starts from the same supernet.
    * ``"sequential"`` (CADAM, Mills 2020 Ch. 4): the supernet comes pre-trained from
      ``checkpoint`` (``nas-gym supernet pretrain``) and stays frozen; scores are
      cached per architecture.

    Batch norm for a single path: the running statistics of a weight-sharing
    supernet mix every path it trained, so they fit no single path. With
    ``bn="batch"`` (default) scoring normalises each validation batch with its own
    statistics (train-mode BN; running statistics left untouched), as DARTS'
    search networks do. With ``bn="recalibrate"`` the running statistics are
    re-estimated for the path from ``recalibrate_batches`` fixed D_T batches, then
    the path is scored in eval mode (SPOS-style; slower, independent of how
    D_V is batched). Both restore the stored statistics afterwards.

    ## Action Space
    ``Box(0, 1, (2, 14, 7), float32)``: alpha for the normal (0) and reduction (1)
    cell, rows = edges node by node, columns = ``nas_gym.spaces.darts.OPS``.
    ``with_none=True`` gives ``(2, 14, 8)`` with ``none`` first, never selected
    unless ``select_none=True`` (DDAS cells; a ``none`` edge contributes zeros). A
    flat vector is accepted; NaN/inf or a wrong shape raise ``ValueError``.

    ## Observation Space
    ``Box(0, 1, action shape, float32)``: ``"last"`` (parallel default, DDAS) the
    previous step's alpha_d; ``"topk"`` (sequential default, CADAM) the mean alpha_d
    of the ``top_k`` best distinct architectures so far by validation accuracy.

    ## Rewards
    ``"ddas"`` (parallel default, Eq. 3.3): ``1/2 (Acc_t - Acc(OS)) + 1/2 (L_{t-1} - L_t)``,
    accuracies as decimals, L the mean validation cross-entropy, Acc(OS)/L_0 the
    warmed-up supernet's (the mixed supernet for ``warmup="mixed"``, the mean of
    ``os_samples`` uniform paths for ``"uniform"``). ``"cadam"`` (sequential default,
    Eq. 4.1): ``100 ** Acc``. ``"accuracy"``: Acc as a decimal.

    ## Episode End
    Never terminated; truncated after ``max_queries`` steps.

    ## Arguments
    * ``mode``: ``"parallel"`` or ``"sequential"``; ``reward``, ``observation``,
      ``num_cells`` and ``batch_size`` left at None take the mode's paper value
      (:data:`MODE_DEFAULTS`; the ids ``DARTSSupernet-DDAS-v0`` / ``-CADAM-v0`` fix them).
    * ``dataset``: ``"cifar10"``, ``"cifar100"``, ``"imagefolder"``, or ``"digits"`` /
      ``"digits16"`` / ``"digits32"`` (scikit-learn's 1,797 real 8x8 digits at 8, 16 or
      32 px, offline; ``pip install nas-gym[digits]``); ``root`` its
      directory (default ``$NAS_GYM_DATASETS_DIR`` or ``~/.local/share/nas_gym/datasets``);
      ``download`` and ``verify_data`` are passed to :func:`load_image_dataset`;
      ``resolution`` resizes images (None: native).
    * ``train_fraction``, ``split_seed``: the D_T / D_V split (0.5, as the thesis).
    * ``C``, ``num_cells``, ``stem_multiplier``, ``pc_k``, ``with_none``: the supernet
      (defaults C=16 and 6 cells in parallel, 8 cells in sequential mode).
    * ``select_none``: Algorithm 2 may select ``none`` (needs ``with_none=True``), as
      DDAS cells can (Mills 2020, Ch. 3; only CADAM removes ``none``, Sec. 4.2.2).
    * ``checkpoint``: pre-trained supernet (required in sequential mode; in parallel
      mode it replaces the warm-up, e.g. ``nas-gym supernet pretrain --sampling mixed``).
    * ``warmup``, ``warmup_steps``, ``warmup_epochs``, ``warmup_lr``, ``warmup_lr_min``,
      ``os_samples``: in-environment warm-up (cosine lr) when no checkpoint is given.
      Its length is ``warmup_steps`` minibatches (default 100: a quick start that keeps
      tests and small runs cheap) or ``warmup_epochs`` passes over D_T; the thesis warms
      up for 75 epochs (:data:`THESIS_WARMUP_EPOCHS`, in :data:`DDAS_THESIS`).
    * ``train_batches`` (M=25), ``lr`` (1e-3), ``momentum``, ``weight_decay``,
      ``grad_clip``, ``augment``: per-step path training in parallel mode.
    * ``batch_size`` (64 parallel / 250 sequential), ``valid_batches`` (None = all of
      D_V), ``bn``, ``recalibrate_batches``: scoring.
    * ``reward``, ``observation``, ``top_k`` (500), ``max_queries`` (500).
    * ``cost_network``: where params/FLOPs (and the Pareto fronts) come from:
      ``"eval"`` (default) the evaluation network of ``eval_channels`` (36) channels and
      ``eval_cells`` (20) cells, the DARTS/CADAM setting; ``"search"`` a network of the
      supernet's own size (``C``, ``num_cells``: 16 channels, 6 cells in DDAS mode), the
      thesis' DDAS setting (Sec. 3.4). ``eval_input_size``: its input side (the image
      size). ``info["cost_network"]`` names the network.
    * ``cost`` (``"flops"`` or ``"params"`` of the cost network), ``cost_target``,
      ``constraint``, ``penalty_lambda``, ``mnas_w``, ``infeasible_reward``: a cost
      constraint as on the other environments (:mod:`nas_gym.envs.constraints`).
    * ``budget_unit`` (``"query"``: every step counts; ``"unique"``: repeats are free)
      and ``max_steps`` (the step cap of a ``"unique"`` episode, default 100 x
      ``max_queries``; ``info["step_cap_reached"]``): see :class:`nas_gym.envs.search.SearchEnv`.
    * ``progress``: show the warm-up's progress bar on stderr (True).
    * ``seed``: supernet initialisation and warm-up (not the episode: use reset(seed)).
    * ``device``: ``"cpu"`` or ``"cuda[:N]"``.

    ## Info
    ``genotype`` (DARTS Genotype string), ``valid_acc`` (percent), ``valid_loss``,
    ``params_M``, ``flops_M`` (MACs, evaluation network), ``best_genotype``,
    ``best_valid_acc``, ``best_valid_loss``, ``best_params_M``, ``best_flops_M``,
    ``n_queries``, ``n_unique_queries``, ``os_valid_acc``/``os_valid_loss`` (parallel),
    ``pareto_flops`` and ``pareto_params`` (``((cost, valid_acc), ...)`` by cost),
    ``cost_network`` (which network those costs are measured on); with
    ``cost_target``: ``feasible``, ``best_feasible_genotype``, ``best_feasible_valid_acc``,
    ``best_feasible_cost``.
    :meth:`pareto_front` gives the fronts with genotypes.

    ## Version History
    * v1: ``flat=True``: 1-D action and observation spaces ``Box(0, 1, (prod(shape),))``,
      the row-major flattening of the alpha matrix; matrix actions are still accepted and
      ``env.unwrapped.alpha_shape`` is the matrix shape. The recommended id.
    * v0: initial release.
    """

    BEST_INFO = {
        "best_genotype": ("genotype", ""),
        "best_valid_acc": ("valid_acc", None),
        "best_valid_loss": ("valid_loss", None),
        "best_params_M": ("params_M", None),
        "best_flops_M": ("flops_M", None),
    }
    BEST_FEASIBLE_INFO = {
        "best_feasible_genotype": ("genotype", ""),
        "best_feasible_valid_acc": ("valid_acc", None),
        "best_feasible_cost": ("cost", None),
    }
    PARETO = {"pareto_flops": "flops_M", "pareto_params": "params_M"}
    ARCH_KEY = "genotype"
    REWARDS = ("ddas", "cadam", "accuracy")

    def __init__(
        self,
        mode: str = "parallel",
        dataset: str = "cifar10",
        root: str | os.PathLike[str] | None = None,
        download: bool = False,
        verify_data: bool = True,
        resolution: int | None = None,
        train_fraction: float = 0.5,
        split_seed: int = 0,
        C: int = 16,
        num_cells: int | None = None,
        stem_multiplier: int = 3,
        pc_k: int | None = None,
        with_none: bool = False,
        select_none: bool = False,
        checkpoint: str | os.PathLike[str] | None = None,
        warmup: str = "mixed",
        warmup_steps: int | None = None,
        warmup_epochs: float | None = None,
        warmup_lr: float = 0.025,
        warmup_lr_min: float = 0.001,
        os_samples: int = 8,
        train_batches: int = 25,
        lr: float = 1e-3,
        momentum: float = 0.9,
        weight_decay: float = 3e-4,
        grad_clip: float = 5.0,
        augment: bool = True,
        batch_size: int | None = None,
        valid_batches: int | None = None,
        bn: str = "batch",
        recalibrate_batches: int = 4,
        reward: str | None = None,
        observation: str | None = None,
        top_k: int = 500,
        max_queries: int = 500,
        eval_channels: int | None = None,
        eval_cells: int | None = None,
        eval_input_size: int | None = None,
        cost_network: str = "eval",
        cost: str | None = None,
        cost_target: float | None = None,
        constraint: str = "hard",
        penalty_lambda: float = 1.0,
        mnas_w: float = -0.07,
        infeasible_reward: float = 0.0,
        budget_unit: str = "query",
        max_steps: int | None = None,
        flat: bool = False,
        progress: bool = True,
        seed: int = 0,
        device: str = "cpu",
        render_mode: str | None = None,
    ):
        check_choice("mode", mode, MODES)
        defaults = MODE_DEFAULTS[mode]
        self.mode = mode
        check_choice("dataset", dataset, ds.DATASETS)
        check_choice("warmup", warmup, WARMUPS)
        check_choice("bn", bn, BN_MODES)
        reward = reward if reward is not None else defaults["reward"]
        check_choice(f"reward for mode {mode!r}", reward, _REWARDS[mode])
        if cost is not None:
            check_choice("cost", cost, COSTS)
        if cost_target is not None and cost is None:
            raise ValueError("cost_target needs a cost: pass cost='flops' or cost='params'")
        if mode == "sequential" and checkpoint is None:
            raise ValueError(
                "mode='sequential' needs checkpoint=PATH of a pre-trained supernet "
                "(make one with `nas-gym supernet pretrain --space darts --out DIR`)"
            )
        check_choice("cost_network", cost_network, COST_NETWORKS)
        if cost_network == "search" and (eval_channels is not None or eval_cells is not None):
            raise ValueError(
                "cost_network='search' measures costs on the supernet's own C and num_cells; "
                "eval_channels / eval_cells size the 'eval' network: pass one or the other"
            )
        self.with_none, self.select_none = bool(with_none), bool(select_none)
        self.cost = cost
        self._setup_search(
            space.shape(self.with_none),
            space.op_mask(self.with_none, self.select_none),
            reward=reward,
            observation=observation if observation is not None else defaults["observation"],
            top_k=top_k,
            max_queries=max_queries,
            render_mode=render_mode,
            cost_target=cost_target,
            constraint=constraint,
            penalty_lambda=penalty_lambda,
            mnas_w=mnas_w,
            infeasible_reward=infeasible_reward,
            budget_unit=budget_unit,
            max_steps=max_steps,
            flat=flat,
            rescores=mode == "parallel",
        )
        self.dataset = dataset
        self.resolution = (
            None if resolution is None else check_positive_int("resolution", resolution)
        )
        self.checkpoint = None if checkpoint is None else str(checkpoint)
        self.warmup = warmup
        if warmup_steps is not None and warmup_epochs is not None:
            raise ValueError(
                f"pass warmup_steps ({warmup_steps!r}) or warmup_epochs ({warmup_epochs!r}), "
                "not both"
            )
        self.warmup_epochs = (
            None if warmup_epochs is None else check_real("warmup_epochs", warmup_epochs, low=0.0)
        )
        self.warmup_steps = check_nonneg_int(
            "warmup_steps", DEFAULT_WARMUP_STEPS if warmup_steps is None else warmup_steps
        )
        self.warmup_lr = check_real("warmup_lr", warmup_lr, low=0.0, low_open=True)
        self.warmup_lr_min = check_real("warmup_lr_min", warmup_lr_min, low=0.0)
        if self.warmup_lr_min > self.warmup_lr:
            raise ValueError(
                f"warmup_lr_min ({warmup_lr_min!r}) must be <= warmup_lr ({warmup_lr!r})"
            )
        self.os_samples = check_positive_int("os_samples", os_samples)
        self.train_batches = check_positive_int("train_batches", train_batches)
        for name, value in (
            ("lr", lr),
            ("momentum", momentum),
            ("weight_decay", weight_decay),
            ("grad_clip", grad_clip),
        ):
            check_real(name, value, low=0.0)
        self.lr, self.momentum, self.weight_decay, self.grad_clip = (
            float(lr),
            float(momentum),
            float(weight_decay),
            float(grad_clip),
        )
        self.augment = bool(augment)
        self.batch_size = check_positive_int(
            "batch_size", batch_size if batch_size is not None else defaults["batch_size"]
        )
        self.valid_batches = (
            None if valid_batches is None else check_positive_int("valid_batches", valid_batches)
        )
        self.bn = bn
        self.recalibrate_batches = check_positive_int("recalibrate_batches", recalibrate_batches)
        self.cost_network = cost_network
        num_cells = num_cells if num_cells is not None else defaults["num_cells"]
        if cost_network == "search":
            self.eval_channels = check_positive_int("C", C)
            self.eval_cells = check_positive_int("num_cells", num_cells)
        else:
            self.eval_channels = check_positive_int(
                "eval_channels", 36 if eval_channels is None else eval_channels
            )
            self.eval_cells = check_positive_int(
                "eval_cells", 20 if eval_cells is None else eval_cells
            )
        self.progress = bool(progress)
        self.seed = int(seed)
        self.device = ds.resolve_device(device)

        self.task = ProxyTask(
            dataset,
            root,
            download=download,
            verify=verify_data,
            resolution=self.resolution,
            train_fraction=train_fraction,
            split_seed=split_seed,
        )
        self.num_classes, self.image_size = self.task.num_classes, self.task.image_size
        self.eval_input_size = check_positive_int(
            "eval_input_size", eval_input_size if eval_input_size is not None else self.image_size
        )
        if self.warmup_epochs is not None:  # passes over D_T, in minibatches
            per_epoch = len(self.task.d_train) / self.batch_size
            self.warmup_steps = int(np.ceil(self.warmup_epochs * per_epoch))
        self.cost_network_label = (
            f"{cost_network} network: C={self.eval_channels}, {self.eval_cells} cells, "
            f"{self.eval_input_size}x{self.eval_input_size} input"
        )
        net = DARTSSupernet(
            C=C,
            num_cells=num_cells,
            num_classes=self.num_classes,
            stem_multiplier=stem_multiplier,
            pc_k=pc_k,
            in_channels=self.task.in_channels,
        )
        self.fingerprint = darts_fingerprint(
            net.config,
            self.with_none,
            dataset,
            self.resolution,
            self.task.train_fraction,
            self.task.split_seed,
            sampling="uniform" if mode == "sequential" else warmup,
        )
        init_parameters(net, self.seed)
        if self.checkpoint is not None:
            load_supernet_checkpoint(self.checkpoint, net, self.fingerprint)
        self._net = net.to(self.device)
        if mode == "sequential":
            self._net.requires_grad_(False)
        self._warm_state: dict[str, torch.Tensor] | None = None
        self._os_metrics: tuple[float, float] | None = None
        self._score_cache: dict[str, tuple[float, float]] = {}
        self.last_timings: dict[str, float] = {}
        self._perm: torch.Tensor | None = None
        self._pos = 0
        self._optimizer: torch.optim.Optimizer | None = None
        self._prev_loss: float | None = None

    # -- data ------------------------------------------------------------------
    def _valid(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        return self.task.fixed_batches(
            "valid", self.batch_size, self.valid_batches, self.device, salt=1
        )

    def _recalibration(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        return self.task.fixed_batches(
            "train", self.batch_size, self.recalibrate_batches, self.device, salt=2
        )

    def _next_train_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Shuffled passes over D_T drawn from the episode's data generator.

        The epoch permutation and position are plain state (no DataLoader iterator),
        so a pickled environment continues with exactly the same batches.
        """
        d_train = self.task.d_train
        if self._perm is None or self._pos + self.batch_size > len(self._perm):
            self._perm = torch.randperm(len(d_train), generator=self._data_gen)
            self._pos = 0
        idx = self._perm[self._pos : self._pos + self.batch_size].tolist()
        self._pos += self.batch_size
        samples = [d_train[i] for i in idx]
        x = torch.stack([s[0] for s in samples])
        y = torch.as_tensor([int(s[1]) for s in samples], dtype=torch.long)
        x, y = x.to(self.device), y.to(self.device)
        if self.augment:
            pad = max(1, round(4 * self.image_size / 32))
            x = ds.augment_batch(x, self._aug_gen, pad=pad, flip=self.task.hflip)
        return x, y

    # -- supernet --------------------------------------------------------------
    def _score(self, alpha_d: np.ndarray | None) -> tuple[float, float]:
        """(accuracy %, mean cross-entropy) of a path (None: the mixed supernet) on D_V."""
        recalibration = self._recalibration() if self.bn == "recalibrate" else None
        return score_path(self._net, self._valid(), alpha_d, recalibration)

    def _warm_up(self) -> None:
        """Parallel mode, once per environment: warm up (unless a checkpoint did), measure Acc(OS)."""
        net = self._net
        if self.checkpoint is None and self.warmup_steps:
            gen = torch.Generator().manual_seed(self.seed + 1)
            self._data_gen, self._aug_gen = gen, torch.Generator().manual_seed(self.seed + 2)
            self._perm = None
            rng = np.random.default_rng(self.seed)
            opt = torch.optim.SGD(
                net.parameters(),
                lr=self.warmup_lr,
                momentum=self.momentum,
                weight_decay=self.weight_decay,
            )
            sched = torch.optim.lr_scheduler.CosineAnnealingLR(
                opt, T_max=self.warmup_steps, eta_min=self.warmup_lr_min
            )
            net.train()
            steps = progress_bar(
                range(self.warmup_steps),
                desc=f"DARTSSupernet-v0 warm-up ({self.warmup}, once per env)",
                unit="batch",
                file=sys.stderr,
                disable=not self.progress,
                leave=False,
            )
            for step in steps:
                alpha_d = (
                    space.sample_path(rng, self.with_none, self.select_none)
                    if self.warmup == "uniform"
                    else None
                )
                x, y = self._next_train_batch()
                loss, _ = train_step(net, opt, x, y, alpha_d, self.grad_clip)
                check_finite_loss(loss, f"warm-up batch {step + 1}", opt.param_groups[0]["lr"])
                sched.step()
            steps.close()
            self._perm = None
        if self.warmup == "mixed":
            self._os_metrics = self._score(None)
        else:
            rng = np.random.default_rng(self.seed + 3)
            scores = [
                self._score(space.sample_path(rng, self.with_none, self.select_none))
                for _ in range(self.os_samples)
            ]
            self._os_metrics = (
                float(np.mean([s[0] for s in scores])),
                float(np.mean([s[1] for s in scores])),
            )
        self._warm_state = copy.deepcopy(net.state_dict())

    # -- episode ---------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        obs, info = super().reset(seed=seed, options=options)
        self._prev_loss = None
        if self.mode == "parallel" and self._warm_state is None:
            self._warm_up()  # once per environment, with its own generators
        self._valid()  # load the fixed D_V batches now, not inside the first step
        episode_seeds = self.np_random.integers(0, 2**62, size=2)
        self._data_gen = torch.Generator().manual_seed(int(episode_seeds[0]))
        self._aug_gen = torch.Generator().manual_seed(int(episode_seeds[1]))
        self._perm = None
        if self.mode == "parallel":
            self._net.load_state_dict(self._warm_state)
            self._optimizer = torch.optim.SGD(
                self._net.parameters(),
                lr=self.lr,
                momentum=self.momentum,
                weight_decay=self.weight_decay,
            )
            self._prev_loss = self._os_metrics[1]
            info.update(os_valid_acc=self._os_metrics[0], os_valid_loss=self._os_metrics[1])
        return obs, info

    # -- the space and its evaluation ------------------------------------------
    def _architecture(self, alpha: np.ndarray) -> str:
        """Algorithm 2 of Mills (2020), keyed by the genotype string."""
        alpha_d = space.discretize(alpha, self.with_none, self.select_none)
        genotype = space.genotype_to_str(space.to_genotype(alpha_d))
        self._alpha_d = alpha_d
        return genotype

    def _active(self, genotype: str) -> np.ndarray:
        return np.flatnonzero(self._alpha_d.reshape(-1))

    def _evaluate(self, genotype: str) -> tuple[float, float | None, dict[str, Any]]:
        if self.mode == "parallel" and self._optimizer is None:
            raise RuntimeError("call reset() before step()")
        alpha_d = self._alpha_d
        t0 = time.perf_counter()
        if self.mode == "parallel":
            self._net.train()
            for batch in range(self.train_batches):
                x, y = self._next_train_batch()
                loss, _ = train_step(self._net, self._optimizer, x, y, alpha_d, self.grad_clip)
                check_finite_loss(loss, f"query {self._n_queries + 1}, batch {batch + 1}", self.lr)
            t1 = time.perf_counter()
            acc, loss = self._score(alpha_d)
        else:
            t1 = t0
            if genotype not in self._score_cache:
                self._score_cache[genotype] = self._score(alpha_d)
            acc, loss = self._score_cache[genotype]
        t2 = time.perf_counter()
        self.last_timings = {"train_s": t1 - t0, "score_s": t2 - t1}
        params_m, flops_m = params_and_flops(
            genotype,
            C=self.eval_channels,
            layers=self.eval_cells,
            num_classes=self.num_classes,
            input_size=self.eval_input_size,
            in_channels=int(self._net.config["in_channels"]),
        )
        self.last_timings["cost_s"] = time.perf_counter() - t2
        if self.reward == "ddas":  # Eq. 3.3: accuracy gain over the supernet + loss drop
            os_acc = self._os_metrics[0]
            self._ddas_reward = 0.5 * (acc - os_acc) / 100.0 + 0.5 * (self._prev_loss - loss)
        self._prev_loss = loss
        record = {
            "genotype": genotype,
            "valid_acc": acc,
            "valid_loss": loss,
            "params_M": params_m,
            "flops_M": flops_m,
        }
        cost = None if self.cost is None else record[f"{self.cost}_M"]
        return acc, cost, record

    def _reward(self, objective: float, record: dict[str, Any]) -> float:
        return self._ddas_reward  # the only reward of this env outside common.REWARDS

    def _extra_info(self, info: dict[str, Any]) -> None:
        info["cost_network"] = self.cost_network_label
        if self.mode == "parallel":
            info["os_valid_acc"], info["os_valid_loss"] = self._os_metrics

    def pareto_front(self, cost: str = "flops", search: str = "current") -> list[dict[str, Any]]:
        """Front of validation accuracy vs ``"flops"`` or ``"params"``: dicts with
        ``genotype``, ``valid_acc``, the cost (``flops_M``/``params_M``), the ``step`` it was
        found and ``cost_network`` (the network the cost is measured on). ``search``:
        ``"current"`` (the running search) or ``"last"`` (the one the latest ``reset()``
        ended; see :meth:`SearchEnv.search_result`)."""
        check_choice("cost", cost, COSTS)
        name = f"{cost}_M"
        return [
            {
                "genotype": p["key"],
                "valid_acc": p["value"],
                name: p["cost"],
                "step": p["step"],
                "cost_network": self.cost_network_label,
            }
            for p in self._front_points(f"pareto_{cost}", search)
        ]

    def topk_genotypes(self, search: str = "current") -> list[str]:
        """Genotype strings in the top-K state, best first (observation ``"topk"``), of the
        running search or, with ``search="last"``, of the one the latest ``reset()`` ended
        (SB3 resets the env when ``learn`` spends its budget; see
        :meth:`SearchEnv.search_result`)."""
        return [str(k) for k in self._topk_keys(search)]

    # -- pickling: torch generators and the optimizer travel as their states ------------
    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        for key in ("_data_gen", "_aug_gen"):
            if key in state:
                state[key] = state[key].get_state()
        if state.get("_optimizer") is not None:
            state["_optimizer"] = state["_optimizer"].state_dict()
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        opt_state = state.pop("_optimizer", None)
        self.__dict__.update(state)
        for key in ("_data_gen", "_aug_gen"):
            if key in state:
                gen = torch.Generator()
                gen.set_state(state[key])
                setattr(self, key, gen)
        self._optimizer = None
        if opt_state is not None:
            self._optimizer = torch.optim.SGD(
                self._net.parameters(),
                lr=self.lr,
                momentum=self.momentum,
                weight_decay=self.weight_decay,
            )
            self._optimizer.load_state_dict(opt_state)
