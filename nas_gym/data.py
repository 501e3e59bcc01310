"""Where benchmark tables live and where derived caches go.

The benchmark tables (NAS-Bench-201 metrics, hardware costs, latency tables) are
never shipped inside the package. They are found, in order, from:

1. an explicit ``data_dir=`` argument;
2. the ``NAS_GYM_DATA_DIR`` environment variable;
3. the user data directory ``$XDG_DATA_HOME/nas_gym`` (``~/.local/share/nas_gym``),
   where ``nas-gym data import-nats`` writes its output.

Derived files (binary caches of parsed tables, measured latency tables) go to the
cache directory: ``NAS_GYM_CACHE_DIR``, else ``$XDG_CACHE_HOME/nas_gym``
(``~/.cache/nas_gym``). The data directory may be read-only.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

DATA_ENV_VAR = "NAS_GYM_DATA_DIR"
CACHE_ENV_VAR = "NAS_GYM_CACHE_DIR"

#: Package-internal resources (small, ours; documented in envs_data/README.md).
RESOURCES_DIR = Path(__file__).resolve().parent / "resources"

HOW_TO_GET_DATA = (
    "Point nas_gym at a directory holding the tables with data_dir=... or "
    f"{DATA_ENV_VAR}=/path/to/envs_data, or build the NAS-Bench-201 table from the "
    "official NATS-Bench archive with `nas-gym data import-nats PATH` "
    "(see envs_data/README.md in the nas_gym repository)."
)


class DataError(RuntimeError):
    """A benchmark file is missing, truncated or corrupt."""


def user_data_dir() -> Path:
    """The default data directory, used when neither ``data_dir`` nor the env var is set."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "nas_gym"


def cache_dir() -> Path:
    """Directory for derived caches; created on demand."""
    env = os.environ.get(CACHE_ENV_VAR)
    if env:
        path = Path(env)
    else:
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        path = Path(base) / "nas_gym"
    path.mkdir(parents=True, exist_ok=True)
    return path


def resolve_data_dir(data_dir: str | os.PathLike[str] | None = None) -> tuple[Path, str]:
    """Return the data directory in use and where it came from.

    Raises:
        DataError: if an explicitly requested directory (argument or env var) does not exist.
    """
    if data_dir is not None:
        path, source = Path(data_dir).expanduser(), "data_dir argument"
    elif os.environ.get(DATA_ENV_VAR):
        path, source = Path(os.environ[DATA_ENV_VAR]).expanduser(), f"${DATA_ENV_VAR}"
    else:
        return user_data_dir(), "user data directory"
    if not path.is_dir():
        raise DataError(
            f"data directory {str(path)!r} (from {source}) does not exist. {HOW_TO_GET_DATA}"
        )
    return path.resolve(), source


def find_table(relpath: str, data_dir: str | os.PathLike[str] | None = None) -> Path:
    """Path of a benchmark table inside the data directory, or a clear error if it is missing."""
    root, source = resolve_data_dir(data_dir)
    path = root / relpath
    if not path.is_file():
        raise DataError(
            f"benchmark table {relpath!r} not found: looked for {str(path)!r} "
            f"(data directory from {source}). {HOW_TO_GET_DATA}"
        )
    return path


def sha256_file(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, streamed."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers never see a partial file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Text version of :func:`atomic_write_bytes` (UTF-8)."""
    atomic_write_bytes(path, text.encode("utf-8"))


def default_data_root() -> Path:
    """Where image datasets are looked for when ``root`` is not given:
    ``$NAS_GYM_DATASETS_DIR``, else ``<user data dir>/datasets``."""
    env = os.environ.get("NAS_GYM_DATASETS_DIR")
    return Path(env) if env else user_data_dir() / "datasets"
