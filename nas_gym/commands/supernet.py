"""``nas-gym supernet ...``: pre-train a weight-sharing supernet; plot a run's Pareto fronts.

``pretrain`` is search-space-agnostic: ``--space NAME`` picks a builder from
:data:`PRETRAIN_SPACES` that returns the supernet, its uniform path sampler and the
fingerprint the matching environment checks when it loads the checkpoint.
"""

from __future__ import annotations

import argparse
import importlib
from typing import Any

#: Search spaces ``pretrain`` can train: name -> ``"module:function"``; the function takes
#: ``(args, num_classes, in_channels)`` and returns ``(supernet, sample_discrete, fingerprint)``.
PRETRAIN_SPACES: dict[str, str] = {
    "darts": "nas_gym.commands.supernet:build_darts",
    "proxyless": "nas_gym.supernets.pretrain:build_proxyless",
}


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "supernet", help="pre-train a weight-sharing supernet, plot Pareto fronts"
    )
    group = parser.add_subparsers(dest="supernet_command", metavar="ACTION", required=True)

    p = group.add_parser(
        "pretrain",
        help="train a supernet by uniform single-path sampling (Mills 2020, Sec. 4.1.3); resumes after a kill",
    )
    p.add_argument("--space", default="darts", choices=sorted(PRETRAIN_SPACES), help="search space")
    p.add_argument(
        "--out",
        required=True,
        help="checkpoint directory (DIR/last.pt; an existing one is resumed)",
    )
    p.add_argument(
        "--dataset",
        default="cifar10",
        help="cifar10, cifar100, imagefolder, or digits / digits16 / digits32 (offline)",
    )
    p.add_argument(
        "--root", default=None, help="dataset directory (default: $NAS_GYM_DATASETS_DIR)"
    )
    p.add_argument(
        "--download", action="store_true", help="let torchvision download CIFAR (needs internet)"
    )
    p.add_argument(
        "--no-verify", action="store_true", help="skip the CIFAR MD5 check (CIFAR-format subsets)"
    )
    p.add_argument(
        "--resolution", type=int, default=None, help="resize images to this side (default: native)"
    )
    p.add_argument(
        "--train-fraction", type=float, default=0.5, help="share of the training set in D_T"
    )
    p.add_argument("--split-seed", type=int, default=0, help="seed of the D_T / D_V split")
    p.add_argument(
        "--sampling",
        default="uniform",
        choices=("uniform", "mixed"),
        help="uniform single paths (CADAM) or all ops at once (DDAS warm-up)",
    )
    p.add_argument(
        "--epochs", type=int, default=1, help="epochs over D_T (thesis: 10000 on CIFAR-10)"
    )
    p.add_argument("--batch-size", type=int, default=64, help="minibatch size (thesis: 250)")
    p.add_argument("--lr", type=float, default=0.025, help="initial learning rate")
    p.add_argument("--lr-min", type=float, default=0.001, help="final cosine learning rate")
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--weight-decay", type=float, default=3e-4)
    p.add_argument("--grad-clip", type=float, default=5.0, help="gradient-norm clip (0 = off)")
    p.add_argument("--no-augment", action="store_true", help="no random crop / flip")
    p.add_argument(
        "--cutout", type=int, default=0, help="cutout length (0 = off; thesis DARTS supernet: 16)"
    )
    p.add_argument(
        "--max-batches", type=int, default=None, help="cap batches per epoch (smoke runs)"
    )
    p.add_argument("--num-workers", type=int, default=0, help="DataLoader workers")
    p.add_argument(
        "--seed",
        type=int,
        default=0,
        help="weights, architecture sampling, augmentation, data order",
    )
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    darts = p.add_argument_group("darts space")
    darts.add_argument("--channels", type=int, default=16, help="initial channels C (thesis: 16)")
    darts.add_argument(
        "--cells", type=int, default=8, help="cells (thesis: 8 for CADAM, 6 for DDAS)"
    )
    darts.add_argument(
        "--pc-k", type=int, default=None, help="PC-DARTS partial channels K (e.g. 4)"
    )
    darts.add_argument(
        "--with-none", action="store_true", help="8-op layout with 'none' (never selected)"
    )
    p.add_argument(
        "--width-mult", type=float, default=1.0, help="proxyless space: channel multiplier"
    )
    p.set_defaults(func=_pretrain)

    q = group.add_parser(
        "pareto",
        help="plot accuracy-vs-cost Pareto fronts of a run's history as a PNG",
        description=PARETO_FILES,
    )
    q.add_argument("history", help="run file (see above)")
    q.add_argument("--out", required=True, help="PNG path")
    q.add_argument("--value", default="valid_acc", help="key to maximise (default: valid_acc)")
    q.add_argument(
        "--costs",
        nargs="+",
        default=["flops_M", "params_M"],
        help="keys to minimise, one panel each (default: flops_M params_M)",
    )
    q.add_argument(
        "--target",
        action="append",
        default=[],
        metavar="COST=VALUE",
        help="draw a cost constraint as a line, e.g. latency_ms=80 (repeatable)",
    )
    q.add_argument("--title", default=None)
    q.set_defaults(func=_pareto)


