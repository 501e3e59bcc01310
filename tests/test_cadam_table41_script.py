"""``benchmarks/cadam_table41.py`` on real bench records: the optimum-found column."""

from __future__ import annotations

import copy
import io
from contextlib import redirect_stdout

import pytest

from nas_gym.agents.bench import archive
from nas_gym.agents.bench.store import load_all_records
from nas_gym.benchmarks.nb201 import load_nb201
from nas_gym.cli import main
from tests.scripts import load_script


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    out = tmp_path_factory.mktemp("t41")
    args = ["bench", "--agents", "rs", "--datasets", "cifar10", "--budgets", "40",
            "--seeds", "1-3", "--jobs", "1", "--out", str(out), "--no-plots", "--no-progress"]  # fmt: skip
    with redirect_stdout(io.StringIO()):
        assert main(args) == 0
    return load_all_records(out)


def row(text: str) -> list[str]:
    (line,) = [line for line in text.splitlines() if line.startswith("| rs |")]
    return [cell.strip() for cell in line.strip("|").split("|")]


def test_optimum_found_counts_runs_that_reach_the_tables_optimum(records):
    script = load_script("benchmarks/cadam_table41.py")
    header = script.table(records).splitlines()[0]
    column = [c.strip() for c in header.strip("|").split("|")].index("optimum found")
    _, optimum = load_nb201().optimum("cifar10", "valid")
    expected = sum(r["result"]["best_valid_acc"] == optimum for r in records)
    assert row(script.table(records))[column] == f"{expected}/3"
    # a split whose optimum two of the runs reached: their recorded optimum is their best
    lowered = copy.deepcopy(records)
    for r in lowered[:2]:
        r["env"]["optimum_acc"] = r["result"]["best_valid_acc"]
    lowered[2]["env"]["optimum_acc"] = lowered[2]["result"]["best_valid_acc"] + 1.0
    assert row(script.table(lowered))[column] == "2/3"
    # the prefix rows count on the shorter run's best
    for r in lowered:
        r["env"]["optimum_acc"] = r["history"]["valid_acc"][0]
    lowered[0]["env"]["optimum_acc"] += 1.0
    prefix_line = [ln for ln in script.table(lowered, [1]).splitlines() if "first 1 of 40" in ln]
    assert [c.strip() for c in prefix_line[0].strip("|").split("|")][column] == "2/3"


def test_improved_after_counts_runs_whose_best_comes_late(records):
    script = load_script("benchmarks/cadam_table41.py")
    n_distinct = [len(set(r["history"]["arch_index"])) for r in records]
    n = min(n_distinct) // 2
    rising, falling = copy.deepcopy(records), copy.deepcopy(records)
    for r in rising:  # every query better than the last: the best is the last new cell
        r["history"]["valid_acc"] = [float(i) for i in range(len(r["history"]["arch_index"]))]
    for r in falling:  # every query worse than the last: the best is the first cell
        r["history"]["valid_acc"] = [-float(i) for i in range(len(r["history"]["arch_index"]))]
    up = row(script.improved_after(rising, n))
    assert (up[4], up[6], up[7]) == ("3/3", "0/3", "0.0")
    assert n >= 10  # so each run's 10 best all lie among the first n when accuracies fall
    down = row(script.improved_after(falling, n))
    assert (down[4], down[6], down[7]) == ("0/3", "3/3", "10.0")
    assert "P(at most 0 | p = 1/2) = 0.12" in script.improved_after(falling, n)
    # a run with no cell past the N-th is left out
    assert "| rs |" not in script.improved_after(records, max(n_distinct))


def test_improved_after_refuses_a_count_below_one(tmp_path, monkeypatch, capsys):
    script = load_script("benchmarks/cadam_table41.py")
    monkeypatch.setattr("sys.argv", ["cadam_table41.py", str(tmp_path), "--improved-after", "0"])
    with pytest.raises(SystemExit):
        script.main()
    assert "--improved-after must be a positive number of cells, got 0" in capsys.readouterr().err


def test_archived_runs_give_the_same_table_as_their_run_directory(tmp_path, capsys):
    """A test-split bench archived with ``--to`` and read back alone prints the same table
    (the optimum-found column from the table, since archives keep no env record)."""
    script = load_script("benchmarks/cadam_table41.py")
    out = tmp_path / "runs"
    args = ["bench", "--agents", "rs", "--datasets", "cifar100", "--reward-metrics", "test",
            "--budgets", "30", "--seeds", "1-2", "--jobs", "1", "--out", str(out),
            "--no-plots", "--no-progress"]  # fmt: skip
    with redirect_stdout(io.StringIO()):
        assert main(args) == 0
    target = tmp_path / "t41.jsonl.xz"

    def printed(*argv: str) -> str:
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr("sys.argv", ["cadam_table41.py", *argv])
            script.main()
        return capsys.readouterr().out

    direct = printed(str(out), "--to", str(target), "--prefix", "10")
    assert f"archived 2 runs to {target}" in direct
    from_archive = printed(str(target), "--prefix", "10")
    table_of = lambda text: [ln for ln in text.splitlines() if ln.startswith("|")]  # noqa: E731
    assert len(table_of(direct)) == 2 + 2  # header, rule, the 30-query row, its 10-query prefix
    assert table_of(from_archive) == table_of(direct)
    assert "2 runs read from archives (no timing kept)" in from_archive
    (run, _) = [script.from_archive(r) for r in archive.read_archive(target)]
    assert run["env"]["optimum_acc"] == load_nb201().optimum("cifar100", "test")[1]
    assert run["result"]["best_test_acc"] == max(run["history"]["test_acc"])
    assert "rs 30 query: 2 runs" in direct
    # both sources: the runs are counted once, and the copies must agree
    both = printed(str(out), str(target))
    assert both.startswith("2 runs were found in more than one source; every copy agrees")
    assert table_of(both)[2] == table_of(direct)[2]


def test_sources_that_are_not_runs_are_named(tmp_path, monkeypatch, capsys):
    script = load_script("benchmarks/cadam_table41.py")
    for argv, message in (
        ([str(tmp_path / "nowhere")], "nowhere: no such bench directory or archive"),
        ([str(tmp_path)], f"no finished runs in {tmp_path}"),
        ([str(tmp_path), "--to", "x.json"], "--to needs a FILE.jsonl.xz, got 'x.json'"),
    ):
        monkeypatch.setattr("sys.argv", ["cadam_table41.py", *argv])
        with pytest.raises(SystemExit) as exc:
            script.main()
        assert exc.value.code == 2
        assert message in capsys.readouterr().err
    bad = tmp_path / "bad.jsonl.xz"
    bad.write_bytes(b"not xz")
    monkeypatch.setattr("sys.argv", ["cadam_table41.py", str(bad)])
    with pytest.raises(SystemExit):
        script.main()
    assert "bad.jsonl.xz: not a readable archive" in capsys.readouterr().err
