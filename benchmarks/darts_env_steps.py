"""Seconds per ``DARTSSupernet-v0`` step (train / score / cost / agent) and pre-training images/s.

Two configurations:

* ``small``: the tiny CPU configuration of the tests (C=4, 3 cells, 8x8 images);
* ``thesis``: Mills (2020): DDAS 6 cells, C=16, batch 64, M=25 training batches per
  step (Sec. 3.2.1, 3.4.1); CADAM 8 cells, C=16, batch 250 (Sec. 4.4.2); 32x32 images;
  evaluation network 20 cells x 36 channels for params/FLOPs.

Images are synthetic (random pixels written in the official CIFAR-10 pickle
format, read through torchvision), because the numbers are about time, not
accuracy. Scoring covers ``--valid-batches`` batches; the full-D_V column
extrapolates linearly to the thesis' 25,000 validation images. Agent time is the
time ``learn()`` spends outside ``env.step`` (DDAS-NL in parallel mode, CADAM with
its DARTS preset in sequential mode, both updating from the first steps on;
CADAM with |B_R|=2 instead of 64 so that a few steps already train it).

Pre-training throughput is single-path uniform sampling (CADAM, Sec. 4.1.3) against
the mixed-op supernet (all 14 x 7 ops, the DDAS warm-up) on the same batches; the
ratio column is path / mixed.

    python benchmarks/darts_env_steps.py --config small --steps 6
    python benchmarks/darts_env_steps.py --config thesis --steps 2 --valid-batches 2 --device cuda
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch

import nas_gym  # noqa: F401
from nas_gym.envs.darts import DARTSSupernetEnv, pretrain_fingerprint, sample_darts_path
from nas_gym.supernets import datasets as ds
from nas_gym.supernets.darts import DARTSSupernet
from nas_gym.supernets.pretrain import PretrainConfig, init_parameters, pretrain_supernet

FULL_DV = 25_000  # thesis D_V size on CIFAR-10 (Sec. 3.2)

CONFIGS = {
    "small": {
        "images": 200,
        "resolution": 8,
        "C": 4,
        "cells": {"parallel": 3, "sequential": 3},
        "batch": {"parallel": 8, "sequential": 8},
        "train_batches": 2,
        "eval": (4, 3),
    },
    "thesis": {
        "images": 2_000,
        "resolution": None,
        "C": 16,
        "cells": {"parallel": 6, "sequential": 8},
        "batch": {"parallel": 64, "sequential": 250},
        "train_batches": 25,
        "eval": (36, 20),
    },
}


def write_synthetic_cifar(root: Path, n_train: int, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)

    def part(n: int) -> tuple[np.ndarray, list[int]]:
        return rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8), (np.arange(n) % 10).tolist()

    ds.write_cifar_batches(root, "cifar10", part(n_train), part(20))
    return root


class _Timed(gym.Wrapper):
    """Accumulates the wall time spent inside ``env.step`` and ``env.reset``."""

    def __init__(self, env: gym.Env):
        super().__init__(env)
        self.env_s = 0.0
        self.parts: list[dict[str, float]] = []

    def step(self, action):
        t0 = time.perf_counter()
        out = self.env.step(action)
        self.env_s += time.perf_counter() - t0
        self.parts.append(dict(self.env.unwrapped.last_timings))
        return out

    def reset(self, **kwargs):
        t0 = time.perf_counter()
        out = self.env.reset(**kwargs)
        self.env_s += time.perf_counter() - t0
        return out


def make_checkpoint(cfg: dict, root: Path, out: Path, device: str) -> Path:
    """A 1-batch 'pre-trained' supernet, only so the sequential env has weights to load."""
    transform = ds.cifar_transforms(False, resolution=cfg["resolution"])
    train = ds.load_image_dataset("cifar10", root, True, transform, verify=False)
    d_t, _ = ds.split_train(train, 0.5, 0)
    net = init_parameters(DARTSSupernet(C=cfg["C"], num_cells=cfg["cells"]["sequential"]), 0)
    fp = pretrain_fingerprint(net.config, False, "cifar10", cfg["resolution"], 0.5, 0)
    batch = cfg["batch"]["sequential"]
    config = PretrainConfig(epochs=1, batch_size=batch, max_batches=1, device=device)
    return pretrain_supernet(
        net, sample_darts_path, ds.make_loader(d_t, batch, True, 0), config, out, fp, progress=False
    )


def bench_env(
    mode: str, cfg: dict, root: Path, ckpt: Path | None, steps: int, valid_batches: int, device: str
) -> dict:
    from nas_gym.agents.registry import make_agent

    kwargs = {
        "mode": mode,
        "root": str(root),
        "verify_data": False,
        "resolution": cfg["resolution"],
        "C": cfg["C"],
        "num_cells": cfg["cells"][mode],
        "batch_size": cfg["batch"][mode],
        "valid_batches": valid_batches,
        "eval_channels": cfg["eval"][0],
        "eval_cells": cfg["eval"][1],
        "max_queries": steps + 1,
        "device": device,
    }
    if mode == "parallel":
        # warm-up is not timed; a uniform one avoids the mixed supernet's memory on small machines
        kwargs.update(
            train_batches=cfg["train_batches"], warmup_steps=1, warmup="uniform", os_samples=1
        )
        agent_name, overrides = "ddas-nl", {"explore_steps": 1}
    else:
        kwargs.update(checkpoint=str(ckpt))
        agent_name, overrides = "cadam", {"preset": "darts", "warmup_steps": 1, "batch_size": 2}
    env = _Timed(DARTSSupernetEnv(**kwargs))
    agent = make_agent(agent_name, env, seed=0, **overrides)
    env.reset(seed=0)  # warm-up (parallel) happens here, outside the timed search
    env.env_s, env.parts = 0.0, []
    t0 = time.perf_counter()
    agent.learn(total_timesteps=steps)
    wall = time.perf_counter() - t0
    n = len(env.parts)
    mean = {k: float(np.mean([p[k] for p in env.parts])) for k in ("train_s", "score_s", "cost_s")}
    images_scored = valid_batches * cfg["batch"][mode]
    return {
        "mode": mode,
        "steps": n,
        **mean,
        "agent_s": (wall - env.env_s) / n,
        "step_s": env.env_s / n,
        "score_full_dv_s": mean["score_s"] * FULL_DV / images_scored,
    }


def bench_pretrain(
    cfg: dict, root: Path, batches: int, batch: int | None, device: str
) -> list[dict]:
    transform = ds.cifar_transforms(False, resolution=cfg["resolution"])
    train = ds.load_image_dataset("cifar10", root, True, transform, verify=False)
    d_t, _ = ds.split_train(train, 0.5, 0)
    batch = batch or cfg["batch"]["sequential"]
    rows = []
    for name, sampler in (("uniform path", sample_darts_path), ("mixed (all ops)", None)):
        net = init_parameters(DARTSSupernet(C=cfg["C"], num_cells=cfg["cells"]["sequential"]), 0)
        fp = pretrain_fingerprint(net.config, False, "cifar10", cfg["resolution"], 0.5, 0)
        config = PretrainConfig(
            epochs=1, batch_size=batch, max_batches=batches, device=device, pad=4, flip=True
        )
        loader = ds.make_loader(d_t, batch, True, 0, drop_last=True)
        with tempfile.TemporaryDirectory() as tmp:
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            pretrain_supernet(net, sampler, loader, config, Path(tmp), fp, progress=False)
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            seconds = time.perf_counter() - t0
        rows.append({"sampling": name, "images_per_s": batches * batch / seconds, "batch": batch})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", choices=("small", "thesis", "both"), default="both")
    parser.add_argument("--steps", type=int, default=4, help="environment steps timed per mode")
    parser.add_argument("--valid-batches", type=int, default=2, help="D_V batches scored per step")
    parser.add_argument(
        "--pretrain-batches", type=int, default=4, help="batches timed for throughput"
    )
    parser.add_argument(
        "--pretrain-batch",
        type=int,
        default=None,
        help="batch for the throughput test (default: the config's 250/8; the mixed supernet at "
        "C=16, 8 cells needs several GB per 32 images, so use a smaller one on a small machine)",
    )
    parser.add_argument(
        "--parts", nargs="+", choices=("env", "pretrain"), default=["env", "pretrain"]
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (default: torch's)"
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = str(ds.resolve_device(args.device))
    gpu = torch.cuda.get_device_name(device) if device.startswith("cuda") else "none"
    print(
        f"machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads, "
        f"device {device} (GPU: {gpu}); torch {torch.__version__}"
    )
    names = ("small", "thesis") if args.config == "both" else (args.config,)
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            cfg = CONFIGS[name]
            root = write_synthetic_cifar(Path(tmp) / name, cfg["images"])
            ckpt = make_checkpoint(cfg, root, Path(tmp) / f"{name}_ck", device)
            print(f"\n## {name} configuration: C={cfg['C']}, cells {cfg['cells']}, batch {cfg['batch']}, "
                  f"M={cfg['train_batches']}, image {cfg['resolution'] or 32}px, eval net {cfg['eval'][1]} cells x "
                  f"{cfg['eval'][0]} ch; {args.steps} steps, {args.valid_batches} D_V batches per score")  # fmt: skip
            if "env" in args.parts:
                print(
                    "\n| mode | train s | score s | cost s | agent s | step s | score, full D_V (25k) s |"
                )
                print("|---|---|---|---|---|---|---|")
                for mode in ("parallel", "sequential"):
                    r = bench_env(mode, cfg, root, ckpt, args.steps, args.valid_batches, device)
                    print(
                        f"| {mode} | {r['train_s']:.3f} | {r['score_s']:.3f} | {r['cost_s']:.3f} | "
                        f"{r['agent_s']:.3f} | {r['step_s']:.3f} | {r['score_full_dv_s']:.1f} |",
                        flush=True,
                    )
            if "pretrain" not in args.parts:
                continue
            rows = bench_pretrain(cfg, root, args.pretrain_batches, args.pretrain_batch, device)
            print(
                f"\n| pre-training ({args.pretrain_batches} batches of {rows[0]['batch']}) | images/s | ratio vs mixed |"
            )
            print("|---|---|---|")
            for r in rows:
                print(
                    f"| {r['sampling']} | {r['images_per_s']:.1f} | {r['images_per_s'] / rows[1]['images_per_s']:.2f} |"
                )


if __name__ == "__main__":
    main()
