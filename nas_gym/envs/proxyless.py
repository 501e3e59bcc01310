"""``ProxylessNAS-v0``: latency-constrained search in the MobileNetV2 space.

Accuracy comes from a weight-sharing supernet (:mod:`nas_gym.supernets.mobilenet`)
pre-trained by uniform single-path sampling on a proxy task (any torchvision
dataset, any resolution); latency comes from a lookup table of the target device at
224x224 (:mod:`nas_gym.benchmarks.latency`). The two are deliberately separate, as
in ProxylessNAS (Cai et al., ICLR 2019) and UNAS (Vahdat et al., CVPR 2020).
"""

from __future__ import annotations

import os
import warnings
from typing import Any

import numpy as np
import torch

from nas_gym.benchmarks.latency import LatencyTable, load_lut
from nas_gym.data import default_data_root  # noqa: F401  (kept importable from here)
from nas_gym.envs.common import check_choice, check_positive_int
from nas_gym.envs.search import SearchEnv
from nas_gym.spaces import proxyless as space
from nas_gym.supernets import datasets as ds
from nas_gym.supernets.mobilenet import ProxylessSupernet
from nas_gym.supernets.pretrain import (
    build_proxyless,
    init_parameters,
    load_supernet_checkpoint,
    proxyless_fingerprint,
)
from nas_gym.supernets.proxy_task import ProxyTask, score_path

# Names kept where callers written before the move import them (now in spaces / supernets / data).
build_pretrain = build_proxyless
pretrain_fingerprint = proxyless_fingerprint
UniformPath = space.UniformPath

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


class UntrainedSupernetWarning(UserWarning):
    """A supernet environment scores with randomly initialised weights (chance accuracy)."""


