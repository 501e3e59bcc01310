"""``benchmarks/td3_vs_ddpg.py archive`` and ``report --archive``: study runs kept in the repository.

The runs are real bench records (random search labelled as the study's CADAM agents, so
they fall in a stage at no cost), written by the bench into a real run directory.
"""

from __future__ import annotations

import json
import lzma

import pytest

from nas_gym.agents.bench import backends
from nas_gym.agents.bench.archive import ARCHIVE_FORMAT, ARCHIVE_HISTORY
from nas_gym.agents.bench.spec import RunSpec
from nas_gym.agents.bench.store import load_all_records
from nas_gym.commands.bench import parse_int_list
from tests.scripts import REPO, load_script


@pytest.fixture(scope="module")
def study():
    return load_script("benchmarks/td3_vs_ddpg.py")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """Seeds 11-12 of ``cadam`` and ``cadam-td3`` at 2,000 distinct cells on cifar100."""
    out = tmp_path_factory.mktemp("td3") / "unique"
    specs = [
        RunSpec(agent, "cifar100", "valid", 2000, seed, base_agent="rs", budget_unit="unique")
        for agent in ("cadam", "cadam-td3")
        for seed in (11, 12)
    ]
    backends.execute(specs, out, jobs=1, progress=False)
    return out.parent


def test_archive_keeps_what_the_report_reads_and_reads_back(study, run_dir, tmp_path, capsys):
    target = tmp_path / "a.jsonl.xz"
    assert (
        study.main(
            ["archive", "--out", str(run_dir), "--stage", "cadam-2000u-b", "--to", str(target)]
        )
        == 0
    )
    assert "archived 4 of 90 planned runs" in capsys.readouterr().out
    archived = study.read_archive(target)
    originals = {study.run_key(r): r for r in load_all_records(run_dir / "unique")}
    assert len(archived) == 4 and {study.run_key(r) for r in archived} == set(originals)
    for r in archived:
        full = originals[study.run_key(r)]
        assert r["spec"] == full["spec"]
        assert len(r["history"]["arch_index"]) == full["result"]["n_queries"] >= 2000
        # rebuilt from the query sequence and the table: the accuracies the env reported
        assert r["history"] == {k: full["history"][k] for k in ARCHIVE_HISTORY}
        assert "best_arch" not in r["result"]
    stored = json.loads(lzma.decompress(target.read_bytes()).decode().splitlines()[1])
    assert sorted(stored) == ["arch_index", "result", "spec"]
    # another stage's runs are not archived
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        study.main(
            ["archive", "--out", str(run_dir), "--stage", "cadam-2000u", "--to", str(target)]
        )
    assert exc.value.code == 2
    assert "no finished runs of stage(s) ['cadam-2000u'] in " in capsys.readouterr().err


def test_report_from_the_archive_alone_equals_the_run_directory(study, run_dir, tmp_path, capsys):
    target = tmp_path / "a.jsonl.xz"
    study.main(["archive", "--out", str(run_dir), "--stage", "cadam-2000u-b", "--to", str(target)])
    capsys.readouterr()
    study.main(["report", "--out", str(run_dir)])
    direct = capsys.readouterr().out
    study.main(["report", "--out", str(tmp_path / "empty"), "--archive", str(target)])
    from_archive = capsys.readouterr().out
    assert "**cadam vs cadam-td3**, budget 2000" in direct
    assert from_archive == direct
    # both sources: every run twice, and the copies must agree
    study.main(["report", "--out", str(run_dir), "--archive", str(target)])
    out = capsys.readouterr().out
    assert out.startswith("4 runs were found in more than one source; every copy agrees")
    assert out.endswith(direct)


