"""NASNet/ENAS-style RNN controllers: an LSTM emits one op per row, trained by REINFORCE or PPO."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.type_aliases import GymEnv, Schedule
from torch import nn

from nas_gym.agents.common.discrete import accuracy_fraction, env_reward_kind
from nas_gym.agents.common.search import SearchAlgorithm, SearchPolicy

ALGOS = ("reinforce", "ppo")


class ControllerPolicy(SearchPolicy):
    """The LSTM controller of ENAS as NAS-Bench-201 codes it (``search_model_enas_utils.Controller``).

    A start embedding feeds a ``lstm_layers``-layer LSTM; at row s the op logits are
    ``tanh_constant * tanh(W h_s / temperature)`` over the row's allowed ops, and the
    embedding of the chosen op is the next input. Parameters start U(-0.1, 0.1).
    Written from the NB201/ENAS descriptions, not copied.
    """

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Box,
        lr_schedule: Schedule,
        use_logits: bool = False,
        alpha_shape: tuple[int, ...] | None = None,
        hidden: int = 32,
        lstm_layers: int = 2,
        tanh_constant: float = 2.5,
        temperature: float = 5.0,
    ):
        super().__init__(
            observation_space, action_space, lr_schedule, use_logits=False, alpha_shape=alpha_shape
        )
        rows, n_ops = self.incumbent.shape
        self.hidden, self.lstm_layers = hidden, lstm_layers
        self.tanh_constant, self.temperature = tanh_constant, temperature
        self.start = nn.Parameter(torch.zeros(1, 1, hidden))
        self.lstm = nn.LSTM(hidden, hidden, num_layers=lstm_layers, batch_first=True)
        self.embed = nn.Embedding(n_ops, hidden)
        self.head = nn.Linear(hidden, n_ops)
        for p in self.parameters():
            nn.init.uniform_(p, -0.1, 0.1)
        self.optimizer = torch.optim.Adam(
            self.parameters(), lr=lr_schedule(1), betas=(0.0, 0.999), eps=1e-3
        )

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data.update(
            hidden=self.hidden, lstm_layers=self.lstm_layers,
            tanh_constant=self.tanh_constant, temperature=self.temperature,
        )  # fmt: skip
        return data

    def _logits(self, h: torch.Tensor, row: int) -> torch.Tensor:
        logits = self.tanh_constant * torch.tanh(self.head(h) / self.temperature)
        return logits.masked_fill(~self.op_mask[row], -torch.inf)

    def sample(self, n: int, greedy: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` architectures ``(n, rows)`` and the summed per-row entropies ``(n,)``, no gradient."""
        rows = self.incumbent.shape[0]
        ops = torch.zeros(n, rows, dtype=torch.long)
        entropy = torch.zeros(n)
        with torch.no_grad():
            x, state = self.start.expand(n, 1, -1), None
            for s in range(rows):
                out, state = self.lstm(x, state)
                log_probs = torch.log_softmax(self._logits(out[:, -1], s), dim=-1)
                probs = log_probs.exp()
                ops[:, s] = probs.argmax(1) if greedy else torch.multinomial(probs, 1)[:, 0]
                entropy -= (probs * log_probs.masked_fill(probs == 0, 0.0)).sum(-1)
                x = self.embed(ops[:, s : s + 1])
        return ops, entropy

    def log_prob(self, ops: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Teacher-forced log p(ops) and entropy, both ``(n,)``, in one LSTM call."""
        n, rows = ops.shape
        inputs = torch.cat([self.start.expand(n, 1, -1), self.embed(ops[:, :-1])], dim=1)
        out, _ = self.lstm(inputs)
        logits = self.tanh_constant * torch.tanh(self.head(out) / self.temperature)
        logits = logits.masked_fill(~self.op_mask, -torch.inf)
        log_probs = torch.log_softmax(logits, dim=-1)
        logp = log_probs.gather(2, ops[..., None]).squeeze(-1).sum(1)
        entropy = -(log_probs.exp() * log_probs.masked_fill(~self.op_mask, 0.0)).sum((1, 2))
        return logp, entropy

    def _predict(self, observation: torch.Tensor, deterministic: bool = False) -> torch.Tensor:
        ops, _ = self.sample(observation.shape[0], greedy=deterministic)
        return nn.functional.one_hot(ops, self.incumbent.shape[1]).float()


class RNNController(SearchAlgorithm):
    """ENAS controller trained by REINFORCE (``rnn-reinforce``) or by PPO, NASNet-style (``rnn-ppo``).

    Each query is one sampled architecture. Its reward is ENAS':
    R = acc + ``entropy_weight`` * (summed entropy of the sampling distributions), acc
    the env's objective as a fraction (:func:`nas_gym.agents.common.discrete.accuracy_fraction`).
    The baseline follows ENAS: b <- b - (1 - ``baseline_decay``)(b - R), updated before the
    advantage R - b, b = R at the first query. Every ``num_aggregate`` queries:
    REINFORCE takes one Adam step on -mean(log p(arch) (R - b)); PPO takes
    ``ppo_epochs`` clipped-ratio steps on the same batch. Gradient norm clipped to 5.

    Args:
        policy: ``"MlpPolicy"`` (kept for the SB3 call shape).
        env: a Gymnasium environment with a 2-D Box ``(rows, ops)`` action space.
        learning_rate: Adam lr (1e-3, NB201 ENAS.config; betas (0, 0.999), eps 1e-3).
        algo: ``"reinforce"`` or ``"ppo"``.
        num_aggregate: queries per update (5, ours: NB201's ENAS uses 20 per weight-sharing epoch).
        entropy_weight: ENAS' entropy bonus in the reward (1e-4).
        baseline_decay: ENAS' baseline decay (0.99, NB201's ENAS.sh).
        ppo_epochs, clip_range: PPO only (4, 0.2; ours).
        hidden, lstm_layers, tanh_constant, temperature: controller (32, 2, 2.5, 5.0: NB201's ENAS).
        max_grad_norm: gradient-norm clip (5.0, NB201's ENAS).
        **kwargs: see :class:`nas_gym.agents.common.search.SearchAlgorithm`.
    """

    policy_aliases: ClassVar[dict[str, type]] = {"MlpPolicy": ControllerPolicy}
    policy: ControllerPolicy

    def __init__(
        self,
        policy: str | type[ControllerPolicy] = "MlpPolicy",
        env: GymEnv | str | None = None,
        learning_rate: float = 1e-3,
        algo: str = "reinforce",
        num_aggregate: int = 5,
        entropy_weight: float = 1e-4,
        baseline_decay: float = 0.99,
        ppo_epochs: int = 4,
        clip_range: float = 0.2,
        hidden: int = 32,
        lstm_layers: int = 2,
        tanh_constant: float = 2.5,
        temperature: float = 5.0,
        max_grad_norm: float = 5.0,
        **kwargs: Any,
    ):
        if algo not in ALGOS:
            raise ValueError(f"algo must be one of {ALGOS}, got {algo!r}")
        if int(num_aggregate) < 1 or int(ppo_epochs) < 1 or int(hidden) < 1 or int(lstm_layers) < 1:
            raise ValueError(
                "num_aggregate, ppo_epochs, hidden and lstm_layers must be >= 1; got "
                f"{num_aggregate!r}, {ppo_epochs!r}, {hidden!r}, {lstm_layers!r}"
            )
        if learning_rate <= 0 or not 0 <= baseline_decay < 1 or not 0 < clip_range < 1:
            raise ValueError(
                "need learning_rate > 0, 0 <= baseline_decay < 1, 0 < clip_range < 1; got "
                f"{learning_rate!r}, {baseline_decay!r}, {clip_range!r}"
            )
        self.algo, self.num_aggregate = algo, int(num_aggregate)
        self.entropy_weight, self.baseline_decay = float(entropy_weight), float(baseline_decay)
        self.ppo_epochs, self.clip_range = int(ppo_epochs), float(clip_range)
        self.max_grad_norm = float(max_grad_norm)
        self._net_kwargs = {
            "hidden": int(hidden), "lstm_layers": int(lstm_layers),
            "tanh_constant": float(tanh_constant), "temperature": float(temperature),
        }  # fmt: skip
        super().__init__(policy, env, learning_rate=learning_rate, **kwargs)

    def _setup_model(self) -> None:
        self.policy_kwargs = {**self.policy_kwargs, **self._net_kwargs}
        super()._setup_model()
        self._reward_kind = env_reward_kind(self.env) if self.env is not None else None
        self._reset_search()

    def _reset_search(self) -> None:
        self.baseline: float | None = None
        self._batch: list[tuple[np.ndarray, float, float]] = []  # (ops, advantage, old log p)
        self._entropy = 0.0
        self._logp = 0.0
        self._samples: list[tuple[np.ndarray, float, float]] = []

    def _setup_learn(self, total_timesteps: int, callback: Any = None, reset_num_timesteps: bool = True, *args: Any, **kwargs: Any) -> Any:  # fmt: skip
        if reset_num_timesteps:
            self._reset_search()
        return super()._setup_learn(total_timesteps, callback, reset_num_timesteps, *args, **kwargs)

    def _propose(self) -> np.ndarray:
        if not self._samples:
            # the policy is fixed until the next update, so draw the rest of this batch at once
            n = self.num_aggregate - len(self._batch)
            ops, entropy = self.policy.sample(n)
            logp = torch.zeros(n)
            if self.algo == "ppo":
                with torch.no_grad():
                    logp = self.policy.log_prob(ops)[0]
            self._samples = list(zip(ops.numpy(), entropy.tolist(), logp.tolist(), strict=True))
        ops, self._entropy, self._logp = self._samples.pop(0)
        return ops

    def _observe(
        self, ops: np.ndarray, reward: float, info: Mapping[str, Any] | None = None
    ) -> None:
        r = accuracy_fraction(reward, self._reward_kind) + self.entropy_weight * self._entropy
        b = r if self.baseline is None else self.baseline
        self.baseline = b - (1.0 - self.baseline_decay) * (b - r)
        self._batch.append((np.asarray(ops), r - self.baseline, self._logp))
        if len(self._batch) >= self.num_aggregate:
            self._update()
            self._batch.clear()

    def _update(self) -> None:
        ops = torch.as_tensor(np.stack([b[0] for b in self._batch]), dtype=torch.long)
        adv = torch.tensor([b[1] for b in self._batch], dtype=torch.float32)
        old_logp = torch.tensor([b[2] for b in self._batch], dtype=torch.float32)
        pol = self.policy
        for _ in range(1 if self.algo == "reinforce" else self.ppo_epochs):
            logp, _ = pol.log_prob(ops)
            if self.algo == "reinforce":
                loss = -(logp * adv).mean()
            else:
                ratio = torch.exp(logp - old_logp)
                clipped = ratio.clamp(1 - self.clip_range, 1 + self.clip_range)
                loss = -torch.min(ratio * adv, clipped * adv).mean()
            pol.optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(pol.parameters(), self.max_grad_norm)
            pol.optimizer.step()
        self.logger.record("train/policy_loss", float(loss.detach()))
        self.logger.record("train/baseline", float(self.baseline or 0.0))

    def _get_torch_save_params(self) -> tuple[list[str], list[str]]:
        return ["policy", "policy.optimizer"], []
