"""``NASBench201-v0`` / ``-v1``: NAS-Bench-201 as an oracle environment."""

from __future__ import annotations

import csv
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from nas_gym.benchmarks.hw_cost import load_flops, load_hw_costs, unit
from nas_gym.benchmarks.nb201 import (
    TRAIN_TIME_COLUMNS,
    NB201Table,
    check_dataset,
    check_fidelity,
    check_split,
    load_nb201,
)
from nas_gym.envs.search import SearchEnv, check_flag
from nas_gym.spaces import nb201 as space

_CODE_TO_INDEX: list[int] = space.code_to_index_table().tolist()


@lru_cache(maxsize=1)
def _active_positions() -> np.ndarray:
    """``(15625, 6)`` flat positions of the ones of every cell's alpha_d, by official index."""
    return space.all_ops() + np.arange(space.N_EDGES) * space.N_OPS


#: Query noise: ``None`` (seed means, deterministic) or ``"seed"`` (one training seed's value).
NOISES: tuple[str | None, ...] = (None, "seed")
#: Per-seed 200-epoch validation accuracies (semicolon-separated) in the CSV, by dataset.
SEED_COLUMNS: dict[str, str] = {
    "cifar10": "c10valid_valid_acc_seeds",
    "cifar100": "c100_valid_acc_seeds",
    "ImageNet16-120": "in16_valid_acc_seeds",
}


@lru_cache(maxsize=4)
def _seed_accuracies(source: str, column: str) -> tuple[tuple[float, ...], ...]:
    """Every cell's per-seed accuracies (2 or 3 values), read once per CSV and column.

    The binary cache keeps only numeric columns, so these strings are read from the CSV.
    """
    with Path(source).open(encoding="utf-8", newline="") as f:
        rows = csv.DictReader(f)
        seeds = tuple(tuple(float(v) for v in row[column].split(";")) for row in rows)
    if len(seeds) != space.N_ARCHS or not all(seeds):
        raise ValueError(f"{source}: column {column} does not hold per-seed values for every cell")
    return seeds


class _Columns:
    """One dataset's columns as Python lists, so a step is pure list indexing.

    Pickles by reference (the table reloads from its data directory), so an
    environment pickles small.
    """

    def __init__(
        self,
        table: NB201Table,
        dataset: str,
        reward_metric: str,
        fidelity: int,
        cost: str | None,
        cost_target: float | None,
        time_epochs: int | None = None,
        noise: str | None = None,
    ):
        self._args = (
            table,
            dataset,
            reward_metric,
            fidelity,
            cost,
            cost_target,
            time_epochs,
            noise,
        )
        valid = table.accuracy(dataset, "valid", fidelity)
        test = table.accuracy(dataset, "test", fidelity)
        self.valid, self.test = valid.tolist(), test.tolist()
        self.params = table.params(dataset).tolist()
        self.flops = load_flops(dataset).tolist()
        self.strs = space.all_strs()
        #: Simulated training seconds per query (``time_epochs`` / 200 of the 200-epoch time).
        self.seconds: list[float] | None = None
        if time_epochs is not None:
            seconds = table.column(TRAIN_TIME_COLUMNS[dataset]) * (time_epochs / 200.0)
            self.seconds = seconds.tolist()
        self.seeds = (
            _seed_accuracies(str(table.source), SEED_COLUMNS[dataset]) if noise == "seed" else None
        )
        score = valid if reward_metric == "valid" else test
        self.score = self.valid if reward_metric == "valid" else self.test
        self.optimum = table.optimum(dataset, reward_metric, fidelity)
        self.cost: list[float] | None = None
        if cost is None:
            return
        self.cost_unit = unit(cost)
        column = load_hw_costs(table.source.parent.parent).cost(cost, dataset)
        self.cost = column.tolist()
        if cost_target is not None:
            index = _best_feasible(column, score, cost, dataset, cost_target)
            self.optimum = (index, float(score[index]))

    def __reduce__(self):
        return _Columns, self._args


def _best_feasible(
    column: np.ndarray, score: np.ndarray, cost: str, dataset: str, target: float
) -> int:
    """The best cell within the budget (the regret's reference); errors if none can be."""
    n_missing = int(np.isnan(column).sum())
    if n_missing:
        raise ValueError(
            f"cannot constrain on cost {cost!r} for {dataset!r}: the benchmark did not "
            f"measure it for {n_missing} of {len(column)} cells (stored as -1). Pick another "
            "cost or drop cost_target to only report it."
        )
    feasible = column <= target
    if not feasible.any():
        raise ValueError(
            f"cost_target {target} is below every cell's {cost} "
            f"(min {column.min():.4g} {unit(cost)}): no architecture is feasible"
        )
    return int(np.argmax(np.where(feasible, score, -np.inf)))


