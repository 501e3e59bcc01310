"""CADAM (Mills 2020, Ch. 4) on Stable-Baselines3's off-policy machinery."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.noise import ActionNoise
from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.type_aliases import GymEnv, Schedule
from stable_baselines3.common.utils import FloatSchedule, update_learning_rate

from nas_gym.agents.cadam.policies import CADAMPolicy
from nas_gym.agents.common.rng import LocalRNGMixin

ACTOR_Q: tuple[str, ...] = ("q1", "min")
"""What the actor ascends with twin critics: TD3's Q1, or the pessimistic min(Q1, Q2)."""


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
    Shapes ``(..., batch, k)``: the mean runs over the batch (dim -2) and the result
    is summed over everything else (twin critics, stacked seeds). Each of those has
    its own parameters, so the sum trains each on its own mean check loss.
    """
    u = r - q
    return (u * (quantile - (u < 0).to(u.dtype))).mean(dim=-2).sum()


def actor_critics(actor_q: str) -> int | None:
    """How many critics (the first n; None: all) the actor's objective reads.

    ``"q1"`` reads Q1 alone: evaluating Q2 as well would only send zero gradients back
    through it, so the actor step skips it (the same update, bit for bit, for less work).
    """
    return 1 if actor_q == "q1" else None


def actor_loss(q: torch.Tensor, actor_q: str = "q1") -> torch.Tensor:
    """``-mean Q(mu(s))`` from ``(..., batch, n_critics)`` critic values of the actor's actions.

    With twin critics the actor ascends ``"q1"`` (TD3 as written, Fujimoto et al. 2018,
    Alg. 1) or ``"min"``, min(Q1, Q2) (a more pessimistic actor). Like
    :func:`check_loss`, the mean runs over the batch and stacked seeds are summed.
    """
    value = q[..., :1] if actor_q == "q1" else q.min(dim=-1, keepdim=True).values
    return -value.mean(dim=-2).sum()


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

    Defaults are the thesis' NAS-Bench-201 settings (Sec. 4.2.1, 4.4.3). The
    registered names hold the other configurations (``nas_gym/agents/zoo.py``):
    ``cadam-darts`` (Sec. 4.2.2: tau 0.95, |B_R| 64, xi 5e-5, C_max 1, W = 3000
    warm-up steps, replay of the last 5k, MLPs 3 x 256), ``cadam-printed`` (actor lr
    1e-8), ``cadam-td3`` and ``cadam-td3-min``.

    **Actor learning rate.** The thesis prints 1e-8 (Sec. 4.4.3). With Adam a step
    moves each weight by about the learning rate, so that actor is frozen: after the
    epsilon decay CADAM re-queries the cells its fixed mu(s) maps to (about 107
    unique cells in 500 queries) and the Table 4.1 means come out 0.25-1.44 points
    low. With 1e-4 all 12 means fell within one published std when re-measured for
    issue 12 (11 of 12 before), so 1e-4 is the default (numbers: ``docs/agents.md``);
    ``cadam-printed`` keeps 1e-8.

    **Two readings of the budget.** Table 4.1 reports CADAM-500 / CADAM-1k:

    * *every query counts* (the default; the caption counts steps): 500 environment
      steps, re-querying a known cell costs a step. Reproduces with actor lr 1e-4.
    * *unique architectures* (re-queries free): run until 500 distinct cells are
      seen. With the printed, frozen actor (1e-8) this took about 8,700 steps and
      also lands within one std on all six 500-query columns, but it is then close
      to random search over 500 distinct cells, and at 1,000 distinct cells only
      three of six columns are within one std (ImageNet16-120 valid 3.3 thesis stds
      below CADAM-1k): its second 500 cells hardly improve on the first, and it
      finds the optimum in at most 1 of 10 runs per split, where the thesis claims
      at least 2 on all six (``docs/cadam_table41.md``). Select it in the environment
      (``budget_unit="unique"``), not here: the agent just runs ``learn(steps)``.

    **CADAM-TD3, two readings** (Fujimoto et al. 2018; ``n_critics=2``,
    ``policy_delay=2``). TD3 takes the minimum of its twin critics only in the
    bootstrapped target; CADAM has no target, so

    * ``actor_q="q1"`` (``cadam-td3``) is TD3 as written: twin critics trained
      independently on the check loss, the delayed actor ascends Q1;
    * ``actor_q="min"`` (``cadam-td3-min``) moves the minimum into the actor's
      objective, ``-mean min(Q1, Q2)(mu(s))``: a more pessimistic actor.

    TD3's target policy smoothing acts on bootstrapped targets, so there is none.

    Args:
        policy: ``"MlpPolicy"`` or a :class:`CADAMPolicy` subclass.
        env: a Gymnasium environment (one search run per episode) or its id.
        actor_learning_rate: actor lr, a float or an SB3 schedule (1e-4; thesis prints 1e-8).
        learning_rate: critic lr, a float or an SB3 schedule (thesis: 1e-4).
        quantile: tau of the check loss, the reward quantile the critic predicts (0.9).
        batch_size: |B_R|, transitions per update cycle (8).
        xi: half-width of the uniform action noise U(-xi, xi) (1e-4).
        max_cycles: C_max, most update cycles per environment step (10).
        exploration: ``"epsilon"`` (epsilon-greedy, NB201) or ``"warmup"`` (W random steps, DARTS).
        epsilon_start: epsilon at step 0 (1.0).
        epsilon_end: epsilon floor (0.05).
        epsilon_decay_steps: step by which the cosine schedule reaches the floor (175).
        warmup_steps: W, random steps before the actor acts, for ``exploration="warmup"``.
        replay_window: keep only the last N transitions (DARTS: 5000); None keeps ``buffer_size``.
        buffer_size: replay capacity when ``replay_window`` is None.
        net_arch: hidden sizes of actor and critic MLPs ((128, 256, 128)).
        adam_betas: Adam betas of both networks ((0.9, 0.99)).
        n_critics: 1 (CADAM) or 2 (CADAM-TD3).
        policy_delay: actor updated every ``policy_delay`` critic updates (1; TD3: 2).
        actor_q: with twin critics, what the actor ascends: ``"q1"`` or ``"min"``.
        policy_kwargs: extra :class:`CADAMPolicy` arguments (``optimizer_class``,
            ``optimizer_kwargs`` such as ``{"weight_decay": 1e-5}``).
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
        actor_learning_rate: float | Schedule = 1e-4,
        learning_rate: float | Schedule = 1e-4,
        quantile: float = 0.9,
        batch_size: int = 8,
        xi: float = 1e-4,
        max_cycles: int = 10,
        exploration: str = "epsilon",
        epsilon_start: float = 1.0,
        epsilon_end: float = 0.05,
        epsilon_decay_steps: int = 175,
        warmup_steps: int = 0,
        replay_window: int | None = None,
        buffer_size: int = 100_000,
        net_arch: Sequence[int] = (128, 256, 128),
        adam_betas: tuple[float, float] = (0.9, 0.99),
        n_critics: int = 1,
        policy_delay: int = 1,
        actor_q: str = "q1",
        policy_kwargs: dict[str, Any] | None = None,
        stats_window_size: int = 100,
        tensorboard_log: str | None = None,
        verbose: int = 0,
        seed: int | None = None,
        device: torch.device | str = "cpu",
        _init_setup_model: bool = True,
    ):
        check_hyperparameters(
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
            n_critics=n_critics,
            policy_delay=policy_delay,
            actor_q=actor_q,
            actor_learning_rate=actor_learning_rate,
            learning_rate=learning_rate,
        )
        self.actor_lr_schedule = FloatSchedule(actor_learning_rate)
        policy_kwargs = dict(policy_kwargs or {})
        policy_kwargs.setdefault("net_arch", tuple(net_arch))
        policy_kwargs.setdefault("n_critics", n_critics)
        policy_kwargs.setdefault("actor_learning_rate", self.actor_lr_schedule(1))
        policy_kwargs["optimizer_kwargs"] = {
            "betas": tuple(adam_betas),
            "fused": True,  # one kernel per step instead of a loop over parameters
            **policy_kwargs.get("optimizer_kwargs", {}),
        }
        super().__init__(
            policy,
            env,  # type: ignore[arg-type]
            learning_rate,
            buffer_size=int(replay_window) if replay_window is not None else buffer_size,
            learning_starts=0,
            batch_size=int(batch_size),
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
        self.quantile = float(quantile)
        self.xi = float(xi)
        self.max_cycles = int(max_cycles)
        self.exploration = exploration
        self.epsilon_start = float(epsilon_start)
        self.epsilon_end = float(epsilon_end)
        self.epsilon_decay_steps = int(epsilon_decay_steps)
        self.warmup_steps = int(warmup_steps)
        self.replay_window = None if replay_window is None else int(replay_window)
        self.policy_delay = int(policy_delay)
        self.actor_q = actor_q
        if _init_setup_model:
            self._setup_model()

    def _get_torch_save_params(self) -> tuple[list[str], list[str]]:
        return ["policy", "policy.actor_optimizer", "policy.critic_optimizer"], []

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
        eps = self.epsilon()
        self.logger.record("rollout/epsilon", eps)

        def mu() -> np.ndarray:
            obs = np.asarray(self._last_obs, dtype=np.float32).reshape(n_envs, -1)
            with torch.no_grad():
                mu = self.policy.actor(torch.as_tensor(obs, device=self.device))
            return mu.cpu().numpy().reshape(n_envs, *self.action_space.shape)

        action = epsilon_greedy_action(eps, mu, self.xi)
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
            action = noisy_action(action, self.xi)
        return action, state

    # -- learning --------------------------------------------------------------
    def train(self, gradient_steps: int, batch_size: int) -> None:
        """C update cycles (Eq. 4.6). Each: one check-loss step of the critic(s), then,
        every ``policy_delay`` cycles, one actor step on ``-mean Q(mu(s))``."""
        cycles = update_cycles(self.replay_buffer.size(), batch_size, self.max_cycles)
        if cycles == 0:
            return
        policy = self.policy
        self._update_learning_rate(policy.critic_optimizer)
        update_learning_rate(
            policy.actor_optimizer, self.actor_lr_schedule(self._current_progress_remaining)
        )
        critic_losses, actor_losses = [], []
        batches = sample_batches(self.replay_buffer, cycles, batch_size, self.device)
        for obs, actions, rewards in zip(*batches, strict=True):
            critic_loss = check_loss(policy.q_values(actions), rewards, self.quantile)
            policy.critic_optimizer.zero_grad()
            critic_loss.backward()
            policy.critic_optimizer.step()
            critic_losses.append(critic_loss.detach())

            self._n_updates += 1
            if self._n_updates % self.policy_delay == 0:
                with frozen(policy.critics):
                    q = policy.q_values(policy.actor(obs), actor_critics(self.actor_q))
                    loss = actor_loss(q, self.actor_q)
                policy.actor_optimizer.zero_grad()
                loss.backward()
                policy.actor_optimizer.step()
                actor_losses.append(loss.detach())

        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")
        self.logger.record("train/cycles", cycles)
        self.logger.record("train/critic_loss", torch.stack(critic_losses).mean().item())
        if actor_losses:
            self.logger.record("train/actor_loss", torch.stack(actor_losses).mean().item())

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


@contextmanager
def frozen(module: torch.nn.Module) -> Iterator[None]:
    """Build the graph without ``module``'s parameters: the actor's loss then skips the
    critics' weight gradients, which its step would throw away (the critic step zeroes them)."""
    params = [p for p in module.parameters() if p.requires_grad]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in params:
            p.requires_grad_(True)


