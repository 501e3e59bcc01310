"""The nas-gym command line: info, data check, bench-env."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import gymnasium as gym
import pytest

import nas_gym
from nas_gym.cli import main


def test_info_lists_envs_and_tables(data_dir, capsys):
    assert main(["info", "--data-dir", str(data_dir)]) == 0
    out = capsys.readouterr().out
    assert "-v1 (flat=True), -v0; -v1 recommended; also as nas_gym/<id>" in out
    registered = [
        env_id
        for env_id, spec in gym.registry.items()
        if str(spec.entry_point).startswith("nas_gym.") and spec.namespace is None
    ]
    assert len(registered) == 10  # 5 environments x 2 versions
    for env_id in registered:  # every id is listed, as its -v1 twin
        assert f"  {nas_gym.versioned(env_id, 'v1')} " in out, env_id
    assert str(data_dir.resolve()) in out
    assert "nb201/nb201_metrics.csv" in out
    assert f"data_dir= / --data-dir: {data_dir.resolve() / 'nb201' / 'nb201_metrics.csv'}" in out


def test_console_script_entry_point(data_dir):
    exe = shutil.which("nas-gym", path=os.path.dirname(sys.executable))
    assert exe, "the nas-gym console script is not installed"
    out = subprocess.run([exe, "info"], capture_output=True, text=True, check=True)
    assert "NASBench201-v1" in out.stdout


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


def test_bench_env_rejects_bad_num_envs_before_timing_anything(data_dir, capsys):
    assert main(["bench-env", "--num-envs", "0", "--data-dir", str(data_dir)]) == 2
    err = capsys.readouterr().err
    assert "--num-envs must be positive, got 0" in err
    assert "table load" not in err  # refused before the first (cold table) timing


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["nonsense"], "argument COMMAND: invalid choice: 'nonsense' (choose from "),
        ([], "the following arguments are required: COMMAND"),
    ],
)
def test_unknown_command_exits_with_usage(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: nas-gym ") and f"nas-gym: error: {message}" in err


def test_version_flag(capsys):
    import nas_gym

    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"nas-gym {nas_gym.__version__}"


def test_bench_env_shows_progress_on_stderr(data_dir, capsys):
    assert main(["bench-env", "--steps", "500", "--repeats", "2", "--data-dir", str(data_dir)]) == 0
    captured = capsys.readouterr()
    progress = captured.err.splitlines()
    assert progress[0].startswith("bench-env: table loads, then every loop 2 x 500 steps")
    assert any("table load, cold:" in line for line in progress)
    for loop in ("numpy baseline", "raw env", "gym.make"):
        assert sum(loop in line and "500 steps in" in line for line in progress) == 2, loop
    assert "repeat" not in captured.out  # the table on stdout stays clean


def test_train_genotype_unknown_name_lists_the_known_ones(tmp_path, capsys):
    from nas_gym.spaces.darts import PUBLISHED

    assert main(["train-genotype", "darts_v3", "--root", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "unknown genotype name 'darts_v3'" in err and "did you mean 'DARTS_V2'?" in err
    assert f"known names: {', '.join(PUBLISHED)}" in err
    assert "Traceback" not in err and not any(tmp_path.iterdir())  # refused before any work
    assert main(["train-genotype", "Genotype(normal=[", "--root", str(tmp_path)]) == 2
    assert "cannot parse genotype" in capsys.readouterr().err


def test_train_genotype_help_has_no_rst_markup(capsys):
    with pytest.raises(SystemExit):
        main(["train-genotype", "--help"])
    out = capsys.readouterr().out
    assert "DARTSEvalNetwork" in out and "--out/result.json" in out
    assert "``" not in out and ":class:" not in out and "~nas_gym" not in out


def _bench_run_file(tmp_path):
    """A real `nas-gym bench` run record (runs/<key>.json), made by the bench's own runner."""
    import json
    from dataclasses import asdict

    from nas_gym.agents.bench.run import run_one
    from nas_gym.agents.bench.spec import RunSpec

    record = run_one(asdict(RunSpec("rs", "cifar100", "valid", 30, 1)))
    path = tmp_path / "runs" / f"{RunSpec('rs', 'cifar100', 'valid', 30, 1).key}.json"
    path.parent.mkdir()
    path.write_text(json.dumps(record))
    return path, record


