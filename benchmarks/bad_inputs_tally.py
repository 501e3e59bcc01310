"""Issue 9's tally, re-run: feed representative bad inputs and faults, count what happens.

Every case is a real call (library or ``nas_gym.cli.main``) on real files; each
outcome is classified, never assumed:

* ``clear error``: our exception (``DataError``, ``ValueError`` ...) with our message,
  or a CLI exit 2 with one ``nas-gym <cmd>: error: ...`` line (or the bench's one
  resume line), or a warning saying the cache was bypassed (cache cases);
* ``silent accept``: the bad input ran without a word;
* ``traceback``: any other exception type, or a CLI traceback;
* ``code executed``: a payload's marker file appeared;
* ``data lost``: fewer finished runs on disk than the bench reported finishing.

Controls (valid inputs) must be accepted; a refused control is counted as such.

    NAS_GYM_DATA_DIR=... python benchmarks/bad_inputs_tally.py [--skip-signals]

The signal cases start real ``nas-gym bench`` subprocesses (about a minute on a
loaded 2-core machine); ``--skip-signals`` leaves them out.
"""

from __future__ import annotations

import argparse
import bz2
import contextlib
import io
import json
import os
import pickle
import signal
import sys
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nas_gym.cli import main  # noqa: E402
from nas_gym.data import CacheWarning, DataError  # noqa: E402

OURS = (DataError, ValueError, FileNotFoundError)


