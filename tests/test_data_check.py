"""``nas-gym data check`` catches edited, out-of-range and missing tables (issue 9, sec. 6).

Each case edits one real table in a copy of the data directory and checks that
table the way ``data check`` does; one run of the whole command checks the exit code
when the NB201 table itself is missing.
"""

from __future__ import annotations

import csv
import io
import json
import shutil

import pytest

from nas_gym import checks

NB201 = "nb201/nb201_metrics.csv"


@pytest.fixture
def copy(data_dir, tmp_path):
    def make(rel: str):
        dst = tmp_path / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(data_dir / rel, dst)
        dst.chmod(0o644)
        return dst

    return make


def _edit_csv(path, edit) -> None:
    rows = list(csv.reader(io.StringIO(path.read_text())))
    edit(rows[0], rows[1:])
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    path.write_text(buf.getvalue())


def _row(rel, path) -> tuple[bool, str]:
    return checks._check_row(rel, path, "test copy")


def test_unedited_copy_passes(copy):
    ok, line = _row(NB201, copy(NB201))
    assert ok and " ok " in line and "known" in line


def _set(col: str, row: int, value: str):
    def edit(header, rows):
        rows[row][header.index(col)] = value

    return edit


@pytest.mark.parametrize(
    ("edit", "messages"),
    [
        (
            _set("params_M_c10", 3, "-0.5"),
            ["params_M_c10 must be >= 0", "line 5, column params_M_c10"],
        ),
        (_set("c100_train_time_200ep_s", 0, "-1.0"), ["c100_train_time_200ep_s must be >= 0"]),
        (_set("n_seeds_200ep", 7, "2.5"), ["n_seeds_200ep must be a whole number"]),
        (_set("c10valid_valid_acc_mean", 0, "99.9"), ["optimum of cifar10/valid is index 0"]),
    ],
)
def test_out_of_range_and_edited_values(copy, edit, messages):
    path = copy(NB201)
    _edit_csv(path, edit)
    ok, line = _row(NB201, path)
    assert not ok and "modified: line" in line
    for message in messages:
        assert message in line, line


def test_two_rows_swapped_is_modified(copy):
    path = copy(NB201)

    def swap(header, rows):
        c = header.index("c100_test_acc_mean")
        rows[10][c], rows[11][c] = rows[11][c], rows[10][c]

    _edit_csv(path, swap)
    ok, line = _row(NB201, path)
    assert not ok and "modified: line 12, column c100_test_acc_mean" in line


def test_nul_byte(copy):
    rel = "nb201/nb201_help_latency.csv"
    path = copy(rel)
    data = bytearray(path.read_bytes())
    data[5000] = 0
    path.write_bytes(bytes(data))
    ok, line = _row(rel, path)
    assert not ok and "modified" in line


def test_nan_latency_and_duplicate_keys_in_luts(copy):
    rel = "proxylessnas/pixel1_mobile_lut.yaml"
    path = copy(rel)
    text = path.read_text()
    path.write_text(text.replace("mean: 4.083755600814664", "mean: .nan", 1))
    ok, line = _row(rel, path)
    assert not ok and "finite mean" in line
    first = text.split("\n", 4)
    path.write_text(text + "\n".join(first[:4]) + "\n")  # repeat the first block
    assert checks.check_yaml_lut(path)[0].startswith("duplicate key 'Conv-input")
    rel = "proxylessnas/tfnas_cpu_lut.json"
    path = copy(rel)
    path.write_text('{"base": 1.0, "base": 2.0}')
    assert checks.check_json(path) == ["duplicate key 'base'"]
    path.write_text(json.dumps({"base": float("nan")}))
    assert "NaN or infinite" in checks.check_json(path)[0]


def test_missing_tables_are_reported_with_how_to_get_them(data_dir, tmp_path, capsys):
    for rel in checks.CHECKS:
        if rel not in (NB201, "nb201/nb201_help_latency.csv"):
            (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(data_dir / rel, tmp_path / rel)
    assert checks.run_data_checks(tmp_path) == 1
    out = capsys.readouterr().out
    missing = [line for line in out.splitlines() if "MISSING" in line]
    assert len(missing) == 2 and "nas-gym data import-nats" in missing[0]
    assert "2 missing" in out
