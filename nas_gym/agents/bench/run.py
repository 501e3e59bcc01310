"""Search runs in a worker: build the env and the agent, ``learn(budget)``, return the record.

A run learns alone (:func:`run_one`), or with the other runs of its unit in lockstep
when its agent has a batched form (:func:`run_group`, CADAM through
:class:`~nas_gym.agents.cadam.batched.BatchedCADAM`). Workers only compute; the parent
writes each record (``store.py``). With
``budget_unit="query"`` the run must make exactly ``budget`` queries. With
``"unique"`` re-querying a known architecture is free: ``learn`` runs until the
environment ends the episode at ``budget`` distinct architectures (or at its step
cap), and ``n_queries`` still counts every step.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from nas_gym.agents.bench.record import (
    HISTORY_KEYS,
    RECORD_FORMAT,
    RunResult,
    agent_hyperparameters,
    arch_key,
    best_of_history,
    compact_history,
    cost_key,
    feasible_summary,
    git_state,
    machine_info,
    package_versions,
)
from nas_gym.agents.bench.spec import DEFAULT_ENV, RunSpec, base_env_id
from nas_gym.agents.bench.store import spec_differences
from nas_gym.wrappers import QueryRecorder

#: With budget_unit="unique", learn() may take at most this many steps per unique query.
UNIQUE_STEP_FACTOR = 100
#: The ``format`` of a saved batch (:func:`save_batch`).
BATCH_FILE_FORMAT = "nas_gym bench batch 1"


class EpisodeRecorder(QueryRecorder):
    """A :class:`QueryRecorder` that also notes when the first episode ended."""

    def clear(self) -> None:
        super().clear()
        self.episode_ended = False

    def step(self, action):
        out = super().step(action)
        self.episode_ended = self.episode_ended or bool(out[2] or out[3])
        return out


def quiet_version_notice() -> None:
    """Silence Gymnasium's "a newer version exists" notice for the bench's ``-v0`` ids.

    The bench's default is ``NASBench201-v0`` (its matrix spaces are what CADAM and DDAS
    were written for; ``-v1``, also accepted, is the same search with flat spaces), so
    the notice, printed once per worker, is noise here. Only that notice is filtered,
    and only in bench processes.
    """
    warnings.filterwarnings(
        "ignore",
        message=r".*is out of date\. You should consider upgrading",
        category=DeprecationWarning,
    )


def prepare_worker() -> None:
    """One torch thread per run, and pay the process's one-time torch costs before timing.

    N parallel runs then use N cores and timings are per core. The first torch
    optimizer built in a process imports ``torch._dynamo`` (about 2 s here); a
    throwaway one is built first, so no agent is charged for that import.
    """
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    quiet_version_notice()
    try:
        import torch
    except ImportError:  # pragma: no cover - the registered agents need torch anyway
        return
    torch.set_num_threads(1)
    torch.optim.Adam([torch.zeros(1, requires_grad=True)])


def _stop_at_first_episode_end(recorder: Any) -> Any:
    """An SB3 callback that stops ``learn`` when the recorded env ends its first episode."""
    from stable_baselines3.common.callbacks import BaseCallback

    class StopAtEpisodeEnd(BaseCallback):
        def _on_step(self) -> bool:
            return not recorder.episode_ended

    return StopAtEpisodeEnd()


def env_make_kwargs(spec: RunSpec, data_dir: str | None) -> dict[str, Any]:
    import gymnasium as gym

    kwargs = spec.make_kwargs()
    if data_dir is not None:
        entry = gym.spec(spec.env_id).entry_point
        cls = gym.envs.registration.load_env_creator(entry) if isinstance(entry, str) else entry
        if "data_dir" in inspect.signature(cls).parameters:
            kwargs.setdefault("data_dir", data_dir)
    return kwargs


def nb201_rank(spec: RunSpec, env_kwargs: dict[str, Any], arch_index: int) -> int:
    """1 + the number of NB201 cells strictly better on the searched split (ties share a rank)."""
    from nas_gym.benchmarks.nb201 import load_nb201

    table = load_nb201(env_kwargs.get("data_dir"))
    acc = table.accuracy(spec.dataset, spec.reward_metric, env_kwargs.get("fidelity", 200))
    return int((acc > acc[arch_index]).sum()) + 1


@dataclass
class Run:
    """One run between construction and its record: its spec, recorded env, agent and clocks."""

    spec: RunSpec
    env_kwargs: dict[str, Any]
    env: EpisodeRecorder
    agent: Any
    agent_kwargs: dict[str, Any]
    hyper: dict[str, Any]
    make_env_s: float
    make_agent_s: float
    started: float
    learn_s: float = 0.0
    cpu_s: float = 0.0
    #: seeds that shared this run's process in lockstep (1: it ran alone)
    batch_size: int = 1
    #: shorter-budget twins whose environments replay this run's actions (:func:`prefix_families`)
    followers: list[Run] = field(default_factory=list)
    #: the key of the run whose first queries this run's are (None: it searched itself)
    prefix_of: str | None = None
    #: learn CPU seconds of the leader's prefix, counted in ``cpu_s`` but spent once for both
    shared_cpu_s: float = 0.0
    finished: bool = False
    #: the lockstep step a saved batch resumed this run from (None: it ran through)
    resumed_at: int | None = None
    #: CPU seconds of building the agent (in ``cpu_s``; a resumed run's come from this process)
    make_cpu_s: float = 0.0
    #: a follower's times from a save made after it ended, when its record was lost
    saved_end: dict[str, Any] | None = None

    @property
    def timed(self) -> bool:
        """NB201 protocol (``time_budget_s``): the env ends the search before the query budget."""
        return self.env_kwargs.get("time_budget_s") is not None

    @property
    def max_steps(self) -> int:
        """Steps ``learn`` may take: the budget, or with ``"unique"`` the env's step cap."""
        if self.spec.budget_unit == "query" or self.timed:
            return self.spec.budget
        return getattr(self.env.unwrapped, "max_steps", UNIQUE_STEP_FACTOR * self.spec.budget)


