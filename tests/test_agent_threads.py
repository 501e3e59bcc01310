"""Our agents run with their own torch thread count and show SB3's progress bar on request.

Thread counts are observed from inside a real SB3 callback during ``learn``; the
caller's count must come back afterwards, also when ``learn`` raises.
"""

from __future__ import annotations

import gymnasium as gym
import pytest
import torch
from stable_baselines3.common.callbacks import BaseCallback

import nas_gym  # noqa: F401  (registers the environments)
from nas_gym.agents.common.rng import LocalRNGMixin
from nas_gym.agents.common.threads import single_thread, torch_threads
from nas_gym.agents.registry import agent_names, make_agent

STEPS = 12
#: One agent per family: quantile-critic AC, DDPG/TD3 schedule, search loop (3 kinds).
FAMILIES = ("cadam", "ddas-4s", "rs", "rea", "reinforce")
TINY = {"cadam": {"net_arch": (16, 16)}, "ddas-4s": {"net_arch": (16, 16), "batch_size": 4}}
CALLER = 3  # a count no default produces, so "restored" cannot pass by accident


class ThreadProbe(BaseCallback):
    """Records torch's thread count at every step; optionally raises at step ``fail_at``."""

    def __init__(self, fail_at: int | None = None):
        super().__init__()
        self.seen: list[int] = []
        self.fail_at = fail_at

    def _on_step(self) -> bool:
        self.seen.append(torch.get_num_threads())
        if self.fail_at is not None and len(self.seen) == self.fail_at:
            raise RuntimeError("boom inside learn")
        return True


@pytest.fixture
def caller_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(CALLER)
    yield CALLER
    torch.set_num_threads(before)


def _agent(name: str):
    env = gym.make("NASBench201-v0", max_queries=STEPS)
    return make_agent(name, env, seed=0, **TINY.get(name, {}))


def _ours() -> list[str]:
    """Every registered agent built on LocalRNGMixin (stock SB3 ddpg/td3 are not)."""
    env = gym.make("NASBench201-v0", max_queries=STEPS)
    return [n for n in agent_names() if isinstance(make_agent(n, env, seed=0), LocalRNGMixin)]


@pytest.mark.parametrize("name", FAMILIES)
def test_learn_is_single_threaded_and_restores_the_caller(name, caller_threads):
    agent = _agent(name)
    assert torch.get_num_threads() == caller_threads  # construction restored it too
    probe = ThreadProbe()
    agent.learn(STEPS, callback=probe)
    assert probe.seen == [1] * STEPS
    assert torch.get_num_threads() == caller_threads
    agent.predict(agent.observation_space.sample())
    assert torch.get_num_threads() == caller_threads


@pytest.mark.parametrize("name", ("cadam", "rea"))
def test_caller_threads_restored_after_an_exception(name, caller_threads):
    agent = _agent(name)
    probe = ThreadProbe(fail_at=3)
    with pytest.raises(RuntimeError, match="boom inside learn"):
        agent.learn(STEPS, callback=probe)
    assert probe.seen == [1, 1, 1]
    assert torch.get_num_threads() == caller_threads


@pytest.mark.parametrize("name", ("cadam", "rs"))
def test_torch_threads_option(name, caller_threads):
    agent = _agent(name)
    agent.torch_threads = 2
    probe = ThreadProbe()
    agent.learn(4, callback=probe)
    assert probe.seen == [2] * 4
    agent.torch_threads = None  # keep the caller's setting
    probe = ThreadProbe()
    agent.learn(4, callback=probe, reset_num_timesteps=False)
    assert probe.seen == [caller_threads] * 4
    assert torch.get_num_threads() == caller_threads
    agent.torch_threads = 0
    with pytest.raises(
        ValueError, match=r"torch_threads must be a positive integer or None.*got 0"
    ):
        agent.learn(2)
    assert torch.get_num_threads() == caller_threads


def test_public_context_managers_restore(caller_threads):
    with single_thread():
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == caller_threads
    with pytest.raises(KeyError), torch_threads(2):
        assert torch.get_num_threads() == 2
        raise KeyError("x")
    assert torch.get_num_threads() == caller_threads
    with pytest.raises(ValueError, match="got 'two'"), torch_threads("two"):  # type: ignore[arg-type]
        pass


def test_progress_bar_is_attached_and_stepped_for_every_agent_of_ours(capfd):
    names = _ours()
    assert set(FAMILIES) <= set(names)
    for name in names:
        agent = _agent(name)
        agent.learn(STEPS, progress_bar=True)
        err = capfd.readouterr().err
        # tqdm's final line: "<Class>: 100%|...| 12/12 [..."
        assert f"{type(agent).__name__}: 100%" in err and f"{STEPS}/{STEPS}" in err, (name, err)
        assert "\r" not in err, name  # stderr is not a terminal here: whole lines


def test_readme_snippet_runs_and_restores_the_callers_threads(caller_threads, capfd):
    """The README's Python snippet as written (budgets cut from 500 to 20 queries)."""
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    snippet = re.findall(r"```python\n(.*?)```", readme, re.S)[0]
    assert "single_thread()" in snippet and snippet.count(".learn(500") == 2
    exec(compile(snippet.replace(".learn(500", ".learn(20"), "README.md", "exec"), {})
    assert torch.get_num_threads() == caller_threads
    assert "CADAM: 100%" in capfd.readouterr().err  # its progress_bar=True
