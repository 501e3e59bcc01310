"""Published numbers printed beside ours: the ONE place they are typed in.

Every row says under which protocol it was obtained, and is keyed by environment.
A row is *comparable* with our runs (a difference Δ and "within 1 std" are printed)
only when it counts the same thing at the same budget: a query budget equal to
ours, in the same unit, on the same searched split. Other rows are printed with
their protocol label and no Δ.

Sources:
* Mills (2020), *On the Application of Continuous Deterministic Reinforcement
  Learning in Neural Architecture Search*, Table 4.1: CADAM-500, CADAM-1k (searched
  directly on the named split, 10 seeds), and RS, REA, REINFORCE, which the thesis
  copies from Dong & Yang (ICLR 2020, Table 5). Those three were searched on the
  validation split under a simulated training-time budget (12,000 s, noisy
  single-seed queries), not a query count; their "test" value is the test
  accuracy of the best-by-validation architecture.
* Changiz Rezaei et al. (IJCAI 2021), *Generative Adversarial Neural Architecture
  Search*, Table 4: GA-NAS (about 444 queries) and RS-500, 20 runs, searched on
  test, with the mean rank of the found cell.
* The optimum of each split (Mills 2020, Table 4.1).

All values are accuracies in percent, ``(mean, std)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

Stat = tuple[float, float]
NB201 = "NASBench201-v0"


@dataclass(frozen=True)
class Published:
    """One published row: which method, at what budget, searched how, and its values."""

    method: str
    source: str
    #: How the row was obtained, printed beside it.
    protocol: str
    #: Query budget (None: not a query budget, so never compared with ours).
    budget: int | None
    #: (dataset, split searched) -> (mean, std) of the searched split's accuracy.
    searched: dict[tuple[str, str], Stat]
    #: dataset -> (mean, std) test accuracy of the best-by-validation architecture.
    test_of_best_valid: dict[str, Stat] = field(default_factory=dict)
    #: (dataset, split searched) -> mean rank of the found cell among all cells.
    mean_rank: dict[tuple[str, str], float] = field(default_factory=dict)
    env_id: str = NB201
    budget_unit: str = "query"

    def comparable(self, budget: int, budget_unit: str = "query") -> bool:
        """Same count at the same budget: only then is a Δ meaningful."""
        return self.budget == budget and self.budget_unit == budget_unit


def _six(values: list[Stat]) -> dict[tuple[str, str], Stat]:
    keys = [
        ("cifar10", "valid"),
        ("cifar10", "test"),
        ("cifar100", "valid"),
        ("cifar100", "test"),
        ("ImageNet16-120", "valid"),
        ("ImageNet16-120", "test"),
    ]
    return dict(zip(keys, values, strict=True))


THESIS = "Mills 2020, Table 4.1"
NB201_VIA_THESIS = "Dong & Yang 2020 via Mills 2020, Table 4.1"
GANAS_PAPER = "Changiz Rezaei et al., IJCAI 2021, Table 4"
TIME_BUDGET = "NB201 protocol: searched on valid, simulated 12,000 s time budget, not query-matched"

CADAM_500 = Published(
    "CADAM-500",
    THESIS,
    "500 queries, searched on the named split, 10 seeds",
    500,
    _six(
        [(91.36, 0.19), (94.11, 0.16), (72.47, 0.74), (72.69, 0.58), (46.23, 0.28), (46.74, 0.39)]
    ),
)
CADAM_1K = Published(
    "CADAM-1k",
    THESIS,
    "1000 queries, searched on the named split, 10 seeds",
    1000,
    _six(
        [(91.47, 0.15), (94.28, 0.08), (73.02, 0.52), (73.09, 0.35), (46.58, 0.08), (47.03, 0.27)]
    ),
)


def _nb201_row(method: str, values: list[Stat]) -> Published:
    """RS/REA/REINFORCE of Dong & Yang: searched on valid; their 'test' is test-of-best-valid."""
    six = _six(values)
    searched = {key: stat for key, stat in six.items() if key[1] == "valid"}
    test = {ds: stat for (ds, split), stat in six.items() if split == "test"}
    return Published(method, NB201_VIA_THESIS, TIME_BUDGET, None, searched, test)


RS_NB201 = _nb201_row(
    "RS", [(90.93, 0.36), (93.70, 0.36), (70.93, 1.09), (71.04, 1.07), (44.45, 1.10), (44.57, 1.25)]
)
REA_NB201 = _nb201_row(
    "REA",
    [(91.19, 0.31), (93.92, 0.30), (71.81, 1.12), (71.84, 0.99), (45.15, 0.89), (45.54, 1.03)],
)
REINFORCE_NB201 = _nb201_row(
    "REINFORCE",
    [(91.09, 0.37), (93.85, 0.37), (71.61, 1.12), (71.71, 1.09), (45.05, 1.02), (45.24, 1.18)],
)
RS_500 = Published(
    "RS-500",
    GANAS_PAPER,
    "500 queries, searched on test, 20 runs",
    500,
    {
        ("cifar10", "test"): (94.11, 0.16),
        ("cifar100", "test"): (72.54, 0.54),
        ("ImageNet16-120", "test"): (46.34, 0.41),
    },
    mean_rank={
        ("cifar10", "test"): 30.81,
        ("cifar100", "test"): 30.89,
        ("ImageNet16-120", "test"): 34.18,
    },
)
GA_NAS = Published(
    "GA-NAS",
    GANAS_PAPER,
    "about 444 queries (unique cells), searched on test, 20 runs",
    444,
    {
        ("cifar10", "test"): (94.34, 0.05),
        ("cifar100", "test"): (73.28, 0.17),
        ("ImageNet16-120", "test"): (46.80, 0.29),
    },
    mean_rank={
        ("cifar10", "test"): 4.05,
        ("cifar100", "test"): 3.25,
        ("ImageNet16-120", "test"): 7.40,
    },
)
#: Optimum per (dataset, split), as printed in the thesis (IN16 valid is 46.73 in v1.1 data).
OPTIMAL: dict[tuple[str, str], float] = {
    ("cifar10", "valid"): 91.61,
    ("cifar10", "test"): 94.37,
    ("cifar100", "valid"): 73.49,
    ("cifar100", "test"): 73.51,
    ("ImageNet16-120", "valid"): 46.77,
    ("ImageNet16-120", "test"): 47.31,
}

ALL_ROWS: tuple[Published, ...] = (
    RS_NB201,
    REA_NB201,
    REINFORCE_NB201,
    RS_500,
    GA_NAS,
    CADAM_500,
    CADAM_1K,
)

#: Our agent name -> published rows of the same algorithm.
BY_AGENT: dict[str, tuple[Published, ...]] = {
    "cadam": (CADAM_500, CADAM_1K),
    "rs": (RS_500, RS_NB201),
    "rea": (REA_NB201,),
    "reinforce": (REINFORCE_NB201,),
    "ganas": (GA_NAS,),
}


def same_search(env_id: str, other: str) -> bool:
    """True when two ids run one search (``NASBench201-v1`` is ``-v0`` with flat spaces)."""
    from nas_gym.agents.bench.spec import search_id

    try:
        return search_id(env_id) == search_id(other)
    except ValueError:  # an id this nas_gym does not register (an old record's)
        return env_id == other


def rows_for(agent: str, env_id: str = NB201) -> tuple[Published, ...]:
    return tuple(row for row in BY_AGENT.get(agent, ()) if same_search(row.env_id, env_id))


def published_for(
    agent: str,
    dataset: str,
    split: str,
    budget: int,
    env_id: str = NB201,
    budget_unit: str = "query",
) -> list[tuple[Published, Stat]]:
    """Published searched-split values of this agent for this dataset and split.

    Rows at another query budget or unit are left out; rows under another protocol
    (no query budget) are kept, to be printed with their label and no Δ.
    """
    out = []
    for row in rows_for(agent, env_id):
        if row.budget is not None and not row.comparable(budget, budget_unit):
            continue
        stat = row.searched.get((dataset, split))
        if stat is not None:
            out.append((row, stat))
    return out


def published_test_of_best_valid(
    agent: str, dataset: str, env_id: str = NB201
) -> list[tuple[Published, Stat]]:
    """Published test accuracy of the best-by-validation architecture (NB201 protocol)."""
    return [
        (row, row.test_of_best_valid[dataset])
        for row in rows_for(agent, env_id)
        if dataset in row.test_of_best_valid
    ]


def thesis_value(budget: int, dataset: str, split: str) -> Stat | None:
    """CADAM's Table 4.1 value at this budget (for the examples), or None."""
    for row in (CADAM_500, CADAM_1K):
        if row.budget == budget:
            return row.searched.get((dataset, split))
    return None
