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

import gymnasium as gym
import torch

import nas_gym  # noqa: F401
from nas_gym.agents.bench.backends import near_equal_chunks
from nas_gym.agents.bench.run import quiet_version_notice
from nas_gym.agents.cadam import CADAM
from nas_gym.agents.cadam.batched import BatchedCADAM
from nas_gym.agents.common.threads import torch_threads

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
