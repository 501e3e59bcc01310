"""``nas-gym bench`` runs CADAM seeds in lockstep in one process; ``--no-batch`` does not.

A tiny real grid (NB201 table, a small CADAM whose actor acts from step 15 and learns
fast, so its queries depend on the updates) runs both ways; every run must make the
same queries and write the same result row.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import re
import shutil
import time
from contextlib import redirect_stdout
from dataclasses import asdict, dataclass
from pathlib import Path

import pytest

import nas_gym.progress
from nas_gym.agents.bench import backends
from nas_gym.agents.bench.spec import RunSpec
from nas_gym.cli import main

TINY = 'tiny=cadam:{"net_arch": [16, 16], "epsilon_decay_steps": 15, "actor_learning_rate": 1e-3}'
#: columns that are measurements of time, not of the search
TIME_COLUMNS = ("wall_s", "agent_s", "env_s", "cpu_s")


@dataclass
class BenchCall:
    out: Path
    stdout: str
    #: CPU seconds this (the test's) process spent in the call; with --jobs 1 the runs ran here
    cpu_s: float
    #: the records' CPU seconds right after the call (other tests may re-run some later)
    runs_cpu_s: float


def bench(out: Path, *extra: str) -> BenchCall:
    args = ["bench", "--agents", "tiny,rs", "--variant", TINY, "--datasets", "cifar10,cifar100",
            "--budgets", "20,45", "--seeds", "1,2",
            "--jobs", "1", "--out", str(out), "--no-plots", "--no-progress", *extra]  # fmt: skip
    text, cpu0 = io.StringIO(), time.process_time()
    with redirect_stdout(text):
        assert main(args) == 0
    cpu_s = time.process_time() - cpu0
    return BenchCall(
        out, text.getvalue(), cpu_s, sum(r["result"]["cpu_s"] for r in runs(out).values())
    )


def runs(out: Path) -> dict[str, dict]:
    return {p.name: json.loads(p.read_text()) for p in sorted((out / "runs").glob("*.json"))}


def rows(out: Path) -> list[dict]:
    with open(out / "results.csv", newline="") as fh:
        return [
            {k: v for k, v in row.items() if k not in TIME_COLUMNS} for row in csv.DictReader(fh)
        ]


@pytest.fixture(scope="module")
def both_ways(tmp_path_factory) -> tuple[BenchCall, BenchCall]:
    batched, alone = tmp_path_factory.mktemp("batched"), tmp_path_factory.mktemp("alone")
    return bench(batched), bench(alone, "--no-batch")


def test_batched_bench_makes_the_same_queries_as_one_run_per_process(both_ways):
    batched, alone = (call.out for call in both_ways)
    a, b = runs(batched), runs(alone)
    assert sorted(a) == sorted(b) and len(a) == 16
    for name, record in a.items():
        history = record["history"]
        assert history["arch_index"] == b[name]["history"]["arch_index"], name
        assert len(history["arch_index"]) == record["spec"]["budget"]
        # tiny: 2 datasets x 2 seeds search in lockstep; each budget-20 run replays the
        # first 20 actions of its budget-45 twin instead of searching again
        tiny = record["spec"]["agent"] == "tiny"
        assert record["timing"]["batch_size"] == (4 if tiny else 1), name
        twin = name.replace("__20__", "__45__")
        if tiny and twin != name:
            assert record["timing"]["prefix_of"] + ".json" == twin
            assert 0 < record["timing"]["shared_cpu_s"] <= a[twin]["result"]["cpu_s"]
        else:
            assert record["timing"]["prefix_of"] is None and record["timing"]["shared_cpu_s"] == 0
        assert b[name]["timing"]["batch_size"] == 1 and b[name]["timing"]["prefix_of"] is None
    # the seeds of a batch stay independent
    for name, record in a.items():
        if record["spec"]["agent"] == "tiny" and name.endswith("__1.json"):
            other = a[name.replace("__1.json", "__2.json")]["history"]["arch_index"]
            assert record["history"]["arch_index"] != other, name
    assert rows(batched) == rows(alone)


def test_rerun_of_a_batched_bench_skips_finished_runs_and_redoes_a_missing_one(both_ways, tmp_path):
    batched = shutil.copytree(both_ways[0].out, tmp_path / "batched")  # the fixture stays as run
    missing = sorted((batched / "runs").glob("tiny__*__45__2.json"))[0]
    before = json.loads(missing.read_text())["history"]["arch_index"]
    missing.unlink()
    assert "ran 1, skipped 15 finished" in bench(batched).stdout
    after = json.loads(missing.read_text())
    assert after["history"]["arch_index"] == before
    assert after["timing"]["batch_size"] == 1


def test_plan_units_groups_batched_agents_and_keeps_parallelism():
    def spec(agent: str, seed: int, budget: int = 500, dataset: str = "cifar10") -> RunSpec:
        env = '{"observation": "topk", "reward": "cadam"}' if agent.startswith("cadam") else "{}"
        return RunSpec(agent, dataset, "valid", budget, seed, env_kwargs=env)

    cadam = [spec("cadam", s, b, d) for s in range(1, 6) for b in (500, 1000)
             for d in ("cifar10", "cifar100")]  # fmt: skip
    todo = [*cadam, spec("cadam-td3", 1), spec("cadam-td3", 2), spec("rs", 1), spec("rs", 2)]
    units = backends.plan_units(todo, jobs=2)
    keys = [sorted(s.key for s in unit) for unit in units]
    assert sorted(k for unit in keys for k in unit) == sorted(s.key for s in todo)
    # 20 cadam runs are 10 lockstep rows (each budget-500 run rides with its 1000 twin),
    # then cadam-td3 (2 rows), then rs alone
    assert [len(u) for u in units] == [20, 2, 1, 1]
    assert {s.agent for s in units[0]} == {"cadam"}
    split = backends.plan_units(todo[:20], jobs=4)  # 10 families in 4 units, none torn apart
    assert sorted(len(u) for u in split) == [4, 4, 6, 6]
    for unit in split:
        budgets = {}
        for s in unit:
            budgets.setdefault((s.seed, s.dataset), set()).add(s.budget)
        assert all(b == {500, 1000} for b in budgets.values())
    assert all(len(u) == 1 for u in backends.plan_units(todo, jobs=2, batch=False))
    timed = RunSpec("cadam", "cifar10", "valid", 500, 1, env_kwargs='{"time_budget_s": 100}')
    assert [len(u) for u in backends.plan_units([timed, timed], jobs=1)] == [1, 1]
    # a saved batch (the 1000-query leaders of seeds 2 and 4 on cifar10) is a unit again,
    # with its runs' 500-query twins; a save whose runs are not all to run is ignored
    saved = [[s.key for s in cadam if s.dataset == "cifar10" and s.budget == 1000
              and s.seed in (2, 4)], [spec("cadam", 9, 1000).key]]  # fmt: skip
    kept = backends.plan_units(todo, jobs=2, keep=saved)
    assert sorted(s.key for u in kept for s in u) == sorted(s.key for s in todo)
    (unit,) = [u for u in kept if saved[0][0] in {s.key for s in u}]
    assert sorted((s.seed, s.budget) for s in unit) == [(2, 500), (2, 1000), (4, 500), (4, 1000)]
    assert [len(u) for u in kept] == [16, 4, 2, 1, 1]
    # a save whose family has gained a longer twin cannot be loaded (the twin leads it):
    # its runs are planned afresh, and it is not counted as resuming
    longer = [*todo, spec("cadam", 2, 2000)]
    assert backends.saved_units(longer, saved) == ([], longer)
    assert [len(u) for u in backends.plan_units(longer, jobs=2, keep=saved)] == [21, 2, 1, 1]
    assert backends.resuming_saves([{"keys": saved[0]}], longer) == []


def test_bench_cpu_total_counts_a_replayed_prefix_once(tmp_path):
    """The bench's CPU total is each record's CPU minus what it shares with its twin."""
    kwargs = '{"actor_learning_rate": 0.001, "epsilon_decay_steps": 5, "net_arch": [8, 8]}'
    env = '{"observation": "topk", "reward": "cadam"}'
    specs = [
        RunSpec("cadam", "cifar10", "valid", budget, 1, agent_kwargs=kwargs, env_kwargs=env)
        for budget in (12, 24)
    ]
    outcome = backends.execute(specs, tmp_path, jobs=1, progress=False)
    assert outcome.n_ran == 2 and not outcome.failures
    records = [json.loads(p.read_text()) for p in sorted((tmp_path / "runs").glob("*.json"))]
    cpu = [r["result"]["cpu_s"] for r in records]
    shared = [r["timing"]["shared_cpu_s"] for r in records]
    assert sorted(s > 0 for s in shared) == [False, True]  # the budget-12 run replays
    assert outcome.cpu_s == pytest.approx(sum(cpu) - sum(shared))
    assert outcome.cpu_s < sum(cpu)


def test_bench_cli_counts_runs_in_its_own_process_once(both_ways):
    """With one job the runs share the command's process: its CPU total must not add them twice."""
    for call in both_ways:
        printed = float(re.search(r"([\d.]+) CPU-s \(this process", call.stdout)[1])
        assert call.runs_cpu_s > 0.1
        # printed to 0.1 s: counted once it lies within rounding of [runs' CPU, CPU spent]
        assert call.runs_cpu_s - 0.05 <= printed <= call.cpu_s + 0.05