def load_worker() -> None:
    """Per-process set-up before any run is timed: threads, imports, the env registry."""
    prepare_worker()
    import nas_gym  # noqa: F401  (registers the environments)
    from nas_gym.agents.registry import agent_names

    git_state()
    agent_names()  # import every agent module now, so the first run is not charged for it


def start_run(spec: RunSpec, data_dir: str | None, started: float | None = None) -> Run:
    """Build the run's environment (recorded) and its agent."""
    import gymnasium as gym

    from nas_gym.agents.registry import make_agent

    started = time.perf_counter() if started is None else started
    env_kwargs = env_make_kwargs(spec, data_dir)
    t0 = time.perf_counter()
    env = EpisodeRecorder(gym.make(spec.env_id, **env_kwargs), keys=HISTORY_KEYS)
    make_env_s = time.perf_counter() - t0
    kwargs = json.loads(spec.agent_kwargs)
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    agent = make_agent(spec.base_agent, env, seed=spec.seed, verbose=0, **kwargs)
    make_agent_s = time.perf_counter() - t0
    cpu_s = time.process_time() - cpu0
    hyper = agent_hyperparameters(agent)
    env.clear()  # construction may probe the env; only learn()'s queries count
    return Run(
        spec=spec,
        env_kwargs=env_kwargs,
        env=env,
        agent=agent,
        agent_kwargs=kwargs,
        hyper=hyper,
        make_env_s=make_env_s,
        make_agent_s=make_agent_s,
        started=started,
        cpu_s=cpu_s,
        make_cpu_s=cpu_s,
    )


def learn_alone(run: Run) -> None:
    """``agent.learn`` until the budget is spent (or the episode ends, for ``"unique"``/timed)."""
    cpu0, t0 = time.process_time(), time.perf_counter()
    if run.spec.budget_unit == "query" and not run.timed:
        run.agent.learn(run.spec.budget)
    else:
        run.agent.learn(run.max_steps, callback=_stop_at_first_episode_end(run.env))
    run.learn_s = time.perf_counter() - t0
    run.cpu_s += time.process_time() - cpu0


