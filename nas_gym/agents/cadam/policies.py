"""CADAM's networks: an actor mu(s) and critics Q(a) that see the action only."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import islice
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.torch_layers import create_mlp
from stable_baselines3.common.type_aliases import Schedule
from torch import nn


class CADAMPolicy(BasePolicy):
    """Actor and action-only critic(s) of CADAM (Mills 2020, Sec. 4.1.2, 4.4.3).

    The actor maps the (flattened) state to alpha with a sigmoid output, so its
    action lies in (0, 1) like the environment's Box. Each critic maps the action
    alone to a scalar, ``r ~ Q(a)`` (Eq. 4.3): CADAM's state is a statistic of the
    top-K history, not something the reward depends on.

    Args:
        observation_space: the environment's observation space.
        action_space: the environment's Box action space.
        lr_schedule: critic learning-rate schedule (SB3 convention: ``learning_rate``).
        net_arch: hidden layer sizes of both actor and critics ((128, 256, 128) on NB201).
        n_critics: 1 (CADAM) or 2 (CADAM-TD3: twin quantile critics).
        actor_learning_rate: initial learning rate of the actor's optimizer (the
            algorithm applies its schedule at every update).
        optimizer_class: optimizer of both networks (thesis: Adam).
        optimizer_kwargs: its extra arguments, e.g. ``betas``, ``weight_decay``
            (thesis: ``betas=(0.9, 0.99)``).
    """

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Box,
        lr_schedule: Schedule,
        net_arch: Sequence[int] = (128, 256, 128),
        n_critics: int = 1,
        actor_learning_rate: float = 1e-4,
        optimizer_class: type[torch.optim.Optimizer] = torch.optim.Adam,
        optimizer_kwargs: dict[str, Any] | None = None,
    ):
        if optimizer_kwargs is None:
            optimizer_kwargs = {"betas": (0.9, 0.99)}
        super().__init__(
            observation_space,
            action_space,
            optimizer_class=optimizer_class,
            optimizer_kwargs=optimizer_kwargs,
            squash_output=False,
            normalize_images=False,
        )
        if n_critics < 1:
            raise ValueError(f"n_critics must be >= 1, got {n_critics}")
        self.net_arch = [int(n) for n in net_arch]
        self.n_critics = int(n_critics)
        self.actor_learning_rate = float(actor_learning_rate)
        obs_dim = int(np.prod(observation_space.shape))
        act_dim = int(np.prod(action_space.shape))
        self.actor = nn.Sequential(
            nn.Flatten(), *create_mlp(obs_dim, act_dim, self.net_arch, nn.ReLU), nn.Sigmoid()
        )
        self.critics = nn.ModuleList(
            nn.Sequential(*create_mlp(act_dim, 1, self.net_arch, nn.ReLU))
            for _ in range(self.n_critics)
        )
        self.actor_optimizer = self.optimizer_class(
            self.actor.parameters(), lr=self.actor_learning_rate, **self.optimizer_kwargs
        )
        self.critic_optimizer = self.optimizer_class(
            self.critics.parameters(), lr=lr_schedule(1), **self.optimizer_kwargs
        )

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data.update(
            net_arch=self.net_arch,
            n_critics=self.n_critics,
            actor_learning_rate=self.actor_learning_rate,
            optimizer_class=self.optimizer_class,
            optimizer_kwargs=self.optimizer_kwargs,
        )
        return data

    def q_values(self, actions: torch.Tensor, n: int | None = None) -> torch.Tensor:
        """``(batch, n)`` quantile estimates of flat actions by the first ``n`` critics (all)."""
        # islice, not self.critics[:n]: slicing a ModuleList builds a new module (about 12 us)
        return torch.cat([critic(actions) for critic in islice(self.critics, n)], dim=1)

    def forward(self, obs: torch.Tensor, deterministic: bool = True) -> torch.Tensor:
        return self._predict(obs, deterministic)

    def _predict(self, observation: torch.Tensor, deterministic: bool = True) -> torch.Tensor:
        """mu(s); CADAM's exploration noise is added by the algorithm, not here."""
        return self.actor(observation.float())