def test_copies_that_disagree_are_refused_by_name(study, run_dir):
    records = load_all_records(run_dir / "unique")
    first = next(
        r for r in records if study.run_key(r) == ("cadam", "unique", 2000, "cifar100", 11)
    )
    changed = json.loads(json.dumps(first))
    changed["history"]["arch_index"][5] += 1
    with pytest.raises(
        SystemExit, match=r"run \('cadam', 'unique', 2000, 'cifar100', 11\) differs"
    ):
        study.merge([("dir", records), ("old.jsonl.xz", [changed])])
    slower = json.loads(json.dumps(first))
    slower["result"]["cpu_s"] += 100.0  # machine-dependent: not a disagreement
    merged, repeated = study.merge([("dir", records), ("old", [slower])])
    assert repeated == 1 and len(merged) == len(records)


def test_runs_the_table_cannot_rebuild_are_refused(study, run_dir, tmp_path):
    (record, *_) = load_all_records(run_dir / "unique")
    noisy = json.loads(json.dumps(record))
    noisy["history"]["valid_acc"][0] += 0.01  # e.g. a noise="seed" draw
    with pytest.raises(SystemExit, match="recorded accuracies are not the table's"):
        study.write_archive([noisy], tmp_path / "n.jsonl.xz")
    other_env = json.loads(json.dumps(record))
    other_env["spec"]["env_id"] = "DARTSSupernet-v0"
    with pytest.raises(SystemExit, match="only noise-free NB201 runs can be archived"):
        study.write_archive([other_env], tmp_path / "n.jsonl.xz")
    # an archive whose results do not match the table it is read with
    study.write_archive([record], tmp_path / "ok.jsonl.xz")
    lines = lzma.decompress((tmp_path / "ok.jsonl.xz").read_bytes()).decode().splitlines()
    line = json.loads(lines[1])
    line["result"]["best_valid_acc"] += 1.0
    (tmp_path / "t.jsonl.xz").write_bytes(
        lzma.compress(f"{lines[0]}\n{json.dumps(line)}\n".encode())
    )
    with pytest.raises(SystemExit, match="line 2: the table's best valid accuracy"):
        study.read_archive(tmp_path / "t.jsonl.xz")


def test_unreadable_archives_are_named(study, tmp_path, capsys):
    bad = tmp_path / "bad.jsonl.xz"
    bad.write_bytes(b"not xz")
    with pytest.raises(SystemExit, match="bad.jsonl.xz: not a readable archive"):
        study.read_archive(bad)
    bad.write_bytes(lzma.compress(b'{"format": "other"}\n'))
    with pytest.raises(SystemExit, match="first line is not the header"):
        study.read_archive(bad)
    header = json.dumps({"format": ARCHIVE_FORMAT})
    bad.write_bytes(lzma.compress(f'{header}\n{{"spec": {{}}}}\n'.encode()))
    with pytest.raises(SystemExit, match="line 2: not an archived run"):
        study.read_archive(bad)
    capsys.readouterr()
    missing = tmp_path / "missing.jsonl.xz"
    with pytest.raises(SystemExit) as exc:
        study.main(["report", "--archive", str(missing)])
    assert exc.value.code == 2 and f"--archive {missing}: no such file" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        study.main(["archive", "--out", str(tmp_path), "--to", str(tmp_path / "x.json")])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "archive needs --to FILE.jsonl.xz, got " in err


def test_report_draws_each_pair_with_every_series_labelled(study, run_dir, tmp_path, capsys):
    """``report --figures``: one PNG per family, unit and budget with both twins, whole."""
    import matplotlib.image

    figures = tmp_path / "figures"
    study.main(["report", "--out", str(run_dir), "--figures", str(figures)])
    assert f"wrote {figures / 'td3_vs_ddpg_cadam_unique_2000.png'}" in capsys.readouterr().out
    assert sorted(p.name for p in figures.iterdir()) == ["td3_vs_ddpg_cadam_unique_2000.png"]
    assert matplotlib.image.imread(figures / "td3_vs_ddpg_cadam_unique_2000.png").ndim == 3

    family = next(f for f in study.FAMILIES if f.key == "cadam")
    fig = study.family_figure(
        study.index(load_all_records(run_dir / "unique")), family, "unique", 2000
    )
    top, bottom = fig.axes[:2]
    assert top.get_title() == "cifar100 (n=2 seeds)"
    assert "%" in top.get_ylabel() and "%" in bottom.get_ylabel()
    assert bottom.get_xlabel() == "distinct architectures queried"
    names = [t.get_text() for t in fig.legends[0].get_texts()]
    assert names[:2] == ["cadam", "cadam-td3"]


