"""Many seeds of CADAM in one process: networks stacked over seeds, run in lockstep.

A study is hundreds of independent runs of small networks, and on a CPU such runs
are dominated by per-call overhead, not arithmetic. :class:`BatchedCADAM` runs S
seeds together: every network's weights are stacked over seeds, ``(S, in, out)``,
so one batched matmul (``torch.baddbmm``) serves all seeds, and one optimizer steps
the stacked parameters. Adam (and weight decay) act elementwise, and the losses are
summed over seeds, so every seed gets exactly its own update.

This is exact for CADAM's schedule: the number of update cycles per step,
``min(floor(|R| / |B_R|), C_max)``, depends only on the buffer size, which is the
same for every seed at a given step. Each seed keeps its own :class:`CADAM`
(initial weights, private random streams, replay buffer, environment), so a seed
gives the same queries alone or in a batch, up to floating-point reassociation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3.common.utils import update_learning_rate
from torch import nn

from nas_gym.agents.cadam.cadam import (
    CADAM,
    actor_loss,
    check_loss,
    epsilon_greedy_action,
    sample_batches,
    update_cycles,
)
from nas_gym.agents.common.rng import private_rng


class StackedMLP(nn.Module):
    """S MLPs of one architecture (Linear/ReLU, optional final Sigmoid), weights stacked over seeds.

    Args:
        mlps: the per-seed ``nn.Sequential`` networks; their weights are copied.
    """

    def __init__(self, mlps: Sequence[nn.Module]):
        super().__init__()
        layers = [[m for m in mlp.modules() if isinstance(m, nn.Linear)] for mlp in mlps]
        self.weights = nn.ParameterList(
            nn.Parameter(torch.stack([seed[i].weight.detach().T for seed in layers]).contiguous())
            for i in range(len(layers[0]))
        )
        self.biases = nn.ParameterList(
            nn.Parameter(torch.stack([seed[i].bias.detach()[None] for seed in layers]))
            for i in range(len(layers[0]))
        )
        self.sigmoid = any(isinstance(m, nn.Sigmoid) for m in mlps[0].modules())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(S, batch, in) -> (S, batch, out)``."""
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            x = torch.baddbmm(b, x, w)
            if i < last:
                x = torch.relu(x)
        return torch.sigmoid(x) if self.sigmoid else x

    def copy_to(self, mlps: Sequence[nn.Module]) -> None:
        """Write seed s's weights back into ``mlps[s]``."""
        for s, mlp in enumerate(mlps):
            linears = [m for m in mlp.modules() if isinstance(m, nn.Linear)]
            with torch.no_grad():
                for lin, w, b in zip(linears, self.weights, self.biases, strict=True):
                    lin.weight.copy_(w[s].T)
                    lin.bias.copy_(b[s, 0])


