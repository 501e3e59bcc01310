"""Wall time of S CADAM seeds in one batched process against one seed alone.

CADAM-500 on NASBench201-v0 (thesis NB201 settings, cifar100, valid). Rows: one
seed with ``CADAM.learn`` and ``--seeds`` seeds with
:class:`nas_gym.agents.cadam.batched.BatchedCADAM`, each at every torch thread count in
``--threads``, all in the same run. Ratios are against the *fastest* single-seed row
(wall) and the cheapest (CPU), so extra threads never flatter the batch by slowing
the baseline. The issue-12 target is batched S=10 in at most 2x the single seed's
wall time.

    python benchmarks/cadam_batched.py --seeds 10 --steps 500 --threads 1,2 --processes 2

``--processes 2`` adds a row with the seeds split over two one-thread batched
processes (5 + 5), which is how ``nas-gym bench --jobs 2`` runs one cell's 10 seeds.

``--device cuda`` puts the batched rows (and ``--sweep``) on a GPU; the single-seed
rows stay on the CPU, where one seed's tiny networks run fastest, so the ratios
compare a GPU batch with the best single seed. Issue 12 asks for this measurement
where a GPU is available; try more seeds there, e.g. ``--seeds 10`` then ``--seeds 100``:

    python benchmarks/cadam_batched.py --device cuda --seeds 10 --steps 500

``--sweep 1,2,5,10,20`` instead times the update alone (``BatchedCADAM._train``, C_max
= 10 cycles of replay batches drawn like the real ones) at each stack size S: the cost
of one update cycle and its share per seed. Where the per-seed share stops falling,
stacking more seeds no longer amortises per-call overhead and the batch runs at the
machine's memory and matmul rate for these tiny (8-row) batches.

    python benchmarks/cadam_batched.py --sweep 1,2,5,10,20 --threads 1,2

``--compile`` adds, at each stack size, the same update with ``torch.compile`` (inductor)
applied to the critics' and the actor's forward passes (AOTAutograd compiles their
backward too) and to both optimizers' steps, timed right after the eager row; the
one-off compile time is printed apart, not counted per cycle.

    python benchmarks/cadam_batched.py --sweep 1,10 --compile

``--floor 10`` times, in isolation, every compute kernel one update cycle of 10 stacked
seeds runs (each layer's forward, weight-gradient and input-gradient batched matmul, and
both fused Adam steps, on the real stacked shapes with warm caches: no autograd, no
Python in between, no environment) and sums them per seed and cycle, then scales that to
the ``table4.1`` preset's searching runs. It is a lower bound on what this autograd update
can cost on the machine, to hold against the preset's 60 s target.

    python benchmarks/cadam_batched.py --floor 10

``--bandwidth`` prints this machine's memory copy rate (read + write, GB/s) for
buffers the size of one process's stacked state and larger, at each ``--threads``
count: the denominator of the memory floor in docs/cadam_table41.md, "Speed".

    python benchmarks/cadam_batched.py --bandwidth --threads 1,2
"""

from __future__ import annotations

import argparse
import math
import multiprocessing as mp
import os
import platform
import time
from collections.abc import Callable
from itertools import islice

import gymnasium as gym
import torch

import nas_gym  # noqa: F401
from nas_gym.agents.bench.backends import near_equal_chunks
from nas_gym.agents.bench.run import quiet_version_notice
from nas_gym.agents.cadam import CADAM
from nas_gym.agents.cadam.batched import BatchedCADAM
from nas_gym.agents.cadam.cadam import actor_critics, update_cycles
from nas_gym.agents.common.threads import torch_threads
from nas_gym.commands.bench import PRESETS

CPU = torch.device("cpu")


def make_env(steps: int) -> gym.Env:
    quiet_version_notice()  # -v0 on purpose, as the bench: CADAM's (rows, ops) spaces
    return gym.make("NASBench201-v0", dataset="cifar100", max_queries=steps)


def time_single(steps: int, threads: int) -> tuple[float, float]:
    agent = CADAM("MlpPolicy", make_env(steps), seed=1)
    agent.torch_threads = threads
    t0, c0 = time.perf_counter(), time.process_time()
    agent.learn(steps)
    return time.perf_counter() - t0, time.process_time() - c0


