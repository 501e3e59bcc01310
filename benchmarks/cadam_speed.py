"""Wall time of CADAM-500 on NAS-Bench-201 (thesis defaults) on one CPU thread.

Compares, in the same process, the update path CADAM uses (flat buffers and a
hand-written backward pass, :mod:`agents.common.fastmlp`) with the plain
autograd + ``torch.optim.Adam`` update written the textbook way, and reports the
environment's share. Run it on an idle machine; it prints the machine.

    python benchmarks/cadam_speed.py --repeats 5
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import gymnasium as gym
import torch

import nas_gym  # noqa: F401
from agents.cadam import CADAM
from agents.cadam.cadam import check_loss


class AutogradCADAM(CADAM):
    """CADAM whose cycles use autograd and torch.optim.Adam (the baseline of this benchmark)."""

    def train(self, gradient_steps: int, batch_size: int) -> None:
        from agents.cadam.cadam import update_cycles

        size = self.replay_buffer.size()
        cycles = update_cycles(size, batch_size, self.max_cycles)
        if cycles == 0:
            return
        if not hasattr(self, "_ref_opts"):
            betas = self.policy.optimizer_kwargs["betas"]
            self._ref_opts = (
                torch.optim.Adam(
                    self.policy.critics.parameters(), lr=self.learning_rate, betas=betas
                ),
                torch.optim.Adam(
                    self.policy.actor.parameters(), lr=self.policy.actor_learning_rate, betas=betas
                ),
            )
        critic_opt, actor_opt = self._ref_opts
        buf = self._buffer_tensors()
        idx = torch.randint(size, (cycles, batch_size))
        for c in range(cycles):
            rows = idx[c]
            q = self.policy.q_values(buf["actions"][rows])
            loss = check_loss(q, buf["rewards"][rows], self.quantile)
            critic_opt.zero_grad()
            loss.backward()
            critic_opt.step()
            actor_loss = (
                -self.policy.q_values(self.policy.actor(buf["observations"][rows]))
                .min(dim=1)
                .values.mean()
            )
            actor_opt.zero_grad()
            actor_loss.backward()
            actor_opt.step()


def env_only(steps: int) -> float:
    env = gym.make("NASBench201-v0", max_queries=steps)
    env.reset(seed=0)
    t0 = time.perf_counter()
    for _ in range(steps):
        env.step(env.action_space.sample())
    return time.perf_counter() - t0


def timed(cls: type[CADAM], steps: int, seed: int) -> tuple[float, float]:
    """(wall s, process CPU s) of ``learn(steps)``; CPU time is the fairer number on a busy machine."""
    env = gym.make("NASBench201-v0", max_queries=steps)
    agent = cls("MlpPolicy", env, seed=seed)
    t0, c0 = time.perf_counter(), time.process_time()
    agent.learn(steps)
    return time.perf_counter() - t0, time.process_time() - c0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    timed(CADAM, 50, 0)  # warm-up: imports, first allocations
    fast = [timed(CADAM, args.steps, s) for s in range(args.repeats)]
    slow = [timed(AutogradCADAM, args.steps, s) for s in range(args.repeats)]
    env_s = min(env_only(args.steps) for _ in range(3))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"machine: {platform.machine()} {platform.processor()}, {os.cpu_count()} cores, "
        f"load average {load:.1f}, torch {torch.__version__}, 1 thread"
    )
    print(
        f"| CADAM-{args.steps} (thesis NB201 defaults) | wall min s | wall median s | CPU median s | speed-up (CPU) |"
    )
    print("|---|---|---|---|---|")
    for label, runs in (("autograd + torch.optim.Adam", slow), ("nas_gym fast path", fast)):
        walls, cpus = [w for w, _ in runs], [c for _, c in runs]
        ratio = statistics.median(c for _, c in slow) / statistics.median(cpus)
        print(
            f"| {label} | {min(walls):.2f} | {statistics.median(walls):.2f} | {statistics.median(cpus):.2f} | {ratio:.2f}x |"
        )
    print(f"| environment alone ({args.steps} random steps) | {env_s:.3f} | | | |")


if __name__ == "__main__":
    main()