class BatchedCADAM:
    """S independent CADAM searches in lockstep, one per (environment, seed).

    Every seed is the :class:`CADAM` that ``CADAM("MlpPolicy", env, seed=seed,
    **kwargs)`` builds: its initial weights, random streams, replay buffer and
    environment. Only the networks are shared storage: stacked over seeds and
    trained by one optimizer each (actor, critics), with the agents' optimizer
    class and options. After :meth:`learn`, ``agents[s]`` holds seed s's trained
    weights (its optimizer state is not written back).

    Args:
        envs: one environment per seed (e.g. ``gym.make("NASBench201-v0", ...)``).
        seeds: one seed per environment.
        **kwargs: CADAM constructor arguments, the same for every seed.
    """

    def __init__(self, envs: Sequence[gym.Env], seeds: Sequence[int], **kwargs: Any):
        if len(envs) != len(seeds) or not seeds:
            raise ValueError(
                f"need one environment per seed, got {len(envs)} environments and {len(seeds)} seeds"
            )
        self.agents = [
            CADAM("MlpPolicy", env, seed=s, **kwargs) for env, s in zip(envs, seeds, strict=True)
        ]
        first = self.agents[0]
        policies = [agent.policy for agent in self.agents]
        self.actor = StackedMLP([p.actor for p in policies])
        self.critics = nn.ModuleList(
            StackedMLP([p.critics[k] for p in policies]) for k in range(first.policy.n_critics)
        )
        cls, opt_kwargs = first.policy.optimizer_class, first.policy.optimizer_kwargs
        self.actor_optimizer = cls(
            self.actor.parameters(), lr=first.actor_lr_schedule(1), **opt_kwargs
        )
        self.critic_optimizer = cls(
            self.critics.parameters(), lr=first.lr_schedule(1), **opt_kwargs
        )
        self.n_updates = 0

    def q_values(self, actions: torch.Tensor) -> torch.Tensor:
        """``(S, batch, n_critics)`` quantile estimates."""
        return torch.cat([critic(actions) for critic in self.critics], dim=-1)

    def learn(
        self, total_timesteps: int, on_step: Callable[[int], None] | None = None
    ) -> list[dict[str, list[Any]]]:
        """Run each seed's search (one episode) for at most ``total_timesteps`` steps.

        Seeds stay in lockstep until every seed's episode has ended (with
        ``budget_unit="unique"`` they end at different steps); a seed's history stops
        at the end of its episode. A history maps each scalar ``info`` key of the environment (for
        NASBench201-v0: ``arch_index``, ``valid_acc``, ``best_valid_acc``, ...) and
        ``"reward"`` to its value at every step. ``on_step(t)`` is called after step t.
        """
        agents = self.agents
        for agent in agents:
            with private_rng(agent):
                agent._setup_learn(total_timesteps, callback=None, progress_bar=False)
        histories: list[dict[str, list[Any]]] = [{} for _ in agents]
        self._searching = [True] * len(agents)
        for t in range(total_timesteps):
            if not any(self._searching):
                break
            batches = self._collect_step(histories)
            for agent in agents:
                agent._update_current_progress_remaining(agent.num_timesteps, total_timesteps)
            self._train(batches)
            if on_step is not None:
                on_step(t)
        self.actor.copy_to([agent.policy.actor for agent in agents])
        for k, critic in enumerate(self.critics):
            critic.copy_to([agent.policy.critics[k] for agent in agents])
        return histories

    def _collect_step(
        self, histories: list[dict[str, list[Any]]]
    ) -> list[tuple[torch.Tensor, ...]]:
        """One query per seed, then each seed's replay batches for this step's update cycles.

        The actor runs for all seeds at once; every random draw (exploration, noise,
        replay rows) comes from the seed's own streams, in ``CADAM.learn``'s order.
        """
        obs = np.stack(
            [np.asarray(agent._last_obs, dtype=np.float32).reshape(-1) for agent in self.agents]
        )
        with torch.no_grad():
            mu = self.actor(torch.from_numpy(obs)[:, None]).numpy()
        batches = []
        for s, agent in enumerate(self.agents):
            seed_mu = mu[s].reshape(1, *agent.action_space.shape)
            with private_rng(agent):
                action = epsilon_greedy_action(agent.epsilon(), lambda m=seed_mu: m, agent.xi)
                new_obs, rewards, dones, infos = agent.env.step(action)
                agent.num_timesteps += 1
                agent._store_transition(agent.replay_buffer, action, new_obs, rewards, dones, infos)
                cycles = update_cycles(
                    agent.replay_buffer.size(), agent.batch_size, agent.max_cycles
                )
                if cycles:  # exact in lockstep: every seed's buffer has the same size
                    batches.append(sample_batches(agent.replay_buffer, cycles, agent.batch_size))
            if self._searching[s]:
                record(histories[s], infos[0], float(rewards[0]))
                self._searching[s] = not dones[0]
        return batches

    def _train(self, batches: list[list[tuple[torch.Tensor, ...]]]) -> None:
        """CADAM's ``train`` on the stacked networks: ``batches[seed][cycle] = (s, a, r)``."""
        if not batches:
            return
        first = self.agents[0]
        progress = first._current_progress_remaining
        update_learning_rate(self.critic_optimizer, first.lr_schedule(progress))
        update_learning_rate(self.actor_optimizer, first.actor_lr_schedule(progress))
        for per_seed in zip(*batches, strict=True):
            obs, actions, rewards = (torch.stack(part) for part in zip(*per_seed, strict=True))
            critic_loss = check_loss(self.q_values(actions), rewards, first.quantile)
            self.critic_optimizer.zero_grad()
            critic_loss.backward()
            self.critic_optimizer.step()

            self.n_updates += 1
            if self.n_updates % first.policy_delay == 0:
                loss = actor_loss(self.q_values(self.actor(obs)), first.actor_q)
                self.actor_optimizer.zero_grad()
                loss.backward()
                self.actor_optimizer.step()
        for agent in self.agents:
            agent._n_updates = self.n_updates


def record(history: dict[str, list[Any]], info: dict[str, Any], reward: float) -> None:
    """Append the step's reward and scalar info values to a seed's history."""
    history.setdefault("reward", []).append(reward)
    for key, value in info.items():
        if np.isscalar(value):
            history.setdefault(key, []).append(value)
