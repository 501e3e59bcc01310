"""Latency-constrained search in the ProxylessNAS space with CADAM and TD3.

Reads top to bottom:

1. the proxy task: CIFAR-10 from ``--root`` (or, with ``--synthetic-proxy N``, a
   small *synthetic* 10-class image set written in the CIFAR-10 file format, for
   machines without the dataset; its accuracies say nothing about CIFAR);
2. a MobileNetV2 supernet pre-trained by uniform single-path sampling at a small
   proxy resolution (checkpointed; re-running resumes or reuses it);
3. this machine's CPU latency table (``nas-gym latency measure --device cpu``, cached);
4. for each agent and each table (ProxylessNAS' Pixel-1 table with an 80 ms target,
   and the CPU table with ``--cpu-target`` ms): one search run on ``ProxylessNAS-v1``,
   printing the best feasible architecture and saving the Pareto plot.

    python examples/latency_constrained_search.py --synthetic-proxy 50 --steps 200
    python examples/latency_constrained_search.py --root ~/data --steps 1000 --pretrain-epochs 50
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
from _args import parse_args  # examples/_args.py: a dataclass becomes --flags

import nas_gym  # noqa: F401  (registers ProxylessNAS-v1)
from nas_gym.agents.callbacks import (
    NASMetricsCallback,  # best acc and unique queries in SB3's logger
)
from nas_gym.agents.registry import make_agent
from nas_gym.benchmarks.latency import load_lut, measure
from nas_gym.data import atomic_write_text, default_data_root
from nas_gym.envs.pareto import plot_fronts
from nas_gym.spaces import proxyless as space
from nas_gym.supernets import datasets as ds
from nas_gym.supernets.mobilenet import ProxylessSupernet
from nas_gym.supernets.pretrain import (
    PretrainConfig,
    init_parameters,
    pretrain_supernet,
    proxyless_fingerprint,
)


@dataclass
class Args:
    out: str = "runs/latency_constrained"
    root: str | None = None
    synthetic_proxy: int = (
        0  # images per class of a synthetic CIFAR-format proxy (0 = real CIFAR-10)
    )
    resolution: int = 32  # proxy input side for the supernet
    width_mult: float = 0.35
    pretrain_epochs: int = 3
    pretrain_batches: int | None = None  # cap batches per epoch
    batch_size: int = 64
    valid_batches: int | None = 4
    agents: list[str] = field(default_factory=lambda: ["cadam", "td3"])
    steps: int = 200
    constraint: str = "unas"  # the soft UNAS penalty guides a search towards the budget
    pixel1_target: float = 80.0
    cpu_target: float | None = None  # ms; default: median latency of random architectures
    cpu_resolution: int = 224
    cpu_repeats: int = 20
    threads: int = 1
    seed: int = 0
    device: str = "cpu"


def write_synthetic_proxy(root: Path, per_class: int, seed: int) -> Path:
    """A synthetic 10-class task in the CIFAR-10 file format: per class a colour and a stripe
    orientation, plus noise. Only for running the pipeline without the real dataset."""
    rng = np.random.default_rng(seed)
    colours = rng.integers(40, 216, (10, 3))
    yy, xx = np.mgrid[0:32, 0:32]

    def images(n: int) -> tuple[np.ndarray, list[int]]:
        labels = [i % 10 for i in range(n)]
        out = np.empty((n, 32, 32, 3), dtype=np.uint8)
        for i, c in enumerate(labels):
            angle = np.pi * c / 10
            stripes = 40 * np.sin((np.cos(angle) * xx + np.sin(angle) * yy) * 0.6)
            img = colours[c][None, None, :] + stripes[..., None] + rng.normal(0, 30, (32, 32, 3))
            out[i] = np.clip(img, 0, 255).astype(np.uint8)
        return out, labels

    ds.write_cifar_batches(
        root, "cifar10", images(10 * per_class), images(10 * max(2, per_class // 5))
    )
    return root


def pretrain(args: Args, root: Path, verify: bool) -> Path:
    mean, std = ds.normalization("cifar10")
    transform = ds.cifar_transforms(False, mean=mean, std=std, resolution=args.resolution)
    train_set = ds.load_image_dataset(
        "cifar10", root, train=True, transform=transform, verify=verify
    )
    d_train, _ = ds.split_train(train_set, 0.5, 0)
    net = init_parameters(ProxylessSupernet(num_classes=10, width_mult=args.width_mult), args.seed)
    config = PretrainConfig(
        epochs=args.pretrain_epochs,
        batch_size=args.batch_size,
        lr=0.05,
        seed=args.seed,
        device=args.device,
        pad=max(1, round(4 * args.resolution / 32)),
        flip=True,
        max_batches=args.pretrain_batches,
    )
    loader = ds.make_loader(d_train, args.batch_size, shuffle=True, seed=args.seed, drop_last=True)
    fingerprint = proxyless_fingerprint(args.width_mult, 10, "cifar10", args.resolution, 0.5, 0)
    return pretrain_supernet(
        net,
        space.UniformPath(),
        loader,
        config,
        Path(args.out) / "supernet",
        fingerprint,
        progress=False,
    )


class Recorder(gym.Wrapper):
    """Keeps every step's info, for the Pareto plot and the summary."""

    def __init__(self, env: gym.Env):
        super().__init__(env)
        self.history: list[dict] = []

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.history.append({k: v for k, v in info.items() if k != "pareto_latency"})
        return obs, reward, terminated, truncated, info


