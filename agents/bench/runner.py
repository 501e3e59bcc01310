"""Run agents x datasets x reward metrics x budgets x seeds as independent search runs.

Each run builds a fresh ``NASBench201-v0`` environment with ``max_queries=budget``,
wraps it in :class:`nas_gym.wrappers.QueryRecorder`, builds the agent through
:func:`agents.registry.make_agent` with the run's seed, calls ``learn(budget)`` and
checks that exactly ``budget`` queries were made. Workers only compute; the parent
process writes one JSON per run (atomically), so a directory of finished runs is
the checkpoint a re-run resumes from, locally or on a Ray cluster alike.
"""

from __future__ import annotations

import functools
import json
import os
import platform
import re
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from nas_gym.data import atomic_write_text

ENV_ID = "NASBench201-v0"
RECORD_FORMAT = 1
BACKENDS: tuple[str, ...] = ("local", "ray")
_LABEL_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")

#: Attributes of SB3-style agents that are run state, not hyperparameters.
_RUNTIME_ATTRS = frozenset(
    {
        "num_timesteps",
        "start_time",
        "verbose",
        "device",
        "seed",
        "n_envs",
        "tensorboard_log",
        "ep_info_buffer",
        "ep_success_buffer",
    }
)


@dataclass(frozen=True)
class RunSpec:
    """One search run. ``agent`` is the label in file names; ``base_agent`` the registry name."""

    agent: str
    dataset: str
    reward_metric: str
    budget: int
    seed: int
    base_agent: str = ""
    #: JSON object of keyword overrides passed to ``make_agent`` (sorted keys).
    agent_kwargs: str = "{}"

    def __post_init__(self) -> None:
        if not self.base_agent:
            object.__setattr__(self, "base_agent", self.agent)

    @property
    def key(self) -> str:
        return f"{self.agent}__{self.dataset}__{self.reward_metric}__{self.budget}__{self.seed}"

    @property
    def filename(self) -> str:
        return f"{self.key}.json"


@dataclass(frozen=True)
class Variant:
    """A labelled agent: a registered agent with keyword overrides (``--variant``)."""

    label: str
    base_agent: str
    kwargs: dict[str, Any] = field(default_factory=dict)

    @property
    def kwargs_json(self) -> str:
        return json.dumps(self.kwargs, sort_keys=True)


# -- parsing -------------------------------------------------------------------
def parse_list(name: str, text: str) -> list[str]:
    """Comma-separated list without empty or repeated items."""
    items = [item.strip() for item in str(text).split(",")]
    if not items or any(not item for item in items):
        raise ValueError(f"{name}: {text!r} is not a comma-separated list of names")
    if len(set(items)) != len(items):
        raise ValueError(f"{name}: {text!r} repeats an item")
    return items


def parse_int_list(name: str, text: str, minimum: int = 0) -> list[int]:
    """Integers and inclusive ranges, e.g. ``"1-10"``, ``"1,3,5"``, ``"1-3,7"``."""
    out: list[int] = []
    for part in parse_list(name, text):
        match = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if not match:
            raise ValueError(f"{name}: {part!r} in {text!r} is not an integer or a range like 1-10")
        lo = int(match.group(1))
        hi = int(match.group(2)) if match.group(2) is not None else lo
        if hi < lo:
            raise ValueError(f"{name}: range {part!r} ends before it starts")
        if lo < minimum:
            raise ValueError(f"{name}: {lo} is below the minimum {minimum}")
        out.extend(range(lo, hi + 1))
    if len(set(out)) != len(out):
        raise ValueError(f"{name}: {text!r} repeats a value")
    return out