def _check_time_budget(value: float | None) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"time_budget_s must be a positive number of seconds, got {value!r}")
    return float(value)


class NASBench201Env(SearchEnv):
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
    Never terminated; truncated once ``max_queries`` queries have been made, or with
    ``time_budget_s`` once the simulated training time reaches it.

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
    * ``flat``: ``False`` (v0) or ``True`` (v1): action and observation spaces are
      ``Box(0, 1, (30,))``, the row-major flattening of the (6, 5) matrix above
      (``flat[5 * edge + op]``); matrix actions are still accepted and
      ``env.unwrapped.alpha_shape`` is ``(6, 5)``.
    * ``noise``: ``None`` (default: the seed mean, deterministic) or ``"seed"``: each
      query returns one training seed's 200-epoch validation accuracy, drawn uniformly
      from the env's RNG (as NATS-Bench's ``is_random=True``); ``valid_acc`` is that
      draw, ``valid_acc_mean`` the mean, ``test_acc`` stays the mean, ``regret`` is
      measured on the mean of the best-observed cell. Needs ``reward_metric="valid"``
      and ``fidelity=200`` (the table holds seeds for those only).
    * ``time_budget_s``: simulated training-time budget in seconds (NB201's protocol:
      12,000 s on CIFAR-10). Each query charges that cell's training time for
      ``time_epochs`` epochs; the episode is truncated at the query whose time
      reaches the budget (that query counts, as in the NB201/NATS-Bench search loops).
      ``info["sim_time_s"]`` is the simulated time spent so far.
    * ``time_epochs``: epochs charged per query (default: ``fidelity``; only with
      ``time_budget_s``). The table stores
      200-epoch times only; ``e`` epochs are charged ``e/200`` of it. For 12 epochs this
      is an **approximation**: it assumes a constant per-epoch time and ignores the
      12-epoch schedule's own evaluation overhead.
    * ``budget_unit`` (``"query"``: every step counts; ``"unique"``: repeats are free)
      and ``max_steps`` (the step cap of a ``"unique"`` episode, default 100 x
      ``max_queries``; ``info["step_cap_reached"]``): see :class:`nas_gym.envs.search.SearchEnv`.

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
    * v1: ``flat=True``: 1-D ``Box(0, 1, (30,))`` action and observation spaces (row-major
      alpha layout), for clients that assume vectors (rl-zoo's action noise, CleanRL's
      MLPs). The recommended id. Everything else as v0.
    * v0: initial release (NATS-Bench TSS / NB201 v1.1 accuracies, seed means);
      hardware costs (HW-NAS-Bench, HELP), constraints and FLOPs added as options.
    """

    BEST_INFO = {
        "best_arch_index": ("arch_index", -1),
        "best_arch_str": ("arch_str", ""),
        "best_valid_acc": ("valid_acc", None),
        "best_test_acc": ("test_acc", None),
    }
    BEST_FEASIBLE_INFO = {
        "best_feasible_arch_index": ("arch_index", -1),
        "best_feasible_acc": ("score", None),
        "best_feasible_cost": ("cost", None),
    }
    ARCH_KEY = "arch_str"
    N_ARCHS = space.N_ARCHS

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
        budget_unit: str = "query",
        max_steps: int | None = None,
        flat: bool = False,
        noise: str | None = None,
        time_budget_s: float | None = None,
        time_epochs: int | None = None,
    ):
        self.dataset = check_dataset(dataset)
        self.reward_metric = check_split(reward_metric)
        self.fidelity = check_fidelity(fidelity)
        if cost_target is not None and cost is None:
            raise ValueError(
                "cost_target needs a cost column: pass cost='edgegpu_latency' (for example)"
            )
        self.cost = cost
        if noise not in NOISES:
            raise ValueError(f"unknown noise {noise!r}; allowed: None, 'seed'")
        if noise == "seed" and (reward_metric != "valid" or fidelity != 200):
            raise ValueError(
                f"noise='seed' needs reward_metric='valid' and fidelity=200 (the table holds "
                f"per-seed 200-epoch validation accuracies only); got reward_metric="
                f"{reward_metric!r}, fidelity={fidelity!r}"
            )
        self.noise = noise
        self.time_budget_s = _check_time_budget(time_budget_s)
        self.time_epochs = self.fidelity if time_epochs is None else time_epochs
        if not isinstance(self.time_epochs, int) or not 1 <= self.time_epochs <= 200:
            raise ValueError(f"time_epochs must be an integer in 1..200, got {time_epochs!r}")
        if time_epochs is not None and self.time_budget_s is None:
            raise ValueError(
                f"time_epochs={time_epochs!r} has no effect without time_budget_s (it sets the "
                "epochs each query charges against that budget); pass time_budget_s too"
            )
        self._setup_search(
            space.SHAPE,
            space.op_mask(),
            reward=reward,
            observation=observation,
            top_k=top_k,
            max_queries=max_queries,
            render_mode=render_mode,
            cost_target=cost_target,
            constraint=constraint,
            penalty_lambda=penalty_lambda,
            mnas_w=mnas_w,
            infeasible_reward=infeasible_reward,
            budget_unit=budget_unit,
            max_steps=max_steps,
            rescores=noise is not None,  # a re-query is a new draw
            flat=check_flag("flat", flat),
        )
        table = table if table is not None else load_nb201(data_dir)
        self._cols = _Columns(
            table,
            self.dataset,
            self.reward_metric,
            self.fidelity,
            cost,
            None if cost_target is None else self._constraint.target,
            None if self.time_budget_s is None else self.time_epochs,
            noise,
        )
        self.optimum_index, self.optimum_acc = self._cols.optimum

    # -- the space and its evaluation --------------------------------------------
    def _architecture(self, alpha: np.ndarray) -> int:
        """Algorithm 3 of Mills (2020): argmax per edge, straight to the official index."""
        ops = alpha.argmax(axis=1).tolist()
        code = ((((ops[0] * 5 + ops[1]) * 5 + ops[2]) * 5 + ops[3]) * 5 + ops[4]) * 5 + ops[5]
        return _CODE_TO_INDEX[code]

    def _active(self, index: int) -> np.ndarray:
        return _active_positions()[index]

    def _evaluate(self, index: int) -> tuple[float, float | None, dict[str, Any]]:
        c = self._cols
        record = {
            "arch_index": index,
            "arch_str": c.strs[index],
            "valid_acc": c.valid[index],
            "test_acc": c.test[index],
            "params_M": c.params[index],
            "flops_M": c.flops[index],
        }
        score = c.score[index]
        if c.seeds is not None:
            seeds = c.seeds[index]
            score = seeds[int(self.np_random.integers(len(seeds)))]
            record["valid_acc"], record["valid_acc_mean"] = score, c.valid[index]
        if c.seconds is not None:
            self._sim_time += c.seconds[index]
        cost = None
        if c.cost is not None:
            cost = c.cost[index]
            record["cost"] = None if cost != cost else cost  # NaN = not measured
            record["cost_unit"] = c.cost_unit
        return score, cost, record

    def _reset_search(self) -> None:
        super()._reset_search()
        self._sim_time = 0.0

    def step(self, action):
        if self.time_budget_s is not None and self._sim_time >= self.time_budget_s:
            raise RuntimeError(
                f"time budget of {self.time_budget_s} s spent ({self._sim_time:.0f} s of "
                "simulated training): call reset() to start a new search"
            )
        obs, reward, terminated, truncated, info = super().step(action)
        if self.time_budget_s is not None:
            info["sim_time_s"] = self._sim_time
            truncated = truncated or self._sim_time >= self.time_budget_s
        return obs, reward, terminated, truncated, info

    def _extra_info(self, info: dict[str, Any]) -> None:
        best = self._best_objective if self._constraint is None else self._best_feasible_score
        if self.noise is not None:  # the regret of the best-observed cell, on its mean
            best = -np.inf if self._best is None else self._best[2]["valid_acc_mean"]
        info["regret"] = self.optimum_acc - best

    def topk_indices(self, search: str = "current") -> list[int]:
        """Official indices in the top-K state, best first, of the running search or, with
        ``search="last"``, of the one the latest ``reset()`` ended (SB3 resets the env
        when ``learn`` spends its budget; see :meth:`SearchEnv.search_result`)."""
        return [int(k) for k in self._topk_keys(search)]
