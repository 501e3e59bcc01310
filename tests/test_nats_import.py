"""``nas-gym data import-nats`` on a tiny NATS-Bench archive written in the real on-disk format.

The archive is built with the ``nats_bench`` classes themselves (``ResultsCount``,
``ArchResults``, ``pickle_save``), laid out as the official
``NATS-tss-v1_0-3ffb9-simple`` directory: ``meta.pickle.pbz2`` with all 15,625
official architecture strings, plus one ``NNNNNN.pickle.pbz2`` per architecture
holding ``{"12": ArchResults.state_dict(), "200": ...}``.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

nats_bench = pytest.importorskip("nats_bench", reason="the optional extra nas_gym[nats]")

from nas_gym.benchmarks import nats_import  # noqa: E402
from nas_gym.benchmarks.nb201 import TABLE_RELPATH, parse_csv  # noqa: E402
from nas_gym.cli import main  # noqa: E402
from nas_gym.commands import data_import  # noqa: E402
from nas_gym.data import DataError  # noqa: E402
from nas_gym.spaces import nb201 as space  # noqa: E402

#: Eval sets per NATS dataset, as in the official archive.
EVAL_SETS = {
    "cifar10-valid": ("x-valid", "ori-test"),
    "cifar10": ("ori-test",),
    "cifar100": ("ori-test", "x-valid", "x-test"),
    "ImageNet16-120": ("ori-test", "x-valid", "x-test"),
}
NUM_CLASSES = {"cifar10-valid": 10, "cifar10": 10, "cifar100": 100, "ImageNet16-120": 120}
INDICES = (0, 347, 6111, 15624)


def _results_count(rng, dataset, arch_str, seed, epochs, params, truth):
    """One trial in the real layout; ``truth`` records its last-epoch values."""
    train_acc = {e: float(rng.uniform(10, 100)) for e in range(epochs)}
    train_loss = {e: float(rng.uniform(0, 3)) for e in range(epochs)}
    train_times = {e: float(rng.uniform(1, 20)) for e in range(epochs)}
    arch_config = {
        "channel": 16,
        "num_cells": 5,
        "arch_str": arch_str,
        "class_num": NUM_CLASSES[dataset],
    }
    result = nats_bench.ResultsCount(
        dataset, None, train_acc, train_loss, params, 12.5, arch_config, seed, epochs, None
    )
    result.update_train_info(train_acc, dict(train_acc), train_loss, train_times)
    accs, losses, times = {}, {}, {}
    for name in EVAL_SETS[dataset]:
        for e in range(epochs):
            accs[f"{name}@{e}"] = float(rng.uniform(10, 100))
            losses[f"{name}@{e}"] = float(rng.uniform(0, 3))
            times[f"{name}@{e}"] = float(rng.uniform(0.1, 1))
        truth[(dataset, name, seed)] = accs[f"{name}@{epochs - 1}"]
    truth[(dataset, "train", seed)] = train_acc[epochs - 1]
    truth[(dataset, "time", seed)] = sum(train_times.values())
    result.update_eval(accs, losses, times)
    result.update_latency([0.01])
    return result


def _write_arch(archive: Path, index: int, rng, seeds200) -> dict:
    """Write ``NNNNNN.pickle.pbz2``; return the values the importer must reproduce."""
    arch_str = space.index_to_str(index)
    truth: dict = {"seeds": seeds200, "params": {}}
    hp_states = {}
    for hp, epochs, seeds in (("12", 12, [111]), ("200", 200, seeds200)):
        info = nats_bench.ArchResults(index, arch_str)
        sub = truth.setdefault(hp, {})
        for dataset in EVAL_SETS:
            params = float(rng.uniform(0.1, 1.5))  # one network: the same count for every seed
            if hp == "200":
                truth["params"][dataset] = params
            for seed in seeds:
                info.update(
                    dataset, seed, _results_count(rng, dataset, arch_str, seed, epochs, params, sub)
                )
        info.clear_params()
        hp_states[hp] = info.state_dict()
    nats_bench.pickle_save(
        {"12": hp_states["12"], "200": hp_states["200"]}, str(archive / f"{index:06d}.pickle")
    )
    return truth


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> tuple[Path, dict]:
    """A NATS-tss-v1_0-3ffb9-simple directory with 4 of the 15,625 architecture files."""
    root = tmp_path_factory.mktemp("nats") / nats_import.ARCHIVE_NAME
    root.mkdir()
    meta = {
        "meta_archs": list(space.all_strs()),
        "total_archs": space.N_ARCHS,
        "arch2infos": None,
        "evaluated_indexes": set(),
    }
    nats_bench.pickle_save(meta, str(root / "meta.pickle"))
    rng = np.random.default_rng(0)
    truths = {
        i: _write_arch(root, i, rng, [777, 888] if i == 347 else [777, 888, 999]) for i in INDICES
    }
    return root, truths


def _mean(values):
    return sum(values) / len(values)


def _read(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_partial_archive_is_refused_without_flag(archive, tmp_path, capsys):
    root, _ = archive
    out = tmp_path / "out"
    assert main(["data", "import-nats", str(root), "--out-dir", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "incomplete" in err and "15621 of 15625" in err and "000001.pickle.pbz2" in err
    assert not (out / TABLE_RELPATH).exists() and not (out / nats_import.PARTIAL_RELPATH).exists()


def test_an_output_directory_that_is_a_file_fails_before_reading(archive, tmp_path, capsys):
    root, _ = archive
    afile = tmp_path / "afile"
    afile.write_text("x")
    argv = ["data", "import-nats", str(root), "--out-dir", str(afile), "--allow-partial"]
    assert main([*argv, "--no-progress"]) == 2
    captured = capsys.readouterr()
    assert f"--out-dir '{afile / nats_import.PARTIAL_RELPATH}' is inside '{afile}'" in captured.err
    assert captured.out == "" and afile.read_text() == "x"


def test_import_values_splits_and_columns(archive, tmp_path, capsys, data_dir):
    root, truths = archive
    out = tmp_path / "out"
    assert main(["data", "import-nats", str(root), "--out-dir", str(out), "--allow-partial"]) == 0
    assert "PARTIAL" in capsys.readouterr().out
    assert not (out / TABLE_RELPATH).exists(), (
        "a partial table must never take the loader's file name"
    )
    path = out / nats_import.PARTIAL_RELPATH
    with open(path, newline="") as fh:
        header = next(csv.reader(fh))
    with open(data_dir / TABLE_RELPATH, newline="") as fh:
        shared_header = next(csv.reader(fh))
    assert header == list(nats_import.COLUMNS) == shared_header
    rows = _read(path)
    assert [int(r["index"]) for r in rows] == list(INDICES)
    nats_import.validate_rows(rows)
    for row in rows:
        index = int(row["index"])
        t = truths[index]
        seeds = t["seeds"]
        t200, t12 = t["200"], t["12"]
        assert row["arch_str"] == space.index_to_str(index)
        assert int(row["n_seeds_200ep"]) == len(seeds)

        def seed_values(dataset, name, t200=t200, seeds=seeds):
            """The 200-epoch last-epoch values the test wrote, in ascending seed order."""
            return [t200[(dataset, name, s)] for s in seeds]

        # CIFAR-10 validation = cifar10-valid on x-valid; test = cifar10 (train+valid) on ori-test.
        assert [float(v) for v in row["c10valid_valid_acc_seeds"].split(";")] == seed_values(
            "cifar10-valid", "x-valid"
        )
        assert float(row["c10valid_valid_acc_mean"]) == pytest.approx(
            _mean(seed_values("cifar10-valid", "x-valid")), rel=1e-12
        )
        assert float(row["c10valid_test_acc_mean"]) == pytest.approx(
            _mean(seed_values("cifar10-valid", "ori-test")), rel=1e-12
        )
        assert float(row["c10valid_train_acc_mean"]) == pytest.approx(
            _mean(seed_values("cifar10-valid", "train")), rel=1e-12
        )
        assert float(row["c10_test_acc_mean"]) == pytest.approx(
            _mean(seed_values("cifar10", "ori-test")), rel=1e-12
        )
        for prefix, dataset in (("c100", "cifar100"), ("in16", "ImageNet16-120")):
            assert [float(v) for v in row[f"{prefix}_valid_acc_seeds"].split(";")] == seed_values(
                dataset, "x-valid"
            )
            assert [
                float(v) for v in row[f"{prefix}_test_acc_seeds_derived"].split(";")
            ] == seed_values(dataset, "x-test")
            assert float(row[f"{prefix}_valid_acc_mean"]) == pytest.approx(
                _mean(seed_values(dataset, "x-valid")), rel=1e-12
            )
            assert float(row[f"{prefix}_test_acc_mean"]) == pytest.approx(
                _mean(seed_values(dataset, "x-test")), rel=1e-12
            )
        for col, dataset in nats_import.TRAIN_TIME_SOURCES.items():
            assert float(row[col]) == pytest.approx(_mean(seed_values(dataset, "time")), rel=1e-12)
        for col, dataset in nats_import.PARAMS_SOURCES.items():
            assert float(row[col]) == pytest.approx(
                t["params"][dataset], rel=1e-12
            )  # NATS: seed mean
        # 12-epoch budget: its own single seed (111), last of 12 epochs.
        assert float(row["hp12_c10valid_valid_acc"]) == t12[("cifar10-valid", "x-valid", 111)]
        assert float(row["hp12_c10_test_acc"]) == t12[("cifar10", "ori-test", 111)]
        assert float(row["hp12_c100_valid_acc"]) == t12[("cifar100", "x-valid", 111)]
        assert float(row["hp12_c100_test_acc"]) == t12[("cifar100", "x-test", 111)]
        assert float(row["hp12_in16_valid_acc"]) == t12[("ImageNet16-120", "x-valid", 111)]
        assert float(row["hp12_in16_test_acc"]) == t12[("ImageNet16-120", "x-test", 111)]

    # Refuses to overwrite without --force, overwrites with it.
    assert (
        main(
            [
                "data",
                "import-nats",
                str(root),
                "--out-dir",
                str(out),
                "--allow-partial",
                "--no-progress",
            ]
        )
        == 2
    )
    assert "--force" in capsys.readouterr().err
    assert (
        main(
            [
                "data",
                "import-nats",
                str(root),
                "--out-dir",
                str(out),
                "--allow-partial",
                "--force",
                "--no-progress",
            ]
        )
        == 0
    )
    assert _read(path) == rows


def test_default_output_is_the_user_data_directory(archive, tmp_path, monkeypatch):
    root, _ = archive
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert main(["data", "import-nats", str(root), "--allow-partial", "--no-progress"]) == 0
    assert len(_read(tmp_path / "xdg" / "nas_gym" / nats_import.PARTIAL_RELPATH)) == len(INDICES)


def test_naslib_op_indices_match_shared_table(data_dir):
    rows = _read(data_dir / TABLE_RELPATH)
    assert [nats_import.naslib_op_indices(r["arch_str"]) for r in rows] == [
        r["naslib_op_indices"] for r in rows
    ]


def test_full_table_writer_validates_with_loader_and_is_atomic(data_dir, tmp_path, capsys):
    rows = _read(data_dir / TABLE_RELPATH)
    rows = [{c: r[c] for c in nats_import.COLUMNS} for r in rows]
    out = tmp_path / "nb201" / "nb201_metrics.csv"
    nats_import.write_table(rows, out)
    assert parse_csv(out)["c10valid_valid_acc_mean"][6111] == pytest.approx(91.606667)
    data_import._print_optima(out)
    printed = capsys.readouterr().out
    assert "cifar10         valid         6111   91.6067" in printed
    assert "ImageNet16-120  test           857   47.3111" in printed
    before = out.read_bytes()
    broken = [dict(r) for r in rows]
    broken[5]["arch_str"] = rows[6]["arch_str"]
    with pytest.raises(DataError, match="line 7"):
        nats_import.write_table(broken, out)
    assert out.read_bytes() == before, "a failed import must leave the old table untouched"
    assert sorted(p.name for p in out.parent.iterdir()) == ["nb201_metrics.csv"]


def test_missing_and_corrupt_archives_give_clear_errors(archive, tmp_path, capsys):
    root, _ = archive
    out = tmp_path / "out"
    nowhere = tmp_path / "nowhere"
    assert main(["data", "import-nats", str(nowhere), "--out-dir", str(out)]) == 2
    err = capsys.readouterr().err
    assert str(nowhere) in err and "does not exist" in err and nats_import.ARCHIVE_NAME in err

    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["data", "import-nats", str(empty), "--out-dir", str(out)]) == 2
    assert "meta.pickle.pbz2" in capsys.readouterr().err

    tar = tmp_path / f"{nats_import.ARCHIVE_NAME}.tar"
    tar.write_bytes(b"not really a tar")
    assert main(["data", "import-nats", str(tar), "--out-dir", str(out)]) == 2
    assert "extract" in capsys.readouterr().err

    bad_meta = tmp_path / "bad_meta"
    bad_meta.mkdir()
    (bad_meta / "meta.pickle.pbz2").write_bytes(b"garbage")
    assert main(["data", "import-nats", str(bad_meta), "--out-dir", str(out)]) == 2
    err = capsys.readouterr().err
    assert str(bad_meta / "meta.pickle.pbz2") in err and "not a valid NATS-Bench meta file" in err

    sss = tmp_path / "sss"
    sss.mkdir()
    nats_bench.pickle_save(
        {
            "meta_archs": ["8:16:24:32:40"],
            "total_archs": 1,
            "arch2infos": None,
            "evaluated_indexes": set(),
        },
        str(sss / "meta.pickle"),
    )
    assert main(["data", "import-nats", str(sss), "--out-dir", str(out)]) == 2
    assert "lists 1 architectures" in capsys.readouterr().err

    # One truncated and one mislabelled architecture file: the error names the file.
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "meta.pickle.pbz2").write_bytes((root / "meta.pickle.pbz2").read_bytes())
    good = (root / "000000.pickle.pbz2").read_bytes()
    (corrupt / "000000.pickle.pbz2").write_bytes(good[: len(good) // 2])
    assert (
        main(["data", "import-nats", str(corrupt), "--out-dir", str(out), "--allow-partial"]) == 2
    )
    err = capsys.readouterr().err
    assert (
        str(corrupt / "000000.pickle.pbz2") in err
        and "not a valid NATS-Bench architecture file" in err
    )
    (corrupt / "000000.pickle.pbz2").unlink()
    (corrupt / "000347.pickle.pbz2").write_bytes((root / "006111.pickle.pbz2").read_bytes())
    assert (
        main(["data", "import-nats", str(corrupt), "--out-dir", str(out), "--allow-partial"]) == 2
    )
    err = capsys.readouterr().err
    assert "000347.pickle.pbz2 holds architecture 6111" in err
    assert not list(out.rglob("*.csv"))


def _one_epoch_state(hp_epochs: int) -> dict:
    """ArchResults state of architecture 0 with one seed and fixed values (a template)."""
    info = nats_bench.ArchResults(0, space.index_to_str(0))
    for dataset, names in EVAL_SETS.items():
        train = {e: 50.0 for e in range(hp_epochs)}
        result = nats_bench.ResultsCount(
            dataset, None, train, train, 0.5, 10.0, {}, 777, hp_epochs, None
        )
        result.update_train_info(train, None, train, {e: 3.0 for e in range(hp_epochs)})
        accs = {f"{n}@{e}": 40.0 + e for n in names for e in range(hp_epochs)}
        result.update_eval(accs, dict(accs), dict.fromkeys(accs, 0.1))
        info.update(dataset, 777, result)
    return info.state_dict()


@pytest.mark.slow
def test_full_archive_through_cli_gives_a_table_the_env_loader_accepts(tmp_path, capsys):
    """All 15,625 architecture files (2 epochs, one seed each) -> the table load_nb201 reads."""
    from nas_gym.benchmarks.nb201 import load_nb201

    root = tmp_path / nats_import.ARCHIVE_NAME
    root.mkdir()
    meta = {
        "meta_archs": list(space.all_strs()),
        "total_archs": space.N_ARCHS,
        "arch2infos": None,
        "evaluated_indexes": set(),
    }
    nats_bench.pickle_save(meta, str(root / "meta.pickle"))
    templates = {"12": _one_epoch_state(2), "200": _one_epoch_state(2)}
    key = ("cifar10-valid", 777)
    c10_valid = np.arange(space.N_ARCHS) / 200.0  # distinct per index: catches any row mix-up
    for index, arch_str in enumerate(space.all_strs()):
        data = {}
        for hp, tpl in templates.items():
            state = dict(
                tpl, arch_index=index, arch_str=arch_str, all_results=dict(tpl["all_results"])
            )
            trial = dict(state["all_results"][key])
            trial["eval_acc1es"] = dict(
                trial["eval_acc1es"], **{"x-valid@1": float(c10_valid[index])}
            )
            state["all_results"][key] = trial
            data[hp] = state
        nats_bench.pickle_save(data, str(root / f"{index:06d}.pickle"))

    out = tmp_path / "data"
    assert main(["data", "import-nats", str(root), "--out-dir", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "wrote 15625 rows" in printed and "15624   78.1200" in printed
    table = load_nb201(out, use_cache=False)
    assert table.source == (out / TABLE_RELPATH).resolve()
    np.testing.assert_array_equal(table.accuracy("cifar10", "valid", 200), c10_valid)
    np.testing.assert_array_equal(table.accuracy("cifar10", "valid", 12), c10_valid)
    np.testing.assert_array_equal(
        table.accuracy("cifar100", "test", 200), np.full(space.N_ARCHS, 41.0)
    )
    np.testing.assert_array_equal(
        table.column("c10valid_train_time_200ep_s"), np.full(space.N_ARCHS, 6.0)
    )