def parse_variant(text: str) -> Variant:
    """``LABEL=AGENT:JSON``, e.g. ``cadam-lr1e-4=cadam:{"actor_lr": 1e-4}``."""
    label, sep, rest = text.partition("=")
    base, sep2, kwargs_text = rest.partition(":")
    if not sep or not sep2 or not label or not base:
        raise ValueError(
            f"--variant {text!r}: expected LABEL=AGENT:JSON, e.g. 'cadam-x=cadam:{{}}'"
        )
    if not _LABEL_RE.match(label) or "__" in label:
        raise ValueError(
            f"--variant label {label!r}: use letters, digits, '.', '-', '_' (no '__'), "
            "since it becomes part of file names"
        )
    try:
        kwargs = json.loads(kwargs_text)
    except json.JSONDecodeError as err:
        raise ValueError(
            f"--variant {label}: {kwargs_text!r} is not valid JSON ({err.msg})"
        ) from None
    if not isinstance(kwargs, dict):
        raise ValueError(
            f"--variant {label}: the overrides must be a JSON object, got {kwargs_text!r}"
        )
    return Variant(label, base.strip(), kwargs)


def build_specs(
    agents: Sequence[str],
    datasets: Sequence[str],
    reward_metrics: Sequence[str],
    budgets: Sequence[int],
    seeds: Sequence[int],
    variants: Sequence[Variant] = (),
    known_agents: Iterable[str] | None = None,
) -> list[RunSpec]:
    """The grid of runs, validated: unknown names raise ``ValueError`` naming what is allowed."""
    from nas_gym.benchmarks.nb201 import DATASETS, SPLITS

    if known_agents is None:
        from agents.registry import agent_names

        known_agents = agent_names()
    known = tuple(known_agents)
    by_label = {}
    for variant in variants:
        if variant.label in known:
            raise ValueError(
                f"--variant label {variant.label!r} is already a registered agent name"
            )
        if variant.base_agent not in known:
            raise ValueError(
                f"--variant {variant.label}: unknown agent {variant.base_agent!r}; allowed: {', '.join(known)}"
            )
        by_label[variant.label] = variant
    for agent in agents:
        if agent not in known and agent not in by_label:
            extra = f"; variants: {', '.join(by_label)}" if by_label else ""
            raise ValueError(f"unknown agent {agent!r}; allowed: {', '.join(known)}{extra}")
    for dataset in datasets:
        if dataset not in DATASETS:
            raise ValueError(f"unknown dataset {dataset!r}; allowed: {', '.join(DATASETS)}")
    for metric in reward_metrics:
        if metric not in SPLITS:
            raise ValueError(f"unknown reward metric {metric!r}; allowed: {', '.join(SPLITS)}")
    for budget in budgets:
        if budget < 1:
            raise ValueError(f"budget {budget} must be a positive number of queries")
    specs = []
    for agent in agents:
        variant = by_label.get(agent)
        base = variant.base_agent if variant else agent
        kwargs = variant.kwargs_json if variant else "{}"
        for dataset in datasets:
            for metric in reward_metrics:
                for budget in budgets:
                    for seed in seeds:
                        specs.append(RunSpec(agent, dataset, metric, budget, seed, base, kwargs))
    return specs


