"""Build ``nb201/nb201_metrics.csv`` from the official NATS-Bench topology archive.

NATS-Bench (Dong et al., TPAMI 2021) distributes its topology search space (TSS,
the NAS-Bench-201 cell space of Dong & Yang, ICLR 2020) as the directory
``NATS-tss-v1_0-3ffb9-simple``: bz2-compressed pickles written by the
``nats_bench`` package,

* ``meta.pickle.pbz2``: ``{"meta_archs": [arch_str, ...], "total_archs": 15625, ...}``,
  the architecture strings in official index order;
* ``000000.pickle.pbz2`` ... ``015624.pickle.pbz2``: ``{"12": state, "200": state}``,
  one :class:`nats_bench.api_utils.ArchResults` state dict per training budget
  (``hp``), holding one ``ResultsCount`` per (dataset, seed).

The importer reads one architecture file at a time (bounded memory, unlike loading
the multi-GB single-file benchmark) and turns it into one row of the table that :mod:`nas_gym.benchmarks.nb201` loads. Split
conventions are those of every NB201 paper: CIFAR-10 validation is the
``cifar10-valid`` model on ``x-valid`` (the held-out half of the training set),
CIFAR-10 test is the ``cifar10`` model (trained on train+valid) on ``ori-test``;
CIFAR-100 and ImageNet16-120 use ``x-valid`` / ``x-test``.

The archive files are Python pickles, and unpickling can run code. Every file is
therefore read with :func:`nas_gym.safe_pickle.load_bz2_pickle`: a restricted
unpickler that admits only builtin containers, numbers and strings (all the format
holds) and refuses anything else, with a cap on how much one file may decompress to.
The ``nats_bench`` classes then rebuild results from that plain data.
"""

from __future__ import annotations

import csv
import io
import math
import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nas_gym.data import DataError, atomic_write_text, check_out_file, user_data_dir
from nas_gym.safe_pickle import MAX_DECOMPRESSED_BYTES, UnsafePickleError, load_bz2_pickle
from nas_gym.spaces import nb201 as space

ARCHIVE_NAME = "NATS-tss-v1_0-3ffb9-simple"
PICKLE_EXT = "pickle.pbz2"
META_FILE = f"meta.{PICKLE_EXT}"
TABLE_RELPATH = "nb201/nb201_metrics.csv"
#: Where ``--allow-partial`` writes: a name :func:`~nas_gym.benchmarks.nb201.load_nb201` never reads.
PARTIAL_RELPATH = "nb201/nb201_metrics.partial.csv"
HOW_TO_GET = (
    f"Download the NATS-Bench topology archive {ARCHIVE_NAME}.tar from the NATS-Bench "
    "release (https://github.com/D-X-Y/NATS-Bench), extract it with `tar xf`, and pass the "
    "extracted directory (the one holding meta.pickle.pbz2 and 000000.pickle.pbz2 ...)."
)

#: Column order of ``nb201_metrics.csv`` (same as the table distributed with the project).
COLUMNS: tuple[str, ...] = (
    "index",
    "arch_str",
    "naslib_op_indices",
    "n_seeds_200ep",
    "c10valid_valid_acc_mean",
    "c10valid_valid_acc_seeds",
    "c10valid_test_acc_mean",
    "c10valid_train_acc_mean",
    "c10valid_train_time_200ep_s",
    "c10_test_acc_mean",
    "c100_valid_acc_mean",
    "c100_valid_acc_seeds",
    "c100_test_acc_mean",
    "c100_test_acc_seeds_derived",
    "c100_train_time_200ep_s",
    "in16_valid_acc_mean",
    "in16_valid_acc_seeds",
    "in16_test_acc_mean",
    "in16_test_acc_seeds_derived",
    "in16_train_time_200ep_s",
    "params_M_c10",
    "params_M_c100",
    "params_M_in16",
    "hp12_c10valid_valid_acc",
    "hp12_c10_test_acc",
    "hp12_c100_valid_acc",
    "hp12_c100_test_acc",
    "hp12_in16_valid_acc",
    "hp12_in16_test_acc",
)

