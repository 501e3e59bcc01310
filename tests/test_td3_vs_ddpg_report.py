"""The pair tables of ``benchmarks/td3_vs_ddpg.py``: seed filters and the declared re-tests."""

from __future__ import annotations

import pytest

from tests.scripts import load_script


@pytest.fixture(scope="module")
def study():
    return load_script("benchmarks/td3_vs_ddpg.py")


def record(agent: str, seed: int, test: float, valid: float) -> dict:
    """A bench run record with the fields the study's tables read (the on-disk layout)."""
    return {
        "spec": {
            "agent": agent, "dataset": "cifar100", "reward_metric": "valid", "budget": 2000,
            "budget_unit": "query", "seed": seed,
        },
        "result": {
            "best_test_acc": test, "best_valid_acc": valid, "n_unique_queries": 900,
            "n_queries": 2000, "cpu_s": 40.0,
        },
        "history": {"arch_index": [seed, 1, 2] if agent == "ddpg-noise" else [seed, 1, 3]},
    }  # fmt: skip


def records() -> list[dict]:
    """Seeds 1-5: TD3 ahead by 1 point; seeds 11-15: DDPG ahead by 0.5."""
    out = []
    for seed in range(1, 6):
        out += [record("ddpg-noise", seed, 72.0, 71.0), record("td3-noise", seed, 73.0, 72.0)]
    for seed in range(11, 16):
        out += [record("ddpg-noise", seed, 72.0, 71.0), record("td3-noise", seed, 71.5, 70.5)]
    return out


def test_pair_table_uses_only_the_given_seeds(study):
    idx = study.index(records())
    family = next(f for f in study.FAMILIES if f.key == "sb3-noise")
    pooled = study.pair_table(idx, family, "td3-noise", "query", 2000)
    fresh = study.pair_table(idx, family, "td3-noise", "query", 2000, seeds=range(11, 21))
    row = next(line for line in fresh.splitlines() if line.startswith("| cifar100"))
    assert "| 11-15 |" in row and "-0.50 [-0.50, -0.50]" in row
    pooled_row = next(line for line in pooled.splitlines() if line.startswith("| cifar100"))
    assert "| 1,2,3,4,5,11,12,13,14,15 |" in pooled_row and "+0.25" in pooled_row
    assert study.pair_table(idx, family, "td3-noise", "query", 2000, seeds=[30]) is None


def test_declared_retest_reports_its_fresh_seeds_alone(study):
    idx = study.index(records())
    (part,) = study.retest_tables(idx)
    assert part.startswith("**Re-test on fresh seeds 11-20**")
    assert "| 11-15 |" in part and "| 1-5" not in part
    # nothing on the fresh seeds yet: no table, not an empty one
    early = study.index([r for r in records() if r["spec"]["seed"] < 11])
    assert study.retest_tables(early) == []
    assert "Re-test" in study.all_tables(records())


def test_every_declared_retest_has_a_stage_that_runs_it(study):
    """A re-test names a real family and TD3 twin, and some stage runs both twins on exactly
    its fresh seeds at its budget and unit (else its table could never appear)."""
    families = {f.key: f for f in study.FAMILIES}
    for r in study.RETESTS:
        family = families[r.family]
        assert r.td3 in family.td3
        assert any(
            {family.ddpg, r.td3} <= set(s.agents)
            and (s.unit, s.budget) == (r.unit, r.budget)
            and study.stage_seeds(s.seeds) == study.stage_seeds(r.seeds)
            for s in study.STAGES
        ), r
