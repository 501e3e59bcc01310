"""``nas-gym search SEARCHER ...``: one-shot (gradient-based) search on a weight-sharing supernet.

Each searcher is a subcommand registered in :data:`SEARCHERS`. All of them share the
options of :func:`add_common_arguments` (data, D_T / D_V split, w optimizer, epochs,
output directory, device) and the loop of :mod:`nas_gym.oneshot.loop` (checkpoint
every epoch, exact resume, atomic ``history.csv`` / ``genotype.json`` / ``genotype.txt``).
Torch is imported only when a search runs, so ``nas-gym --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
from typing import Any

#: name -> (help, "module:add_arguments" or None, "module:run"). ``add_arguments(parser)``
#: adds the searcher's own options and ``run(args) -> int`` does the search; both modules
#: are imported only when that searcher's command line is parsed, so ``nas-gym info``
#: never imports torch. A searcher whose module is not installed says so when run.
SEARCHERS: dict[str, tuple[str, str | None, str]] = {
    "darts": (
        "DARTS, first or second order (Liu et al., ICLR 2019)",
        "nas_gym.commands.search:add_darts_arguments",
        "nas_gym.oneshot.darts:run_cli",
    ),
    "unas": (
        "UNAS (Vahdat et al., CVPR 2020): REBAR/RELAX on the generalization-gap loss",
        "nas_gym.oneshot.unas:add_arguments",
        "nas_gym.oneshot.unas:run_cli",
    ),
}


def _resolve(spec: str) -> Any:
    module, func = spec.split(":")
    return getattr(importlib.import_module(module), func)


class _SearcherParser(argparse.ArgumentParser):
    """A searcher's parser that adds its own options (``arguments``) on first use."""

    def __init__(self, *args: Any, arguments: str | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._arguments = arguments

    def _load(self) -> None:
        spec, self._arguments = self._arguments, None
        if spec is None:
            return
        try:
            _resolve(spec)(self)
        except ModuleNotFoundError as err:
            if err.name is None or not spec.startswith(err.name):
                raise
            self.set_defaults(func=_missing(self.prog, err.name))

    def parse_known_args(self, *args: Any, **kwargs: Any) -> Any:
        self._load()
        return super().parse_known_args(*args, **kwargs)

    def _parse_known_args(self, *args: Any, **kwargs: Any) -> Any:  # what some Pythons call
        self._load()
        return super()._parse_known_args(*args, **kwargs)

    def format_help(self) -> str:
        self._load()
        return super().format_help()


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "search", help="one-shot search on a supernet (DARTS, UNAS); resumes after a kill"
    )
    group = parser.add_subparsers(
        dest="searcher", metavar="SEARCHER", required=True, parser_class=_SearcherParser
    )
    for name, (help_text, add_spec, run_spec) in SEARCHERS.items():
        p = group.add_parser(name, help=help_text, description=help_text, arguments=add_spec)
        add_common_arguments(p)
        p.set_defaults(func=_runner(run_spec), searcher=name)


def _runner(spec: str):
    def run(args: argparse.Namespace) -> int:
        return int(_resolve(spec)(args) or 0)

    return run


def _missing(prog: str, module: str):
    def run(args: argparse.Namespace) -> int:
        raise ValueError(f"`{prog}` is not available in this install ({module} is missing)")

    return run


def add_common_arguments(p: argparse.ArgumentParser) -> None:
    """Options every searcher shares (the defaults are DARTS' search settings)."""
    p.add_argument(
        "--out",
        required=True,
        help="output directory: last.pt (an existing one is resumed), history.csv, genotype.json, genotype.txt",
    )
    data = p.add_argument_group("data")
    data.add_argument(
        "--dataset",
        default="cifar10",
        help="cifar10, cifar100, imagefolder, or digits / digits16 / digits32 (offline; as "
        "`supernet pretrain`)",
    )
    data.add_argument(
        "--root", default=None, help="dataset directory (default: $NAS_GYM_DATASETS_DIR)"
    )
    data.add_argument("--download", action="store_true", help="let torchvision download CIFAR")
    data.add_argument("--no-verify", action="store_true", help="skip the CIFAR MD5 check (subsets)")
    data.add_argument("--resolution", type=int, default=None, help="resize images to this side")
    data.add_argument(
        "--train-fraction", type=float, default=0.5, help="share of the training set in D_T"
    )
    data.add_argument("--split-seed", type=int, default=0, help="seed of the D_T / D_V split")
    train = p.add_argument_group("weights w (SGD, cosine schedule)")
    train.add_argument("--epochs", type=int, default=50, help="epochs over D_T (DARTS: 50)")
    train.add_argument("--batch-size", type=int, default=64, help="D_T and D_V batch size")
    train.add_argument("--lr", type=float, default=0.025, help="initial learning rate of w")
    train.add_argument("--lr-min", type=float, default=0.001, help="final cosine learning rate")
    train.add_argument("--momentum", type=float, default=0.9)
    train.add_argument("--weight-decay", type=float, default=3e-4)
    train.add_argument(
        "--grad-clip", type=float, default=5.0, help="gradient-norm clip of w (0 = off)"
    )
    train.add_argument("--no-augment", action="store_true", help="no random crop / flip on D_T")
    train.add_argument("--cutout", type=int, default=0, help="cutout length on D_T (0 = off)")
    train.add_argument(
        "--max-batches", type=int, default=None, help="cap steps per epoch (smoke runs)"
    )
    run = p.add_argument_group("run")
    run.add_argument("--seed", type=int, default=0, help="weights, alpha, data order, sampling")
    run.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    run.add_argument(
        "--score-batches",
        type=int,
        default=None,
        help="D_V batches that score the derived architecture each epoch (default: all)",
    )
    run.add_argument(
        "--stop-after",
        type=int,
        default=None,
        help="exit after this many epochs in this invocation (time-limited job slots); rerun to continue",
    )
    run.add_argument("--no-progress", action="store_true", help="no progress bar")