def epsilon_greedy_action(eps: float, mu: Callable[[], np.ndarray], xi: float) -> np.ndarray:
    """With probability ``eps`` a ``U(0, 1)`` action, else ``mu() + U(-xi, xi)`` (Sec. 4.1.3).

    Draws from the global numpy RNG (the agent's private stream inside ``learn``), in
    the same order for a seed run alone or in a batch (:mod:`nas_gym.agents.cadam.batched`).
    """
    action = mu()
    if eps >= 1.0 or np.random.random() < eps:
        return np.random.random(action.shape).astype(np.float32)
    return noisy_action(action, xi)


def noisy_action(mu: np.ndarray, xi: float) -> np.ndarray:
    """``mu + U(-xi, xi)`` (Mills 2020, Sec. 4.1.3)."""
    return (mu + np.random.uniform(-xi, xi, mu.shape)).astype(np.float32)


def sample_batches(
    buffer: Any, cycles: int, batch_size: int, device: torch.device | str = "cpu"
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``cycles`` uniform replay batches ``(s, a, r)``, each ``(cycles, batch_size, dim)``, on ``device``.

    All rows are drawn with one ``torch.randint`` and gathered with one index per
    array, read in place from the SB3 replay arrays (CADAM needs neither next
    states nor dones), then moved to ``device`` at once. Cycle c trains on
    ``s[c], a[c], r[c]``.
    """
    n = buffer.size() * buffer.n_envs
    obs = torch.from_numpy(buffer.observations[: buffer.size()]).reshape(n, -1)
    actions = torch.from_numpy(buffer.actions[: buffer.size()]).reshape(n, -1)
    rewards = torch.from_numpy(buffer.rewards[: buffer.size()]).reshape(n, 1)
    rows = torch.randint(n, (cycles, batch_size))
    return obs[rows].to(device), actions[rows].to(device), rewards[rows].to(device)


def check_hyperparameters(**hp: Any) -> None:
    """Clear errors for bad CADAM hyperparameters, before any network is built."""
    if not 0.0 < float(hp["quantile"]) < 1.0:
        raise ValueError(f"quantile (tau) must be in (0, 1), got {hp['quantile']!r}")
    for name in ("batch_size", "max_cycles", "policy_delay"):
        if int(hp[name]) < 1:
            raise ValueError(f"{name} must be >= 1, got {hp[name]!r}")
    if hp["exploration"] not in ("epsilon", "warmup"):
        raise ValueError(f"unknown exploration {hp['exploration']!r}; allowed: 'epsilon', 'warmup'")
    if float(hp["xi"]) < 0:
        raise ValueError(f"xi must be >= 0, got {hp['xi']!r}")
    if not (0.0 <= float(hp["epsilon_end"]) <= float(hp["epsilon_start"]) <= 1.0):
        raise ValueError(
            "need 0 <= epsilon_end <= epsilon_start <= 1, "
            f"got epsilon_end={hp['epsilon_end']!r}, epsilon_start={hp['epsilon_start']!r}"
        )
    for name in ("warmup_steps", "epsilon_decay_steps"):
        if int(hp[name]) < 0:
            raise ValueError(f"{name} must be >= 0, got {hp[name]!r}")
    if hp["replay_window"] is not None and int(hp["replay_window"]) < int(hp["batch_size"]):
        raise ValueError(
            f"replay_window ({hp['replay_window']}) must hold at least one batch ({hp['batch_size']})"
        )
    if hp["n_critics"] not in (1, 2):
        raise ValueError(f"n_critics must be 1 (CADAM) or 2 (CADAM-TD3), got {hp['n_critics']!r}")
    if hp["actor_q"] not in ACTOR_Q:
        raise ValueError(f"unknown actor_q {hp['actor_q']!r}; allowed: 'q1', 'min'")
    actor_lr, critic_lr = hp["actor_learning_rate"], hp["learning_rate"]
    if not callable(actor_lr) and not float(actor_lr) >= 0:
        raise ValueError(f"actor_learning_rate must be >= 0 (or an SB3 schedule), got {actor_lr!r}")
    if not callable(critic_lr) and not float(critic_lr) > 0:
        raise ValueError(f"learning_rate must be > 0 (or an SB3 schedule), got {critic_lr!r}")