def run_one(spec_dict: dict[str, Any], data_dir: str | None = None) -> dict[str, Any]:
    """Execute one run and return its record (the content of ``runs/<key>.json``).

    Raises:
        RuntimeError: if the agent made a different number of queries than its budget.
    """
    started = time.perf_counter()
    load_worker()
    run = start_run(RunSpec(**spec_dict), data_dir, started)
    learn_alone(run)
    return finish_run(run)


#: (spec, record or None, error text or None), called once per run as it ends.
Emit = Callable[[dict[str, Any], "dict[str, Any] | None", "str | None"], None]


#: Lockstep steps between two progress reports of a batched unit.
PROGRESS_EVERY = 50

#: Hears, every :data:`PROGRESS_EVERY` lockstep steps of a batched unit, how many queries
#: its runs made since the last report, and :func:`budget_spent` of each unfinished run
#: (by run key).
Progress = Callable[[int, "dict[str, int]"], None]


def budget_spent(run: Run) -> int:
    """How much of its budget a run has used: its queries, or with ``budget_unit="unique"``
    the distinct architectures it has queried (the env's ``n_unique_queries``)."""
    if run.spec.budget_unit == "unique":
        spent = int(run.env.last_info.get("n_unique_queries", 0) or 0)
    else:
        spent = run.env.n_queries
    return min(spent, run.spec.budget)


#: Seconds between two saves of a batched unit's state (:func:`save_batch`); a unit also
#: saves when one of its runs ends. A save of 10 CADAM seeds writes 17 MB of networks
#: and Adam moments, plus 128 bytes per seed and step on NB201 (the action and its reward).
CHECKPOINT_EVERY_S = 300.0


def run_group(
    spec_dicts: Sequence[dict[str, Any]],
    data_dir: str | None,
    emit: Emit,
    progress: Progress | None = None,
    partial_dir: str | None = None,
) -> None:
    """Execute several runs in this process, batching the ones that can run in lockstep.

    Runs whose agents are plain :class:`~nas_gym.agents.cadam.CADAM` with one
    configuration and one network shape run together through
    :class:`~nas_gym.agents.cadam.batched.BatchedCADAM` (seeds, datasets, splits and
    budgets may differ: each run stops where it would stop alone); any other run
    learns alone. ``emit`` gets each run's record as soon as that run ends, so a
    stopped group loses only its unfinished runs; ``progress`` hears every
    :data:`PROGRESS_EVERY` lockstep steps how far the batched runs are (:data:`Progress`),
    so a long unit shows its progress before any of its runs ends. A failing
    run fails alone, or with its batch if it fails inside the batched update.

    ``partial_dir`` (the bench's ``OUT/partial``): a batch saves its state there every
    :data:`CHECKPOINT_EVERY_S` seconds and whenever one of its runs ends, and a batch of
    the same unfinished runs resumes from it (:func:`save_batch`, :func:`load_batch`).
    """
    started = time.perf_counter()
    load_worker()
    runs: list[Run] = []
    for spec_dict in spec_dicts:
        try:
            runs.append(start_run(RunSpec(**spec_dict), data_dir, started))
        except Exception as err:  # one failed run must not stop the others
            _emit(emit, spec_dict, None, f"{type(err).__name__}: {err}")
    for batch in lockstep_batches(prefix_families(runs)):  # a saved batch of one resumes batched
        alone = len(batch) == 1 and not batch[0].followers
        if alone and (
            partial_dir is None or not batch_file(partial_dir, [batch[0].spec.key]).is_file()
        ):
            _finish_and_emit(batch[0], emit, learn_alone)
        else:
            _learn_batched(batch, emit, progress, partial_dir)


def batch_key(spec: RunSpec) -> tuple[str, ...] | None:
    """Runs with equal keys may run in lockstep in one process; None: this run runs alone.

    A run has a batched form when its registered agent builds a plain
    :class:`~nas_gym.agents.cadam.CADAM` and its search is not timed. The key is the
    agent configuration and the environment configuration; seed, dataset, searched
    split and budget may differ (CADAM's schedule does not depend on them; a run whose
    network shapes still differ is split off in the worker, :func:`lockstep_batches`).
    """
    from nas_gym.agents.cadam import CADAM
    from nas_gym.agents.registry import agent_class

    if agent_class(spec.base_agent) is not CADAM:
        return None
    if json.loads(spec.env_kwargs).get("time_budget_s") is not None:
        return None
    return (spec.base_agent, spec.agent_kwargs, spec.env_id, spec.env_kwargs, spec.budget_unit)


