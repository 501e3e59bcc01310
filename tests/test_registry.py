"""The agent registry: paper environment configurations, documented examples, keywords.

Every registered agent is built from its documented example overrides on the
environment configuration of its paper, so neither the help text nor the paper
configuration can drift from what the constructors accept.
"""

from __future__ import annotations

import gymnasium as gym
import pytest

import nas_gym  # noqa: F401  (registers the environments)
from nas_gym.agents.registry import (
    agent_env_kwargs,
    agent_example_kwargs,
    agent_keywords,
    agent_names,
    make_agent,
    register_agent,
)


@pytest.mark.parametrize("name", agent_names())
def test_every_agent_builds_from_its_documented_example(name):
    example = agent_example_kwargs(name)
    env = gym.make("NASBench201-v0", dataset="cifar10", max_queries=5, **agent_env_kwargs(name))
    agent = make_agent(name, env, seed=0, **example)
    for key, value in example.items():
        # SB3-style agents keep a hyperparameter as an attribute or in policy_kwargs
        found = getattr(agent, key, getattr(agent, "policy_kwargs", {}).get(key))
        assert found == value, (name, key)
    keywords = agent_keywords(name)
    assert keywords is None or set(example) <= set(keywords)
    env.close()


def test_paper_configurations_ddas_last_cadam_topk():
    for name in ("ddas-nl", "ddas-g", "ddas-4s", "ddas-td3"):
        assert agent_env_kwargs(name) == {"observation": "last"}
    for name in ("cadam", "cadam-td3"):
        assert agent_env_kwargs(name) == {"observation": "topk", "reward": "cadam"}
    assert agent_env_kwargs("rs") == {}
    # a copy: callers cannot change the registry
    agent_env_kwargs("cadam")["observation"] = "last"
    assert agent_env_kwargs("cadam")["observation"] == "topk"


def test_keywords_follow_the_factory_into_the_class():
    cadam = agent_keywords("cadam")
    assert cadam is not None and "actor_learning_rate" in cadam and "actor_lr" not in cadam
    # REA forwards **kwargs to its search base class; both levels are read
    rea = agent_keywords("rea")
    assert rea is not None and {"population_size", "sample_size", "learning_rate"} <= set(rea)
    assert "seed" not in rea and "env" not in rea


@pytest.mark.parametrize("name", ["ddpg", "td3", "ddpg-noise", "td3-noise"])
def test_stock_sb3_takes_the_device_keyword_it_lists(name):
    """``device`` is among the keywords the bench's --variant check allows, so building
    with it must work (the factory's own CPU default must not collide with it)."""
    assert "device" in agent_keywords(name)
    env = gym.make("NASBench201-v0", dataset="cifar10", max_queries=5)
    assert make_agent(name, env, seed=0, device="cpu").device.type == "cpu"
    assert make_agent(name, env, seed=0).device.type == "cpu"  # the default
    env.close()


def test_registry_errors_name_what_exists():
    with pytest.raises(ValueError, match="unknown agent 'nope'; allowed: .*cadam"):
        agent_env_kwargs("nope")
    with pytest.raises(ValueError, match="'rs' is already registered"):
        register_agent("rs")(lambda env, **kw: None)


def test_unannotated_factory_has_unknown_keywords():
    name = "test-registry-unannotated"

    @register_agent(name, env_kwargs={"observation": "last"})
    def factory(env, seed=None, verbose=0, **overrides):
        return make_agent("rs", env, seed=seed, **overrides)

    assert agent_keywords(name) is None
    assert agent_env_kwargs(name) == {"observation": "last"}


@pytest.mark.parametrize("name", ["rs", "rea", "cadam", "ddas-4s", "ganas", "td3"])
@pytest.mark.parametrize("seed", [-1, 1.5, 2**32, True, "3"])
def test_bad_seeds_are_refused_by_name(name, seed):
    env = gym.make("NASBench201-v0", dataset="cifar10", max_queries=5, **agent_env_kwargs(name))
    with pytest.raises(
        ValueError, match=r"seed must be None or an integer in 0\.\.4294967295, got"
    ):
        make_agent(name, env, seed=seed)


@pytest.mark.parametrize("name", ["rs", "reinforce", "unas", "cadam"])
def test_misspelt_overrides_are_refused_with_the_allowed_ones(name):
    env = gym.make("NASBench201-v0", dataset="cifar10", max_queries=5, **agent_env_kwargs(name))
    with pytest.raises(ValueError) as err:
        make_agent(name, env, seed=0, lerning_rate=1e-3)
    message = str(err.value)
    assert message.startswith(f"{name} takes no keyword 'lerning_rate'; allowed: ")
    assert "learning_rate" in message.split("allowed: ")[1].split(", ")
