"""UNAS' architecture distributions p_phi(z) and their relaxed samples (Vahdat et al., CVPR 2020).

Two factorised categoricals, each sampled by the Gumbel-max trick from uniforms u so
that one draw yields the discrete architecture z, its Gumbel-softmax relaxation zeta
and REBAR's conditional relaxation zeta~ given z (:mod:`nas_gym.agents.unas.estimators`):

* :class:`FactorizedCell` - the DARTS space (UNAS Sec. 4, "factorized cell"). Per cell
  (normal, reduce) and intermediate node n: two input selectors i_n, i'_n over the n+2
  inputs and two op selectors o_n, o'_n over the 7 ops. The edge-op weight is
  ``W_n[j, o] = i_n[j] o_n[o] + i'_n[j] o'_n[o]``. Unlike UNAS, which lets both
  selectors pick the same input, the second input is drawn from the first selector's
  logits with the first choice masked: p(i_n) p(i'_n | i_n). Every z is then a valid
  nas_gym cell (two distinct inputs), so ``train-genotype`` and the environments
  accept the result, and UNAS' L_arch penalty on repeated (input, op) pairs is zero on
  every z, so it is dropped.
* :class:`LayerCategorical` - the ProxylessNAS space: one categorical per layer over
  the 7 ops, ``zero`` masked where the layer changes the shape.

The masked second input needs care for REBAR: its relaxation must be a *continuous*
function of all the noise, or the reparameterised gradient misses the jump where the
first input's argmax changes. So the second selector is relaxed with a soft mask,
``zeta'_k  proportional to  (1 - zeta_k) exp(g'_k / tau)``, where g' are the
second selector's perturbed log-probabilities over all inputs; its argmax over
``k != i_n`` is i'_n. Given z = (i_n, i'_n), g'_k for k != i_n are conditioned on
i'_n being their argmax and g'_{i_n} is unconstrained (a fresh Gumbel draw), so the
conditional relaxation stays exact. The estimator is checked against enumeration in
``tests/test_oneshot_unas.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from nas_gym.agents.unas.estimators import (
    U_CLAMP,
    gumbel_perturb,
    log_prob,
    relaxed_sample,
    soften,
)
from nas_gym.agents.unas.estimators import stop_gradient_mix as mix
from nas_gym.spaces import darts as darts_space
from nas_gym.spaces import proxyless as proxyless_space

MAX_INPUTS = darts_space.N_NODES + darts_space.N_INPUTS - 1  # 5: node 3 reads k-2, k-1, 0, 1, 2
#: ``INPUT_MASK[n, j]``: input j exists for node n (j < n + 2).
INPUT_MASK = torch.tensor(
    [[j < n + darts_space.N_INPUTS for j in range(MAX_INPUTS)] for n in range(darts_space.N_NODES)]
)
_MASK_FLOOR = 1e-30  # log(1 - zeta) floor: a soft mask, never -inf, so gradients stay finite


@dataclass
class ArchSample:
    """One draw per example from p_phi.

    Attributes:
        relaxed: zeta* = zeta - zeta~ + sg(zeta~) as supernet op weights: the value of the
            Gumbel-softmax sample, the gradient of REBAR's two reparameterised terms.
        hard: the discrete z as one-hot op weights (no gradient).
        log_prob: log p_phi(z) per example ``(B,)``.
    """

    relaxed: torch.Tensor
    hard: torch.Tensor
    log_prob: torch.Tensor


def _soft_masked(g_second: torch.Tensor, zeta_first: torch.Tensor, tau: float) -> torch.Tensor:
    """softmax(g'/tau + log(1 - zeta)): the second input's relaxation, continuous in the noise."""
    keep = torch.log((1 - zeta_first).clamp_min(_MASK_FLOOR))
    return torch.softmax(g_second / tau + keep, dim=-1)


def sample_input_pair(
    logits: torch.Tensor, u: torch.Tensor, tau: float, mask: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Two distinct inputs per node: (zeta*, one-hot z, log p(z)), each ``(..., 2, inputs)``.

    Args:
        logits: ``(..., 2, inputs)`` logits of the first and second selector.
        u: uniforms of the same shape.
        tau: Gumbel-softmax temperature.
        mask: ``(..., inputs)`` bool, True where the input exists (broadcast over ``...``).

    Returns:
        zeta* of both selectors (see :func:`~nas_gym.agents.unas.estimators.stop_gradient_mix`),
        the one-hot inputs (never equal), and ``(...,)`` log p(i) + log p(i' | i).
    """
    log_p = soften(logits, mask[..., None, :].expand_as(logits))
    g1, c1, z1 = gumbel_perturb(log_p[..., 0, :], u[..., 0, :])
    # second selector: the same categorical with the first choice masked, renormalised
    taken = z1.bool()
    log_q = torch.log_softmax(log_p[..., 1, :].masked_fill(taken, -torch.inf), dim=-1)
    g2_all = log_p[..., 1, :] - torch.log(-torch.log(u[..., 1, :].clamp(U_CLAMP, 1 - U_CLAMP)))
    _, c2_q, z2 = gumbel_perturb(log_q, u[..., 1, :])
    log_z = torch.logsumexp(log_p[..., 1, :].masked_fill(taken, -torch.inf), -1, keepdim=True)
    c2 = torch.where(taken, g2_all, c2_q + log_z)  # conditional given (z1, z2); z1's slot is free
    zeta1, zeta1_t = torch.softmax(g1 / tau, -1), torch.softmax(c1 / tau, -1)
    zeta2 = _soft_masked(g2_all, zeta1, tau)
    zeta2_t = _soft_masked(c2, zeta1_t, tau)
    relaxed = torch.stack([mix(zeta1, zeta1_t), mix(zeta2, zeta2_t)], dim=-2)
    hard = torch.stack([z1, z2], dim=-2)
    return relaxed, hard, log_prob(torch.stack([log_p[..., 0, :], log_q], dim=-2), hard)


def cell_weights(inputs: torch.Tensor, ops: torch.Tensor) -> torch.Tensor:
    """Edge-op weights ``(..., 14, 7)`` from selectors ``(..., 4, 2, 5)`` and ``(..., 4, 2, 7)``.

    ``W_n[j, o] = i_n[j] o_n[o] + i'_n[j] o'_n[o]`` (UNAS' factorised cell), rows
    ordered as :data:`nas_gym.spaces.darts.EDGES`.
    """
    pair = torch.einsum("...nsj,...nso->...njo", inputs, ops)  # (..., 4, 5, 7)
    rows = [pair[..., n, : n + darts_space.N_INPUTS, :] for n in range(darts_space.N_NODES)]
    return torch.cat(rows, dim=-2)


def sample_cells(
    input_logits: torch.Tensor,
    op_logits: torch.Tensor,
    u_inputs: torch.Tensor,
    u_ops: torch.Tensor,
    tau: float,
) -> ArchSample:
    """Draw DARTS cells: logits ``(..., 2, 4, 2, 5)`` / ``(..., 2, 4, 2, 7)`` -> weights ``(..., 2, 14, 7)``.

    The leading ``...`` is the sample axis (logits may be expanded per sample; that is how
    the tests get one gradient per sample from one backward pass).
    """
    mask = INPUT_MASK.to(input_logits.device)
    in_relaxed, in_hard, in_lp = sample_input_pair(input_logits, u_inputs, tau, mask)
    log_p_ops = soften(op_logits)
    zeta, zeta_t, op_hard = relaxed_sample(log_p_ops, u_ops, tau)
    op_relaxed = mix(zeta, zeta_t)
    return ArchSample(
        relaxed=cell_weights(in_relaxed, op_relaxed),
        hard=cell_weights(in_hard, op_hard),
        log_prob=(in_lp + log_prob(log_p_ops, op_hard)).sum(dim=(-2, -1)),
    )


class FactorizedCell(nn.Module):
    """UNAS' factorised DARTS-cell distribution (normal and reduce cells), logits initialised to 0.

    Args:
        tau: Gumbel-softmax temperature (UNAS: 0.4).
    """

    space = "darts"

    def __init__(self, tau: float = 0.4):
        super().__init__()
        cells, nodes = darts_space.N_CELLS, darts_space.N_NODES
        self.tau = float(tau)
        self.input_logits = nn.Parameter(torch.zeros(cells, nodes, 2, MAX_INPUTS))
        self.op_logits = nn.Parameter(torch.zeros(cells, nodes, 2, darts_space.N_OPS))

    def sample(self, n: int, generator: torch.Generator) -> ArchSample:
        """``n`` independent architectures, uniforms drawn from ``generator`` (on the CPU)."""
        u_in = torch.rand((n, *self.input_logits.shape), generator=generator)
        u_op = torch.rand((n, *self.op_logits.shape), generator=generator)
        dev = self.input_logits.device
        return sample_cells(
            self.input_logits.expand(n, *self.input_logits.shape),
            self.op_logits.expand(n, *self.op_logits.shape),
            u_in.to(dev),
            u_op.to(dev),
            self.tau,
        )

    @torch.no_grad()
    def mode(self) -> np.ndarray:
        """The most likely selector values (argmax each, the second input over the rest) as alpha_d."""
        mask = INPUT_MASK.to(self.input_logits.device)
        first = self.input_logits[..., 0, :].masked_fill(~mask, -torch.inf)
        a = first.argmax(-1)
        second = self.input_logits[..., 1, :].masked_fill(~mask, -torch.inf)
        second = second.scatter(-1, a[..., None], -torch.inf)
        inputs = torch.stack(
            [
                nn.functional.one_hot(a, MAX_INPUTS),
                nn.functional.one_hot(second.argmax(-1), MAX_INPUTS),
            ],
            dim=-2,
        ).float()
        ops = nn.functional.one_hot(self.op_logits.argmax(-1), darts_space.N_OPS).float()
        return cell_weights(inputs, ops).cpu().numpy()

    def describe(self, alpha_d: np.ndarray) -> str:
        """The genotype string of an alpha_d (what ``train-genotype`` reads)."""
        return darts_space.genotype_to_str(darts_space.to_genotype(alpha_d))


class LayerCategorical(nn.Module):
    """UNAS' ProxylessNAS distribution: one categorical per layer, ``zero`` masked on stage-first layers.

    Args:
        tau: Gumbel-softmax temperature (UNAS: 0.4).
        soften_eps: UNAS' softening epsilon (0.08 for ProxylessNAS).
    """

    space = "proxyless"

    def __init__(self, tau: float = 0.4, soften_eps: float = 0.08):
        super().__init__()
        self.tau, self.soften_eps = float(tau), float(soften_eps)
        self.logits = nn.Parameter(torch.zeros(proxyless_space.SHAPE))
        self.register_buffer("allowed", torch.as_tensor(proxyless_space.op_mask().copy()))

    def log_probs(self) -> torch.Tensor:
        """Softened log-probabilities ``(21, 7)``; masked ops are -inf."""
        return soften(self.logits, self.allowed, self.soften_eps)

    def sample(self, n: int, generator: torch.Generator) -> ArchSample:
        """``n`` independent architectures, uniforms drawn from ``generator`` (on the CPU)."""
        log_p = self.log_probs().expand(n, *self.logits.shape)
        u = torch.rand((n, *self.logits.shape), generator=generator).to(self.logits.device)
        zeta, zeta_t, hard = relaxed_sample(log_p, u, self.tau)
        return ArchSample(mix(zeta, zeta_t), hard, log_prob(log_p, hard))

    @torch.no_grad()
    def mode(self) -> np.ndarray:
        """The most likely op per layer as op indices ``(21,)``."""
        return self.logits.masked_fill(~self.allowed, -torch.inf).argmax(-1).cpu().numpy()

    def describe(self, ops: np.ndarray) -> str:
        """The architecture string (what ``ProxylessNAS-v0`` and ``nas-gym latency`` read)."""
        return proxyless_space.ops_to_str(ops)