def prefix_key(spec: RunSpec) -> tuple[str, ...] | None:
    """Runs with equal keys make the same queries up to the smaller budget; None: no such twin.

    A batched agent's search does not depend on its budget: CADAM's exploration schedule
    counts steps, and its top-K state does not see ``max_queries``. So with constant
    learning rates (checked on the built agents, :func:`prefix_families`) a budget-B run
    is the first B queries of a longer run with the same seed, dataset, split,
    configuration and budget unit.
    """
    key = batch_key(spec)
    return None if key is None else (*key, spec.dataset, spec.reward_metric, str(spec.seed))


def prefix_families(runs: Sequence[Run]) -> list[Run]:
    """The runs that must search; each shorter twin becomes a follower of its longest twin.

    A follower does not search: its own environment is stepped with the actions its
    leader sends to the leader's environment, and it ends where its own environment
    ends the episode (its budget), so its record is what the run alone would write.
    Runs with a learning-rate schedule (whose progress depends on the step total) or
    without a batched form search themselves.
    """
    from nas_gym.agents.cadam.batched import batch_mismatch, constant_schedules

    families: dict[tuple[str, ...], list[Run]] = {}
    for run in runs:
        key = prefix_key(run.spec)
        shareable = (
            key is not None
            and not run.timed
            and batch_mismatch(run.agent, run.agent) is None
            and constant_schedules(run.agent)
        )
        families.setdefault(key if shareable else (str(id(run)),), []).append(run)
    leaders = []
    for family in families.values():
        leader, *rest = sorted(family, key=lambda run: -run.max_steps)
        leader.followers = rest
        for follower in rest:
            follower.prefix_of = leader.spec.key
        leaders.append(leader)
    return leaders


def lockstep_batches(runs: Sequence[Run]) -> list[list[Run]]:
    """Split runs into batches that :class:`BatchedCADAM` can run in lockstep (else alone)."""
    from nas_gym.agents.cadam.batched import batch_mismatch, constant_schedules

    batches: list[list[Run]] = []
    for run in runs:
        home = None
        if not run.timed and batch_mismatch(run.agent, run.agent) is None:
            for batch in batches:
                first = batch[0]
                if first.timed or batch_mismatch(first.agent, run.agent) is not None:
                    continue
                if first.max_steps != run.max_steps and not constant_schedules(run.agent):
                    continue  # a schedule's progress depends on the step total
                home = batch
                break
        if home is None:
            batches.append([run])
        else:
            home.append(run)
    return batches


class EmitError(Exception):
    """``emit`` itself failed (e.g. the parent could not write a record): stop the group."""


def _finish_and_emit(run: Run, emit: Emit, learn: Callable[[Run], None] | None = None) -> None:
    try:
        if learn is not None:
            learn(run)
        record, error = finish_run(run), None
    except Exception as err:  # one failed run must not stop the others
        record, error = None, f"{type(err).__name__}: {err}"
    _emit(emit, asdict(run.spec), record, error)


def _emit(emit: Emit, spec: dict[str, Any], record: Any, error: str | None) -> None:
    try:
        emit(spec, record, error)
    except Exception as err:
        raise EmitError(str(err)) from err