@pytest.mark.parametrize(("size", "n"), [(10, 1), (10, 3), (7, 7), (3, 5), (0, 2)])
def test_near_equal_chunks_keep_order_and_differ_by_at_most_one(size: int, n: int):
    items = list(range(size))
    chunks = backends.near_equal_chunks(items, n)
    assert len(chunks) == n
    assert [x for chunk in chunks for x in chunk] == items
    assert max(map(len, chunks)) - min(map(len, chunks)) <= 1


def test_a_batched_unit_reports_each_runs_budget_before_it_ends():
    """``run_group``'s progress reports: every 50 lockstep steps, the budget each unfinished
    run has used (its queries, or its distinct cells with the unique unit), read back here
    from the runs' own records; a run leaves the reports once its record is out."""
    from nas_gym.agents.bench.run import PROGRESS_EVERY, run_group

    kwargs = json.dumps(json.loads(TINY.split(":", 1)[1]), sort_keys=True)  # re-queries early

    def spec(budget: int, seed: int, dataset: str = "cifar10", unit: str = "query") -> RunSpec:
        return RunSpec("tiny", dataset, "valid", budget, seed, "cadam", kwargs, budget_unit=unit)

    specs = [
        spec(130, 1),
        spec(70, 1),  # a prefix twin: follows seed 1
        spec(110, 2),
        spec(40, 3, "cifar100", "unique"),
        spec(40, 4, "cifar100", "unique"),
    ]
    events: list[tuple] = []
    run_group(
        [asdict(spec) for spec in specs],
        None,
        lambda spec, record, error: events.append(("emit", spec, record, error)),
        lambda n, spent: events.append(("progress", n, spent)),
    )
    records = {RunSpec(**e[1]).key: e[2] for e in events if e[0] == "emit"}
    assert all(e[3] is None for e in events if e[0] == "emit")
    assert set(records) == {spec.key for spec in specs}
    reports = [e[2] for e in events if e[0] == "progress"]
    assert events[0][0] == "progress" and len(reports) >= 2  # before any run ended
    by_key = {spec.key: spec for spec in specs}
    ended: set[str] = set()
    for event in events:
        if event[0] == "emit":
            ended.add(RunSpec(**event[1]).key)
            continue
        spent = event[2]
        assert not ended & set(spent), "a run that ended is still reported"
        for key, value in spent.items():
            spec, history = by_key[key], records[key]["history"]["arch_index"]
            # the report of lockstep step t counts the run's first t queries (a unique
            # budget's episode may run longer than the others, so t is the report's number)
            t = PROGRESS_EVERY * (1 + [e for e in events if e[0] == "progress"].index(event))
            made = history[:t]
            expected = len(set(made)) if spec.budget_unit == "unique" else len(made)
            assert value == min(expected, spec.budget), (key, t)
    assert {key for report in reports for key in report} == set(by_key)
    # the prefix twin is reported while it follows, and with its own (smaller) budget
    assert reports[0][specs[1].key] == PROGRESS_EVERY and specs[1].key not in reports[1]
    # every query made is counted once, those after the last 50-step report included
    made = sum(len(record["history"]["arch_index"]) for record in records.values())
    assert sum(e[1] for e in events if e[0] == "progress") == made


