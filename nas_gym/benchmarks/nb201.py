"""The NAS-Bench-201 oracle table (Dong & Yang, ICLR 2020; NATS-Bench TSS, Dong et al., TPAMI 2021).

``nb201/nb201_metrics.csv`` (15,625 rows, one per official index) is parsed once,
validated, and cached as a ``.npy`` structured array in the cache directory,
keyed by the CSV's SHA-256. Later loads read that binary file (memory-mapped, so
processes on one machine share its pages) and keep it in a per-process cache:
every environment in a process shares one table.

Split conventions (as in every NB201 paper): for CIFAR-10 "validation" is the
``cifar10-valid`` model evaluated on the held-out half of the training set and
"test" is the ``cifar10`` model (trained on train+valid) evaluated on the test
set; for CIFAR-100 and ImageNet16-120 they are x-valid and x-test.
"""

from __future__ import annotations

import csv
import io
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nas_gym.data import (
    DataError,
    cache_dir,
    find_table,
    load_cached_array,
    save_cached_array,
    sha256_file,
)
from nas_gym.spaces import nb201 as space

TABLE_RELPATH = "nb201/nb201_metrics.csv"
#: SHA-256 of the table distributed beside this project (``shared/envs_data``).
KNOWN_SHA256 = "487960bb6b49602bd8d997000b0fbd454722b59b3a67d6e6441d52f4c27738c3"
CACHE_FORMAT = 1

DATASETS: tuple[str, ...] = ("cifar10", "cifar100", "ImageNet16-120")
SPLITS: tuple[str, ...] = ("valid", "test")
FIDELITIES: tuple[int, ...] = (200, 12)

#: (dataset, split, fidelity) -> CSV column, accuracy in percent.
ACC_COLUMNS: dict[tuple[str, str, int], str] = {
    ("cifar10", "valid", 200): "c10valid_valid_acc_mean",
    ("cifar10", "test", 200): "c10_test_acc_mean",
    ("cifar100", "valid", 200): "c100_valid_acc_mean",
    ("cifar100", "test", 200): "c100_test_acc_mean",
    ("ImageNet16-120", "valid", 200): "in16_valid_acc_mean",
    ("ImageNet16-120", "test", 200): "in16_test_acc_mean",
    ("cifar10", "valid", 12): "hp12_c10valid_valid_acc",
    ("cifar10", "test", 12): "hp12_c10_test_acc",
    ("cifar100", "valid", 12): "hp12_c100_valid_acc",
    ("cifar100", "test", 12): "hp12_c100_test_acc",
    ("ImageNet16-120", "valid", 12): "hp12_in16_valid_acc",
    ("ImageNet16-120", "test", 12): "hp12_in16_test_acc",
}
PARAMS_COLUMNS: dict[str, str] = {
    "cifar10": "params_M_c10",
    "cifar100": "params_M_c100",
    "ImageNet16-120": "params_M_in16",
}
TRAIN_TIME_COLUMNS: dict[str, str] = {
    "cifar10": "c10valid_train_time_200ep_s",
    "cifar100": "c100_train_time_200ep_s",
    "ImageNet16-120": "in16_train_time_200ep_s",
}
#: Numeric columns kept in the binary cache (the per-seed strings stay in the CSV).
NUMERIC_COLUMNS: tuple[str, ...] = (
    "n_seeds_200ep",
    "c10valid_train_acc_mean",
    "c10valid_test_acc_mean",
    *ACC_COLUMNS.values(),
    *PARAMS_COLUMNS.values(),
    *TRAIN_TIME_COLUMNS.values(),
)
REQUIRED_COLUMNS: tuple[str, ...] = ("index", "arch_str", *NUMERIC_COLUMNS)

#: Published optima of the 200-epoch table: (dataset, split) -> (index, accuracy %).
#: ImageNet16-120 valid is 46.7333 in v1.1/NATS data (46.77 in the v1.0 file).
KNOWN_OPTIMA: dict[tuple[str, str], tuple[int, float]] = {
    ("cifar10", "valid"): (6111, 91.6067),
    ("cifar10", "test"): (6111, 94.3733),
    ("cifar100", "valid"): (9930, 73.4933),
    ("cifar100", "test"): (9930, 73.5133),
    ("ImageNet16-120", "valid"): (10676, 46.7333),
    ("ImageNet16-120", "test"): (857, 47.3111),
}


def check_dataset(dataset: str) -> str:
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; allowed: {', '.join(DATASETS)}")
    return dataset


def check_split(split: str) -> str:
    if split not in SPLITS:
        raise ValueError(f"unknown split / reward_metric {split!r}; allowed: {', '.join(SPLITS)}")
    return split


def check_fidelity(fidelity: int) -> int:
    if fidelity not in FIDELITIES:
        raise ValueError(f"unknown fidelity {fidelity!r} (training epochs); allowed: 200, 12")
    return int(fidelity)