def _learn_batched(
    batch: list[Run],
    emit: Emit,
    progress: Progress | None = None,
    partial_dir: str | None = None,
) -> None:
    """Lockstep learning; each run's wall and CPU time is its share of every step it took part in."""
    from nas_gym.agents.cadam.batched import BatchedCADAM
    from nas_gym.agents.common.rng import private_rng

    clock = [time.perf_counter(), time.process_time()]  # reading a save counts in step 1
    saved = load_batch(partial_dir, batch)
    if saved is not None:  # the saved order of the rows
        order = {key: i for i, key in enumerate(saved["keys"])}
        batch.sort(key=lambda run: order[run.spec.key])
    queries = [0]  # made since the last progress report
    learn_cpu = [0.0] * len(batch)  # each leader's learn CPU so far (a follower's share)
    for run in batch:
        run.batch_size = len(batch)
        for follower in run.followers:
            follower.batch_size = len(batch)
            with private_rng(follower.agent):
                follower.agent.env.reset()  # as its own learn() would (same seed, same env)
    if saved is not None:
        learn_cpu = resume_timing(batch, saved, emit)
    last_save = [time.perf_counter(), len(batch)]  # when, and how many runs were going

    def on_step(t: int, seeds: list[int]) -> None:
        now, cpu = time.perf_counter(), time.process_time()
        for s in seeds:
            batch[s].learn_s += (now - clock[0]) / len(seeds)
            batch[s].cpu_s += (cpu - clock[1]) / len(seeds)
            learn_cpu[s] += (cpu - clock[1]) / len(seeds)
        clock[:] = [now, cpu]  # the followers' steps count in the next step's share
        for s in seeds:
            queries[0] += replay_step(batch[s], batched.last_action(s), learn_cpu[s], emit)
        queries[0] += len(seeds)
        if progress is not None and (t + 1) % PROGRESS_EVERY == 0:
            going = [
                run
                for i, leader in enumerate(batch)
                if i not in finished
                for run in (leader, *leader.followers)
                if not run.finished
            ]
            progress(queries[0], {run.spec.key: budget_spent(run) for run in going})
            queries[0] = 0

    finished: set[int] = set()

    def on_finish(s: int) -> None:
        finished.add(s)
        _finish_and_emit(batch[s], emit)  # closes the run's environment
        for follower in batch[s].followers:
            if not follower.finished:  # cannot happen: a follower's budget is the smaller
                follower.finished = True
                _emit(emit, asdict(follower.spec), None, "its leader ended before its budget")
        clock[:] = [time.perf_counter(), time.process_time()]

    def after_step(t: int) -> None:
        going = len(batched.active)
        if going < last_save[1] or time.perf_counter() - last_save[0] >= CHECKPOINT_EVERY_S:
            save_batch(partial_dir, batched, batch, learn_cpu)
            last_save[:] = [time.perf_counter(), going]

    try:
        batched = BatchedCADAM.from_agents([run.agent for run in batch])
        batched.learn(
            [run.max_steps for run in batch],
            on_step=on_step,
            on_finish=on_finish,
            after_step=after_step if partial_dir is not None else None,
            resume=None if saved is None else saved["batch"],
        )
        if progress is not None and queries[0]:  # the steps after the last full interval
            progress(queries[0], {})
        remove_saved_batch(partial_dir, batch)
    except EmitError:
        raise
    except Exception as err:  # the batch fails together; finished runs are already out
        message = f"{type(err).__name__} in a batch of {len(batch)} runs: {err}"
        for path in _saved_files(partial_dir, batch) if partial_dir is not None else ():
            message += f" (its last save is {path}; remove it to start these runs over)"
        for s, run in enumerate(batch):
            for member in ([] if s in finished else [run]) + run.followers:
                if not member.finished:
                    member.finished = True
                    _emit(emit, asdict(member.spec), None, message)


def batch_file(partial_dir: str, keys: Sequence[str]) -> Path:
    """Where the state of a batch of these (unfinished) runs is saved: named by their keys.
    Beside it, ``.json`` lists the keys and every run's spec (:func:`saved_batches`)."""
    digest = hashlib.sha256("\n".join(sorted(keys)).encode()).hexdigest()[:20]
    return Path(partial_dir) / f"batch-{digest}.pt"