def test_the_bench_bar_shows_the_share_of_the_budget_used(tmp_path, capsys, monkeypatch):
    """Two 110-query runs in lockstep (220 queries in all): 45% after 50 steps, 91% after
    100, then 100% when both records are written; the bar is on stderr (not a terminal
    here, so one line per report: every report with the log interval set to 0)."""
    monkeypatch.setattr(nas_gym.progress, "LOG_EVERY_S", 0.0)
    kwargs = json.dumps(json.loads(TINY.split(":", 1)[1]), sort_keys=True)
    specs = [RunSpec("tiny", "cifar10", "valid", 110, s, "cadam", kwargs) for s in (1, 2)]
    backends.execute(specs, tmp_path, jobs=1, progress=True)
    err = capsys.readouterr().err
    assert "\r" not in err and all(line.startswith("bench: ") for line in err.splitlines())
    shown = [int(p) for p in re.findall(r"(\d+)% of the budget", err)]
    assert shown[-1] == 100 and {45, 91} <= set(shown)
    assert shown == sorted(shown)
    # no rate or ETA in runs: lockstep runs all end at once, so it would mislead
    assert "0/2 runs done" in err and "2/2 runs done" in err
    assert "run/s" not in err and "s/run" not in err and "?" not in err


def test_the_bench_in_a_log_file_writes_its_first_and_last_state_as_lines(tmp_path, capsys):
    """Redirected output (not a terminal) gets whole lines, one per 30 s at most: a
    bench of a few seconds writes its start and its end, never tqdm's carriage returns."""
    kwargs = json.dumps(json.loads(TINY.split(":", 1)[1]), sort_keys=True)
    specs = [RunSpec("tiny", "cifar10", "valid", 110, s, "cadam", kwargs) for s in (1, 2)]
    start = time.monotonic()
    backends.execute(specs, tmp_path, jobs=1, progress=True)
    elapsed = time.monotonic() - start
    lines = capsys.readouterr().err.splitlines()
    assert "\r" not in "".join(lines)
    assert lines[0].startswith("bench: 0/2 runs done")
    assert lines[-1].startswith("bench: 2/2 runs done") and "100% of the budget" in lines[-1]
    assert len(lines) <= 2 + elapsed // nas_gym.progress.LOG_EVERY_S


