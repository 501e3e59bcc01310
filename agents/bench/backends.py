"""Where runs execute: local worker processes or Ray tasks, with one progress bar.

Both backends call :func:`agents.bench.run.run_one` per spec and hand each finished
record to the parent, which writes it at once (:mod:`agents.bench.store`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from agents.bench.run import run_one
from agents.bench.spec import RunSpec
from agents.bench.store import split_done, write_record

BACKENDS: tuple[str, ...] = ("local", "ray")
OnDone = Callable[[RunSpec, "dict[str, Any] | None", "str | None"], None]


@dataclass
class BenchOutcome:
    """What :func:`execute` did."""

    n_total: int
    n_skipped: int
    n_ran: int
    failures: list[tuple[str, str]]
    wall_s: float
    #: CPU seconds of the runs that ran (make_agent + learn): the load-independent cost.
    cpu_s: float = 0.0


def run_serial(todo: Sequence[RunSpec], data_dir: str | None, on_done: OnDone) -> None:
    """One run after another in this process (``--jobs 1``: no worker start-up cost)."""
    for spec in todo:
        try:
            record = run_one(asdict(spec), data_dir)
        except Exception as err:  # one failed run must not stop the others
            on_done(spec, None, f"{type(err).__name__}: {err}")
        else:
            on_done(spec, record, None)


def run_local(todo: Sequence[RunSpec], jobs: int, data_dir: str | None, on_done: OnDone) -> None:
    """Worker processes (spawned: no state inherited from the parent, e.g. torch threads)."""
    if jobs == 1:
        run_serial(todo, data_dir, on_done)
        return
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed

    workers = max(1, min(jobs, len(todo)))
    with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn")) as pool:
        futures = {pool.submit(run_one, asdict(spec), data_dir): spec for spec in todo}
        for future in as_completed(futures):
            spec = futures[future]
            err = future.exception()
            if err is not None:
                on_done(spec, None, f"{type(err).__name__}: {err}")
            else:
                on_done(spec, future.result(), None)


def run_ray(
    todo: Sequence[RunSpec],
    jobs: int,
    data_dir: str | None,
    on_done: OnDone,
    ray_address: str | None = None,
) -> None:
    """One Ray task per run (1 CPU each); starts a local Ray instance unless one is running."""
    try:
        import ray
    except ImportError:
        raise ValueError(
            "--backend ray needs the ray package: pip install 'nas_gym[ray]'"
        ) from None
    started = False
    if not ray.is_initialized():
        if ray_address:
            ray.init(address=ray_address, log_to_driver=False)
        else:
            ray.init(num_cpus=jobs, include_dashboard=False, log_to_driver=False)
        started = True
    try:
        remote = ray.remote(num_cpus=1, max_retries=0)(run_one)
        refs = {remote.remote(asdict(spec), data_dir): spec for spec in todo}
        pending = list(refs)
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            for ref in ready:
                spec = refs[ref]
                try:
                    record = ray.get(ref)
                except Exception as err:  # a task's exception arrives wrapped by Ray
                    cause = getattr(err, "cause", None) or err
                    on_done(spec, None, f"{type(cause).__name__}: {cause}")
                else:
                    on_done(spec, record, None)
    finally:
        if started:
            ray.shutdown()


def execute(
    specs: Sequence[RunSpec],
    out_dir: str | os.PathLike[str],
    jobs: int = 1,
    backend: str = "local",
    data_dir: str | None = None,
    progress: bool = True,
    ray_address: str | None = None,
) -> BenchOutcome:
    """Run every spec not finished in ``out_dir`` and write its record as soon as it ends."""
    from tqdm.auto import tqdm

    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; allowed: {', '.join(BACKENDS)}")
    if jobs < 1:
        raise ValueError(f"--jobs must be at least 1, got {jobs}")
    out = Path(out_dir)
    (out / "runs").mkdir(parents=True, exist_ok=True)
    done, todo = split_done(specs, out)
    failures: list[tuple[str, str]] = []
    cpu = [0.0]
    start = time.perf_counter()
    if todo:
        bar = tqdm(
            total=len(todo), desc="bench", unit="run", disable=not progress, dynamic_ncols=True
        )

        def on_done(spec: RunSpec, record: dict[str, Any] | None, error: str | None) -> None:
            if record is not None:
                write_record(out, record)
                cpu[0] += float(record["result"].get("cpu_s", 0.0))
            else:
                failures.append((spec.key, error or "unknown error"))
            bar.update(1)
            bar.set_postfix_str(
                f"failed={len(failures)}" if failures else spec.agent, refresh=False
            )

        try:
            if backend == "local":
                run_local(todo, jobs, data_dir, on_done)
            else:
                run_ray(todo, jobs, data_dir, on_done, ray_address)
        finally:
            bar.close()
    return BenchOutcome(
        n_total=len(specs),
        n_skipped=len(done),
        n_ran=len(todo) - len(failures),
        failures=failures,
        wall_s=time.perf_counter() - start,
        cpu_s=cpu[0],
    )