class Payload:
    """Unpickling this creates the marker file."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({str(self.marker)!r}, 'w').close()",))


def classify_call(fn: Callable[[], object], marker: Path | None = None) -> str:
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fn()
        outcome = (
            "clear error"  # a cache fault is handled by design: warn and go on
            if any(issubclass(w.category, CacheWarning) for w in caught)
            else "silent accept"
        )
    except OURS:
        outcome = "clear error"
    except Exception:  # noqa: BLE001
        outcome = "traceback"
    if marker is not None and marker.exists():
        return "code executed"
    return outcome


def classify_cli(argv: list[str], marker: Path | None = None) -> str:
    err, out = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            code = main(argv)
    except SystemExit as exc:  # argparse
        code = exc.code
    except Exception:  # noqa: BLE001
        return "code executed" if marker is not None and marker.exists() else "traceback"
    if marker is not None and marker.exists():
        return "code executed"
    text = err.getvalue()
    if "Traceback" in text:
        return "traceback"
    lines = [line for line in text.splitlines() if line.strip() and "%|" not in line]
    if code == 2 and lines and lines[-1].startswith("nas-gym") and "error:" in lines[-1]:
        return "clear error"
    return "silent accept" if code == 0 else f"exit {code}"


def cases(tmp: Path) -> list[tuple[str, str, Callable[[], str]]]:
    """(group, name, run) -> outcome. Controls have group 'control'."""
    import gymnasium as gym

    import nas_gym  # noqa: F401
    from nas_gym.benchmarks import nats_import, nb201
    from nas_gym.safe_pickle import load_bz2_pickle, load_checkpoint
    from nas_gym.spaces import nb201 as space
    from nas_gym.supernets import datasets as ds
    from tests.test_datasets import make_tiny_cifar

    out: list[tuple[str, str, Callable[[], str]]] = []
    marker = tmp / "PWNED"

    def evil(wrap=lambda p: p) -> bytes:
        return pickle.dumps(wrap(Payload(marker)), protocol=2)

    # -- 1. security -------------------------------------------------------------
    def nats(meta_bytes: bytes, arch: bytes | None, name: str) -> Path:
        root = tmp / name / nats_import.ARCHIVE_NAME
        root.mkdir(parents=True)
        (root / nats_import.META_FILE).write_bytes(bz2.compress(meta_bytes))
        (root / "000000.pickle.pbz2").write_bytes(bz2.compress(arch or b"x"))
        return root

    meta = pickle.dumps({"meta_archs": list(space.all_strs())})
    r1 = nats(evil(), None, "nats_meta")
    r2 = nats(meta, evil(lambda p: {"12": p}), "nats_arch")
    out.append(
        (
            "security",
            "import-nats evil meta",
            lambda: classify_cli(
                ["data", "import-nats", str(r1), "--out", str(tmp / "o1")], marker
            ),
        )
    )
    out.append(
        (
            "security",
            "import-nats evil arch file",
            lambda: classify_cli(
                ["data", "import-nats", str(r2), "--out", str(tmp / "o2"), "--allow-partial"],
                marker,
            ),
        )
    )
    bomb = tmp / "bomb.pbz2"
    bomb.write_bytes(bz2.compress(pickle.dumps(b"\0" * (8 * 2**20))))
    out.append(
        (
            "security",
            "bz2 bomb (cap 1 MiB)",
            lambda: classify_call(lambda: load_bz2_pickle(bomb, max_bytes=2**20)),
        )
    )
    make_tiny_cifar(tmp / "cifar", per_class=1, n_test=2)
    (tmp / "cifar/cifar-10-batches-py/data_batch_1").write_bytes(
        evil(lambda p: {"data": p, "labels": []})
    )
    out.append(
        (
            "security",
            "CIFAR batch with code (--no-verify)",
            lambda: classify_call(
                lambda: ds.load_image_dataset("cifar10", tmp / "cifar", True, verify=False), marker
            ),
        )
    )
    ckpt = tmp / "evil.pt"
    torch.save({"model": {}, "x": Payload(marker)}, ckpt)
    out.append(
        (
            "security",
            "checkpoint with code",
            lambda: classify_call(lambda: load_checkpoint(ckpt), marker),
        )
    )
    tg = tmp / "tg"
    tg.mkdir()
    torch.save({"x": Payload(marker)}, tg / "checkpoint.pt")
    make_tiny_cifar(tmp / "cifar_ok", per_class=1, n_test=2)
    out.append(
        (
            "security",
            "train-genotype --resume evil checkpoint",
            lambda: classify_cli(
                [
                    "train-genotype",
                    "DARTS_V2",
                    "--root",
                    str(tmp / "cifar_ok"),
                    "--no-verify",
                    "--layers",
                    "3",
                    "--channels",
                    "2",
                    "--batch-size",
                    "4",
                    "--out",
                    str(tg),
                    "--resume",
                ],
                marker,
            ),
        )
    )
    out.append(
        (
            "security",
            "supernet checkpoint with code",
            lambda: classify_call(
                lambda: __import__("nas_gym.supernets.pretrain", fromlist=["x"]).read_checkpoint(
                    ckpt
                ),
                marker,
            ),
        )
    )

    # -- 2./3. bench arguments ---------------------------------------------------
    base = [
        "bench",
        "--agents",
        "rs",
        "--datasets",
        "cifar10",
        "--budgets",
        "10",
        "--seeds",
        "1",
        "--no-plots",
        "--no-progress",
    ]
    afile = tmp / "afile"
    afile.write_text("x")
    for name, extra in [
        ("--ray-address with --backend local", ["--ray-address", "127.0.0.1:1"]),
        (
            "--ray-address unreachable",
            ["--backend", "ray", "--ray-address", "127.0.0.1:1", "--ray-timeout", "1"],
        ),
        ("--seeds non-ASCII digits", ["--seeds", "\u0661\u0662"]),
        ("--seeds > 2**64", ["--seeds", str(2**64 + 1)]),
        ("--seeds 1-100000000", ["--seeds", "1-100000000"]),
        ("--out ''", ["--out", ""]),
        ("--out a file", ["--out", str(afile)]),
        ("--variant defined, unused", ["--variant", "x=rs:{}"]),
    ]:
        argv = [*base, "--out", str(tmp / f"b_{len(out)}"), *extra]
        out.append(("bench args", name, lambda argv=argv: classify_cli(argv)))
    conflict = tmp / "conflict"
    out.append(
        (
            "control",
            "bench tiny run",
            lambda: classify_cli(
                [*base, "--agents", "rs-a", "--variant", "rs-a=rs:{}", "--out", str(conflict)]
            ),
        )
    )
    out.append(
        (
            "bench args",
            "same label, other definition",
            lambda: classify_cli(
                [*base, "--agents", "rs-a", "--variant", "rs-a=rea:{}", "--out", str(conflict)]
            ),
        )
    )
    half = tmp / "half"

    def half_record() -> str:
        from nas_gym.agents.bench.record import RECORD_FORMAT

        classify_cli([*base, "--out", str(half)])
        (path,) = (half / "runs").glob("*.json")
        path.write_text(
            json.dumps(
                {
                    "format": RECORD_FORMAT,
                    "spec": json.loads(path.read_text())["spec"],
                    "result": {},
                }
            )
        )
        outcome = classify_cli([*base, "--out", str(half)])
        return "clear error" if outcome == "silent accept" else outcome  # it reran the run

    out.append(("interruptions", "half-written record", half_record))

    # -- 4. cache ------------------------------------------------------------------
    def with_cache(setup: Callable[[Path], None]) -> str:
        cdir = tmp / f"cache_{time.monotonic_ns()}"
        cdir.mkdir()
        os.environ["NAS_GYM_CACHE_DIR"] = str(cdir)
        nb201.clear_cache()
        nb201.load_nb201()
        nb201.clear_cache()
        setup(cdir)
        try:
            outcome = classify_call(lambda: nb201.load_nb201())
            table = nb201.load_nb201()
            ok = (
                table.optimum("cifar10", "valid")[0] == 6111
                and np.isfinite(table.column("c10valid_valid_acc_mean")).all()
            )
            return outcome if ok else "silent accept (corrupted data served)"
        finally:
            nb201.clear_cache()
            del os.environ["NAS_GYM_CACHE_DIR"]

    def edit(cdir: Path) -> None:
        (path,) = cdir.glob("nb201_metrics_v1_*.npy")
        arr = np.load(path)
        arr["c10valid_valid_acc_mean"][0] = np.nan
        np.save(path, arr)

    out.append(("cache", "edited cache values", lambda: with_cache(edit)))
    out.append(
        (
            "cache",
            "empty cache file",
            lambda: with_cache(lambda c: next(c.glob("nb201_metrics_v1_*.npy")).write_bytes(b"")),
        )
    )

    def cache_is_file() -> str:
        os.environ["NAS_GYM_CACHE_DIR"] = str(afile)
        nb201.clear_cache()
        try:
            return classify_call(lambda: nb201.load_nb201())
        finally:
            nb201.clear_cache()
            del os.environ["NAS_GYM_CACHE_DIR"]

    out.append(("cache", "NAS_GYM_CACHE_DIR is a file", cache_is_file))

    # -- 5. validation -------------------------------------------------------------
    nodata = str(tmp / "nothing")
    for name, extra in [
        ("pretrain --lr 1e30", ["--lr", "1e30"]),
        ("pretrain --lr-min > --lr", ["--lr", "0.01", "--lr-min", "0.1"]),
        ("pretrain --momentum 5", ["--momentum", "5"]),
        ("pretrain --resolution 1", ["--resolution", "1"]),
    ]:
        argv = ["supernet", "pretrain", "--root", nodata, "--out", str(tmp / "pt"), *extra]
        out.append(("validation", name, lambda argv=argv: classify_cli(argv)))
    for name, extra in [
        ("train-genotype --layers 1", ["--layers", "1"]),
        ("train-genotype --resolution 2", ["--resolution", "2"]),
    ]:
        argv = ["train-genotype", "DARTS_V2", "--root", nodata, "--out", str(tmp / "tg2"), *extra]
        out.append(("validation", name, lambda argv=argv: classify_cli(argv)))
    out.append(
        (
            "validation",
            "latency measure --resolution 3",
            lambda: classify_cli(
                ["latency", "measure", "--resolution", "3", "--out", str(tmp / "l.yaml")]
            ),
        )
    )
    hist = tmp / "h.json"
    hist.write_text(json.dumps([{"valid_acc": float("nan"), "flops_M": 1.0}]))
    out.append(
        (
            "validation",
            "pareto NaN values",
            lambda: classify_cli(
                ["supernet", "pareto", str(hist), "--costs", "flops_M", "--out", str(tmp / "p.png")]
            ),
        )
    )
    hist2 = tmp / "h2.json"
    hist2.write_text(json.dumps([{"valid_acc": 90.0, "flops_M": 1.0}]))
    out.append(
        (
            "validation",
            "pareto --out a directory",
            lambda: classify_cli(
                ["supernet", "pareto", str(hist2), "--costs", "flops_M", "--out", str(tmp)]
            ),
        )
    )
    out.append(
        (
            "control",
            "pareto valid",
            lambda: classify_cli(
                [
                    "supernet",
                    "pareto",
                    str(hist2),
                    "--costs",
                    "flops_M",
                    "--out",
                    str(tmp / "ok.png"),
                ]
            ),
        )
    )

    def env(env_id: str, **kw):
        if env_id != "NASBench201-v0":
            kw.setdefault("root", nodata)
        return lambda: gym.make(env_id, **kw)

    for name, fn in [
        ("warmup_lr=nan", env("DARTSSupernet-v0", warmup_lr=float("nan"))),
        ("warmup_steps=2.7", env("DARTSSupernet-v0", warmup_steps=2.7)),
        ("lr='0.1'", env("DARTSSupernet-v0", lr="0.1")),
        ("lut=None", env("ProxylessNAS-v0", lut=None)),
        ("latency_target below every arch", env("ProxylessNAS-v0", latency_target=1.0)),
        ("top_k > number of architectures", env("NASBench201-v0", top_k=20000)),
    ]:
        out.append(("env kwargs", name, lambda fn=fn: classify_call(fn)))
    out.append(
        (
            "control",
            "cost_target=np.float32(5)",
            lambda: classify_call(
                env("NASBench201-v0", cost="edgegpu_latency", cost_target=np.float32(5))
            ),
        )
    )

    def step_with(make_action) -> Callable[[], object]:
        def run():
            e = gym.make("NASBench201-v0", max_queries=5)
            e.reset(seed=0)
            e.step(make_action(e.action_space.sample()))

        return run

    for name, make_action in [
        ("complex action", lambda a: a.astype(np.complex64)),
        ("masked action", lambda a: np.ma.masked_array(a, mask=a > 0.5)),
        ("timedelta64 action", lambda a: (a * 100).astype("timedelta64[s]")),
    ]:
        out.append(("actions", name, lambda m=make_action: classify_call(step_with(m))))
    for name, make_action in [
        ("tensor requiring grad", lambda a: torch.from_numpy(a).requires_grad_(True)),
        ("bfloat16 tensor", lambda a: torch.from_numpy(a).to(torch.bfloat16)),
    ]:
        out.append(("control", name, lambda m=make_action: classify_call(step_with(m))))

    nan_ck = tmp / "nan" / "last.pt"
    nan_ck.parent.mkdir()
    from nas_gym.supernets import pretrain

    torch.save(
        {"format": pretrain.CHECKPOINT_FORMAT, "model": {"w": torch.tensor([float("nan")])}}, nan_ck
    )
    out.append(
        (
            "validation",
            "supernet checkpoint with NaN weights",
            lambda: classify_call(lambda: pretrain.read_checkpoint(nan_ck)),
        )
    )

    # -- 6. data check ---------------------------------------------------------------
    from nas_gym import checks

    data_dir = Path(os.environ["NAS_GYM_DATA_DIR"])

    def table_edit(rel: str, mutate: Callable[[bytes], bytes]) -> Callable[[], str]:
        def run() -> str:
            dst = tmp / f"dc_{time.monotonic_ns()}" / rel
            dst.parent.mkdir(parents=True)
            dst.write_bytes(mutate((data_dir / rel).read_bytes()))
            ok, _ = checks._check_row(rel, dst, "tally")
            return "silent accept" if ok else "clear error"

        return run

    def swap_lines(b: bytes) -> bytes:
        lines = b.split(b"\n")
        lines[10], lines[11] = lines[11], lines[10]
        return b"\n".join(lines)

    def set_cell(col: str, value: bytes, line: int = 3) -> Callable[[bytes], bytes]:
        def mutate(b: bytes) -> bytes:
            lines = b.split(b"\n")
            header = lines[0].split(b",")
            cells = lines[line].split(b",")
            cells[header.index(col.encode())] = value
            lines[line] = b",".join(cells)
            return b"\n".join(lines)

        return mutate

    nbrel = "nb201/nb201_metrics.csv"
    for name, rel, mutate in [
        ("negative params", nbrel, set_cell("params_M_c10", b"-0.5")),
        ("negative train time", nbrel, set_cell("c100_train_time_200ep_s", b"-3.0")),
        ("fractional n_seeds", nbrel, set_cell("n_seeds_200ep", b"2.5")),
        ("two rows' accuracies swapped", nbrel, swap_lines),
        ("edited optimum", nbrel, set_cell("c10valid_valid_acc_mean", b"99.9", 1)),
        ("NUL byte", "nb201/nb201_help_latency.csv", lambda b: b[:5000] + b"\0" + b[5001:]),
        (
            "NaN latency entry",
            "proxylessnas/pixel1_mobile_lut.yaml",
            lambda b: b.replace(b"mean: 4.083755600814664", b"mean: .nan", 1),
        ),
        (
            "duplicate key in a latency table",
            "proxylessnas/tfnas_cpu_lut.json",
            lambda b: b[:-1] + b', "base": 1.0}',
        ),
    ]:
        out.append(("data check", name, table_edit(rel, mutate)))

    def missing(rel_missing: str) -> Callable[[], str]:
        def run() -> str:
            d = tmp / f"dm_{time.monotonic_ns()}"
            for rel in checks.CHECKS:
                if rel != rel_missing:
                    (d / rel).parent.mkdir(parents=True, exist_ok=True)
                    (d / rel).write_bytes((data_dir / rel).read_bytes())
            buf = io.StringIO()
            with contextlib.redirect_stdout(buf):
                code = checks.run_data_checks(d)
            said = "MISSING" in buf.getvalue()
            return "clear error" if code != 0 and said else "silent accept"

        return run

    out.append(("data check", "missing HELP table", missing("nb201/nb201_help_latency.csv")))
    out.append(("data check", "missing NB201 table", missing(nbrel)))

    # -- 7. CLI: an error outside our types --------------------------------------------
    out.append(
        (
            "cli",
            "train-genotype unknown genotype",
            lambda: classify_cli(["train-genotype", "NOPE", "--root", nodata]),
        )
    )
    return out


def signal_cases(tmp: Path) -> list[tuple[str, str, Callable[[], str]]]:
    """SIGINT and SIGKILL of a real bench (jobs 2); outcome includes data lost / leaked."""
    from tests.test_interrupts import _alive, _records, _start, _wait, _workers

    def sigint() -> str:
        out = tmp / "sigint"
        proc = _start(out, "1-400")
        try:
            _wait(lambda: len(_workers(proc.pid)) == 2 and len(_records(out)) >= 2)
            workers = _workers(proc.pid)
            proc.send_signal(signal.SIGINT)
            _, stderr = proc.communicate(timeout=60)
        finally:
            proc.kill()
        time.sleep(2)
        if any(_alive(w) for w in workers):
            return "leaked process"
        last = [line for line in stderr.splitlines() if line.strip()][-1]
        saved = int(last.split("interrupted; ")[1].split(" of ")[0])
        if saved > len(_records(out)):
            return "data lost"
        return "clear error" if proc.returncode == 130 and "resume with" in last else "traceback"

    def sigkill() -> str:
        out = tmp / "sigkill"
        proc = _start(out, "1-400")
        try:
            _wait(lambda: len(_workers(proc.pid)) == 2)
            workers = _workers(proc.pid)
            proc.kill()
            proc.wait(10)
            time.sleep(3)
        finally:
            proc.kill()
        return "leaked process" if any(_alive(w) for w in workers) else "clear error"

    return [
        ("interruptions", "SIGINT of a bench", sigint),
        ("interruptions", "SIGKILL of a bench's parent", sigkill),
    ]


def run(skip_signals: bool) -> int:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        todo = cases(tmp) + ([] if skip_signals else signal_cases(tmp))
        results = []
        for group, name, fn in todo:
            marker = tmp / "PWNED"
            marker.unlink(missing_ok=True)
            t0 = time.perf_counter()
            outcome = fn()
            results.append((group, name, outcome))
            print(
                f"{group:<14} {name:<42} {outcome:<16} {time.perf_counter() - t0:6.1f} s",
                flush=True,
            )
    bad = [r for r in results if r[0] != "control"]
    controls = [r for r in results if r[0] == "control"]
    tally = Counter(outcome for _, _, outcome in bad)
    print()
    print(f"bad inputs tried: {len(bad)} (+ {len(controls)} controls)")
    for outcome in (
        "clear error",
        "silent accept",
        "traceback",
        "code executed",
        "data lost",
        "leaked process",
    ):
        print(f"  {outcome:<16} {tally.get(outcome, 0)}")
    others = {
        k: v
        for k, v in tally.items()
        if k
        not in (
            "clear error",
            "silent accept",
            "traceback",
            "code executed",
            "data lost",
            "leaked process",
        )
    }
    for k, v in others.items():
        print(f"  {k:<16} {v}")
    refused = [r for r in controls if r[2] != "silent accept"]
    print(f"controls refused: {len(refused)} {[r[1] for r in refused]}")
    return 0 if tally.get("clear error", 0) == len(bad) and not refused else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--skip-signals", action="store_true")
    sys.exit(run(parser.parse_args().skip_signals))
