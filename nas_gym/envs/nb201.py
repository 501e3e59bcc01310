"""``NASBench201-v0``: NAS-Bench-201 as an oracle environment."""

from __future__ import annotations

import os
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from nas_gym.benchmarks.hw_cost import load_flops, load_hw_costs, unit
from nas_gym.benchmarks.nb201 import (
    NB201Table,
    check_dataset,
    check_fidelity,
    check_split,
    load_nb201,
)
from nas_gym.envs.common import (
    OBSERVATIONS,
    TopKState,
    check_budget_left,
    check_choice,
    check_positive_int,
    check_render_mode,
    reward_fn,
    validate_action,
)
from nas_gym.envs.constraints import CONSTRAINTS, Constraint
from nas_gym.spaces import nb201 as space

_ROWS = np.arange(space.N_EDGES)
_FLAT_BASE = _ROWS * space.N_OPS


class NASBench201Env(gym.Env):
    """NAS-Bench-201 (Dong & Yang, ICLR 2020) searched by continuous actions.

    ## Description
    One episode is one search run. ``reset()`` starts a fresh search with an empty
    history; every ``step(alpha)`` maps the continuous architecture weights to one
    cell (Algorithm 3 of Mills 2020: argmax per edge) and looks up its trained
    accuracy in the benchmark table (one query). This is the oracle setting of
    CADAM's Table 4.1.

    ## Action Space
    ``Box(0, 1, (6, 5), float32)``: alpha, one row per edge in the order of the
    official string, ``(1<-0), (2<-0), (2<-1), (3<-0), (3<-1), (3<-2)``, one column
    per op ``none, skip_connect, nor_conv_1x1, nor_conv_3x3, avg_pool_3x3``.
    A flat ``(30,)`` vector is accepted too. Ties in a row go to the lowest op index.
    NaN/inf or a wrong shape raise ``ValueError``.

    ## Observation Space
    ``Box(0, 1, (6, 5), float32)``, same layout as the action.
    * ``"topk"`` (default, CADAM): the element-wise mean of the one-hot matrices of
      the ``top_k`` best distinct architectures found so far (by the reward metric);
      unfilled slots count as zeros, so the first observation is all zeros.
    * ``"last"`` (DDAS): the one-hot matrix of the previous step's architecture.

    ## Rewards
    From the accuracy on ``reward_metric`` (percent): ``"cadam"`` gives
    ``100 ** (acc/100)`` (Mills 2020, Eq. 4.1), ``"accuracy"`` gives ``acc/100``.

    With a hardware ``cost`` and a ``cost_target`` the accuracy is first constrained
    (:mod:`nas_gym.envs.constraints`): ``"hard"`` gives infeasible cells (cost > target)
    the fixed ``infeasible_reward``; ``"unas"`` uses ``acc - penalty_lambda * max(0,
    cost/target - 1)`` (UNAS, Vahdat et al. 2020); ``"mnas"`` uses ``acc * (cost/target)
    ** mnas_w`` beyond the target (MnasNet, Tan et al. 2019). The constrained accuracy
    then goes through the same ``reward`` transform, and ranks the top-K state and
    ``best_*`` (hard-infeasible cells never enter them).

    ## Episode End
    Never terminated; truncated once ``max_queries`` queries have been made.

    ## Arguments
    * ``dataset``: ``"cifar10"``, ``"cifar100"`` or ``"ImageNet16-120"``. For CIFAR-10,
      "valid" is the ``cifar10-valid`` column and "test" the ``cifar10`` column.
    * ``reward_metric``: ``"valid"`` (default) or ``"test"`` (the thesis searched each split).
    * ``reward``: ``"cadam"`` (default) or ``"accuracy"``.
    * ``observation``: ``"topk"`` (default) or ``"last"``.
    * ``top_k``: K of the top-K state (64).
    * ``max_queries``: query budget per episode (500).
    * ``fidelity``: 200 (default) or 12 training epochs.
    * ``data_dir``: directory holding ``nb201/nb201_metrics.csv`` (see ``nas_gym.data``).
    * ``cost``: a hardware cost of the chosen dataset's network, reported in ``info``:
      a HW-NAS-Bench column ``"<device>_<metric>"`` (devices edgegpu, raspi4, edgetpu,
      pixel3, eyeriss, fpga; metric latency (ms) or energy (mJ)), or a HELP latency
      ``"help_<setting>"`` (CIFAR-10 only). See ``nas_gym.benchmarks.hw_cost``.
    * ``cost_target``: budget in the cost's unit; turns the constraint on. Constraining
      on a column with unmeasured cells (``edgetpu_latency``) is a ``ValueError``.
    * ``constraint``: ``"hard"`` (default), ``"unas"`` or ``"mnas"``.
    * ``penalty_lambda`` (UNAS, 1.0), ``mnas_w`` (MnasNet exponent beyond the target,
      -0.07), ``infeasible_reward`` (hard constraint, 0.0).
    * ``render_mode``: ``"ansi"`` returns the last architecture string.

    ## Info
    ``arch_index``, ``arch_str``, ``valid_acc``, ``test_acc`` (percent, chosen dataset
    and fidelity), ``params_M``, ``best_arch_index``, ``best_arch_str``,
    ``best_valid_acc``, ``best_test_acc`` (best so far by the reward metric, and that
    architecture's other accuracy), ``n_queries``, ``n_unique_queries`` and ``regret``
    (optimum of the reward metric minus the best found, percentage points).
    ``flops_M``: millions of multiply-accumulates of the network, counted with torch
    (``nas_gym.benchmarks.hw_cost.load_flops``; no torch needed at run time).
    With ``cost``: ``cost`` (None where the benchmark did not measure the cell) and
    ``cost_unit``. With ``cost_target`` also: ``feasible`` (cost <= target),
    ``best_feasible_arch_index``, ``best_feasible_acc`` (reward metric),
    ``best_feasible_cost`` (-1 / None until a feasible cell is found), and ``regret`` is
    measured from the best *feasible* accuracy to the best feasible cell of the table.
    ``best_*`` are -1 / "" / None while no cell has been accepted (hard constraint).

    ## Version History
    * v0: initial release (NATS-Bench TSS / NB201 v1.1 accuracies, seed means);
      hardware costs (HW-NAS-Bench, HELP), constraints and FLOPs added as options.
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 4}

    def __init__(
        self,
        dataset: str = "cifar10",
        reward_metric: str = "valid",
        reward: str = "cadam",
        observation: str = "topk",
        top_k: int = 64,
        max_queries: int = 500,
        fidelity: int = 200,
        data_dir: str | os.PathLike[str] | None = None,
        render_mode: str | None = None,
        table: NB201Table | None = None,
        cost: str | None = None,
        cost_target: float | None = None,
        constraint: str = "hard",
        penalty_lambda: float = 1.0,
        mnas_w: float = -0.07,
        infeasible_reward: float = 0.0,
    ):
        self.dataset = check_dataset(dataset)
        self.reward_metric = check_split(reward_metric)
        self.fidelity = check_fidelity(fidelity)
        check_choice("reward", reward, ("cadam", "accuracy"))
        check_choice("observation", observation, OBSERVATIONS)
        check_render_mode(render_mode, tuple(self.metadata["render_modes"]))
        self.reward = reward
        self.observation = observation
        self.top_k = check_positive_int("top_k", top_k)
        self.max_queries = check_positive_int("max_queries", max_queries)
        self.render_mode = render_mode
        self._reward_fn = reward_fn(reward)
        check_choice("constraint", constraint, CONSTRAINTS)
        if cost_target is not None and cost is None:
            raise ValueError(
                "cost_target needs a cost column: pass cost='edgegpu_latency' (for example)"
            )
        self.cost = cost
        self._constraint = (
            None
            if cost_target is None
            else Constraint(cost_target, constraint, penalty_lambda, mnas_w, 0.0, infeasible_reward)
        )

        self.action_space = spaces.Box(0.0, 1.0, space.SHAPE, dtype=np.float32)
        self.observation_space = spaces.Box(0.0, 1.0, space.SHAPE, dtype=np.float32)
        self.op_mask = space.op_mask()

        self._attach_table(table if table is not None else load_nb201(data_dir))
        self._topk = TopKState(self.top_k, space.SHAPE)
        self._reset_search()

    # -- table -----------------------------------------------------------------
    def _attach_table(self, table: NB201Table) -> None:
        """Pull this env's columns out as Python lists: a step is then pure list indexing."""
        self._table = table
        self._data_dir = str(table.source.parent.parent)
        valid = table.accuracy(self.dataset, "valid", self.fidelity)
        test = table.accuracy(self.dataset, "test", self.fidelity)
        self._valid = valid.tolist()
        self._test = test.tolist()
        self._params = table.params(self.dataset).tolist()
        self._score = self._valid if self.reward_metric == "valid" else self._test
        self.optimum_index, self.optimum_acc = table.optimum(
            self.dataset, self.reward_metric, self.fidelity
        )
        self._code_to_index = space.code_to_index_table().tolist()
        self._strs = space.all_strs()
        self._flops = load_flops(self.dataset).tolist()
        self._attach_cost(valid if self.reward_metric == "valid" else test)

    def _attach_cost(self, score: np.ndarray) -> None:
        """The chosen cost column as a list, and the best feasible cell for the regret."""
        self._cost: list[float] = []
        if self.cost is None:
            return
        self._cost_unit = unit(self.cost)
        column = load_hw_costs(self._data_dir).cost(self.cost, self.dataset)
        self._cost = column.tolist()
        if self._constraint is None:
            return
        n_missing = int(np.isnan(column).sum())
        if n_missing:
            raise ValueError(
                f"cannot constrain on cost {self.cost!r} for {self.dataset!r}: the benchmark did not "
                f"measure it for {n_missing} of {len(column)} cells (stored as -1). Pick another "
                "cost or drop cost_target to only report it."
            )
        feasible = column <= self._constraint.target
        if not feasible.any():
            raise ValueError(
                f"cost_target {self._constraint.target} is below every cell's {self.cost} "
                f"(min {column.min():.4g} {unit(self.cost)}): no architecture is feasible"
            )
        masked = np.where(feasible, score, -np.inf)
        self.optimum_index = int(np.argmax(masked))
        self.optimum_acc = float(score[self.optimum_index])

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        for key in (
            "_table",
            "_valid",
            "_test",
            "_params",
            "_score",
            "_code_to_index",
            "_strs",
            "_flops",
            "_cost",
        ):
            state.pop(key)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._attach_table(load_nb201(self._data_dir))

    # -- episode ---------------------------------------------------------------
    def _reset_search(self) -> None:
        self._topk.reset()
        self._last = np.zeros(space.SHAPE, dtype=np.float32)
        self._seen: set[int] = set()
        self._n_queries = 0
        self._best_index = -1
        self._best_score = -np.inf
        self._arch_index = -1
        self._best_feasible_index = -1
        self._best_feasible_score = -np.inf

    def _obs(self) -> np.ndarray:
        return self._topk.state() if self.observation == "topk" else self._last.copy()

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self._reset_search()
        return self._obs(), {"n_queries": 0, "n_unique_queries": 0, "op_mask": self.op_mask}

    def step(self, action):
        check_budget_left(self._n_queries, self.max_queries)
        alpha = validate_action(action, space.SHAPE)
        ops = alpha.argmax(axis=1).tolist()
        code = ((((ops[0] * 5 + ops[1]) * 5 + ops[2]) * 5 + ops[3]) * 5 + ops[4]) * 5 + ops[5]
        index = self._code_to_index[code]
        score = self._score[index]
        objective: float | None = score
        feasible = True
        constraint = self._constraint
        if constraint is not None:
            cost = self._cost[index]
            feasible = cost <= constraint.target
            constrained = constraint.score(score / 100.0, cost)
            objective = None if constrained is None else 100.0 * constrained
        self._n_queries += 1
        self._arch_index = index
        if index not in self._seen:
            self._seen.add(index)
            if objective is not None:  # hard-infeasible cells never enter the top-K or best
                if self.observation == "topk":
                    self._topk.push(index, _FLAT_BASE + ops, objective)
                if objective > self._best_score:
                    self._best_score, self._best_index = objective, index
            if feasible and score > self._best_feasible_score:
                self._best_feasible_score, self._best_feasible_index = score, index
        if self.observation == "last":
            self._last = np.zeros(space.SHAPE, dtype=np.float32)
            self._last[_ROWS, ops] = 1.0
        best = self._best_index
        found = best >= 0
        info = {
            "arch_index": index,
            "arch_str": self._strs[index],
            "valid_acc": self._valid[index],
            "test_acc": self._test[index],
            "params_M": self._params[index],
            "flops_M": self._flops[index],
            "best_arch_index": best,
            "best_arch_str": self._strs[best] if found else "",
            "best_valid_acc": self._valid[best] if found else None,
            "best_test_acc": self._test[best] if found else None,
            "n_queries": self._n_queries,
            "n_unique_queries": len(self._seen),
            "regret": self.optimum_acc - self._best_score,
        }
        if self.cost is not None:
            reported = self._cost[index]
            info["cost"] = None if reported != reported else reported  # NaN = not measured
            info["cost_unit"] = self._cost_unit
        if constraint is not None:
            bf = self._best_feasible_index
            info["feasible"] = bool(feasible)
            info["best_feasible_arch_index"] = bf
            info["best_feasible_acc"] = self._score[bf] if bf >= 0 else None
            info["best_feasible_cost"] = self._cost[bf] if bf >= 0 else None
            info["regret"] = self.optimum_acc - self._best_feasible_score
        truncated = self._n_queries >= self.max_queries
        reward = constraint.infeasible_reward if objective is None else self._reward_fn(objective)
        return self._obs(), float(reward), False, truncated, info

    def render(self) -> str | None:
        if self.render_mode != "ansi":
            return None
        return self._strs[self._arch_index] if self._arch_index >= 0 else ""

    def topk_indices(self) -> list[int]:
        """Official indices in the current top-K state, best first."""
        return [int(k) for k in self._topk.keys()]
