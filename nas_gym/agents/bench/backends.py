"""Where runs execute: local worker processes or Ray tasks, with one progress bar.

The runs are first planned into units (:func:`plan_units`): runs that differ only in
seed, dataset, split or budget and whose agent has a batched form (CADAM) share a
unit and run in lockstep in one process; every other run is a unit of its own.
Both backends call :func:`nas_gym.agents.bench.run.run_group` per unit and hand each
finished record to the parent, which writes it at once (:mod:`nas_gym.agents.bench.store`).
"""

from __future__ import annotations

import bisect
import contextlib
import errno
import math
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

from nas_gym.agents.bench.run import (
    EmitError,
    Progress,
    batch_key,
    check_saves,
    prefix_key,
    run_group,
    saved_batches,
)
from nas_gym.agents.bench.spec import RunSpec
from nas_gym.agents.bench.store import (
    load_record,
    out_dir_lock,
    record_variants,
    split_done,
    write_record,
)

BACKENDS: tuple[str, ...] = ("local", "ray")
#: ``OUT/partial``: the saved state of batched units that have not ended (see run.save_batch).
PARTIAL_DIR = "partial"
T = TypeVar("T")
#: Seconds to wait for an explicit ``--ray-address`` to answer before giving up.
RAY_CONNECT_TIMEOUT_S = 10.0
OnDone = Callable[[RunSpec, "dict[str, Any] | None", "str | None"], None]
#: Hears how far a batched unit is between its records (:data:`run.Progress`).
OnQueries = Progress
#: Most runs one process runs in lockstep. Larger batches cost less per run until the
#: stacked weights, gradients and Adam moments (about 2.3 MB per CADAM seed) outgrow the
#: CPU caches: measured CPU per seed-step fell from S=1 to S=8-10 and rose again at S=16
#: (``benchmarks/cadam_batched.py --seeds``; docs/cadam_table41.md).
MAX_BATCH = 10


def plan_units(
    todo: Sequence[RunSpec],
    jobs: int,
    batch: bool = True,
    keep: Sequence[Sequence[str]] = (),
) -> list[list[RunSpec]]:
    """Units of work, largest first: lockstep groups, or single runs.

    ``keep``: the run keys of saved batches (an interrupted bench's ``OUT/partial``);
    each that can resume (:func:`saved_units`) becomes a unit again (with its runs'
    shorter twins), so it resumes where it stopped
    (:func:`~nas_gym.agents.bench.run.load_batch`).

    Runs with the same :func:`~nas_gym.agents.bench.run.batch_key` form a group. Within
    it, runs that differ only in budget (the same :func:`~nas_gym.agents.bench.run.prefix_key`)
    form a family that stays in one unit: only its longest run searches, the shorter ones
    replay its first queries (:func:`~nas_gym.agents.bench.run.prefix_families`). A group is
    split into near-equal chunks of at most :data:`MAX_BATCH` families (lockstep rows),
    more of them while there are fewer units than ``jobs``, so ``--jobs`` still runs in
    parallel. Runs whose agent has no batched form (or all runs with ``batch=False``)
    are units of one.
    """
    units: list[list[RunSpec]] = []
    if batch:
        resumed, todo = saved_units(todo, keep)
        units += [unit for _, unit in resumed]
    families: dict[Any, dict[Any, list[RunSpec]]] = {}
    for spec in todo:
        key = batch_key(spec) if batch else None
        if key is None:
            units.append([spec])
        else:
            families.setdefault(key, {}).setdefault(prefix_key(spec), []).append(spec)
    # a family (twins that differ only in budget) stays in one unit: one lockstep row
    groups = {
        key: sorted(
            (sorted(fam, key=lambda spec: -spec.budget) for fam in fams.values()),
            key=lambda fam: -fam[0].budget,  # similar lengths run together
        )
        for key, fams in families.items()
    }
    counts = {key: math.ceil(len(fams) / MAX_BATCH) for key, fams in groups.items()}
    while groups and len(units) + sum(counts.values()) < jobs:
        key = max(groups, key=lambda k: len(groups[k]) / counts[k])
        if len(groups[key]) <= counts[key]:
            break  # every chunk holds one family already
        counts[key] += 1
    for key, fams in groups.items():
        for chunk in near_equal_chunks(fams, counts[key]):
            units.append([spec for fam in chunk for spec in fam])
    return sorted(units, key=lambda unit: -unit_cost(unit, batch))


