"""Loading files that are pickles or torch checkpoints without running code from them.

A Python pickle can name any importable callable and call it while loading, so
``pickle.load`` on a file the user only pointed us at (a downloaded NATS-Bench
archive, a CIFAR folder, a checkpoint from elsewhere) can run an attacker's code.
Every file of that kind in nas_gym goes through this module:

* :func:`restricted_loads` / :func:`load_bz2_pickle`: an unpickler that admits only
  the builtin containers, numbers and strings (plus ``set``/``frozenset``/
  ``OrderedDict``, which the NATS-Bench archive and CIFAR batches use) and refuses
  every other global with :class:`UnsafePickleError`. ``load_bz2_pickle`` also caps
  how many bytes one file may decompress to (a bz2 "bomb" of a few KB can expand to
  many GB).
* :func:`load_checkpoint`: ``torch.load(..., weights_only=True)`` for every
  checkpoint we write (tensors, numbers, strings, containers), with one clear error
  ("corrupt or not a nas_gym checkpoint") instead of torch's advice to retry with
  ``weights_only=False``, which would run the file's code.
"""

from __future__ import annotations

import bz2
import io
import os
import pickle
from pathlib import Path
from typing import Any

from nas_gym.data import DataError

#: ``(module, name)`` pairs a restricted pickle may reference: data types only, no callables
#: with side effects. Protocol 0-1 pickles name ``builtins`` as ``__builtin__``.
SAFE_GLOBALS: frozenset[tuple[str, str]] = frozenset(
    (module, name)
    for module in ("builtins", "__builtin__")
    for name in (
        "set",
        "frozenset",
        "list",
        "dict",
        "tuple",
        "int",
        "float",
        "complex",
        "bool",
        "str",
        "bytes",
        "bytearray",
    )
) | {("collections", "OrderedDict"), ("_codecs", "encode")}
# ``_codecs.encode`` is how protocol-2 pickles rebuild ``bytes`` (encode(str, 'latin1')): pure.

#: What a pickled numpy array needs besides plain data (CIFAR batches hold one): the
#: array and dtype types and numpy's array rebuilder, which only allocates and fills.
NUMPY_ARRAY_GLOBALS: frozenset[tuple[str, str]] = frozenset(
    {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
    }
)

#: Default per-file cap on decompressed size; the largest NATS-Bench TSS file is ~1 MB.
MAX_DECOMPRESSED_BYTES = 256 * 2**20


class UnsafePickleError(DataError):
    """A pickle referenced something other than plain data; it was not loaded."""


class _RestrictedUnpickler(pickle.Unpickler):
    allowed: frozenset[tuple[str, str]] = SAFE_GLOBALS

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in self.allowed:
            return super().find_class(module, name)
        raise UnsafePickleError(
            f"refused to load {module}.{name}: the file may only hold plain data "
            "(dict, list, tuple, set, str, bytes, int, float, bool, None), and loading "
            "anything else could run code from it"
        )

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickleError("refused a persistent id: the file may only hold plain data")


def restricted_loads(
    data: bytes,
    *,
    encoding: str = "ASCII",
    extra_globals: frozenset[tuple[str, str]] = frozenset(),
) -> Any:
    """Unpickle ``data`` admitting only :data:`SAFE_GLOBALS` (and ``extra_globals``).

    Args:
        data: the pickle bytes.
        encoding: how to decode Python 2 ``str`` objects (CIFAR batches need ``latin1``).
        extra_globals: more ``(module, name)`` pairs, e.g. :data:`NUMPY_ARRAY_GLOBALS`.

    Raises:
        UnsafePickleError: the pickle names any other global.
        pickle.UnpicklingError, EOFError, ...: a malformed pickle (callers wrap these).
    """
    unpickler = _RestrictedUnpickler(io.BytesIO(data), encoding=encoding)
    unpickler.allowed = SAFE_GLOBALS | extra_globals
    return unpickler.load()


def read_capped(stream: io.BufferedIOBase | Any, limit: int, what: str) -> bytes:
    """All of ``stream`` if it is at most ``limit`` bytes, else a DataError naming ``what``."""
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise DataError(
            f"{what} expands to more than {limit} bytes (the cap for one file); "
            "it is not a file of the expected format"
        )
    return data


def load_bz2_pickle(
    path: str | os.PathLike[str], *, max_bytes: int = MAX_DECOMPRESSED_BYTES
) -> Any:
    """A bz2-compressed pickle (NATS-Bench ``*.pickle.pbz2``) read through the restricted unpickler.

    Decompresses at most ``max_bytes`` (a DataError past that), so a tiny bz2 bomb
    cannot fill memory.
    """
    with bz2.open(path, "rb") as fh:
        data = read_capped(fh, max_bytes, f"{path} (bz2)")
    return restricted_loads(data)


def load_pickle_file(
    path: str | os.PathLike[str],
    *,
    encoding: str = "ASCII",
    extra_globals: frozenset[tuple[str, str]] = frozenset(),
    max_bytes: int = MAX_DECOMPRESSED_BYTES,
) -> Any:
    """An uncompressed pickle file (a CIFAR batch) read through the restricted unpickler."""
    with open(path, "rb") as fh:
        data = read_capped(fh, max_bytes, str(path))
    try:
        return restricted_loads(data, encoding=encoding, extra_globals=extra_globals)
    except UnsafePickleError as err:
        raise UnsafePickleError(f"{path}: {err}") from None


def load_checkpoint(path: str | os.PathLike[str], map_location: Any = "cpu") -> Any:
    """A nas_gym checkpoint loaded with ``torch.load(weights_only=True)``: never runs code.

    Every checkpoint nas_gym writes (supernet pre-training, ``train-genotype``,
    environment checkpoints) holds only tensors, numbers, strings and containers,
    which torch's weights-only unpickler admits.

    Raises:
        DataError: the file is missing, or is corrupt or not a nas_gym checkpoint
            (including a file that needs arbitrary code to load).
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise DataError(f"checkpoint {str(path)!r} not found")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # noqa: BLE001  any failure to read a file we did not write
        # torch's own message suggests weights_only=False, i.e. running the file's code: never.
        # Junk bytes fail anywhere in torch's readers (``struct.error`` from a few bytes,
        # ``RuntimeError`` from a broken zip, ``UnpicklingError``, ...): one message for all.
        raise DataError(
            f"{str(path)!r} is corrupt or not a nas_gym checkpoint (it could not be loaded "
            f"as tensors and plain data: {type(err).__name__}); nas_gym never loads "
            "checkpoints in a way that could run code from them"
        ) from None