def _runs(study, calls) -> list[tuple]:
    """Every run key the calls would run, in order (repeats kept, so they show)."""
    return [
        (agent, c.stage.unit, c.stage.budget, dataset, seed)
        for c in calls
        for agent in c.agents
        for dataset in c.datasets
        for seed in parse_int_list("--seeds", c.seeds)
    ]


def test_calls_to_run_cover_exactly_the_runs_not_archived(study):
    stage = next(s for s in study.STAGES if s.name == "cadam-printed-2000u")
    everything = {study.run_key({"spec": spec}) for spec in _specs(study, stage)}
    # nothing done: the stage's own single call
    assert study.calls_to_run(stage, set()) == [
        study.Call(stage, stage.agents, study.DATASETS, stage.seeds)
    ]
    assert study.calls_to_run(stage, everything) == []
    # session 11's state: all of cadam-printed, and the twins on cifar100 3-5 and IN16 1-5
    done = {
        k
        for k in everything
        if k[0] == "cadam-printed"
        or (k[3], k[4]) in {("cifar100", 3), ("cifar100", 4), ("cifar100", 5)}
        or k[3] == "ImageNet16-120"
    }
    calls = study.calls_to_run(stage, done)
    assert [(c.agents, c.datasets, c.seeds) for c in calls] == [
        (("cadam-td3-printed", "cadam-td3-min-printed"), ("cifar10",), "1-5"),
        (("cadam-td3-printed", "cadam-td3-min-printed"), ("cifar100",), "1-2"),
    ]
    assert sorted(_runs(study, calls)) == sorted(everything - done)
    # agents that miss the same seeds share a call, and so do datasets with one grid
    done = {k for k in everything if k[0] == "cadam-printed" and k[3] == "cifar100" and k[4] != 3}
    calls = study.calls_to_run(stage, done)
    assert sorted(_runs(study, calls)) == sorted(everything - done)
    assert [(c.agents, c.datasets, c.seeds) for c in calls] == [
        (stage.agents, ("cifar10", "ImageNet16-120"), "1-5"),
        (("cadam-printed",), ("cifar100",), "3"),
        (("cadam-td3-printed", "cadam-td3-min-printed"), ("cifar100",), "1-5"),
    ]


def _specs(study, stage) -> list[dict]:
    return [
        {"agent": a, "budget_unit": stage.unit, "budget": stage.budget, "dataset": d, "seed": s}
        for a in stage.agents
        for d in study.DATASETS
        for s in study.stage_seeds(stage.seeds)
    ]


