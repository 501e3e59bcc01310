"""ProxylessNAS-v0 on real digits with the Pixel-1 latency table and a latency target.

The small ProxylessNAS part of issue 11: how often is a searched architecture under the
latency target, and what accuracy does it reach at what latency? Everything runs
offline on CPU: the images are scikit-learn's 1,797 real 8x8 digits upsampled to 16 px
(``digits16``), and the latencies are ProxylessNAS' Google Pixel-1 lookup table for
the deployed 224 px, 1000-class MobileNetV2 network, so they are real phone numbers.

1. Pre-train a width-``--width`` MobileNetV2 supernet on D_T by uniform single-path
   sampling (``nas-gym supernet pretrain --space proxyless``); ``ProxylessNAS-v0``
   scores every architecture with it on D_V.
2. Random search: ``--random`` uniform architectures, each one query of the env.
3. UNAS (``nas_gym.oneshot.unas``), with the target and without it: a one-shot search
   that trains its own supernet jointly, on the same D_T / D_V split. Its final
   (most likely) architecture is then queried through the same env, so every row of
   the table is scored by one frozen supernet.

Reported: feasible fraction (latency <= target) of the random architectures and of
the architectures UNAS samples in each epoch; each method's architecture with its
supernet accuracy and table latency; wall time per step. Outputs (atomic; a rerun
reuses finished parts and resumes UNAS runs): ``--out/results.json``, a Markdown
table on stdout, and ``--figure``.

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

from nas_gym.data import atomic_write_text


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="results/proxyless_digits")
    p.add_argument("--figure", default="docs/figures/proxyless_digits_acc_vs_latency.png")
    p.add_argument("--dataset", default="digits16", help="digits, digits16 or digits32")
    p.add_argument("--width", type=float, default=0.25, help="supernet width multiplier")
    p.add_argument("--target", type=float, default=80.0, help="latency target (ms, Pixel 1)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--pretrain-epochs", type=int, default=20)
    p.add_argument("--random", type=int, default=200, help="uniform random architectures")
    p.add_argument("--unas-seeds", default="1,2", help="seeds of the targeted UNAS runs")
    p.add_argument("--unas-epochs", type=int, default=5)
    p.add_argument("--unas-warmup", type=int, default=2, help="w-only epochs first")
    p.add_argument("--unas-batches", type=int, default=10, help="steps per UNAS epoch")
    p.add_argument("--arch-lr", type=float, default=0.1, help="Adam lr of UNAS' logits")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args()


def pretrain(args: argparse.Namespace, out: Path) -> tuple[Path, float]:
    """Uniform single-path pre-training through the CLI; returns the checkpoint and seconds."""
    from nas_gym.cli import main

    ckpt = out / "supernet" / "last.pt"
    start = time.perf_counter()
    argv = [
        "supernet", "pretrain", "--space", "proxyless", "--dataset", args.dataset,
        "--width-mult", str(args.width), "--epochs", str(args.pretrain_epochs),
        "--batch-size", str(args.batch_size), "--seed", str(args.seed),
        "--out", str(ckpt.parent), "--no-progress",
    ]  # fmt: skip
    if main(argv) != 0:
        raise SystemExit("pre-training failed")
    return ckpt, time.perf_counter() - start


def make_env(args: argparse.Namespace, ckpt: Path) -> Any:
    import gymnasium as gym

    import nas_gym  # noqa: F401  (registers the envs)

    return gym.make(
        "ProxylessNAS-v0",
        lut="pixel1",
        latency_target=args.target,
        constraint="hard",
        dataset=args.dataset,
        checkpoint=str(ckpt),
        width_mult=args.width,
        batch_size=256,
        reward="accuracy",
        max_queries=10**6,
    ).unwrapped


def query(env: Any, ops: tuple[int, ...]) -> dict[str, Any]:
    from nas_gym.spaces import proxyless as space

    info = env.step(space.ops_to_discrete(ops))[4]
    return {
        "arch": info["arch"],
        "valid_acc": float(info["valid_acc"]),
        "latency_ms": float(info["latency_ms"]),
        "feasible": bool(info["feasible"]),
    }


def random_search(args: argparse.Namespace, env: Any) -> tuple[list[dict[str, Any]], float]:
    from nas_gym.spaces import proxyless as space

    rng = np.random.default_rng(args.seed)
    start, rows = time.perf_counter(), []
    for i in range(args.random):
        rows.append(query(env, space.sample_ops(rng)))
        if (i + 1) % 50 == 0:
            print(f"random: {i + 1}/{args.random} queries", flush=True)
    return rows, time.perf_counter() - start


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

    fig = Figure(figsize=(11, 4.4), layout="constrained")
    ax, bx = fig.subplots(1, 2, width_ratios=(1.6, 1))
    target = results["target"]
    rnd = results["random"]
    ax.scatter(
        [r["latency_ms"] for r in rnd],
        [r["valid_acc"] for r in rnd],
        s=12,
        c="0.6",
        marker="o",
        label=f"random architectures (n={len(rnd)})",
    )
    styles = {"targeted": ("tab:blue", "*"), "untargeted": ("tab:orange", "D")}
    for run in results["unas"]:
        kind = "targeted" if run["target"] is not None else "untargeted"
        colour, marker = styles[kind]
        label = f"UNAS, {'target ' + format(run['target'], 'g') + ' ms' if run['target'] else 'no target'}"
        ax.scatter(
            run["env"]["latency_ms"],
            run["env"]["valid_acc"],
            s=140,
            c=colour,
            marker=marker,
            edgecolors="k",
            label=f"{label} (seed {run['seed']})",
            zorder=3,
        )
        epochs = [h["epoch"] for h in run["history"] if "sample_feasible" in h]
        feas = [100 * h["sample_feasible"] for h in run["history"] if "sample_feasible" in h]
        if kind == "targeted":
            bx.plot(epochs, feas, color=colour, marker=marker, label=f"UNAS seed {run['seed']}")
    ax.axvline(target, color="tab:red", linestyle="--", label=f"target {target:g} ms")
    ax.set_xlabel("latency on Pixel 1 (ms, lookup table, 224 px network)")
    ax.set_ylabel("supernet accuracy on D_V (%)")
    ax.set_title(f"ProxylessNAS-v0 on {results['dataset']}: accuracy vs latency")
    ax.legend(fontsize=7, loc="lower left")
    bx.axhline(
        100 * results["random_feasible"],
        color="0.4",
        linestyle=":",
        label="uniform random architectures",
    )
    bx.set_xlabel("UNAS epoch (search epochs only)")
    bx.set_ylabel(f"sampled architectures under {target:g} ms (%)")
    bx.set_ylim(-3, 103)
    bx.set_title("feasible fraction of UNAS' samples")
    bx.legend(fontsize=7, loc="center right")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)


def table(results: dict[str, Any]) -> str:
    target = results["target"]
    rnd = results["random"]
    feasible = [r for r in rnd if r["feasible"]]
    lines = [
        "| method | architecture(s) | feasible | supernet acc. on D_V (%) | latency (ms) |",
        "|---|---|---|---|---|",
        f"| random, all {len(rnd)} | uniform over the space | "
        f"{100 * results['random_feasible']:.1f}% | {np.mean([r['valid_acc'] for r in rnd]):.2f}"
        f" ± {np.std([r['valid_acc'] for r in rnd]):.2f} | "
        f"{np.mean([r['latency_ms'] for r in rnd]):.1f} ± {np.std([r['latency_ms'] for r in rnd]):.1f} |",
    ]
    best = max(rnd, key=lambda r: r["valid_acc"])
    lines.append(
        f"| random, best of {len(rnd)} | `{best['arch']}` | {'yes' if best['feasible'] else 'no'} | "
        f"{best['valid_acc']:.2f} | {best['latency_ms']:.1f} |"
    )
    if feasible:
        bf = max(feasible, key=lambda r: r["valid_acc"])
        lines.append(
            f"| random, best feasible | `{bf['arch']}` | yes | {bf['valid_acc']:.2f} | "
            f"{bf['latency_ms']:.1f} |"
        )
    for run in results["unas"]:
        env = run["env"]
        name = f"UNAS, target {target:g} ms" if run["target"] else "UNAS, no target"
        lines.append(
            f"| {name}, seed {run['seed']} | `{env['arch']}` | "
            f"{'yes' if env['feasible'] else 'no'} | {env['valid_acc']:.2f} | {env['latency_ms']:.1f} |"
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

    ckpt = out / "supernet" / "last.pt"
    if "pretrain_seconds" not in results:
        ckpt, results["pretrain_seconds"] = pretrain(args, out)
        save()
    env = make_env(args, ckpt)
    env.reset(seed=args.seed)
    if "random" not in results:
        results["random"], seconds = random_search(args, env)
        results["random_seconds_per_query"] = seconds / args.random
        results["random_feasible"] = float(np.mean([r["feasible"] for r in results["random"]]))
        save()
    runs = [(int(s), args.target) for s in args.unas_seeds.split(",")] + [(1, None)]
    done = {(r["seed"], r["target"]) for r in results.get("unas", [])}
    for seed, target in runs:
        if (seed, target) in done:
            continue
        tag = f"t{target:g}" if target else "none"
        print(f"UNAS seed {seed}, target {target}", flush=True)
        run = unas_run(args, seed, target, out / f"unas_{tag}_s{seed}")
        run["env"] = query(env, tuple(run["ops"]))
        results.setdefault("unas", []).append(run)
        save()
    print(table(results))
    plot(results, Path(args.figure))
    print(f"wrote {results_path} and {args.figure}")


if __name__ == "__main__":
    main()
