"""REINFORCE over independent per-edge categorical distributions (Williams 1992)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from stable_baselines3.common.type_aliases import GymEnv

from nas_gym.agents.common.search import SearchAlgorithm, SearchPolicy


class REINFORCE(SearchAlgorithm):
    """The REINFORCE baseline of NAS-Bench-201 / NATS-Bench (Dong & Yang 2020; Dong et al. 2021).

    The policy is one categorical distribution per row (edge), logits initialised
    to zero (uniform). Each step samples one op per row, queries that architecture
    and takes one Adam step on ``-(r - b) * sum_rows log p(op_row)``, where ``b`` is
    a bias-corrected exponential moving average of the rewards, updated with the
    current reward before the advantage is taken (as in the NAS-Bench-201 code).
    ``predict(deterministic=True)`` returns the mode; otherwise a sample.

    Args:
        policy: ``"MlpPolicy"`` (kept for the SB3 call shape).
        env: a Gymnasium environment with a 2-D Box ``(rows, ops)`` action space.
        learning_rate: Adam learning rate of the logits (0.01: NATS-Bench's reinforce.py
            command line; the NAS-Bench-201 scripts take it as an argument).
        ema_momentum: momentum of the moving-average reward baseline (0.9).
        **kwargs: see :class:`nas_gym.agents.common.search.SearchAlgorithm`.
    """

    use_logits = True

    def __init__(
        self,
        policy: str | type[SearchPolicy] = "MlpPolicy",
        env: GymEnv | str | None = None,
        learning_rate: float = 0.01,
        ema_momentum: float = 0.9,
        **kwargs: Any,
    ):
        if not 0.0 <= ema_momentum < 1.0:
            raise ValueError(f"ema_momentum must be in [0, 1), got {ema_momentum!r}")
        if learning_rate <= 0:
            raise ValueError(f"learning_rate must be > 0, got {learning_rate!r}")
        self.ema_momentum = float(ema_momentum)
        self._ema_num = 0.0
        self._ema_den = 0.0
        super().__init__(policy, env, learning_rate=learning_rate, **kwargs)

    @property
    def baseline(self) -> float:
        """Current moving-average reward (0 before the first query)."""
        return self._ema_num / self._ema_den if self._ema_den else 0.0

    def _propose(self) -> np.ndarray:
        probs = (
            torch.softmax(self.policy.masked_logits().detach(), dim=1).numpy().astype(np.float64)
        )
        cum = probs.cumsum(axis=1)
        u = np.random.random((self.n_rows, 1))
        ops = np.minimum((u > cum).sum(axis=1), self.n_ops - 1)
        bad = ~self.op_mask[np.arange(self.n_rows), ops]  # float rounding past the last allowed op
        ops[bad] = probs[bad].argmax(axis=1)
        return ops

    def _observe(self, ops: np.ndarray, reward: float, info: Any = None) -> None:
        m = self.ema_momentum
        self._ema_num = m * self._ema_num + (1 - m) * reward
        self._ema_den = m * self._ema_den + (1 - m)
        advantage = reward - self.baseline
        logits = self.policy.masked_logits()
        log_p = torch.log_softmax(logits, dim=1)[torch.arange(self.n_rows), torch.as_tensor(ops)]
        loss = -advantage * log_p.sum()
        self.policy.optimizer.zero_grad()
        loss.backward()
        self.policy.optimizer.step()
        self.logger.record("train/policy_loss", float(loss.detach()))
        self.logger.record("train/baseline", self.baseline)

    def _get_torch_save_params(self) -> tuple[list[str], list[str]]:
        return ["policy", "policy.optimizer"], []
