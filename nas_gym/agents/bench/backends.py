"""Where runs execute: local worker processes or Ray tasks, with one progress bar.

Both backends call :func:`nas_gym.agents.bench.run.run_one` per spec and hand each finished
record to the parent, which writes it at once (:mod:`nas_gym.agents.bench.store`).
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from nas_gym.agents.bench.run import run_one
from nas_gym.agents.bench.spec import RunSpec
from nas_gym.agents.bench.store import out_dir_lock, record_variants, split_done, write_record

BACKENDS: tuple[str, ...] = ("local", "ray")
#: Seconds to wait for an explicit ``--ray-address`` to answer before giving up.
RAY_CONNECT_TIMEOUT_S = 10.0
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


def _worker_main(conn: Any, parent_pid: int, data_dir: str | None) -> None:
    """A worker: run the specs the parent sends, one at a time, and send back each result."""
    die_with_parent(parent_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides what Ctrl-C does
    while True:
        try:
            spec_dict = conn.recv()
        except EOFError:
            return
        if spec_dict is None:
            return
        try:
            conn.send(("ok", run_one(spec_dict, data_dir)))
        except Exception as err:  # one failed run must not stop the others
            conn.send(("error", f"{type(err).__name__}: {err}"))


class _Worker:
    """One spawned worker process and its pipe; ``spec`` is the run it is busy with."""

    def __init__(self, ctx: Any, data_dir: str | None):
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(
            target=_worker_main, args=(child, os.getpid(), data_dir), daemon=True
        )
        self.proc.start()
        child.close()
        self.spec: RunSpec | None = None

    def stop(self, grace_s: float = 2.0) -> None:
        """End the worker promptly: terminate, then kill if it has not exited."""
        if self.proc.is_alive():
            self.proc.terminate()
            self.proc.join(grace_s)
            if self.proc.is_alive():
                self.proc.kill()
                self.proc.join(grace_s)
        self.conn.close()


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
    """Spawned worker processes, one run each at a time (nothing inherited from the parent).

    A worker that dies (the OOM killer, a crash) fails only the run it held; a new
    worker replaces it and the bench goes on. On KeyboardInterrupt (Ctrl-C, or SIGTERM
    via :func:`sigterm_as_interrupt`) no new run starts and every worker is stopped
    before the exception propagates; records of finished runs are already written.
    """
    if jobs == 1:
        run_serial(todo, data_dir, on_done)
        return
    import multiprocessing as mp
    from multiprocessing.connection import wait

    ctx = mp.get_context("spawn")
    queue = list(todo)[::-1]
    workers = [_Worker(ctx, data_dir) for _ in range(max(1, min(jobs, len(queue))))]
    try:
        while True:
            for worker in workers:
                if worker.spec is None and queue:
                    worker.spec = queue.pop()
                    worker.conn.send(asdict(worker.spec))
            busy = [w for w in workers if w.spec is not None]
            if not busy:
                break
            ready = wait([w.conn for w in busy] + [w.proc.sentinel for w in busy])
            for i, worker in enumerate(workers):
                spec = worker.spec
                if spec is None:
                    continue
                if worker.conn in ready or worker.conn.poll():
                    try:
                        status, payload = worker.conn.recv()
                    except (EOFError, OSError):
                        status, payload = "died", None
                    if status != "died":
                        worker.spec = None
                        if status == "ok":
                            on_done(spec, payload, None)
                        else:
                            on_done(spec, None, payload)
                        continue
                if worker.proc.sentinel in ready or not worker.proc.is_alive():
                    worker.proc.join(1.0)
                    code = worker.proc.exitcode
                    worker.stop()
                    on_done(
                        spec,
                        None,
                        f"WorkerDied: the worker process running this run exited "
                        f"(exit code {code}; a negative code is the signal that killed it)",
                    )
                    workers[i] = _Worker(ctx, data_dir) if queue else worker
                    worker.spec = None
    finally:
        for worker in workers:
            if worker.spec is None and worker.proc.is_alive():
                try:
                    worker.conn.send(None)
                except OSError:
                    pass
        for worker in workers:
            worker.stop()


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


def run_ray(
    todo: Sequence[RunSpec],
    jobs: int,
    data_dir: str | None,
    on_done: OnDone,
    ray_address: str | None = None,
    ray_timeout_s: float = RAY_CONNECT_TIMEOUT_S,
) -> None:
    """One Ray task per run (1 CPU each); starts a private local Ray instance unless one is running.

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
    refs: dict[Any, RunSpec] = {}
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
) -> BenchOutcome:
    """Run every spec not finished in ``out_dir`` and write its record as soon as it ends.

    Holds ``out_dir``'s lock for the whole bench (a second writer is refused) and
    records the agent definitions in ``out_dir/variants.json`` (a conflicting one is
    refused).

    Raises:
        BenchStopped: Ctrl-C, SIGTERM or a full disk; every finished run is on disk.
    """
    from tqdm.auto import tqdm

    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; allowed: {', '.join(BACKENDS)}")
    if jobs < 1:
        raise ValueError(f"--jobs must be at least 1, got {jobs}")
    if ray_address and backend != "ray":
        raise ValueError(
            f"--ray-address {ray_address!r} needs --backend ray (got --backend {backend})"
        )
    out = Path(out_dir)
    with out_dir_lock(out):
        record_variants(out, specs)
        done, todo = split_done(specs, out)
        failures: list[tuple[str, str]] = []
        cpu = [0.0]
        saved = [0]
        start = time.perf_counter()
        if todo:
            bar = tqdm(
                total=len(todo), desc="bench", unit="run", disable=not progress, dynamic_ncols=True
            )

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
                    cpu[0] += float(record["result"].get("cpu_s", 0.0))
                else:
                    failures.append((spec.key, error or "unknown error"))
                bar.update(1)
                bar.set_postfix_str(
                    f"failed={len(failures)}" if failures else spec.agent, refresh=False
                )

            try:
                with sigterm_as_interrupt():
                    if backend == "local":
                        run_local(todo, jobs, data_dir, on_done)
                    else:
                        run_ray(todo, jobs, data_dir, on_done, ray_address, ray_timeout_s)
            except KeyboardInterrupt:
                raise BenchStopped("interrupted", len(done) + saved[0], failures) from None
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
