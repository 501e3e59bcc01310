"""Finished NAS-Bench-201 bench runs kept small enough to commit: one ``.jsonl.xz`` file.

A bench run directory holds one JSON record per run (``store.py``), about 100 kB each
with the full history and timing. An archive keeps what the study reports read: the
run's spec, a few result columns and its query sequence (``arch_index``). The
accuracies are looked up again from the NB201 table on reading, which is why only
noise-free NB201 runs can be archived, and reading checks each run's recorded best
against the table it is read with (another table version fails by name).

Archives are plain JSON lines, xz-compressed, written atomically; reading one runs no
code. ``benchmarks/td3_vs_ddpg.py`` and ``benchmarks/cadam_table41.py`` keep their
runs in ``benchmarks/archives/`` this way, so their tables regenerate after the
machine that ran them is gone.
"""

from __future__ import annotations

import functools
import json
import lzma
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from nas_gym.benchmarks.nb201 import load_nb201
from nas_gym.data import atomic_write_bytes

#: The header line this module writes.
ARCHIVE_FORMAT = "nas_gym bench archive 1"
#: Headers it also reads: the same layout under the name of the study that introduced it.
READABLE_FORMATS = (ARCHIVE_FORMAT, "nas_gym td3_vs_ddpg archive 1")
#: What an archive keeps of a run's result: every column the reports read.
ARCHIVE_RESULT = ("best_test_acc", "best_valid_acc", "n_unique_queries", "n_queries", "cpu_s")
#: The history the reports read. Only ``arch_index`` is stored: the accuracies are the
#: table's and are looked up again on reading (a third of the size).
ARCHIVE_HISTORY = ("arch_index", "valid_acc", "test_acc")
NB201_IDS = ("NASBench201-v0", "NASBench201-v1")
#: Machine-dependent: may differ between two copies of one run.
UNCOMPARED = ("cpu_s",)


class ArchiveError(ValueError):
    """A run cannot be archived, or a file is not a readable archive (the message says why)."""


def run_name(spec: dict[str, Any]) -> tuple:
    """(agent, unit, budget, dataset, split, seed): how messages and the file order name a run."""
    return (
        spec["agent"],
        spec["budget_unit"],
        spec["budget"],
        spec["dataset"],
        spec["reward_metric"],
        spec["seed"],
    )


@functools.lru_cache(maxsize=8)
def table_accuracies(dataset: str, fidelity: int) -> tuple[list[float], list[float]]:
    """(valid, test) accuracy of every NB201 cell: what the environment reports per query."""
    table = load_nb201()
    return (
        table.accuracy(dataset, "valid", fidelity).tolist(),
        table.accuracy(dataset, "test", fidelity).tolist(),
    )


def fidelity(spec: dict[str, Any]) -> int:
    """The training epochs whose accuracies the run saw (the env's ``fidelity``, 200)."""
    return int(json.loads(spec.get("env_kwargs", "{}")).get("fidelity", 200))


def looked_up(spec: dict[str, Any], arch_index: Sequence[int]) -> dict[str, list]:
    """A run's history rebuilt from its query sequence and the table."""
    kwargs = json.loads(spec.get("env_kwargs", "{}"))
    if spec.get("env_id") not in NB201_IDS or kwargs.get("noise") is not None:
        raise ArchiveError(
            f"run {run_name(spec)}: only noise-free NB201 runs can be archived "
            f"(env_id {spec.get('env_id')!r}, env_kwargs {kwargs})"
        )
    valid, test = table_accuracies(spec["dataset"], fidelity(spec))
    arch = [int(i) for i in arch_index]
    return {
        "arch_index": arch,
        "valid_acc": [valid[i] for i in arch],
        "test_acc": [test[i] for i in arch],
    }


