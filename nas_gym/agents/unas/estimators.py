"""Score-function gradient estimators of UNAS (Vahdat et al., CVPR 2020, Sec. 3) for per-row categoricals.

Written from the equations (RELAX: Grathwohl et al., ICLR 2018; REBAR: Tucker et al.,
NeurIPS 2017), not from the official code. For a loss L(z) of a discrete architecture
z ~ p_phi (one categorical per row) and a differentiable surrogate c(zeta) of the
relaxed sample, the single-sample RELAX estimate of d/dphi E_p[L(z)] is

    g = (L(z) - c(zeta~)) d log p(z) + d c(zeta) - d c(zeta~)

where zeta = softmax((log p + G) / tau) is the Gumbel-softmax sample, z its argmax
and zeta~ the conditional relaxation given z. Reusing the same uniforms, zeta~ equals
zeta numerically but its gradient holds z fixed. Everything is batched over a leading
sample axis: each sample may carry its own logits leaf, which gives per-sample
gradients in one backward pass (the unbiasedness test uses that).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

U_CLAMP = 1e-3  # UNAS clamps its uniforms to [1e-3, 1 - 1e-3] (a tiny, documented bias)


def soften(
    logits: torch.Tensor, mask: torch.Tensor | None = None, eps: float = 0.0
) -> torch.Tensor:
    """log(softmax(masked logits) + eps), renormalised: UNAS' softened log-probabilities."""
    if mask is not None:
        logits = logits.masked_fill(~mask, -torch.inf)
    log_p = torch.log_softmax(logits, dim=-1)
    if eps <= 0:
        return log_p
    probs = log_p.exp() + eps
    if mask is not None:
        probs = torch.where(mask, probs, torch.zeros_like(probs))
    probs = probs / probs.sum(dim=-1, keepdim=True)
    safe = torch.where(probs > 0, probs, torch.ones_like(probs))  # no log(0) in the backward pass
    return torch.where(probs > 0, torch.log(safe), torch.full_like(probs, -torch.inf))


def gumbel_perturb(
    log_p: torch.Tensor, u: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(perturbed, conditionally perturbed, z) log-probabilities ``(..., ops)`` from uniforms ``u``.

    The Gumbel perturbations are log p_k - log(-log u_k), z their argmax (one-hot). The
    conditional perturbations given z (REBAR, Tucker et al. 2017, App. C) reuse the same u
    so that they equal the perturbations numerically: the max is -log(-log v_b) with
    v_b = exp(-exp(-z_b)), the others -log(-log v_k / p_k - log v_b) with
    v_k = u_k exp(p_k exp(-z_b)). v is held fixed (detached), so the gradient of the
    conditional perturbations flows through p only, with z fixed. Masked ops
    (log p = -inf) stay -inf in both.
    """
    u = u.clamp(U_CLAMP, 1 - U_CLAMP)
    gumbel = log_p - torch.log(-torch.log(u))
    hard = gumbel.argmax(dim=-1)
    onehot = torch.nn.functional.one_hot(hard, log_p.shape[-1]).to(log_p.dtype)
    with torch.no_grad():
        g = gumbel.detach()
        top = g.gather(-1, hard[..., None])
        log_vb = -torch.exp(-top)  # log v_b
        p = log_p.detach().exp()
        log_v = torch.log(u) + p * torch.exp(-top)  # log v_k (k != b)
    allowed = torch.isfinite(log_p)
    p = torch.where(allowed, log_p, torch.zeros_like(log_p)).exp()  # masked: 1, never used
    others = -torch.log(-log_v / p - log_vb)
    cond = torch.where(onehot.bool(), -torch.log(-log_vb).expand_as(others), others)
    cond = torch.where(allowed, cond, torch.full_like(cond, -torch.inf))
    return gumbel, cond, onehot


def relaxed_sample(
    log_p: torch.Tensor, u: torch.Tensor, tau: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(zeta, zeta~, z) from normalised log-probabilities ``(..., ops)`` and uniforms ``u``.

    zeta = softmax(perturbed / tau) is the Gumbel-softmax sample, zeta~ the same softmax
    of the conditional perturbations of :func:`gumbel_perturb`: equal to zeta
    numerically, but its gradient holds z fixed.
    """
    gumbel, cond, onehot = gumbel_perturb(log_p, u)
    return torch.softmax(gumbel / tau, dim=-1), torch.softmax(cond / tau, dim=-1), onehot


def stop_gradient_mix(zeta: torch.Tensor, zeta_tilde: torch.Tensor) -> torch.Tensor:
    """zeta* = zeta - zeta~ + sg(zeta~): the value of zeta, the gradient of zeta minus zeta~.

    One forward of a differentiable c at zeta* then gives d c(zeta) - d c(zeta~), the two
    reparameterised terms of REBAR/RELAX, in a single backward pass (as UNAS does).
    """
    return zeta - zeta_tilde + zeta_tilde.detach()


def score_function_objective(
    log_prob_z: torch.Tensor, value: torch.Tensor, control: torch.Tensor
) -> torch.Tensor:
    """Per-sample objective log p(z) sg(L(z) - c(zeta*)) + c(zeta*) whose gradient is the estimate.

    With ``control`` = c(zeta*) from :func:`stop_gradient_mix` this is the single-sample
    REBAR (c = the loss itself on the relaxation) or RELAX (c = a learned surrogate)
    estimator (Vahdat et al. 2020, Eq. 4-6):
    (L(z) - c(zeta~)) d log p(z) + d c(zeta) - d c(zeta~).
    """
    return log_prob_z * (value - control).detach() + control


def log_prob(log_p: torch.Tensor, onehot: torch.Tensor) -> torch.Tensor:
    """Sum over rows of log p(z_row): ``(...,)`` from ``(..., rows, ops)``."""
    return (log_p.masked_fill(onehot == 0, 0.0) * onehot).sum(dim=(-2, -1))


def relax_objective(
    log_p: torch.Tensor,
    u: torch.Tensor,
    loss: Callable[[torch.Tensor], torch.Tensor],
    surrogate: Callable[[torch.Tensor], torch.Tensor],
    tau: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample RELAX surrogate objective whose gradient is the estimate, and z.

    ``loss(z_onehot) -> (N,)`` is the black-box loss (no gradient); ``surrogate(zeta)
    -> (N,)`` is differentiable. Written as UNAS does:
    zeta* = zeta - zeta~ + sg(zeta~), objective = log p(z) sg(L(z) - c(zeta*)) + c(zeta*).
    """
    zeta, zeta_tilde, z = relaxed_sample(log_p, u, tau)
    c = surrogate(stop_gradient_mix(zeta, zeta_tilde))
    with torch.no_grad():
        value = loss(z)
    return score_function_objective(log_prob(log_p, z), value, c), z


def reinforce_objective(
    log_p: torch.Tensor, z: torch.Tensor, value: torch.Tensor, baseline: float | torch.Tensor
) -> torch.Tensor:
    """Per-sample REINFORCE objective log p(z) (L(z) - b); b must not depend on this sample."""
    return log_prob(log_p, z) * (value - baseline).detach()


def gumbel_argmax(log_p: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """One-hot z ~ p from uniforms (the sample RELAX uses, for REINFORCE)."""
    u = u.clamp(U_CLAMP, 1 - U_CLAMP)
    hard = (log_p - torch.log(-torch.log(u))).argmax(dim=-1)
    return torch.nn.functional.one_hot(hard, log_p.shape[-1]).to(log_p.dtype)
