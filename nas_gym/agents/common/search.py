"""Base class for black-box search baselines with the Stable-Baselines3 interface.

Random search, regularized evolution and REINFORCE do not need a replay buffer or
critics, but users should drive them exactly like SB3 agents: ``learn`` with
callbacks and the SB3 logger, ``predict``, ``save`` / ``load``, ``seed``. This base
reuses SB3's ``BaseAlgorithm`` for all of that and runs a lean propose/observe loop.

The baselines choose discrete architectures and emit them as one-hot alpha
matrices, so they assume the argmax-per-row discretization
(:mod:`nas_gym.agents.common.discrete`). ``predict`` returns the architecture the
search recommends (the best one seen so far, or the policy's mode).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.type_aliases import GymEnv, MaybeCallback, Schedule
from stable_baselines3.common.utils import safe_mean
from torch import nn

from nas_gym.agents.common.discrete import (
    env_alpha_shape,
    env_op_mask,
    ops_to_alpha,
    row_action_shape,
)
from nas_gym.agents.common.rng import LocalRNGMixin, check_total_timesteps, private_rng


class SearchPolicy(BasePolicy):
    """Holds a search's recommendation (and, for REINFORCE, its logits) as torch state.

    ``incumbent`` is the alpha of the best architecture seen so far; ``logits`` are
    per-row categorical logits (unused by random search and REA); ``op_mask`` is the
    environment's per-row op mask (True = allowed; see
    :func:`nas_gym.agents.common.discrete.env_op_mask`). Being module state, all three are
    saved and loaded by SB3 with the agent.
    """

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Box,
        lr_schedule: Schedule,
        use_logits: bool = False,
        alpha_shape: tuple[int, ...] | None = None,
    ):
        super().__init__(observation_space, action_space, normalize_images=False)
        rows, ops = row_action_shape(action_space, type(self).__name__, alpha_shape)
        self.alpha_shape = (rows, ops)
        self.use_logits = use_logits
        self.logits = nn.Parameter(torch.zeros(rows, ops), requires_grad=use_logits)
        self.register_buffer("incumbent", torch.full((rows, ops), 1.0 / ops))
        self.register_buffer("op_mask", torch.ones(rows, ops, dtype=torch.bool))
        self.optimizer = (
            self.optimizer_class([self.logits], lr=lr_schedule(1)) if use_logits else None
        )

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data.update(use_logits=self.use_logits, alpha_shape=self.alpha_shape)
        return data

    def masked_logits(self) -> torch.Tensor:
        """``logits`` with the env's disallowed ops at -inf (probability 0)."""
        return self.logits.masked_fill(~self.op_mask, -torch.inf)

    def _predict(self, observation: torch.Tensor, deterministic: bool = False) -> torch.Tensor:
        batch = observation.shape[0]
        if not self.use_logits:
            return self.incumbent.expand(batch, *self.incumbent.shape)
        logits = self.masked_logits().detach()
        if deterministic:
            ops = logits.argmax(dim=1).expand(batch, -1)
        else:
            probs = torch.softmax(logits, dim=1)
            ops = torch.multinomial(probs, batch, replacement=True).T
        return torch.nn.functional.one_hot(ops, self.logits.shape[1]).float()


