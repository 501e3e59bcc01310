"""``nas-gym train-genotype``: train a found DARTS cell from scratch and report its test accuracy.

The evaluation recipe of DARTS (Liu et al. 2019, Sec. 3.3) that Mills (2020,
Sec. 3.2.1 and 4.2.3) follows: the official training set (all of it) trains a
:class:`~nas_gym.supernets.darts_eval.DARTSEvalNetwork`, the official test set
is used once, at the end. SGD (lr 0.025, momentum 0.9, weight decay 3e-4) with a
cosine schedule to 0, cutout 16, an auxiliary head weighted 0.4, drop path
increased linearly to 0.2, gradient-norm clipping at 5, batch 96, 600 epochs,
36 channels and 20 cells by default.

Every epoch ends with an atomic checkpoint (model, optimizer, scheduler, epoch,
RNG states, history) in ``--out``; ``--resume`` continues from it and refuses a
checkpoint made with other settings. The result (test accuracy and loss, params
and FLOPs of the network without auxiliary head) is written atomically to
``--out/result.json``. Randomness comes from ``--seed`` inside a forked torch
RNG, so the caller's global RNG state is left as it was.
"""

from __future__ import annotations

import argparse
import difflib
import json
import math
import re
from pathlib import Path
from typing import Any

CHECKPOINT = "checkpoint.pt"
RESULT = "result.json"


def plain_text(rst: str) -> str:
    """Docstring text for ``--help``: Sphinx roles and literals without their markup."""
    text = re.sub(r":\w+:`~?(?:[\w.]*\.)?([^`.]+)`", r"\1", rst)
    return text.replace("``", "")


def published_names() -> tuple[str, ...]:
    from nas_gym.spaces.darts import PUBLISHED

    return tuple(PUBLISHED)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train-genotype",
        help="train a DARTS genotype from scratch (DARTS evaluation recipe) and report test accuracy",
        description=plain_text(__doc__.split("\n\n", 1)[1]),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument(
        "genotype",
        help=f"Genotype(...) string, or a published name ({', '.join(published_names())})",
    )
    p.add_argument(
        "--dataset",
        default="cifar10",
        choices=["cifar10", "cifar100", "imagefolder", "digits", "digits16", "digits32"],
        help="digits*: scikit-learn's 8x8 digits at 8/16/32 px, offline (no --root needed)",
    )
    p.add_argument(
        "--root",
        default=None,
        help="dataset directory (holds cifar-10-batches-py/ for CIFAR-10; "
        "default: $NAS_GYM_DATASETS_DIR)",
    )
    p.add_argument(
        "--download", action="store_true", help="let torchvision download CIFAR (needs internet)"
    )
    p.add_argument(
        "--no-verify",
        action="store_true",
        help="skip the CIFAR MD5 check (for subsets in the official format)",
    )
    p.add_argument(
        "--resolution",
        type=int,
        default=None,
        help="resize images to this side (None: as stored)",
    )
    p.add_argument(
        "--epochs", type=int, default=600, help="training epochs (cosine schedule length)"
    )
    p.add_argument("--layers", type=int, default=20, help="cells of the evaluation network")
    p.add_argument("--channels", type=int, default=36, help="initial channels C")
    p.add_argument("--batch-size", type=int, default=96, help="training batch size")
    p.add_argument("--lr", type=float, default=0.025, help="initial SGD learning rate")
    p.add_argument("--momentum", type=float, default=0.9, help="SGD momentum")
    p.add_argument("--weight-decay", type=float, default=3e-4, help="SGD weight decay")
    p.add_argument("--cutout", type=int, default=16, help="cutout length (0 = off)")
    p.add_argument(
        "--auxiliary-weight", type=float, default=0.4, help="auxiliary loss weight (0 = no head)"
    )
    p.add_argument(
        "--drop-path", type=float, default=0.2, help="final drop-path probability (linear ramp)"
    )
    p.add_argument("--grad-clip", type=float, default=5.0, help="gradient-norm clip (0 = off)")
    p.add_argument(
        "--seed", type=int, default=0, help="seed of weights, data order and augmentation"
    )
    p.add_argument("--num-workers", type=int, default=0, help="DataLoader worker processes")
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    p.add_argument(
        "--out", default="train_genotype_out", help="directory for the checkpoint and result.json"
    )
    p.add_argument(
        "--resume", action="store_true", help="continue from --out/checkpoint.pt if it exists"
    )
    p.add_argument(
        "--stop-after",
        type=int,
        default=None,
        help="exit after this many epochs in this invocation (for time-limited job slots); resume later",
    )
    p.set_defaults(func=_train_genotype)