def saved_units(
    todo: Sequence[RunSpec], keep: Sequence[Sequence[str]]
) -> tuple[list[tuple[int, list[RunSpec]]], list[RunSpec]]:
    """Which saved batches resume: ``[(index into keep, its unit)]``, and the runs left.

    In order, a save (its unfinished leaders' keys) resumes when every leader is still
    to run and none of their families has gained a longer twin (that twin would lead
    the family, so the saved state, of other leaders, could not be loaded). Its unit is
    its leaders and their shorter twins, which are then gone for later saves.
    """
    left = {spec.key: spec for spec in todo}
    units = []
    for i, keys in enumerate(keep):
        if not keys or not all(key in left for key in keys):
            continue
        longest = {prefix_key(left[key]): left[key].budget for key in keys}
        longest.pop(None, None)  # no twins
        twins = [
            spec for spec in left.values() if spec.key not in keys and prefix_key(spec) in longest
        ]
        if any(spec.budget > longest[prefix_key(spec)] for spec in twins):
            continue
        units.append((i, [left.pop(key) for key in keys] + twins))
        for spec in twins:
            del left[spec.key]
    return units, [spec for spec in todo if spec.key in left]


def drop_finished_saves(out: Path, partial: Path) -> None:
    """Remove the saves that can no longer resume anything, then ``partial`` if empty.

    A save is done with once every run it holds has a record (e.g. a unit that ended
    after its runs started over because one of them had finished after the last save),
    or when its state file was removed by hand.
    """
    for path, saved in saved_batches(partial, complete=False).items():
        keys = saved.get("keys", ())
        finished = all(load_record(out / "runs" / f"{key}.json") is not None for key in keys)
        if finished or not path.exists():
            path.unlink(missing_ok=True)
            path.with_suffix(".json").unlink(missing_ok=True)
    for path in partial.glob("batch-*.pt"):  # a worker killed before it wrote the list
        if not path.with_suffix(".json").exists():
            path.unlink(missing_ok=True)
    for path in partial.glob(".batch-*.tmp"):  # a worker killed while writing
        path.unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        partial.rmdir()  # empty once every batch has ended


