"""``ProxylessNAS-v0``: latency-constrained search in the MobileNetV2 space.

Accuracy comes from a weight-sharing supernet (:mod:`nas_gym.supernets.mobilenet`)
pre-trained by uniform single-path sampling on a proxy task (any torchvision
dataset, any resolution); latency comes from a lookup table of the target device at
224x224 (:mod:`nas_gym.benchmarks.latency`). The two are deliberately separate, as
in ProxylessNAS (Cai et al., ICLR 2019) and UNAS (Vahdat et al., CVPR 2020).
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces
from torch import nn
from torch.utils.data import DataLoader, Subset

from nas_gym.benchmarks.latency import LatencyTable, load_lut
from nas_gym.envs.common import (
    OBSERVATIONS,
    TopKState,
    check_budget_left,
    check_choice,
    check_positive_int,
    check_render_mode,
    read_only_copy,
    reward_fn,
    validate_action,
)
from nas_gym.envs.constraints import CONSTRAINTS, Constraint
from nas_gym.envs.pareto import ParetoFront
from nas_gym.spaces import proxyless as space
from nas_gym.supernets import datasets as ds
from nas_gym.supernets.mobilenet import ProxylessSupernet
from nas_gym.supernets.pretrain import init_parameters, load_supernet_checkpoint

_ROW_BASE = np.arange(space.N_LAYERS) * space.N_OPS
_FORKED = False


def _mark_forked() -> None:
    global _FORKED
    _FORKED = True


# torch's OpenMP thread pool does not survive fork(): a worker forked from a process that
# already ran torch ops (gymnasium's AsyncVectorEnv uses fork on Linux) deadlocks on its
# first parallel op. Such workers run torch single-threaded (one env per worker process).
os.register_at_fork(after_in_child=_mark_forked)


def _fork_safe_threads() -> None:
    if _FORKED and torch.get_num_threads() > 1:
        torch.set_num_threads(1)


def default_data_root() -> Path:
    """Image datasets: ``$NAS_GYM_DATASETS_DIR``, else the user data directory (as DARTSSupernet-v0)."""
    from nas_gym.envs.darts import default_data_root as darts_root

    return darts_root()


def pretrain_fingerprint(
    width_mult: float,
    num_classes: int,
    dataset: str,
    resolution: int | None,
    train_fraction: float,
    split_seed: int,
) -> dict[str, Any]:
    """What a ProxylessNAS supernet checkpoint was trained for; the environment refuses any other."""
    return {
        "space": "proxyless",
        "sampling": "uniform",
        "supernet": {"width_mult": float(width_mult), "num_classes": int(num_classes)},
        "dataset": dataset,
        "resolution": resolution,
        "train_fraction": float(train_fraction),
        "split_seed": int(split_seed),
    }


class UniformPath:
    """Picklable ``sample_discrete`` for ``pretrain_supernet``: alpha ~ U(0, 1), discretized."""

    def __call__(self, rng: np.random.Generator) -> tuple[int, ...]:
        return space.sample_ops(rng)


def build_pretrain(
    args: Any, num_classes: int, in_channels: int
) -> tuple[nn.Module, UniformPath, dict[str, Any]]:
    """Builder for ``nas-gym supernet pretrain --space proxyless`` (see ``PRETRAIN_SPACES``)."""
    if in_channels != 3:
        raise ValueError(f"the MobileNetV2 supernet takes RGB images, got {in_channels} channels")
    width = float(getattr(args, "width_mult", 1.0))
    net = ProxylessSupernet(num_classes=num_classes, width_mult=width)
    fingerprint = pretrain_fingerprint(
        width, num_classes, args.dataset, args.resolution, args.train_fraction, args.split_seed
    )
    return net, UniformPath(), fingerprint


class ProxylessNASEnv(gym.Env):
    """The ProxylessNAS / MobileNetV2 space under a latency budget.

    ## Description
    One episode is one search run. Each ``step(alpha)`` maps alpha to one of the
    ~2.2e17 architectures of the SPEC's ProxylessNAS space (argmax per layer over the
    ops allowed there), scores it with a frozen weight-sharing supernet on D_V (the
    half of the training set the supernet never trained on) and looks up its latency
    in a table measured on the target device at 224x224. Scores are cached per
    architecture, so a repeated query costs nothing. Accuracy is that of the *proxy*
    task (dataset and resolution of the supernet), latency that of the real network.

    ## Action Space
    ``Box(0, 1, (21, 7), float32)``: one row per searchable layer, columns
    ``e3k3, e3k5, e3k7, e6k3, e6k5, e6k7, zero`` (MBConv expand x kernel, or skip the
    layer). ``zero`` is ignored on the first layer of each stage. A flat ``(147,)``
    vector is accepted; NaN/inf or a wrong shape raise ``ValueError``.

    ## Observation Space
    ``Box(0, 1, (21, 7), float32)``: ``"topk"`` (default, CADAM) the mean one-hot of the
    ``top_k`` best distinct architectures so far (by the constrained score); ``"last"``
    (DDAS) the previous step's one-hot.

    ## Rewards
    From the validation accuracy ``acc`` (decimal) and the latency ``lat``. Without a
    ``latency_target`` the score is ``acc``; with one, ``constraint`` picks
    ``"hard"`` (infeasible -> ``infeasible_reward``, flagged in info), ``"unas"``
    (``acc - penalty_lambda * max(0, lat/target - 1)``, UNAS) or ``"mnas"``
    (``acc * (lat/target) ** mnas_w`` beyond the target, MnasNet, Tan et al. 2019). The
    score then goes through ``reward``: ``"cadam"`` ``100 ** score`` (Mills 2020,
    Eq. 4.1) or ``"accuracy"`` ``score``.

    ## Episode End
    Never terminated; truncated after ``max_queries`` steps.

    ## Arguments
    * ``lut``: latency table: ``"pixel1"`` (ProxylessNAS' Google Pixel 1 table, the
      default), ``"cpu"``/``"cuda"`` (this machine's table from ``nas-gym latency
      measure``), a path to a table file, or a loaded ``LatencyTable``.
    * ``latency_target`` (ms, None = unconstrained), ``constraint`` (``"hard"``),
      ``penalty_lambda`` (1.0), ``mnas_w`` (-0.07), ``infeasible_reward`` (0.0).
    * ``dataset`` (``"cifar10"``, ``"cifar100"``, ``"imagefolder"``), ``root``,
      ``download``, ``verify_data``, ``resolution`` (proxy input side; None = native),
      ``train_fraction``, ``split_seed``: the proxy task and its D_T / D_V split.
    * ``checkpoint``: a supernet pre-trained with ``nas-gym supernet pretrain --space
      proxyless`` (or :func:`nas_gym.supernets.pretrain.pretrain_supernet`); without
      one the supernet keeps its random initialisation (API tests only: chance accuracy).
    * ``width_mult``: supernet channel multiplier (must match the checkpoint).
    * ``batch_size`` (256), ``valid_batches`` (None = all of D_V): scoring.
    * ``reward`` (``"cadam"``), ``observation`` (``"topk"``), ``top_k`` (64),
      ``max_queries`` (500), ``seed`` (supernet initialisation), ``device``.

    ## Info
    ``arch`` (string form, ``nas_gym.spaces.proxyless.str_to_ops`` reads it back),
    ``valid_acc`` (percent), ``valid_loss``, ``latency_ms``, ``flops_M`` (MACs) and
    ``params_M`` of the deployed 224x224, 1000-class network, ``feasible``
    (``latency_ms <= latency_target``; True without a target), ``best_arch``,
    ``best_valid_acc``, ``best_latency_ms`` (best by the constrained score),
    ``best_feasible_arch``, ``best_feasible_valid_acc``, ``best_feasible_latency_ms``
    ("" / None until a feasible one is found), ``n_queries``, ``n_unique_queries``, and
    ``pareto_latency``: the front of (latency_ms, valid_acc) pairs by latency.
    :meth:`pareto_front` returns it with architectures.

    ## Version History
    * v0: initial release.
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 4}

    def __init__(
        self,
        lut: str | os.PathLike[str] | LatencyTable = "pixel1",
        latency_target: float | None = None,
        constraint: str = "hard",
        penalty_lambda: float = 1.0,
        mnas_w: float = -0.07,
        infeasible_reward: float = 0.0,
        dataset: str = "cifar10",
        root: str | os.PathLike[str] | None = None,
        download: bool = False,
        verify_data: bool = True,
        resolution: int | None = None,
        train_fraction: float = 0.5,
        split_seed: int = 0,
        checkpoint: str | os.PathLike[str] | None = None,
        width_mult: float = 1.0,
        batch_size: int = 256,
        valid_batches: int | None = None,
        reward: str = "cadam",
        observation: str = "topk",
        top_k: int = 64,
        max_queries: int = 500,
        seed: int = 0,
        device: str = "cpu",
        data_dir: str | os.PathLike[str] | None = None,
        render_mode: str | None = None,
    ):
        check_choice("constraint", constraint, CONSTRAINTS)
        check_choice("reward", reward, ("cadam", "accuracy"))
        check_choice("observation", observation, OBSERVATIONS)
        check_choice("dataset", dataset, ds.DATASETS)
        check_render_mode(render_mode, tuple(self.metadata["render_modes"]))
        self.reward, self.observation, self.render_mode = reward, observation, render_mode
        self._reward_fn = reward_fn(reward)
        self._constraint = (
            None
            if latency_target is None
            else Constraint(
                latency_target, constraint, penalty_lambda, mnas_w, 0.0, infeasible_reward
            )
        )
        self.latency_target = None if latency_target is None else float(latency_target)
        self.top_k = check_positive_int("top_k", top_k)
        self.max_queries = check_positive_int("max_queries", max_queries)
        self.batch_size = check_positive_int("batch_size", batch_size)
        self.valid_batches = (
            None if valid_batches is None else check_positive_int("valid_batches", valid_batches)
        )
        self.resolution = (
            None if resolution is None else check_positive_int("resolution", resolution)
        )
        self.dataset = dataset
        self.root = Path(root).expanduser() if root is not None else default_data_root()
        self.train_fraction, self.split_seed = float(train_fraction), int(split_seed)
        self.checkpoint = None if checkpoint is None else str(checkpoint)
        self.seed = int(seed)
        self.device = ds.resolve_device(device)

        self._lut_arg = lut if isinstance(lut, LatencyTable) else str(lut)
        self._data_dir = None if data_dir is None else str(data_dir)
        self._attach_lut(load_lut(lut, data_dir))

        self.action_space = spaces.Box(0.0, 1.0, space.SHAPE, dtype=np.float32)
        self.observation_space = spaces.Box(0.0, 1.0, space.SHAPE, dtype=np.float32)
        self.op_mask = space.op_mask()

        _fork_safe_threads()
        mean, std = ds.normalization(dataset)
        transform = ds.cifar_transforms(train=False, mean=mean, std=std, resolution=self.resolution)
        train_set = ds.load_image_dataset(
            dataset,
            self.root,
            train=True,
            transform=transform,
            download=download,
            verify=verify_data,
        )
        self.num_classes = ds.num_classes(dataset, train_set)
        _, self._d_valid = ds.split_train(train_set, self.train_fraction, self.split_seed)
        net = ProxylessSupernet(num_classes=self.num_classes, width_mult=width_mult)
        self.fingerprint = pretrain_fingerprint(
            width_mult,
            self.num_classes,
            dataset,
            self.resolution,
            self.train_fraction,
            self.split_seed,
        )
        init_parameters(net, self.seed)
        if self.checkpoint is not None:
            load_supernet_checkpoint(self.checkpoint, net, self.fingerprint)
        self._net = net.to(self.device).requires_grad_(False)
        self._valid_data: list[tuple[torch.Tensor, torch.Tensor]] | None = None
        self._score_cache: dict[tuple[int, ...], tuple[float, float]] = {}
        self._topk = TopKState(self.top_k, space.SHAPE)
        self._pareto = ParetoFront()
        self._reset_search()

    # -- latency table -----------------------------------------------------------------
    def _attach_lut(self, table: LatencyTable) -> None:
        """Per-layer latencies as nested lists (a step is then 21 list reads); errors if incomplete."""
        self._lut = table
        self._lut_fixed, self._lut_rows = table.layer_matrix()

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_valid_data"] = None  # device tensors: rebuilt on demand
        for key in ("_lut", "_lut_fixed", "_lut_rows"):
            state.pop(key)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._attach_lut(load_lut(self._lut_arg, self._data_dir))

    @property
    def lut(self) -> LatencyTable:
        return self._lut

    def latency_ms(self, ops: tuple[int, ...]) -> float:
        """Latency of an architecture from the table (the sum of its blocks)."""
        rows = self._lut_rows
        return self._lut_fixed + sum(rows[i][o] for i, o in enumerate(ops))

    # -- scoring -----------------------------------------------------------------------
    def _valid(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        if self._valid_data is None:
            order = torch.randperm(
                len(self._d_valid),
                generator=torch.Generator().manual_seed(self.split_seed * 1000 + 1),
            )
            if self.valid_batches is not None:
                order = order[: self.valid_batches * self.batch_size]
            loader = DataLoader(
                Subset(self._d_valid, order.tolist()), batch_size=self.batch_size, shuffle=False
            )
            self._valid_data = [(x.to(self.device), y.to(self.device)) for x, y in loader]
        return self._valid_data

    def _score(self, ops: tuple[int, ...]) -> tuple[float, float]:
        """(accuracy %, mean cross-entropy) of one path on D_V.

        Batch norm uses each validation batch's own statistics (running statistics
        untouched), because a supernet's running statistics mix every path it trained.
        """
        _fork_safe_threads()
        net = self._net
        bns = [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        saved = [(m.momentum, copy.deepcopy(m.state_dict())) for m in bns]
        net.eval()
        loss_sum, correct, seen = 0.0, 0, 0
        try:
            for m in bns:
                m.train()
                m.momentum = 0.0
            with torch.no_grad():
                for x, y in self._valid():
                    logits = net(x, ops)
                    loss_sum += float(nn.functional.cross_entropy(logits, y, reduction="sum"))
                    correct += int((logits.argmax(1) == y).sum())
                    seen += len(y)
        finally:
            for m, (momentum, state) in zip(bns, saved, strict=True):
                m.load_state_dict(state)
                m.momentum = momentum
                m.eval()
        return 100.0 * correct / seen, loss_sum / seen

    # -- episode -----------------------------------------------------------------------
    def _reset_search(self) -> None:
        self._topk.reset()
        self._pareto.clear()
        self._last = np.zeros(space.SHAPE, dtype=np.float32)
        self._seen: set[tuple[int, ...]] = set()
        self._n_queries = 0
        self._arch = ""
        self._best: dict[str, Any] | None = None
        self._best_objective = -np.inf
        self._best_feasible: dict[str, Any] | None = None

    def _obs(self) -> np.ndarray:
        return self._topk.state() if self.observation == "topk" else self._last.copy()

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self._reset_search()
        return self._obs(), {
            "n_queries": 0,
            "n_unique_queries": 0,
            "op_mask": read_only_copy(self.op_mask),
        }

    def step(self, action):
        check_budget_left(self._n_queries, self.max_queries)
        alpha = validate_action(action, space.SHAPE)
        ops = space.discretize(alpha)
        if ops not in self._score_cache:
            self._score_cache[ops] = self._score(ops)
        acc, loss = self._score_cache[ops]
        latency = self.latency_ms(ops)
        arch = space.ops_to_str(ops)
        constraint = self._constraint
        feasible = True
        objective: float | None = acc
        if constraint is not None:
            feasible = constraint.feasible(latency)
            constrained = constraint.score(acc / 100.0, latency)
            objective = None if constrained is None else 100.0 * constrained
        record = {
            "arch": arch,
            "valid_acc": acc,
            "valid_loss": loss,
            "latency_ms": latency,
            "flops_M": space.flops_M(ops),
            "params_M": space.params_M(ops),
        }
        self._n_queries += 1
        self._arch = arch
        if ops not in self._seen:
            self._seen.add(ops)
            if objective is not None:
                if self.observation == "topk":
                    self._topk.push(ops, _ROW_BASE + np.asarray(ops), objective)
                if objective > self._best_objective:
                    self._best_objective, self._best = objective, record
            if feasible and (self._best_feasible is None or acc > self._best_feasible["valid_acc"]):
                self._best_feasible = record
            self._pareto.add(arch, acc, latency, step=self._n_queries)
        if self.observation == "last":
            self._last = space.ops_to_discrete(ops)
        best, bf = self._best, self._best_feasible
        info = {
            **record,
            "feasible": bool(feasible),
            "best_arch": best["arch"] if best else "",
            "best_valid_acc": best["valid_acc"] if best else None,
            "best_latency_ms": best["latency_ms"] if best else None,
            "best_feasible_arch": bf["arch"] if bf else "",
            "best_feasible_valid_acc": bf["valid_acc"] if bf else None,
            "best_feasible_latency_ms": bf["latency_ms"] if bf else None,
            "n_queries": self._n_queries,
            "n_unique_queries": len(self._seen),
            "pareto_latency": self._pareto.compact(),
        }
        reward = constraint.infeasible_reward if objective is None else self._reward_fn(objective)
        truncated = self._n_queries >= self.max_queries
        return self._obs(), float(reward), False, bool(truncated), info

    def pareto_front(self) -> list[dict[str, Any]]:
        """Front of validation accuracy vs latency: dicts with ``arch``, ``valid_acc``,
        ``latency_ms`` and the ``step`` it was found, by increasing latency."""
        return [
            {"arch": p["key"], "valid_acc": p["value"], "latency_ms": p["cost"], "step": p["step"]}
            for p in self._pareto.points()
        ]

    def render(self) -> str | None:
        if self.render_mode != "ansi":
            return None
        return self._arch