def test_budget_progress_text():
    assert backends.budget_progress({}, 200, 10.0) == "0% of the budget"
    assert (
        backends.budget_progress({"a": 30, "b": 20}, 200, 60.0)
        == "25% of the budget, about 0:03:00 left at the recent rate"
    )
    assert (
        backends.budget_progress({"a": 1}, 400, 36.0)
        == "0% of the budget, about 3:59:24 left at the recent rate"
    )
    assert backends.budget_progress({"a": 200}, 200, 5.0) == "100% of the budget"


def test_budget_progress_takes_the_rate_of_the_recent_past():
    """10 units in the first 100 s, 50 in the next 100, 50 more in the 200 s after: the rate
    is taken since the last report at least half the elapsed time (and 2 min) ago."""
    history = [(0.0, 0), (100.0, 10), (200.0, 60)]
    text = backends.budget_progress({"a": 110}, 200, 400.0, history)
    assert text == "55% of the budget, about 0:06:00 left at the recent rate"  # 90 at 50/200 s
    # early on the window is 2 minutes: since the oldest report here
    text = backends.budget_progress({"a": 30}, 200, 150.0, [(0.0, 0), (100.0, 20)])
    assert text == "15% of the budget, about 0:14:10 left at the recent rate"  # 170 at 30/150 s
    # a resumed bench: no estimate before its first report, none while nothing moved since
    assert backends.budget_progress({"a": 150}, 200, 3.0, []) == "75% of the budget"
    assert backends.budget_progress({"a": 150}, 200, 9.0, [(3.0, 150)]) == "75% of the budget"
    text = backends.budget_progress({"a": 160}, 200, 13.0, [(3.0, 150)])
    assert text == "80% of the budget, about 0:00:40 left at the recent rate"


def test_a_resumed_bench_starts_from_the_budget_its_resuming_saves_had_used():
    todo = [RunSpec("tiny", "cifar10", "valid", 100, seed, "cadam", "{}") for seed in (1, 2, 3)]
    a, b, c = (spec.key for spec in todo)
    resuming = {"keys": [a, b], "spent": {a: 40, b: 30, "finished-twin": 100}}
    spent, history = {}, [(0.0, 0)]
    backends.resumed_spent([resuming], todo, spent, history)
    assert spent == {a: 40, b: 30} and history == [(0.0, 70)]
    # a save with a run that is not to run does not resume (its runs start over)
    spent, history = {}, [(0.0, 0)]
    backends.resumed_spent([{"keys": [c, "done-run"], "spent": {c: 50}}], todo, spent, history)
    assert spent == {} and history == [(0.0, 0)]
    # a save from before the budget was kept, or with a value that is not a count: no
    # starting point, the rate waits a report
    for bad in (None, {c: "12"}, {c: 1.5}, {c: True}):
        spent, history = {}, [(0.0, 0)]
        backends.resumed_spent([resuming, {"keys": [c], "spent": bad}], todo, spent, history)
        assert spent == {} and history == []
    # counts outside 0..budget are clamped to it
    spent, history = {}, [(0.0, 0)]
    backends.resumed_spent([{"keys": [c], "spent": {c: 10**6}}], todo, spent, history)
    assert spent == {c: 100} and history == [(0.0, 100)]


