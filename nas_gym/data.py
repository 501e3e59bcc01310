"""Where benchmark tables live and where derived caches go.

Every benchmark table (NAS-Bench-201 metrics, HW-NAS-Bench and HELP costs, latency
lookup tables) is looked up by its relative path, e.g. ``nb201/nb201_metrics.csv``:

1. an explicit ``data_dir=`` argument: the table must be there (an explicit request
   is never silently replaced by another copy), unless that directory is one the
   default lookup searches anyway (environments pass along the directory their
   table came from);
2. otherwise the first of: the ``NAS_GYM_DATA_DIR`` environment variable, the user
   data directory (``platformdirs.user_data_dir("nas_gym")``, where ``nas-gym data
   import-nats`` writes), and the **bundled copy**: xz-compressed tables shipped
   inside the package (``nas_gym/resources/tables``, built by
   ``scripts/build_package_data.py``, checksums in its ``MANIFEST.json``).

A bundled table is decompressed once into the cache directory, checked against its
SHA-256, and then read like any other file (so the binary ``.npy`` caches keyed by
that checksum serve it too). Derived files go to the cache directory:
``NAS_GYM_CACHE_DIR``, else ``platformdirs.user_cache_dir("nas_gym")``. The data
directory may be read-only.

The cache is never trusted blindly: each binary array cache has a ``.sha256`` file
beside it and is used only when the checksums agree. An edited, empty or unreadable
cache, a cache directory that cannot be created or written (read-only, full, or
``NAS_GYM_CACHE_DIR`` naming a file) gives one :class:`CacheWarning` and the table is
parsed from its CSV (or bundled copy) instead; the library goes on.
"""

from __future__ import annotations

import atexit
import hashlib
import io
import json
import lzma
import os
import secrets
import shutil
import tempfile
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs

DATA_ENV_VAR = "NAS_GYM_DATA_DIR"
CACHE_ENV_VAR = "NAS_GYM_CACHE_DIR"
APP_NAME = "nas_gym"

#: Package-internal resources (small, ours; documented in envs_data/README.md).
RESOURCES_DIR = Path(__file__).resolve().parent / "resources"
#: The bundled, xz-compressed benchmark tables and their manifest.
BUNDLED_DIR = RESOURCES_DIR / "tables"
MANIFEST_NAME = "MANIFEST.json"

SOURCE_ARGUMENT = "data_dir= / --data-dir"
SOURCE_ENV = f"${DATA_ENV_VAR}"
SOURCE_USER = "user data directory"
SOURCE_BUNDLED = "bundled copy"

HOW_TO_GET_DATA = (
    "Point nas_gym at a directory holding the tables with data_dir=... (--data-dir on "
    "the command line) or "
    f"{DATA_ENV_VAR}=/path/to/envs_data, build the NAS-Bench-201 table from the "
    "official NATS-Bench archive with `nas-gym data import-nats PATH`, or reinstall "
    "the package from a wheel or a full clone so that its bundled tables are present "
    "(in a clone, `python scripts/build_package_data.py` rebuilds them; see "
    "envs_data/README.md in the nas_gym repository)."
)


class DataError(RuntimeError):
    """A benchmark file is missing, truncated or corrupt."""


def user_data_dir() -> Path:
    """The per-user data directory (platform convention; ``$XDG_DATA_HOME`` on Linux)."""
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


class CacheWarning(UserWarning):
    """The cache could not be used; nas_gym went on without it (slower start, same data)."""


_WARNED: set[str] = set()
_WARN_LOCK = threading.Lock()
_FALLBACK: list[Path] = []


def warn_once(key: str, message: str) -> None:
    """One :class:`CacheWarning` per ``key`` and process."""
    with _WARN_LOCK:
        if key in _WARNED:
            return
        _WARNED.add(key)
    warnings.warn(message, CacheWarning, stacklevel=3)


