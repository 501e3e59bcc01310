"""Seed-system agents on ProxylessNAS-v0 with the real Pixel-1 latency table and a tiny proxy.

The proxy task is a small *synthetic* 10-class image set in the CIFAR-10 file format
(this machine has no CIFAR), scored by an untrained width-0.25 supernet at 16 px, so
accuracies mean nothing; latencies are ProxylessNAS' Pixel-1 lookup table at the
full 224 px MobileNetV2 network, so the latency numbers are real. What this measures:
the controllers run 500 queries on the 21-row space with its op mask, and the
fraction of queries under ``--target`` ms (first vs last 100) for UNAS' hinge and
for REA with the env's hard constraint. One JSON per run (atomic; a rerun resumes).

    nice -n 10 python benchmarks/seed_agents_proxyless.py --agents rnn-reinforce,rnn-ppo,unas,rea \\
        --steps 500 --seeds 1 --out results/seed_agents_proxyless
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3.common.callbacks import BaseCallback

import nas_gym  # noqa: F401
from nas_gym.agents.registry import make_agent
from nas_gym.data import atomic_write_text
from nas_gym.supernets import datasets as ds


def synthetic_cifar(root: Path, per_class: int = 4) -> Path:
    """Colour-coded 10-class images + noise in the CIFAR-10 pickle format."""
    if (root / "cifar-10-batches-py").exists():
        return root
    rng = np.random.default_rng(0)
    colours = rng.integers(0, 256, (10, 3))

    def images(n: int) -> tuple[np.ndarray, list[int]]:
        labels = [i % 10 for i in range(n)]
        base = colours[labels][:, None, None, :].astype(np.int64)
        return np.clip(base + rng.integers(-40, 41, (n, 32, 32, 3)), 0, 255).astype(
            np.uint8
        ), labels

    ds.write_cifar_batches(root, "cifar10", images(10 * per_class), images(10))
    return root


class Rec(BaseCallback):
    """Latency, accuracy and architecture of every query, with progress every 50."""

    def __init__(self, label: str, total: int):
        super().__init__()
        self.label, self.total = label, total
        self.lat: list[float] = []
        self.acc: list[float] = []
        self.archs: list[str] = []

    def _on_step(self) -> bool:
        info = self.locals["infos"][0]
        self.lat.append(info["latency_ms"])
        self.acc.append(info["valid_acc"])
        self.archs.append(info["arch"])
        if len(self.lat) % 50 == 0:
            print(f"  {self.label}: {len(self.lat)}/{self.total} queries", flush=True)
        return True


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--agents", default="rnn-reinforce,rnn-ppo,unas,rea")
    p.add_argument("--steps", type=int, default=500)
    p.add_argument("--seeds", default="1")
    p.add_argument("--target", type=float, default=80.0, help="latency target, ms (Pixel-1)")
    p.add_argument("--out", required=True)
    args = p.parse_args()
    torch.set_num_threads(1)
    out = Path(args.out)
    (out / "runs").mkdir(parents=True, exist_ok=True)
    root = synthetic_cifar(out / "synthetic_cifar")
    base = dict(
        root=str(root), verify_data=False, resolution=16, width_mult=0.25, batch_size=20,
        valid_batches=1, max_queries=args.steps, reward="accuracy", lut="pixel1",
    )  # fmt: skip
    lo, _, hi = args.seeds.partition("-")
    for agent in args.agents.split(","):
        for seed in range(int(lo), int(hi or lo) + 1):
            path = out / "runs" / f"{agent}__s{seed}.json"
            if path.exists():
                continue
            if agent.startswith("unas"):  # UNAS' own hinge on info["latency_ms"]
                env_kw, agent_kw = {"latency_target": None}, {"target_latency": args.target}
            else:  # the env's hard constraint (infeasible cells get reward 0)
                env_kw, agent_kw = {"latency_target": args.target, "constraint": "hard"}, {}
            env = gym.make("ProxylessNAS-v0", **base, **env_kw)
            model = make_agent(agent, env, seed=seed, **agent_kw)
            rec = Rec(f"{agent} seed {seed}", args.steps)
            t0 = time.perf_counter()
            model.learn(args.steps, callback=rec)
            lat, acc, archs = rec.lat, rec.acc, rec.archs
            feas = np.asarray(lat) <= args.target
            result = {
                "agent": agent, "seed": seed, "steps": args.steps, "target_ms": args.target,
                "wall_s": time.perf_counter() - t0, "unique": len(set(archs)),
                "feasible_first100": float(feas[:100].mean()), "feasible_last100": float(feas[-100:].mean()),
                "latency_ms": lat, "valid_acc": acc,
            }  # fmt: skip
            atomic_write_text(path, json.dumps(result))
            print(
                f"{agent} seed {seed}: feasible {result['feasible_first100']:.2f} -> "
                f"{result['feasible_last100']:.2f}, unique {result['unique']}, {result['wall_s']:.0f} s",
                flush=True,
            )


if __name__ == "__main__":
    main()
