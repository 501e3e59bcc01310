"""The NB201 benchmark table: values, optima, caching and clear errors on bad files."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest

from nas_gym.benchmarks import nb201
from nas_gym.data import DataError


def test_known_optima_reproduce(nb201_table):
    for (dataset, split), (index, acc) in nb201.KNOWN_OPTIMA.items():
        best, value = nb201_table.optimum(dataset, split)
        assert best == index
        assert value == pytest.approx(acc, abs=1e-4)


def test_index_6111_cifar10(nb201_table):
    rec = nb201_table.record(6111, "cifar10")
    assert rec["valid_acc"] == pytest.approx(91.606667, abs=1e-4)  # cifar10-valid, valid split
    assert rec["test_acc"] == pytest.approx(94.373333, abs=1e-4)  # cifar10, test split


def test_cifar10_valid_and_test_come_from_different_columns(nb201_table):
    valid = nb201_table.accuracy("cifar10", "valid")
    test = nb201_table.accuracy("cifar10", "test")
    np.testing.assert_array_equal(valid, nb201_table.column("c10valid_valid_acc_mean"))
    np.testing.assert_array_equal(test, nb201_table.column("c10_test_acc_mean"))
    assert not np.array_equal(test, nb201_table.column("c10valid_test_acc_mean"))


def test_low_fidelity_columns(nb201_table):
    acc12 = nb201_table.accuracy("cifar100", "valid", 12)
    acc200 = nb201_table.accuracy("cifar100", "valid", 200)
    assert acc12.mean() < acc200.mean()  # 12 epochs train less


def test_table_is_loaded_once_per_process(data_dir):
    assert nb201.load_nb201(data_dir) is nb201.load_nb201(data_dir)


def test_binary_cache_is_written_and_used(data_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("NAS_GYM_CACHE_DIR", str(tmp_path))
    nb201.clear_cache()
    cold = nb201.load_nb201(data_dir)
    files = list(tmp_path.glob("nb201_metrics_v1_*.npy"))
    assert len(files) == 1 and cold.sha256[:16] in files[0].name
    nb201.clear_cache()
    warm = nb201.load_nb201(data_dir)
    assert isinstance(warm.columns, np.memmap)
    for name in nb201.NUMERIC_COLUMNS:
        np.testing.assert_array_equal(cold.column(name), warm.column(name))
    nb201.clear_cache()


def test_corrupt_cache_is_rebuilt(data_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("NAS_GYM_CACHE_DIR", str(tmp_path))
    nb201.clear_cache()
    nb201.load_nb201(data_dir)
    (cache,) = tmp_path.glob("nb201_metrics_v1_*.npy")
    cache.write_bytes(b"garbage")
    nb201.clear_cache()
    table = nb201.load_nb201(data_dir)
    assert table.optimum("cifar10", "valid")[0] == 6111
    nb201.clear_cache()


def _copy_table(data_dir, tmp_path):
    target = tmp_path / "data" / "nb201"
    target.mkdir(parents=True)
    dst = target / "nb201_metrics.csv"
    shutil.copy(data_dir / "nb201" / "nb201_metrics.csv", dst)
    os.chmod(dst, 0o644)
    return tmp_path / "data", dst


def test_missing_table_names_the_path_and_the_fix(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="nb201_metrics.csv.*not found.*import-nats"):
        nb201.load_nb201(tmp_path / "empty")


def test_missing_data_dir_is_an_error(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        nb201.load_nb201(tmp_path / "nope")


def test_env_var_is_used(data_dir, monkeypatch):
    monkeypatch.setenv("NAS_GYM_DATA_DIR", str(data_dir))
    assert nb201.load_nb201().source == (data_dir / "nb201" / "nb201_metrics.csv").resolve()


@pytest.mark.parametrize(
    "corruption, match",
    [
        ("truncate", "expected 15625 data rows"),
        ("bad_number", "non-numeric"),
        ("swap_arch", "does not match official index"),
        ("drop_column", "missing columns"),
        ("nan", "NaN or inf"),
        ("empty", "empty"),
    ],
)
def test_corrupt_tables_give_clear_errors(data_dir, tmp_path, monkeypatch, corruption, match):
    monkeypatch.setenv("NAS_GYM_CACHE_DIR", str(tmp_path / "cache"))
    root, path = _copy_table(data_dir, tmp_path)
    lines = path.read_text().splitlines(keepends=True)
    if corruption == "truncate":
        lines = lines[: len(lines) // 2]
    elif corruption == "bad_number":
        fields = lines[10].split(",")
        fields[4] = "abc"
        lines[10] = ",".join(fields)
    elif corruption == "swap_arch":
        a, b = lines[5].split(","), lines[6].split(",")
        a[1], b[1] = b[1], a[1]
        lines[5], lines[6] = ",".join(a), ",".join(b)
    elif corruption == "drop_column":
        lines = [",".join(line.rstrip("\n").split(",")[:-1]) + "\n" for line in lines]
    elif corruption == "nan":
        fields = lines[3].split(",")
        fields[4] = "nan"
        lines[3] = ",".join(fields)
    else:
        lines = []
    path.write_text("".join(lines))
    nb201.clear_cache()
    with pytest.raises(DataError, match=match) as err:
        nb201.load_nb201(root)
    assert str(path) in str(err.value) and "import-nats" in str(err.value)
    nb201.clear_cache()


def test_bad_arguments(nb201_table):
    with pytest.raises(ValueError, match="unknown dataset 'imagenet'.*cifar10"):
        nb201_table.accuracy("imagenet", "valid")
    with pytest.raises(ValueError, match="unknown split"):
        nb201_table.accuracy("cifar10", "train")
    with pytest.raises(ValueError, match="fidelity"):
        nb201_table.accuracy("cifar10", "valid", 100)