def _fallback_cache_dir() -> Path:
    """A private temporary cache for this process (removed at exit)."""
    with _WARN_LOCK:
        if not _FALLBACK:
            path = Path(tempfile.mkdtemp(prefix="nas_gym_cache_"))
            atexit.register(shutil.rmtree, path, ignore_errors=True)
            _FALLBACK.append(path)
        return _FALLBACK[0]


def cache_dir() -> Path:
    """Directory for derived caches; created on demand.

    If it cannot be created (``NAS_GYM_CACHE_DIR`` names a file, no permission), warns
    once and returns a private temporary directory instead.
    """
    env = os.environ.get(CACHE_ENV_VAR)
    path = Path(env) if env else Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False))
    try:
        path.mkdir(parents=True, exist_ok=True)
        if not path.is_dir():
            raise NotADirectoryError(f"{path} is not a directory")
    except OSError as err:
        warn_once(
            f"cache-dir:{path}",
            f"cannot use the cache directory {str(path)!r} ({err.strerror or err}); caching in "
            f"a temporary directory for this process. Set {CACHE_ENV_VAR} to a writable directory.",
        )
        return _fallback_cache_dir()
    return path


def _checksum_path(cache: Path) -> Path:
    return cache.with_name(cache.name + ".sha256")


def load_cached_array(cache: Path) -> Any:
    """A memory-mapped ``.npy`` cache if its recorded SHA-256 matches, else None (rebuild it).

    A missing cache returns None silently; a cache that does not match its checksum,
    or cannot be read, warns once.
    """
    import numpy as np

    if not cache.is_file():
        return None
    try:
        expected = _checksum_path(cache).read_text().strip()
    except OSError:
        return None  # written by an older nas_gym, or half-written: rebuild silently
    try:
        if sha256_file(cache) != expected:
            raise ValueError("its content does not match its recorded SHA-256")
        return np.load(cache, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError, EOFError) as err:
        warn_once(
            f"cache-bad:{cache}",
            f"ignoring the cache file {str(cache)!r} ({err}); parsing the table instead",
        )
        return None


def save_cached_array(cache: Path, arr: Any) -> None:
    """Write ``arr`` and its SHA-256 beside it; on a write error (read-only, full) warn once."""
    import numpy as np

    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    data = buf.getvalue()
    try:
        atomic_write_bytes(cache, data)
        atomic_write_text(_checksum_path(cache), hashlib.sha256(data).hexdigest() + "\n")
    except OSError as err:
        warn_once(
            f"cache-write:{cache.parent}",
            f"cannot write the cache in {str(cache.parent)!r} ({err.strerror or err}); "
            "going on without it (the table is parsed again next time)",
        )


def resolve_data_dir(data_dir: str | os.PathLike[str] | None = None) -> tuple[Path, str]:
    """The first data directory to search and where it came from (argument, env var, user dir).

    Tables missing there may still come from later sources (see :func:`locate_table`).

    Raises:
        DataError: if an explicitly requested directory (argument or env var) does not exist.
    """
    if data_dir is not None:
        path, source = Path(data_dir).expanduser(), SOURCE_ARGUMENT
    elif os.environ.get(DATA_ENV_VAR):
        path, source = Path(os.environ[DATA_ENV_VAR]).expanduser(), SOURCE_ENV
    else:
        return user_data_dir(), SOURCE_USER
    if not path.is_dir() and not _is_default_dir(path):
        raise DataError(
            f"data directory {str(path)!r} (from {source}) does not exist. {HOW_TO_GET_DATA}"
        )
    return path.resolve(), source


# -- the bundled copy ------------------------------------------------------------------


def bundled_manifest() -> dict[str, dict[str, object]]:
    """``relpath -> {sha256, size, xz, xz_sha256, xz_size}`` of the bundled tables ({} if none)."""
    path = BUNDLED_DIR / MANIFEST_NAME
    if not path.is_file():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))["tables"]


