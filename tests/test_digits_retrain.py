"""``benchmarks/digits_study.py``: finished retraining runs are read back, not re-announced."""

from __future__ import annotations

import pytest

from tests.scripts import load_script


@pytest.fixture(scope="module")
def study():
    return load_script("benchmarks/digits_study.py")


@pytest.mark.parametrize("jobs", [1, 2])
def test_finished_retraining_runs_are_read_back_with_one_summary_line(
    study, tmp_path, capsys, jobs
):
    cells = {"cadam": "cell-a", "random-1": "cell-b"}
    runs = [("cell-a", 1), ("cell-a", 2), ("cell-b", 1)]
    accs = {("cell-a", 1): 91.5, ("cell-a", 2): 90.0, ("cell-b", 1): 80.25}
    for (g, s), acc in accs.items():
        run = study.retrain_dir(tmp_path, study.cell_key(g), s)
        study.write_json(run / "result.json", {"test_acc": acc})

    got = study.retrain_all(tmp_path, {}, cells, runs, jobs)

    assert got == {"cell-a": [91.5, 90.0], "cell-b": [80.25]}
    out = capsys.readouterr().out
    assert "3 of 3 runs already finished" in out
    assert "[retrain 1/" not in out  # nothing trained, so no progress line
