"""Bias and variance of UNAS' RELAX and of REINFORCE against the exact NAS-Bench-201 gradient.

For a random phi (one 5-way categorical per edge) and L(z) = -acc(z)/100 on a
dataset's validation split, the exact gradient of E_p[L] is computed by enumerating
all 15,625 cells; n single-sample estimates of each estimator (RELAX: ridge-fitted
linear surrogate from a separate pilot batch, tau 0.4; REINFORCE: constant baseline
= the pilot's mean loss) give the worst |mean - exact| in standard errors and the
total variance. Writes a Markdown table.

    nice -n 10 python benchmarks/seed_agents_estimators.py --n 4000 --phis 3
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from nas_gym.agents.unas.estimators import (
    gumbel_argmax,
    reinforce_objective,
    relax_objective,
    soften,
)
from nas_gym.agents.unas.unas import RidgeSurrogate
from nas_gym.benchmarks.nb201 import load_nb201
from nas_gym.spaces import nb201 as space


def check(dataset: str, phi_seed: int, n: int) -> dict[str, float]:
    acc = torch.tensor(np.array(load_nb201().accuracy(dataset, "valid")), dtype=torch.float64)
    loss_by_index = -acc / 100.0
    code_to_index = torch.as_tensor(space.code_to_index_table())
    powers = torch.as_tensor(space.N_OPS ** np.arange(space.N_EDGES - 1, -1, -1))

    def loss(z: torch.Tensor) -> torch.Tensor:
        return loss_by_index[code_to_index[(z.argmax(-1) * powers).sum(-1)]]

    gen = torch.Generator().manual_seed(phi_seed)
    phi = torch.randn(6, 5, generator=gen, dtype=torch.float64)
    leaf = phi.clone().requires_grad_(True)
    ops = torch.as_tensor(space.all_ops())
    log_p = torch.log_softmax(leaf, -1)
    exact = torch.autograd.grad(
        (log_p[torch.arange(6), ops].sum(1).exp() * loss_by_index).sum(), leaf
    )[0]
    pilot = gumbel_argmax(
        log_p.detach().expand(1000, 6, 5),
        torch.rand(1000, 6, 5, generator=gen, dtype=torch.float64),
    )
    g = RidgeSurrogate(30)
    for z, y in zip(pilot.numpy(), loss(pilot).numpy(), strict=True):
        g.add(z, float(y))
    w = g.weights.double()
    out = {}
    for name in ("relax", "reinforce"):
        batch = phi.expand(n, 6, 5).clone().requires_grad_(True)
        u = torch.rand(n, 6, 5, generator=gen, dtype=torch.float64)
        lp = soften(batch)
        if name == "relax":
            obj, _ = relax_objective(
                lp, u, loss, lambda zeta: zeta.reshape(n, -1) @ w[:-1] + w[-1], 0.4
            )
        else:
            z = gumbel_argmax(lp.detach(), u)
            obj = reinforce_objective(lp, z, loss(z), float(loss(pilot).mean()))
        obj.sum().backward()
        grads = batch.grad
        se = grads.std(0) / n**0.5
        out[f"{name}_z"] = float(((grads.mean(0) - exact).abs() / se).max())
        out[f"{name}_var"] = float(grads.var(0).sum())
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=4000)
    p.add_argument("--phis", type=int, default=3)
    p.add_argument("--datasets", default="cifar10,cifar100,ImageNet16-120")
    args = p.parse_args()
    torch.set_num_threads(1)
    print(
        f"{args.n} single-sample estimates per estimator; exact gradient by enumerating 15,625 cells"
    )
    print(
        "| dataset | phi seed | RELAX worst z | REINFORCE worst z | total var RELAX | total var REINFORCE | ratio |"
    )
    print("|---|---|---|---|---|---|---|")
    for dataset in args.datasets.split(","):
        for s in range(args.phis):
            r = check(dataset, 100 + s, args.n)
            print(
                f"| {dataset} | {100 + s} | {r['relax_z']:.2f} | {r['reinforce_z']:.2f} | "
                f"{r['relax_var']:.3e} | {r['reinforce_var']:.3e} | {r['relax_var'] / r['reinforce_var']:.2f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
