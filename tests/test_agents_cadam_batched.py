"""Batched CADAM: S seeds in lockstep with stacked networks, each seed as if run alone."""

from __future__ import annotations

import gymnasium as gym
import pytest
import torch
from stable_baselines3.common.callbacks import BaseCallback

import nas_gym  # noqa: F401
from nas_gym.agents.cadam import CADAM
from nas_gym.agents.cadam.batched import BatchedCADAM

torch.set_num_threads(1)

STEPS = 50
# the actor acts from step 15 on and learns fast, so the queries depend on the updates
SMALL = dict(net_arch=(16, 16), epsilon_decay_steps=15, actor_learning_rate=1e-3)


def queries_alone(seed: int, **kwargs) -> tuple[list[int], CADAM]:
    agent = CADAM("MlpPolicy", gym.make("NASBench201-v0", max_queries=STEPS), seed=seed, **kwargs)
    seen: list[int] = []

    class Queries(BaseCallback):
        def _on_step(self) -> bool:
            seen.append(int(self.locals["infos"][0]["arch_index"]))
            return True

    agent.learn(STEPS, callback=Queries())
    return seen, agent


def test_a_seed_queries_the_same_alone_or_in_a_batch():
    """Twin critics, delayed actor on min(Q1, Q2): every part of the update is stacked.
    (One critic, the default, is covered by the unique-budget test below.)"""
    kwargs = dict(n_critics=2, policy_delay=2, actor_q="min")
    seeds = [3, 4]
    batched = BatchedCADAM(
        [gym.make("NASBench201-v0", max_queries=STEPS) for _ in seeds], seeds, **SMALL, **kwargs
    )
    histories = batched.learn(STEPS)
    assert batched.agents[0]._n_updates == sum(min(t // 8, 10) for t in range(1, STEPS + 1))
    sequences = [h["arch_index"] for h in histories]
    assert len({tuple(s) for s in sequences}) == len(seeds)  # the seeds are independent
    for seed, history, agent in zip(seeds, histories, batched.agents, strict=True):
        alone, single = queries_alone(seed, **SMALL, **kwargs)
        assert history["arch_index"] == alone, seed
        # the trained weights are written back into each seed's agent
        for a, b in zip(single.policy.parameters(), agent.policy.parameters(), strict=True):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_one_environment_per_seed():
    with pytest.raises(ValueError, match="one environment per seed"):
        BatchedCADAM([gym.make("NASBench201-v0")], [1, 2])


def test_unique_budget_each_seed_stops_at_its_own_step():
    """budget_unit="unique": re-queries are free, so seeds end at different steps; each
    history stops at its seed's episode end and still matches the seed run alone."""
    seeds, budget = [1, 2], 20
    envs = [
        gym.make("NASBench201-v0", max_queries=budget, budget_unit="unique", max_steps=400)
        for _ in seeds
    ]
    kwargs = dict(SMALL, actor_learning_rate=1e-8)  # a frozen actor re-queries known cells
    histories = BatchedCADAM(envs, seeds, **kwargs).learn(400)
    for seed, history in zip(seeds, histories, strict=True):
        assert history["n_unique_queries"][-1] == budget
        assert len(set(history["arch_index"])) == budget < len(history["arch_index"])
        alone, _ = queries_alone(seed, **kwargs)
        steps = min(len(alone), len(history["arch_index"]))
        assert history["arch_index"][:steps] == alone[:steps]


def test_agents_of_another_configuration_are_refused_with_the_difference():
    env = lambda: gym.make("NASBench201-v0", max_queries=STEPS)  # noqa: E731
    a = CADAM("MlpPolicy", env(), seed=1, **SMALL)
    b = CADAM("MlpPolicy", env(), seed=2, **dict(SMALL, quantile=0.5))
    with pytest.raises(ValueError, match=r"quantile differs \(0.9 vs 0.5\)"):
        BatchedCADAM.from_agents([a, b])
    scheduled = dict(SMALL, learning_rate=lambda progress: 1e-3 * progress)
    batched = BatchedCADAM.from_agents(
        [CADAM("MlpPolicy", env(), seed=s, **scheduled) for s in (1, 2)]
    )
    with pytest.raises(ValueError, match="different step totals need constant learning rates"):
        batched.learn([10, 20])


def test_agents_on_another_device_are_refused_by_name():
    # "meta" (shapes without data) stands in for a GPU on this CPU-only machine
    env = lambda: gym.make("NASBench201-v0", max_queries=STEPS)  # noqa: E731
    a = CADAM("MlpPolicy", env(), seed=1, **SMALL)
    b = CADAM("MlpPolicy", env(), seed=2, device="meta", **SMALL)
    with pytest.raises(
        ValueError, match=r"device differs \(device\(type='cpu'\) vs device\(type='meta'\)\)"
    ):
        BatchedCADAM.from_agents([a, b])


def test_batch_threads_hold_inside_learn_and_the_callers_count_comes_back():
    """``batch_threads`` is torch's thread count for the whole batch, also inside each
    seed's private scope (whose own ``torch_threads`` would say 1); afterwards the
    caller's count and the agents' settings are back."""
    seen: set[int] = set()

    class ThreadsSeen(gym.Wrapper):  # the env steps inside each seed's private scope
        def step(self, action):
            seen.add(torch.get_num_threads())
            return super().step(action)

    seeds = [1, 2]
    envs = [ThreadsSeen(gym.make("NASBench201-v0", max_queries=20)) for _ in seeds]
    batched = BatchedCADAM(envs, seeds, batch_threads=2, net_arch=(8,))
    outer = torch.get_num_threads()
    batched.learn(20, on_step=lambda t, active: seen.add(torch.get_num_threads()))
    assert seen == {2}
    assert torch.get_num_threads() == outer
    assert [agent.torch_threads for agent in batched.agents] == [1, 1]


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_bad_batch_threads_are_refused_by_name(bad):
    with pytest.raises(ValueError, match=r"batch_threads must be a positive integer.*got"):
        BatchedCADAM([gym.make("NASBench201-v0")], [1], batch_threads=bad)


def _resumable(seeds, budgets, **kwargs):
    envs = [gym.make("NASBench201-v0", max_queries=b) for b in budgets]
    return BatchedCADAM(envs, seeds, **SMALL, **kwargs)


def test_a_batch_stopped_mid_search_resumes_exactly(tmp_path):
    """Stop after step 30 (one seed finished at 25), save the state through a file,
    resume the unfinished seeds in a new batch: queries, rewards and trained weights
    equal an uninterrupted batch's, bit for bit (same stack, same ops)."""
    seeds, budgets = [3, 4, 5], [STEPS, 25, STEPS]
    kwargs = dict(
        n_critics=2,
        policy_delay=2,
        actor_q="min",
        policy_kwargs={"optimizer_kwargs": {"weight_decay": 1e-4}},
    )
    whole = _resumable(seeds, budgets, **kwargs)
    expected = whole.learn(budgets)

    class Stop(Exception):
        pass

    first = _resumable(seeds, budgets, **kwargs)
    path = tmp_path / "batch.pt"

    def save_and_stop(t: int) -> None:
        if t == 29:
            torch.save(first.state_dict(), path)
            raise Stop

    with pytest.raises(Stop):
        first.learn(budgets, after_step=save_and_stop)
    state = torch.load(path, weights_only=True)  # tensors, numbers and strings only
    assert [saved["seed"] for saved in state["seeds"]] == [3, 5] and state["t"] == 30
    later = _resumable([3, 5], [STEPS, STEPS], **kwargs)
    resumed = later.learn([STEPS, STEPS], resume=state)
    for got, want in zip(resumed, [expected[0], expected[2]], strict=True):
        assert got["arch_index"] == want["arch_index"]
        assert got["reward"] == want["reward"]
    for got, want in zip(later.agents, [whole.agents[0], whole.agents[2]], strict=True):
        assert got._n_updates == want._n_updates
        for a, b in zip(got.policy.parameters(), want.policy.parameters(), strict=True):
            assert torch.equal(a, b)


def test_a_state_of_other_seeds_or_steps_is_refused_by_name():
    budgets = [STEPS, STEPS]
    batch = _resumable([1, 2], budgets)
    states = []
    batch.learn(budgets, after_step=lambda t: states.append(batch.state_dict()) if t == 9 else None)
    with pytest.raises(ValueError, match=r"unfinished seeds are \[1, 2\]; this batch has \[2, 1\]"):
        _resumable([2, 1], budgets).learn(budgets, resume=states[0])
    with pytest.raises(ValueError, match="took 10 steps and this one may take 10"):
        _resumable([1, 2], [10, 10]).learn(10, resume=states[0])
    with pytest.raises(ValueError, match=r"the saved batch ran with quantile .*, these agents"):
        _resumable([1, 2], budgets, quantile=0.5).learn(budgets, resume=states[0])
    with pytest.raises(
        ValueError, match=r"ran with policy net_arch \[16, 16\], these agents have \[8, 8\]"
    ):
        BatchedCADAM(
            [gym.make("NASBench201-v0", max_queries=STEPS) for _ in budgets],
            [1, 2],
            **dict(SMALL, net_arch=(8, 8)),
        ).learn(budgets, resume=states[0])
    with pytest.raises(ValueError, match="not a BatchedCADAM state"):
        _resumable([1, 2], budgets).learn(budgets, resume={"format": "other"})
    # a replay that does not give the recorded rewards (here: another dataset) is refused
    other = BatchedCADAM(
        [gym.make("NASBench201-v0", max_queries=STEPS, dataset="cifar100") for _ in budgets],
        [1, 2],
        **SMALL,
    )
    with pytest.raises(ValueError, match="seed 1: its environment gave other rewards"):
        other.learn(budgets, resume=states[0])