#: Accuracy columns: column -> (hp, NATS dataset, NATS eval set), averaged over seeds.
MEAN_ACC_SOURCES: dict[str, tuple[str, str, str]] = {
    "c10valid_valid_acc_mean": ("200", "cifar10-valid", "x-valid"),
    "c10valid_test_acc_mean": ("200", "cifar10-valid", "ori-test"),
    "c10valid_train_acc_mean": ("200", "cifar10-valid", "train"),
    "c10_test_acc_mean": ("200", "cifar10", "ori-test"),
    "c100_valid_acc_mean": ("200", "cifar100", "x-valid"),
    "c100_test_acc_mean": ("200", "cifar100", "x-test"),
    "in16_valid_acc_mean": ("200", "ImageNet16-120", "x-valid"),
    "in16_test_acc_mean": ("200", "ImageNet16-120", "x-test"),
    "hp12_c10valid_valid_acc": ("12", "cifar10-valid", "x-valid"),
    "hp12_c10_test_acc": ("12", "cifar10", "ori-test"),
    "hp12_c100_valid_acc": ("12", "cifar100", "x-valid"),
    "hp12_c100_test_acc": ("12", "cifar100", "x-test"),
    "hp12_in16_valid_acc": ("12", "ImageNet16-120", "x-valid"),
    "hp12_in16_test_acc": ("12", "ImageNet16-120", "x-test"),
}
#: Per-seed columns (200 epochs, seeds in ascending order, ';'-separated).
#: The ``_derived`` test columns hold the archive's own per-seed x-test values here.
SEED_ACC_SOURCES: dict[str, tuple[str, str]] = {
    "c10valid_valid_acc_seeds": ("cifar10-valid", "x-valid"),
    "c100_valid_acc_seeds": ("cifar100", "x-valid"),
    "c100_test_acc_seeds_derived": ("cifar100", "x-test"),
    "in16_valid_acc_seeds": ("ImageNet16-120", "x-valid"),
    "in16_test_acc_seeds_derived": ("ImageNet16-120", "x-test"),
}
#: Training seconds for the full 200-epoch schedule (seed mean).
TRAIN_TIME_SOURCES: dict[str, str] = {
    "c10valid_train_time_200ep_s": "cifar10-valid",
    "c100_train_time_200ep_s": "cifar100",
    "in16_train_time_200ep_s": "ImageNet16-120",
}
#: Parameters in millions (NATS "params" is already in MB = millions of parameters).
PARAMS_SOURCES: dict[str, str] = {
    "params_M_c10": "cifar10",
    "params_M_c100": "cifar100",
    "params_M_in16": "ImageNet16-120",
}

#: NASLib's NB201 encoding (Ruchte et al., NASLib): its op order and edge order.
NASLIB_OPS: tuple[str, ...] = (
    "skip_connect",
    "none",
    "nor_conv_3x3",
    "nor_conv_1x1",
    "avg_pool_3x3",
)
#: NASLib edges (0->1, 0->2, 0->3, 1->2, 1->3, 2->3) as rows of :data:`space.EDGES`.
NASLIB_EDGE_ROWS: tuple[int, ...] = (0, 1, 3, 2, 4, 5)


def naslib_op_indices(arch_str: str) -> str:
    """NASLib op-index string of an architecture, e.g. ``"433000"`` for index 0.

    NASLib (github.com/automl/NASLib) encodes an NB201 cell as six op indices in its
    own op and edge order; the column lets users join our table with NASLib data.
    """
    ops = space.str_to_ops(arch_str)
    return "".join(str(NASLIB_OPS.index(space.OPS[ops[row]])) for row in NASLIB_EDGE_ROWS)


def _require_nats_bench() -> Any:
    try:
        import nats_bench
    except ImportError as err:
        from gymnasium.error import DependencyNotInstalled

        raise DependencyNotInstalled(
            "reading the NATS-Bench archive needs the optional package nats_bench: "
            "pip install 'nas_gym[nats]'"
        ) from err
    return nats_bench


