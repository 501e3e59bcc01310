"""Black-box UNAS: estimator unbiasedness against exact enumeration of NB201, and the latency hinge."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from stable_baselines3.common.callbacks import BaseCallback

import nas_gym  # noqa: F401
from nas_gym.agents.registry import make_agent
from nas_gym.agents.unas.estimators import (
    gumbel_argmax,
    log_prob,
    reinforce_objective,
    relax_objective,
    relaxed_sample,
    soften,
)
from nas_gym.agents.unas.unas import RidgeSurrogate
from nas_gym.benchmarks.hw_cost import load_hw_costs
from nas_gym.benchmarks.nb201 import load_nb201
from nas_gym.spaces import nb201 as space

torch.set_num_threads(1)


def test_conditional_relaxation_equals_the_sample_but_holds_z_fixed():
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(500, 7, generator=gen, dtype=torch.float64, requires_grad=True)
    u = torch.rand(500, 7, generator=gen, dtype=torch.float64)
    log_p = torch.log_softmax(logits, -1)
    zeta, zeta_tilde, z = relaxed_sample(log_p, u, tau=0.4)
    torch.testing.assert_close(zeta, zeta_tilde, rtol=0, atol=1e-9)
    assert torch.equal(zeta.argmax(-1), z.argmax(-1))
    # different gradients: zeta~ is conditioned on z, zeta is not
    w = torch.randn(7, dtype=torch.float64, generator=gen)
    g1 = torch.autograd.grad((zeta @ w).sum(), logits, retain_graph=True)[0]
    g2 = torch.autograd.grad((zeta_tilde @ w).sum(), logits)[0]
    assert (g1 - g2).abs().max() > 1e-3


def _per_sample_grads(
    phi: torch.Tensor, n: int, seed: int, loss_of_index, surrogate=None, baseline=0.0
):
    """(n, rows, ops) single-sample gradient estimates at phi: one logits leaf per sample."""
    gen = torch.Generator().manual_seed(seed)
    leaf = phi.detach().expand(n, *phi.shape).clone().requires_grad_(True)
    u = torch.rand(n, *phi.shape, generator=gen, dtype=phi.dtype)
    log_p = soften(leaf)
    if surrogate is None:
        z = gumbel_argmax(log_p.detach(), u)
        obj = reinforce_objective(log_p, z, loss_of_index(z), baseline)
    else:
        obj, _ = relax_objective(log_p, u, loss_of_index, surrogate, tau=0.4)
    obj.sum().backward()
    return leaf.grad


def test_relax_and_reinforce_are_unbiased_against_exact_enumeration():
    """Exact d E_p[L] over all 15,625 cells vs the mean of 4,000 single-sample estimates each."""
    acc = torch.tensor(np.array(load_nb201().accuracy("cifar100", "valid")), dtype=torch.float64)
    loss_by_index = -acc / 100.0
    code_to_index = torch.as_tensor(space.code_to_index_table())
    powers = torch.as_tensor(space.N_OPS ** np.arange(space.N_EDGES - 1, -1, -1))

    def loss_of_onehot(z: torch.Tensor) -> torch.Tensor:
        return loss_by_index[code_to_index[(z.argmax(-1) * powers).sum(-1)]]

    phi = torch.randn(6, 5, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    ops = torch.as_tensor(space.all_ops())  # (15625, 6), official index order
    leaf = phi.clone().requires_grad_(True)
    log_p = torch.log_softmax(leaf, -1)
    expected = (log_p[torch.arange(6), ops].sum(1).exp() * loss_by_index).sum()
    exact = torch.autograd.grad(expected, leaf)[0]

    # surrogate and baseline from a separate pilot batch, then fixed: the estimates stay unbiased
    gen = torch.Generator().manual_seed(2)
    pilot = gumbel_argmax(
        log_p.detach().expand(1000, 6, 5),
        torch.rand(1000, 6, 5, generator=gen, dtype=torch.float64),
    )
    g = RidgeSurrogate(30)
    for z, y in zip(pilot.numpy(), loss_of_onehot(pilot).numpy(), strict=True):
        g.add(z, float(y))
    weights = g.weights.double()
    surrogate = lambda zeta: zeta.reshape(*zeta.shape[:-2], -1) @ weights[:-1] + weights[-1]  # noqa: E731
    baseline = float(loss_of_onehot(pilot).mean())

    n = 4000
    variances = {}
    for name, kw in {
        "relax": dict(surrogate=surrogate),
        "reinforce": dict(baseline=baseline),
    }.items():
        grads = _per_sample_grads(phi, n, seed=3, loss_of_index=loss_of_onehot, **kw)
        mean, se = grads.mean(0), grads.std(0) / n**0.5
        z_scores = ((mean - exact).abs() / se).max()
        assert z_scores < 4.0, f"{name}: worst component {float(z_scores):.2f} standard errors off"
        variances[name] = float(grads.var(0).sum())
    print(
        f"total variance RELAX / REINFORCE (constant baseline) = {variances['relax'] / variances['reinforce']:.3f}"
    )


def test_log_prob_sums_the_rows():
    log_p = torch.log_softmax(torch.randn(3, 4), -1)
    z = torch.nn.functional.one_hot(torch.tensor([0, 3, 1]), 4).float()
    torch.testing.assert_close(log_prob(log_p, z), log_p[0, 0] + log_p[1, 3] + log_p[2, 1])


class Costs(BaseCallback):
    def __init__(self, key: str):
        super().__init__()
        self.key, self.values = key, []

    def _on_step(self) -> bool:
        self.values.append(float(self.locals["infos"][0][self.key]))
        return True


# The hinge weight is 1 per ms here (UNAS: 0.1 per ms of GPU latency against a
# cross-entropy loss), so that within a CI-sized run the latency term dominates the
# accuracy term and the test checks the mechanism: the estimator + hinge move the
# distribution towards feasible cells. Default-setting runs are in docs/seed_agents.md.
HINGE = 1.0


@pytest.mark.parametrize("name", ["unas", "unas-reinforce"])
def test_latency_hinge_raises_the_feasible_fraction_on_nb201(name):
    cost = "edgegpu_latency"
    target = float(np.nanquantile(load_hw_costs().cost(cost, "cifar10"), 0.25))
    env = gym.make(
        "NASBench201-v0", dataset="cifar10", reward="accuracy", cost=cost, max_queries=200
    )
    agent = make_agent(name, env, seed=0, target_latency=target, latency_coeff=HINGE)
    rec = Costs("cost")
    agent.learn(200, callback=rec)
    feasible = np.asarray(rec.values) <= target
    assert feasible[:50].mean() < 0.4  # ~ a quarter of random cells
    assert feasible[-50:].mean() > feasible[:50].mean() + 0.3


def test_latency_hinge_raises_the_feasible_probability_on_tiny_proxyless(tmp_path):
    """P(latency <= target) under the learned distribution rises (LUT latency, Monte Carlo).

    Every query scores the tiny supernet (about 0.5 CPU-s), so the run is short (20
    queries, at a 5x learning rate so that they move the distribution); the
    policy's feasible probability is estimated from 4,000 LUT-only samples, which
    costs no supernet evaluation and has a standard error below 0.01.
    """
    from tests.test_proxyless_env import tiny_proxyless_kwargs

    kwargs = {**tiny_proxyless_kwargs(tmp_path), "latency_target": None, "max_queries": 20}
    env = gym.make("ProxylessNAS-v0", reward="accuracy", **kwargs)
    inner = env.unwrapped
    rng = np.random.default_rng(0)

    def feasible_probability(agent, target=None) -> tuple[float, float]:
        probs = torch.softmax(agent.policy.masked_logits().detach(), 1).double().numpy()
        cum = probs.cumsum(1)
        u = rng.random((4000, len(probs), 1))
        ops = np.minimum((u > cum[None]).sum(2), probs.shape[1] - 1)
        lat = np.array([inner.latency_ms(tuple(o)) for o in ops])
        return lat, (lat <= target).mean() if target is not None else 0.0

    agent = make_agent(
        "unas", env, seed=0, target_latency=1.0, latency_coeff=HINGE, learning_rate=0.05
    )
    lat, _ = feasible_probability(agent)
    target = float(np.quantile(lat, 0.25))
    agent.target_latency = target
    _, before = feasible_probability(agent, target)
    agent.learn(20)
    _, after = feasible_probability(agent, target)
    assert 0.2 < before < 0.3
    assert after > before + 0.05


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(estimator="rebar"), "estimator must be one of"),
        (dict(latency_key="energy"), "latency_key must be one of"),
        (dict(target_latency=-1.0), "target_latency must be > 0"),
        (dict(tau=0.0), "tau > 0"),
    ],
)
def test_bad_arguments_are_clear_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_agent("unas", gym.make("NASBench201-v0"), seed=0, **kwargs)


def test_latency_target_without_a_cost_in_info_is_a_clear_error():
    agent = make_agent("unas", gym.make("NASBench201-v0"), seed=0, target_latency=5.0)
    with pytest.raises(KeyError, match="cost=.*info has: .*arch_index"):
        agent.learn(2)
