"""ProxylessNAS-v0 on real digits with the Pixel-1 latency table and a latency target.

The small ProxylessNAS part of issue 11: how often is a searched architecture under the
latency target, and what accuracy does it reach at what latency? Everything runs
offline on CPU: the images are scikit-learn's 1,797 real 8x8 digits upsampled to 16 px
(``digits16``), and the latencies are ProxylessNAS' Google Pixel-1 lookup table for
the deployed 224 px, 1000-class MobileNetV2 network, so they are real phone numbers.

1. Feasible fraction of the space: ``--random`` uniform architectures, latency from
   the table (exactly ``ProxylessNAS-v0``'s ``info["latency_ms"]``).
2. UNAS (``nas_gym.oneshot.unas``), with the target and without it: a one-shot search
   that trains its own width-``--width`` supernet jointly, on ``ProxylessNAS-v0``'s
   D_T / D_V split (0.5 of the training set each). Recorded: the feasible fraction of
   the architectures it samples in each search epoch, and its final (most likely)
   architecture.
3. Accuracy against latency: every UNAS architecture and ``--retrain`` of the random
   ones are trained from scratch (the stand-alone network of the supernet's ops,
   width ``--width``) for ``--retrain-epochs`` on D_T and tested on the digits test
   split (364 images). Stand-alone training, not a pre-trained supernet's score: in
   our runs uniform single-path pre-training of this supernet stayed at chance
   (``--pretrain-check`` repeats that measurement), so ``ProxylessNAS-v0``'s
   supernet scores would carry no signal here (see docs/proxyless_study.md).

Outputs (atomic; a rerun reuses finished parts and resumes UNAS runs):
``--out/results.json``, a Markdown table on stdout, and ``--figure``.

    nice -n 10 env OMP_NUM_THREADS=1 python benchmarks/proxyless_digits_study.py \\
        --out results/proxyless_digits --figure docs/figures/proxyless_digits_acc_vs_latency.png
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nas_gym.data import atomic_write_png, atomic_write_text


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="results/proxyless_digits")
    p.add_argument("--figure", default="docs/figures/proxyless_digits_acc_vs_latency.png")
    p.add_argument("--dataset", default="digits16", help="digits, digits16 or digits32")
    p.add_argument("--width", type=float, default=0.25, help="supernet width multiplier")
    p.add_argument("--target", type=float, default=80.0, help="latency target (ms, Pixel 1)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--random", type=int, default=10_000, help="uniform random architectures")
    p.add_argument("--retrain", type=int, default=8, help="random architectures to train")
    p.add_argument("--retrain-epochs", type=int, default=6)
    p.add_argument(
        "--pretrain-check",
        type=int,
        default=0,
        help="also pre-train the supernet by uniform single-path sampling for this many epochs",
    )
    p.add_argument("--unas-seeds", default="1,2", help="seeds of the targeted UNAS runs")
    p.add_argument("--untargeted-seeds", default="1", help="seeds of UNAS runs without target")
    p.add_argument("--unas-epochs", type=int, default=5)
    p.add_argument("--unas-warmup", type=int, default=2, help="w-only epochs first")
    p.add_argument("--unas-batches", type=int, default=10, help="steps per UNAS epoch")
    p.add_argument("--arch-lr", type=float, default=0.1, help="Adam lr of UNAS' logits")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args()


def pretrain(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """Uniform single-path pre-training (``nas-gym supernet pretrain --space proxyless``)."""
    from nas_gym.cli import main
    from nas_gym.supernets.pretrain import read_checkpoint

    ckpt = out / "supernet" / "last.pt"
    start = time.perf_counter()
    argv = [
        "supernet", "pretrain", "--space", "proxyless", "--dataset", args.dataset,
        "--width-mult", str(args.width), "--epochs", str(args.pretrain_check),
        "--batch-size", str(args.batch_size), "--seed", str(args.seed),
        "--out", str(ckpt.parent), "--no-progress",
    ]  # fmt: skip
    if main(argv) != 0:
        raise SystemExit("pre-training failed")
    history = read_checkpoint(ckpt)["history"]
    return {"seconds": time.perf_counter() - start, "history": history}


def latencies(args: argparse.Namespace) -> list[float]:
    """Pixel-1 table latency (ms) of ``--random`` uniform architectures."""
    from nas_gym.benchmarks.latency import latency_array, load_lut
    from nas_gym.spaces import proxyless as space

    rng = np.random.default_rng(args.seed)
    ops = np.stack([space.sample_ops(rng) for _ in range(args.random)])
    return latency_array(load_lut("pixel1"), ops).tolist()


def retrain(args: argparse.Namespace, ops: tuple[int, ...], seed: int) -> dict[str, Any]:
    """Train the stand-alone network of ``ops`` from scratch on D_T; test accuracy (%)."""
    from nas_gym.benchmarks.latency import load_lut
    from nas_gym.spaces import proxyless as space
    from nas_gym.supernets import datasets as ds
    from nas_gym.supernets.mobilenet import ProxylessSupernet
    from nas_gym.supernets.pretrain import init_parameters
    from nas_gym.supernets.proxy_task import ProxyTask

    task = ProxyTask(args.dataset, train_fraction=0.5, split_seed=0)
    mean, std = ds.normalization(args.dataset)
    test = ds.load_image_dataset(
        args.dataset,
        task.root,
        train=False,
        transform=ds.cifar_transforms(train=False, mean=mean, std=std),
    )
    supernet = init_parameters(ProxylessSupernet(task.num_classes, width_mult=args.width), seed)
    net = supernet.subnet(ops)
    params = [p for p in net.parameters()]
    opt = torch.optim.SGD(params, lr=0.05, momentum=0.9, weight_decay=3e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, args.retrain_epochs)
    loader = ds.make_loader(task.d_train, args.batch_size, True, seed, drop_last=True)
    start = time.perf_counter()
    net.train()
    for _ in range(args.retrain_epochs):
        for x, y in loader:
            opt.zero_grad(set_to_none=True)
            torch.nn.functional.cross_entropy(net(x), y).backward()
            opt.step()
        sched.step()
    net.eval()
    correct = 0
    with torch.no_grad():
        for x, y in torch.utils.data.DataLoader(test, batch_size=256):
            correct += int((net(x).argmax(1) == y).sum())
    return {
        "arch": space.ops_to_str(ops),
        "latency_ms": load_lut("pixel1").latency(ops),
        "feasible": load_lut("pixel1").latency(ops) <= args.target,
        "test_acc": 100.0 * correct / len(test),
        "seconds": time.perf_counter() - start,
    }


def unas_run(args: argparse.Namespace, seed: int, target: float | None, out: Path) -> dict:
    """One UNAS search on the env's D_T / D_V split; resumes or reuses a finished run."""
    from nas_gym.oneshot.loop import SearchConfig, read_search_checkpoint, run_search
    from nas_gym.oneshot.unas import UNASConfig, UNASTrainer
    from nas_gym.supernets.mobilenet import ProxylessSupernet
    from nas_gym.supernets.pretrain import init_parameters
    from nas_gym.supernets.proxy_task import ProxyTask

    task = ProxyTask(args.dataset, train_fraction=0.5, split_seed=0)
    search = SearchConfig(
        epochs=args.unas_epochs,
        batch_size=args.batch_size,
        seed=seed,
        max_batches=args.unas_batches,
    )
    config = UNASConfig(
        warmup_epochs=args.unas_warmup,
        arch_lr=args.arch_lr,
        arch_lr_min=args.arch_lr / 3,
        latency_target=target,
        surrogate_samples=10_000,
    )
    net = init_parameters(ProxylessSupernet(task.num_classes, width_mult=args.width), seed)
    trainer = UNASTrainer(net, "proxyless", search, config, args.unas_batches)
    batches = task.fixed_batches("valid", 256, None)
    start = time.perf_counter()
    run_search(
        trainer,
        task.d_train,
        task.d_valid,
        search,
        out,
        {"dataset": args.dataset, "width_mult": args.width},
        scorer=trainer.scorer(batches),
        progress=False,
    )
    seconds = time.perf_counter() - start
    state = read_search_checkpoint(out)
    steps = args.unas_epochs * args.unas_batches
    return {
        "seed": seed,
        "target": target,
        "ops": state["derived"]["ops"],
        "history": state["history"],
        "seconds": seconds,
        "seconds_per_step": seconds / steps,
    }


