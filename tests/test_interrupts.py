"""``nas-gym bench`` under interruptions and faults (issue 9, sec. 2-3).

Real benches in a subprocess (random search on the real NB201 table, real spawned
workers), interrupted with real signals. Sized small: two subprocess benches.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nas_gym.agents.bench import backends, store
from nas_gym.agents.bench.spec import RunSpec
from nas_gym.cli import main
from nas_gym.data import check_out_dir

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def _bench_cmd(out: Path, seeds: str, budget: int = 2000) -> list[str]:
    return [
        sys.executable,
        "-m",
        "nas_gym.cli",
        "bench",
        "--agents",
        "rs",
        "--datasets",
        "cifar10",
        "--seeds",
        seeds,
        "--budgets",
        str(budget),
        "--jobs",
        "2",
        "--out",
        str(out),
        "--no-progress",
        "--no-plots",
    ]


def _workers(pid: int) -> list[int]:
    """Spawned multiprocessing children of ``pid``."""
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    out = []
    for child in map(int, text.split()):
        try:
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                out.append(child)
        except OSError:
            pass
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _wait(predicate, timeout: float = 120.0) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.1)


def _records(out: Path) -> list[Path]:
    return sorted((out / "runs").glob("*.json"))


def _default_sigint() -> None:
    """Give the bench SIGINT's default disposition. A process started in the background
    (``pytest ... &``) inherits SIGINT ignored, and Python then installs no
    KeyboardInterrupt handler, so the bench would never see the test's Ctrl-C."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start(out: Path, seeds: str) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.Popen(
        _bench_cmd(out, seeds),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_default_sigint,
    )


def test_dead_worker_fails_only_its_run_and_sigint_keeps_finished_work(tmp_path):
    out = tmp_path / "out"
    proc = _start(out, "1-400")
    try:
        _wait(lambda: len(_workers(proc.pid)) == 2 and len(_records(out)) >= 1)
        victim = _workers(proc.pid)[0]
        os.kill(victim, signal.SIGKILL)  # the OOM killer's way
        n = len(_records(out))
        _wait(lambda: len(_records(out)) >= n + 3)  # the bench went on with a new worker
        workers = _workers(proc.pid)
        assert victim not in workers and len(workers) == 2
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert "Traceback" not in stderr
    saved = len(_records(out))
    assert (
        f"interrupted; {saved} of 400 runs are saved in {out}; resume with: nas-gym bench"
        in (lines[-1])
    )
    failed = [line for line in lines if line.startswith("FAILED")]
    assert len(failed) == 1 and "WorkerDied" in failed[0] and "exit code -9" in failed[0]
    for path in _records(out):  # every record on disk is a complete, loadable run
        assert store.load_record(path) is not None
    _wait(lambda: not any(_alive(w) for w in workers), timeout=10)


def test_workers_die_with_a_sigkilled_parent(tmp_path):
    out = tmp_path / "out"
    proc = _start(out, "1-400")
    try:
        _wait(lambda: len(_workers(proc.pid)) == 2)
        workers = _workers(proc.pid)
        proc.kill()
        proc.wait(10)
        _wait(lambda: not any(_alive(w) for w in workers), timeout=10)
    finally:
        proc.kill()


def _spec(seed: int, agent: str = "rs", kwargs: str = "{}") -> RunSpec:
    return RunSpec(agent, "cifar10", "valid", 10, seed, base_agent="rs", agent_kwargs=kwargs)


def test_half_written_record_is_not_finished(tmp_path):
    spec = _spec(1)
    runs = tmp_path / "runs"
    runs.mkdir()
    for text in ("", "{", json.dumps({"format": "x"})):
        (runs / spec.filename).write_text(text)
        assert store.split_done([spec], tmp_path) == ([], [spec])
    from nas_gym.agents.bench.record import RECORD_FORMAT

    half = {"format": RECORD_FORMAT, "spec": {"agent": "rs"}, "result": {}}
    (runs / spec.filename).write_text(json.dumps(half))
    assert store.load_record(runs / spec.filename) is None
    assert store.load_all_records(tmp_path) == []


