"""CADAM (Mills 2020, Ch. 4) on Stable-Baselines3's off-policy machinery."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.noise import ActionNoise
from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.type_aliases import GymEnv

from agents.cadam.policies import CADAMPolicy
from agents.common.fastmlp import adam_step
from agents.common.rng import LocalRNGMixin

CADAM_PRESETS: dict[str, dict[str, Any]] = {
    # Mills (2020) Sec. 4.2.1 and 4.4.3: NAS-Bench-201 oracle.
    "nb201": dict(
        quantile=0.9,
        batch_size=8,
        xi=1e-4,
        max_cycles=10,
        exploration="epsilon",
        epsilon_start=1.0,
        epsilon_end=0.05,
        epsilon_decay_steps=175,
        warmup_steps=0,
        replay_window=None,
        net_arch=(128, 256, 128),
    ),
    # Mills (2020) Sec. 4.2.2 and 4.4.3: DARTS / PC-DARTS supernet.
    "darts": dict(
        quantile=0.95,
        batch_size=64,
        xi=5e-5,
        max_cycles=1,
        exploration="warmup",
        epsilon_start=1.0,
        epsilon_end=0.05,
        epsilon_decay_steps=175,
        warmup_steps=3000,
        replay_window=5000,
        net_arch=(256, 256, 256),
    ),
}


def cosine_epsilon(step: int, start: float, end: float, decay_steps: int) -> float:
    """Cosine-annealed exploration rate: ``start`` at step 0, ``end`` from ``decay_steps`` on."""
    if decay_steps <= 0 or step >= decay_steps:
        return float(end)
    return float(end + 0.5 * (start - end) * (1.0 + math.cos(math.pi * step / decay_steps)))


def update_cycles(buffer_size: int, batch_size: int, max_cycles: int) -> int:
    """Training cycles per step, Mills (2020) Eq. 4.6: ``min(floor(|R| / |B_R|), C_max)``.

    Zero until the buffer holds one batch ("training starts once the experience
    buffer has |B_R| samples").
    """
    return min(buffer_size // batch_size, max_cycles)


def check_loss(q: torch.Tensor, r: torch.Tensor, quantile: float) -> torch.Tensor:
    """Quantile-regression check loss (Koenker 2005; Mills 2020 Eq. 4.4).

    ``mean(u * (tau - 1[u < 0]))`` with ``u = r - Q(a)``: its minimiser is the
    tau-quantile of the reward, so the critic tracks the tail of good architectures.
    """
    u = r - q
    return (u * (quantile - (u < 0).to(u.dtype))).mean()


class CADAM(LocalRNGMixin, OffPolicyAlgorithm):
    """Continuous Action-Discrete Architecture Mapping (Mills 2020, Ch. 4).

    A DDPG-like search agent for one-step NAS environments. Differences from DDPG,
    all from the thesis:

    * the critic ``Q(a)`` sees only the action and is trained with the quantile
      check loss (no bootstrapped target, no target networks, no discount);
    * replay tuples are ``(s, a, r)``; the actor minimises ``-mean Q(mu(s))``;
    * actions are ``mu(s) + U(-xi, xi)``, with epsilon-greedy random ``U(0,1)``
      actions (cosine-annealed epsilon) or ``warmup_steps`` random warm-up steps;
    * ``C = min(floor(|R|/|B_R|), C_max)`` update cycles per environment step.

    **CADAM-TD3** (``n_critics=2, policy_delay=2``) takes TD3's changes (Fujimoto
    et al. 2018) where they apply: twin quantile critics whose *minimum* is what the
    actor maximises, and delayed actor updates. TD3's target policy smoothing acts
    on bootstrapped targets, which CADAM does not have, so there is none here.

    Defaults are the thesis' NAS-Bench-201 settings (``preset="nb201"``);
    ``preset="darts"`` or :meth:`CADAM.darts` gives the DARTS-supernet settings.
    Any hyperparameter passed explicitly overrides the preset.

    Args:
        policy: ``"MlpPolicy"`` or a :class:`CADAMPolicy` subclass.
        env: a Gymnasium environment (one search run per episode) or its id.
        preset: ``"nb201"`` (default) or ``"darts"``: source of every ``None`` below.
        actor_learning_rate: Adam lr of the actor; 1e-8 is the value printed in the thesis.
        learning_rate: Adam lr of the critic(s) (thesis: 1e-4).
        quantile: tau of the check loss, the reward quantile the critic predicts (0.9 / 0.95).
        batch_size: |B_R|, transitions per update cycle (8 / 64).
        xi: half-width of the uniform action noise U(-xi, xi) (1e-4 / 5e-5).
        max_cycles: C_max, most update cycles per environment step (10 / 1).
        exploration: ``"epsilon"`` (epsilon-greedy, NB201) or ``"warmup"`` (W random steps, DARTS).
        epsilon_start: epsilon at step 0 (1.0).
        epsilon_end: epsilon floor (0.05).
        epsilon_decay_steps: step by which the cosine schedule reaches the floor (175).
        warmup_steps: W, random steps before the actor acts, for ``exploration="warmup"`` (3000).
        replay_window: keep only the last N transitions (DARTS: 5000); None keeps ``buffer_size``.
        buffer_size: replay capacity when ``replay_window`` is None.
        net_arch: hidden sizes of actor and critic MLPs ((128, 256, 128) / (256, 256, 256)).
        adam_betas: Adam betas of both networks ((0.9, 0.99)).
        n_critics: 1 (CADAM) or 2 (CADAM-TD3: twin critics, actor maximises their minimum).
        policy_delay: actor updated every ``policy_delay`` critic updates (1; TD3: 2).
        policy_kwargs: extra :class:`CADAMPolicy` arguments.
        stats_window_size: episodes averaged for the rollout logs.
        tensorboard_log: TensorBoard log directory (None: off).
        verbose: 0 silent, 1 info.
        seed: seed of the agent's private random streams (global RNGs are never seeded).
        device: torch device ("cpu": the networks are tiny).
    """

    policy_aliases: ClassVar[dict[str, type[BasePolicy]]] = {"MlpPolicy": CADAMPolicy}
    policy: CADAMPolicy

    def __init__(
        self,
        policy: str | type[CADAMPolicy] = "MlpPolicy",
        env: GymEnv | str | None = None,
        preset: str = "nb201",
        actor_learning_rate: float = 1e-8,
        learning_rate: float = 1e-4,
        quantile: float | None = None,
        batch_size: int | None = None,
        xi: float | None = None,
        max_cycles: int | None = None,
        exploration: str | None = None,
        epsilon_start: float | None = None,
        epsilon_end: float | None = None,
        epsilon_decay_steps: int | None = None,
        warmup_steps: int | None = None,
        replay_window: int | None = None,
        buffer_size: int = 100_000,
        net_arch: Sequence[int] | None = None,
        adam_betas: tuple[float, float] = (0.9, 0.99),
        n_critics: int = 1,
        policy_delay: int = 1,
        policy_kwargs: dict[str, Any] | None = None,
        stats_window_size: int = 100,
        tensorboard_log: str | None = None,
        verbose: int = 0,
        seed: int | None = None,
        device: torch.device | str = "cpu",
        _init_setup_model: bool = True,
    ):
        if preset not in CADAM_PRESETS:
            raise ValueError(
                f"unknown CADAM preset {preset!r}; allowed: {', '.join(CADAM_PRESETS)}"
            )
        given = dict(
            quantile=quantile,
            batch_size=batch_size,
            xi=xi,
            max_cycles=max_cycles,
            exploration=exploration,
            epsilon_start=epsilon_start,
            epsilon_end=epsilon_end,
            epsilon_decay_steps=epsilon_decay_steps,
            warmup_steps=warmup_steps,
            replay_window=replay_window,
            net_arch=net_arch,
        )
        hp = {k: (CADAM_PRESETS[preset][k] if v is None else v) for k, v in given.items()}
        _check_hyperparameters(hp, n_critics, policy_delay, actor_learning_rate, learning_rate)
        window = hp["replay_window"]
        policy_kwargs = dict(policy_kwargs or {})
        policy_kwargs.setdefault("net_arch", tuple(hp["net_arch"]))
        policy_kwargs.setdefault("n_critics", n_critics)
        policy_kwargs.setdefault("actor_learning_rate", actor_learning_rate)
        policy_kwargs.setdefault("optimizer_kwargs", {"betas": tuple(adam_betas)})
        super().__init__(
            policy,
            env,  # type: ignore[arg-type]
            learning_rate,
            buffer_size=int(window) if window is not None else buffer_size,
            learning_starts=0,
            batch_size=int(hp["batch_size"]),
            tau=0.0,
            gamma=0.0,
            train_freq=1,
            gradient_steps=1,
            policy_kwargs=policy_kwargs,
            stats_window_size=stats_window_size,
            tensorboard_log=tensorboard_log,
            verbose=verbose,
            device=device,
            seed=seed,
            sde_support=False,
            supported_action_spaces=(spaces.Box,),
        )
        self.preset = preset
        self.quantile = float(hp["quantile"])
        self.xi = float(hp["xi"])
        self.max_cycles = int(hp["max_cycles"])
        self.exploration = hp["exploration"]
        self.epsilon_start = float(hp["epsilon_start"])
        self.epsilon_end = float(hp["epsilon_end"])
        self.epsilon_decay_steps = int(hp["epsilon_decay_steps"])
        self.warmup_steps = int(hp["warmup_steps"])
        self.replay_window = None if window is None else int(window)
        self.policy_delay = int(policy_delay)
        self._tensors: dict[str, torch.Tensor] | None = None
        if _init_setup_model:
            self._setup_model()

    @classmethod
    def darts(
        cls,
        policy: str | type[CADAMPolicy] = "MlpPolicy",
        env: GymEnv | str | None = None,
        **kwargs: Any,
    ) -> CADAM:
        """CADAM with the thesis' DARTS-supernet settings (Sec. 4.2.2)."""
        return cls(policy, env, preset="darts", **kwargs)

    # -- setup -----------------------------------------------------------------
    def _setup_model(self) -> None:
        super()._setup_model()
        self._tensors = None

    def _excluded_save_params(self) -> list[str]:
        return [*super()._excluded_save_params(), "_tensors"]

    def _get_torch_save_params(self) -> tuple[list[str], list[str]]:
        return ["policy", "policy.actor_optimizer", "policy.critic_optimizer"], []

    def _buffer_tensors(self) -> dict[str, torch.Tensor]:
        """Zero-copy torch views of the SB3 replay arrays: one gather per cycle, no conversions."""
        if (
            self._tensors is None
            or self._tensors["actions"].data_ptr() != self.replay_buffer.actions.ctypes.data
        ):
            rb = self.replay_buffer
            n = rb.buffer_size * rb.n_envs
            self._tensors = {
                "observations": torch.from_numpy(rb.observations).view(n, -1),
                "actions": torch.from_numpy(rb.actions).view(n, -1),
                "rewards": torch.from_numpy(rb.rewards).view(n, 1),
            }
        return self._tensors

    # -- acting ----------------------------------------------------------------
    def epsilon(self, step: int | None = None) -> float:
        """Probability of a random action at ``step`` (default: the current step)."""
        step = self.num_timesteps if step is None else step
        if self.exploration == "warmup":
            return 1.0 if step < self.warmup_steps else 0.0
        return cosine_epsilon(step, self.epsilon_start, self.epsilon_end, self.epsilon_decay_steps)

    def _sample_action(
        self, learning_starts: int, action_noise: ActionNoise | None = None, n_envs: int = 1
    ) -> tuple[np.ndarray, np.ndarray]:
        """Epsilon-greedy / warm-up random ``U(0,1)`` actions, else ``mu(s) + U(-xi, xi)``.

        The stored action is the one sent to the environment (no rescaling: the
        actor already outputs in the Box's [0, 1]).
        """
        shape = (n_envs, *self.action_space.shape)
        eps = self.epsilon()
        self.logger.record("rollout/epsilon", eps)
        if eps >= 1.0 or np.random.random() < eps:
            action = np.random.random(shape).astype(np.float32)
        else:
            obs = torch.as_tensor(np.asarray(self._last_obs, dtype=np.float32)).view(n_envs, -1)
            with torch.no_grad():
                mu = self.policy.actor(obs).numpy().reshape(shape)
            action = (mu + np.random.uniform(-self.xi, self.xi, shape)).astype(np.float32)
        return action, action

    def predict(
        self,
        observation: np.ndarray | dict[str, np.ndarray],
        state: tuple[np.ndarray, ...] | None = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = False,
    ) -> tuple[np.ndarray, tuple[np.ndarray, ...] | None]:
        """mu(s) (SB3 semantics). ``deterministic=False`` adds the U(-xi, xi) noise."""
        action, state = self.policy.predict(observation, state, episode_start, True)
        if not deterministic:
            action = (action + np.random.uniform(-self.xi, self.xi, action.shape)).astype(
                np.float32
            )
        return action, state

    # -- learning --------------------------------------------------------------
    def train(self, gradient_steps: int, batch_size: int) -> None:
        """C update cycles (Eq. 4.6), each: one check-loss critic step, then (every
        ``policy_delay`` cycles) one actor step on ``-mean(min_k Q_k(mu(s)))``.

        Gradients are computed by :mod:`agents.common.fastmlp` (same math as autograd,
        several times faster at this size; see ``tests/test_agents_cadam.py``).
        """
        size = self.replay_buffer.size()
        cycles = update_cycles(size, batch_size, self.max_cycles)
        if cycles == 0:
            return
        policy = self.policy
        if not policy.flat_actor.is_bound():
            policy.flatten_parameters()
        buf = self._buffer_tensors()
        idx = torch.randint(size, (cycles, batch_size))
        critic_loss_sum, actor_loss_sum, n_actor = 0.0, 0.0, 0
        with torch.no_grad():
            for c in range(cycles):
                rows = idx[c]
                critic_loss_sum += self._critic_cycle(buf["actions"][rows], buf["rewards"][rows])
                self._n_updates += 1
                if self._n_updates % self.policy_delay == 0:
                    actor_loss_sum += self._actor_cycle(buf["observations"][rows])
                    n_actor += 1
        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")
        self.logger.record("train/cycles", cycles)
        self.logger.record("train/critic_loss", critic_loss_sum / cycles)
        if n_actor:
            self.logger.record("train/actor_loss", actor_loss_sum / n_actor)

    def _critic_cycle(self, actions: torch.Tensor, rewards: torch.Tensor) -> float:
        """One Adam step of every critic on the check loss; returns the summed loss."""
        policy, tau = self.policy, self.quantile
        total = 0.0
        for flat in policy.flat_critics:
            acts = flat.forward(actions)
            u = rewards - acts[-1]
            below = (u < 0).to(u.dtype)
            total += float((u * (tau - below)).mean())
            # d/dQ of mean(u (tau - 1[u<0])) with u = r - Q
            flat.backward(acts, (below - tau) / u.shape[0], input_grad=False)
        for flat in policy.flat_critics:
            adam_step(policy.critic_optimizer, flat.params, flat.grads, flat.scratch)
        return total

    def _actor_cycle(self, observations: torch.Tensor) -> float:
        """One Adam step of the actor on ``-mean(min_k Q_k(mu(s)))``; returns the loss."""
        policy = self.policy
        actor = policy.flat_actor
        acts = actor.forward(observations)
        mu = torch.sigmoid(acts[-1])
        critics = policy.flat_critics
        critic_acts = [flat.forward(mu) for flat in critics]
        d_q = torch.full_like(critic_acts[0][-1], -1.0 / mu.shape[0])
        if len(critics) == 1:
            q_min = critic_acts[0][-1]
            d_mu = critics[0].backward(critic_acts[0], d_q, param_grads=False)
        else:  # the gradient of the minimum flows to the critic that attains it
            qs = torch.cat([a[-1] for a in critic_acts], dim=1)
            q_min, which = qs.min(dim=1, keepdim=True)
            d_mu = None
            for k, (flat, a) in enumerate(zip(critics, critic_acts, strict=True)):
                d = flat.backward(a, d_q * (which == k).to(qs.dtype), param_grads=False)
                d_mu = d if d_mu is None else d_mu + d
        assert d_mu is not None
        actor.backward(acts, torch.ops.aten.sigmoid_backward(d_mu, mu), input_grad=False)
        adam_step(policy.actor_optimizer, actor.params, actor.grads, actor.scratch)
        return -float(q_min.mean())

    def learn(
        self,
        total_timesteps: int,
        callback: Any = None,
        log_interval: int = 1,
        tb_log_name: str = "CADAM",
        reset_num_timesteps: bool = True,
        progress_bar: bool = False,
    ) -> CADAM:
        """Run ``total_timesteps`` environment steps (queries). See SB3 ``learn``."""
        return super().learn(
            total_timesteps=total_timesteps,
            callback=callback,
            log_interval=log_interval,
            tb_log_name=tb_log_name,
            reset_num_timesteps=reset_num_timesteps,
            progress_bar=progress_bar,
        )


