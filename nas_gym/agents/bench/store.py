"""The run directory: one JSON record per finished run, written atomically.

A directory of finished runs is the checkpoint a re-run resumes from: a run whose
file exists with the same spec is skipped, a missing, unreadable, empty or half
record is rerun, and a file made with other settings under the same name is an error.

The directory also holds ``variants.json`` (what each agent label means; a bench that
defines a label differently is refused, so two agents never merge under one name)
and ``.lock`` (held while a bench writes; a second concurrent bench is refused).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from nas_gym.agents.bench.record import RECORD_FORMAT, RESULT_COLUMNS
from nas_gym.agents.bench.spec import RunSpec
from nas_gym.data import atomic_write_text, check_out_dir


def load_record(path: Path) -> dict[str, Any] | None:
    """A finished run's record, or None when the file is missing or unreadable (rerun it)."""
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("format") != RECORD_FORMAT:
        return None
    spec, result = record.get("spec"), record.get("result")
    if not isinstance(spec, dict) or "agent" not in spec or not isinstance(result, dict):
        return None  # an empty or half-written result is not a finished run
    if not set(RESULT_COLUMNS) <= result.keys() or "base_agent" not in spec:
        return None
    return record


def load_all_records(out_dir: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Every finished run in ``out_dir/runs``, sorted by file name."""
    records = []
    for path in sorted((Path(out_dir) / "runs").glob("*.json")):
        record = load_record(path)
        if record is not None:
            records.append(record)
    return records


def spec_differences(saved: Any, now: dict[str, Any]) -> str:
    """What differs between a saved run's settings and this bench's, key by key (a
    resumed bench that differs from the saved one must say which setting changed)."""
    if not isinstance(saved, dict):
        return f"saved settings {saved!r} are not a run spec"
    keys = sorted(set(saved) | set(now))
    return "; ".join(
        f"{key}: saved {saved.get(key)!r}, now {now.get(key)!r}"
        for key in keys
        if saved.get(key) != now.get(key)
    )


def split_done(specs: Sequence[RunSpec], out_dir: Path) -> tuple[list[RunSpec], list[RunSpec]]:
    """Partition into (finished, to run); a finished file made with other settings is an error."""
    done, todo = [], []
    for spec in specs:
        record = load_record(out_dir / "runs" / spec.filename)
        if record is None:
            todo.append(spec)
            continue
        if record.get("spec") != asdict(spec):
            raise ValueError(
                f"{out_dir / 'runs' / spec.filename} was made with other settings "
                f"({spec_differences(record.get('spec'), asdict(spec))}); use another --out "
                "directory or agent label"
            )
        done.append(spec)
    return done, todo


def write_record(out_dir: Path, record: dict[str, Any]) -> None:
    spec = RunSpec(**record["spec"])
    atomic_write_text(out_dir / "runs" / spec.filename, json.dumps(record) + "\n")


VARIANTS_FILE = "variants.json"
LOCK_FILE = ".lock"


def prepare_out_dir(out_dir: str | os.PathLike[str]) -> Path:
    """Create ``OUT/runs`` or say in one line why ``OUT`` cannot hold a bench."""
    out = check_out_dir(out_dir)
    try:
        (out / "runs").mkdir(parents=True, exist_ok=True)
        probe = out / "runs" / f".write-test-{os.getpid()}"
        probe.write_text("")
        probe.unlink()
    except OSError as err:
        raise ValueError(
            f"--out {str(out)!r} cannot be written ({err.strerror or err}); give a writable directory"
        ) from None
    return out


@contextlib.contextmanager
def out_dir_lock(out_dir: str | os.PathLike[str]) -> Iterator[Path]:
    """Hold ``OUT/.lock`` while a bench writes there; a second bench on ``OUT`` is refused."""
    out = prepare_out_dir(out_dir)
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock, as before
        yield out
        return
    fh = open(out / LOCK_FILE, "a+")
    try:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "unknown"
            raise ValueError(
                f"another nas-gym bench (pid {holder}) is writing to {str(out)!r}; wait for it "
                "to finish or use another --out"
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        yield out
    finally:
        fh.close()  # closing releases the lock


def variant_definitions(specs: Sequence[RunSpec]) -> dict[str, dict[str, Any]]:
    """What each agent label runs: its registered agent and keyword overrides."""
    return {
        spec.agent: {"base_agent": spec.base_agent, "agent_kwargs": json.loads(spec.agent_kwargs)}
        for spec in specs
    }


def record_variants(out_dir: Path, specs: Sequence[RunSpec]) -> None:
    """Add this bench's label definitions to ``OUT/variants.json``; refuse a conflicting one."""
    path = out_dir / VARIANTS_FILE
    known: dict[str, Any] = {}
    if path.is_file():
        try:
            known = json.loads(path.read_text())
        except ValueError:
            raise ValueError(
                f"{path} is not valid JSON; it records what each agent label in {out_dir} "
                "means. Restore it or use another --out"
            ) from None
    for label, definition in variant_definitions(specs).items():
        if label in known and known[label] != definition:
            raise ValueError(
                f"agent label {label!r} already means {json.dumps(known[label])} in "
                f"{str(out_dir)!r}, not {json.dumps(definition)}; use another label or --out"
            )
        known[label] = definition
    atomic_write_text(path, json.dumps(known, indent=1, sort_keys=True) + "\n")
