"""Cost-constrained objectives: one place for the three constraint forms of the SPEC.

With ``acc`` the accuracy as a decimal, ``cost`` the architecture's cost (latency
in ms, energy in mJ, ...) and ``target`` the budget:

* ``"hard"``: feasible (``cost <= target``) architectures keep ``acc``; infeasible ones
  get the fixed ``infeasible_reward`` and are flagged in ``info``;
* ``"unas"``: ``acc - lam * max(0, cost / target - 1)``, the soft penalty of UNAS
  (Vahdat et al., CVPR 2020);
* ``"mnas"``: ``acc * (cost / target) ** w`` with ``w = w_beyond`` (-0.07) beyond the
  target and ``w_within`` (0) within it, MnasNet's objective (Tan et al., CVPR 2019).

The constrained score replaces the accuracy inside the environment's reward
transform (``"cadam"``: ``100 ** score``; ``"accuracy"``: ``score``), so both rewards
keep their meaning. ``feasible`` always means ``cost <= target``.
"""

from __future__ import annotations

from dataclasses import dataclass

from nas_gym.envs.common import check_choice, check_real

CONSTRAINTS: tuple[str, ...] = ("hard", "unas", "mnas")


def _finite(name: str, value: object) -> float:
    return check_real(name, value)


@dataclass(frozen=True)
class Constraint:
    """A cost budget and the form of its penalty (picklable, so environments pickle).

    Args:
        target: the budget (> 0), in the cost's unit.
        kind: ``"hard"``, ``"unas"`` or ``"mnas"``.
        lam: UNAS penalty weight (>= 0).
        w_beyond: MnasNet exponent beyond the target (<= 0).
        w_within: MnasNet exponent within the target (<= 0; 0 = no bonus for being cheaper).
        infeasible_reward: the fixed reward of an infeasible architecture under ``"hard"``.
        target_name: the environment keyword that set ``target`` (``cost_target``, or
            ``latency_target`` for ProxylessNAS), so an error names what the user wrote;
            ``lam`` and ``w_beyond`` are the environments' ``penalty_lambda`` and ``mnas_w``.
    """

    target: float
    kind: str = "hard"
    lam: float = 1.0
    w_beyond: float = -0.07
    w_within: float = 0.0
    infeasible_reward: float = 0.0
    target_name: str = "cost_target"

    def __post_init__(self) -> None:
        check_choice("constraint", self.kind, CONSTRAINTS)
        if _finite(self.target_name, self.target) <= 0:
            raise ValueError(f"{self.target_name} must be > 0, got {self.target!r}")
        if _finite("penalty_lambda", self.lam) < 0:
            raise ValueError(f"penalty_lambda must be >= 0, got {self.lam!r}")
        if _finite("mnas_w", self.w_beyond) > 0:
            raise ValueError(f"mnas_w (MnasNet's exponent) must be <= 0, got {self.w_beyond!r}")
        if _finite("w_within", self.w_within) > 0:
            raise ValueError(f"w_within (MnasNet's exponent) must be <= 0, got {self.w_within!r}")
        _finite("infeasible_reward", self.infeasible_reward)

    def feasible(self, cost: float) -> bool:
        return bool(cost <= self.target)

    def score(self, acc: float, cost: float) -> float | None:
        """The constrained accuracy (decimal), or None for a hard-infeasible architecture."""
        ratio = cost / self.target
        if self.kind == "hard":
            return acc if ratio <= 1.0 else None
        if self.kind == "unas":
            return acc - self.lam * max(0.0, ratio - 1.0)
        return acc * ratio ** (self.w_beyond if ratio > 1.0 else self.w_within)