def check_archive(archive: str | os.PathLike[str]) -> Path:
    """The archive directory, or a DataError saying what PATH must be."""
    path = Path(archive).expanduser()
    if path.is_file():
        hint = " (extract the .tar first)" if path.name.endswith(".tar") else ""
        raise DataError(
            f"{str(path)!r} is a file{hint}; expected the directory {ARCHIVE_NAME}. {HOW_TO_GET}"
        )
    if not path.is_dir():
        raise DataError(f"NATS-Bench archive {str(path)!r} does not exist. {HOW_TO_GET}")
    if not (path / META_FILE).is_file():
        raise DataError(
            f"{str(path)!r} has no {META_FILE}; it is not the {ARCHIVE_NAME} directory. {HOW_TO_GET}"
        )
    return path


def read_meta_archs(archive: Path) -> list[str]:
    """Architecture strings of the archive, checked against the official NB201 index order.

    Reads only ``meta.pickle.pbz2``, through the restricted unpickler.
    """
    meta_path = archive / META_FILE
    try:
        meta = load_bz2_pickle(meta_path, max_bytes=MAX_DECOMPRESSED_BYTES)
        if not isinstance(meta, dict) or not isinstance(meta.get("meta_archs"), list):
            raise TypeError("expected a dict with a 'meta_archs' list")
        archs = [str(a) for a in meta["meta_archs"]]
    except UnsafePickleError as err:
        raise UnsafePickleError(f"{meta_path}: {err}") from None
    except Exception as err:  # bz2/pickle/format errors all mean "not a valid meta file"
        raise DataError(
            f"{meta_path} is not a valid NATS-Bench meta file ({type(err).__name__}: {err}). {HOW_TO_GET}"
        ) from err
    if len(archs) != space.N_ARCHS:
        raise DataError(
            f"{meta_path} lists {len(archs)} architectures; the NATS-Bench topology archive has "
            f"{space.N_ARCHS} (is this the size-search-space archive?). {HOW_TO_GET}"
        )
    official = space.all_strs()
    for index, arch_str in enumerate(archs):
        if arch_str != official[index]:
            raise DataError(
                f"{meta_path}: architecture {index} is {arch_str!r}, expected the official "
                f"{official[index]!r}; this is not the NATS-Bench topology archive. {HOW_TO_GET}"
            )
    return archs


def arch_file(archive: Path, index: int) -> Path | None:
    """Path of one architecture's file (``000123.pickle.pbz2``, or ``123.pickle.pbz2``), if present."""
    for name in (f"{index:06d}.{PICKLE_EXT}", f"{index:d}.{PICKLE_EXT}"):
        path = archive / name
        if path.is_file():
            return path
    return None


def load_arch_results(path: Path, index: int, arch_str: str) -> dict[str, Any]:
    """``{hp: ArchResults}`` of one architecture file, checked to be that architecture's."""
    nats_bench = _require_nats_bench()
    try:
        data = load_bz2_pickle(path, max_bytes=MAX_DECOMPRESSED_BYTES)
        if not isinstance(data, dict):
            raise TypeError(f"top level is {type(data).__name__}, expected a dict of hp -> results")
        results = {
            str(hp): nats_bench.ArchResults.create_from_state_dict(state)
            for hp, state in data.items()
        }
    except UnsafePickleError as err:
        raise UnsafePickleError(f"{path}: {err}") from None
    except Exception as err:  # corrupt bz2 stream, truncated pickle, wrong layout
        raise DataError(
            f"{path} is not a valid NATS-Bench architecture file ({type(err).__name__}: {err}). {HOW_TO_GET}"
        ) from err
    for hp in ("200", "12"):
        if hp not in results:
            raise DataError(
                f"{path} has no hp={hp!r} results (found {sorted(results)}); expected '12' and '200'"
            )
        got = results[hp]
        if got.arch_index != index or got.arch_str != arch_str:
            raise DataError(
                f"{path} holds architecture {got.arch_index} {got.arch_str!r} (hp={hp}), "
                f"expected {index} {arch_str!r}"
            )
    return results