def near_equal_chunks(items: Sequence[T], n: int) -> list[Sequence[T]]:
    """``items`` cut in order into ``n`` contiguous chunks whose sizes differ by at most one."""
    return [items[i * len(items) // n : (i + 1) * len(items) // n] for i in range(n)]


def unit_cost(unit: Sequence[RunSpec], batch: bool = True) -> int:
    """Queries a unit searches: each family's longest budget (its shorter twins replay it)."""
    longest: dict[Any, int] = {}
    for i, spec in enumerate(unit):
        key = (prefix_key(spec) if batch else None) or i
        longest[key] = max(longest.get(key, 0), spec.budget)
    return sum(longest.values())


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
    #: the runs ran in the calling process (the local backend with one job), so its own
    #: CPU time already contains ``cpu_s``
    ran_in_process: bool = False

    def total_cpu_s(self, caller_cpu_s: float) -> float:
        """The bench's whole CPU cost: the caller's CPU time plus that of runs it did not hold."""
        return caller_cpu_s if self.ran_in_process else caller_cpu_s + self.cpu_s


class BenchStopped(RuntimeError):
    """The bench stopped early (a signal, a full disk); the finished runs are on disk."""

    def __init__(self, reason: str, n_saved: int, failures: Sequence[tuple[str, str]] = ()):
        super().__init__(reason)
        self.reason = reason
        self.n_saved = n_saved
        self.failures = list(failures)


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Treat SIGTERM like Ctrl-C (KeyboardInterrupt) while the bench runs, in the main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def die_with_parent(parent_pid: int) -> None:
    """Make this worker process die when its parent does (even on SIGKILL of the parent).

    Linux: ``prctl(PR_SET_PDEATHSIG, SIGKILL)``. Elsewhere a watcher thread polls
    ``os.getppid()``. Either way a worker never outlives the bench that started it.
    """
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # 1 = PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent_pid:  # the parent died before the call above took effect
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="die-with-parent").start()


def _worker_main(
    conn: Any, parent_pid: int, data_dir: str | None, partial_dir: str | None = None
) -> None:
    """A worker: run the units the parent sends, one at a time, sending each run's result
    as soon as it ends (``("ok" | "error", key, payload)``), then ``("done", None, None)``."""
    die_with_parent(parent_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides what Ctrl-C does
    while True:
        try:
            unit = conn.recv()
        except EOFError:
            return
        if unit is None:
            return

        def emit(spec_dict: dict[str, Any], record: Any, error: str | None) -> None:
            key = RunSpec(**spec_dict).key
            conn.send(("ok", key, record) if error is None else ("error", key, error))

        def progress(n: int, spent: dict[str, int]) -> None:
            conn.send(("queries", None, (n, spent)))

        try:
            run_group(unit, data_dir, emit, progress, partial_dir)
        except Exception as err:  # the unit's unfinished runs fail; the worker goes on
            conn.send(("failed", None, f"{type(err).__name__}: {err}"))
        conn.send(("done", None, None))


class _Worker:
    """One spawned worker process and its pipe; ``pending`` holds the runs of its unit not yet ended."""

    def __init__(self, ctx: Any, data_dir: str | None, partial_dir: str | None = None):
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(
            target=_worker_main, args=(child, os.getpid(), data_dir, partial_dir), daemon=True
        )
        self.proc.start()
        child.close()
        self.pending: dict[str, RunSpec] = {}
        self.busy = False

    def stop(self, grace_s: float = 2.0) -> None:
        """End the worker promptly: terminate, then kill if it has not exited."""
        if self.proc.is_alive():
            self.proc.terminate()
            self.proc.join(grace_s)
            if self.proc.is_alive():
                self.proc.kill()
                self.proc.join(grace_s)
        self.conn.close()


def run_serial(
    units: Sequence[Sequence[RunSpec]],
    data_dir: str | None,
    on_done: OnDone,
    on_queries: OnQueries | None = None,
    partial_dir: str | None = None,
) -> None:
    """One unit after another in this process (``--jobs 1``: no worker start-up cost)."""
    for unit in units:
        pending = {spec.key: spec for spec in unit}

        def emit(
            spec_dict: dict[str, Any], record: Any, error: str | None, pending=pending
        ) -> None:
            on_done(pending.pop(RunSpec(**spec_dict).key), record, error)

        try:
            run_group([asdict(spec) for spec in unit], data_dir, emit, on_queries, partial_dir)
        except EmitError as err:  # on_done stopped the bench (e.g. a full disk)
            raise err.__cause__ from None
        except Exception as err:  # one failed unit must not stop the others
            for spec in list(pending.values()):
                on_done(spec, None, f"{type(err).__name__}: {err}")


def run_local(
    units: Sequence[Sequence[RunSpec]],
    jobs: int,
    data_dir: str | None,
    on_done: OnDone,
    on_queries: OnQueries | None = None,
    partial_dir: str | None = None,
) -> None:
    """Spawned worker processes, one unit each at a time (nothing inherited from the parent).

    A worker that dies (the OOM killer, a crash) fails only the unfinished runs of the
    unit it held; a new worker replaces it and the bench goes on. On KeyboardInterrupt
    (Ctrl-C, or SIGTERM via :func:`sigterm_as_interrupt`) no new unit starts and every
    worker is stopped before the exception propagates; records of finished runs are
    already written.
    """
    import multiprocessing as mp
    from multiprocessing.connection import wait

    ctx = mp.get_context("spawn")
    queue = list(units)[::-1]
    workers = [_Worker(ctx, data_dir, partial_dir) for _ in range(max(1, min(jobs, len(queue))))]
    try:
        while True:
            for worker in workers:
                if not worker.busy and queue:
                    unit = queue.pop()
                    worker.pending = {spec.key: spec for spec in unit}
                    worker.busy = True
                    worker.conn.send([asdict(spec) for spec in unit])
            busy = [w for w in workers if w.busy]
            if not busy:
                break
            ready = wait([w.conn for w in busy] + [w.proc.sentinel for w in busy])
            for i, worker in enumerate(workers):
                if not worker.busy:
                    continue
                died, waiting = False, worker.conn in ready
                while worker.busy and (waiting or worker.conn.poll()):
                    waiting = False
                    try:
                        status, key, payload = worker.conn.recv()
                    except (EOFError, OSError):
                        died = True
                        break
                    if status == "queries":
                        if on_queries is not None:
                            on_queries(*payload)
                    elif status == "done":
                        for spec in worker.pending.values():
                            on_done(spec, None, "the run ended without a record")
                        worker.pending, worker.busy = {}, False
                    elif status == "failed":
                        for spec in worker.pending.values():
                            on_done(spec, None, payload)
                        worker.pending = {}
                    else:
                        spec = worker.pending.pop(key)
                        on_done(spec, payload if status == "ok" else None,
                                None if status == "ok" else payload)  # fmt: skip
                if worker.busy and (died or not worker.proc.is_alive()):
                    worker.proc.join(1.0)
                    code = worker.proc.exitcode
                    worker.stop()
                    for spec in worker.pending.values():
                        on_done(
                            spec,
                            None,
                            f"WorkerDied: the worker process running this run exited "
                            f"(exit code {code}; a negative code is the signal that killed it)",
                        )
                    workers[i] = _Worker(ctx, data_dir, partial_dir) if queue else worker
                    worker.pending, worker.busy = {}, False
    finally:
        for worker in workers:
            if not worker.busy and worker.proc.is_alive():
                try:
                    worker.conn.send(None)
                except OSError:
                    pass
        for worker in workers:
            worker.stop()


#: the time-left estimate takes the rate over this share of the elapsed time, at least
#: RATE_WINDOW_MIN_S: recent enough to follow a rate that changes (later distinct cells
#: cost more steps), long enough to span several progress reports
RATE_WINDOW = 0.5
RATE_WINDOW_MIN_S = 120.0


def resuming_saves(
    saves: Sequence[dict[str, Any]], todo: Sequence[RunSpec]
) -> list[dict[str, Any]]:
    """The saves (:func:`~nas_gym.agents.bench.run.saved_batches` listings) that
    :func:`plan_units` turns into units that resume (:func:`saved_units`)."""
    resumed, _ = saved_units(todo, [saved.get("keys") or [] for saved in saves])
    return [saves[i] for i, _ in resumed]


def resumed_spent(
    saves: Sequence[dict[str, Any]],
    todo: Sequence[RunSpec],
    spent: dict[str, int],
    history: list[tuple[float, int]],
) -> None:
    """Start a resumed bench's progress from the budget its saved runs had already used.

    That budget is progress made before this bench, not speed: it goes into ``spent``
    (each run's value at most its budget) and into the rate's starting point
    ``history``. Only saves that resume count (:func:`resuming_saves`); the others'
    runs start over. If any of them lacks a readable budget list (a save from before
    it was kept), none gives a starting point: the history is emptied, so the rate is
    taken from the first report on (that report holds the saved budget).
    """
    saves = resuming_saves(saves, todo)
    if not saves:
        return
    if not all(readable_spent(saved.get("spent")) for saved in saves):
        history.clear()
        return
    budgets = {spec.key: spec.budget for spec in todo}
    for saved in saves:
        spent.update(
            (key, min(max(v, 0), budgets[key]))
            for key, v in saved["spent"].items()
            if key in budgets
        )
    history[:] = [(0.0, sum(spent.values()))]


def readable_spent(value: Any) -> bool:
    """Whether a save listing's ``"spent"`` is ``{run key: int}``."""
    return isinstance(value, dict) and all(
        isinstance(v, int) and not isinstance(v, bool) for v in value.values()
    )


def budget_progress(
    spent: dict[str, int],
    total: int,
    elapsed_s: float,
    history: Sequence[tuple[float, int]] | None = None,
) -> str:
    """``"34% of the budget, about 1:25:10 left at the recent rate"``: the share of all
    runs' budgets used (queries, or distinct architectures for ``budget_unit="unique"``),
    and the time left at the rate of the recent past.

    ``history``: earlier ``(elapsed_s, budget used)`` reports, oldest first (None: one at
    the start, ``(0, 0)``). The rate is taken since the last of them at least
    :data:`RATE_WINDOW` of the elapsed time (and :data:`RATE_WINDOW_MIN_S`) ago, or the
    oldest; with an empty history there is no estimate yet (:func:`resumed_spent`).
    """
    done = sum(spent.values())
    fraction = done / total if total else 1.0
    text = f"{100 * fraction:.0f}% of the budget"
    if history is None:
        history = [(0.0, 0)]
    if not history or not 0 < fraction < 1:
        return text
    cut = elapsed_s - max(RATE_WINDOW * elapsed_s, RATE_WINDOW_MIN_S)
    i = bisect.bisect_right([t for t, _ in history], cut)
    since_s, since = history[max(i - 1, 0)]
    if done > since and elapsed_s > since_s:
        left = round((elapsed_s - since_s) * (total - done) / (done - since))
        text += f", about {left // 3600}:{left // 60 % 60:02d}:{left % 60:02d} left"
        text += " at the recent rate"
    return text


def _ray_host_port(address: str) -> tuple[str, int] | None:
    """``(host, port)`` of an explicit ``host:port`` or ``ray://host:port`` address, else None."""
    text = address.split("://", 1)[-1]
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit():
        return None
    return host.strip("[]"), int(port)


def check_ray_address(address: str, timeout_s: float) -> None:
    """Fail fast when a ``host:port`` Ray address cannot be reached (Ray itself waits for minutes)."""
    import socket

    target = _ray_host_port(address)
    if target is None:
        return
    try:
        with socket.create_connection(target, timeout=timeout_s):
            pass
    except OSError as err:
        raise ValueError(
            f"--ray-address {address!r}: no Ray cluster reachable at {target[0]}:{target[1]} "
            f"within {timeout_s:g} s ({err.strerror or err}); start one with `ray start --head` "
            "or omit --ray-address to run a local instance"
        ) from None


def init_local_ray(jobs: int) -> None:
    """A private Ray instance on this machine: every service on 127.0.0.1, no dashboard.

    Ray resolves ``127.0.0.1`` to the machine's network address, and its servers then
    listen on every interface, unless clustering is off. Ray's switch for that is
    ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` (read at import, and by Ray's child
    processes), so it is set while the instance starts. Joining a cluster is explicit:
    ``--ray-address``.
    """
    import ray
    from ray._private import ray_constants

    switch = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
    before_env, before_flag = os.environ.get(switch), ray_constants.ENABLE_RAY_CLUSTER
    os.environ[switch] = "0"
    ray_constants.ENABLE_RAY_CLUSTER = False
    try:
        ray.init(
            num_cpus=jobs,
            include_dashboard=False,
            log_to_driver=False,
            _node_ip_address="127.0.0.1",
        )
    finally:
        ray_constants.ENABLE_RAY_CLUSTER = before_flag
        if before_env is None:
            os.environ.pop(switch, None)
        else:
            os.environ[switch] = before_env


def run_group_collect(
    unit: Sequence[dict[str, Any]], data_dir: str | None
) -> list[tuple[dict[str, Any], dict[str, Any] | None, str | None]]:
    """:func:`run_group` returning every run's ``(spec, record, error)`` (a Ray task's result)."""
    out: list[tuple[dict[str, Any], dict[str, Any] | None, str | None]] = []
    run_group(unit, data_dir, lambda spec, record, error: out.append((spec, record, error)))
    return out


def run_ray(
    units: Sequence[Sequence[RunSpec]],
    jobs: int,
    data_dir: str | None,
    on_done: OnDone,
    ray_address: str | None = None,
    ray_timeout_s: float = RAY_CONNECT_TIMEOUT_S,
) -> None:
    """One Ray task per unit (1 CPU each); starts a private local Ray instance unless one is running.

    The local instance is bound to 127.0.0.1 with no dashboard, so nothing listens on
    the network. Joining a real cluster is explicit: ``--ray-address HOST:PORT``.
    """
    try:
        import ray
    except ImportError:
        raise ValueError(
            "--backend ray needs the ray package: pip install 'nas_gym[ray]'"
        ) from None
    started = False
    if not ray.is_initialized():
        if ray_address:
            check_ray_address(ray_address, ray_timeout_s)
            ray.init(address=ray_address, log_to_driver=False)
        else:
            init_local_ray(jobs)
        started = True
    refs: dict[Any, Sequence[RunSpec]] = {}
    try:
        remote = ray.remote(num_cpus=1, max_retries=0)(run_group_collect)
        refs = {remote.remote([asdict(s) for s in unit], data_dir): unit for unit in units}
        pending = list(refs)
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            for ref in ready:
                unit = {spec.key: spec for spec in refs[ref]}
                try:
                    results = ray.get(ref)
                except Exception as err:  # a task's exception arrives wrapped by Ray
                    cause = getattr(err, "cause", None) or err
                    results = [(asdict(s), None, f"{type(cause).__name__}: {cause}")
                               for s in unit.values()]  # fmt: skip
                for spec_dict, record, error in results:
                    on_done(unit[RunSpec(**spec_dict).key], record, error)
    except KeyboardInterrupt:
        for ref in refs:
            ray.cancel(ref, force=True)
        raise
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
    ray_timeout_s: float = RAY_CONNECT_TIMEOUT_S,
    batch: bool = True,
) -> BenchOutcome:
    """Run every spec not finished in ``out_dir`` and write its record as soon as it ends.

    With ``batch`` (the default) runs that can share a process in lockstep do
    (:func:`plan_units`); ``batch=False`` (``--no-batch``) runs each in its own.

    Holds ``out_dir``'s lock for the whole bench (a second writer is refused) and
    records the agent definitions in ``out_dir/variants.json`` (a conflicting one is
    refused).

    Raises:
        BenchStopped: Ctrl-C, SIGTERM or a full disk; every finished run is on disk.
    """
    from nas_gym.progress import progress_bar

    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; allowed: {', '.join(BACKENDS)}")
    if jobs < 1:
        raise ValueError(f"--jobs must be at least 1, got {jobs}")
    if ray_address and backend != "ray":
        raise ValueError(
            f"--ray-address {ray_address!r} needs --backend ray (got --backend {backend})"
        )
    out = Path(out_dir)
    in_process = backend == "local" and jobs == 1  # no worker start-up cost
    with out_dir_lock(out):
        record_variants(out, specs)
        done, todo = split_done(specs, out)
        failures: list[tuple[str, str]] = []
        cpu = [0.0]
        saved = [0]
        queries = [0]
        spent: dict[str, int] = {}  # budget used per run key (a run that ended: all of it)
        ended: set[str] = set()
        start = time.perf_counter()
        if todo:
            # No tqdm rate or ETA: runs batched in lockstep all end together, so a rate in
            # runs read "43:29:30 left" half an hour in; budget_progress estimates from the budget
            bar = progress_bar(  # a line every 30 s in a log file
                total=len(todo),
                desc="bench",
                bar_format="{desc}: {n_fmt}/{total_fmt} runs done, {elapsed} elapsed{postfix}",
                disable=not progress,
                dynamic_ncols=True,
            )
            budget_total = sum(spec.budget for spec in todo)

            history = [(0.0, 0)]  # (elapsed s, budget used) every few seconds, for the rate

            def show(refresh: bool) -> None:
                elapsed, used = time.perf_counter() - start, sum(spent.values())
                parts = [budget_progress(spent, budget_total, elapsed, history)]
                if not history or elapsed - history[-1][0] >= 5.0:
                    history.append((elapsed, used))
                if failures:
                    parts.append(f"failed={len(failures)}")
                if queries[0]:
                    parts.append(f"{queries[0]:,} queries in batched runs")
                bar.set_postfix_str("; ".join(parts), refresh=refresh)

            def on_done(spec: RunSpec, record: dict[str, Any] | None, error: str | None) -> None:
                if record is not None:
                    try:
                        write_record(out, record)
                    except OSError as err:
                        if err.errno in (errno.ENOSPC, errno.EDQUOT):
                            raise BenchStopped(
                                f"no space left in {out}", len(done) + saved[0], failures
                            ) from None
                        raise
                    saved[0] += 1
                    shared = float(record["timing"].get("shared_cpu_s", 0.0))
                    cpu[0] += float(record["result"].get("cpu_s", 0.0)) - shared
                else:
                    failures.append((spec.key, error or "unknown error"))
                ended.add(spec.key)
                spent[spec.key] = spec.budget
                show(refresh=False)
                bar.update(1)

            def on_queries(n: int, run_spent: dict[str, int]) -> None:
                queries[0] += n
                spent.update((key, v) for key, v in run_spent.items() if key not in ended)
                show(refresh=True)

            # Ray tasks may run on other machines: only local workers save batches
            partial = out / PARTIAL_DIR if backend == "local" and batch else None
            keep = []
            if partial is not None:
                partial.mkdir(exist_ok=True)
                check_saves(partial, todo)
                saves = list(saved_batches(partial).values())
                keep = [saved.get("keys") or [] for saved in saves]
                resumed_spent(saves, todo, spent, history)
            try:
                units = plan_units(todo, jobs, batch, keep)
                part = None if partial is None else str(partial)
                with sigterm_as_interrupt():
                    if in_process:
                        run_serial(units, data_dir, on_done, on_queries, part)
                    elif backend == "local":
                        run_local(units, jobs, data_dir, on_done, on_queries, part)
                    else:
                        run_ray(units, jobs, data_dir, on_done, ray_address, ray_timeout_s)
            except KeyboardInterrupt:
                raise BenchStopped("interrupted", len(done) + saved[0], failures) from None
            finally:
                bar.close()
        if (out / PARTIAL_DIR).is_dir():
            drop_finished_saves(out, out / PARTIAL_DIR)
    return BenchOutcome(
        n_total=len(specs),
        n_skipped=len(done),
        n_ran=len(todo) - len(failures),
        failures=failures,
        wall_s=time.perf_counter() - start,
        cpu_s=cpu[0],
        ran_in_process=in_process,
    )
