"""The nas-gym command line: info, data check, bench-env."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from nas_gym.cli import main


def test_info_lists_envs_and_tables(data_dir, capsys):
    assert main(["info", "--data-dir", str(data_dir)]) == 0
    out = capsys.readouterr().out
    assert "NASBench201-v0" in out
    assert str(data_dir.resolve()) in out
    assert "nb201/nb201_metrics.csv" in out
    assert f"data_dir argument: {data_dir.resolve() / 'nb201' / 'nb201_metrics.csv'}" in out


def test_console_script_entry_point(data_dir):
    exe = shutil.which("nas-gym", path=os.path.dirname(sys.executable))
    assert exe, "the nas-gym console script is not installed"
    out = subprocess.run([exe, "info"], capture_output=True, text=True, check=True)
    assert "NASBench201-v0" in out.stdout


def test_data_check_passes_on_the_real_tables(data_dir, capsys):
    assert main(["data", "check", "--data-dir", str(data_dir)]) == 0
    out = capsys.readouterr().out
    assert "nb201/nb201_metrics.csv" in out and "FAIL" not in out
    assert "7 tables checked, 7 more bundled copies checked, 0 failed" in out


def test_data_check_reports_a_corrupt_table(data_dir, tmp_path, capsys):
    (tmp_path / "nb201").mkdir()
    src = (data_dir / "nb201" / "nb201_hwnasbench_cost.csv").read_text().splitlines(keepends=True)
    (tmp_path / "nb201" / "nb201_hwnasbench_cost.csv").write_text("".join(src[:1000]))
    assert main(["data", "check", "--data-dir", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "expected 15625 rows, found 999" in out
    assert "nb201/nb201_metrics.csv" in out and "MISSING" in out
    assert "6 missing" in out and "NAS_GYM_DATA_DIR" in out  # and what to do about it


def test_data_check_detects_a_wrong_optimum(data_dir, tmp_path, capsys):
    (tmp_path / "nb201").mkdir()
    lines = (data_dir / "nb201" / "nb201_metrics.csv").read_text().splitlines(keepends=True)
    fields = lines[1 + 42].split(",")
    fields[4] = "99.0"  # index 42 suddenly beats the CIFAR-10 validation optimum
    lines[1 + 42] = ",".join(fields)
    (tmp_path / "nb201" / "nb201_metrics.csv").write_text("".join(lines))
    assert main(["data", "check", "--data-dir", str(tmp_path)]) == 1
    assert "optimum of cifar10/valid is index 42" in capsys.readouterr().out


def test_missing_data_dir_is_one_line_error(tmp_path, capsys):
    assert main(["data", "check", "--data-dir", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert "does not exist" in err and "Traceback" not in err


def test_bench_env_prints_rates(data_dir, capsys):
    assert (
        main(["bench-env", "--steps", "2000", "--repeats", "1", "--data-dir", str(data_dir)]) == 0
    )
    out = capsys.readouterr().out
    for row in (
        "numpy baseline",
        "raw env",
        "gym.make",
        "table load, cold",
        "from binary cache",
        "numpy baseline, batched (N=1024)",
        "vector env (N=1024, make_vec)",
    ):
        assert row in out
    assert "st/s" in out and "vs baseline" in out


def test_bench_env_rejects_bad_steps(data_dir, capsys):
    assert main(["bench-env", "--steps", "0", "--data-dir", str(data_dir)]) == 2
    assert "--steps" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["nonsense"], []])
def test_unknown_command_exits_with_usage(argv):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