#: What ``nas-gym supernet pareto`` reads (its --help and its error messages say this).
PARETO_FILES = (
    "Reads a run's per-step records: a JSON list of info dicts (DARTSSupernet-v0: "
    "valid_acc, flops_M, params_M; ProxylessNAS-v0: valid_acc, latency_ms), an object "
    "whose 'history' is such a list or a dict of columns, JSON lines, or a `nas-gym bench` "
    "run file (RUN_DIR/runs/*.json, NASBench201-v0), whose flops_M and params_M are looked "
    "up from each step's arch_index."
)


def build_darts(
    args: argparse.Namespace, num_classes: int, in_channels: int
) -> tuple[Any, Any, dict[str, Any]]:
    """DARTS supernet, Algorithm-2 uniform sampler and the fingerprint ``DARTSSupernet-v0`` expects."""
    from nas_gym.spaces.darts import UniformPath as _UniformPath
    from nas_gym.supernets.darts import DARTSSupernet
    from nas_gym.supernets.pretrain import darts_fingerprint as pretrain_fingerprint

    net = DARTSSupernet(
        C=args.channels,
        num_cells=args.cells,
        num_classes=num_classes,
        pc_k=args.pc_k,
        in_channels=in_channels,
    )
    fingerprint = pretrain_fingerprint(
        net.config,
        args.with_none,
        args.dataset,
        args.resolution,
        args.train_fraction,
        args.split_seed,
        sampling=args.sampling,
    )
    return net, _UniformPath(args.with_none), fingerprint


#: Smallest ``--resolution``: the supernets halve the side at least twice.
MIN_RESOLUTION = 8


def _check_pretrain_args(args: argparse.Namespace, config_cls: Any) -> None:
    """Refuse bad settings (optimiser, image size, sampling, device, output directory)
    before the dataset is even opened."""
    from nas_gym.commands.flags import as_flags, check_supernet_flags
    from nas_gym.data import check_out_dir
    from nas_gym.supernets.datasets import check_train_fraction, resolve_device

    try:  # PretrainConfig validates ranges (lr, lr_min <= lr, momentum in [0, 1), ...)
        config_cls(
            epochs=args.epochs,
            batch_size=args.batch_size,
            lr=args.lr,
            lr_min=args.lr_min,
            momentum=args.momentum,
            weight_decay=args.weight_decay,
            grad_clip=args.grad_clip,
            seed=args.seed,
            cutout=args.cutout,
            max_batches=args.max_batches,
        )
    except ValueError as err:  # name the flags, not the dataclass fields
        raise as_flags(err, "PretrainConfig") from None
    res = args.resolution
    if res is not None and (res < MIN_RESOLUTION or (args.space == "darts" and res % 4)):
        need = " and a multiple of 4 (two reduction cells)" if args.space == "darts" else ""
        raise ValueError(f"--resolution must be >= {MIN_RESOLUTION}{need}, got {res}")
    if args.sampling == "mixed" and args.space != "darts":
        raise ValueError(
            f"--sampling mixed needs --space darts (the DDAS warm-up of all ops at once); "
            f"--space {args.space} trains single paths: --sampling uniform"
        )
    check_supernet_flags(args.space, args)
    check_train_fraction(args.train_fraction, "--train-fraction")
    if args.num_workers < 0:
        raise ValueError(f"--num-workers must be >= 0, got {args.num_workers}")
    resolve_device(args.device)
    check_out_dir(args.out)


