"""DDAS phase schedule (Mills 2020, Ch. 3, Table 3.3) and its TD3 variant."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from stable_baselines3.common.noise import NormalActionNoise

import nas_gym  # noqa: F401
from nas_gym.agents.common.buffers import truncate_replay_buffer
from nas_gym.agents.common.discrete import default_similarity_threshold
from nas_gym.agents.common.noise import UniformActionNoise
from nas_gym.agents.ddas import DDAS
from nas_gym.agents.ddas.ddas import phase_steps
from nas_gym.agents.registry import make_agent

torch.set_num_threads(1)  # tiny networks: extra threads only contend with xdist workers

SMALL = dict(net_arch=(16, 16), batch_size=8)


def params(agent: DDAS) -> list[torch.Tensor]:
    return [p.detach().clone() for p in agent.policy.parameters()]


def test_thesis_defaults():
    agent = make_agent("ddas-4s", gym.make("NASBench201-v0"))
    assert agent.policy.actor.optimizer.param_groups[0]["betas"] == (0.9, 0.99)
    assert (agent.batch_size, agent.tau, agent.gamma, agent.buffer_size) == (
        64,
        1e-3,
        0.99,
        1_000_000,
    )
    assert (
        agent.explore_steps,
        agent.exploit_steps,
        agent.phase4_buffer,
        agent.stagnation_steps,
    ) == (500, 500, 500, 32)
    assert agent.policy.net_arch == [256, 256, 256]
    assert (
        agent.policy.critic.n_critics == 1
        and agent.policy_delay == 1
        and agent.target_policy_noise == 0.0
    )
    assert isinstance(agent.exploit_noise, NormalActionNoise)
    nl = make_agent("ddas-nl", gym.make("NASBench201-v0"))
    assert isinstance(nl.exploit_noise, UniformActionNoise) and nl.exploit_noise_scale == 1e-5
    td3 = make_agent("ddas-td3", gym.make("NASBench201-v0"))
    assert (
        td3.policy.critic.n_critics == 2
        and td3.policy_delay == 2
        and td3.target_policy_noise == 0.2
    )


def test_phase_schedule_scales_to_the_budget():
    """The thesis' 500/500/500 of 1,500 steps scale with the budget (issue 12):
    a 60-query run explores for 20 steps, then updates every step."""
    assert phase_steps(1500) == (500, 500) and phase_steps(500) == (167, 167)
    assert phase_steps(2000, explore_steps=100) == (100, 667)
    agent = make_agent("ddas-4s", gym.make("NASBench201-v0", max_queries=60), seed=0, **SMALL)
    agent.learn(60)
    assert (agent.explore_steps, agent.exploit_steps, agent.learning_starts) == (20, 20, 20)
    assert agent._n_updates == 40
    assert [agent.phase(t) for t in (19, 20, 39, 40)] == [1, 2, 2, 4]


def test_separate_actor_and_critic_learning_rates_survive_training():
    agent = make_agent(
        "ddas-g", gym.make("NASBench201-v0", max_queries=30), seed=0, explore_steps=10, **SMALL
    )
    agent.learn(30)
    assert agent.actor.optimizer.param_groups[0]["lr"] == 1e-4
    assert agent.critic.optimizer.param_groups[0]["lr"] == 1e-3


@pytest.mark.parametrize("name", ["ddas-nl", "ddas-g", "ddas-4s", "ddas-td3"])
def test_no_updates_during_exploration_then_updates(name):
    agent = make_agent(
        name, gym.make("NASBench201-v0", max_queries=100), seed=0, explore_steps=20, **SMALL
    )
    start = params(agent)
    agent.learn(20)
    assert agent._n_updates == 0
    assert all(torch.equal(a, b) for a, b in zip(start, params(agent), strict=True))
    actions = agent.replay_buffer.actions[:20, 0]  # scaled to [-1, 1]: U(0,1) -> U(-1,1)
    assert actions.min() < -0.5 and actions.max() > 0.5
    agent.learn(10, reset_num_timesteps=False)
    assert agent._n_updates == 10
    assert not all(torch.equal(a, b) for a, b in zip(start, params(agent), strict=True))


def test_exploit_noise_is_the_schedules_noise():
    """After exploration: action - mu(s) is U(-1e-5, 1e-5) for NL and N(0, 0.05) for G."""
    for name, check in [
        ("ddas-nl", lambda d: np.abs(d).max() <= 1e-5 + 1e-7),
        ("ddas-g", lambda d: 0.03 < d[np.abs(d) < 0.4].std() < 0.07),
    ]:
        agent = make_agent(
            name, gym.make("NASBench201-v0", max_queries=60), seed=0, explore_steps=5, **SMALL
        )
        diffs = []
        original = agent._sample_action

        def spy(*args, _agent=agent, _orig=original, _diffs=diffs, **kwargs):
            before = _agent.num_timesteps
            action, buf = _orig(*args, **kwargs)
            if before >= 5:
                obs = torch.as_tensor(np.asarray(_agent._last_obs, np.float32)).view(1, -1)
                with torch.no_grad():
                    mu = _agent.policy.unscale_action(
                        _agent.actor(obs).numpy().reshape(action.shape)
                    )
                inside = (mu > 0.2) & (mu < 0.8)  # away from the clip at the box edges
                _diffs.append((action - mu)[inside])
            return action, buf

        agent._sample_action = spy
        agent.learn(60)
        assert check(np.concatenate(diffs)), name


def test_4s_truncates_the_buffer_to_the_last_500_steps():
    agent = make_agent(
        "ddas-4s",
        gym.make("NASBench201-v0", max_queries=700),
        seed=0,
        explore_steps=100,
        exploit_steps=550,
        **SMALL,
    )
    agent.learn(649)  # phase 4 starts after step 650
    assert agent.replay_buffer.size() == 649
    steps_151_to_649 = agent.replay_buffer.actions[150:649, 0].copy()
    agent.learn(1, reset_num_timesteps=False)
    buf = agent.replay_buffer
    assert buf.buffer_size == 500 and buf.size() == 500 and buf.pos == 0
    np.testing.assert_array_equal(buf.actions[:499, 0], steps_151_to_649)  # oldest first
    agent.learn(40, reset_num_timesteps=False)
    assert agent.replay_buffer.size() == 500  # stays a window of the last 500 steps


def test_truncate_replay_buffer_keeps_order_when_wrapped():
    agent = make_agent(
        "ddas-g", gym.make("NASBench201-v0", max_queries=30), seed=0, buffer_size=10, **SMALL
    )
    agent.learn(23)  # circular buffer of 10 holds steps 14..23, oldest at pos 3
    buf = agent.replay_buffer
    chronological = np.roll(buf.actions[:, 0], -buf.pos, axis=0)
    small = truncate_replay_buffer(buf, 4)
    np.testing.assert_array_equal(small.actions[:, 0], chronological[-4:])
    assert small.full and small.pos == 0


def test_4s_adds_ou_noise_after_t_stag_similar_steps():
    """A frozen actor on a frozen top-K state picks the same architecture every step;
    4S must then add OU noise for T_stag steps (Sec. 3.1.3), then stay noiseless
    until the architecture has again been similar for T_stag steps."""
    t_stag = 8
    agent = make_agent(
        "ddas-4s", gym.make("NASBench201-v0", max_queries=200), seed=0, explore_steps=5, exploit_steps=5,
        stagnation_steps=t_stag, actor_learning_rate=1e-12, learning_rate=1e-12, **SMALL,
    )  # fmt: skip
    noisy, moves = [], []
    original = agent._sample_action

    def spy(*args, **kwargs):
        was = agent._ou_left
        action, buf = original(*args, **kwargs)
        if agent.num_timesteps >= 10:  # phase 4
            noisy.append(was > 0)
            obs = torch.as_tensor(np.asarray(agent._last_obs, np.float32)).view(1, -1)
            with torch.no_grad():
                mu = agent.policy.unscale_action(agent.actor(obs).numpy().reshape(action.shape))
            moves.append(np.abs(action - mu).max())
        return action, buf

    agent._sample_action = spy
    agent.learn(80)
    assert agent.n_ou_bursts >= 2
    runs, current = [], None
    for flag in noisy:
        if current is None or flag != current[0]:
            current = [flag, 0]
            runs.append(current)
        current[1] += 1
    bursts = [n for flag, n in runs[:-1] if flag]
    quiet = [n for flag, n in runs if not flag]
    assert bursts and all(n == t_stag for n in bursts)
    assert all(n >= t_stag for n in quiet[:-1]), runs  # noiseless until stagnation is detected
    assert not any(noisy[:t_stag])
    on = [m for m, flag in zip(moves, noisy, strict=True) if flag]
    off = [m for m, flag in zip(moves, noisy, strict=True) if not flag]
    assert max(off) == 0.0 and min(on) > 0.0  # Z = 0 except during OU bursts


def test_similarity_thresholds_per_space():
    assert default_similarity_threshold((6, 5)) == 2  # NB201: fewer than 2 of 6 edges differ
    assert default_similarity_threshold((2, 14, 7)) == 6  # DARTS: fewer than 6 of 16 pairs differ
    assert default_similarity_threshold((21, 7)) == 7


@pytest.mark.parametrize(
    "kwargs, match", [(dict(schedule="5s"), "schedule"), (dict(phase4_buffer=0), "phase4_buffer")]
)
def test_bad_arguments_are_clear_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DDAS(env=gym.make("NASBench201-v0"), **kwargs)
