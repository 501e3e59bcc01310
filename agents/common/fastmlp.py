"""Hand-written forward/backward for small ReLU MLPs and a flat-buffer Adam step.

Why: CADAM on NAS-Bench-201 does up to ten update cycles per query with batch 8
and ~70k-parameter MLPs. At that size the autograd engine and per-parameter
optimizer loops, not arithmetic, dominate (about 0.7 ms per cycle). Writing the
backward pass directly into one flat gradient buffer and running Adam on one flat
parameter buffer removes most of that overhead. The math is exactly autograd's
and ``torch.optim.Adam``'s (tests compare them); the networks stay ordinary
``nn.Linear`` modules whose parameters are views into the flat buffer, so SB3's
``state_dict`` saving, loading and ``predict`` are untouched.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

_SQRT_FLOOR = 1e-30


class FlatMLP:
    """Views a stack of ``nn.Linear`` layers (ReLU between them) as one flat buffer.

    After construction each layer's ``weight``/``bias`` *is* a slice of ``self.params``,
    and ``self.grads`` has the same layout, so one optimizer step on ``params``
    updates the modules in place.
    """

    def __init__(self, linears: Sequence[nn.Linear]):
        self.linears = list(linears)
        tensors = [t for lin in self.linears for t in (lin.weight, lin.bias)]
        device = tensors[0].device
        n = sum(t.numel() for t in tensors)
        self.params = torch.zeros(n, device=device)
        self.grads = torch.zeros(n, device=device)
        # Adam's denominator, preallocated: a fresh 280 kB tensor per step goes through
        # mmap/munmap and page faults, which cost more than the arithmetic.
        self.scratch = torch.empty(n, device=device)
        self.weight_grads: list[torch.Tensor] = []
        self.bias_grads: list[torch.Tensor] = []
        offset = 0
        with torch.no_grad():
            for lin in self.linears:
                for name in ("weight", "bias"):
                    p = getattr(lin, name)
                    k = p.numel()
                    self.params[offset : offset + k].copy_(p.reshape(-1))
                    p.data = self.params[offset : offset + k].view_as(p)
                    g = self.grads[offset : offset + k].view_as(p)
                    (self.weight_grads if name == "weight" else self.bias_grads).append(g)
                    offset += k

    def is_bound(self) -> bool:
        """True while the modules still live in ``self.params`` (``.to()`` breaks it)."""
        w = self.linears[0].weight
        return w.data_ptr() == self.params.data_ptr() and w.device == self.params.device

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Inputs of every layer plus the final output: ``[x, h1, ..., out]``."""
        acts = [x]
        last = len(self.linears) - 1
        for i, lin in enumerate(self.linears):
            if i < last:  # fused addmm + ReLU
                acts.append(torch._addmm_activation(lin.bias, acts[-1], lin.weight.t()))
            else:
                acts.append(torch.addmm(lin.bias, acts[-1], lin.weight.t()))
        return acts

    def backward(
        self,
        acts: list[torch.Tensor],
        d_out: torch.Tensor,
        param_grads: bool = True,
        input_grad: bool = True,
    ) -> torch.Tensor | None:
        """Back-propagate ``d_out`` (gradient at the output); returns the input gradient
        (None without ``input_grad``).

        With ``param_grads`` the parameter gradients are *written* (not accumulated)
        into ``self.grads``.
        """
        d = d_out
        for i in range(len(self.linears) - 1, -1, -1):
            lin = self.linears[i]
            if param_grads:
                torch.mm(d.t(), acts[i], out=self.weight_grads[i])
                torch.sum(d, 0, out=self.bias_grads[i])
            if i == 0 and not input_grad:
                return None
            d = d.mm(lin.weight)
            if i > 0:  # ReLU'(z) = 1[h > 0]
                d = torch.ops.aten.threshold_backward(d, acts[i], 0)
        return d


def adam_step(
    optimizer: torch.optim.Adam,
    params: torch.Tensor,
    grads: torch.Tensor,
    scratch: torch.Tensor | None = None,
) -> None:
    """One ``torch.optim.Adam`` step (no weight decay, no amsgrad) on a flat buffer.

    Equal to ``torch.optim.Adam`` up to a 1e-30 floor inside the square root (see
    below; relative effect on any step below 1e-6).

    Uses and updates the optimizer's own state (``step``, ``exp_avg``,
    ``exp_avg_sq``) so the optimizer can be saved, loaded or stepped normally.
    """
    group = optimizer.param_groups[0]
    state = optimizer.state[params]
    if not state:
        state["step"] = torch.tensor(0.0)
        state["exp_avg"] = torch.zeros_like(params)
        state["exp_avg_sq"] = torch.zeros_like(params)
    beta1, beta2 = group["betas"]
    state["step"] += 1
    t = float(state["step"])
    m, v = state["exp_avg"], state["exp_avg_sq"]
    m.lerp_(grads, 1 - beta1)
    v.mul_(beta2).addcmul_(grads, grads, value=1 - beta2)
    bias2_sqrt = (1 - beta2**t) ** 0.5
    # sqrt(v + 1e-30) instead of sqrt(v): on some x86 CPUs the square root of exact
    # zeros (parameters behind dead ReLUs never get a gradient) takes a slow path
    # that costs ~5x. The floor moves the denominator by at most 1e-15 / bias2_sqrt
    # against eps = 1e-8, and where v == 0 the step m / denom is 0 either way.
    denom = torch.add(v, _SQRT_FLOOR, out=scratch) if scratch is not None else v + _SQRT_FLOOR
    # lr/bc1 * m / (sqrt(v)/bc2s + eps) == (lr*bc2s/bc1) * m / (sqrt(v) + eps*bc2s): one pass fewer
    denom.sqrt_().add_(group["eps"] * bias2_sqrt)
    params.addcdiv_(m, denom, value=-group["lr"] * bias2_sqrt / (1 - beta1**t))


def linears_of(module: nn.Module) -> list[nn.Linear]:
    """The ``nn.Linear`` layers of a ReLU MLP, in order (checks it is one)."""
    layers = [m for m in module.modules() if isinstance(m, nn.Linear)]
    others = [
        m
        for m in module.modules()
        if not isinstance(m, (nn.Linear, nn.ReLU, nn.Sigmoid, nn.Flatten, nn.Sequential))
    ]
    if not layers or others:
        raise ValueError(f"fast path needs a plain ReLU MLP, got {module}")
    return layers
