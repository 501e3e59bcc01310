"""The README's Python snippet with torch's default thread count vs one thread.

Issue 14: on a loaded 2-core machine the snippet (SB3 ``TD3`` then ``CADAM``, 500
queries each) took 585 s with torch's default threads and 41 s with one. This runs
both settings in fresh subprocesses (the thread count is per process), alternating
their order over ``--repeats``, and prints wall and CPU seconds and their ratio:

* ``default threads``: the snippet before the fix, TD3 bare and CADAM with
  ``torch_threads = None`` (torch's default, one thread per core);
* ``as written now``: the README snippet, TD3 inside ``single_thread()`` and CADAM
  with its default ``torch_threads = 1``.

Usage: ``python benchmarks/readme_snippet_threads.py --repeats 1 --steps 500``

Measured on the project's 2-core x86_64 machine, shared with other jobs (load
average 7-15, so the two settings did not see the same load): 500 queries, default
threads 2,487 s wall / 445 CPU-s, one thread 45 s / 21 CPU-s; 150 queries, back to
back, 138 s / 51 CPU-s vs 15 s / 4.6 CPU-s (9.5x wall, 11x CPU). Issue 12, with CADAM's
autograd update, 150 queries back to back, beside three other search processes (load 2.7-3.3):
196.6 s / 119.2 CPU-s vs 11.1 s / 7.4 CPU-s (17.6x wall, 16.1x CPU).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time

CHILD = r"""
import json, resource, sys, time
import gymnasium as gym, torch, nas_gym
from stable_baselines3 import TD3
from nas_gym.agents.cadam import CADAM
from nas_gym.agents.common.threads import single_thread, torch_threads

mode, steps = sys.argv[1], int(sys.argv[2])
env = gym.make("NASBench201-v0", dataset="cifar100", reward_metric="valid")
env.reset(seed=0)
t0, c0 = time.perf_counter(), time.process_time()
threads_default = torch.get_num_threads()
if mode == "default":
    TD3("MlpPolicy", env).learn(steps)
    agent = CADAM("MlpPolicy", env)
    agent.torch_threads = None
    agent.learn(steps)
else:
    with single_thread():
        TD3("MlpPolicy", env).learn(steps)
    CADAM("MlpPolicy", env).learn(steps)
print(json.dumps({"wall_s": time.perf_counter() - t0, "cpu_s": time.process_time() - c0,
                  "torch_default_threads": threads_default}))
"""

MODES = {"default": "default threads (before)", "single": "as written now (1 thread)"}


def run_once(mode: str, steps: int) -> dict[str, float]:
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}  # torch's own default
    out = subprocess.run(
        [sys.executable, "-c", CHILD, mode, str(steps)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=500, help="queries per agent (README: 500)")
    parser.add_argument("--repeats", type=int, default=1, help="runs per setting")
    args = parser.parse_args()
    if args.steps < 1 or args.repeats < 1:
        raise SystemExit(f"--steps and --repeats must be >= 1, got {args.steps}, {args.repeats}")
    with open("/proc/loadavg") as f:
        load = f.read().split()[:3]
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, load average {' '.join(load)}",
        flush=True,
    )
    results: dict[str, list[dict[str, float]]] = {m: [] for m in MODES}
    for r in range(args.repeats):
        order = list(MODES) if r % 2 == 0 else list(MODES)[::-1]
        for mode in order:
            t0 = time.perf_counter()
            print(f"[{r + 1}/{args.repeats}] {MODES[mode]} ...", end=" ", flush=True)
            res = run_once(mode, args.steps)
            results[mode].append(res)
            print(
                f"{res['wall_s']:.1f} s wall, {res['cpu_s']:.1f} CPU-s "
                f"(torch default threads: {res['torch_default_threads']}; "
                f"process {time.perf_counter() - t0:.1f} s)",
                flush=True,
            )
    print(f"\nREADME snippet, TD3 + CADAM, {args.steps} queries each, {args.repeats} run(s):")
    print(f"{'setting':<28} {'wall s (mean)':>14} {'CPU-s (mean)':>13}")
    means = {}
    for mode, rows in results.items():
        wall = sum(r["wall_s"] for r in rows) / len(rows)
        cpu = sum(r["cpu_s"] for r in rows) / len(rows)
        means[mode] = (wall, cpu)
        print(f"{MODES[mode]:<28} {wall:>14.1f} {cpu:>13.1f}")
    ratio_wall = means["default"][0] / means["single"][0]
    ratio_cpu = means["default"][1] / means["single"][1]
    print(f"default / one thread: {ratio_wall:.2f}x wall, {ratio_cpu:.2f}x CPU")


if __name__ == "__main__":
    main()
