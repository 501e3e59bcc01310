"""GA-NAS agent: query accounting, modes, truth-set admission, initial cells, bad input."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.logger import configure

import nas_gym  # noqa: F401
from nas_gym.agents.common.rng import private_rng
from nas_gym.agents.ganas import GANAS
from nas_gym.agents.registry import make_agent
from nas_gym.spaces import nb201 as space

torch.set_num_threads(1)

# every phase of GA-NAS at a fraction of the default cost
TINY = dict(
    initial_size=10, increment=10, k=5, alternations=1, d_steps=5, d_batch=8,
    ppo_rollouts=1, ppo_batch=16, ppo_epochs=2, hidden=16, n_layers=2,
)  # fmt: skip


class Infos(BaseCallback):
    def __init__(self):
        super().__init__()
        self.infos: list[dict] = []

    def _on_step(self) -> bool:
        self.infos.extend(self.locals["infos"])
        return True


def nb201(**kwargs) -> gym.Env:
    return gym.make("NASBench201-v0", dataset="cifar100", **{"max_queries": 500, **kwargs})


def test_never_requeries_and_spends_the_exact_budget():
    env = nb201(max_queries=90)
    agent = make_agent("ganas", env, seed=0, **TINY)
    rec = Infos()
    agent.learn(90, callback=rec)
    last = rec.infos[-1]
    assert agent.num_timesteps == 90
    assert last["n_queries"] == last["n_unique_queries"] == 90
    assert agent.iteration >= 3  # X_0 = 10, X_1 = 20, X_2 = 30, X_3 ...: the generator was used
    assert len(agent.evaluated) == 90


def test_paper_mode_stops_after_T_iterations():
    env = nb201()
    agent = make_agent("ganas", env, seed=1, mode="paper", max_iterations=2, **TINY)
    rec = Infos()
    agent.learn(500, callback=rec)
    # X_0 + X_1 + X_2 = 10 + 20 + 30 generated cells, minus the already known ones
    assert agent.iteration == 2
    assert 30 < agent.num_timesteps <= 60
    assert rec.infos[-1]["n_unique_queries"] == agent.num_timesteps


def test_one_iteration_pulls_the_generator_towards_the_truth_set():
    """D + PPO on a synthetic truth set (cells rich in op 3): G then generates op 3 far more often.

    Fails if the discriminator, the reward sign or the PPO update is broken.
    """
    agent = make_agent("ganas", nb201(), seed=2, alternations=1)  # default networks and PPO
    agent.set_logger(configure(None, []))
    rng = np.random.default_rng(0)
    cells = {tuple(int(o) for o in rng.integers(0, 5, 6)) for _ in range(300)}
    agent.evaluated = {c: (float(sum(o == 3 for o in c)) + rng.random(), True) for c in cells}
    with private_rng(agent):
        before = agent.policy.sample(400)[0]
        agent._advance()
        after = agent.policy.sample(400)[0]
    count = lambda ops: float((ops == 3).sum(dim=1).float().mean())  # noqa: E731
    assert count(before) < 1.6  # ~ uniform: 6 rows x 1/5
    assert count(after) > 2.4


def test_truth_set_admits_only_feasible_cells_that_pass_the_filters():
    cost = "edgegpu_latency"
    env = nb201(reward_metric="valid", cost=cost, cost_target=5.0, constraint="hard")
    params_max = 0.5
    agent = make_agent("ganas", env, seed=3, truth_filters={"params_M": ("<=", params_max)}, **TINY)
    rec = Infos()
    agent.learn(60, callback=rec)
    by_arch = {int(i["arch_index"]): i for i in rec.infos}
    truth = agent.truth_set()
    assert truth
    for cell in truth:
        info = by_arch[space.ops_to_index(cell)]
        assert info["feasible"] and info["params_M"] <= params_max
    # the filters mattered: a rejected cell scored above the worst admitted one
    worst = min(agent.evaluated[c][0] for c in truth)
    rejected = [i for i in rec.infos if not (i["feasible"] and i["params_M"] <= params_max)]
    assert rejected and max(i["valid_acc"] for i in rejected) > min(
        by_arch[space.ops_to_index(c)]["valid_acc"] for c in truth
    )
    assert worst >= 0


def test_initial_archs_are_queried_first():
    refs = [(3, 3, 3, 3, 3, 3), (1, 2, 3, 4, 0, 1)]
    env = nb201()
    agent = make_agent("ganas", env, seed=4, initial_archs=refs, **TINY)
    rec = Infos()
    agent.learn(12, callback=rec)
    assert [i["arch_index"] for i in rec.infos[:2]] == [space.ops_to_index(r) for r in refs]


def test_save_load_keeps_generator_and_discriminator(tmp_path):
    agent = make_agent("ganas", nb201(), seed=5, **TINY)
    agent.learn(40)
    agent.save(tmp_path / "g.zip")
    loaded = GANAS.load(tmp_path / "g.zip", env=nb201())
    for a, b in zip(
        agent.policy.state_dict().values(), loaded.policy.state_dict().values(), strict=True
    ):
        torch.testing.assert_close(a, b)
    assert loaded.evaluated == agent.evaluated


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(mode="fast"), "mode must be one of"),
        (dict(k=1), "k .* must be >= 2"),
        (dict(truth_filters={"params_M": ("~", 1.0)}), "allowed: <=, <, >=, >, =="),
        (dict(truth_filters={"params_M": 1.0}), r"must be \(comparison, number\)"),
        (dict(initial_archs=[(0, 1, 2)]), "needs 6 op indices"),
        (dict(topology="grid"), "topology must be one of"),
    ],
)
def test_bad_arguments_are_clear_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_agent("ganas", nb201(), seed=0, **kwargs)


def test_filter_on_a_missing_info_key_names_the_available_keys():
    agent = make_agent("ganas", nb201(), seed=0, truth_filters={"latency_ms": ("<=", 5)}, **TINY)
    with pytest.raises(KeyError, match="latency_ms.*info has: .*params_M"):
        agent.learn(3)


def test_constrained_example_runs_and_reports_admissible_cells():
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    out = subprocess.run(
        [sys.executable, str(repo / "examples" / "ganas_constrained_nb201.py"),
         "--steps", "60", "--seeds", "0", "--agents", "ganas"],
        capture_output=True, text=True, check=True, timeout=300,
    ).stdout  # fmt: skip
    ref = out.splitlines()[0]
    assert ref.startswith("reference (ResNet-like cell) on cifar100")
    params = float(ref.split(" M params")[0].rsplit(" ", 1)[1])
    row = next(line for line in out.splitlines() if line.startswith("| ganas | 0 |"))
    assert float(row.split("|")[-4]) <= params  # the admitted cell respects the constraint
    assert "ganas: beats the reference in" in out