def search(args: Args, agent: str, table: str, lut: str, target: float, env_kwargs: dict) -> dict:
    env = Recorder(
        gym.make(
            "ProxylessNAS-v1", lut=lut, latency_target=target, max_queries=args.steps, **env_kwargs
        )
    )
    model = make_agent(agent, env, seed=args.seed)
    start = time.perf_counter()
    model.learn(total_timesteps=args.steps, callback=NASMetricsCallback(verbose=1))
    elapsed = time.perf_counter() - start
    hist = env.history[: args.steps]
    feasible = [h for h in hist if h["feasible"]]
    best = max(feasible, key=lambda h: h["valid_acc"]) if feasible else None
    png = plot_fronts(
        hist,
        Path(args.out) / f"pareto_{agent}_{table}.png",
        value_key="valid_acc",
        cost_keys=("latency_ms",),
        key="arch",
        title=f"{agent} on ProxylessNAS-v1, {table} table, target {target:.1f} ms",
        targets={"latency_ms": target},
    )
    return {
        "agent": agent,
        "table": table,
        "target_ms": target,
        "steps": len(hist),
        "unique": len({h["arch"] for h in hist}),
        "feasible_share": len(feasible) / max(len(hist), 1),
        "best": best,
        "seconds": elapsed,
        "plot": str(png),
    }


def main() -> None:
    args = parse_args(Args, __doc__)
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    # 1. proxy task
    if args.synthetic_proxy:
        root, verify = (
            write_synthetic_proxy(out / "synthetic_cifar", args.synthetic_proxy, args.seed),
            False,
        )
        print(
            f"proxy task: SYNTHETIC 10-class images in CIFAR-10 format, {args.synthetic_proxy}/class"
        )
    else:
        root, verify = Path(args.root) if args.root else default_data_root(), True
        print(f"proxy task: CIFAR-10 from {root}")

    # 2. supernet
    start = time.perf_counter()
    ckpt = pretrain(args, root, verify)
    print(
        f"supernet: {ckpt} ({time.perf_counter() - start:.1f} s, {args.pretrain_epochs} epochs at {args.resolution} px)"
    )

    # 3. this machine's latency table
    start = time.perf_counter()
    cpu_lut = measure(
        "cpu",
        resolution=args.cpu_resolution,
        repeats=args.cpu_repeats,
        threads=args.threads,
        progress=False,
    )
    cpu_table = load_lut(cpu_lut)
    rng = np.random.default_rng(args.seed)
    sample = [cpu_table.latency(space.sample_ops(rng)) for _ in range(500)]
    cpu_target = args.cpu_target if args.cpu_target is not None else float(np.median(sample))
    print(
        f"CPU latency table: {cpu_lut} ({time.perf_counter() - start:.1f} s); random architectures "
        f"{min(sample):.2f}-{max(sample):.2f} ms at {cpu_table.resolution} px, target {cpu_target:.2f} ms"
    )

    # 4. searches
    env_kwargs = dict(
        root=str(root),
        verify_data=verify,
        resolution=args.resolution,
        width_mult=args.width_mult,
        checkpoint=str(ckpt),
        batch_size=args.batch_size,
        valid_batches=args.valid_batches,
        constraint=args.constraint,
        device=args.device,
    )
    results = []
    for table, lut, target in (
        ("pixel1", "pixel1", args.pixel1_target),
        ("cpu", str(cpu_lut), cpu_target),
    ):
        for agent in args.agents:
            r = search(args, agent, table, lut, target, env_kwargs)
            results.append(r)
            b = r["best"]
            print(
                f"\n[{agent} | {table} <= {target:.1f} ms | {args.constraint}] {r['steps']} steps "
                f"({r['unique']} unique, {100 * r['feasible_share']:.0f}% feasible) in {r['seconds']:.1f} s"
            )
            if b is None:
                print("  no feasible architecture found")
            else:
                print(
                    f"  best feasible: {b['arch']}\n"
                    f"    valid acc {b['valid_acc']:.2f}%  latency {b['latency_ms']:.2f} ms  "
                    f"{b['flops_M']:.0f} MFLOPs  {b['params_M']:.2f} M params"
                )
            print(f"  Pareto plot: {r['plot']}")
    atomic_write_text(out / "results.json", json.dumps(results, indent=2))
    print(f"\nwrote {out / 'results.json'}")


if __name__ == "__main__":
    main()