def _number(value: Any, what: str) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{what} is {value!r}, not a number") from err
    if not math.isfinite(out):
        raise ValueError(f"{what} is {out}, not finite")
    return out


def _metric(results: Any, dataset: str, setname: str, key: str, seed: int | bool = False) -> float:
    """One NATS metric after the last epoch: seed mean (``seed=False``) or one seed's value."""
    what = f"{key} of {dataset!r} on {setname!r} (seed {'mean' if seed is False else seed})"
    try:
        info = results.get_metrics(dataset, setname, iepoch=None, is_random=seed)
    except (KeyError, ValueError, TypeError, IndexError) as err:
        raise ValueError(f"{what} is missing ({type(err).__name__}: {err})") from err
    return _number(info[key], what)


def _fmt(value: float) -> str:
    """Shortest text that reads back as exactly the same float."""
    return repr(float(value))


def arch_row(index: int, arch_str: str, results: dict[str, Any]) -> dict[str, str]:
    """One table row from an architecture's ``{hp: ArchResults}`` (see the module docstring)."""
    row = {
        "index": str(index),
        "arch_str": arch_str,
        "naslib_op_indices": naslib_op_indices(arch_str),
    }
    hp200 = results["200"]
    try:
        row["n_seeds_200ep"] = str(len(hp200.get_dataset_seeds("cifar10-valid")))
    except KeyError as err:
        raise ValueError("hp=200 has no 'cifar10-valid' results") from err
    for col, (hp, dataset, setname) in MEAN_ACC_SOURCES.items():
        row[col] = _fmt(_metric(results[hp], dataset, setname, "accuracy"))
    for col, (dataset, setname) in SEED_ACC_SOURCES.items():
        seeds = hp200.get_dataset_seeds(dataset)
        row[col] = ";".join(
            _fmt(_metric(hp200, dataset, setname, "accuracy", seed=s)) for s in seeds
        )
    for col, dataset in TRAIN_TIME_SOURCES.items():
        row[col] = _fmt(_metric(hp200, dataset, "train", "all_time"))
    for col, dataset in PARAMS_SOURCES.items():
        try:
            params = hp200.get_compute_costs(dataset)["params"]
        except (KeyError, ValueError, TypeError, ZeroDivisionError) as err:
            raise ValueError(
                f"params of {dataset!r} are missing ({type(err).__name__}: {err})"
            ) from err
        row[col] = _fmt(_number(params, f"params of {dataset!r}"))
    return {col: row[col] for col in COLUMNS}


def read_row(archive: Path, index: int, arch_str: str) -> dict[str, str]:
    """Row of one architecture read from its file; DataError names the file on any defect."""
    path = arch_file(archive, index)
    if path is None:
        raise DataError(
            f"{archive} has no file for architecture {index} ({index:06d}.{PICKLE_EXT})"
        )
    results = load_arch_results(path, index, arch_str)
    try:
        return arch_row(index, arch_str, results)
    except ValueError as err:
        raise DataError(f"{path}: {err}") from err


def missing_indices(archive: Path, n_archs: int = space.N_ARCHS) -> list[int]:
    """Architecture indices without a file in the archive."""
    return [i for i in range(n_archs) if arch_file(archive, i) is None]