def _pretrain(args: argparse.Namespace) -> int:
    from pathlib import Path

    from nas_gym.data import default_data_root
    from nas_gym.supernets import datasets as ds
    from nas_gym.supernets.pretrain import PretrainConfig, init_parameters, pretrain_supernet

    _check_pretrain_args(args, PretrainConfig)  # before any data is read
    module, func = PRETRAIN_SPACES[args.space].split(":")
    builder = getattr(importlib.import_module(module), func)
    mean, std = ds.normalization(args.dataset)
    train_set = ds.load_image_dataset(
        args.dataset,
        args.root or default_data_root(),
        train=True,
        transform=ds.cifar_transforms(train=False, mean=mean, std=std, resolution=args.resolution),
        download=args.download,
        verify=not args.no_verify,
    )
    d_train, _ = ds.split_train(train_set, args.train_fraction, args.split_seed)
    x0 = train_set[0][0]
    supernet, sampler, fingerprint = builder(
        args, ds.num_classes(args.dataset, train_set), int(x0.shape[0])
    )
    init_parameters(supernet, args.seed)
    side = int(x0.shape[-1])
    config = PretrainConfig(
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        lr_min=args.lr_min,
        momentum=args.momentum,
        weight_decay=args.weight_decay,
        grad_clip=args.grad_clip,
        seed=args.seed,
        device=args.device,
        pad=0 if args.no_augment else max(1, round(4 * side / 32)),
        flip=not args.no_augment and ds.hflip_keeps_class(args.dataset),
        cutout=args.cutout,
        max_batches=args.max_batches,
    )
    loader = ds.make_loader(
        d_train,
        args.batch_size,
        shuffle=True,
        seed=args.seed,
        num_workers=args.num_workers,
        drop_last=True,
        pin_memory=args.device.startswith("cuda"),
    )
    if len(loader) == 0:
        raise ValueError(
            f"D_T has {len(d_train)} images, fewer than one batch of {args.batch_size}"
        )
    path = pretrain_supernet(
        supernet,
        None if args.sampling == "mixed" else sampler,
        loader,
        config,
        Path(args.out),
        fingerprint,
        progress=not args.no_progress,
    )
    print(f"checkpoint: {path}")
    return 0


def parse_targets(items: list[str], costs: list[str]) -> dict[str, float]:
    """``["latency_ms=80"]`` -> ``{"latency_ms": 80.0}``; the cost must be one plotted."""
    targets: dict[str, float] = {}
    for item in items:
        name, _, value = item.partition("=")
        try:
            targets[name] = float(value)
        except ValueError:
            raise ValueError(
                f"--target {item!r}: expected COST=NUMBER, e.g. latency_ms=80"
            ) from None
        if name not in costs:
            raise ValueError(
                f"--target {item!r}: {name!r} is not a plotted cost; --costs is {' '.join(costs)}"
            )
    return targets


def nb201_bench_dataset(path: str) -> str | None:
    """The dataset of a ``nas-gym bench`` run file on NASBench201-v0, else None."""
    import json
    from pathlib import Path

    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    env = data.get("env") if isinstance(data, dict) else None
    if isinstance(env, dict) and env.get("id") == "NASBench201-v0":
        return env.get("kwargs", {}).get("dataset")
    return None


def with_nb201_costs(records: list[dict[str, Any]], dataset: str) -> list[dict[str, Any]]:
    """Add ``flops_M`` and ``params_M`` from each record's ``arch_index`` (exact, no table)."""
    from nas_gym.benchmarks.hw_cost import load_network_costs
    from nas_gym.benchmarks.nb201 import DATASETS

    costs = load_network_costs()[DATASETS.index(dataset)]
    return [
        {
            **r,
            "flops_M": float(costs[0, r["arch_index"]]),
            "params_M": float(costs[1, r["arch_index"]]),
        }
        for r in records
    ]


def _pareto(args: argparse.Namespace) -> int:
    import math
    from pathlib import Path

    from nas_gym.envs.pareto import front_of, plot_fronts, read_history

    out_path = Path(args.out)
    if not str(args.out).strip() or out_path.is_dir():
        raise ValueError(f"--out {args.out!r} is a directory or empty; give a PNG file path")
    targets = parse_targets(args.target, args.costs)
    records = read_history(args.history)
    dataset = nb201_bench_dataset(args.history)
    if dataset is not None and all("arch_index" in r for r in records):
        records = with_nb201_costs(records, dataset)
    for i, rec in enumerate(records):
        missing = [k for k in (args.value, *args.costs) if k not in rec]
        if missing:
            raise ValueError(
                f"{args.history!r}: record {i} has no {', '.join(map(repr, missing))} "
                f"(its keys: {', '.join(sorted(rec))}); pick --value/--costs among them. "
                + PARETO_FILES
            )
        for k in (args.value, *args.costs):
            v = rec[k]
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise ValueError(
                    f"{args.history!r}: record {i} has {k} = {v!r}, not a finite number; "
                    "a front of NaN or infinite values would be meaningless"
                )
    key = next(
        (k for k in ("genotype", "arch", "arch_index") if all(k in r for r in records)), None
    )
    out = plot_fronts(
        records,
        args.out,
        value_key=args.value,
        cost_keys=args.costs,
        key=key,
        title=args.title,
        targets=targets,
    )
    for cost in args.costs:
        front = front_of(records, args.value, cost, key).points()
        print(f"Pareto front, {args.value} vs {cost} ({len(front)} of {len(records)} steps):")
        for p in front:
            print(
                f"  step {p['step']:>6}  {cost} {p['cost']:>10.4f}  {args.value} {p['value']:.2f}"
            )
    print(f"wrote {out}")
    return 0
