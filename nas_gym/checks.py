"""``nas-gym data check``: validate the copy in use of every table, and the bundled copies.

Each check is a small function returning a list of problems (empty = OK), so the
CLI can print one readable row per table and tests can call them directly.
"""

from __future__ import annotations

import csv
import itertools
import json
import math
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from nas_gym import data as _data
from nas_gym.data import (
    HOW_TO_GET_DATA,
    MANIFEST_NAME,
    SOURCE_BUNDLED,
    DataError,
    bundled_manifest,
    extract_bundled,
    locate_table,
    resolve_data_dir,
    sha256_file,
)
from nas_gym.spaces import nb201 as space

#: Tables the project knows, with the SHA-256 of the versions distributed beside it.
#: A different checksum is reported (a re-import may legitimately differ in the last
#: decimals) but is only an error if the content checks fail.
KNOWN_TABLES: dict[str, str] = {
    "nb201/nb201_metrics.csv": "487960bb6b49602bd8d997000b0fbd454722b59b3a67d6e6441d52f4c27738c3",
    "nb201/nb201_hwnasbench_cost.csv": "536c54c4ac836d77e360ac737e0b4f5c2bd8a6743ee13414c0a309fe3419053a",
    "nb201/nb201_help_latency.csv": "5b0e37fc9519d9c88152b6bc44b18488360bd29a0256b9dd0e6a270ac74ba899",
    "proxylessnas/pixel1_mobile_lut.yaml": "087e855ea77f9b257e72f3637333a3e0938f6df77f579520f16d057ac45380aa",
    "proxylessnas/tfnas_cpu_lut.json": "79bd312b1db5d4d5c29f786a50a3310b90b97399d8b8253be526b5e88f6b51c5",
    "proxylessnas/tfnas_gpu_lut.json": "7ae696ca8eb081ff0ad6d1e2e2f57003c877359a4f28886480eea06b90f1a297",
    "fbnet/hwnasbench_fbnet_lut.json": "dad281e8eae5408cb6c5a3ae1c7b33f39027001a633e1d4468bbb578a0c6eb27",
}

HWNAS_DEVICES = ("edgegpu", "raspi4", "edgetpu", "pixel3", "eyeriss", "fpga")
N_HELP_DEVICES = 27


def check_nb201_metrics(path: Path) -> list[str]:
    """Full parse (row count, columns, index/arch_str agreement, ranges) plus the known optima."""
    from nas_gym.benchmarks import nb201

    try:
        arr = nb201.parse_csv(path)
    except DataError as err:
        return [str(err)]
    except (csv.Error, UnicodeDecodeError) as err:  # NUL bytes, broken encoding
        return [f"not a readable CSV ({err})"]
    problems = _range_problems(arr)
    for (dataset, split), (index, acc) in nb201.KNOWN_OPTIMA.items():
        column = arr[nb201.ACC_COLUMNS[(dataset, split, 200)]]
        best = int(np.argmax(column))
        if best != index or abs(float(column[best]) - acc) > 5e-3:
            problems.append(
                f"optimum of {dataset}/{split} is index {best} ({column[best]:.4f}%), "
                f"published: index {index} ({acc}%)"
            )
    return problems


def _first_bad(values: np.ndarray, bad: np.ndarray) -> str:
    i = int(np.argmax(bad))
    return f"{int(bad.sum())} rows, first index {i} = {float(values[i])!r}"


def _range_problems(arr: np.ndarray) -> list[str]:
    """Per-column value ranges of the NB201 metrics (parse_csv already checks accuracies)."""
    from nas_gym.benchmarks import nb201

    problems = []
    seeds = arr["n_seeds_200ep"]
    bad = (seeds != np.round(seeds)) | (seeds < 1)
    if bad.any():
        problems.append(f"n_seeds_200ep must be a whole number >= 1: {_first_bad(seeds, bad)}")
    for col in (*nb201.PARAMS_COLUMNS.values(), *nb201.TRAIN_TIME_COLUMNS.values()):
        if col in arr.dtype.names:
            bad = arr[col] < 0
            if bad.any():
                problems.append(f"{col} must be >= 0: {_first_bad(arr[col], bad)}")
    return problems