class ProxylessNASEnv(SearchEnv):
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
    * ``budget_unit`` (``"query"``: every step counts; ``"unique"``: repeats are free)
      and ``max_steps`` (the step cap of a ``"unique"`` episode, default 100 x
      ``max_queries``; ``info["step_cap_reached"]``): see :class:`nas_gym.envs.search.SearchEnv`.
    * ``untrained_ok``: without a ``checkpoint`` the env warns
      (:class:`UntrainedSupernetWarning`) unless this is True.

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
    * v1: ``flat=True``: 1-D action and observation spaces ``Box(0, 1, (prod(shape),))``,
      the row-major flattening of the alpha matrix; matrix actions are still accepted and
      ``env.unwrapped.alpha_shape`` is the matrix shape. The recommended id.
    * v0: initial release.
    """

    BEST_INFO = {
        "best_arch": ("arch", ""),
        "best_valid_acc": ("valid_acc", None),
        "best_latency_ms": ("latency_ms", None),
    }
    BEST_FEASIBLE_INFO = {
        "best_feasible_arch": ("arch", ""),
        "best_feasible_valid_acc": ("valid_acc", None),
        "best_feasible_latency_ms": ("latency_ms", None),
    }
    PARETO = {"pareto_latency": "latency_ms"}
    FEASIBILITY_ALWAYS = True
    COST_TARGET_KEYWORD = "latency_target"

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
        budget_unit: str = "query",
        max_steps: int | None = None,
        flat: bool = False,
        untrained_ok: bool = False,
    ):
        check_choice("dataset", dataset, ds.DATASETS)
        self._setup_search(
            space.SHAPE,
            space.op_mask(),
            reward=reward,
            observation=observation,
            top_k=top_k,
            max_queries=max_queries,
            render_mode=render_mode,
            cost_target=latency_target,
            constraint=constraint,
            penalty_lambda=penalty_lambda,
            mnas_w=mnas_w,
            infeasible_reward=infeasible_reward,
            budget_unit=budget_unit,
            max_steps=max_steps,
            flat=flat,
        )
        self.latency_target = None if latency_target is None else float(latency_target)
        self.batch_size = check_positive_int("batch_size", batch_size)
        self.valid_batches = (
            None if valid_batches is None else check_positive_int("valid_batches", valid_batches)
        )
        self.resolution = (
            None if resolution is None else check_positive_int("resolution", resolution)
        )
        self.dataset = dataset
        self.checkpoint = None if checkpoint is None else str(checkpoint)
        self.seed = int(seed)
        self.device = ds.resolve_device(device)
        self.lut = load_lut(lut, data_dir)
        self._lut_fixed, self._lut_rows = self.lut.layer_matrix()
        if self.latency_target is not None:
            fastest = self._lut_fixed + sum(
                min(float(rows_i[o]) for o in np.flatnonzero(space.ALLOWED[i]))
                for i, rows_i in enumerate(self._lut_rows)
            )
            if self.latency_target < fastest:
                raise ValueError(
                    f"latency_target {self.latency_target} ms is below every architecture's "
                    f"latency (the fastest takes {fastest:.3f} ms on {self.lut.source.name}); "
                    "raise the target or drop it"
                )

        _fork_safe_threads()
        self.task = ProxyTask(
            dataset,
            root,
            download=download,
            verify=verify_data,
            resolution=self.resolution,
            train_fraction=train_fraction,
            split_seed=split_seed,
        )
        self.num_classes = self.task.num_classes
        net = ProxylessSupernet(num_classes=self.num_classes, width_mult=width_mult)
        self.fingerprint = proxyless_fingerprint(
            width_mult,
            self.num_classes,
            dataset,
            self.resolution,
            self.task.train_fraction,
            self.task.split_seed,
        )
        init_parameters(net, self.seed)
        if self.checkpoint is not None:
            load_supernet_checkpoint(self.checkpoint, net, self.fingerprint)
        elif not untrained_ok:
            warnings.warn(
                "ProxylessNAS-v0 without checkpoint= scores every architecture with a randomly "
                "initialised supernet (chance accuracy): pre-train one with `nas-gym supernet "
                "pretrain --space proxyless --out DIR` and pass checkpoint=DIR/last.pt, or pass "
                "untrained_ok=True for API tests",
                UntrainedSupernetWarning,
                stacklevel=2,
            )
        self._net = net.to(self.device).requires_grad_(False)
        self._score_cache: dict[tuple[int, ...], tuple[float, float]] = {}

    def latency_ms(self, ops: tuple[int, ...]) -> float:
        """Latency of an architecture from the table (the sum of its blocks)."""
        rows = self._lut_rows
        return self._lut_fixed + sum(rows[i][o] for i, o in enumerate(ops))

    # -- the space and its evaluation ----------------------------------------------------
    def _architecture(self, alpha: np.ndarray) -> tuple[int, ...]:
        return space.discretize(alpha)

    def _active(self, ops: tuple[int, ...]) -> np.ndarray:
        return _ROW_BASE + np.asarray(ops)

    def _evaluate(self, ops: tuple[int, ...]) -> tuple[float, float, dict[str, Any]]:
        if ops not in self._score_cache:
            self._score_cache[ops] = self._score(ops)
        acc, loss = self._score_cache[ops]
        latency = self.latency_ms(ops)
        record = {
            "arch": space.ops_to_str(ops),
            "valid_acc": acc,
            "valid_loss": loss,
            "latency_ms": latency,
            "flops_M": space.flops_M(ops),
            "params_M": space.params_M(ops),
        }
        return acc, latency, record

    def _valid(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        return self.task.fixed_batches("valid", self.batch_size, self.valid_batches, self.device)

    def _score(self, ops: tuple[int, ...]) -> tuple[float, float]:
        """(accuracy %, mean cross-entropy) of one path on D_V, BN on batch statistics."""
        _fork_safe_threads()
        return score_path(self._net, self._valid(), ops)

    def pareto_front(self, search: str = "current") -> list[dict[str, Any]]:
        """Front of validation accuracy vs latency: dicts with ``arch``, ``valid_acc``,
        ``latency_ms`` and the ``step`` it was found, by increasing latency. ``search``:
        ``"current"`` (the running search) or ``"last"`` (the one the latest ``reset()``
        ended; see :meth:`SearchEnv.search_result`)."""
        return [
            {
                "arch": space.ops_to_str(p["key"]),
                "valid_acc": p["value"],
                "latency_ms": p["cost"],
                "step": p["step"],
            }
            for p in self._front_points("pareto_latency", search)
        ]
