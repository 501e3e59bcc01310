"""``SearchEnv``: the search mechanics every NAS environment shares.

One episode is one search run. The base class owns everything that is the same for
every search space, in the way Gymnasium's ``MujocoEnv`` owns the simulator and a
subclass only supplies its model:

* the query budget (``budget_unit``) and the action check;
* the search history: seen set, top-K state, best, best feasible, Pareto fronts;
* constraint -> objective -> reward (:mod:`nas_gym.envs.constraints`);
* the ``"topk"`` (CADAM, Mills 2020 Sec. 4.1.1) and ``"last"`` (DDAS, Sec. 3.2)
  observations, the op mask and the shared info keys;
* ``reset``, ``render`` and ``spec.max_episode_steps``;
* the results of the search ``reset()`` ended (:attr:`SearchEnv.last_search`).

A subclass calls :meth:`SearchEnv._setup_search` at the end of its ``__init__`` and
supplies two things: how an action becomes a discrete architecture
(:meth:`_architecture`, :meth:`_active`) and how an architecture is evaluated
(:meth:`_evaluate`: accuracy, cost and the record reported in ``info``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable, Mapping
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from nas_gym.envs.common import (
    OBSERVATIONS,
    REWARDS,
    ActionCheck,
    TopKState,
    check_choice,
    check_positive_int,
    check_render_mode,
    read_only_copy,
    reward_fn,
)
from nas_gym.envs.constraints import CONSTRAINTS, Constraint
from nas_gym.envs.pareto import ParetoFront


def check_flag(name: str, value: object) -> bool:
    """``value`` if it is a bool, else a ValueError naming it (``flat="no"`` is not False)."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return bool(value)


BUDGET_UNITS: tuple[str, ...] = ("query", "unique")
#: ``max_steps`` default in ``budget_unit="unique"`` mode: this many steps per budgeted query.
STEP_CAP_FACTOR = 100
#: Which search a result reader (``search=``) reads: the running one, or the one the
#: latest ``reset()`` ended (:attr:`SearchEnv.last_search`).
SEARCHES: tuple[str, ...] = ("current", "last")


@dataclasses.dataclass(frozen=True)
class SearchResult:
    """One search's results: a copy, unchanged by later steps and resets.

    Attributes:
        n_queries: steps (queries) the search made.
        n_unique_queries: distinct architectures it queried.
        topk: architecture keys of its top-K state, best first (empty with
            ``observation="last"``, which keeps no top-K).
        best: the ``best_*`` info keys of its last step (``best_feasible_*`` too where
            the environment reports feasibility).
        fronts: each Pareto front's points (``key``, ``value``, ``cost``, ``step``) by
            increasing cost, under its info key (``"pareto_flops"``, ...).
    """

    n_queries: int
    n_unique_queries: int
    topk: tuple[Hashable, ...]
    best: dict[str, Any]
    fronts: Mapping[str, tuple[dict[str, Any], ...]]


