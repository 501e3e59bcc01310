"""``nas-gym bench-env``: steps per second of ``NASBench201-v0`` and table load times.

Three loops over the same pre-drawn actions, measured in one process so the
ratios are meaningful on any machine:

* ``numpy baseline``: the least work a step can do (argmax per row, base-5 code,
  index lookup, accuracy lookup), with no Gymnasium API around it;
* ``raw env``: ``NASBench201Env.step`` (validation, top-K state, info dict);
* ``gym.make``: the same through Gymnasium's default wrappers;
* ``numpy baseline, batched`` and ``vector env``: N searches per call, the
  batched baseline against ``gym.make_vec(..., vectorization_mode="vector_entry_point")``
  (:mod:`nas_gym.envs.nb201_vector`), counted in queries (N per step).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("bench-env", help="steps/s of NASBench201-v0 and table load time")
    parser.add_argument("--steps", type=int, default=200_000, help="steps per measurement")
    parser.add_argument("--repeats", type=int, default=3, help="best of N repeats")
    parser.add_argument("--observation", default="topk", choices=["topk", "last"])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument(
        "--num-envs", type=int, default=1024, help="N of the vector rows (searches per step)"
    )
    parser.set_defaults(func=_bench)


def _progress(message: str) -> None:
    """One line per finished measurement on stderr, so stdout stays the table."""
    print(message, file=sys.stderr, flush=True)


def _best_rate(fn, n: int, repeats: int, name: str = "loop") -> float:
    best = float("inf")
    for r in range(repeats):
        t0 = time.perf_counter()
        fn()
        elapsed = time.perf_counter() - t0
        best = min(best, elapsed)
        _progress(f"  {name}: repeat {r + 1}/{repeats}, {n:,} steps in {elapsed:.2f} s")
    return n / best


def _bench(args: argparse.Namespace) -> int:
    import gymnasium as gym
    import numpy as np

    import nas_gym  # noqa: F401  (registers the env)
    from nas_gym.benchmarks import nb201
    from nas_gym.data import cache_dir
    from nas_gym.envs.nb201 import NASBench201Env
    from nas_gym.spaces import nb201 as space

    if args.steps < 1 or args.repeats < 1:
        raise ValueError(
            f"--steps and --repeats must be positive, got {args.steps}, {args.repeats}"
        )
    if args.num_envs < 1:  # checked here: the vector loops run after minutes of others
        raise ValueError(f"--num-envs must be positive, got {args.num_envs}")

    _progress(
        f"bench-env: table loads, then every loop {args.repeats} x {args.steps:,} steps "
        "(a line per repeat)"
    )
    # Table loads: cold (parse CSV, write cache) and warm (binary cache), fresh each time.
    path = nb201.find_table(nb201.TABLE_RELPATH, args.data_dir)
    for old in cache_dir().glob("nb201_metrics_v*.npy"):
        old.unlink()
    nb201.clear_cache()
    t0 = time.perf_counter()
    nb201.load_nb201(args.data_dir)
    cold = time.perf_counter() - t0
    _progress(f"  table load, cold: {cold:.2f} s")
    nb201.clear_cache()
    t0 = time.perf_counter()
    table = nb201.load_nb201(args.data_dir)
    warm = time.perf_counter() - t0
    _progress(f"  table load, from binary cache: {warm:.3f} s")

    n = args.steps
    rng = np.random.default_rng(0)
    actions = list(rng.random((n, *space.SHAPE), dtype=np.float32))
    powers = 5 ** np.arange(5, -1, -1)
    code_to_index = space.code_to_index_table()
    acc = table.accuracy("cifar10", "valid")

    def numpy_baseline() -> None:
        for a in actions:
            acc[code_to_index[int(np.dot(a.argmax(axis=1), powers))]]

    raw = NASBench201Env(observation=args.observation, max_queries=n, table=table)
    wrapped = gym.make(
        "NASBench201-v0", observation=args.observation, max_queries=n, data_dir=args.data_dir
    )

    def run(env) -> None:
        env.reset(seed=0)
        step = env.step
        for a in actions:
            step(a)

    rates = {
        "numpy baseline (argmax + lookup)": _best_rate(
            numpy_baseline, n, args.repeats, "numpy baseline"
        ),
        "raw env (NASBench201Env.step)": _best_rate(lambda: run(raw), n, args.repeats, "raw env"),
        "gym.make (default wrappers)": _best_rate(
            lambda: run(wrapped), n, args.repeats, "gym.make"
        ),
    }
    rates.update(_vector_rates(args, table, acc, code_to_index, powers))
    base = rates["numpy baseline (argmax + lookup)"]
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, numpy {np.__version__}"
    )
    print(f"table: {path}\n")
    print(f"{'what':<36} {'value':>14} {'vs baseline':>12}")
    print(f"{'table load, cold (parse + cache)':<36} {cold * 1e3:>11.1f} ms {'':>12}")
    print(f"{'table load, from binary cache':<36} {warm * 1e3:>11.1f} ms {'':>12}")
    for name, rate in rates.items():
        print(f"{name:<36} {rate:>10,.0f} st/s {rate / base:>11.2f}x")
    print(f"\n({n:,} steps, observation={args.observation!r}, best of {args.repeats})")
    return 0


def _vector_rates(args, table, acc, code_to_index, powers) -> dict[str, float]:
    """Queries/s of N searches per call: a batched numpy baseline and the native vector env."""
    import gymnasium as gym
    import numpy as np

    from nas_gym.spaces import nb201 as space

    num_envs = args.num_envs
    n_steps = max(1, args.steps // num_envs)
    rng = np.random.default_rng(1)
    actions = rng.random((n_steps, num_envs, *space.SHAPE), dtype=np.float32)

    def batched_baseline() -> None:
        for a in actions:
            acc[code_to_index[a.argmax(axis=2) @ powers]]

    vec = gym.make_vec(
        "NASBench201-v0",
        num_envs=num_envs,
        vectorization_mode="vector_entry_point",
        observation=args.observation,
        max_queries=n_steps,
        table=table,
    )

    def run_vec() -> None:
        vec.reset(seed=0)
        step = vec.step
        for a in actions:
            step(a)

    queries = n_steps * num_envs
    return {
        f"numpy baseline, batched (N={num_envs})": _best_rate(
            batched_baseline, queries, args.repeats
        ),
        f"vector env (N={num_envs}, make_vec)": _best_rate(run_vec, queries, args.repeats),
    }
