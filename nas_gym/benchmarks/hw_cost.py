"""Hardware cost of every NAS-Bench-201 cell: HW-NAS-Bench and HELP tables, plus FLOPs.

* HW-NAS-Bench (Li et al., ICLR 2021), ``nb201/nb201_hwnasbench_cost.csv``: latency (ms)
  and energy (mJ) of the CIFAR-10, CIFAR-100 and ImageNet16-120 networks on six
  devices: ``edgegpu`` (Jetson TX2), ``raspi4``, ``edgetpu``, ``pixel3``, ``eyeriss``,
  ``fpga``. Cost names are ``<device>_<metric>``, e.g. ``"edgegpu_latency"``.
  ``edgetpu_latency`` is -1 (not measured) for 4,699 cells: it is stored as NaN and
  never used as a latency.
* HELP (Lee et al., NeurIPS 2021), ``nb201/nb201_help_latency.csv``: latency (ms) on 27
  device settings (desktop GPUs at batch 1/32/256, server CPUs, phones). Cost names
  are ``help_<setting>``, e.g. ``"help_titan_rtx_1"``. HELP measured the CIFAR-10
  network (its raspi4/pixel3/eyeriss/fpga columns equal HW-NAS-Bench's CIFAR-10
  values exactly), so HELP costs exist for ``dataset="cifar10"`` only.
* FLOPs and params: counted with torch on the real NB201 network
  (:mod:`nas_gym.supernets.nb201_cell`), shipped as exact per-edge increments.

Both CSVs are parsed once, checked against the official NB201 index/arch_str
order, and cached as one ``.npy`` structured array in the cache directory, keyed
by the two files' SHA-256; later loads memory-map it and share it per process
(the same pattern as :mod:`nas_gym.benchmarks.nb201`).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nas_gym.benchmarks.nb201 import DATASETS, check_dataset
from nas_gym.data import (
    RESOURCES_DIR,
    DataError,
    cache_dir,
    find_table,
    load_cached_array,
    save_cached_array,
    sha256_file,
)
from nas_gym.spaces import nb201 as space

HWNAS_RELPATH = "nb201/nb201_hwnasbench_cost.csv"
HELP_RELPATH = "nb201/nb201_help_latency.csv"
CACHE_FORMAT = 1

HW_DEVICES: tuple[str, ...] = ("edgegpu", "raspi4", "edgetpu", "pixel3", "eyeriss", "fpga")
HW_METRICS: tuple[str, ...] = ("latency", "energy")
HELP_PREFIX = "help_"
HELP_DATASET = "cifar10"
#: Columns that mark "not measured" with this value.
MISSING_MARKER = -1.0


def _check_unique(names: list[str], path: Path) -> None:
    if len(set(names)) != len(names):
        raise DataError(f"{path} has duplicate column names")


@dataclass(frozen=True)
class HWCostTable:
    """Cost columns of all 15,625 cells (row = official index); NaN = not measured."""

    columns: np.ndarray  # structured array: "<dataset>__<device>_<metric>" and "help_<setting>"
    sources: tuple[Path, Path]
    sha256: str

    def cost_names(self, dataset: str) -> tuple[str, ...]:
        """Every cost available for ``dataset`` (HW-NAS-Bench first, then HELP)."""
        check_dataset(dataset)
        names = [
            f[len(dataset) + 2 :] for f in self.columns.dtype.names if f.startswith(f"{dataset}__")
        ]
        names = [n for n in names if n.rsplit("_", 1)[-1] in HW_METRICS]
        if dataset == HELP_DATASET:
            names += [f for f in self.columns.dtype.names if f.startswith(HELP_PREFIX)]
        return tuple(names)

    def field(self, cost: str, dataset: str) -> str:
        """The stored column of ``cost`` for ``dataset``, or a ValueError listing the allowed names."""
        check_dataset(dataset)
        if not isinstance(cost, str):
            raise ValueError(f"cost must be a string naming a column, got {cost!r}")
        if cost.startswith(HELP_PREFIX) and cost in self.columns.dtype.names:
            if dataset != HELP_DATASET:
                raise ValueError(
                    f"HELP cost {cost!r} was measured on the {HELP_DATASET} network only; "
                    f"dataset {dataset!r} allows the HW-NAS-Bench costs: "
                    f"{', '.join(self.cost_names(dataset))}"
                )
            return cost
        name = f"{dataset}__{cost}"
        if name not in self.columns.dtype.names or cost not in self.cost_names(dataset):
            raise ValueError(
                f"unknown cost {cost!r} for dataset {dataset!r}; allowed: {', '.join(self.cost_names(dataset))}"
            )
        return name

    def cost(self, cost: str, dataset: str) -> np.ndarray:
        """The cost of every cell (indexed by official index); NaN where not measured."""
        return self.columns[self.field(cost, dataset)]

    def n_missing(self, cost: str, dataset: str) -> int:
        return int(np.isnan(self.cost(cost, dataset)).sum())


def unit(cost: str) -> str:
    """``"mJ"`` for energies, ``"ms"`` for latencies."""
    return "mJ" if cost.endswith("_energy") else "ms"


def _read(path: Path) -> tuple[list[str], list[list[str]]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(f"cannot read {path}: {err}") from err
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or rows[0][:2] != ["index", "arch_str"]:
        raise DataError(f"{path} must start with columns 'index,arch_str'")
    header, body = rows[0], rows[1:]
    if len(body) != space.N_ARCHS:
        raise DataError(
            f"{path}: expected {space.N_ARCHS} data rows, found {len(body)} (truncated?)"
        )
    _check_unique(header, path)
    return header, body


def _parse(path: Path, prefix: str = "") -> tuple[list[str], np.ndarray]:
    """Numeric columns of one CSV, rows checked against the official index order."""
    header, body = _read(path)
    names = [prefix + h for h in header[2:]]
    out = np.empty((space.N_ARCHS, len(names)), dtype=np.float64)
    codes = space.index_to_code_table()
    for lineno, row in enumerate(body, start=2):
        if len(row) != len(header):
            raise DataError(
                f"{path}: line {lineno} has {len(row)} fields, header has {len(header)}"
            )
        if row[0] != str(lineno - 2):
            raise DataError(f"{path}: line {lineno}: expected index {lineno - 2}, found {row[0]!r}")
        try:
            if space.ops_to_code(space.str_to_ops(row[1])) != codes[lineno - 2]:
                raise DataError(
                    f"{path}: line {lineno}: arch_str does not match official index {lineno - 2}"
                )
            out[lineno - 2] = [float(x) for x in row[2:]]
        except ValueError as err:
            raise DataError(f"{path}: line {lineno}: {err}") from err
    if not np.isfinite(out).all():
        raise DataError(f"{path} has NaN or inf values")
    for j, name in enumerate(names):
        col = out[:, j]
        missing = col == MISSING_MARKER
        if (col[~missing] < 0).any():
            raise DataError(
                f"{path}: column {name} has negative values other than the -1 'not measured' marker"
            )
        col[missing] = np.nan
    return names, out


def parse_tables(hwnas: Path, help_: Path) -> np.ndarray:
    """Both CSVs as one structured array (DataError on any defect)."""
    hw_names, hw = _parse(hwnas)
    help_names, hl = _parse(help_, HELP_PREFIX)
    names = hw_names + help_names
    arr = np.zeros(space.N_ARCHS, dtype=[(n, np.float64) for n in names])
    for j, n in enumerate(hw_names):
        arr[n] = hw[:, j]
    for j, n in enumerate(help_names):
        arr[n] = hl[:, j]
    return arr


_CACHE: dict[tuple[str, ...], HWCostTable] = {}
_LOCK = threading.Lock()


def load_hw_costs(
    data_dir: str | os.PathLike[str] | None = None, *, use_cache: bool = True
) -> HWCostTable:
    """Load the HW-NAS-Bench and HELP tables (once per process and data directory)."""
    paths = (find_table(HWNAS_RELPATH, data_dir), find_table(HELP_RELPATH, data_dir))
    key = tuple(f"{p}:{p.stat().st_mtime_ns}" for p in paths)
    with _LOCK:
        if key in _CACHE:
            return _CACHE[key]
        sha = hashlib.sha256("".join(sha256_file(p) for p in paths).encode()).hexdigest()
        cache = cache_dir() / f"nb201_hw_cost_v{CACHE_FORMAT}_{sha[:16]}.npy"
        arr = None
        if use_cache:
            arr = load_cached_array(cache)  # checksum-verified; None means rebuild
            if arr is not None and (arr.shape != (space.N_ARCHS,) or not arr.dtype.names):
                arr = None
        if arr is None:
            arr = parse_tables(*paths)
            if use_cache:
                save_cached_array(cache, arr)
        table = HWCostTable(columns=arr, sources=paths, sha256=sha)
        _CACHE[key] = table
        return table


INCREMENTS_FILE = RESOURCES_DIR / "nb201_cost_increments.json"
_FLOPS: dict[str, np.ndarray] = {}


def load_network_costs() -> np.ndarray:
    """``(3 datasets, 2 [flops_M, params_M], 15625)`` for every NB201 network, datasets in
    :data:`~nas_gym.benchmarks.nb201.DATASETS` order.

    Built with numpy from exact per-edge increments counted once with torch on the
    real network (:func:`nas_gym.supernets.nb201_cell.compute_increments`) and shipped
    as a 1 kB resource, so no environment needs torch. Integer sums: values are exact.
    """
    with _LOCK:
        if "all" in _FLOPS:
            return _FLOPS["all"]
        increments = json.loads(INCREMENTS_FILE.read_text(encoding="utf-8"))
        all_ops = space.all_ops()  # (15625, 6)
        out = np.zeros((len(DATASETS), 2, space.N_ARCHS))
        for d, dataset in enumerate(DATASETS):
            entry = increments[dataset]
            base = np.array(entry["base"], dtype=np.int64)
            delta = np.array([entry[name] for name in space.OPS], dtype=np.int64).T  # (2, 5)
            for k in range(2):
                out[d, k] = (base[k] + delta[k][all_ops].sum(axis=1)) / 1e6
        out.flags.writeable = False
        _FLOPS["all"] = out
        return out


def load_flops(dataset: str) -> np.ndarray:
    """FLOPs (millions of multiply-accumulates, conv + classifier) of every NB201 network on ``dataset``."""
    return load_network_costs()[DATASETS.index(check_dataset(dataset)), 0]


def clear_cache() -> None:
    with _LOCK:
        _CACHE.clear()
        _FLOPS.clear()