class SearchAlgorithm(LocalRNGMixin, BaseAlgorithm):
    """Propose an architecture, observe its reward, repeat (one env step = one query).

    Subclasses implement :meth:`_propose` (the ``(rows,)`` op indices to query next)
    and :meth:`_observe` (what to learn from the reward and the step's ``info``); or
    override :meth:`_propose_alpha` to emit a continuous alpha (random search).
    Proposals must respect ``self.op_mask`` (the env's allowed ops per row): the
    loop reads the queried cell back as the masked argmax, as the env does.
    :meth:`_search_done` lets a search stop before the budget (GA-NAS paper mode).

    Args:
        policy: ``"MlpPolicy"`` (a :class:`SearchPolicy`; the name keeps the SB3 call shape).
        env: a Gymnasium environment with a 2-D Box action space, or its id.
        learning_rate: learning rate of the policy's optimizer (REINFORCE only).
        stats_window_size: episodes averaged for the rollout logs.
        tensorboard_log: TensorBoard log directory (None: off).
        verbose: 0 silent, 1 info.
        seed: seed of the agent's private random streams (global RNGs are never seeded).
        device: torch device.
    """

    policy_aliases: ClassVar[dict[str, type[BasePolicy]]] = {"MlpPolicy": SearchPolicy}
    policy: SearchPolicy
    use_logits: ClassVar[bool] = False

    def __init__(
        self,
        policy: str | type[SearchPolicy] = "MlpPolicy",
        env: GymEnv | str | None = None,
        learning_rate: float | Schedule = 0.0,
        stats_window_size: int = 100,
        tensorboard_log: str | None = None,
        verbose: int = 0,
        seed: int | None = None,
        device: torch.device | str = "cpu",
        _init_setup_model: bool = True,
    ):
        super().__init__(
            policy,
            env,
            learning_rate,
            policy_kwargs={"use_logits": self.use_logits},
            stats_window_size=stats_window_size,
            tensorboard_log=tensorboard_log,
            verbose=verbose,
            device=device,
            support_multi_env=False,
            seed=seed,
            supported_action_spaces=(spaces.Box,),
        )
        self.alpha_shape: tuple[int, ...] | None = None
        if env is not None:
            self.alpha_shape = env_alpha_shape(self.env, self.action_space)
            self.n_rows, self.n_ops = row_action_shape(
                self.action_space, type(self).__name__, self.alpha_shape
            )
        self.best_reward = -np.inf
        if _init_setup_model:
            self._setup_model()

    def _setup_model(self) -> None:
        self._setup_lr_schedule()
        self.n_rows, self.n_ops = row_action_shape(
            self.action_space, type(self).__name__, self.alpha_shape
        )
        self.policy_kwargs["alpha_shape"] = (self.n_rows, self.n_ops)
        super()._setup_model()  # private RNG states (LocalRNGMixin)
        with private_rng(self):
            self.policy = self.policy_class(
                self.observation_space, self.action_space, self.lr_schedule, **self.policy_kwargs
            ).to(self.device)
        if self.env is not None:
            mask = env_op_mask(self.env, (self.n_rows, self.n_ops))
            self.policy.op_mask.copy_(torch.as_tensor(mask))

    @property
    def op_mask(self) -> np.ndarray:
        """``(rows, ops)`` bool: the ops the environment allows per row (True = allowed)."""
        return self.policy.op_mask.cpu().numpy()

    # subclass hooks -------------------------------------------------------------
    def _propose(self) -> np.ndarray:
        """Op index per row of the next architecture to query."""
        raise NotImplementedError

    def _propose_alpha(self) -> np.ndarray:
        return ops_to_alpha(self._propose(), self.n_ops)

    def _observe(
        self, ops: np.ndarray, reward: float, info: Mapping[str, Any] | None = None
    ) -> None:
        """Learn from one query's reward and its env ``info`` (cost, feasibility, ...)."""

    def _search_done(self) -> bool:
        """True to end ``learn`` before ``total_timesteps`` (default: never)."""
        return False

    # loop ---------------------------------------------------------------------
    def _setup_learn(
        self,
        total_timesteps: int,
        callback: MaybeCallback = None,
        reset_num_timesteps: bool = True,
        *args: Any,
        **kwargs: Any,
    ) -> tuple[int, Any]:
        if reset_num_timesteps:
            self.best_reward = (
                -np.inf
            )  # a fresh search; ``incumbent`` keeps the last recommendation
        return super()._setup_learn(total_timesteps, callback, reset_num_timesteps, *args, **kwargs)

    def learn(
        self,
        total_timesteps: int,
        callback: MaybeCallback = None,
        log_interval: int = 1,
        tb_log_name: str = "search",
        reset_num_timesteps: bool = True,
        progress_bar: bool = False,
    ) -> SearchAlgorithm:
        """Query ``total_timesteps`` architectures. SB3 ``learn`` semantics (callbacks, logger)."""
        total_timesteps = check_total_timesteps(total_timesteps)
        with private_rng(self):
            return self._learn(
                total_timesteps,
                callback,
                log_interval,
                tb_log_name,
                reset_num_timesteps,
                progress_bar,
            )

    def _learn(
        self,
        total_timesteps: int,
        callback: MaybeCallback,
        log_interval: int,
        tb_log_name: str,
        reset_num_timesteps: bool,
        progress_bar: bool,
    ) -> SearchAlgorithm:
        total_timesteps, callback = self._setup_learn(
            total_timesteps, callback, reset_num_timesteps, tb_log_name, progress_bar
        )
        callback.on_training_start(locals(), globals())
        assert self.env is not None
        mask = self.op_mask
        while self.num_timesteps < total_timesteps and not self._search_done():
            callback.on_rollout_start()
            alpha = self._propose_alpha()
            actions = alpha[None]
            new_obs, rewards, dones, infos = self.env.step(actions)
            self.num_timesteps += 1
            callback.update_locals(locals())
            if not callback.on_step():
                break
            self._update_info_buffer(infos, dones)
            reward = float(rewards[0])
            ops = np.where(mask, alpha, -np.inf).argmax(axis=1)  # the cell the env executes
            if reward > self.best_reward:
                self.best_reward = reward
                self.policy.incumbent.copy_(torch.as_tensor(ops_to_alpha(ops, self.n_ops)))
            self._observe(ops, reward, infos[0])
            self._last_obs = new_obs
            callback.on_rollout_end()
            if dones[0]:
                self._episode_num += 1
                if log_interval is not None and self._episode_num % log_interval == 0:
                    self._dump_logs()
        callback.on_training_end()
        return self

    def _dump_logs(self) -> None:
        assert self.ep_info_buffer is not None
        if len(self.ep_info_buffer) > 0:
            self.logger.record(
                "rollout/ep_rew_mean", safe_mean([ep["r"] for ep in self.ep_info_buffer])
            )
            self.logger.record(
                "rollout/ep_len_mean", safe_mean([ep["l"] for ep in self.ep_info_buffer])
            )
        self.logger.record("rollout/best_reward", self.best_reward)
        self.logger.record("time/episodes", self._episode_num, exclude="tensorboard")
        self.logger.record("time/total_timesteps", self.num_timesteps, exclude="tensorboard")
        self.logger.dump(step=self.num_timesteps)