def save_batch(
    partial_dir: str | None, batched: Any, batch: Sequence[Run], learn_cpu: Sequence[float]
) -> None:
    """Write the batch's unfinished runs' state, atomically, and remove its older saves.

    The file holds tensors, numbers and strings only (``torch.load(weights_only=True)``
    reads it without running code): :meth:`BatchedCADAM.state_dict`, the runs' keys in
    row order and specs, and the time each leader and follower has spent so far. The
    ``.json`` beside it (keys, specs, and the budget each run had used) is written first,
    so a save is never found without its keys.
    """
    import io

    import torch

    from nas_gym.data import atomic_write_bytes, atomic_write_text

    if partial_dir is None:
        return
    leaders = [batch[s] for s in batched.active]
    runs = [run for leader in leaders for run in (leader, *leader.followers)]
    timing = {
        run.spec.key: {
            "learn_s": run.learn_s,
            "learn_cpu_s": run.cpu_s - run.make_cpu_s,
            "shared_cpu_s": run.shared_cpu_s,
            "ended": run.finished,
            "batch_size": run.batch_size,
        }
        for run in runs
    }
    keys = [run.spec.key for run in leaders]
    specs = {run.spec.key: asdict(run.spec) for run in runs}
    # what each run had used: a resumed bench's progress bar starts from it (not as speed)
    spent = {run.spec.key: run.spec.budget if run.finished else budget_spent(run) for run in runs}
    state = {
        "format": BATCH_FILE_FORMAT,
        "keys": keys,
        "specs": specs,
        "batch": batched.state_dict(),
        "timing": timing,
        "learn_cpu": [float(learn_cpu[s]) for s in batched.active],
    }
    buf = io.BytesIO()
    torch.save(state, buf)
    path = batch_file(partial_dir, keys)
    listing = {"keys": keys, "specs": specs, "spent": spent}
    atomic_write_text(path.with_suffix(".json"), json.dumps(listing))
    atomic_write_bytes(path, buf.getvalue())
    for older in _saved_files(partial_dir, batch):
        if older != path:
            older.unlink(missing_ok=True)
            older.with_suffix(".json").unlink(missing_ok=True)


def saved_batches(
    partial_dir: str | os.PathLike[str], complete: bool = True
) -> dict[Path, dict[str, Any]]:
    """Every saved batch in ``partial_dir``: its state file and ``{"keys": the unfinished
    leaders' run keys, "specs": {key: spec} of them and their followers, "spent": {key:
    budget used}}`` (``"spent"`` is missing from saves made before it was kept; with
    ``complete=False`` also the lists whose state file is missing)."""
    found = {}
    for path in sorted(Path(partial_dir).glob("batch-*.json")):
        if complete and not path.with_suffix(".pt").is_file():
            continue
        try:
            listing = json.loads(path.read_text())
        except (OSError, ValueError):
            continue  # not ours, or unreadable: never resumed
        if isinstance(listing, dict):
            found[path.with_suffix(".pt")] = listing
    return found


def _saved_files(partial_dir: str, batch: Sequence[Run]) -> list[Path]:
    """Saves of this batch at any stage: one per subset of its runs that was still going."""
    names = {run.spec.key for run in batch}
    saves = saved_batches(partial_dir, complete=False)
    return [path for path, saved in saves.items() if set(saved.get("keys", ())) <= names]


def load_batch(partial_dir: str | None, batch: Sequence[Run]) -> dict[str, Any] | None:
    """The saved state of exactly these runs (the unfinished ones of an interrupted unit), or None.

    Raises:
        ValueError: the file exists but is not such a state, or its runs were made with
            other settings (the message names the file to remove).
    """
    import torch

    if partial_dir is None:
        return None
    path = batch_file(partial_dir, [run.spec.key for run in batch])
    if not path.is_file():
        return None
    try:
        state = torch.load(path, weights_only=True, map_location="cpu")
        ok = state.get("format") == BATCH_FILE_FORMAT and sorted(state["keys"]) == sorted(
            run.spec.key for run in batch
        )
    except Exception as err:  # unreadable: say which file, do not guess
        raise ValueError(f"{path} is not a saved batch ({err}); remove it to start over") from None
    if not ok:
        raise ValueError(f"{path} is not a saved state of these runs; remove it to start over")
    for run in (run for leader in batch for run in (leader, *leader.followers)):
        other = state["specs"].get(run.spec.key)
        if other is not None and other != asdict(run.spec):
            raise ValueError(
                f"{path} was saved by run {run.spec.key} with other settings "
                f"({spec_differences(other, asdict(run.spec))}); remove it to start over, "
                "or use another --out"
            )
    return state


