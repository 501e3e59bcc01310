"""Latency lookup tables for the ProxylessNAS space: one format, one loader, one measurer.

The format is ProxylessNAS's (Cai et al., ICLR 2019) mobile table, YAML::

    Conv-input:224x224x3-output:112x112x32:                  # stem
      count: 982
      mean: 4.08                                             # milliseconds
      var: 0.25
    expanded_conv-input:56x56x24-output:56x56x24-expand:6-kernel:5-stride:1-idskip:1:
      ...
    Conv_1-input:7x7x320-output:7x7x1280:                    # final 1x1 conv
    Logits-input:7x7x1280-output:1000:                       # pool + classifier

A network's latency is the sum of the ``mean`` of its entries: the stem, the fixed
first block, every non-``zero`` layer (keyed with its identity-skip flag) and the
two head entries (:func:`nas_gym.spaces.proxyless.arch_keys`). A missing entry is
an error, never a zero.

Two sources share that format:

* ``"pixel1"``: the table ProxylessNAS measured on a Google Pixel 1
  (``proxylessnas/pixel1_mobile_lut.yaml`` in the data directory);
* :func:`measure`: every block of the space timed with torch on the user's own
  device (warm-up, repeated runs, median, fixed threads), written to the cache
  directory. Its ``mean`` field holds the *median* of ``count`` timed runs (robust to
  scheduler noise) and ``var`` their variance; a ``#`` header records the device.

A table may be measured at a smaller input resolution (the keys then carry that
resolution's shapes); :attr:`LatencyTable.resolution` is read from its stem key.
"""

from __future__ import annotations

import math
import os
import platform
import re
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from nas_gym.data import DataError, atomic_write_text, cache_dir, find_table, sha256_file
from nas_gym.spaces import proxyless as space

PIXEL1_RELPATH = "proxylessnas/pixel1_mobile_lut.yaml"
#: Named tables: "pixel1" is shipped data; "cpu"/"cuda" are this machine's default measured tables.
NAMED_TABLES: tuple[str, ...] = ("pixel1", "cpu", "cuda")
_STEM_RE = re.compile(r"^Conv-input:(\d+)x(\d+)x3-output:")


@dataclass(frozen=True)
class LatencyTable:
    """A parsed latency table: ``entries[key] = milliseconds``."""

    entries: dict[str, float]
    source: Path
    sha256: str
    resolution: int
    header: str = ""
    _arrays: tuple = field(default=(), repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.entries)

    def __reduce__(self):
        """Pickle by reference: unpickling reloads the table from its file."""
        return load_lut, (str(self.source),)

    def missing(self, keys: Sequence[str]) -> list[str]:
        return [k for k in keys if k not in self.entries]

    def _missing_error(self, keys: Sequence[str]) -> DataError:
        shown = "\n  ".join(keys[:5]) + (
            f"\n  ... and {len(keys) - 5} more" if len(keys) > 5 else ""
        )
        return DataError(
            f"latency table {self.source} has no entry for {len(keys)} block(s) of the "
            f"ProxylessNAS space at {self.resolution}px:\n  {shown}\nA missing entry is never "
            "counted as zero: measure a complete table with `nas-gym latency measure`."
        )

    def require(self, keys: Sequence[str]) -> None:
        """Raise DataError naming every key the table lacks."""
        missing = self.missing(keys)
        if missing:
            raise self._missing_error(missing)

    def latency(self, ops: Sequence[int]) -> float:
        """Latency (ms) of an architecture: the sum of its blocks' entries."""
        keys = space.arch_keys(ops, self.resolution)
        self.require(keys)
        return float(math.fsum(self.entries[k] for k in keys))

    def layer_matrix(self) -> tuple[float, list[list[float]]]:
        """(fixed ms, per-layer per-op ms as nested lists; ``zero`` = 0): a step is then 21 list reads.

        Raises DataError if the table does not cover the whole space.
        """
        if not self._arrays:
            self.require(space.all_block_keys(self.resolution))
            fixed = math.fsum(self.entries[k] for k in space.fixed_keys(self.resolution))
            rows = [
                [
                    self.entries[space.layer_key(layer, op)] if op != space.ZERO else 0.0
                    for op in range(space.N_OPS)
                ]
                for layer in space.layers(self.resolution)
            ]
            object.__setattr__(self, "_arrays", (fixed, rows))
        return self._arrays