def test_supernet_pareto_on_a_bench_run_file(data_dir, tmp_path, capsys):
    from nas_gym.benchmarks.hw_cost import load_flops

    path, record = _bench_run_file(tmp_path)
    png = tmp_path / "p.png"
    argv = ["supernet", "pareto", str(path), "--out", str(png), "--target", "flops_M=100"]
    assert main(argv) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    out = capsys.readouterr().out
    assert "valid_acc vs flops_M" in out and "valid_acc vs params_M" in out
    # the front's FLOPs are NB201's, looked up from the recorded arch_index
    flops = load_flops("cifar100")
    best = int(record["result"]["best_arch"])
    assert (
        f"flops_M {flops[best]:>10.4f}  valid_acc {record['result']['best_valid_acc']:.2f}" in out
    )


def test_supernet_pareto_errors_name_the_accepted_files(tmp_path, capsys):
    import json

    (tmp_path / "bad.json").write_text(json.dumps([{"valid_acc": 1.0, "loss": 2.0}]))
    argv = ["supernet", "pareto", str(tmp_path / "bad.json"), "--out", str(tmp_path / "q.png")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "record 0 has no 'flops_M', 'params_M' (its keys: loss, valid_acc)" in err
    assert "nas-gym bench" in err and "DARTSSupernet-v0" in err and "Traceback" not in err
    assert main([*argv, "--costs", "loss", "--target", "latency_ms=80"]) == 2
    assert "'latency_ms' is not a plotted cost; --costs is loss" in capsys.readouterr().err
    assert main([*argv, "--costs", "loss", "--target", "loss=fast"]) == 2
    assert "expected COST=NUMBER" in capsys.readouterr().err
    assert not (tmp_path / "q.png").exists()


def test_bench_without_matplotlib_fails_before_any_run(data_dir, tmp_path):
    """matplotlib is the optional `plot` extra: the bench refuses up front, naming the fix."""
    code = (
        "import sys; sys.modules['matplotlib'] = None\n"
        "from nas_gym.cli import main\n"
        f"sys.exit(main(['bench', '--agents', 'rs', '--datasets', 'cifar10', '--seeds', '1',"
        f" '--budgets', '5', '--jobs', '1', '--out', {str(tmp_path / 'out')!r}]))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ}
    )
    assert proc.returncode == 2, proc.stderr
    assert "pip install 'nas_gym[plot]'" in proc.stderr and "--no-plots" in proc.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["supernet", "pretrain", "--max-batches", "0"],
            "--max-batches must be a positive integer, got 0 (leave it unset to use every batch)",
        ),
        (["supernet", "pretrain", "--cutout", "-1"], "--cutout must be an integer >= 0, got -1"),
        (["search", "darts", "--arch-weight-decay", "-1"], "--arch-weight-decay must be a number"),
        (["search", "darts", "--max-batches", "0"], "--max-batches must be a positive integer"),
        (["search", "unas", "--soften-eps", "2"], "--soften-eps must be < 1, got 2.0"),
    ],
)
def test_config_errors_name_the_flags(argv, message, tmp_path, capsys):
    """The configurations validate their fields; the CLI names the flags the user typed
    (before any data is read: the root here is empty)."""
    argv = [*argv, "--root", str(tmp_path), "--out", str(tmp_path / "out")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Config." not in err, err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["supernet", "pretrain", "--out", "{file}"], "--out '{file}' is a file; give a directory"),
        (
            ["train-genotype", "DARTS_V2", "--out", "{file}"],
            "--out '{file}' is a file; give a directory",
        ),
        (["search", "darts", "--out", "{file}"], "--out '{file}' is a file; give a directory"),
        (["search", "unas", "--out", "{file}/run"], "--out '{file}/run' is inside '{file}'"),
        (["latency", "measure", "--resolution", "8", "--out", "{dir}"], "is a directory; give"),
        (
            ["supernet", "pretrain", "--space", "proxyless", "--sampling", "mixed"],
            "--sampling mixed needs --space darts",
        ),
        (["supernet", "pretrain", "--train-fraction", "1.5"], "--train-fraction must be strictly"),
        (["search", "unas", "--train-fraction", "0"], "--train-fraction must be strictly"),
        (
            ["search", "unas", "--space", "proxyless", "--lut", "nope.yaml"],
            "latency table 'nope.yaml' not found; pass one of pixel1, cpu, cuda or a path",
        ),
        (["supernet", "pretrain", "--num-workers", "-1"], "--num-workers must be >= 0, got -1"),
        (["search", "darts", "--channels", "0"], "--channels must be an integer >= 1, got 0"),
        (["search", "unas", "--cells", "0"], "--cells must be an integer >= 1, got 0"),
        (
            ["search", "darts", "--channels", "6", "--pc-k", "4"],
            "--pc-k=4 must divide the 6 channels of cell 0; choose --channels (got 6) as a "
            "multiple of --pc-k (4)",
        ),
        (
            ["supernet", "pretrain", "--cells", "2", "--channels", "2", "--pc-k", "4"],
            "--pc-k=4 must divide the 4 channels of cell 0 into an even number",
        ),
        (
            ["search", "unas", "--space", "proxyless", "--width-mult", "0"],
            "--width-mult must be a finite number > 0, got 0.0",
        ),
        (
            ["supernet", "pretrain", "--space", "proxyless", "--width-mult", "nan"],
            "--width-mult must be a finite number > 0, got nan",
        ),
        (
            ["train-genotype", "DARTS_V2", "--num-workers", "-1"],
            "--num-workers must be >= 0, got -1",
        ),
    ],
)
def test_long_commands_refuse_bad_output_and_settings_before_any_work(
    argv, message, tmp_path, capsys
):
    """Each fails at once with one line naming the flag; the dataset root is empty, so a
    check made after the data is read would report the missing data instead."""
    afile = tmp_path / "afile"
    afile.write_text("x")
    subs = {"{file}": str(afile), "{dir}": str(tmp_path)}
    for key, value in subs.items():
        argv = [a.replace(key, value) for a in argv]
    if argv[0] != "latency":
        argv += ["--root", str(tmp_path / "empty")]
    if "--out" not in argv:
        argv += ["--out", str(tmp_path / "out")]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    for key, value in subs.items():
        message = message.replace(key, value)
    assert "\n" not in err and message in err, err


def test_a_reader_that_leaves_early_is_not_an_error(data_dir):
    """``nas-gym info | head -1``: the pipe closes before the command writes; it must end
    quietly, not print "error: [Errno 32] Broken pipe"."""
    exe = shutil.which("nas-gym", path=os.path.dirname(sys.executable))
    proc = subprocess.Popen(
        [exe, "info", "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    proc.stdout.close()  # long before the command has imported nas_gym and printed
    err = proc.stderr.read()
    assert proc.wait(timeout=120) == 0, err
    assert err == ""


def test_a_broken_pipe_elsewhere_is_still_an_error(data_dir, capsys, monkeypatch):
    """Only a closed stdout is the reader leaving: a command's own pipe breaking (e.g. to
    a worker that died) stays a one-line error."""

    def broken(args):
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr("nas_gym.commands.info._info", broken)
    assert main(["info", "--data-dir", str(data_dir)]) == 2
    assert capsys.readouterr().err.strip() == "nas-gym info: error: [Errno 32] Broken pipe"