def check_saves(partial_dir: str | os.PathLike[str], todo: Sequence[RunSpec]) -> None:
    """Refuse, before anything runs, a save of runs that this bench defines differently
    (e.g. other ``--env-kwargs``): resuming it would carry the old search on under the
    new settings."""
    specs = {spec.key: asdict(spec) for spec in todo}
    for path, saved in saved_batches(partial_dir).items():
        for key, spec in saved.get("specs", {}).items():
            if key in specs and specs[key] != spec:
                raise ValueError(
                    f"{path} holds run {key} made with other settings "
                    f"({spec_differences(spec, specs[key])}); remove it to start that run "
                    "over, or use another --out"
                )


def resume_timing(batch: Sequence[Run], saved: dict[str, Any], emit: Emit) -> list[float]:
    """Put back each run's time so far, and step the followers' environments through their
    leaders' saved actions (as the lockstep steps did). Returns each leader's learn CPU."""
    for leader, seed_state in zip(batch, saved["batch"]["seeds"], strict=True):
        for run in (leader, *leader.followers):
            spent = saved["timing"].get(run.spec.key)
            if spent is None:
                continue
            run.batch_size = spent.get("batch_size", run.batch_size)  # the unit's, not the rest's
            if spent["ended"]:  # it ended before the save, but its record was not written
                run.saved_end = spent
                continue
            run.learn_s += spent["learn_s"]
            run.cpu_s += spent["learn_cpu_s"]
            run.resumed_at = saved["batch"]["t"]
        for action in seed_state["actions"].numpy():
            replay_step(leader, action, 0.0, emit)
    return list(saved["learn_cpu"])


def remove_saved_batch(partial_dir: str | None, batch: Sequence[Run]) -> None:
    """The batch ended: its saves are no longer needed."""
    if partial_dir is not None:
        for path in _saved_files(partial_dir, batch):
            path.unlink(missing_ok=True)
            path.with_suffix(".json").unlink(missing_ok=True)


def replay_step(leader: Run, action: Any, learn_cpu_s: float, emit: Emit) -> int:
    """Send ``leader``'s last action to its unfinished followers; finish those whose episode ended.

    Each follower's environment steps through its own agent's vectorized wrapper, inside
    its own random streams, exactly as in its own ``learn``. A finished follower's time is
    the leader's so far. Returns the number of follower queries made.
    """
    from nas_gym.agents.common.rng import private_rng

    n = 0
    for follower in leader.followers:
        if follower.finished:
            continue
        with private_rng(follower.agent):
            follower.agent.env.step(action)
        n += 1
        if follower.env.episode_ended:
            follower.finished = True
            spent = follower.saved_end or {"learn_s": leader.learn_s, "learn_cpu_s": learn_cpu_s}
            follower.learn_s = spent["learn_s"]
            follower.shared_cpu_s = spent["learn_cpu_s"]
            follower.cpu_s += spent["learn_cpu_s"]
            _finish_and_emit(follower, emit)
    return n


def settings_after_learn(run: Run) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    """The agent's public values after ``learn``, and those it changed: ``{key: [before, after]}``.

    Some agents resolve settings from the budget inside ``learn`` (DDAS scales its
    phase lengths to ``total_timesteps``), so the values read at construction are not
    the ones that ran; the record keeps both. Public run counters change too (DDAS's
    ``n_ou_bursts``, the OU noise bursts it fired) and are kept the same way.
    """
    after = agent_hyperparameters(run.agent)
    changed = {
        key: [run.hyper.get(key), value]
        for key, value in after.items()
        if run.hyper.get(key) != value
    }
    return after, changed