class SearchEnv(gym.Env):
    """Base class of the NAS environments: budget, history, objective, observations.

    Subclass hooks (the only space-specific parts):

    * :meth:`_architecture` ``(alpha) -> key``: the discrete architecture of a
      validated action, as a hashable key (table index, op tuple, genotype string);
    * :meth:`_active` ``(key) -> ndarray``: flat positions of the ones of its alpha_d
      (the top-K state and the ``"last"`` observation are built from them);
    * :meth:`_evaluate` ``(key) -> (score, cost, record)``: accuracy in percent on
      the reward metric, the constrained cost (None without one) and the dict of
      per-step info keys.

    Class attributes name the info keys: ``BEST_INFO`` / ``BEST_FEASIBLE_INFO`` map an
    info key to ``(source, value before anything is found)``, where the source is a
    record key, ``"score"`` or ``"cost"``; ``PARETO`` maps an info key to the record key
    of a cost whose (cost, score) front is kept. ``ARCH_KEY`` is the record key that
    ``render()`` shows.

    ``reset()`` ends the running search and keeps its results as :attr:`last_search`
    (:class:`SearchResult`), because Stable-Baselines3's vector envs reset an env the
    moment its budget is spent: after ``agent.learn(max_queries)`` the env already holds
    a new, empty search. Result readers (:meth:`search_result` and the subclasses'
    ``topk_*``/``pareto_front``) read the running search unless given ``search="last"``.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["ansi"], "render_fps": 4}
    BEST_INFO: ClassVar[dict[str, tuple[str, Any]]] = {}
    BEST_FEASIBLE_INFO: ClassVar[dict[str, tuple[str, Any]]] = {}
    PARETO: ClassVar[dict[str, str]] = {}
    ARCH_KEY: ClassVar[str] = "arch"
    #: Size of the search space where it is small enough to matter (``top_k`` <= it).
    N_ARCHS: ClassVar[int | None] = None
    #: Report ``feasible`` and ``best_feasible_*`` even without a constraint (all feasible).
    FEASIBILITY_ALWAYS: ClassVar[bool] = False
    #: Rewards this environment accepts (a subclass may add its own, see :meth:`_reward`).
    REWARDS: ClassVar[tuple[str, ...]] = REWARDS
    #: the constructor keyword that sets the cost budget (named in its errors)
    COST_TARGET_KEYWORD: ClassVar[str] = "cost_target"

    # -- setup ----------------------------------------------------------------------------
    def _setup_search(
        self,
        shape: tuple[int, ...],
        op_mask: np.ndarray,
        *,
        reward: str,
        observation: str,
        top_k: int,
        max_queries: int,
        render_mode: str | None,
        cost_target: float | None = None,
        constraint: str = "hard",
        penalty_lambda: float = 1.0,
        mnas_w: float = -0.07,
        infeasible_reward: float = 0.0,
        budget_unit: str = "query",
        max_steps: int | None = None,
        rescores: bool = False,
        flat: bool = False,
    ) -> None:
        """Validate the shared arguments and build spaces and history.

        ``cost_target`` turns on the constraint (``constraint``, ``penalty_lambda``,
        ``mnas_w``, ``infeasible_reward``: :class:`nas_gym.envs.constraints.Constraint`) on
        the cost :meth:`_evaluate` returns. ``rescores``: re-querying an architecture may
        give another score (a supernet trained between queries), so the history sees
        every query, not only new ones. ``flat``: action and observation spaces are
        ``Box((rows*ops,))`` (the row-major flattening of the ``alpha_shape`` matrix) for
        clients that assume 1-D vectors (rl-zoo's action noise, CleanRL's MLPs); matrix
        actions are still accepted, and ``alpha_shape`` keeps the matrix shape.
        """
        check_choice("constraint", constraint, CONSTRAINTS)
        check_choice("reward", reward, self.REWARDS)
        check_choice("observation", observation, OBSERVATIONS)
        check_choice("budget_unit", budget_unit, BUDGET_UNITS)
        check_render_mode(render_mode, tuple(self.metadata["render_modes"]))
        self.reward, self.observation, self.render_mode = reward, observation, render_mode
        self.top_k = check_positive_int("top_k", top_k)
        if self.N_ARCHS is not None and self.top_k > self.N_ARCHS:
            raise ValueError(
                f"top_k={top_k} exceeds the {self.N_ARCHS} architectures of the space: the "
                f"top-K observation could never fill; use top_k <= {self.N_ARCHS}"
            )
        self.max_queries = check_positive_int("max_queries", max_queries)
        self.budget_unit = budget_unit
        self._unique = budget_unit == "unique"
        if budget_unit == "query" and max_steps not in (None, self.max_queries):
            raise ValueError(
                f"max_steps={max_steps!r} applies to budget_unit='unique' only; with 'query' "
                "every step is a query, so an episode is max_queries steps"
            )
        self.max_steps = (
            check_positive_int("max_steps", max_steps)
            if max_steps is not None
            else (STEP_CAP_FACTOR * self.max_queries if self._unique else self.max_queries)
        )
        if self.max_steps < self.max_queries:
            raise ValueError(f"max_steps ({max_steps}) must be >= max_queries ({max_queries})")
        self._constraint = (
            None
            if cost_target is None
            else Constraint(
                cost_target,
                constraint,
                penalty_lambda,
                mnas_w,
                0.0,
                infeasible_reward,
                target_name=self.COST_TARGET_KEYWORD,
            )
        )
        self._reward_fn = reward_fn(reward) if reward in REWARDS else None
        self._report_feasibility = self._constraint is not None or self.FEASIBILITY_ALWAYS
        self._rescores = bool(rescores)
        self._shape = tuple(shape)
        #: The alpha matrix shape, whatever the spaces' shape (agents read it from here).
        self.alpha_shape: tuple[int, ...] = self._shape
        self.flat = check_flag("flat", flat)
        self._obs_shape = (int(np.prod(self._shape)),) if self.flat else self._shape
        self._check_action = ActionCheck(self._shape)
        self.action_space = spaces.Box(0.0, 1.0, self._obs_shape, dtype=np.float32)
        self.observation_space = spaces.Box(0.0, 1.0, self._obs_shape, dtype=np.float32)
        self.op_mask = op_mask.reshape(self._obs_shape)  # the action's shape (flat in v1)
        self._topk = TopKState(self.top_k, self._shape)
        self._fronts = {name: ParetoFront() for name in self.PARETO}
        #: The search the latest ``reset()`` ended (None before one with a query ends).
        self.last_search: SearchResult | None = None
        self._reset_search()

    @property
    def spec(self) -> gym.envs.registration.EnvSpec | None:
        """The registered spec, with ``max_episode_steps`` = this env's episode length."""
        spec = self.__dict__.get("_spec")
        if spec is None or spec.max_episode_steps is not None:
            return spec
        return dataclasses.replace(spec, max_episode_steps=self.max_steps)

    @spec.setter
    def spec(self, value: gym.envs.registration.EnvSpec | None) -> None:
        self.__dict__["_spec"] = value

    # -- subclass hooks ---------------------------------------------------------------------
    def _architecture(self, alpha: np.ndarray) -> Hashable:
        raise NotImplementedError

    def _active(self, key: Hashable) -> np.ndarray:
        raise NotImplementedError

    def _evaluate(self, key: Hashable) -> tuple[float, float | None, dict[str, Any]]:
        raise NotImplementedError

    def _reward(self, objective: float, record: dict[str, Any]) -> float:
        """The reward of a constrained accuracy (percent) for a reward that is not one of
        :data:`nas_gym.envs.common.REWARDS` (those are applied directly)."""
        raise NotImplementedError(f"reward {self.reward!r}")

    # -- episode ----------------------------------------------------------------------------
    def _reset_search(self) -> None:
        self._topk.reset()
        for front in self._fronts.values():
            front.clear()
        self._last = np.zeros(self._shape, dtype=np.float32)
        self._seen: set[Hashable] = set()
        self._n_queries = 0
        self._record: dict[str, Any] | None = None
        self._best: tuple[float, float | None, dict[str, Any]] | None = None
        self._best_objective = -np.inf
        self._best_feasible: tuple[float, float | None, dict[str, Any]] | None = None
        self._best_feasible_score = -np.inf
        self._best_view = self._pick(None, self.BEST_INFO)  # info keys, rebuilt on change only
        self._best_feasible_view = self._pick(None, self.BEST_FEASIBLE_INFO)

    def _obs(self) -> np.ndarray:
        obs = self._topk.state() if self.observation == "topk" else self._last.copy()
        return obs.reshape(self._obs_shape)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        if self._n_queries:  # a reset with nothing searched keeps the previous record
            self.last_search = self._result()
        self._reset_search()
        return self._obs(), {
            "n_queries": 0,
            "n_unique_queries": 0,
            "op_mask": read_only_copy(self.op_mask),
        }

    def _budget_spent(self) -> bool:
        """Query mode: ``max_steps == max_queries``; unique mode: unique queries or the step cap."""
        return self._n_queries >= self.max_steps or (
            self._unique and len(self._seen) >= self.max_queries
        )

    def step(self, action):
        if self._budget_spent():
            raise RuntimeError(
                f"query budget of {self.max_queries} spent: call reset() to start a new search"
                if not self._unique or len(self._seen) >= self.max_queries
                else f"step cap max_steps={self.max_steps} reached: call reset()"
            )
        key = self._architecture(self._check_action(action))
        score, cost, record = self._evaluate(key)
        constraint = self._constraint
        objective: float | None = score
        feasible = True
        if constraint is not None:
            feasible = cost <= constraint.target
            constrained = constraint.score(score / 100.0, cost)
            objective = None if constrained is None else 100.0 * constrained
        self._n_queries += 1
        self._record = record
        new = key not in self._seen
        if new or self._rescores:
            self._seen.add(key)
            self._update_history(key, score, cost, record, objective, feasible)
        if self.observation == "last":
            last = np.zeros(self._check_action.size, dtype=np.float32)
            last[self._active(key)] = 1.0
            self._last = last.reshape(self._shape)  # new each step: safe to hand out
        info = {
            **record,
            **self._best_view,
            "n_queries": self._n_queries,
            "n_unique_queries": len(self._seen),
        }
        if self._report_feasibility:
            info["feasible"] = bool(feasible)
            info.update(self._best_feasible_view)
        if self._fronts:
            for name, front in self._fronts.items():
                info[name] = front.compact()
        self._extra_info(info)
        if objective is None:
            reward = constraint.infeasible_reward
        elif self._reward_fn is not None:
            reward = self._reward_fn(objective)
        else:
            reward = self._reward(objective, record)
        truncated = self._budget_spent()
        if self._unique:
            info["step_cap_reached"] = self._n_queries >= self.max_steps
        obs = self._topk.state() if self.observation == "topk" else self._last
        return obs.reshape(self._obs_shape), float(reward), False, truncated, info

    def _update_history(
        self,
        key: Hashable,
        score: float,
        cost: float | None,
        record: dict[str, Any],
        objective: float | None,
        feasible: bool,
    ) -> None:
        if objective is not None:  # hard-infeasible architectures never enter top-K or best
            if self.observation == "topk" and key not in self._topk:
                self._topk.push(key, self._active(key), objective)
            if objective > self._best_objective:
                self._best_objective, self._best = objective, (score, cost, record)
                self._best_view = self._pick(self._best, self.BEST_INFO)
        if feasible and score > self._best_feasible_score:
            self._best_feasible_score, self._best_feasible = score, (score, cost, record)
            self._best_feasible_view = self._pick(self._best_feasible, self.BEST_FEASIBLE_INFO)
        for name, cost_key in self.PARETO.items():
            self._fronts[name].add(key, score, record[cost_key], step=self._n_queries)

    @staticmethod
    def _pick(
        found: tuple[float, float | None, dict[str, Any]] | None,
        keys: dict[str, tuple[str, Any]],
    ) -> dict[str, Any]:
        if found is None:
            return {name: empty for name, (_, empty) in keys.items()}
        score, cost, record = found
        out = {}
        for name, (source, _) in keys.items():
            out[name] = score if source == "score" else cost if source == "cost" else record[source]
        return out

    def _extra_info(self, info: dict[str, Any]) -> None:
        """Add space-specific keys to a step's info (in place); nothing by default."""

    # -- results ----------------------------------------------------------------------------
    def _result(self) -> SearchResult:
        best = dict(self._best_view)
        if self._report_feasibility:
            best.update(self._best_feasible_view)
        return SearchResult(
            n_queries=self._n_queries,
            n_unique_queries=len(self._seen),
            topk=self._topk_keys(),
            best=best,
            fronts={name: tuple(front.points()) for name, front in self._fronts.items()},
        )

    def search_result(self, search: str = "current") -> SearchResult:
        """The results of the running search (``"current"``) or of the one the latest
        ``reset()`` ended (``"last"``, :attr:`last_search`: after ``learn(max_queries)``
        SB3 has already reset the env, so the finished search is that one).

        Raises:
            ValueError: ``search`` is not one of :data:`SEARCHES`.
            RuntimeError: ``"last"`` before any reset ended a search with a query.
        """
        check_choice("search", search, SEARCHES)
        if search == "current":
            return self._result()
        if self.last_search is None:
            raise RuntimeError(
                "search='last': no search has ended yet (reset() keeps a search once it "
                "has made a query); the running search is search='current'"
            )
        return self.last_search

    def _topk_keys(self, search: str = "current") -> tuple[Hashable, ...]:
        """The top-K state's keys, best first (the running search's read in place)."""
        if search == "current":
            return tuple(self._topk.keys())
        return self.search_result(search).topk

    def _front_points(self, name: str, search: str = "current") -> list[dict[str, Any]]:
        """A Pareto front's points (key, value, cost, step) by increasing cost."""
        if search == "current":
            return self._fronts[name].points()
        return [dict(p) for p in self.search_result(search).fronts[name]]

    def render(self) -> str | None:
        if self.render_mode != "ansi":
            return None
        return "" if self._record is None else str(self._record[self.ARCH_KEY])