def parse_lut(path: Path) -> tuple[dict[str, float], str]:
    """Read and validate one table file. Raises DataError naming the defect."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(f"cannot read latency table {path}: {err}") from err
    try:
        raw = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as err:
        raise DataError(f"latency table {path} is not valid YAML: {err}") from err
    if not isinstance(raw, dict) or not raw:
        raise DataError(
            f"latency table {path} must be a non-empty mapping of block key -> {{count, mean, var}}"
        )
    entries: dict[str, float] = {}
    for key, value in raw.items():
        if not isinstance(value, dict) or "mean" not in value:
            raise DataError(
                f"latency table {path}: entry {key!r} must be a mapping with a 'mean' (ms)"
            )
        try:
            ms = float(value["mean"])
        except (TypeError, ValueError) as err:
            raise DataError(
                f"latency table {path}: entry {key!r} has a non-numeric mean {value['mean']!r}"
            ) from err
        if not math.isfinite(ms) or ms < 0:
            raise DataError(
                f"latency table {path}: entry {key!r} has mean {ms}; must be finite and >= 0"
            )
        entries[str(key)] = ms
    header = "\n".join(line for line in text.splitlines()[:20] if line.startswith("#"))
    return entries, header


def _resolution_of(entries: dict[str, float], path: Path) -> int:
    for key in entries:
        match = _STEM_RE.match(key)
        if match:
            return int(match.group(1))
    raise DataError(f"latency table {path} has no stem entry 'Conv-input:RxRx3-output:...'")


_CACHE: dict[tuple[str, int], LatencyTable] = {}
_LOCK = threading.Lock()


def resolve_lut_path(
    lut: str | os.PathLike[str], data_dir: str | os.PathLike[str] | None = None
) -> Path:
    """Path of a named table (``pixel1``, ``cpu``, ``cuda``) or an explicit file."""
    if isinstance(lut, str) and lut == "pixel1":
        return find_table(PIXEL1_RELPATH, data_dir)
    if isinstance(lut, str) and lut in ("cpu", "cuda"):
        path = measured_path(lut)
        if not path.is_file():
            # tables measured with other settings (--resolution, --threads, --batch-size)
            # are not the default one: point at them by path instead of re-measuring
            others = ", ".join(sorted(str(p) for p in path.parent.glob(f"{lut}_*.yaml")))
            hint = f"; or pass a table measured with other settings by path: {others}"
            raise DataError(
                f"no measured {lut} latency table at {path} ({lut!r} is the "
                f"{space.RESOLUTION} px, 1-thread, batch-1 table): run `nas-gym latency "
                f"measure --device {lut}` first{hint if others else ''}"
            )
        return path
    path = Path(lut).expanduser()
    if not path.is_file():
        raise ValueError(
            f"latency table {str(lut)!r} not found; pass one of {', '.join(NAMED_TABLES)} or a path to a table file"
        )
    return path


def load_lut(
    lut: str | os.PathLike[str] | LatencyTable = "pixel1",
    data_dir: str | os.PathLike[str] | None = None,
) -> LatencyTable:
    """Load a latency table once per process (keyed by path and modification time)."""
    if isinstance(lut, LatencyTable):
        return lut
    if not isinstance(lut, (str, os.PathLike)):
        raise ValueError(
            f"lut must be one of {', '.join(map(repr, NAMED_TABLES))}, a table path or a "
            f"LatencyTable, got {lut!r}"
        )
    path = resolve_lut_path(lut, data_dir).resolve()
    key = (str(path), path.stat().st_mtime_ns)
    with _LOCK:
        if key not in _CACHE:
            entries, header = parse_lut(path)
            _CACHE[key] = LatencyTable(
                entries=entries,
                source=path,
                sha256=sha256_file(path),
                resolution=_resolution_of(entries, path),
                header=header,
            )
        return _CACHE[key]


def clear_cache() -> None:
    with _LOCK:
        _CACHE.clear()


def format_lut(entries: dict[str, tuple[int, float, float]], header: Sequence[str] = ()) -> str:
    """YAML text of ``{key: (count, mean_ms, var)}`` in the table format (keys in space order)."""
    lines = [f"# {h}" for h in header]
    for key, (count, mean, var) in entries.items():
        lines += [
            f"{key}:",
            f"  count: {int(count)}",
            f"  mean: {float(mean)!r}",
            f"  var: {float(var)!r}",
        ]
    return "\n".join(lines) + "\n"


# -- measuring on the user's device -------------------------------------------------------------


def device_name(device: str) -> str:
    """A human-readable name of the CPU or GPU (recorded in the table header)."""
    if device.startswith("cuda"):
        import torch

        return torch.cuda.get_device_name(torch.device(device))
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def measured_path(
    device: str, resolution: int = space.RESOLUTION, threads: int = 1, batch_size: int = 1
) -> Path:
    """Where :func:`measure` caches a table for these settings."""
    kind = "cuda" if str(device).startswith("cuda") else "cpu"
    return (
        cache_dir() / "latency" / f"{kind}_{resolution}px_{threads}threads_batch{batch_size}.yaml"
    )


def _blocks(resolution: int) -> list[tuple[str, Callable[[], object], tuple[int, ...]]]:
    """(key, module factory, input shape) for every entry of the space at ``resolution``."""
    from torch import nn

    from nas_gym.supernets.mobilenet import MBConv, conv_bn

    r1 = space.conv_out(resolution, space.STEM_STRIDE)
    last = space.layers(resolution)[-1]
    stem, first, conv1, logits = space.fixed_keys(resolution)
    out: list[tuple[str, Callable[[], object], tuple[int, ...]]] = [
        (
            stem,
            lambda: conv_bn(3, space.STEM_CHANNELS, 3, space.STEM_STRIDE),
            (3, resolution, resolution),
        ),
        (
            first,
            lambda: MBConv(space.STEM_CHANNELS, space.FIRST_BLOCK_CHANNELS, *space.FIRST_BLOCK, 1),
            (space.STEM_CHANNELS, r1, r1),
        ),
    ]
    seen = {stem, first}
    for layer in space.layers(resolution):
        for op, (e, k) in enumerate(space.MBCONV):
            key = space.layer_key(layer, op)
            if key in seen:
                continue
            seen.add(key)
            cin, cout, s = layer.in_channels, layer.out_channels, layer.stride
            out.append(
                (
                    key,
                    lambda cin=cin, cout=cout, e=e, k=k, s=s: MBConv(cin, cout, e, k, s),
                    (cin, layer.in_res, layer.in_res),
                )
            )
    r = last.out_res
    out.append(
        (
            conv1,
            lambda: conv_bn(last.out_channels, space.HEAD_CHANNELS, 1),
            (last.out_channels, r, r),
        )
    )
    out.append(
        (
            logits,
            lambda: nn.Sequential(
                nn.AdaptiveAvgPool2d(1),
                nn.Flatten(1),
                nn.Linear(space.HEAD_CHANNELS, space.N_CLASSES),
            ),
            (space.HEAD_CHANNELS, r, r),
        )
    )
    return out


def measure(
    device: str = "cpu",
    *,
    resolution: int = space.RESOLUTION,
    repeats: int = 20,
    warmup: int = 5,
    threads: int = 1,
    batch_size: int = 1,
    out: str | os.PathLike[str] | None = None,
    force: bool = False,
    progress: bool = True,
) -> Path:
    """Time every block of the space with torch on ``device`` and write a table.

    Each block runs ``warmup`` untimed forward passes, then ``repeats`` timed ones
    (``torch.inference_mode``, eval mode, CUDA synchronised around each run); the
    table's ``mean`` is their median. torch's intra-op thread count is fixed to
    ``threads`` for the measurement (and restored afterwards).

    Returns:
        The table path (``out``, else :func:`measured_path`); an existing file is reused
        unless ``force``.
    """
    for name, value in (
        ("resolution", resolution),
        ("repeats", repeats),
        ("threads", threads),
        ("batch_size", batch_size),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
        raise ValueError(f"warmup must be a non-negative integer, got {warmup!r}")
    if not (device == "cpu" or str(device).startswith("cuda")):
        raise ValueError(f"unknown device {device!r}; allowed: cpu, cuda, cuda:N")
    path = Path(out) if out is not None else measured_path(device, resolution, threads, batch_size)
    if path.is_file() and not force:
        return path

    import torch

    from nas_gym.progress import progress_bar

    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(
            f"device {device!r} requested but torch.cuda.is_available() is False; use --device cpu"
        )
    dev = torch.device(device)
    old_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    generator = torch.Generator().manual_seed(0)
    sync = (lambda: torch.cuda.synchronize(dev)) if dev.type == "cuda" else (lambda: None)
    results: dict[str, tuple[int, float, float]] = {}
    try:
        blocks = _blocks(resolution)
        for key, factory, shape in progress_bar(
            blocks, desc=f"latency {device}", disable=not progress
        ):
            module = factory().to(dev).eval()
            x = torch.randn((batch_size, *shape), generator=generator).to(dev)
            times: list[float] = []
            with torch.inference_mode():
                for i in range(warmup + repeats):
                    sync()
                    start = time.perf_counter()
                    module(x)
                    sync()
                    if i >= warmup:
                        times.append((time.perf_counter() - start) * 1e3)
            var = statistics.pvariance(times) if len(times) > 1 else 0.0
            results[key] = (repeats, statistics.median(times), var)
    finally:
        torch.set_num_threads(old_threads)
    header = [
        "nas_gym measured latency table (ProxylessNAS LUT format); mean = median of count runs, ms",
        f"device: {device} ({device_name(str(device))})",
        f"resolution: {resolution}  batch_size: {batch_size}  threads: {threads}  warmup: {warmup}",
        f"torch: {torch.__version__}  platform: {platform.platform()}",
    ]
    atomic_write_text(path, format_lut(results, header))
    return path


def latency_array(table: LatencyTable, ops_batch: np.ndarray) -> np.ndarray:
    """Latencies (ms) of many architectures (rows of op indices) at once."""
    fixed, rows = table.layer_matrix()
    mat = np.asarray(rows)
    ops_batch = np.asarray(ops_batch, dtype=np.int64)
    return fixed + mat[np.arange(space.N_LAYERS), ops_batch].sum(axis=1)