def finish_run(run: Run) -> dict[str, Any]:
    """Check the run's queries against its budget and build its record.

    Raises:
        RuntimeError: if the agent made a different number of queries than its budget.
    """
    spec, env, agent, env_kwargs = run.spec, run.env, run.agent, run.env_kwargs
    timed = run.timed
    make_agent_s, learn_s, cpu_s = run.make_agent_s, run.learn_s, run.cpu_s
    history = env.history
    akey = arch_key(history)
    n_unique = len(set(history[akey]))
    if spec.budget_unit == "query" and not timed and env.n_queries != spec.budget:
        raise RuntimeError(
            f"{spec.key}: agent {spec.base_agent!r} made {env.n_queries} queries in "
            f"learn({spec.budget}); the bench needs exactly {spec.budget}"
        )
    if spec.budget_unit == "unique" and n_unique > spec.budget:
        raise RuntimeError(
            f"{spec.key}: {n_unique} distinct architectures exceed the unique budget {spec.budget}"
        )
    pos = best_of_history(history, spec.reward_metric)
    one_episode = all(start in (0, env.n_queries) for start in env.episode_starts)
    env_best = env.last_info.get("best_arch_index")
    constrained = "feasible" in history and any(f is not None for f in history["feasible"])
    if one_episode and not constrained and env_best is not None and env_best != history[akey][pos]:
        raise RuntimeError(
            f"{spec.key}: best architecture from the history ({history[akey][pos]}) "
            f"differs from the environment's ({env_best})"
        )
    inner = env.unwrapped
    hyper, changed = settings_after_learn(run)
    wall_s = make_agent_s + learn_s
    fraction, bf_acc, bf_cost = feasible_summary(history, spec.reward_metric)
    ckey = cost_key(history)
    test = history.get("test_acc")
    result = RunResult(
        agent=spec.agent,
        env_id=spec.env_id,
        dataset=spec.dataset,
        reward_metric=spec.reward_metric,
        budget=spec.budget,
        budget_unit=spec.budget_unit,
        seed=spec.seed,
        best_arch=str(history[akey][pos]),
        best_valid_acc=float(
            history["valid_acc"][pos]
            if history["valid_acc_mean"][pos] is None
            else history["valid_acc_mean"][pos]
        ),
        best_test_acc=None if not test or test[pos] is None else float(test[pos]),
        best_found_at=pos + 1,
        best_rank=nb201_rank(spec, env_kwargs, history[akey][pos])
        if base_env_id(spec.env_id) == DEFAULT_ENV
        else None,
        n_queries=env.n_queries,
        n_unique_queries=n_unique,
        feasible_fraction=fraction,
        best_feasible_acc=bf_acc,
        best_feasible_cost=bf_cost,
        best_cost=None if ckey is None else history[ckey][pos],
        wall_s=wall_s,
        agent_s=wall_s - env.env_s,
        env_s=env.env_s,
        cpu_s=cpu_s,
    )
    optimum = {}
    if hasattr(inner, "optimum_acc"):
        optimum = {
            "optimum_index": int(inner.optimum_index),
            "optimum_acc": float(inner.optimum_acc),
        }
    record = {
        "format": RECORD_FORMAT,
        "spec": asdict(spec),
        "result": asdict(result),
        "env": {
            "id": spec.env_id,
            "kwargs": {k: v for k, v in env_kwargs.items() if k != "data_dir"},
            **optimum,
        },
        "agent_class": f"{type(agent).__module__}.{type(agent).__qualname__}",
        "agent_kwargs": run.agent_kwargs,
        "hyperparameters": hyper,
        "hyperparameters_set_by_learn": changed,
        "timing": {
            "make_env_s": run.make_env_s,
            "make_agent_s": make_agent_s,
            "learn_s": learn_s,
            "wall_s": wall_s,
            "env_s": env.env_s,
            "env_step_s": env.env_step_s,
            "env_reset_s": env.env_reset_s,
            "agent_s": wall_s - env.env_s,
            "cpu_s": cpu_s,
            "process_s": time.perf_counter() - run.started,
            "batch_size": run.batch_size,
            "prefix_of": run.prefix_of,
            "shared_cpu_s": run.shared_cpu_s,
            "resumed_at_step": run.resumed_at,
        },
        "budget": {
            "unit": spec.budget_unit,
            "max_steps": getattr(env.unwrapped, "max_steps", None),
            "step_cap_reached": bool(env.last_info.get("step_cap_reached", False)),
        },
        "episode_starts": env.episode_starts,
        "history": compact_history(history),
        "versions": package_versions(),
        "machine": machine_info(),
    }
    env.close()
    return record