def test_plan_and_archive_resume_from_archives(study, run_dir, tmp_path, capsys):
    """``plan --archive`` leaves out archived runs; ``archive --archive`` keeps them."""
    records = sorted(load_all_records(run_dir / "unique"), key=study.run_key)
    old = tmp_path / "old.jsonl.xz"
    study.write_archive(records[:2], old)  # cadam on cifar100, seeds 11-12
    study.main(["plan", "--stage", "cadam-2000u-b", "--out", str(tmp_path), "--archive", str(old)])
    plan = capsys.readouterr().out.splitlines()
    assert len(plan) == 3
    assert "--agents cadam,cadam-td3,cadam-td3-min --datasets cifar10,ImageNet16-120" in plan[0]
    assert "--agents cadam --datasets cifar100 --reward-metrics valid --seeds 13-20" in plan[1]
    assert "--reference cadam " in plan[1]
    assert "--agents cadam-td3,cadam-td3-min --datasets cifar100 " in plan[2]
    assert "--seeds 11-20" in plan[2] and "--reference cadam-td3 " in plan[2]
    # the archive of a stage grows: old runs from the archive, new ones from the run directory
    new = tmp_path / "new.jsonl.xz"
    argv = ["archive", "--stage", "cadam-2000u-b", "--archive", str(old), "--to", str(new)]
    assert study.main([*argv, "--out", str(tmp_path / "gone")]) == 0
    assert "archived 2 of 90 planned runs" in capsys.readouterr().out
    assert study.main([*argv, "--out", str(run_dir)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("2 runs were found in more than one source; every copy agrees")
    assert "archived 4 of 90 planned runs" in out
    assert [study.run_key(r) for r in study.read_archive(new)] == [
        study.run_key(r) for r in records
    ]
    study.main(["plan", "--stage", "cadam-2000u-b", "--out", str(tmp_path), "--archive", str(new)])
    assert "--agents cadam,cadam-td3 --datasets cifar100 " in capsys.readouterr().out


def test_run_with_an_archive_runs_only_the_missing_runs(study, tmp_path, capsys, monkeypatch):
    """``run --archive`` end to end: the bench subprocess runs exactly the runs the archive
    lacks, and ``archive --archive A --to A`` then holds the whole stage. A stage of cheap
    real agents (random search, regularized evolution at 20 queries) stands in for the
    study's CADAM stages, which cost minutes a run. The archive holds every cifar100 run,
    so one bench call (one interpreter start) runs the rest."""
    tiny = study.Stage("tiny", ("rs", "rea"), 20, "query", "1-2")
    monkeypatch.setattr(study, "STAGES", (tiny,))
    planned = {
        (agent, "query", 20, dataset, seed)
        for agent in tiny.agents
        for dataset in study.DATASETS
        for seed in (1, 2)
    }
    first = tmp_path / "first" / "query"
    specs = [RunSpec(a, "cifar100", "valid", 20, seed) for a in tiny.agents for seed in (1, 2)]
    backends.execute(specs, first, jobs=1, progress=False)
    archive = tmp_path / "tiny.jsonl.xz"
    study.write_archive(load_all_records(first), archive)
    archived = {study.run_key(r) for r in study.read_archive(archive)}
    assert len(archived) == 4 and archived < planned

    out = tmp_path / "out"
    argv = ["--stage", "tiny", "--out", str(out), "--archive", str(archive)]
    assert study.main(["run", *argv, "--jobs", "1"]) == 0
    assert {study.run_key(r) for r in load_all_records(out / "query")} == planned - archived
    capsys.readouterr()
    assert study.main(["archive", *argv, "--to", str(archive)]) == 0
    assert "archived 12 of 12 planned runs" in capsys.readouterr().out
    assert {study.run_key(r) for r in study.read_archive(archive)} == planned
    assert study.main(["run", *argv]) == 0  # nothing left: no bench call
    assert "stage tiny: every run is archived" in capsys.readouterr().out


def test_the_studys_tables_are_the_report_over_the_committed_archives(study, tmp_path):
    """docs/td3_vs_ddpg.md's Results block is exactly what ``report --archive`` prints from
    the archives in the repository: no table in it is a hand-kept copy, and an archive
    that changes (or a report that changes how it counts) shows up here."""
    archives = sorted((REPO / "benchmarks" / "archives" / "td3_vs_ddpg").glob("*.jsonl.xz"))
    assert len(archives) >= 23  # every stage but the one never run
    records, repeated = study.merge([(str(a), study.read_archive(a)) for a in archives])
    assert repeated == 0  # every run is in one archive only
    doc = (REPO / "docs" / "td3_vs_ddpg.md").read_text()
    regenerated = tmp_path / "td3_vs_ddpg.md"
    regenerated.write_text(doc)
    study.update_doc(regenerated, study.all_tables(records))  # what ``report --doc`` does
    assert regenerated.read_text() == doc
