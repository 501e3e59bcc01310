"""DDAS (Mills 2020, Ch. 3) on Stable-Baselines3's TD3/DDPG machinery."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from stable_baselines3 import TD3
from stable_baselines3.common.noise import (
    ActionNoise,
    NormalActionNoise,
    OrnsteinUhlenbeckActionNoise,
)
from stable_baselines3.common.type_aliases import GymEnv
from stable_baselines3.common.utils import update_learning_rate
from stable_baselines3.td3.policies import TD3Policy

from nas_gym.agents.common.buffers import truncate_replay_buffer
from nas_gym.agents.common.discrete import (
    active_pairs,
    default_similarity_threshold,
    env_alpha_shape,
    is_discrete,
)
from nas_gym.agents.common.noise import UniformActionNoise
from nas_gym.agents.common.rng import LocalRNGMixin

DDAS_SCHEDULES: tuple[str, ...] = ("nl", "g", "4s")
"""Mills (2020) Table 3.3: noiseless, Gaussian and four-stage DDAS."""

THESIS_STEPS = (500, 500, 1500)
"""Mills (2020) Table 3.3: explore, exploit (4S) and total steps of a DDAS run."""


def phase_steps(
    budget: int, explore_steps: int | None = None, exploit_steps: int | None = None
) -> tuple[int, int]:
    """Explore and exploit lengths for a ``budget``-step run.

    ``None`` scales the thesis' counts (500 + 500 (+ 500 4S) of 1,500 steps, Table 3.3)
    to the budget, so a run of any length leaves exploration after a third of it;
    an explicit count is kept as given.
    """
    explore, exploit, total = THESIS_STEPS
    if explore_steps is None:
        explore_steps = round(budget * explore / total)
    if exploit_steps is None:
        exploit_steps = round(budget * exploit / total)
    return int(explore_steps), int(exploit_steps)


class DDAS(LocalRNGMixin, TD3):
    """Deep Deterministic Architecture Sampling (Mills 2020, Ch. 3): DDPG plus a phase schedule.

    Phases (Table 3.3; all noise in the action units of the Box [0, 1]). The thesis
    runs 1,500 steps: 500 explore, then 1,000 exploit (NL, G) or 500 exploit and 500
    4S steps. By default the phase lengths scale with the budget ``learn`` is given
    (a third each; exactly the thesis' counts at 1,500 steps), so DDAS exploits at
    any budget: at 500 queries it explores for 167 steps, not all 500.

    1. *explore* (``explore_steps``): actions ~ U(0,1), no network updates
       (SB3's ``learning_starts``);
    2. *exploit*: ``mu(s) + Z``, ``Z = U(-1e-5, 1e-5)`` (``"nl"``) or ``N(0, 0.05)``
       (``"g"``, ``"4s"``); one DDPG update per step;
    3. only ``"4s"``, after ``exploit_steps`` of phase 2: ``Z = 0``, the replay buffer
       truncated to (and thereafter kept at) the last ``phase4_buffer`` steps, and
       Ornstein-Uhlenbeck noise for ``stagnation_steps`` steps whenever the chosen
       architecture has stayed *similar* for ``stagnation_steps`` steps in a row.

    *Similar* (Sec. 3.2.1) means fewer than ``similarity_threshold`` of the active
    (edge, op) pairs differ between consecutive architectures. The agent only sees
    the Gymnasium API, so the architecture is read from the observation when it is
    an alpha_d (``observation="last"``, the DDAS state), else from the action's
    argmax per row (argmax-per-row spaces such as NAS-Bench-201).

    The networks are SB3's TD3 policy: MLPs 3 x 256 ReLU, actor ``tanh`` rescaled to
    the Box [0, 1], which equals the thesis' sigmoid ``sigmoid(2 z)`` up to a factor
    2 in the last pre-activation. ``twin=False`` (default) is DDPG as in the thesis
    (one critic, no delay, no target smoothing, target nets updated every step);
    ``twin=True`` is **DDAS-TD3**: twin critics with the minimum in the target,
    target policy smoothing and delayed actor updates (Fujimoto et al. 2018).

    Args:
        policy: ``"MlpPolicy"`` (SB3 TD3 policy).
        env: a Gymnasium environment or its id.
        schedule: ``"nl"``, ``"g"`` or ``"4s"`` (Table 3.3).
        actor_learning_rate: Adam lr of the actor (1e-4).
        learning_rate: Adam lr of the critic (1e-3).
        explore_steps: phase-1 length: random U(0,1) actions, no updates (None: a third
            of the budget given to ``learn``, 500 of 1,500 as in the thesis).
        exploit_steps: phase-2 length before phase 4 of ``"4s"`` (None: a third of the
            budget; unused for nl/g).
        exploit_noise_scale: half-width of NL's uniform noise (1e-5) or std of G's normal noise (0.05).
        phase4_buffer: replay window of phase 4 (500 steps).
        stagnation_steps: T_stag, similar steps that trigger OU noise and its duration (32).
        similarity_threshold: fewest differing active pairs for *different*; None: 2 on
            NB201 (6 rows), 6 on DARTS (2 x 14 x 7), ``ceil(rows / 3)`` otherwise.
        ou_sigma: OU volatility (0.2, Lillicrap et al. 2016).
        ou_theta: OU mean reversion (0.15, Lillicrap et al. 2016).
        ou_dt: OU time step (1.0).
        buffer_size: replay capacity outside phase 4 (1e6).
        batch_size: transitions per update (64).
        tau: soft target update coefficient, applied every step (1e-3).
        gamma: discount factor (0.99).
        net_arch: hidden sizes of actor and critic (256, 256, 256).
        adam_betas: Adam betas ((0.9, 0.99)).
        twin: False: DDPG (thesis); True: DDAS-TD3.
        policy_delay: actor/target update period (None: 1 for DDPG, 2 for TD3).
        target_policy_noise: TD3 target smoothing std in SB3's [-1, 1] action units (None: 0 / 0.2).
        target_noise_clip: TD3 target smoothing clip in [-1, 1] units (0.5).
        policy_kwargs: extra SB3 ``TD3Policy`` arguments.
        stats_window_size: episodes averaged for the rollout logs.
        tensorboard_log: TensorBoard log directory (None: off).
        verbose: 0 silent, 1 info.
        seed: seed of the agent's private random streams (global RNGs are never seeded).
        device: torch device.
    """

    def __init__(
        self,
        policy: str | type[TD3Policy] = "MlpPolicy",
        env: GymEnv | str | None = None,
        schedule: str = "4s",
        actor_learning_rate: float = 1e-4,
        learning_rate: float = 1e-3,
        explore_steps: int | None = None,
        exploit_steps: int | None = None,
        exploit_noise_scale: float | None = None,
        phase4_buffer: int = 500,
        stagnation_steps: int = 32,
        similarity_threshold: int | None = None,
        ou_sigma: float = 0.2,
        ou_theta: float = 0.15,
        ou_dt: float = 1.0,
        buffer_size: int = 1_000_000,
        batch_size: int = 64,
        tau: float = 1e-3,
        gamma: float = 0.99,
        net_arch: Sequence[int] = (256, 256, 256),
        adam_betas: tuple[float, float] = (0.9, 0.99),
        twin: bool = False,
        policy_delay: int | None = None,
        target_policy_noise: float | None = None,
        target_noise_clip: float = 0.5,
        policy_kwargs: dict[str, Any] | None = None,
        stats_window_size: int = 100,
        tensorboard_log: str | None = None,
        verbose: int = 0,
        seed: int | None = None,
        device: torch.device | str = "cpu",
        _init_setup_model: bool = True,
    ):
        if schedule not in DDAS_SCHEDULES:
            raise ValueError(
                f"unknown DDAS schedule {schedule!r}; allowed: {', '.join(DDAS_SCHEDULES)}"
            )
        for name, value in (("explore_steps", explore_steps), ("exploit_steps", exploit_steps)):
            if value is not None and int(value) < 0:
                raise ValueError(f"{name} must be >= 0, got {value!r}")
        for name, value in (
            ("phase4_buffer", phase4_buffer),
            ("stagnation_steps", stagnation_steps),
        ):
            if int(value) < 1:
                raise ValueError(f"{name} must be >= 1, got {value!r}")
        if actor_learning_rate <= 0 or learning_rate <= 0:
            raise ValueError(
                f"learning rates must be > 0, got {actor_learning_rate!r}, {learning_rate!r}"
            )
        policy_kwargs = dict(policy_kwargs or {})
        policy_kwargs.setdefault("net_arch", [int(n) for n in net_arch])
        policy_kwargs.setdefault("n_critics", 2 if twin else 1)
        policy_kwargs.setdefault("optimizer_kwargs", {"betas": tuple(adam_betas)})
        self._phase_args = (explore_steps, exploit_steps)
        explore_steps, exploit_steps = phase_steps(THESIS_STEPS[2], explore_steps, exploit_steps)
        super().__init__(
            policy,
            env,  # type: ignore[arg-type]
            learning_rate=learning_rate,
            buffer_size=buffer_size,
            learning_starts=int(explore_steps),
            batch_size=batch_size,
            tau=tau,
            gamma=gamma,
            train_freq=1,
            gradient_steps=1,
            policy_delay=(2 if twin else 1) if policy_delay is None else policy_delay,
            target_policy_noise=(0.2 if twin else 0.0)
            if target_policy_noise is None
            else target_policy_noise,
            target_noise_clip=target_noise_clip,
            policy_kwargs=policy_kwargs,
            stats_window_size=stats_window_size,
            tensorboard_log=tensorboard_log,
            verbose=verbose,
            seed=seed,
            device=device,
            _init_setup_model=False,
        )
        self.schedule = schedule
        self.actor_learning_rate = float(actor_learning_rate)
        self.explore_steps = int(explore_steps)
        self.exploit_steps = int(exploit_steps)
        if exploit_noise_scale is None:
            exploit_noise_scale = 1e-5 if schedule == "nl" else 0.05
        self.exploit_noise_scale = float(exploit_noise_scale)
        self.phase4_buffer = int(phase4_buffer)
        self.stagnation_steps = int(stagnation_steps)
        self.similarity_threshold = similarity_threshold
        self.ou_sigma, self.ou_theta, self.ou_dt = float(ou_sigma), float(ou_theta), float(ou_dt)
        self.twin = bool(twin)
        self._reset_schedule_state()
        if _init_setup_model:
            self._setup_model()

    def _reset_schedule_state(self) -> None:
        self._prev_arch: frozenset[int] | None = None
        self._similar_run = 0
        self._ou_left = 0
        self._truncated = False
        self.n_ou_bursts = 0

    def _setup_model(self) -> None:
        super()._setup_model()
        shape = self.action_space.shape
        if getattr(self, "alpha_shape", None) is None:  # a loaded model keeps its own
            self.alpha_shape = env_alpha_shape(self.env, self.action_space)
        if self.similarity_threshold is None:
            self.similarity_threshold = default_similarity_threshold(self.alpha_shape)
        if self.schedule == "nl":
            self.exploit_noise: ActionNoise = UniformActionNoise(shape, self.exploit_noise_scale)
        else:
            self.exploit_noise = NormalActionNoise(
                np.zeros(shape), np.full(shape, self.exploit_noise_scale)
            )
        self.ou_noise = OrnsteinUhlenbeckActionNoise(
            np.zeros(shape), np.full(shape, self.ou_sigma), theta=self.ou_theta, dt=self.ou_dt
        )

    # -- phases ----------------------------------------------------------------
    def phase(self, step: int | None = None) -> int:
        """Phase (1 explore, 2 exploit, 4 the 4S stage) of ``step`` (default: the next one)."""
        step = self.num_timesteps if step is None else step
        if step < self.explore_steps:
            return 1
        if self.schedule == "4s" and step >= self.explore_steps + self.exploit_steps:
            return 4
        return 2

    def _sample_action(
        self, learning_starts: int, action_noise: ActionNoise | None = None, n_envs: int = 1
    ) -> tuple[np.ndarray, np.ndarray]:
        """Phase-dependent exploration; returns (env action in [0,1], buffer action in [-1,1])."""
        shape = (n_envs, *self.action_space.shape)
        phase = self.phase()
        if phase == 1:
            action = np.random.random(shape).astype(np.float32)
        else:
            obs = torch.as_tensor(np.asarray(self._last_obs, dtype=np.float32)).view(n_envs, -1)
            with torch.no_grad():
                scaled = self.actor(obs).numpy().reshape(shape)
            mu = self.policy.unscale_action(scaled)
            if phase == 2:
                noise = np.stack([self.exploit_noise() for _ in range(n_envs)])
            elif self._ou_left > 0:
                noise = np.stack([self.ou_noise() for _ in range(n_envs)])
                self._ou_left -= 1
            else:
                noise = np.zeros(shape)
            action = np.clip(mu + noise, 0.0, 1.0).astype(np.float32)
        self._last_action = action
        self.logger.record("rollout/phase", phase)
        return action, self.policy.scale_action(action)

    def _architecture(self) -> frozenset[int]:
        """Active (edge, op) pairs of the architecture just chosen (see class docstring)."""
        # At an episode end _last_obs is already the next episode's (empty) first state;
        # the replay buffer keeps the terminal observation, i.e. this step's architecture.
        buffer = self.replay_buffer
        if buffer.optimize_memory_usage:  # SB3 then keeps next_obs in the following slot
            stored = buffer.observations[buffer.pos % buffer.buffer_size, 0]
        else:
            stored = buffer.next_observations[(buffer.pos - 1) % buffer.buffer_size, 0]
        for obs in (np.asarray(self._last_obs)[0], stored):
            if obs.shape == self.action_space.shape and is_discrete(obs):
                return active_pairs(obs)
        action = self._last_action[0]
        if action.ndim == 1 and len(self.alpha_shape) == 2:  # a flat -v1 action
            action = action.reshape(self.alpha_shape)
        if action.ndim != 2:
            raise ValueError(
                "DDAS-4S needs the architecture of each step: use observation='last' (alpha_d) "
                f"or an argmax-per-row action space; got action shape {action.shape} and a non-binary observation"
            )
        flat = action.argmax(axis=1) + np.arange(action.shape[0]) * action.shape[1]
        return frozenset(flat.tolist())

    def _on_step(self) -> None:
        """After each environment step: phase-4 buffer truncation and stagnation detection."""
        super()._on_step()
        if self.schedule != "4s" or self.num_timesteps < self.explore_steps + self.exploit_steps:
            return
        if not self._truncated:
            self.replay_buffer = truncate_replay_buffer(self.replay_buffer, self.phase4_buffer)
            self._truncated = True
        arch = self._architecture()
        if self._prev_arch is not None and self._ou_left == 0:
            differ = len(arch) - len(arch & self._prev_arch)
            self._similar_run = self._similar_run + 1 if differ < self.similarity_threshold else 0
            if self._similar_run >= self.stagnation_steps:
                self._ou_left = self.stagnation_steps
                self._similar_run = 0
                self.ou_noise.reset()
                self.n_ou_bursts += 1
        self._prev_arch = arch
        self.logger.record("rollout/ou_bursts", self.n_ou_bursts)

    # -- learning --------------------------------------------------------------
    def _update_learning_rate(
        self, optimizers: list[torch.optim.Optimizer] | torch.optim.Optimizer
    ) -> None:
        """Separate actor/critic learning rates (thesis: 1e-4 / 1e-3); SB3 uses one."""
        critic_lr = self.lr_schedule(self._current_progress_remaining)
        self.logger.record("train/learning_rate", critic_lr)
        self.logger.record("train/actor_learning_rate", self.actor_learning_rate)
        update_learning_rate(self.actor.optimizer, self.actor_learning_rate)
        update_learning_rate(self.critic.optimizer, critic_lr)

    def _setup_learn(
        self,
        total_timesteps: int,
        callback: Any = None,
        reset_num_timesteps: bool = True,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        if reset_num_timesteps:
            self._reset_schedule_state()
            self.explore_steps, self.exploit_steps = phase_steps(total_timesteps, *self._phase_args)
            self.learning_starts = self.explore_steps
        return super()._setup_learn(total_timesteps, callback, reset_num_timesteps, *args, **kwargs)

    def learn(
        self,
        total_timesteps: int,
        callback: Any = None,
        log_interval: int = 1,
        tb_log_name: str = "DDAS",
        reset_num_timesteps: bool = True,
        progress_bar: bool = False,
    ) -> DDAS:
        """Run ``total_timesteps`` environment steps (queries). See SB3 ``learn``."""
        return super().learn(
            total_timesteps=total_timesteps,
            callback=callback,
            log_interval=log_interval,
            tb_log_name=tb_log_name,
            reset_num_timesteps=reset_num_timesteps,
            progress_bar=progress_bar,
        )

    def _excluded_save_params(self) -> list[str]:
        return [*super()._excluded_save_params(), "_last_action"]