def plot(results: dict[str, Any], path: Path) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 4.6), layout="constrained")
    ax, bx = fig.subplots(1, 2, width_ratios=(1.5, 1))
    target = results["target"]
    rnd = results["retrained_random"]
    ax.scatter(
        [r["latency_ms"] for r in rnd],
        [r["test_acc"] for r in rnd],
        s=30,
        c="0.55",
        marker="o",
        label=f"uniform random architectures ({len(rnd)})",
    )
    colours = {True: "tab:blue", False: "tab:orange"}
    markers, lines = ("*", "P", "X", "s"), ("-", "--", "-.", ":")
    for k, run in enumerate(results["unas"]):
        colour, marker, line = colours[run["target"] is not None], markers[k % 4], lines[k % 4]
        name = f"UNAS, target {run['target']:g} ms" if run["target"] else "UNAS, no target"
        ax.scatter(
            run["retrained"]["latency_ms"],
            run["retrained"]["test_acc"],
            s=150,
            c=colour,
            marker=marker,
            edgecolors="k",
            label=f"{name}, seed {run['seed']}",
            zorder=3,
        )
        rows = [h for h in run["history"] if "sample_latency_ms" in h]
        bx.plot(
            [h["epoch"] for h in rows],
            [h["sample_latency_ms"] for h in rows],
            color=colour,
            marker=marker,
            linestyle=line,
            label=f"{name}, seed {run['seed']}",
        )
    ax.axvline(target, color="tab:red", linestyle=":", label=f"target {target:g} ms")
    ax.set_xlabel("latency on Pixel 1 (ms; lookup table, 224 px MobileNetV2)")
    ax.set_ylabel(f"stand-alone test accuracy on {results['dataset']} (%)")
    ax.set_title("accuracy against latency")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(0.0, -0.16), ncol=2)
    lats = results["random_latency_ms"]
    bx.axhline(np.mean(lats), color="0.4", linestyle="-.", label="uniform random (mean)")
    bx.axhline(target, color="tab:red", linestyle=":", label=f"target {target:g} ms")
    bx.set_xlabel("UNAS epoch (search epochs only)")
    bx.xaxis.get_major_locator().set_params(integer=True)
    bx.set_ylabel("mean latency of the sampled architectures (ms)")
    bx.set_title("latency of the architectures UNAS samples")
    bx.legend(fontsize=7, loc="upper left", bbox_to_anchor=(0.0, -0.16))
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_png(path, fig, dpi=120)


