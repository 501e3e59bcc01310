"""Time ``nas-gym latency measure`` and environment steps (ProxylessNAS-v0, NASBench201-v0 with a cost).

Prints one table; ratios are against a baseline measured in the same run:

* latency measurement at 224 px (the real table) vs at a quick proxy resolution;
* a ``ProxylessNAS-v0`` step: a new architecture (one supernet pass over the scored
  D_V batches) vs a repeated one (cached score; the latency lookup alone), and the LUT
  lookup on its own;
* a ``NASBench201-v0`` step without a cost vs with a HW-NAS-Bench cost and constraint.

    python benchmarks/latency_and_steps.py --repeats 20 --steps 200

The proxy task is a synthetic CIFAR-format image set written to a temporary
directory (timing does not depend on image content).
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch

import nas_gym  # noqa: F401
from nas_gym.benchmarks.latency import device_name, load_lut, measure
from nas_gym.spaces import proxyless as space
from nas_gym.supernets import datasets as ds


def timed(fn, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument(
        "--repeats", type=int, default=20, help="timed runs per block in latency measure"
    )
    p.add_argument("--quick-resolution", type=int, default=32)
    p.add_argument("--steps", type=int, default=200, help="env steps timed per row")
    p.add_argument("--resolution", type=int, default=32, help="supernet proxy resolution")
    p.add_argument("--width-mult", type=float, default=0.35)
    p.add_argument("--valid-images", type=int, default=250)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    rows: list[tuple[str, float, str]] = []

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        start = time.perf_counter()
        measure(
            "cpu",
            repeats=args.repeats,
            threads=args.threads,
            out=tmp / "lut224.yaml",
            progress=False,
        )
        full = time.perf_counter() - start
        start = time.perf_counter()
        measure(
            "cpu",
            resolution=args.quick_resolution,
            repeats=args.repeats,
            threads=args.threads,
            out=tmp / "lut_quick.yaml",
            progress=False,
        )
        quick = time.perf_counter() - start
        rows += [
            (
                f"latency measure, {args.quick_resolution} px, {args.repeats} repeats (70 blocks)",
                quick,
                "baseline",
            ),
            (
                f"latency measure, 224 px, {args.repeats} repeats (70 blocks)",
                full,
                f"{full / quick:.1f}x",
            ),
        ]

        rng = np.random.default_rng(0)
        n = 2 * args.valid_images
        imgs = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
        ds.write_cifar_batches(
            tmp, "cifar10", (imgs, [i % 10 for i in range(n)]), (imgs[:10], list(range(10)))
        )
        env = gym.make(
            "ProxylessNAS-v0",
            root=str(tmp),
            verify_data=False,
            resolution=args.resolution,
            width_mult=args.width_mult,
            batch_size=args.valid_images,
            valid_batches=1,
            latency_target=80.0,
            max_queries=10**9,
        ).unwrapped
        env.reset(seed=0)
        actions = rng.random((args.steps, *space.SHAPE)).astype(np.float32)
        it = iter(actions)
        new = timed(lambda: env.step(next(it)), min(args.steps, 50))
        repeat_action = actions[0]
        cached = timed(lambda: env.step(repeat_action), args.steps)
        table = load_lut("pixel1")
        ops = [space.discretize(a) for a in actions]
        it2 = iter(ops * 10)
        lookup = timed(lambda: table.latency(next(it2)), len(ops) * 10)
        rows += [
            ("ProxylessNAS-v0 step, cached architecture", cached, "baseline"),
            (
                f"ProxylessNAS-v0 step, new architecture ({args.valid_images} images at {args.resolution} px)",
                new,
                f"{new / cached:.0f}x",
            ),
            (
                "Pixel-1 LUT latency of one architecture (key strings)",
                lookup,
                f"{lookup / cached:.2f}x",
            ),
        ]

        plain = gym.make("NASBench201-v0", max_queries=10**9).unwrapped
        costly = gym.make(
            "NASBench201-v0",
            cost="edgegpu_latency",
            cost_target=5.0,
            constraint="unas",
            max_queries=10**9,
        ).unwrapped
        a201 = rng.random((args.steps * 20, 6, 5)).astype(np.float32)
        for env201 in (plain, costly):
            env201.reset(seed=0)
        it3, it4 = iter(a201), iter(a201)
        t_plain = timed(lambda: plain.step(next(it3)), len(a201))
        t_cost = timed(lambda: costly.step(next(it4)), len(a201))
        rows += [
            ("NASBench201-v0 step, no cost", t_plain, "baseline"),
            (
                "NASBench201-v0 step, edgegpu_latency + unas constraint",
                t_cost,
                f"{t_cost / t_plain:.2f}x",
            ),
        ]

    print(
        f"machine: {device_name('cpu')}, {os.cpu_count()} cores, torch {torch.__version__}, "
        f"{args.threads} thread(s), {platform.platform()}"
    )
    print("| what | time | ratio |\n|---|---|---|")
    for name, seconds, ratio in rows:
        shown = (
            f"{seconds:.2f} s"
            if seconds >= 1
            else f"{seconds * 1e3:.3f} ms"
            if seconds >= 1e-4
            else f"{seconds * 1e6:.1f} us"
        )
        print(f"| {name} | {shown} | {ratio} |")


if __name__ == "__main__":
    main()
