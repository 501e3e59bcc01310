"""The run directory: one JSON record per finished run, written atomically.

A directory of finished runs is the checkpoint a re-run resumes from: a run whose
file exists with the same spec is skipped, a missing or unreadable file is rerun,
and a file made with other settings under the same name is an error.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from agents.bench.record import RECORD_FORMAT
from agents.bench.spec import RunSpec
from nas_gym.data import atomic_write_text


def load_record(path: Path) -> dict[str, Any] | None:
    """A finished run's record, or None when the file is missing or unreadable (rerun it)."""
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("format") != RECORD_FORMAT:
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
                f"({record.get('spec')}); use another --out directory or agent label"
            )
        done.append(spec)
    return done, todo


def write_record(out_dir: Path, record: dict[str, Any]) -> None:
    spec = RunSpec(**record["spec"])
    atomic_write_text(out_dir / "runs" / spec.filename, json.dumps(record) + "\n")
