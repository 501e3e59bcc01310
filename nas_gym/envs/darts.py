"""``DARTSSupernet-v0``: the DARTS space scored by a weight-sharing supernet on real images."""

from __future__ import annotations

import copy
import os
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces
from torch import nn
from torch.utils.data import DataLoader, Subset

from nas_gym.data import user_data_dir
from nas_gym.envs.common import (
    TopKState,
    cadam_reward,
    check_budget_left,
    check_choice,
    check_positive_int,
    read_only_copy,
    validate_action,
)
from nas_gym.envs.pareto import ParetoFront
from nas_gym.spaces import darts as space
from nas_gym.supernets import datasets as ds
from nas_gym.supernets.darts import DARTSSupernet
from nas_gym.supernets.darts_eval import params_and_flops
from nas_gym.supernets.pretrain import (
    forward_logits,
    init_parameters,
    load_supernet_checkpoint,
    train_step,
)

MODES: tuple[str, ...] = ("parallel", "sequential")
WARMUPS: tuple[str, ...] = ("mixed", "uniform")
BN_MODES: tuple[str, ...] = ("batch", "recalibrate")
_REWARDS = {"parallel": ("ddas", "accuracy", "cadam"), "sequential": ("cadam", "accuracy")}
_DEFAULTS = {
    # Mills (2020): DDAS Sec. 3.2.1 / 3.4.1, CADAM Sec. 4.2.2 / 4.4.2.
    "parallel": {"num_cells": 6, "batch_size": 64, "reward": "ddas", "observation": "last"},
    "sequential": {"num_cells": 8, "batch_size": 250, "reward": "cadam", "observation": "topk"},
}


def default_data_root() -> Path:
    """Where image datasets are looked for when ``root`` is not given."""
    env = os.environ.get("NAS_GYM_DATASETS_DIR")
    return Path(env) if env else user_data_dir() / "datasets"


def pretrain_fingerprint(
    supernet_config: dict[str, Any],
    with_none: bool,
    dataset: str,
    resolution: int | None,
    train_fraction: float,
    split_seed: int,
    sampling: str = "uniform",
) -> dict[str, Any]:
    """What a DARTS supernet checkpoint was trained for; the environment refuses any other.

    The split is part of it: a checkpoint trained on another D_T may have seen this D_V.
    ``sampling`` is ``"uniform"`` (single paths, CADAM) or ``"mixed"`` (all ops, DDAS warm-up).
    """
    return {
        "space": "darts",
        "sampling": sampling,
        "with_none": bool(with_none),
        "supernet": dict(supernet_config),
        "dataset": dataset,
        "resolution": resolution,
        "train_fraction": float(train_fraction),
        "split_seed": int(split_seed),
    }


def sample_darts_path(rng: np.random.Generator, with_none: bool = False) -> np.ndarray:
    """Uniform single-path sampling (Mills 2020, Sec. 4.1.3): Algorithm 2 applied to alpha ~ U(0, 1)."""
    return space.discretize(space.sample_uniform(rng, with_none), with_none)


class _UniformPath:
    """Picklable ``sample_discrete`` for :func:`nas_gym.supernets.pretrain.pretrain_supernet`."""

    def __init__(self, with_none: bool = False):
        self.with_none = with_none

    def __call__(self, rng: np.random.Generator) -> np.ndarray:
        return sample_darts_path(rng, self.with_none)