def _check_nb201_keyed_csv(path: Path, required: Callable[[list[str]], list[str]]) -> list[str]:
    """Shared checks for per-architecture cost tables keyed by index and arch_str."""
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            header = next(reader, [])
            rows = list(reader)
    except (csv.Error, UnicodeDecodeError) as err:  # NUL bytes, broken encoding
        return [f"not a readable CSV ({err})"]
    problems = required(header)
    if header[:2] != ["index", "arch_str"]:
        return problems + [f"first columns must be index, arch_str; got {header[:2]}"]
    if len(rows) != space.N_ARCHS:
        return problems + [f"expected {space.N_ARCHS} rows, found {len(rows)} (truncated?)"]
    strs = space.all_strs()
    for lineno, row in enumerate(rows, start=2):
        if len(row) != len(header):
            return problems + [f"line {lineno}: {len(row)} fields, header has {len(header)}"]
        if row[0] != str(lineno - 2) or row[1] != strs[lineno - 2]:
            return problems + [f"line {lineno}: index/arch_str do not match the official index"]
        try:
            values = [float(v) for v in row[2:]]
        except ValueError:
            return problems + [f"line {lineno}: non-numeric cost"]
        if not all(np.isfinite(values)):
            return problems + [f"line {lineno}: NaN or inf cost"]
    return problems


def check_hwnasbench(path: Path) -> list[str]:
    def required(header: list[str]) -> list[str]:
        want = [
            f"{d}__{dev}_latency"
            for d in ("cifar10", "cifar100", "ImageNet16-120")
            for dev in HWNAS_DEVICES
        ]
        missing = [c for c in want if c not in header]
        return [f"missing columns {missing}"] if missing else []

    return _check_nb201_keyed_csv(path, required)


def check_help(path: Path) -> list[str]:
    def required(header: list[str]) -> list[str]:
        n = len(header) - 2
        return (
            [] if n == N_HELP_DEVICES else [f"expected {N_HELP_DEVICES} device columns, found {n}"]
        )

    return _check_nb201_keyed_csv(path, required)


class _DuplicateKey(ValueError):
    pass