@dataclass(frozen=True)
class NB201Table:
    """All 15,625 NB201 architectures' metrics, row = official index."""

    columns: np.ndarray  # structured array, one field per NUMERIC_COLUMNS entry
    source: Path
    sha256: str

    def __len__(self) -> int:
        return len(self.columns)

    def __reduce__(self):
        """Pickle by reference: unpickling reloads the table from its data directory."""
        return load_nb201, (str(self.source.parent.parent),)

    def column(self, name: str) -> np.ndarray:
        if name not in self.columns.dtype.names:
            raise KeyError(f"no column {name!r}; available: {', '.join(self.columns.dtype.names)}")
        return self.columns[name]

    def accuracy(self, dataset: str, split: str, fidelity: int = 200) -> np.ndarray:
        """Accuracy (%) of every architecture, indexed by official index."""
        key = (check_dataset(dataset), check_split(split), check_fidelity(fidelity))
        return self.column(ACC_COLUMNS[key])

    def params(self, dataset: str) -> np.ndarray:
        return self.column(PARAMS_COLUMNS[check_dataset(dataset)])

    def optimum(self, dataset: str, split: str, fidelity: int = 200) -> tuple[int, float]:
        """(index, accuracy) of the best architecture on that split (lowest index on ties)."""
        acc = self.accuracy(dataset, split, fidelity)
        best = int(np.argmax(acc))
        return best, float(acc[best])

    def record(self, index: int, dataset: str, fidelity: int = 200) -> dict[str, float]:
        """Everything known about one architecture on one dataset."""
        row = self.columns[space._check_index(index)]
        return {
            "valid_acc": float(row[ACC_COLUMNS[(dataset, "valid", fidelity)]]),
            "test_acc": float(row[ACC_COLUMNS[(dataset, "test", fidelity)]]),
            "params_M": float(row[PARAMS_COLUMNS[dataset]]),
        }


_CACHE: dict[tuple[str, str], NB201Table] = {}
_LOCK = threading.Lock()


def _corrupt(path: Path, what: str) -> DataError:
    return DataError(
        f"{path} is not a valid NAS-Bench-201 metrics table: {what}. Restore the file "
        f"(sha256 {KNOWN_SHA256[:12]}...) or rebuild it with `nas-gym data import-nats PATH`."
    )


def parse_csv(path: Path) -> np.ndarray:
    """Parse and validate the CSV into a structured array. Raises DataError on any defect."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise _corrupt(path, f"cannot be read as UTF-8 text ({err})") from err
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if not header:
        raise _corrupt(path, "it is empty")
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise _corrupt(path, f"missing columns {missing}")
    pos = {name: header.index(name) for name in REQUIRED_COLUMNS}
    rows = list(reader)
    if len(rows) != space.N_ARCHS:
        raise _corrupt(path, f"expected {space.N_ARCHS} data rows, found {len(rows)} (truncated?)")
    out = np.zeros(space.N_ARCHS, dtype=[(c, np.float64) for c in NUMERIC_COLUMNS])
    codes = space.index_to_code_table()
    for lineno, row in enumerate(rows, start=2):
        if len(row) != len(header):
            raise _corrupt(path, f"line {lineno} has {len(row)} fields, header has {len(header)}")
        try:
            index = int(row[pos["index"]])
        except ValueError as err:
            raise _corrupt(
                path, f"line {lineno}: index {row[pos['index']]!r} is not an integer"
            ) from err
        if index != lineno - 2:
            raise _corrupt(path, f"line {lineno}: expected index {lineno - 2}, found {index}")
        try:
            ops = space.str_to_ops(row[pos["arch_str"]])
        except ValueError as err:
            raise _corrupt(path, f"line {lineno}: {err}") from err
        if space.ops_to_code(ops) != codes[index]:
            raise _corrupt(path, f"line {lineno}: arch_str does not match official index {index}")
        try:
            out[index] = tuple(float(row[pos[c]]) for c in NUMERIC_COLUMNS)
        except ValueError as err:
            raise _corrupt(path, f"line {lineno}: non-numeric metric ({err})") from err
    for col in NUMERIC_COLUMNS:
        values = out[col]
        if not np.isfinite(values).all():
            raise _corrupt(path, f"column {col} has NaN or inf values")
    for col in ACC_COLUMNS.values():
        if (out[col] < 0).any() or (out[col] > 100).any():
            raise _corrupt(path, f"column {col} has accuracies outside [0, 100]")
    return out


def _cache_file(sha: str) -> Path:
    return cache_dir() / f"nb201_metrics_v{CACHE_FORMAT}_{sha[:16]}.npy"


def load_nb201(
    data_dir: str | os.PathLike[str] | None = None, *, use_cache: bool = True
) -> NB201Table:
    """Load the NB201 table (once per process and data directory).

    Args:
        data_dir: directory holding ``nb201/nb201_metrics.csv``; see :mod:`nas_gym.data`.
        use_cache: read/write the binary cache in the cache directory.
    """
    path = find_table(TABLE_RELPATH, data_dir)
    key = (str(path), str(path.stat().st_mtime_ns))
    with _LOCK:
        if key in _CACHE:
            return _CACHE[key]
        sha = sha256_file(path)
        arr = None
        cache = _cache_file(sha)
        if use_cache:
            arr = load_cached_array(cache)  # checksum-verified; None means rebuild
            if arr is not None and (
                arr.dtype.names != NUMERIC_COLUMNS or arr.shape != (space.N_ARCHS,)
            ):
                arr = None
        if arr is None:
            arr = parse_csv(path)
            if use_cache:
                save_cached_array(cache, arr)
        table = NB201Table(columns=arr, source=path, sha256=sha)
        _CACHE[key] = table
        return table


def clear_cache() -> None:
    """Forget the per-process tables (tests, or after re-importing data)."""
    with _LOCK:
        _CACHE.clear()