def bundled_root() -> Path:
    """Where bundled tables are decompressed: one folder per manifest version."""
    manifest = BUNDLED_DIR / MANIFEST_NAME
    digest = (
        hashlib.sha256(manifest.read_bytes()).hexdigest()[:16] if manifest.is_file() else "none"
    )
    return cache_dir() / "bundled_tables" / digest


def _default_dirs() -> list[tuple[Path, str]]:
    """The data directories searched when no ``data_dir`` is given, in order."""
    dirs = []
    if os.environ.get(DATA_ENV_VAR):
        dirs.append((Path(os.environ[DATA_ENV_VAR]).expanduser(), SOURCE_ENV))
    dirs.append((user_data_dir(), SOURCE_USER))
    return dirs


def _is_default_dir(path: Path) -> bool:
    """True for a directory the default lookup searches anyway (``$NAS_GYM_DATA_DIR``, the user
    data directory) and for the bundled root: such a ``data_dir`` is a default passed along
    (an environment records where its table came from), not an explicit request."""
    try:
        resolved = path.expanduser().resolve()
        known = [d.resolve() for d, _ in _default_dirs()] + [bundled_root().resolve()]
        return resolved in known
    except OSError:
        return False


def extract_bundled(relpath: str) -> Path:
    """Decompress one bundled table into the cache (once) and return the plain file.

    Raises:
        DataError: if the table is not bundled or its content does not match the manifest.
    """
    entry = bundled_manifest().get(relpath)
    if entry is None:
        raise DataError(f"benchmark table {relpath!r} is not bundled with this install.")
    target = bundled_root() / relpath
    if target.is_file() and target.stat().st_size == entry["size"]:
        try:
            if sha256_file(target) == entry["sha256"]:
                return target
        except OSError:
            pass
        warn_once(
            f"bundled-bad:{target}",
            f"the decompressed table {str(target)!r} does not match the bundled copy; "
            "decompressing it again",
        )
    compressed = BUNDLED_DIR / str(entry["xz"])
    try:
        data = lzma.decompress(compressed.read_bytes())
    except (OSError, lzma.LZMAError) as err:
        raise DataError(f"bundled table {compressed} cannot be decompressed: {err}") from err
    if hashlib.sha256(data).hexdigest() != entry["sha256"]:
        raise DataError(
            f"bundled table {compressed} does not match the sha256 in {MANIFEST_NAME}; "
            "reinstall nas_gym or rebuild it with scripts/build_package_data.py"
        )
    try:
        atomic_write_bytes(target, data)
    except OSError as err:
        warn_once(
            f"cache-write:{target.parent}",
            f"cannot write the decompressed table to {str(target)!r} ({err.strerror or err}); "
            f"using a temporary directory for this process. Set {CACHE_ENV_VAR} to a writable "
            "directory.",
        )
        target = _fallback_cache_dir() / "bundled_tables" / relpath
        try:
            atomic_write_bytes(target, data)
        except OSError as err2:
            raise DataError(
                f"cannot write the decompressed table to {str(target)!r} either "
                f"({err2.strerror or err2}); set {CACHE_ENV_VAR} to a writable directory"
            ) from err2
    return target


# -- lookup ----------------------------------------------------------------------------


@dataclass(frozen=True)
class TableLocation:
    """Where one table was found: ``path`` is the file to read (for the bundled copy, the .xz)."""

    relpath: str
    path: Path
    source: str


