"""One search run in a worker: build the env and the agent, ``learn(budget)``, return its record.

Workers only compute; the parent writes each record (``store.py``). With
``budget_unit="query"`` the run must make exactly ``budget`` queries. With
``"unique"`` re-querying a known architecture is free: ``learn`` runs until the
environment ends the episode at ``budget`` distinct architectures (or at its step
cap), and ``n_queries`` still counts every step.
"""

from __future__ import annotations

import inspect
import json
import os
import time
import warnings
from dataclasses import asdict
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
from nas_gym.wrappers import QueryRecorder

#: With budget_unit="unique", learn() may take at most this many steps per unique query.
UNIQUE_STEP_FACTOR = 100


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

    The bench runs ``NASBench201-v0`` on purpose (records and published rows are keyed
    by it; ``-v1`` is the same search with flat spaces), so the notice, printed once per
    worker, is noise here. Only that notice is filtered, and only in bench processes.
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


def run_one(spec_dict: dict[str, Any], data_dir: str | None = None) -> dict[str, Any]:
    """Execute one run and return its record (the content of ``runs/<key>.json``).

    Raises:
        RuntimeError: if the agent made a different number of queries than its budget.
    """
    start_total = time.perf_counter()
    prepare_worker()
    import gymnasium as gym

    import nas_gym  # noqa: F401  (registers the environments)
    from nas_gym.agents.registry import agent_names, make_agent

    git_state()
    agent_names()  # import every agent module now, so the first run is not charged for it

    spec = RunSpec(**spec_dict)
    env_kwargs = env_make_kwargs(spec, data_dir)
    t0 = time.perf_counter()
    env = EpisodeRecorder(gym.make(spec.env_id, **env_kwargs), keys=HISTORY_KEYS)
    make_env_s = time.perf_counter() - t0
    kwargs = json.loads(spec.agent_kwargs)

    cpu0 = time.process_time()
    t0 = time.perf_counter()
    agent = make_agent(spec.base_agent, env, seed=spec.seed, verbose=0, **kwargs)
    make_agent_s = time.perf_counter() - t0
    hyper = agent_hyperparameters(agent)
    env.clear()  # construction may probe the env; only learn()'s queries count

    # NB201 protocol (time_budget_s): the env ends the search before the query budget.
    timed = env_kwargs.get("time_budget_s") is not None
    t0 = time.perf_counter()
    if timed:
        agent.learn(spec.budget, callback=_stop_at_first_episode_end(env))
    elif spec.budget_unit == "query":
        agent.learn(spec.budget)
    else:
        cap = getattr(env.unwrapped, "max_steps", UNIQUE_STEP_FACTOR * spec.budget)
        agent.learn(cap, callback=_stop_at_first_episode_end(env))
    learn_s = time.perf_counter() - t0
    cpu_s = time.process_time() - cpu0
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