def synchronize(device: torch.device) -> None:
    """Wait for queued GPU work, so that a clock read after it counts it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_batched(
    n_seeds: int, steps: int, threads: int, device: torch.device = CPU
) -> tuple[float, float]:
    seeds = list(range(1, n_seeds + 1))
    envs = [make_env(steps) for _ in seeds]
    batched = BatchedCADAM(envs, seeds, batch_threads=threads, device=device)
    synchronize(device)
    t0, c0 = time.perf_counter(), time.process_time()
    batched.learn(steps)
    synchronize(device)
    return time.perf_counter() - t0, time.process_time() - c0


def _batch_worker(seeds: list[int], steps: int, start, results) -> None:
    """One process of :func:`time_processes`: build, wait for the others, learn, report."""
    batched = BatchedCADAM([make_env(steps) for _ in seeds], seeds, batch_threads=1)
    start.wait()
    c0 = time.process_time()
    batched.learn(steps)
    results.put((time.perf_counter(), time.process_time() - c0))


def time_processes(n_seeds: int, steps: int, processes: int) -> tuple[float, float]:
    """``n_seeds`` split near-equally over ``processes`` one-thread batches, as
    ``nas-gym bench --jobs`` splits a cell's seeds (:func:`~nas_gym.agents.bench.backends.plan_units`).

    Every process builds its agents first; the clock starts when all are built, so
    the row times learning alone, like the in-process rows.
    """
    ctx = mp.get_context("spawn")
    seeds = list(range(1, n_seeds + 1))
    chunks = near_equal_chunks(seeds, processes)
    # a worker that dies before the barrier breaks it after 10 minutes instead of hanging
    start, results = ctx.Barrier(processes + 1, timeout=600), ctx.Queue()
    workers = [ctx.Process(target=_batch_worker, args=(c, steps, start, results)) for c in chunks]
    for w in workers:
        w.start()
    start.wait()
    t0 = time.perf_counter()
    ends = [results.get(timeout=3600) for _ in workers]
    for w in workers:
        w.join()
    return max(end for end, _ in ends) - t0, sum(cpu for _, cpu in ends)


def compile_update(batched: BatchedCADAM) -> None:
    """Route ``batched._train``'s forward passes and optimizer steps through ``torch.compile``."""
    batched.q_values = torch.compile(batched.q_values)
    batched.actor = torch.compile(batched.actor)
    for optimizer in (batched.critic_optimizer, batched.actor_optimizer):
        # dynamo cannot trace the fused CPU Adam kernel (a graph break, then the eager
        # kernel): let inductor generate the update from Adam's plain tensor ops instead
        for group in optimizer.param_groups:
            group["fused"], group["foreach"] = False, False
        optimizer.step = torch.compile(optimizer.step)


def time_update(
    n_seeds: int,
    threads: int,
    repeats: int = 30,
    device: torch.device = CPU,
    compiled: bool = False,
) -> tuple[float, float]:
    """Milliseconds per update cycle of ``n_seeds`` stacked CADAM seeds (C_max cycles per
    call), and the seconds of the first (warm-up) call, which includes any compiling."""
    seeds = list(range(1, n_seeds + 1))
    envs = [make_env(10) for _ in seeds]
    batched = BatchedCADAM(envs, seeds, batch_threads=threads, device=device)
    if compiled:
        compile_update(batched)
    agent = batched.agents[0]
    cycles, rows = agent.max_cycles, agent.batch_size
    obs_dim = math.prod(agent.observation_space.shape)
    act_dim = math.prod(agent.action_space.shape)
    gen = torch.Generator().manual_seed(0)

    def batches() -> list[tuple[torch.Tensor, ...]]:
        return [
            (
                torch.rand(cycles, rows, obs_dim, generator=gen),
                torch.rand(cycles, rows, act_dim, generator=gen),
                torch.rand(cycles, rows, 1, generator=gen),
            )
            for _ in seeds
        ]

    with torch_threads(threads):
        t0 = time.perf_counter()
        batched._train(batches())  # warm-up: optimizer state, allocator, compiling
        synchronize(device)
        warm_s = time.perf_counter() - t0
        data = [batches() for _ in range(repeats)]
        synchronize(device)
        t0 = time.perf_counter()
        for part in data:
            batched._train(part)
        synchronize(device)
        return (time.perf_counter() - t0) / (repeats * cycles) * 1e3, warm_s