def _unique_yaml_loader() -> type:
    """A safe YAML loader that refuses a key repeated in one mapping (PyYAML keeps the last)."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    def mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict:
        seen = set()
        for key_node, _ in node.value:
            key = loader.construct_object(key_node)
            if key in seen:
                raise _DuplicateKey(f"duplicate key {key!r} (line {key_node.start_mark.line + 1})")
            seen.add(key)
        return loader.construct_mapping(node)

    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)
    return Loader


def _finite(x: object) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and bool(np.isfinite(x))


def check_yaml_lut(path: Path) -> list[str]:
    import yaml

    try:
        lut = yaml.load(path.read_text(encoding="utf-8"), Loader=_unique_yaml_loader())
    except _DuplicateKey as err:
        return [str(err)]
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        return [f"not valid YAML: {' '.join(str(err).split())}"]
    if not isinstance(lut, dict) or not lut:
        return ["expected a non-empty mapping of block keys to {count, mean, var}"]
    bad = [
        k
        for k, v in lut.items()
        if not (isinstance(v, dict) and _finite(v.get("mean")) and v["mean"] >= 0)
        or not _finite(v.get("var", 0.0))
        or v.get("var", 0.0) < 0
    ]
    return (
        [f"{len(bad)} entries without a finite mean >= 0 and var >= 0, e.g. {bad[0]!r}"]
        if bad
        else []
    )


def _no_duplicates(pairs: list[tuple[str, object]]) -> dict:
    keys = [k for k, _ in pairs]
    dup = next((k for k in keys if keys.count(k) > 1), None)
    if dup is not None:
        raise _DuplicateKey(f"duplicate key {dup!r}")
    return dict(pairs)


def _nonfinite_numbers(obj: object, where: str = "") -> list[str]:
    if isinstance(obj, dict):
        return [p for k, v in obj.items() for p in _nonfinite_numbers(v, f"{where}/{k}")]
    if isinstance(obj, list):
        return [p for i, v in enumerate(obj) for p in _nonfinite_numbers(v, f"{where}[{i}]")]
    if isinstance(obj, float) and not np.isfinite(obj):
        return [f"{where or '/'} = {obj}"]
    return []


def check_json(path: Path) -> list[str]:
    try:
        obj = json.loads(path.read_text(encoding="utf-8"), object_pairs_hook=_no_duplicates)
    except _DuplicateKey as err:
        return [str(err)]
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        return [f"not valid JSON: {err}"]
    if not obj:
        return ["empty JSON document"]
    bad = _nonfinite_numbers(obj)
    return [f"{len(bad)} NaN or infinite values, e.g. {bad[0]}"] if bad else []


CHECKS: dict[str, Callable[[Path], list[str]]] = {
    "nb201/nb201_metrics.csv": check_nb201_metrics,
    "nb201/nb201_hwnasbench_cost.csv": check_hwnasbench,
    "nb201/nb201_help_latency.csv": check_help,
    "proxylessnas/pixel1_mobile_lut.yaml": check_yaml_lut,
    "proxylessnas/tfnas_cpu_lut.json": check_json,
    "proxylessnas/tfnas_gpu_lut.json": check_json,
    "fbnet/hwnasbench_fbnet_lut.json": check_json,
}


def _same_cell(a: str, b: str) -> bool:
    """Equal text, or numbers equal to 1e-9 (a re-import may format floats differently)."""
    if a == b:
        return True
    try:
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
    except ValueError:
        return False


def first_difference(path: Path, shipped: Path) -> str | None:
    """Where ``path`` first differs from the shipped copy, or None if the values agree.

    CSV tables are compared cell by cell (numbers to 1e-9) and the answer names the
    line and column; other files name the first differing line.
    """
    with (
        open(path, encoding="utf-8", errors="replace", newline="") as ours,
        open(shipped, encoding="utf-8", newline="") as theirs,
    ):
        header: list[str] = []
        for lineno, (a, b) in enumerate(itertools.zip_longest(ours, theirs), start=1):
            a = a.rstrip("\r\n") if a is not None else None
            b = b.rstrip("\r\n") if b is not None else None
            if a == b:
                if lineno == 1 and a is not None:
                    header = a.split(",")
                continue
            if a is None or b is None:
                return f"line {lineno}: {'missing' if a is None else 'extra'} (shipped copy has {lineno - 1 if b is None else 'more'} lines)"
            if path.suffix != ".csv" or lineno == 1:
                return f"line {lineno} differs: {a.strip()[:60]!r} (shipped {b.strip()[:60]!r})"
            cells_a, cells_b = a.split(","), b.split(",")
            for col, (x, y) in enumerate(itertools.zip_longest(cells_a, cells_b, fillvalue="")):
                if not _same_cell(x, y):
                    name = header[col] if col < len(header) else f"#{col + 1}"
                    return f"line {lineno}, column {name}: {x[:40]!r} (shipped {y[:40]!r})"
    return None


def _shipped_copy(rel: str) -> Path | None:
    try:
        return extract_bundled(rel) if rel in bundled_manifest() else None
    except DataError:
        return None


def _check_row(rel: str, path: Path, where: str) -> tuple[bool, str]:
    """One printed row: (passed, line) for the table file at ``path``.

    A copy whose checksum differs from the shipped one is compared with the shipped
    copy; any differing value is a failure ("modified", with where it first differs).
    """
    sha = sha256_file(path)
    known = "known" if sha == KNOWN_TABLES[rel] else "other"
    problems = CHECKS[rel](path)
    shipped = _shipped_copy(rel) if known == "other" else None
    if shipped is not None and shipped.resolve() != path.resolve():
        where_diff = first_difference(path, shipped)
        if where_diff is not None:
            known = "modif."
            problems.insert(0, f"modified: {where_diff}")
    status = "FAIL" if problems else "ok"
    return (
        not problems,
        f"{rel:<38} {status:<6} {known:<6} {where:<22} {'; '.join(problems) or sha[:16]}",
    )


def check_bundled(rel: str) -> tuple[bool, str]:
    """Validate the bundled copy of ``rel``: compressed and plain checksums, then the content."""
    entry = bundled_manifest().get(rel)
    if entry is None:
        return False, f"{rel:<38} {'FAIL':<6} {'-':<6} {SOURCE_BUNDLED:<22} not in {MANIFEST_NAME}"
    compressed = _data.BUNDLED_DIR / str(entry["xz"])
    if not compressed.is_file():
        return False, f"{rel:<38} {'FAIL':<6} {'-':<6} {SOURCE_BUNDLED:<22} {compressed} is missing"
    if sha256_file(compressed) != entry["xz_sha256"]:
        return False, (
            f"{rel:<38} {'FAIL':<6} {'-':<6} {SOURCE_BUNDLED:<22} "
            f"{compressed.name} does not match its sha256 in {MANIFEST_NAME}"
        )
    try:
        path = extract_bundled(rel)
    except DataError as err:
        return False, f"{rel:<38} {'FAIL':<6} {'-':<6} {SOURCE_BUNDLED:<22} {err}"
    if sha256_file(path) != entry["sha256"]:  # a stale or damaged decompressed copy
        path.unlink()
        path = extract_bundled(rel)
    return _check_row(rel, path, SOURCE_BUNDLED)


def how_to_get(rel: str) -> str:
    """How to obtain a missing table."""
    if rel == "nb201/nb201_metrics.csv":
        return (
            "build it from the official archive with `nas-gym data import-nats PATH`, or point "
            "--data-dir / NAS_GYM_DATA_DIR at a directory holding it"
        )
    return "copy it into the data directory, or reinstall nas_gym so its bundled copy is present"


def run_data_checks(data_dir: str | os.PathLike[str] | None = None) -> int:
    """Check the copy in use of every known table, then every bundled copy; print a table.

    Returns 0 only if every table has a copy and every copy checked passes.
    """
    root, source = resolve_data_dir(data_dir)
    print(f"data directory: {root} (from {source})")
    print(f"bundled tables: {_data.BUNDLED_DIR} ({len(bundled_manifest())} in {MANIFEST_NAME})\n")
    print(f"{'table':<38} {'status':<6} {'sha256':<6} {'copy':<22} details")
    failed = found = 0
    in_use: dict[str, str] = {}
    for rel in CHECKS:
        location = locate_table(rel, data_dir)
        if location is None:
            print(f"{rel:<38} {'MISSING':<6} {'-':<6} {'-':<22} {how_to_get(rel)}")
            continue
        found += 1
        in_use[rel] = location.source
        if location.source == SOURCE_BUNDLED:
            ok, line = check_bundled(rel)
        else:
            ok, line = _check_row(rel, location.path, location.source)
        failed += not ok
        print(line)
    bundled = [rel for rel in bundled_manifest() if in_use.get(rel) != SOURCE_BUNDLED]
    for rel in bundled:
        ok, line = check_bundled(rel)
        failed += not ok
        print(line)
    if found == 0:
        print(
            f"\nno tables found: none in the data directory and no bundled copy. {HOW_TO_GET_DATA}"
        )
        return 1
    missing = len(CHECKS) - found
    print(
        f"\n{found} tables checked, {len(bundled)} more bundled copies checked, {failed} failed"
        + (f", {missing} missing. {HOW_TO_GET_DATA}" if missing else ".")
    )
    return 1 if failed or missing else 0