def table(results: dict[str, Any]) -> str:
    rnd = results["retrained_random"]
    accs = [r["test_acc"] for r in rnd]
    lats = results["random_latency_ms"]
    lines = [
        "| architectures | feasible | latency (ms) | stand-alone test acc. (%) |",
        "|---|---|---|---|",
        f"| uniform random, {len(lats)} (latency only) | {100 * results['random_feasible']:.1f}% | "
        f"{np.mean(lats):.1f} ± {np.std(lats):.1f} (min {min(lats):.1f}) | |",
        f"| uniform random, {len(rnd)} retrained | "
        f"{100 * np.mean([r['feasible'] for r in rnd]):.0f}% | "
        f"{np.mean([r['latency_ms'] for r in rnd]):.1f} ± {np.std([r['latency_ms'] for r in rnd]):.1f}"
        f" | {np.mean(accs):.2f} ± {np.std(accs):.2f} |",
    ]
    for run in results["unas"]:
        r = run["retrained"]
        name = f"UNAS, target {run['target']:g} ms" if run["target"] else "UNAS, no target"
        last = [h for h in run["history"] if "sample_feasible" in h]
        share = (
            f" (its samples, last epoch: {100 * last[-1]['sample_feasible']:.0f}%)" if last else ""
        )
        lines.append(
            f"| {name}, seed {run['seed']}: `{r['arch']}` | {'yes' if r['feasible'] else 'no'}"
            f"{share} | {r['latency_ms']:.1f} | {r['test_acc']:.2f} |"
        )
    return "\n".join(lines)


def main() -> None:
    args = parse_args()
    torch.set_num_threads(1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results_path = out / "results.json"
    results: dict[str, Any] = json.loads(results_path.read_text()) if results_path.is_file() else {}
    results.update(dataset=args.dataset, target=args.target, width=args.width)

    def save() -> None:
        atomic_write_text(results_path, json.dumps(results, indent=1) + "\n")

    if args.pretrain_check and "pretrain_check" not in results:
        results["pretrain_check"] = pretrain(args, out)
        save()
    if "random_latency_ms" not in results:
        results["random_latency_ms"] = latencies(args)
        lat = np.asarray(results["random_latency_ms"])
        results["random_feasible"] = float(np.mean(lat <= args.target))
        save()
    runs = [(int(s), args.target) for s in args.unas_seeds.split(",") if s]
    runs += [(int(s), None) for s in args.untargeted_seeds.split(",") if s]
    done = {(r["seed"], r["target"]) for r in results.get("unas", [])}
    for seed, target in runs:
        if (seed, target) in done:
            continue
        tag = f"t{target:g}" if target else "none"
        print(f"UNAS seed {seed}, target {target}", flush=True)
        run = unas_run(args, seed, target, out / f"unas_{tag}_s{seed}")
        run["retrained"] = retrain(args, tuple(run["ops"]), seed)
        print(f"  retrained: {run['retrained']}", flush=True)
        results.setdefault("unas", []).append(run)
        save()
    rng = np.random.default_rng(args.seed + 1)
    from nas_gym.spaces import proxyless as space

    candidates = [space.sample_ops(rng) for _ in range(args.retrain)]
    results.setdefault("retrained_random", [])
    for i, ops in enumerate(candidates[len(results["retrained_random"]) :]):
        row = retrain(args, ops, seed=100 + i)
        print(f"random {len(results['retrained_random']) + 1}/{args.retrain}: {row}", flush=True)
        results["retrained_random"].append(row)
        save()
    print(table(results))
    plot(results, Path(args.figure))
    print(f"wrote {results_path} and {args.figure}")


if __name__ == "__main__":
    main()