def _bn_modules(net: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    return [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


class DARTSSupernetEnv(gym.Env):
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
    ``with_none=True`` gives ``(2, 14, 8)`` with ``none`` first, never selected. A
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
    * ``mode``: ``"parallel"`` or ``"sequential"``.
    * ``dataset``: ``"cifar10"``, ``"cifar100"`` or ``"imagefolder"``; ``root`` its
      directory (default ``$NAS_GYM_DATASETS_DIR`` or ``~/.local/share/nas_gym/datasets``);
      ``download`` and ``verify_data`` are passed to :func:`load_image_dataset`;
      ``resolution`` resizes images (None: native).
    * ``train_fraction``, ``split_seed``: the D_T / D_V split (0.5, as the thesis).
    * ``C``, ``num_cells``, ``stem_multiplier``, ``pc_k``, ``with_none``: the supernet
      (defaults C=16 and 6 cells in parallel, 8 cells in sequential mode).
    * ``checkpoint``: pre-trained supernet (required in sequential mode; in parallel
      mode it replaces the warm-up, e.g. ``nas-gym supernet pretrain --sampling mixed``).
    * ``warmup``, ``warmup_steps``, ``warmup_lr``, ``warmup_lr_min``, ``os_samples``:
      in-environment warm-up (minibatches; cosine lr) when no checkpoint is given.
    * ``train_batches`` (M=25), ``lr`` (1e-3), ``momentum``, ``weight_decay``,
      ``grad_clip``, ``augment``: per-step path training in parallel mode.
    * ``batch_size`` (64 parallel / 250 sequential), ``valid_batches`` (None = all of
      D_V), ``bn``, ``recalibrate_batches``: scoring.
    * ``reward``, ``observation``, ``top_k`` (500), ``max_queries`` (500).
    * ``eval_channels``, ``eval_cells``, ``eval_input_size``: the evaluation network
      whose params/FLOPs are reported (36 channels, 20 cells, the image size).
    * ``seed``: supernet initialisation and warm-up (not the episode: use reset(seed)).
    * ``device``: ``"cpu"`` or ``"cuda[:N]"``.

    ## Info
    ``genotype`` (DARTS Genotype string), ``valid_acc`` (percent), ``valid_loss``,
    ``params_M``, ``flops_M`` (MACs, evaluation network), ``best_genotype``,
    ``best_valid_acc``, ``best_valid_loss``, ``best_params_M``, ``best_flops_M``,
    ``n_queries``, ``n_unique_queries``, ``os_valid_acc``/``os_valid_loss`` (parallel),
    ``pareto_flops`` and ``pareto_params`` (``((cost, valid_acc), ...)`` by cost).
    :meth:`pareto_front` gives the fronts with genotypes.

    ## Version History
    * v0: initial release.
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 4}

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
        checkpoint: str | os.PathLike[str] | None = None,
        warmup: str = "mixed",
        warmup_steps: int = 100,
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
        eval_channels: int = 36,
        eval_cells: int = 20,
        eval_input_size: int | None = None,
        seed: int = 0,
        device: str = "cpu",
        render_mode: str | None = None,
    ):
        check_choice("mode", mode, MODES)
        defaults = _DEFAULTS[mode]
        self.mode = mode
        check_choice("dataset", dataset, ds.DATASETS)
        check_choice("warmup", warmup, WARMUPS)
        check_choice("bn", bn, BN_MODES)
        check_choice("render_mode", render_mode, (None, "ansi"))
        self.reward = reward if reward is not None else defaults["reward"]
        check_choice(f"reward for mode {mode!r}", self.reward, _REWARDS[mode])
        self.observation = observation if observation is not None else defaults["observation"]
        check_choice("observation", self.observation, ("topk", "last"))
        if mode == "sequential" and checkpoint is None:
            raise ValueError(
                "mode='sequential' needs checkpoint=PATH of a pre-trained supernet "
                "(make one with `nas-gym supernet pretrain --space darts --out DIR`)"
            )
        self.dataset = dataset
        self.root = Path(root).expanduser() if root is not None else default_data_root()
        self.download, self.verify_data = bool(download), bool(verify_data)
        self.resolution = (
            None if resolution is None else check_positive_int("resolution", resolution)
        )
        self.train_fraction, self.split_seed = float(train_fraction), int(split_seed)
        self.with_none = bool(with_none)
        self.checkpoint = None if checkpoint is None else str(checkpoint)
        self.warmup = warmup
        self.warmup_steps = int(warmup_steps)
        if self.warmup_steps < 0:
            raise ValueError(f"warmup_steps must be >= 0, got {warmup_steps!r}")
        self.warmup_lr, self.warmup_lr_min = float(warmup_lr), float(warmup_lr_min)
        self.os_samples = check_positive_int("os_samples", os_samples)
        self.train_batches = check_positive_int("train_batches", train_batches)
        for name, value in (
            ("lr", lr),
            ("momentum", momentum),
            ("weight_decay", weight_decay),
            ("grad_clip", grad_clip),
        ):
            if not np.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
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
        self.top_k = check_positive_int("top_k", top_k)
        self.max_queries = check_positive_int("max_queries", max_queries)
        self.eval_channels = check_positive_int("eval_channels", eval_channels)
        self.eval_cells = check_positive_int("eval_cells", eval_cells)
        self.seed = int(seed)
        self.device = ds.resolve_device(device)
        self.render_mode = render_mode

        self._shape = space.shape(self.with_none)
        self.action_space = spaces.Box(0.0, 1.0, self._shape, dtype=np.float32)
        self.observation_space = spaces.Box(0.0, 1.0, self._shape, dtype=np.float32)
        self.op_mask = space.op_mask(self.with_none)

        train_set = self._load_data()
        sample = train_set[0][0]
        self.image_size = int(sample.shape[-1])
        self.eval_input_size = check_positive_int(
            "eval_input_size", eval_input_size if eval_input_size is not None else self.image_size
        )

        net = DARTSSupernet(
            C=C,
            num_cells=num_cells if num_cells is not None else defaults["num_cells"],
            num_classes=self.num_classes,
            stem_multiplier=stem_multiplier,
            pc_k=pc_k,
            in_channels=int(sample.shape[0]),
        )
        self.fingerprint = pretrain_fingerprint(
            net.config,
            self.with_none,
            dataset,
            self.resolution,
            self.train_fraction,
            self.split_seed,
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
        self._topk = TopKState(self.top_k, self._shape)
        self._pareto_flops, self._pareto_params = ParetoFront(), ParetoFront()
        self.last_timings: dict[str, float] = {}
        self._reset_runtime()
        self._reset_search()

    # -- data ------------------------------------------------------------------
    def _load_data(self):
        """Read the training set and split it into D_T / D_V (again after unpickling, instead of
        copying the images through the pickle)."""
        mean, std = ds.normalization(self.dataset)
        transform = ds.cifar_transforms(train=False, resolution=self.resolution, mean=mean, std=std)
        train_set = ds.load_image_dataset(
            self.dataset,
            self.root,
            train=True,
            transform=transform,
            download=self.download,
            verify=self.verify_data,
        )
        self.num_classes = ds.num_classes(self.dataset, train_set)
        self._d_train, self._d_valid = ds.split_train(
            train_set, self.train_fraction, self.split_seed
        )
        return train_set

    def _reset_runtime(self) -> None:
        """Objects that are rebuilt rather than pickled (iterators, tensors on the device)."""
        self._valid_data: list[tuple[torch.Tensor, torch.Tensor]] | None = None
        self._recal_data: list[tuple[torch.Tensor, torch.Tensor]] | None = None
        self._perm: torch.Tensor | None = None
        self._pos = 0
        self._optimizer: torch.optim.Optimizer | None = None

    def _fixed_batches(
        self, subset: Subset, n_batches: int | None, salt: int
    ) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """The first ``n_batches`` batches of a fixed permutation of ``subset`` (all if None), on the device."""
        order = torch.randperm(
            len(subset), generator=torch.Generator().manual_seed(self.split_seed * 1000 + salt)
        )
        if n_batches is not None:
            order = order[: n_batches * self.batch_size]
        loader = DataLoader(
            Subset(subset, order.tolist()), batch_size=self.batch_size, shuffle=False
        )
        return [(x.to(self.device), y.to(self.device)) for x, y in loader]

    def _valid(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        if self._valid_data is None:
            self._valid_data = self._fixed_batches(self._d_valid, self.valid_batches, salt=1)
        return self._valid_data

    def _recalibration(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        if self._recal_data is None:
            self._recal_data = self._fixed_batches(self._d_train, self.recalibrate_batches, salt=2)
        return self._recal_data

    def _next_train_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Shuffled passes over D_T drawn from the episode's data generator.

        The epoch permutation and position are plain state (no DataLoader iterator),
        so a pickled environment continues with exactly the same batches.
        """
        if self._perm is None or self._pos + self.batch_size > len(self._perm):
            self._perm = torch.randperm(len(self._d_train), generator=self._data_gen)
            self._pos = 0
        idx = self._perm[self._pos : self._pos + self.batch_size].tolist()
        self._pos += self.batch_size
        samples = [self._d_train[i] for i in idx]
        x = torch.stack([s[0] for s in samples])
        y = torch.as_tensor([int(s[1]) for s in samples], dtype=torch.long)
        x, y = x.to(self.device), y.to(self.device)
        if self.augment:
            pad = max(1, round(4 * self.image_size / 32))
            x = ds.augment_batch(x, self._aug_gen, pad=pad, flip=True)
        return x, y

    # -- supernet --------------------------------------------------------------
    def _score(self, alpha_d: np.ndarray | None) -> tuple[float, float]:
        """(accuracy %, mean cross-entropy) of a path (None: the mixed supernet) on D_V."""
        net = self._net
        bns = _bn_modules(net)
        # "batch" leaves the running statistics as they are (momentum 0) and only bumps the
        # batch counters; "recalibrate" overwrites them. Either way they are put back.
        full = self.bn == "recalibrate"
        saved = [
            (
                m.training,
                m.momentum,
                {k: v.clone() for k, v in m.state_dict().items()} if full else None,
            )
            for m in bns
        ]
        counters = [
            m.num_batches_tracked.clone() if m.num_batches_tracked is not None else None
            for m in bns
        ]
        was_training = net.training
        net.eval()
        loss_sum, correct, seen = 0.0, 0, 0
        try:
            with torch.no_grad():
                if self.bn == "recalibrate":
                    for m in bns:
                        m.reset_running_stats()
                        m.momentum = None  # cumulative average over the recalibration batches
                        m.train()
                    for x, _ in self._recalibration():
                        forward_logits(net, x, alpha_d)
                    for m in bns:
                        m.eval()
                else:
                    for m in bns:
                        m.train()
                        m.momentum = 0.0  # batch statistics; running statistics unchanged
                for x, y in self._valid():
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
            for _ in range(self.warmup_steps):
                alpha_d = (
                    sample_darts_path(rng, self.with_none) if self.warmup == "uniform" else None
                )
                x, y = self._next_train_batch()
                train_step(net, opt, x, y, alpha_d, self.grad_clip)
                sched.step()
            self._perm = None
        if self.warmup == "mixed":
            self._os_metrics = self._score(None)
        else:
            rng = np.random.default_rng(self.seed + 3)
            scores = [
                self._score(sample_darts_path(rng, self.with_none)) for _ in range(self.os_samples)
            ]
            self._os_metrics = (
                float(np.mean([s[0] for s in scores])),
                float(np.mean([s[1] for s in scores])),
            )
        self._warm_state = copy.deepcopy(net.state_dict())

    # -- episode ---------------------------------------------------------------
    def _reset_search(self) -> None:
        self._topk.reset()
        self._pareto_flops.clear()
        self._pareto_params.clear()
        self._last = np.zeros(self._shape, dtype=np.float32)
        self._seen: set[str] = set()
        self._n_queries = 0
        self._best: dict[str, Any] | None = None
        self._genotype = ""
        self._prev_loss: float | None = None

    def _obs(self) -> np.ndarray:
        return self._topk.state() if self.observation == "topk" else self._last.copy()

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self._reset_search()
        if self.mode == "parallel" and self._warm_state is None:
            self._warm_up()  # once per environment, with its own generators
        self._valid()  # load the fixed D_V batches now, not inside the first step
        episode_seeds = self.np_random.integers(0, 2**62, size=2)
        self._data_gen = torch.Generator().manual_seed(int(episode_seeds[0]))
        self._aug_gen = torch.Generator().manual_seed(int(episode_seeds[1]))
        self._perm = None
        info: dict[str, Any] = {
            "n_queries": 0,
            "n_unique_queries": 0,
            "op_mask": read_only_copy(self.op_mask),
        }
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
        return self._obs(), info

    def step(self, action):
        check_budget_left(self._n_queries, self.max_queries)
        if self.mode == "parallel" and self._optimizer is None:
            raise RuntimeError("call reset() before step()")
        alpha = validate_action(action, self._shape)
        alpha_d = space.discretize(alpha, self.with_none)
        genotype = space.genotype_to_str(space.to_genotype(alpha_d))
        t0 = time.perf_counter()
        if self.mode == "parallel":
            self._net.train()
            for _ in range(self.train_batches):
                x, y = self._next_train_batch()
                train_step(self._net, self._optimizer, x, y, alpha_d, self.grad_clip)
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

        if self.reward == "ddas":
            os_acc = self._os_metrics[0]
            reward = 0.5 * (acc - os_acc) / 100.0 + 0.5 * (self._prev_loss - loss)
        elif self.reward == "cadam":
            reward = cadam_reward(acc)
        else:
            reward = acc / 100.0
        self._prev_loss = loss

        self._n_queries += 1
        self._genotype = genotype
        if genotype not in self._seen:
            self._seen.add(genotype)
        if self.observation == "topk":
            self._topk.push(genotype, np.flatnonzero(alpha_d.reshape(-1)), acc)
        else:
            self._last = alpha_d.astype(np.float32, copy=True)
        record = {
            "genotype": genotype,
            "valid_acc": acc,
            "valid_loss": loss,
            "params_M": params_m,
            "flops_M": flops_m,
        }
        if self._best is None or acc > self._best["valid_acc"]:
            self._best = record
        self._pareto_flops.add(genotype, acc, flops_m, step=self._n_queries)
        self._pareto_params.add(genotype, acc, params_m, step=self._n_queries)
        info = {
            **record,
            **{f"best_{k}": v for k, v in self._best.items()},
            "n_queries": self._n_queries,
            "n_unique_queries": len(self._seen),
            "pareto_flops": self._pareto_flops.compact(),
            "pareto_params": self._pareto_params.compact(),
        }
        if self.mode == "parallel":
            info.update(os_valid_acc=self._os_metrics[0], os_valid_loss=self._os_metrics[1])
        truncated = self._n_queries >= self.max_queries
        return self._obs(), float(reward), False, bool(truncated), info

    def pareto_front(self, cost: str = "flops") -> list[dict[str, Any]]:
        """Current front of validation accuracy vs ``"flops"`` or ``"params"``: dicts with
        ``genotype``, ``valid_acc``, the cost (``flops_M``/``params_M``) and the ``step`` it was found."""
        check_choice("cost", cost, ("flops", "params"))
        front = self._pareto_flops if cost == "flops" else self._pareto_params
        name = f"{cost}_M"
        return [
            {"genotype": p["key"], "valid_acc": p["value"], name: p["cost"], "step": p["step"]}
            for p in front.points()
        ]

    def topk_genotypes(self) -> list[str]:
        """Genotype strings in the top-K state, best first (observation ``"topk"``)."""
        return [str(k) for k in self._topk.keys()]

    def render(self) -> str | None:
        if self.render_mode != "ansi":
            return None
        return self._genotype

    # -- pickling --------------------------------------------------------------
    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        for key in ("_valid_data", "_recal_data", "_d_train", "_d_valid"):
            state[key] = None
        for key in ("_data_gen", "_aug_gen"):
            if key in state:
                state[key] = state[key].get_state()
        if state.get("_optimizer") is not None:
            state["_optimizer"] = state["_optimizer"].state_dict()
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        opt_state = state.pop("_optimizer", None)
        self.__dict__.update(state)
        self._load_data()
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