def locate_table(
    relpath: str, data_dir: str | os.PathLike[str] | None = None
) -> TableLocation | None:
    """The copy of ``relpath`` that would be used, without extracting anything (None if none).

    Raises:
        DataError: if an explicitly requested directory (argument or env var) does not exist.
    """
    root, source = resolve_data_dir(data_dir)
    if data_dir is not None and not _is_default_dir(root):
        path = root / relpath
        return TableLocation(relpath, path, source) if path.is_file() else None
    candidates = _default_dirs()
    if data_dir is not None:  # a default directory passed along: searched first, as given
        candidates = [(root, source)] + [(d, w) for d, w in candidates if d.resolve() != root]
    for directory, where in candidates:
        if (directory / relpath).is_file():
            return TableLocation(relpath, (directory / relpath).resolve(), where)
    entry = bundled_manifest().get(relpath)
    if entry is not None and (BUNDLED_DIR / str(entry["xz"])).is_file():
        return TableLocation(relpath, BUNDLED_DIR / str(entry["xz"]), SOURCE_BUNDLED)
    return None


def find_table(relpath: str, data_dir: str | os.PathLike[str] | None = None) -> Path:
    """A readable plain file holding ``relpath``, or a DataError saying what to do."""
    location = locate_table(relpath, data_dir)
    if location is None:
        root, source = resolve_data_dir(data_dir)
        looked = (
            f"looked for {str(root / relpath)!r} (data directory from {source})"
            if data_dir is not None and not _is_default_dir(root)
            else f"looked in {_searched(relpath)} and the bundled copy"
        )
        raise DataError(f"benchmark table {relpath!r} not found: {looked}. {HOW_TO_GET_DATA}")
    if location.source == SOURCE_BUNDLED:
        return extract_bundled(relpath)
    return location.path


def _searched(relpath: str) -> str:
    return ", ".join(repr(str(d / relpath)) for d, _ in _default_dirs())


# -- files -----------------------------------------------------------------------------


def sha256_file(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, streamed."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _check_writable(path: Path, start: Path, flag: str) -> None:
    """``start``, or else its nearest existing ancestor, must be a writable directory."""
    parent = start.absolute()
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise ValueError(f"{flag} {str(path)!r} is inside {str(parent)!r}, which is a file")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ValueError(f"{flag} {str(path)!r} cannot be written ({str(parent)!r} is read-only)")


def check_out_dir(out_dir: str | os.PathLike[str], flag: str = "--out") -> Path:
    """Say in one line why ``out_dir`` cannot take a command's output, creating nothing.

    Long commands call it before their first expensive step, so a path that is a file
    or read-only fails at once, not when the first result is written.
    """
    if not str(out_dir).strip():
        raise ValueError(f"{flag} is empty; give a directory")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"{flag} {str(out)!r} is a file; give a directory (new or existing)")
    _check_writable(out, out, flag)
    return out


def check_out_file(path: str | os.PathLike[str], flag: str = "--out") -> Path:
    """:func:`check_out_dir` for an output file: not a directory, in a writable one."""
    if not str(path).strip():
        raise ValueError(f"{flag} is empty; give a file path")
    out = Path(path)
    if out.is_dir():
        raise ValueError(f"{flag} {str(out)!r} is a directory; give a file path")
    _check_writable(out, out.absolute().parent, flag)
    return out


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers never see a partial file.

    The temporary file is created with ``os.open(..., 0o666)``, so the kernel applies
    the process umask itself and the result has the usual permissions of a new file;
    the umask is never read or changed (changing it races with other threads).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(6)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Text version of :func:`atomic_write_bytes` (UTF-8)."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_png(path: str | os.PathLike[str], fig: Any, **savefig_kwargs: Any) -> None:
    """Render a matplotlib figure to PNG in memory, then :func:`atomic_write_bytes` it.

    ``fig.savefig(path)`` truncates the old file and writes the new one in place, so a
    run killed mid-write, or a reader at the wrong moment, finds a partial PNG.
    """
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", **savefig_kwargs)
    atomic_write_bytes(path, buffer.getvalue())


def default_data_root() -> Path:
    """Where image datasets are looked for when ``root`` is not given:
    ``$NAS_GYM_DATASETS_DIR``, else ``<user data dir>/datasets``."""
    env = os.environ.get("NAS_GYM_DATASETS_DIR")
    return Path(env) if env else user_data_dir() / "datasets"
