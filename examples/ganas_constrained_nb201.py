"""Beat a hand-designed cell under its own size: an NB201 analogue of GA-NAS' Table 6.

GA-NAS (Changiz Rezaei et al., IJCAI 2021, Sec. 4.3) improves hand-designed
networks under hard constraints by admitting to its truth set only architectures
no larger than the reference. Here the reference is NAS-Bench-201's ResNet-like
cell; GA-NAS searches the validation accuracy with ``truth_filters`` params_M <= and
flops_M <= the reference's, seeded with the reference (``initial_archs``). Random
search and regularized evolution get the same budget; for them the same filters
pick the best admissible cell afterwards. Reported: each method's best admissible
cell by validation accuracy, and its test accuracy against the reference's.

    python examples/ganas_constrained_nb201.py --dataset cifar100 --steps 500 --seeds 0 1 2
"""

from __future__ import annotations

from dataclasses import dataclass, field

import gymnasium as gym
import numpy as np
from _args import option, parse_args  # examples/_args.py: a dataclass becomes --flags
from stable_baselines3.common.callbacks import BaseCallback

import nas_gym  # noqa: F401  (registers NASBench201-v0)
from nas_gym.agents.registry import make_agent
from nas_gym.benchmarks.nb201 import DATASETS
from nas_gym.spaces import nb201 as space

RESNET_CELL = "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|"


class Infos(BaseCallback):
    def __init__(self) -> None:
        super().__init__()
        self.infos: list[dict] = []

    def _on_step(self) -> bool:
        self.infos.extend(self.locals["infos"])
        return True


def reference_info(dataset: str) -> dict:
    env = gym.make("NASBench201-v0", dataset=dataset, reward_metric="valid")
    env.reset(seed=0)
    return env.step(space.ops_to_discrete(space.str_to_ops(RESNET_CELL)))[4]


def search(agent: str, dataset: str, steps: int, seed: int, ref: dict) -> dict | None:
    """Best admissible cell (params and FLOPs <= the reference's) found by ``agent``."""
    env = gym.make("NASBench201-v0", dataset=dataset, reward_metric="valid", max_queries=steps)
    kwargs = {}
    if agent == "ganas":
        kwargs = {
            "truth_filters": {
                "params_M": ("<=", ref["params_M"]),
                "flops_M": ("<=", ref["flops_M"]),
            },
            "initial_archs": [space.str_to_ops(RESNET_CELL)],
        }
    rec = Infos()
    make_agent(agent, env, seed=seed, **kwargs).learn(steps, callback=rec)
    ok = [
        i for i in rec.infos if i["params_M"] <= ref["params_M"] and i["flops_M"] <= ref["flops_M"]
    ]
    return max(ok, key=lambda i: i["valid_acc"]) if ok else None


@dataclass
class Args:
    dataset: str = option("cifar100", choices=DATASETS)
    """cifar10, cifar100 or ImageNet16-120"""
    steps: int = option(500, at_least=1)
    """queries per search"""
    seeds: list[int] = option([0, 1, 2], at_least=0)
    """one search per seed and agent"""
    agents: list[str] = field(default_factory=lambda: ["ganas", "rea", "rs"])
    """registered agent names"""


def main() -> None:
    args = parse_args(Args, __doc__)
    ref = reference_info(args.dataset)
    print(
        f"reference (ResNet-like cell) on {args.dataset}: valid {ref['valid_acc']:.2f}, "
        f"test {ref['test_acc']:.2f}, {ref['params_M']:.3f} M params, {ref['flops_M']:.1f} M FLOPs"
    )
    print(
        "\n| agent | seed | best admissible cell | valid | test | params_M | flops_M | beats ref (test) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    wins: dict[str, list[bool]] = {}
    for agent in args.agents:
        for seed in args.seeds:
            best = search(agent, args.dataset, args.steps, seed, ref)
            if best is None:
                print(f"| {agent} | {seed} | (none admissible) | | | | | no |")
                wins.setdefault(agent, []).append(False)
                continue
            win = best["test_acc"] > ref["test_acc"]
            wins.setdefault(agent, []).append(win)
            print(
                f"| {agent} | {seed} | `{best['arch_str']}` | {best['valid_acc']:.2f} | "
                f"{best['test_acc']:.2f} | {best['params_M']:.3f} | {best['flops_M']:.1f} | "
                f"{'yes' if win else 'no'} |"
            )
    print()
    for agent, w in wins.items():
        print(f"{agent}: beats the reference in {int(np.sum(w))}/{len(w)} runs")


if __name__ == "__main__":
    main()