def sweep(
    sizes: list[int],
    thread_counts: list[int],
    device: torch.device = CPU,
    compile_too: bool = False,
) -> None:
    """Print the update-cycle cost per stack size and thread count (see the module doc).

    With ``compile_too`` each eager row is followed by its ``torch.compile`` twin;
    "vs eager" is the compiled cycle's time over the eager row just before it.
    """
    print(
        "| threads | seeds S | update | ms per cycle | ms per seed-cycle | vs S=1 per seed "
        "| vs eager | first call s |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for threads in thread_counts:
        base = None
        for n in sizes:
            eager = None
            for compiled in (False, True) if compile_too else (False,):
                ms, warm_s = time_update(n, threads, device=device, compiled=compiled)
                base = ms if base is None and n == 1 and not compiled else base
                eager = ms if not compiled else eager
                rel = f"{ms / n / base:.2f}" if base else "-"
                vs = f"{ms / eager:.2f}" if compiled else "1.00"
                kind = "torch.compile" if compiled else "eager"
                print(
                    f"| {threads} | {n} | {kind} | {ms:.2f} | {ms / n:.3f} | {rel} | {vs} "
                    f"| {warm_s:.1f} |",
                    flush=True,
                )


def best_us(fn: Callable[[], object], calls: int) -> float:
    """Microseconds per call of ``fn``: the best of three means over ``calls`` calls."""
    fn()
    best = math.inf
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        best = min(best, (time.perf_counter() - t0) / calls)
    return best * 1e6


def cycle_matmuls(batched: BatchedCADAM) -> list[tuple[str, str, torch.Tensor, float]]:
    """The batched matmuls of one update cycle of ``batched._train``, as autograd runs them:
    ``(step, kind, stacked weight, calls per cycle)``, kind ``"forward"`` (``baddbmm``),
    ``"weight grad"`` or ``"input grad"`` (``bmm``).

    The critic step runs each critic forward, its weight gradients and its input
    gradients below the first layer. The actor step (every ``policy_delay`` cycles) runs
    the actor forward, the critics its objective reads forward and back to their input
    (their weights are frozen: no weight gradients), and the actor's weight gradients and
    input gradients below its first layer.
    """
    agent = batched.agents[batched.active[0]]
    share = 1 / agent.policy_delay
    read = list(islice(batched.critics, actor_critics(agent.actor_q)))
    out = []
    for critic in batched.critics:
        for i, (w, _) in enumerate(critic._layers):
            out += [("critic", "forward", w, 1.0), ("critic", "weight grad", w, 1.0)]
            out += [("critic", "input grad", w, 1.0)] if i else []
    for i, (w, _) in enumerate(batched.actor._layers):
        out += [("actor", "forward", w, share), ("actor", "weight grad", w, share)]
        out += [("actor", "input grad", w, share)] if i else []
    for critic in read:
        for w, _ in critic._layers:
            out += [("actor", "forward", w, share), ("actor", "input grad", w, share)]
    return out


def matmul_us(kind: str, weight: torch.Tensor, rows: int, calls: int) -> float:
    """Microseconds of one ``kind`` matmul (see :func:`cycle_matmuls`) of a stacked layer."""
    w = weight.detach()
    x = torch.rand(w.shape[0], rows, w.shape[1])
    g = torch.rand(w.shape[0], rows, w.shape[2])
    b = torch.rand(w.shape[0], 1, w.shape[2])
    fn = {
        "forward": lambda: torch.baddbmm(b, x, w),
        "weight grad": lambda: torch.bmm(x.transpose(1, 2), g),
        "input grad": lambda: torch.bmm(g, w.transpose(1, 2)),
    }[kind]
    return best_us(fn, calls)


def optimizer_us(optimizer: torch.optim.Optimizer, calls: int) -> float:
    """Microseconds of one ``optimizer.step()`` over its (stacked) parameters."""
    for group in optimizer.param_groups:
        for p in group["params"]:
            p.grad = torch.rand_like(p)
    return best_us(optimizer.step, calls)


def kernel_floor(n_seeds: int, calls: int = 200) -> list[tuple[str, float]]:
    """Microseconds per seed and update cycle inside the compute kernels of CADAM's
    update (``BatchedCADAM._train``) for ``n_seeds`` stacked seeds, one thread: every
    matmul of :func:`cycle_matmuls` and both fused Adam steps, each timed alone."""
    seeds = list(range(1, n_seeds + 1))
    batched = BatchedCADAM([make_env(10) for _ in seeds], seeds, batch_threads=1)
    agent = batched.agents[0]
    parts = {}
    with torch_threads(1):
        for step, kind, w, per_cycle in cycle_matmuls(batched):
            us = per_cycle * matmul_us(kind, w, agent.batch_size, calls)
            parts[f"{step} step: batched matmuls"] = (
                parts.get(f"{step} step: batched matmuls", 0) + us
            )
        parts["critic step: fused Adam"] = optimizer_us(batched.critic_optimizer, calls)
        parts["actor step: fused Adam"] = (
            optimizer_us(batched.actor_optimizer, calls) / agent.policy_delay
        )
    return [(name, us / n_seeds) for name, us in parts.items()]


def print_floor(n_seeds: int) -> None:
    """The kernel floor per seed-cycle, and what it means for the ``table4.1`` preset."""
    parts = kernel_floor(n_seeds)
    total = sum(us for _, us in parts)
    print(f"| kernels of one update cycle, {n_seeds} stacked seeds, 1 thread | us per seed-cycle |")
    print("|---|---|")
    for name, us in parts:
        print(f"| {name} | {us:.1f} |")
    print(f"| **sum** | **{total:.1f}** |")
    preset = PRESETS["table4.1"]
    # the shorter budgets replay the longest one's actions, so only the longest searches
    steps = max(int(b) for b in preset["budgets"].split(","))
    lo, hi = (int(x) for x in preset["seeds"].split("-"))
    runs = len(preset["datasets"].split(",")) * len(preset["reward_metrics"].split(","))
    runs *= hi - lo + 1
    agent = CADAM("MlpPolicy", make_env(10), seed=0)
    # the n-th step trains with n transitions in the buffer
    cycles = sum(update_cycles(n, agent.batch_size, agent.max_cycles) for n in range(1, steps + 1))
    cpu_s = runs * cycles * total / 1e6
    print(
        f"table4.1 preset: {runs} searching CADAM-{steps} runs x {cycles:,} update cycles = "
        f"{runs * cycles:,} seed-cycles; these kernels alone are {cpu_s:.0f} CPU-s, "
        f"{cpu_s / 2:.0f} s on two perfectly used cores (target: the whole preset in 60 s; "
        f"a 60 s preset leaves {60 * 2 / (runs * cycles) * 1e6:.0f} us per seed-cycle for everything)"
    )


def copy_rate(mib: int, threads: int) -> float:
    """GB/s read + written by ``Tensor.copy_`` of a ``mib``-MiB fp32 buffer (best of 3)."""
    src = torch.rand(mib * 2**20 // 4)
    dst = torch.empty_like(src)
    reps = max(3, 1000 // mib)
    best = math.inf
    with torch_threads(threads):
        dst.copy_(src)
        for _ in range(3):
            t0 = time.perf_counter()
            for _ in range(reps):
                dst.copy_(src)
            best = min(best, (time.perf_counter() - t0) / reps)
    return 2 * src.numel() * 4 / best / 1e9


def positive_ints(parser: argparse.ArgumentParser, flag: str, text: str) -> list[int]:
    """A comma-separated list of positive integers, or a parser error naming ``flag``."""
    try:
        values = [int(n) for n in text.split(",")]
    except ValueError:
        parser.error(f"{flag} must be comma-separated integers, got {text!r}")
    if not values or min(values) < 1:
        parser.error(f"{flag} must be positive integers, got {text!r}")
    return values


def parse_device(parser: argparse.ArgumentParser, text: str) -> torch.device:
    """``--device`` as a torch device this machine has, or a parser error naming it."""
    try:
        device = torch.device(text)
    except RuntimeError:
        parser.error(f"--device must be a torch device such as cpu or cuda, got {text!r}")
    if device.type == "cuda" and not torch.cuda.is_available():
        parser.error(f"--device {text}: torch.cuda.is_available() is False on this machine")
    if device.type not in ("cpu", "cuda"):
        parser.error(f"--device must be cpu or cuda (optionally cuda:N), got {text!r}")
    return device


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, default=10, help="seeds in the batched run")
    parser.add_argument("--steps", type=int, default=500, help="queries per seed")
    parser.add_argument(
        "--threads", default="1", help="comma-separated torch thread counts, e.g. 1,2"
    )
    parser.add_argument(
        "--processes",
        default=None,
        help="comma-separated process counts: also run the seeds split over that many "
        "one-thread batched processes, as nas-gym bench --jobs does (e.g. 2)",
    )
    parser.add_argument(
        "--device",
        default="cpu",
        help="torch device of the batched rows and --sweep, e.g. cuda (single seeds: CPU)",
    )
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument(
        "--bandwidth", action="store_true", help="print the memory copy rate and exit"
    )
    parser.add_argument(
        "--sweep", default=None, help="comma-separated stack sizes: time the update alone"
    )
    parser.add_argument(
        "--floor",
        type=int,
        default=None,
        metavar="S",
        help="time the compute kernels of one update cycle of S stacked seeds in isolation "
        "and print the table4.1 preset's floor",
    )
    parser.add_argument(
        "--compile",
        action="store_true",
        help="with --sweep: also time each stack size's update under torch.compile",
    )
    args = parser.parse_args()
    thread_counts = positive_ints(parser, "--threads", args.threads)
    sizes = None if args.sweep is None else positive_ints(parser, "--sweep", args.sweep)
    procs = [] if args.processes is None else positive_ints(parser, "--processes", args.processes)
    if procs and max(procs) > args.seeds:
        parser.error(f"--processes {max(procs)} is more than --seeds {args.seeds}")
    device = parse_device(parser, args.device)
    if args.compile and sizes is None:
        parser.error("--compile needs --sweep (it times the update alone)")
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, load average "
        f"{load[0]:.1f} {load[1]:.1f} {load[2]:.1f}, torch {torch.__version__}; "
        f"CADAM-{args.steps}, cifar100; batched rows on {device}"
    )
    if args.floor is not None:
        if args.floor < 1:
            parser.error(f"--floor must be a positive number of seeds, got {args.floor}")
        print_floor(args.floor)
        return
    if sizes is not None:
        sweep(sizes, thread_counts, device, compile_too=args.compile)
        return
    if args.bandwidth:
        print("| threads | buffer MiB | copy GB/s (read + write) |")
        print("|---|---|---|")
        for threads in thread_counts:
            for mib in (2, 12, 24, 256):
                print(f"| {threads} | {mib} | {copy_rate(mib, threads):.1f} |", flush=True)
        return
    for repeat in range(args.repeats):
        rows = []
        for threads in thread_counts:
            rows.append(("CADAM.learn", 1, threads, *time_single(args.steps, threads)))
        for threads in thread_counts:
            rows.append(
                (
                    "BatchedCADAM" if device == CPU else f"BatchedCADAM on {device}",
                    args.seeds,
                    threads,
                    *time_batched(args.seeds, args.steps, threads, device),
                )
            )
        for n in procs:
            rows.append(
                (
                    f"BatchedCADAM x {n} processes",
                    args.seeds,
                    1,
                    *time_processes(args.seeds, args.steps, n),
                )
            )
        wall1 = min(r[3] for r in rows if r[1] == 1)
        cpu1 = min(r[4] for r in rows if r[1] == 1)
        print(f"repeat {repeat + 1}: ratios against the fastest single seed")
        print("| run | seeds | threads | wall s | CPU s | wall / 1 seed | CPU / 1 seed |")
        print("|---|---|---|---|---|---|---|")
        for name, seeds, threads, wall, cpu in rows:
            print(
                f"| {name} | {seeds} | {threads} | {wall:.1f} | {cpu:.1f} | "
                f"{wall / wall1:.2f} | {cpu / cpu1:.2f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