@pytest.mark.parametrize(
    ("runs_of", "stop_at", "lost"),
    [
        # 70: seed 1's twin, replayed; seed 4 ends first, so 3 of the unit's 4 rows resume
        ([(130, 1), (70, 1), (110, 2), (90, 3), (40, 4)], 50, None),
        ([(40, 1), (90, 2)], 60, None),  # seed 1 has ended: a batch of one resumes batched
        ([(130, 1), (70, 1), (110, 2)], 80, 70),  # the twin ended, but its record was lost
    ],
)
def test_an_interrupted_batched_unit_resumes_from_its_saved_state(
    runs_of, stop_at, lost, tmp_path, monkeypatch
):
    """Ctrl-C after lockstep step ``stop_at`` (saves every step here): the rerun builds the
    unit of the unfinished runs again, loads its saved state and replays its actions (a
    prefix twin's environment too); every record equals an uninterrupted bench's, and
    the saves are gone at the end."""
    from nas_gym.agents.bench import run

    kwargs = json.dumps(json.loads(TINY.split(":", 1)[1]), sort_keys=True)
    specs = [RunSpec("tiny", "cifar10", "valid", b, seed, "cadam", kwargs) for b, seed in runs_of]
    backends.execute(specs, tmp_path / "whole", jobs=1, progress=False)
    expected = runs(tmp_path / "whole")

    out = tmp_path / "stopped"
    save = run.save_batch

    def save_then_stop(partial_dir, batched, *args):
        save(partial_dir, batched, *args)
        if batched.t == stop_at:
            raise KeyboardInterrupt

    monkeypatch.setattr(run, "CHECKPOINT_EVERY_S", 0.0)
    monkeypatch.setattr(run, "save_batch", save_then_stop)
    with pytest.raises(backends.BenchStopped):
        backends.execute(specs, out, jobs=1, progress=False)
    ended = {name for name, r in expected.items() if r["result"]["n_queries"] <= stop_at}
    assert set(runs(out)) == ended
    saved = sorted(p.suffix for p in (out / backends.PARTIAL_DIR).iterdir())
    assert saved == [".json", ".pt"]  # one save: each new one replaced the last
    monkeypatch.setattr(run, "save_batch", save)
    # a bench that defines these runs differently is refused before it runs anything
    other = [dataclasses.replace(s, env_kwargs='{"top_k": 4}') for s in specs
             if s.filename not in ended]  # fmt: skip
    with pytest.raises(
        ValueError,
        match=r"holds run tiny__.* made with other settings \(env_kwargs: saved '.*', "
        r"now '\{\"top_k\": 4\}'\)",
    ):
        backends.execute(other, out, jobs=1, progress=False)
    if lost is not None:
        for name in [n for n in ended if f"__{lost}__" in n]:
            (out / "runs" / name).unlink()
            ended.remove(name)
    if len(specs) == 2:  # a save whose replay does not give its rewards fails by name
        import torch

        (path,) = (out / backends.PARTIAL_DIR).glob("*.pt")
        state = torch.load(path, weights_only=True)
        state["batch"]["seeds"][0]["rewards"][3] += 1.0
        torch.save(state, path)
        failed = backends.execute(specs, out, jobs=1, progress=False).failures
        assert len(failed) == 1 and "gave other rewards" in failed[0][1]
        assert f"its last save is {path}; remove it" in failed[0][1]
        path.unlink()  # the runs start over, and still give the same records
    (listing,) = (out / backends.PARTIAL_DIR).glob("*.json") if len(specs) > 2 else [None]
    before = 0 if listing is None else sum(json.loads(listing.read_text())["spent"].values())
    shown, calls = [], []  # what the bar is given (tqdm itself draws only some of it)
    progress_text = backends.budget_progress

    def spy(spent, total, elapsed, history):
        calls.append((sum(spent.values()), list(history)))
        shown.append(progress_text(spent, total, elapsed, history))
        return shown[-1]

    monkeypatch.setattr(backends, "budget_progress", spy)
    outcome = backends.execute(specs, out, jobs=1, progress=True)
    assert outcome.n_skipped == len(ended) and outcome.n_ran == len(specs) - len(ended)
    if len(specs) > 2:  # resumed: the saved runs' budget is where progress starts, not speed
        assert shown and "left" in " ".join(shown[1:-1])
        assert before > 0 and calls[0][1][0] == (0.0, before)
        assert all(used >= before for used, _ in calls)
    got = runs(out)
    assert set(got) == set(expected) and not outcome.failures
    for name, record in got.items():
        assert record["history"] == expected[name]["history"], name
        assert record["result"]["best_valid_acc"] == expected[name]["result"]["best_valid_acc"]
        gone_before = expected[name]["result"]["n_queries"] <= stop_at
        resumed_at = None if gone_before or len(specs) == 2 else stop_at
        assert record["timing"]["resumed_at_step"] == resumed_at, name
        started_over = not gone_before and len(specs) == 2  # alone, its save removed
        size = 1 if started_over else expected[name]["timing"]["batch_size"]
        assert record["timing"]["batch_size"] == size, name  # the unit's, not the rest's
        if gone_before and lost is not None:  # its saved times, not the replay's
            assert 0 < record["timing"]["shared_cpu_s"] < record["result"]["cpu_s"]
            assert (
                record["timing"]["learn_s"]
                < got[name.replace("__70__", "__130__")]["timing"]["learn_s"]
            )
    assert not (out / backends.PARTIAL_DIR).exists()