def test_conflicting_variant_definition_and_concurrent_writer_refused(tmp_path):
    store.record_variants(store.prepare_out_dir(tmp_path), [_spec(1, "rs-x")])
    with pytest.raises(ValueError, match="agent label 'rs-x' already means"):
        store.record_variants(tmp_path, [_spec(1, "rs-x", '{"foo": 1}')])
    with store.out_dir_lock(tmp_path):
        # a second bench (here: a second lock in another process) is refused
        code = (
            "import sys; from nas_gym.agents.bench import store\n"
            "try:\n    store.out_dir_lock(sys.argv[1]).__enter__()\n"
            "except ValueError as e:\n    print(e); sys.exit(3)\n"
        )
        res = subprocess.run(
            [sys.executable, "-c", code, str(tmp_path)],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        )
        assert res.returncode == 3 and f"(pid {os.getpid()}) is writing to" in res.stdout
    with store.out_dir_lock(tmp_path):  # released: the next bench may write
        pass


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--ray-address", "127.0.0.1:1"], "--ray-address '127.0.0.1:1' needs --backend ray"),
        (["--seeds", "1-100000000"], "has more than 10000 values"),
        (["--seeds", "\u0661\u0662"], "is not a whole number (at least 0) or a range"),
        (["--seeds", str(2**64 + 1)], "above the maximum 4294967295"),
        (["--out", ""], "--out is empty"),
    ],
)
def test_bench_arguments_refused_before_work(extra, message, tmp_path, capsys):
    args = ["bench", "--agents", "rs", "--datasets", "cifar10", "--budgets", "10"]
    args += ["--seeds", "1", "--out", str(tmp_path / "o"), "--no-plots", "--no-progress"]
    for i in range(0, len(extra), 2):
        if extra[i] in args:
            args[args.index(extra[i]) + 1] = extra[i + 1]
        else:
            args += extra[i : i + 2]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("nas-gym bench: error:") and message in err, err


def test_out_is_a_file_or_read_only(tmp_path, capsys):
    afile = tmp_path / "f"
    afile.write_text("x")
    with pytest.raises(ValueError, match="is a file"):
        check_out_dir(afile)
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        if os.access(ro, os.W_OK):
            pytest.skip("running as root: permissions are not enforced")
        with pytest.raises(ValueError, match="read-only"):
            check_out_dir(ro / "bench")
    finally:
        ro.chmod(0o700)


def test_unreachable_ray_address_times_out_clearly():
    pytest.importorskip("ray")
    t0 = time.monotonic()
    with pytest.raises(ValueError, match="no Ray cluster reachable at 127.0.0.1:1"):
        backends.run_ray([_spec(1)], 1, None, lambda *a: None, "127.0.0.1:1", ray_timeout_s=1.0)
    assert time.monotonic() - t0 < 10


def test_disk_full_says_what_is_saved(tmp_path, monkeypatch):
    """ENOSPC while writing a record (fault injected into the write) ends in one clear stop."""
    import errno

    def full(out_dir, record):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(backends, "write_record", full)
    with pytest.raises(backends.BenchStopped, match="no space left in") as info:
        backends.execute([_spec(1), _spec(2)], tmp_path, jobs=1, progress=False)
    assert info.value.n_saved == 0


def _loopback(hex_addr: str) -> bool:
    """Whether a /proc/net/tcp{,6} local address is 127.x.x.x, ::ffff:127.x.x.x or ::1."""
    if len(hex_addr) == 8:
        return hex_addr.endswith("7F")
    mapped = hex_addr.startswith("0000000000000000FFFF0000") and hex_addr.endswith("7F")
    return mapped or hex_addr == "00000000000000000000000001000000"


def _listening_off_loopback(pids: set[int]) -> list[str]:
    """LISTEN sockets of ``pids`` reachable from the network (from /proc/net/tcp*)."""
    inodes = set()
    for pid in pids:
        try:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        except OSError:
            pass
    bad = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            cols = line.split()
            local, state, inode = cols[1], cols[3], cols[9]
            if state == "0A" and inode in inodes and not _loopback(local.split(":")[0]):
                bad.append(f"{table} {local}")
    return bad


def _descendants(pid: int) -> set[int]:
    out, todo = set(), [pid]
    while todo:
        p = todo.pop()
        for task in Path(f"/proc/{p}/task").glob("*"):
            try:
                kids = [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                kids = []
            for kid in kids:
                if kid not in out:
                    out.add(kid)
                    todo.append(kid)
    return out


def test_local_ray_listens_only_on_loopback():
    ray = pytest.importorskip("ray")
    if ray.is_initialized():
        pytest.skip("a Ray instance is already running in this process")
    backends.init_local_ray(1)
    try:
        pids = _descendants(os.getpid()) | {os.getpid()}
        assert len(pids) > 2  # Ray's services really run
        assert _listening_off_loopback(pids) == []
    finally:
        ray.shutdown()