#: Fewest cells: DARTS reduces at cells layers//3 and 2*layers//3, so 3 cells are one
#: normal cell and the two reductions.
MIN_LAYERS = 3


def _check_args(args: argparse.Namespace) -> None:
    from nas_gym.data import check_out_dir
    from nas_gym.supernets.pretrain import MAX_LR

    for name in ("epochs", "layers", "channels", "batch_size"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    if args.layers < MIN_LAYERS:
        raise ValueError(
            f"--layers must be >= {MIN_LAYERS} (the network reduces at cells layers//3 and "
            f"2*layers//3), got {args.layers}"
        )
    for name in ("lr", "weight_decay", "auxiliary_weight", "grad_clip", "momentum"):
        value = getattr(args, name)
        if not math.isfinite(value) or value < 0:
            raise ValueError(
                f"--{name.replace('_', '-')} must be a finite number >= 0, got {value}"
            )
    if not 0 < args.lr <= MAX_LR:
        raise ValueError(f"--lr must be in (0, {MAX_LR}], got {args.lr}")
    if args.momentum >= 1:
        raise ValueError(f"--momentum must be in [0, 1), got {args.momentum}")
    if args.resolution is not None and (args.resolution < 8 or args.resolution % 4):
        raise ValueError(
            f"--resolution must be a multiple of 4 and >= 8 (the two reduction cells halve "
            f"the side twice), got {args.resolution}"
        )
    if not 0.0 <= args.drop_path < 1.0:
        raise ValueError(f"--drop-path must be in [0, 1), got {args.drop_path}")
    if args.cutout < 0:
        raise ValueError(f"--cutout must be >= 0 (0 = off), got {args.cutout}")
    if args.stop_after is not None and args.stop_after < 1:
        raise ValueError(f"--stop-after must be >= 1, got {args.stop_after}")
    if args.num_workers < 0:
        raise ValueError(f"--num-workers must be >= 0, got {args.num_workers}")
    check_genotype_name(args.genotype)
    check_out_dir(args.out)  # a file or read-only folder fails now, not after an epoch


def check_genotype_name(text: str) -> None:
    """A bare name must be a published genotype; say which ones exist (and the closest)."""
    name = text.strip()
    known = published_names()
    if not name.isidentifier() or name in known:
        return
    close = difflib.get_close_matches(name.upper(), known, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise ValueError(
        f"unknown genotype name {name!r}; {hint}known names: {', '.join(known)} "
        "(or pass a full 'Genotype(normal=[...], normal_concat=[...], reduce=[...], "
        "reduce_concat=[...])' string)"
    )


def _fingerprint(args: argparse.Namespace, genotype_str: str, num_classes: int) -> dict[str, Any]:
    """Settings that must match for a checkpoint to be resumed."""
    keys = (
        "dataset epochs layers channels batch_size lr momentum weight_decay cutout "
        "auxiliary_weight drop_path grad_clip seed resolution"
    ).split()
    return {
        "genotype": genotype_str,
        "num_classes": num_classes,
        **{k: getattr(args, k) for k in keys},
    }


def check_resumable(path: Any, saved: dict[str, Any], now: dict[str, Any]) -> None:
    """Refuse to resume a checkpoint made with other settings, naming each difference."""
    diff = {k: (saved.get(k), v) for k, v in now.items() if saved.get(k) != v}
    if diff:
        raise ValueError(
            f"{path} was made with other settings (checkpoint vs now): "
            + ", ".join(f"{k}: {a!r} vs {b!r}" for k, (a, b) in diff.items())
        )


def _train_genotype(args: argparse.Namespace) -> int:
    from nas_gym.spaces.darts import genotype_to_str, str_to_genotype

    _check_args(args)  # bad arguments fail before the slow torch imports
    genotype = str_to_genotype(args.genotype)
    genotype_str = genotype_to_str(genotype)

    import io

    import torch
    from tqdm import tqdm

    from nas_gym.data import atomic_write_bytes, atomic_write_text, default_data_root
    from nas_gym.safe_pickle import load_checkpoint
    from nas_gym.supernets.darts_eval import DARTSEvalNetwork, params_and_flops
    from nas_gym.supernets.datasets import (
        dataset_transforms,
        load_image_dataset,
        make_loader,
        num_classes,
        resolve_device,
    )
    from nas_gym.supernets.pretrain import check_finite_loss

    device = resolve_device(args.device)
    out = Path(args.out)
    ckpt_path = out / CHECKPOINT
    if ckpt_path.exists() and not args.resume:
        raise ValueError(
            f"{ckpt_path} exists: pass --resume to continue it, or choose another --out"
        )
    # read once, on the CPU (load_state_dict moves it to the device); weights only: no code runs
    ckpt = (
        load_checkpoint(ckpt_path, map_location="cpu")
        if args.resume and ckpt_path.exists()
        else None
    )
    if ckpt is not None:  # other settings fail now, not after the data; the class count
        # is known only from the data, so it is compared again below, with it
        saved = ckpt["fingerprint"]
        check_resumable(
            ckpt_path, saved, _fingerprint(args, genotype_str, saved.get("num_classes"))
        )

    load = {"download": args.download, "verify": not args.no_verify}
    root = args.root or default_data_root()
    train_set = load_image_dataset(
        args.dataset,
        root,
        train=True,
        transform=dataset_transforms(args.dataset, True, args.cutout, args.resolution),
        **load,
    )
    test_set = load_image_dataset(
        args.dataset,
        root,
        train=False,
        transform=dataset_transforms(args.dataset, False, 0, args.resolution),
        **load,
    )
    if len(train_set) < args.batch_size:
        raise ValueError(
            f"--batch-size {args.batch_size} exceeds the {len(train_set)} training images"
        )
    n_classes = num_classes(args.dataset, train_set)
    input_size = args.resolution or int(train_set[0][0].shape[-1])
    fingerprint = _fingerprint(args, genotype_str, n_classes)

    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(args.seed)
        model = DARTSEvalNetwork(
            genotype,
            C=args.channels,
            layers=args.layers,
            num_classes=n_classes,
            auxiliary=args.auxiliary_weight > 0,
        ).to(device)
        optimizer = torch.optim.SGD(
            model.parameters(), lr=args.lr, momentum=args.momentum, weight_decay=args.weight_decay
        )
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)
        start_epoch, history = 0, []
        if ckpt is not None:
            check_resumable(ckpt_path, ckpt["fingerprint"], fingerprint)
            model.load_state_dict(ckpt["model"])
            optimizer.load_state_dict(ckpt["optimizer"])
            scheduler.load_state_dict(ckpt["scheduler"])
            start_epoch, history = ckpt["epoch"], ckpt["history"]
            torch.set_rng_state(ckpt["rng"]["torch"])
            if device.type == "cuda" and ckpt["rng"].get("cuda") is not None:
                torch.cuda.set_rng_state(ckpt["rng"]["cuda"], device)
            print(f"resumed from {ckpt_path} after epoch {start_epoch}/{args.epochs}")

        steps = len(train_set) // args.batch_size
        bar = tqdm(
            total=args.epochs * steps,
            initial=start_epoch * steps,
            desc="train-genotype",
            unit="batch",
        )
        ran = 0
        for epoch in range(start_epoch, args.epochs):
            if args.stop_after is not None and ran >= args.stop_after:
                break
            model.train()
            model.drop_path_prob = args.drop_path * epoch / args.epochs
            loader = make_loader(
                train_set,
                args.batch_size,
                shuffle=True,
                seed=args.seed * 100_003 + epoch,
                num_workers=args.num_workers,
                drop_last=True,  # a batch of 1 cannot train the aux head's batch norm
                pin_memory=device.type == "cuda",
            )
            lr = optimizer.param_groups[0]["lr"]
            loss_sum, correct, seen = 0.0, 0, 0
            for x, y in loader:
                x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
                optimizer.zero_grad(set_to_none=True)
                logits, aux = model(x)
                loss = torch.nn.functional.cross_entropy(logits, y)
                total = loss
                if aux is not None:
                    total = loss + args.auxiliary_weight * torch.nn.functional.cross_entropy(aux, y)
                total.backward()
                if args.grad_clip > 0:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), args.grad_clip)
                optimizer.step()
                check_finite_loss(
                    float(loss.detach()), f"epoch {epoch + 1}, batch {seen // len(y) + 1}", lr
                )
                loss_sum += float(loss.detach()) * len(y)
                correct += int((logits.argmax(1) == y).sum())
                seen += len(y)
                bar.update(1)
                bar.set_postfix(
                    epoch=epoch + 1,
                    loss=f"{loss_sum / seen:.3f}",
                    acc=f"{100 * correct / seen:.1f}",
                )
            scheduler.step()
            ran += 1
            history.append(
                {
                    "epoch": epoch + 1,
                    "lr": lr,
                    "drop_path_prob": model.drop_path_prob,
                    "train_loss": loss_sum / seen,
                    "train_acc": 100.0 * correct / seen,
                }
            )
            buf = io.BytesIO()
            torch.save(
                {
                    "fingerprint": fingerprint,
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(),
                    "epoch": epoch + 1,
                    "history": history,
                    "rng": {
                        "torch": torch.get_rng_state(),
                        "cuda": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
                    },
                },
                buf,
            )
            atomic_write_bytes(ckpt_path, buf.getvalue())
        bar.close()

        done = len(history)
        if done < args.epochs:
            print(
                f"stopped after epoch {done}/{args.epochs}; continue with --resume (checkpoint: {ckpt_path})"
            )
            return 0

        model.eval()
        test_loader = make_loader(
            test_set, max(args.batch_size, 256), shuffle=False, seed=0, num_workers=args.num_workers
        )
        loss_sum, correct, seen = 0.0, 0, 0
        with torch.no_grad():
            for x, y in tqdm(test_loader, desc="test", unit="batch", leave=False):
                x, y = x.to(device), y.to(device)
                logits, _ = model(x)
                loss_sum += float(torch.nn.functional.cross_entropy(logits, y, reduction="sum"))
                correct += int((logits.argmax(1) == y).sum())
                seen += len(y)

    params_M, flops_M = params_and_flops(
        genotype, C=args.channels, layers=args.layers, num_classes=n_classes, input_size=input_size
    )
    result = {
        "genotype": genotype_str,
        "dataset": args.dataset,
        "test_acc": 100.0 * correct / seen,
        "test_loss": loss_sum / seen,
        "n_test": seen,
        "params_M": params_M,
        "flops_M": flops_M,
        "flops_unit": "millions of multiply-accumulates, 1 image, no auxiliary head",
        "epochs": args.epochs,
        "config": fingerprint,
        "history": history,
    }
    atomic_write_text(out / RESULT, json.dumps(result, indent=2) + "\n")
    print(
        f"test accuracy {result['test_acc']:.2f}% (loss {result['test_loss']:.4f}, {seen} images); "
        f"params {params_M:.3f} M; FLOPs {flops_M:.1f} M MACs; result: {out / RESULT}"
    )
    return 0
