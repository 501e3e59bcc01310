"""The table cache is verified, and an unusable cache never stops the library (issue 9, sec. 4).

Real NB201 table, real cache files in the real on-disk format (``.npy`` + ``.sha256``).
"""

from __future__ import annotations

import errno
import warnings

import numpy as np
import pytest

from nas_gym import data
from nas_gym.benchmarks import nb201

OPTIMUM = 6111  # CIFAR-10 valid optimum of NB201


@pytest.fixture
def cache(tmp_path, monkeypatch, data_dir):
    """A fresh cache directory holding a freshly written NB201 cache."""
    monkeypatch.setenv("NAS_GYM_CACHE_DIR", str(tmp_path))
    nb201.clear_cache()
    nb201.load_nb201(data_dir)
    (path,) = tmp_path.glob("nb201_metrics_v1_*.npy")
    assert data._checksum_path(path).is_file()
    nb201.clear_cache()
    yield path
    nb201.clear_cache()


def _load_with_warning(data_dir, match: str):
    with pytest.warns(data.CacheWarning, match=match):
        table = nb201.load_nb201(data_dir)
    assert table.optimum("cifar10", "valid")[0] == OPTIMUM
    assert np.isfinite(table.column("c10valid_valid_acc_mean")).all()
    return table


def test_edited_cache_with_a_valid_header_is_refused(cache, data_dir):
    arr = np.load(cache)
    arr["c10valid_valid_acc_mean"][0] = 100.0  # a moved optimum
    arr["c10valid_valid_acc_mean"][1] = np.nan
    np.save(cache, arr)  # a valid .npy: only the checksum tells
    table = _load_with_warning(data_dir, "does not match its recorded SHA-256")
    assert table.column("c10valid_valid_acc_mean")[0] < 100.0
    nb201.clear_cache()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # rebuilt: the next load uses it silently
        assert isinstance(nb201.load_nb201(data_dir).columns, np.memmap)


def test_empty_cache_file(cache, data_dir):
    cache.write_bytes(b"")
    _load_with_warning(data_dir, "ignoring the cache file")


def test_cache_dir_is_a_file(tmp_path, monkeypatch, data_dir):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv("NAS_GYM_CACHE_DIR", str(blocker))
    nb201.clear_cache()
    _load_with_warning(data_dir, "cannot use the cache directory")
    nb201.clear_cache()


def test_full_cache_dir(tmp_path, monkeypatch, data_dir):
    """ENOSPC on every cache write (fault injected at the write) still loads the table."""
    monkeypatch.setenv("NAS_GYM_CACHE_DIR", str(tmp_path))

    def full(path, payload):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(data, "atomic_write_bytes", full)
    nb201.clear_cache()
    _load_with_warning(data_dir, "cannot write the cache")
    assert not list(tmp_path.glob("*.npy"))
    nb201.clear_cache()