def _check_hyperparameters(
    hp: dict[str, Any], n_critics: int, policy_delay: int, actor_lr: float, critic_lr: float
) -> None:
    if not 0.0 < float(hp["quantile"]) < 1.0:
        raise ValueError(f"quantile (tau) must be in (0, 1), got {hp['quantile']!r}")
    for name in ("batch_size", "max_cycles"):
        if int(hp[name]) < 1:
            raise ValueError(f"{name} must be >= 1, got {hp[name]!r}")
    if hp["exploration"] not in ("epsilon", "warmup"):
        raise ValueError(f"unknown exploration {hp['exploration']!r}; allowed: 'epsilon', 'warmup'")
    if float(hp["xi"]) < 0:
        raise ValueError(f"xi must be >= 0, got {hp['xi']!r}")
    if not (0.0 <= float(hp["epsilon_end"]) <= float(hp["epsilon_start"]) <= 1.0):
        raise ValueError(
            f"need 0 <= epsilon_end <= epsilon_start <= 1, got {hp['epsilon_end']!r}, {hp['epsilon_start']!r}"
        )
    if int(hp["warmup_steps"]) < 0 or int(hp["epsilon_decay_steps"]) < 0:
        raise ValueError("warmup_steps and epsilon_decay_steps must be >= 0")
    if hp["replay_window"] is not None and int(hp["replay_window"]) < int(hp["batch_size"]):
        raise ValueError(
            f"replay_window ({hp['replay_window']}) must hold at least one batch ({hp['batch_size']})"
        )
    if n_critics not in (1, 2):
        raise ValueError(f"n_critics must be 1 (CADAM) or 2 (CADAM-TD3), got {n_critics!r}")
    if int(policy_delay) < 1:
        raise ValueError(f"policy_delay must be >= 1, got {policy_delay!r}")
    if actor_lr < 0 or critic_lr <= 0:
        raise ValueError(
            f"learning rates must be positive, got actor {actor_lr!r}, critic {critic_lr!r}"
        )