def add_darts_arguments(p: argparse.ArgumentParser) -> None:
    """``nas-gym search darts`` options (defaults: the DARTS code, cnn/train_search.py)."""
    g = p.add_argument_group("DARTS")
    g.add_argument(
        "--order",
        type=int,
        default=1,
        choices=(1, 2),
        help="1: first order; 2: unrolled second order",
    )
    g.add_argument("--arch-lr", type=float, default=3e-4, help="Adam learning rate of alpha")
    g.add_argument(
        "--arch-weight-decay", type=float, default=1e-3, help="Adam weight decay of alpha"
    )
    g.add_argument(
        "--arch-grad-clip", type=float, default=10.0, help="gradient-norm clip of alpha (0 = off)"
    )
    g.add_argument("--channels", type=int, default=16, help="supernet initial channels C")
    g.add_argument("--cells", type=int, default=8, help="supernet cells")
    g.add_argument("--pc-k", type=int, default=None, help="PC-DARTS partial channels K")
    g.add_argument(
        "--with-none",
        action="store_true",
        help="DARTS' 8 ops with 'none' (never in the final cell)",
    )
    s = p.add_argument_group("scoring the derived cell each epoch through DARTSSupernet-v0")
    s.add_argument(
        "--score-checkpoint",
        default=None,
        help="a pre-trained supernet (`nas-gym supernet pretrain --out DIR`): each epoch's cell is "
        "also scored by DARTSSupernet-v0 in sequential mode on it, like any agent's query",
    )
    s.add_argument("--eval-channels", type=int, default=36, help="params/FLOPs network channels")
    s.add_argument("--eval-cells", type=int, default=20, help="params/FLOPs network cells")


#: Smallest ``--resolution``: the supernets halve the side at least twice.
MIN_RESOLUTION = 8


def search_config(args: argparse.Namespace, image_size: int | None = None) -> Any:
    """The :class:`~nas_gym.oneshot.loop.SearchConfig` of the common options (validated,
    with errors naming the flags); call it before reading data, and again with the
    dataset's ``image_size`` for the crop padding (4 px at 32 px, scaled)."""
    from nas_gym.commands.flags import as_flags
    from nas_gym.data import check_out_dir
    from nas_gym.oneshot.loop import SearchConfig
    from nas_gym.supernets.datasets import (
        check_train_fraction,
        hflip_keeps_class,
        resolve_device,
    )

    res = args.resolution
    if res is not None and (res < MIN_RESOLUTION or res % 4):
        raise ValueError(
            f"--resolution must be >= {MIN_RESOLUTION} and a multiple of 4 (two reductions), got {res}"
        )
    for flag in ("score_batches", "stop_after"):
        value = getattr(args, flag)
        if value is not None and value < 1:
            raise ValueError(f"--{flag.replace('_', '-')} must be >= 1, got {value}")
    check_train_fraction(args.train_fraction, "--train-fraction")
    resolve_device(args.device)
    check_out_dir(args.out)
    side = res if res is not None else (image_size or 32)
    try:
        return SearchConfig(
            epochs=args.epochs,
            batch_size=args.batch_size,
            lr=args.lr,
            lr_min=args.lr_min,
            momentum=args.momentum,
            weight_decay=args.weight_decay,
            grad_clip=args.grad_clip,
            seed=args.seed,
            device=args.device,
            max_batches=args.max_batches,
            pad=0 if args.no_augment else max(1, round(4 * side / 32)),
            flip=not args.no_augment and hflip_keeps_class(args.dataset),  # no mirrored digits
            cutout=args.cutout,
        )
    except ValueError as err:  # name the flags, not the dataclass fields
        raise as_flags(err, "SearchConfig") from None


def search_task(args: argparse.Namespace) -> Any:
    """The :class:`~nas_gym.supernets.proxy_task.ProxyTask` (D_T / D_V) of the data options."""
    from nas_gym.supernets.proxy_task import ProxyTask

    return ProxyTask(
        args.dataset,
        args.root,
        download=args.download,
        verify=not args.no_verify,
        resolution=args.resolution,
        train_fraction=args.train_fraction,
        split_seed=args.split_seed,
    )