def test_saves_that_can_resume_nothing_are_removed(tmp_path):
    """After a bench: a save whose runs all have records (they started over and ended), a
    key list whose state file was removed, a state without its list and a half-written
    file go; a save of an unfinished run stays."""
    specs = [RunSpec("rs", "cifar10", "valid", 20, seed) for seed in (1, 2)]
    backends.execute(specs, tmp_path, jobs=1, progress=False)
    partial = tmp_path / backends.PARTIAL_DIR
    partial.mkdir()
    saves = {
        "batch-done": [s.key for s in specs],
        "batch-open": [specs[0].key, RunSpec("rs", "cifar10", "valid", 20, 3).key],
        "batch-gone": [RunSpec("rs", "cifar10", "valid", 20, 4).key],
    }
    for name, keys in saves.items():
        (partial / f"{name}.json").write_text(json.dumps({"keys": keys, "specs": {}}))
        if name != "batch-gone":
            (partial / f"{name}.pt").write_bytes(b"state")
    (partial / "batch-list.json").write_text("[1, 2]")  # not a listing: never resumed
    (partial / "batch-list.pt").write_bytes(b"state")
    assert "batch-list.pt" not in {p.name for p in backends.saved_batches(partial)}
    (partial / "batch-list.json").unlink()
    (partial / "batch-list.pt").unlink()
    (partial / "batch-orphan.pt").write_bytes(b"state")  # its worker died before the list
    (partial / ".batch-open.pt.123.abc.tmp").write_bytes(b"half")  # ... or while writing
    backends.drop_finished_saves(tmp_path, partial)
    assert sorted(p.name for p in partial.iterdir()) == ["batch-open.json", "batch-open.pt"]
    (partial / "batch-open.pt").unlink()
    backends.drop_finished_saves(tmp_path, partial)
    assert not partial.exists()


def test_the_interrupted_message_counts_the_units_saved_mid_run(tmp_path, monkeypatch, capsys):
    from nas_gym.agents.bench import run

    save = run.save_batch

    def save_then_stop(partial_dir, batched, *args):
        save(partial_dir, batched, *args)
        raise KeyboardInterrupt

    monkeypatch.setattr(run, "CHECKPOINT_EVERY_S", 0.0)
    monkeypatch.setattr(run, "save_batch", save_then_stop)
    args = ["bench", "--agents", "tiny", "--variant", TINY, "--datasets", "cifar10",
            "--budgets", "30", "--seeds", "1,2", "--jobs", "1", "--out", str(tmp_path),
            "--no-plots", "--no-progress"]  # fmt: skip
    assert main(args) == 130
    err = capsys.readouterr().err
    assert (
        f"interrupted; 0 of 2 runs are saved in {tmp_path}, 1 unfinished batched unit(s) "
        "mid-run in its partial/; resume with: nas-gym bench" in err
    )
    monkeypatch.setattr(run, "save_batch", save)  # the rerun says what it resumes
    assert main(args) == 0
    partial = tmp_path / backends.PARTIAL_DIR
    assert (
        f"(0 already finished in {tmp_path}, 2 to run, 2 of them resuming from 1 saved "
        f"unit(s) in {partial})" in capsys.readouterr().err
    )