def slim(record: dict[str, Any]) -> dict[str, Any]:
    """The archived form of a bench run record; refused if the table cannot rebuild it."""
    history = {k: record["history"][k] for k in ARCHIVE_HISTORY}
    if looked_up(record["spec"], history["arch_index"]) != history:
        raise ArchiveError(
            f"run {run_name(record['spec'])}: its recorded accuracies are not the table's, "
            "so an archive could not rebuild them"
        )
    return {
        "spec": record["spec"],
        "result": {k: record["result"][k] for k in ARCHIVE_RESULT},
        "arch_index": history["arch_index"],
    }


def write_archive(records: Sequence[dict[str, Any]], path: Path) -> None:
    """One JSON line per run (sorted by :func:`run_name`), xz-compressed, written atomically."""
    lines = [json.dumps({"format": ARCHIVE_FORMAT})]
    ordered = sorted(records, key=lambda r: run_name(r["spec"]))
    lines += [json.dumps(slim(r), separators=(",", ":")) for r in ordered]
    atomic_write_bytes(
        path, lzma.compress(("\n".join(lines) + "\n").encode(), preset=9 | lzma.PRESET_EXTREME)
    )


def read_archive(path: Path) -> list[dict[str, Any]]:
    """The runs of an archive written by :func:`write_archive` (plain JSON; runs no code),
    as ``{"spec", "result", "history"}``, histories rebuilt from the table and checked
    against their results."""
    try:
        lines = lzma.decompress(path.read_bytes()).decode().splitlines()
    except (OSError, lzma.LZMAError, UnicodeDecodeError) as exc:
        raise ArchiveError(f"{path}: not a readable archive (.jsonl.xz): {exc}") from None
    try:
        header = json.loads(lines[0]) if lines else None
    except ValueError:
        header = None
    if not isinstance(header, dict) or header.get("format") not in READABLE_FORMATS:
        raise ArchiveError(f"{path}: first line is not the header {{'format': {ARCHIVE_FORMAT!r}}}")
    records = []
    for number, line in enumerate(lines[1:], 2):
        try:
            archived = json.loads(line)
            spec, result = archived["spec"], archived["result"]
            record = {"spec": spec, "result": {k: result[k] for k in ARCHIVE_RESULT}}
            record["history"] = looked_up(spec, archived["arch_index"])
        except (ValueError, KeyError, TypeError, IndexError) as exc:
            if isinstance(exc, ArchiveError):
                raise
            raise ArchiveError(f"{path}, line {number}: not an archived run ({exc!r})") from None
        split = spec.get("reward_metric", "valid")  # the run's best is the searched split's
        if max(record["history"][f"{split}_acc"]) != result[f"best_{split}_acc"]:
            raise ArchiveError(
                f"{path}, line {number}: the table's best {split} accuracy over the run's "
                f"queries is not its recorded {result[f'best_{split}_acc']} (another table?)"
            )
        records.append(record)
    return records


def disagreement(a: dict[str, Any], b: dict[str, Any]) -> str | None:
    """Why two copies of one run differ in what an archive keeps (None: they agree)."""
    for key in ARCHIVE_RESULT:
        if key not in UNCOMPARED and a["result"][key] != b["result"][key]:
            return f"result {key}: {a['result'][key]!r} vs {b['result'][key]!r}"
    for key in ARCHIVE_HISTORY:
        if list(a["history"][key]) != list(b["history"][key]):
            return f"history {key} differs"
    return None


def merge(
    sources: Sequence[tuple[str, Sequence[dict[str, Any]]]],
    key: Callable[[dict[str, Any]], tuple] = lambda r: run_name(r["spec"]),
) -> tuple[list[dict], int]:
    """One record per run from several (name, records) sources (run directories, archives),
    and how many runs were found in more than one. Two copies of a run must agree, else
    :class:`ArchiveError` naming both sources."""
    seen: dict[tuple, tuple[str, dict[str, Any]]] = {}
    repeated = 0
    for name, records in sources:
        for record in records:
            k = key(record)
            if k not in seen:
                seen[k] = (name, record)
                continue
            first_name, first = seen[k]
            why = disagreement(first, record)
            if why:
                raise ArchiveError(f"run {k} differs between {first_name} and {name}: {why}")
            repeated += 1
    return [record for _, record in seen.values()], repeated