# -- one run -------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def _git_state() -> dict[str, Any]:
    """Commit of the source tree the agents came from, and whether it had local changes.

    Cached per process and taken before the agents are imported, so it describes the
    code a worker actually runs even if the checkout moves on during a long bench.
    """
    import subprocess

    repo = Path(__file__).resolve().parents[2]

    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(
                ["git", "-C", str(repo), *args],
                capture_output=True,
                text=True,
                timeout=10,
                check=True,
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout.strip()

    commit = git("rev-parse", "HEAD")
    if not commit:
        return {}
    dirty = git("status", "--porcelain", "--untracked-files=no", "--", "agents", "nas_gym")
    return {"git_commit": commit, "git_dirty": bool(dirty)}


def package_versions() -> dict[str, Any]:
    """Versions of what a run's numbers depend on (and the source commit, when known)."""
    import gymnasium
    import numpy

    import nas_gym

    versions: dict[str, Any] = {
        "python": platform.python_version(),
        "nas_gym": nas_gym.__version__,
        "numpy": numpy.__version__,
        "gymnasium": gymnasium.__version__,
    }
    for name in ("torch", "stable_baselines3"):
        module = sys.modules.get(name)
        if module is not None:
            versions[name] = getattr(module, "__version__", "?")
    versions.update(_git_state())
    return versions


def _jsonable(value: Any, depth: int = 0) -> Any:
    """JSON form of a hyperparameter value: scalars as is, containers recursively, else repr."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else repr(value)
    if depth < 3 and isinstance(value, list | tuple):
        return [_jsonable(v, depth + 1) for v in value]
    if depth < 3 and isinstance(value, dict):
        return {str(k): _jsonable(v, depth + 1) for k, v in value.items()}
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        return _jsonable(value.item(), depth)
    if isinstance(value, type) or callable(value):
        return getattr(value, "__qualname__", repr(value))
    return repr(value)[:200]


def agent_hyperparameters(agent: Any) -> dict[str, Any]:
    """Public settings of an agent, read before it learns.

    Uses the agent's own ``hyperparameters()`` when it has one; otherwise the public
    plain-valued attributes (SB3 keeps its hyperparameters as attributes), skipping
    run state such as ``num_timesteps``.
    """
    own = getattr(agent, "hyperparameters", None)
    if callable(own):
        return {str(k): _jsonable(v) for k, v in dict(own()).items()}
    out: dict[str, Any] = {}
    for name, value in sorted(vars(agent).items()):
        if name.startswith("_") or name in _RUNTIME_ATTRS:
            continue
        if value is None or isinstance(value, bool | int | float | str):
            out[name] = _jsonable(value)
        elif name in ("policy_kwargs", "train_freq", "action_noise", "replay_buffer_kwargs"):
            out[name] = _jsonable(value)
        elif name == "learning_rate" or name.endswith("_schedule"):
            out[name] = _jsonable(value)
    return out


def _prepare_worker() -> None:
    """One torch thread per run, and pay the process's one-time torch costs before timing.

    N parallel runs then use N cores and timings are per core. The first torch
    optimizer built in a process imports ``torch._dynamo`` (about 2 s here); a
    throwaway one is built first, so no agent is charged for that import.
    """
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    try:
        import torch
    except ImportError:  # pragma: no cover - the registered agents need torch anyway
        return
    torch.set_num_threads(1)
    torch.optim.Adam([torch.zeros(1, requires_grad=True)])


def best_of_history(history: dict[str, list[Any]], reward_metric: str) -> int:
    """Position of the first query reaching the highest accuracy on the searched split."""
    scores = history["valid_acc" if reward_metric == "valid" else "test_acc"]
    best, best_pos = float("-inf"), -1
    for pos, score in enumerate(scores):
        if score > best:
            best, best_pos = score, pos
    return best_pos


def run_one(spec_dict: dict[str, Any], data_dir: str | None = None) -> dict[str, Any]:
    """Execute one run and return its record (the content of ``runs/<key>.json``).

    Raises:
        RuntimeError: if the agent made a different number of queries than its budget.
    """
    start_total = time.perf_counter()
    _prepare_worker()
    import gymnasium as gym

    import nas_gym  # noqa: F401  (registers the environments)
    from agents.registry import agent_names, make_agent
    from nas_gym.wrappers import QueryRecorder

    _git_state()
    agent_names()  # import every agent module now, so the first run of a worker is not charged for it

    spec = RunSpec(**spec_dict)
    env_kwargs: dict[str, Any] = {
        "dataset": spec.dataset,
        "reward_metric": spec.reward_metric,
        "max_queries": spec.budget,
    }
    if data_dir is not None:
        env_kwargs["data_dir"] = data_dir
    t0 = time.perf_counter()
    env = QueryRecorder(gym.make(ENV_ID, **env_kwargs))
    make_env_s = time.perf_counter() - t0
    kwargs = json.loads(spec.agent_kwargs)

    cpu0 = time.process_time()
    t0 = time.perf_counter()
    agent = make_agent(spec.base_agent, env, seed=spec.seed, verbose=0, **kwargs)
    make_agent_s = time.perf_counter() - t0
    hyper = agent_hyperparameters(agent)
    env.clear()  # construction may probe the env; only learn()'s queries count

    t0 = time.perf_counter()
    agent.learn(spec.budget)
    learn_s = time.perf_counter() - t0
    cpu_s = time.process_time() - cpu0
    if env.n_queries != spec.budget:
        raise RuntimeError(
            f"{spec.key}: agent {spec.base_agent!r} made {env.n_queries} queries in "
            f"learn({spec.budget}); the bench needs exactly {spec.budget}"
        )
    history = env.history
    pos = best_of_history(history, spec.reward_metric)
    one_episode = all(start in (0, spec.budget) for start in env.episode_starts)
    if one_episode and env.last_info.get("best_arch_index") != history["arch_index"][pos]:
        raise RuntimeError(
            f"{spec.key}: best architecture from the history ({history['arch_index'][pos]}) "
            f"differs from the environment's ({env.last_info.get('best_arch_index')})"
        )
    inner = env.unwrapped
    wall_s = make_agent_s + learn_s
    result = {
        "agent": spec.agent,
        "dataset": spec.dataset,
        "reward_metric": spec.reward_metric,
        "budget": spec.budget,
        "seed": spec.seed,
        "best_arch_index": int(history["arch_index"][pos]),
        "best_valid_acc": float(history["valid_acc"][pos]),
        "best_test_acc": float(history["test_acc"][pos]),
        "best_found_at": pos + 1,
        "n_queries": env.n_queries,
        "n_unique_queries": len(set(history["arch_index"])),
        "wall_s": wall_s,
        "agent_s": wall_s - env.env_s,
        "env_s": env.env_s,
        "cpu_s": cpu_s,
    }
    record = {
        "format": RECORD_FORMAT,
        "spec": asdict(spec),
        "result": result,
        "env": {
            "id": ENV_ID,
            "kwargs": {k: v for k, v in env_kwargs.items() if k != "data_dir"},
            "optimum_index": int(inner.optimum_index),
            "optimum_acc": float(inner.optimum_acc),
        },
        "agent_class": f"{type(agent).__module__}.{type(agent).__qualname__}",
        "agent_kwargs": kwargs,
        "hyperparameters": hyper,
        "timing": {
            "make_env_s": make_env_s,
            "make_agent_s": make_agent_s,
            "learn_s": learn_s,
            "wall_s": wall_s,
            "env_s": env.env_s,
            "env_step_s": env.env_step_s,
            "env_reset_s": env.env_reset_s,
            "agent_s": wall_s - env.env_s,
            "cpu_s": cpu_s,
            "process_s": time.perf_counter() - start_total,
        },
        "episode_starts": env.episode_starts,
        "history": {k: list(v) for k, v in history.items()},
        "versions": package_versions(),
        "machine": {
            "platform": platform.platform(),
            "machine": platform.machine(),
            "cpu_count": os.cpu_count(),
        },
    }
    env.close()
    return record


# -- many runs -----------------------------------------------------------------
def load_record(path: Path) -> dict[str, Any] | None:
    """A finished run's record, or None when the file is missing or unreadable (rerun it)."""
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("format") != RECORD_FORMAT:
        return None
    return record


def load_all_records(out_dir: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Every finished run in ``out_dir/runs``, sorted by file name."""
    runs = Path(out_dir) / "runs"
    records = []
    for path in sorted(runs.glob("*.json")):
        record = load_record(path)
        if record is not None:
            records.append(record)
    return records


def split_done(specs: Sequence[RunSpec], out_dir: Path) -> tuple[list[RunSpec], list[RunSpec]]:
    """Partition into (finished, to run); a finished file made with other settings is an error."""
    done, todo = [], []
    for spec in specs:
        record = load_record(out_dir / "runs" / spec.filename)
        if record is None:
            todo.append(spec)
            continue
        if record.get("spec") != asdict(spec):
            raise ValueError(
                f"{out_dir / 'runs' / spec.filename} was made with other settings "
                f"({record.get('spec')}); use another --out directory or agent label"
            )
        done.append(spec)
    return done, todo


@dataclass
class BenchOutcome:
    """What :func:`execute` did."""

    n_total: int
    n_skipped: int
    n_ran: int
    failures: list[tuple[str, str]]
    wall_s: float
    #: CPU seconds of the runs that ran (make_agent + learn): the load-independent cost.
    cpu_s: float = 0.0


def _write_record(out_dir: Path, record: dict[str, Any]) -> None:
    spec = RunSpec(**record["spec"])
    atomic_write_text(out_dir / "runs" / spec.filename, json.dumps(record, indent=None) + "\n")


def _run_local(
    todo: Sequence[RunSpec],
    jobs: int,
    data_dir: str | None,
    on_done: Callable[[RunSpec, dict[str, Any] | None, str | None], None],
) -> None:
    """Worker processes (spawned: no state inherited from the parent, e.g. torch threads)."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed

    workers = max(1, min(jobs, len(todo)))
    with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn")) as pool:
        futures = {pool.submit(run_one, asdict(spec), data_dir): spec for spec in todo}
        for future in as_completed(futures):
            spec = futures[future]
            err = future.exception()
            if err is not None:
                on_done(spec, None, f"{type(err).__name__}: {err}")
            else:
                on_done(spec, future.result(), None)


def _run_ray(
    todo: Sequence[RunSpec],
    jobs: int,
    data_dir: str | None,
    on_done: Callable[[RunSpec, dict[str, Any] | None, str | None], None],
    ray_address: str | None = None,
) -> None:
    """One Ray task per run (1 CPU each); starts a local Ray instance unless one is running."""
    try:
        import ray
    except ImportError:
        raise ValueError(
            "--backend ray needs the ray package: pip install 'nas_gym[ray]'"
        ) from None
    started = False
    if not ray.is_initialized():
        if ray_address:
            ray.init(address=ray_address, log_to_driver=False)
        else:
            ray.init(num_cpus=jobs, include_dashboard=False, log_to_driver=False)
        started = True
    try:
        remote = ray.remote(num_cpus=1, max_retries=0)(run_one)
        refs = {remote.remote(asdict(spec), data_dir): spec for spec in todo}
        pending = list(refs)
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            for ref in ready:
                spec = refs[ref]
                try:
                    record = ray.get(ref)
                except Exception as err:  # a task's exception arrives wrapped by Ray
                    cause = getattr(err, "cause", None) or err
                    on_done(spec, None, f"{type(cause).__name__}: {cause}")
                else:
                    on_done(spec, record, None)
    finally:
        if started:
            ray.shutdown()


def execute(
    specs: Sequence[RunSpec],
    out_dir: str | os.PathLike[str],
    jobs: int = 1,
    backend: str = "local",
    data_dir: str | None = None,
    progress: bool = True,
    ray_address: str | None = None,
) -> BenchOutcome:
    """Run every spec not finished in ``out_dir`` and write its record as soon as it ends."""
    from tqdm.auto import tqdm

    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; allowed: {', '.join(BACKENDS)}")
    if jobs < 1:
        raise ValueError(f"--jobs must be at least 1, got {jobs}")
    out = Path(out_dir)
    (out / "runs").mkdir(parents=True, exist_ok=True)
    done, todo = split_done(specs, out)
    failures: list[tuple[str, str]] = []
    cpu = [0.0]
    start = time.perf_counter()
    if todo:
        bar = tqdm(
            total=len(todo), desc="bench", unit="run", disable=not progress, dynamic_ncols=True
        )

        def on_done(spec: RunSpec, record: dict[str, Any] | None, error: str | None) -> None:
            if record is not None:
                _write_record(out, record)
                cpu[0] += float(record["result"].get("cpu_s", 0.0))
            else:
                failures.append((spec.key, error or "unknown error"))
            bar.update(1)
            bar.set_postfix_str(
                f"failed={len(failures)}" if failures else spec.agent, refresh=False
            )

        try:
            if backend == "local":
                _run_local(todo, jobs, data_dir, on_done)
            else:
                _run_ray(todo, jobs, data_dir, on_done, ray_address)
        finally:
            bar.close()
    return BenchOutcome(
        n_total=len(specs),
        n_skipped=len(done),
        n_ran=len(todo) - len(failures),
        failures=failures,
        wall_s=time.perf_counter() - start,
        cpu_s=cpu[0],
    )