def rows_to_csv(rows: Iterable[dict[str, str]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(COLUMNS), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def validate_rows(rows: Sequence[dict[str, str]]) -> None:
    """Check rows the way :func:`~nas_gym.benchmarks.nb201.parse_csv` checks a table, minus the row count.

    Used for partial tables, which ``parse_csv`` (rightly) rejects.
    """
    from nas_gym.benchmarks.nb201 import ACC_COLUMNS, NUMERIC_COLUMNS

    acc_cols = set(ACC_COLUMNS.values())
    last = -1
    for row in rows:
        index = int(row["index"])
        if index <= last:
            raise DataError(f"rows out of order: index {index} after {last}")
        last = index
        if space.str_to_index(row["arch_str"]) != index:
            raise DataError(
                f"row {index}: arch_str {row['arch_str']!r} is not architecture {index}"
            )
        for col in NUMERIC_COLUMNS:
            value = float(row[col])
            if not math.isfinite(value) or (col in acc_cols and not 0.0 <= value <= 100.0):
                raise DataError(f"row {index}: {col} = {row[col]!r} is not a valid value")


@dataclass(frozen=True)
class ImportResult:
    path: Path
    n_rows: int
    partial: bool


def output_path(out_dir: str | os.PathLike[str] | None, partial: bool = False) -> Path:
    root = Path(out_dir).expanduser() if out_dir is not None else user_data_dir()
    return root / (PARTIAL_RELPATH if partial else TABLE_RELPATH)


def write_table(rows: Sequence[dict[str, str]], path: Path, *, partial: bool = False) -> None:
    """Validate, then atomically replace ``path``; an invalid table never reaches ``path``.

    A full table is validated by the loader's own :func:`parse_csv` on a temporary
    file beside ``path``; a partial one by :func:`validate_rows`.
    """
    from nas_gym.benchmarks.nb201 import parse_csv

    text = rows_to_csv(rows)
    if partial:
        validate_rows(rows)
        atomic_write_text(path, text)
        return
    staging = path.with_name(f".{path.name}.importing")
    atomic_write_text(staging, text)
    try:
        parse_csv(staging)
        os.replace(staging, path)
    finally:
        staging.unlink(missing_ok=True)


def import_nats(
    archive: str | os.PathLike[str],
    out_dir: str | os.PathLike[str] | None = None,
    *,
    force: bool = False,
    allow_partial: bool = False,
    progress: bool = True,
) -> ImportResult:
    """Convert a NATS-Bench TSS archive into ``<out_dir>/nb201/nb201_metrics.csv``.

    Args:
        archive: the extracted ``NATS-tss-v1_0-3ffb9-simple`` directory.
        out_dir: data directory to write into (default: :func:`nas_gym.data.user_data_dir`).
        force: overwrite an existing table.
        allow_partial: if architecture files are missing, write the rows that exist to
            ``nb201/nb201_metrics.partial.csv`` (never loaded by the environments)
            instead of failing.
        progress: show a tqdm progress bar on stderr.

    Raises:
        DataError: missing or corrupt archive, missing architectures (without
            ``allow_partial``), an existing output without ``force``.
    """
    from tqdm.auto import tqdm

    root = check_archive(archive)
    archs = read_meta_archs(root)
    missing = missing_indices(root, len(archs))
    partial = bool(missing)
    if partial and not allow_partial:
        shown = ", ".join(f"{i:06d}.{PICKLE_EXT}" for i in missing[:5])
        raise DataError(
            f"{root} is incomplete: {len(missing)} of {len(archs)} architecture files are missing "
            f"({shown}{', ...' if len(missing) > 5 else ''}). The environments need the full table. "
            f"{HOW_TO_GET} (--allow-partial writes the available rows to {PARTIAL_RELPATH} instead.)"
        )
    if len(missing) == len(archs):
        raise DataError(f"{root} has no architecture files (000000.{PICKLE_EXT} ...). {HOW_TO_GET}")
    path = output_path(out_dir, partial)
    if path.exists() and not force:
        raise DataError(f"{path} already exists; pass --force to overwrite it")
    check_out_file(path, "--out-dir")  # before reading 15,625 files, not after
    skip = set(missing)
    present = [i for i in range(len(archs)) if i not in skip]
    with tqdm(
        present,
        desc="NATS-Bench -> nb201_metrics.csv",
        unit="arch",
        disable=not progress,
        file=sys.stderr,
    ) as bar:  # closed (its line ended) before any error is printed
        rows = [read_row(root, i, archs[i]) for i in bar]
    write_table(rows, path, partial=partial)
    return ImportResult(path=path, n_rows=len(rows), partial=partial)
