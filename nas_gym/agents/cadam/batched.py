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

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from itertools import islice
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3.common.utils import ConstantSchedule, update_learning_rate
from torch import nn

from nas_gym.agents.cadam.cadam import (
    CADAM,
    actor_critics,
    actor_loss,
    check_loss,
    epsilon_greedy_action,
    frozen,
    sample_batches,
    update_cycles,
)
from nas_gym.agents.common.heap import TRIM_EVERY_STEPS, release_free_heap
from nas_gym.agents.common.rng import RNGStates, check_total_timesteps, private_rng
from nas_gym.agents.common.threads import check_threads, torch_threads


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
        # the same Parameter objects as a plain tuple: indexing a ParameterList costs a
        # Python call per layer per forward, about 2% of a batched CADAM run
        self._layers = tuple(zip(self.weights, self.biases, strict=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(S, batch, in) -> (S, batch, out)``."""
        last = len(self._layers) - 1
        for i, (w, b) in enumerate(self._layers):
            x = torch.baddbmm(b, x, w)
            if i < last:
                x = torch.relu(x)
        return torch.sigmoid(x) if self.sigmoid else x

    def copy_to(self, mlps: Sequence[nn.Module], rows: Sequence[int] | None = None) -> None:
        """Write stacked row ``rows[i]`` (default: i) back into ``mlps[i]``."""
        rows = range(len(mlps)) if rows is None else rows
        for row, mlp in zip(rows, mlps, strict=True):
            linears = [m for m in mlp.modules() if isinstance(m, nn.Linear)]
            with torch.no_grad():
                for lin, w, b in zip(linears, self.weights, self.biases, strict=True):
                    lin.weight.copy_(w[row].T)
                    lin.bias.copy_(b[row, 0])


class BatchedCADAM:
    """S independent CADAM searches in lockstep, one per (environment, seed).

    Every seed is the :class:`CADAM` that ``CADAM("MlpPolicy", env, seed=seed,
    **kwargs)`` builds (or one of the agents given to :meth:`from_agents`): its
    initial weights, random streams, replay buffer and environment. Only the
    networks are shared storage: stacked over seeds and trained by one optimizer
    each (actor, critics), with the agents' optimizer class and options. After
    :meth:`learn`, ``agents[s]`` holds seed s's trained weights (its optimizer state
    is not written back).

    **Threads.** One CADAM is too small for a second torch thread (see
    :mod:`nas_gym.agents.common.threads`), but ten stacked seeds are not: each
    batched matmul and the fused Adam step split over seeds. ``batch_threads``
    (default: the agents' ``torch_threads``, 1) is torch's intra-op thread count
    inside :meth:`learn`; the caller's count comes back afterwards. Give it the cores
    that are free; on a machine shared with other jobs, 1 (measured in
    ``benchmarks/cadam_batched.py --threads``). Threads change the order of
    floating-point sums, so results agree with one thread up to reassociation.

    **Device.** The stacks live on the agents' device (``device="cuda"`` among the
    CADAM arguments): one seed's networks are too small for a GPU, a stack of many
    seeds may not be. The environments and replay buffers stay on the CPU; each step
    moves the observations and the step's replay batches to the device (one copy per
    array for all seeds) and the actions back. Not yet run on a GPU: none was
    available to issue 12.

    Args:
        envs: one environment per seed (e.g. ``gym.make("NASBench201-v0", ...)``).
        seeds: one seed per environment.
        batch_threads: torch intra-op threads while the batch learns (None: the
            agents' ``torch_threads``).
        **kwargs: CADAM constructor arguments, the same for every seed.
    """

    def __init__(
        self,
        envs: Sequence[gym.Env],
        seeds: Sequence[int],
        batch_threads: int | None = None,
        **kwargs: Any,
    ):
        if len(envs) != len(seeds) or not seeds:
            raise ValueError(
                f"need one environment per seed, got {len(envs)} environments and {len(seeds)} seeds"
            )
        check_threads(batch_threads, "batch_threads")
        self._stack(
            [CADAM("MlpPolicy", env, seed=s, **kwargs) for env, s in zip(envs, seeds, strict=True)]
        )
        self.batch_threads = batch_threads

    @classmethod
    def from_agents(cls, agents: Sequence[CADAM], batch_threads: int | None = None) -> BatchedCADAM:
        """Batch already built agents (e.g. from ``make_agent``); they must share a configuration.

        Raises:
            ValueError: an agent is not a plain :class:`CADAM`, or its settings or
                network shapes differ from the first agent's (the message names them).
        """
        if not agents:
            raise ValueError("need at least one agent")
        for agent in agents:
            problem = batch_mismatch(agents[0], agent)
            if problem:
                raise ValueError(f"cannot batch these agents: {problem}")
        check_threads(batch_threads, "batch_threads")
        self = cls.__new__(cls)
        self._stack(list(agents))
        self.batch_threads = batch_threads
        return self

    def _stack(self, agents: list[CADAM]) -> None:
        self.agents = agents
        first = agents[0]
        policies = [agent.policy for agent in agents]
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
        #: where the stacked networks live: the agents' device (their ``device`` argument)
        self.device = first.device
        self.n_updates = 0
        #: indices (into ``agents``) of the seeds still searching, i.e. rows of the stacks
        self.active = list(range(len(agents)))
        #: every action each seed sent to its (vectorized) environment, in order: what
        #: :meth:`state_dict` needs to rebuild the environments and replay buffers on resume
        self.actions: list[list[np.ndarray]] = [[] for _ in agents]
        #: lockstep steps taken so far
        self.t = 0
        #: each seed's history so far (what :meth:`learn` returns)
        self.histories: list[dict[str, list[Any]]] = [{} for _ in agents]

    def last_action(self, s: int) -> np.ndarray:
        """The action seed ``s`` last sent (its replaying twins send it next)."""
        return self.actions[s][-1]

    def q_values(self, actions: torch.Tensor, n: int | None = None) -> torch.Tensor:
        """``(S, batch, n)`` quantile estimates by the first ``n`` critics (all)."""
        # islice, not self.critics[:n]: slicing a ModuleList builds a new module (about 12 us)
        return torch.cat([critic(actions) for critic in islice(self.critics, n)], dim=-1)

    def learn(
        self,
        total_timesteps: int | Sequence[int],
        on_step: Callable[[int, list[int]], None] | None = None,
        on_finish: Callable[[int], None] | None = None,
        after_step: Callable[[int], None] | None = None,
        resume: dict[str, Any] | None = None,
    ) -> list[dict[str, list[Any]]]:
        """Run each seed's search (its first episode) for at most its ``total_timesteps`` steps.

        A seed stops at the end of its first episode or after its own step total,
        whichever comes first, exactly where ``CADAM.learn`` alone would have made its
        last query: with ``budget_unit="unique"`` or different budgets, seeds end at
        different steps. A finished seed's rows leave the stacks (its weights are
        written back first), so the others run at the cost of fewer seeds. A history
        maps each scalar ``info`` key of the environment (for NASBench201-v0:
        ``arch_index``, ``valid_acc``, ``best_valid_acc``, ...) and ``"reward"`` to its
        value at every step. ``on_step(t, seeds)`` is called after step t with the
        indices of the seeds that made a query at that step; ``on_finish(s)`` when seed
        s has made its last query (its weights are back in ``agents[s]``);
        ``after_step(t)`` once step t is over and finished seeds have left, the point
        where :meth:`state_dict` may be taken.

        ``resume``: a :meth:`state_dict` of an interrupted batch whose unfinished seeds
        are this batch's agents, in order (built as they were, same step totals). Each
        environment and replay buffer is rebuilt by sending it the seed's recorded
        actions again; the networks, optimizer moments, random streams and counters
        are loaded; the search then goes on exactly as if it had not stopped.

        Raises:
            ValueError: a step total that is not a whole number >= 1, different step
                totals with a learning-rate schedule (the
                schedule would then differ between seeds), or a ``resume`` state that
                does not belong to these agents (the message says what differs).
        """
        agents = self.agents
        if isinstance(total_timesteps, Sequence | np.ndarray) and not isinstance(
            total_timesteps, str
        ):
            totals = [check_total_timesteps(t) for t in total_timesteps]
        else:
            totals = [check_total_timesteps(total_timesteps)] * len(agents)
        if len(totals) != len(agents):
            raise ValueError(f"need one step total per seed, got {len(totals)} for {len(agents)}")
        if len(set(totals)) > 1 and not constant_schedules(agents[0]):
            raise ValueError(
                "seeds with different step totals need constant learning rates; "
                "group seeds by budget for a learning-rate schedule"
            )
        threads = self.batch_threads if self.batch_threads is not None else agents[0].torch_threads
        if resume is not None:
            check_state(resume, agents, totals)
        with torch_threads(threads), batch_thread_count(agents):
            return self._learn(totals, on_step, on_finish, after_step, resume)

    def _learn(
        self,
        totals: list[int],
        on_step: Callable[[int, list[int]], None] | None,
        on_finish: Callable[[int], None] | None,
        after_step: Callable[[int], None] | None = None,
        resume: dict[str, Any] | None = None,
    ) -> list[dict[str, list[Any]]]:
        agents = self.agents
        for agent, total in zip(agents, totals, strict=True):
            with private_rng(agent):
                agent._setup_learn(total, callback=None, progress_bar=False)
        histories: list[dict[str, list[Any]]] = [{} for _ in agents]
        self.histories = histories
        if resume is not None:
            self._load_state(resume, histories)
        t = self.t
        while self.active:
            batches, ended = self._collect_step(histories)
            for s in self.active:
                agents[s]._update_current_progress_remaining(agents[s].num_timesteps, totals[s])
            self._train(batches)
            if on_step is not None:
                on_step(t, list(self.active))
            t += 1
            done = [s for s in self.active if ended[s] or agents[s].num_timesteps >= totals[s]]
            if done:
                self._drop(done)
                for s in done if on_finish is not None else ():
                    on_finish(s)
            self.t = t
            if t % TRIM_EVERY_STEPS == 0:  # freed gradient buffers pile up (common/heap.py)
                release_free_heap()
            if after_step is not None and self.active:
                after_step(t - 1)
        return histories

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume the unfinished seeds, between two steps
        (``after_step``): tensors, numbers and strings only, for
        ``torch.save`` and ``torch.load(weights_only=True)``.

        The environments and replay buffers are not saved: each seed's actions are, and
        ``learn(resume=...)`` sends them again (a NAS-Bench-201 step is a table lookup),
        then checks that every reward comes out as recorded.
        """
        seeds = []
        for s in self.active:
            agent, rng = self.agents[s], self.agents[s]._rng_states
            name, keys, pos, has_gauss, cached = rng.numpy
            seeds.append(
                {
                    "seed": agent.seed,
                    "num_timesteps": agent.num_timesteps,
                    "actions": torch.from_numpy(np.stack(self.actions[s])),
                    "rewards": torch.tensor(self.histories[s]["reward"], dtype=torch.float64),
                    "python_rng": [rng.python[0], list(rng.python[1]), rng.python[2]],
                    "numpy_rng": [
                        name,
                        torch.from_numpy(keys.astype(np.int64)),
                        pos,
                        has_gauss,
                        cached,
                    ],
                    "torch_rng": rng.torch.clone(),
                }
            )
        return {
            "format": STATE_FORMAT,
            "settings": settings_text(self.agents[0]),
            "t": self.t,
            "n_updates": self.n_updates,
            "seeds": seeds,
            "actor": self.actor.state_dict(),
            "critics": self.critics.state_dict(),
            "actor_optimizer": self.actor_optimizer.state_dict(),
            "critic_optimizer": self.critic_optimizer.state_dict(),
        }

    def _load_state(self, state: dict[str, Any], histories: list[dict[str, list[Any]]]) -> None:
        """Replay each seed's actions into its environment and buffer, then load the rest."""
        for s, (agent, saved) in enumerate(zip(self.agents, state["seeds"], strict=True)):
            with private_rng(agent):
                for action in saved["actions"].numpy():
                    self._send(s, action, histories)
            replayed = torch.tensor(histories[s].get("reward", []), dtype=torch.float64)
            if not torch.equal(replayed, saved["rewards"]):
                raise ValueError(
                    f"seed {agent.seed}: its environment gave other rewards when its actions "
                    "were sent again, so the saved state cannot be resumed (a non-deterministic "
                    "environment?); start the batch again"
                )
            agent._rng_states = RNGStates(
                (saved["python_rng"][0], tuple(saved["python_rng"][1]), saved["python_rng"][2]),
                (
                    saved["numpy_rng"][0],
                    saved["numpy_rng"][1].numpy().astype(np.uint32),
                    *saved["numpy_rng"][2:],
                ),
                saved["torch_rng"],
            )
            agent._n_updates = state["n_updates"]
        self.actor.load_state_dict(state["actor"])
        self.critics.load_state_dict(state["critics"])
        self.actor_optimizer.load_state_dict(state["actor_optimizer"])
        self.critic_optimizer.load_state_dict(state["critic_optimizer"])
        self.n_updates, self.t = state["n_updates"], state["t"]

    def _collect_step(
        self, histories: list[dict[str, list[Any]]]
    ) -> tuple[list[tuple[torch.Tensor, ...]], dict[int, bool]]:
        """One query per active seed, then its replay batches for this step's update cycles.

        The actor runs for all seeds at once; every random draw (exploration, noise,
        replay rows) comes from the seed's own streams, in ``CADAM.learn``'s order.
        Returns the batches (one list per active seed) and which seeds' episodes ended.
        """
        agents = [self.agents[s] for s in self.active]
        obs = np.stack(
            [np.asarray(agent._last_obs, dtype=np.float32).reshape(-1) for agent in agents]
        )
        with torch.no_grad():
            mu = self.actor(torch.from_numpy(obs).to(self.device)[:, None]).cpu().numpy()
        batches, ended = [], {}
        for row, (s, agent) in enumerate(zip(self.active, agents, strict=True)):
            seed_mu = mu[row].reshape(1, *agent.action_space.shape)
            with private_rng(agent):
                action = epsilon_greedy_action(agent.epsilon(), lambda m=seed_mu: m, agent.xi)
                ended[s] = self._send(s, action, histories)
                cycles = update_cycles(
                    agent.replay_buffer.size(), agent.batch_size, agent.max_cycles
                )
                if cycles:  # exact in lockstep: every active seed's buffer has the same size
                    batches.append(sample_batches(agent.replay_buffer, cycles, agent.batch_size))
        return batches, ended

    def _send(self, s: int, action: np.ndarray, histories: list[dict[str, list[Any]]]) -> bool:
        """Step seed ``s``'s environment with ``action`` and store the transition, as
        ``CADAM.learn`` does (call it inside the seed's private streams); a search step
        and a resume's replay both go through here. Returns whether the episode ended."""
        agent = self.agents[s]
        new_obs, rewards, dones, infos = agent.env.step(action)
        self.actions[s].append(action)
        agent.num_timesteps += 1
        agent._store_transition(agent.replay_buffer, action, new_obs, rewards, dones, infos)
        record(histories[s], infos[0], float(rewards[0]))
        return bool(dones[0])

    def _train(self, batches: list[tuple[torch.Tensor, ...]]) -> None:
        """CADAM's ``train`` on the stacked networks: ``batches[seed] = (s, a, r)``, each
        ``(cycles, batch, dim)`` (:func:`sample_batches`)."""
        if not batches:
            return
        first = self.agents[self.active[0]]
        progress = first._current_progress_remaining
        update_learning_rate(self.critic_optimizer, first.lr_schedule(progress))
        update_learning_rate(self.actor_optimizer, first.actor_lr_schedule(progress))
        # (cycles, seeds, batch, dim): cycle c trains every seed on its own batch c
        stacked = (torch.stack(part, dim=1).to(self.device) for part in zip(*batches, strict=True))
        for obs, actions, rewards in zip(*stacked, strict=True):
            critic_loss = check_loss(self.q_values(actions), rewards, first.quantile)
            self.critic_optimizer.zero_grad()
            critic_loss.backward()
            self.critic_optimizer.step()

            self.n_updates += 1
            if self.n_updates % first.policy_delay == 0:
                with frozen(self.critics):
                    q = self.q_values(self.actor(obs), actor_critics(first.actor_q))
                    loss = actor_loss(q, first.actor_q)
                self.actor_optimizer.zero_grad()
                loss.backward()
                self.actor_optimizer.step()
        for s in self.active:
            self.agents[s]._n_updates = self.n_updates

    def _drop(self, seeds: list[int]) -> None:
        """Write the finished seeds' weights back and remove their rows from the stacks."""
        rows = [self.active.index(s) for s in seeds]
        self.actor.copy_to([self.agents[s].policy.actor for s in seeds], rows)
        for k, critic in enumerate(self.critics):
            critic.copy_to([self.agents[s].policy.critics[k] for s in seeds], rows)
        keep = [row for row in range(len(self.active)) if row not in rows]
        self.active = [self.active[row] for row in keep]
        if not keep:
            return
        index = torch.tensor(keep, device=self.device)
        for module, optimizer in (
            (self.actor, self.actor_optimizer),
            (self.critics, self.critic_optimizer),
        ):
            for param in module.parameters():
                param.data = param.data[index]
                param.grad = None
                state = optimizer.state.get(param, {})
                for name, value in state.items():
                    if torch.is_tensor(value) and value.dim() > 0:
                        state[name] = value[index]


#: The ``format`` of :meth:`BatchedCADAM.state_dict`.
STATE_FORMAT = "nas_gym BatchedCADAM state 1"


def check_state(state: Any, agents: Sequence[CADAM], totals: Sequence[int]) -> None:
    """Refuse, by name, a saved batch that is not these agents' unfinished search."""
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
        raise ValueError(f"not a BatchedCADAM state (expected format {STATE_FORMAT!r})")
    ours = settings_text(agents[0])
    for name, value in state["settings"].items():
        if ours.get(name) != value:
            raise ValueError(
                f"the saved batch ran with {name} {value}, these agents have {ours.get(name)}"
            )
    seeds = [saved["seed"] for saved in state["seeds"]]
    if seeds != [agent.seed for agent in agents]:
        raise ValueError(
            f"the saved batch's unfinished seeds are {seeds}; this batch has "
            f"{[agent.seed for agent in agents]} (build it with those seeds, in that order)"
        )
    for saved, total in zip(state["seeds"], totals, strict=True):
        if saved["num_timesteps"] != state["t"] or saved["num_timesteps"] >= total:
            raise ValueError(
                f"seed {saved['seed']}: the saved batch took {state['t']} steps and this "
                f"one may take {total}: nothing left to resume"
            )


@contextmanager
def batch_thread_count(agents: Sequence[CADAM]) -> Iterator[None]:
    """Let each seed's private scope keep the batch's thread count instead of its own.

    ``private_rng(agent)`` also sets torch's threads to ``agent.torch_threads``; inside
    a batch that would flip the count twice per seed per step. The agents' values come
    back afterwards.
    """
    saved = [agent.torch_threads for agent in agents]
    for agent in agents:
        agent.torch_threads = None
    try:
        yield
    finally:
        for agent, n in zip(agents, saved, strict=True):
            agent.torch_threads = n


#: What seeds in one lockstep batch must share (with the policy's :data:`POLICY_SETTINGS`
#: and both learning-rate schedules).
SETTINGS = (
    "quantile", "batch_size", "xi", "max_cycles", "exploration", "epsilon_start",
    "epsilon_end", "epsilon_decay_steps", "warmup_steps", "buffer_size", "policy_delay",
    "actor_q", "observation_space", "action_space", "device",
)  # fmt: skip
POLICY_SETTINGS = ("net_arch", "n_critics", "optimizer_class", "optimizer_kwargs")


def settings_text(agent: CADAM) -> dict[str, str]:
    """The batch-defining settings of ``agent`` as text (kept in a saved state and compared
    on resume): every :data:`SETTINGS` value, the policy's, and the learning rates."""
    text = {name: repr(getattr(agent, name)) for name in SETTINGS}
    for name in POLICY_SETTINGS:
        value = getattr(agent.policy, name)
        text[f"policy {name}"] = value.__qualname__ if isinstance(value, type) else repr(value)
    for name in ("lr_schedule", "actor_lr_schedule"):
        value = schedule_value(getattr(agent, name))
        text[name] = (
            getattr(value, "__qualname__", type(value).__qualname__)
            if callable(value)
            else repr(value)
        )
    return text


def batch_mismatch(first: Any, other: Any) -> str | None:
    """Why ``other`` cannot run in lockstep with ``first`` (None: it can).

    Lockstep needs plain :class:`CADAM` agents (a subclass may change ``learn``) with
    the same update rule, schedule and network shapes; seeds, environments and budgets
    may differ.
    """
    for agent in (first, other):
        if type(agent) is not CADAM:
            return f"{type(agent).__qualname__} is not CADAM (no batched form)"
    for name in SETTINGS:
        if getattr(first, name) != getattr(other, name):
            return f"{name} differs ({getattr(first, name)!r} vs {getattr(other, name)!r})"
    a, b = first.policy, other.policy
    for name in POLICY_SETTINGS:
        if getattr(a, name) != getattr(b, name):
            return f"policy {name} differs ({getattr(a, name)!r} vs {getattr(b, name)!r})"
    for name in ("lr_schedule", "actor_lr_schedule"):
        if schedule_value(getattr(first, name)) != schedule_value(getattr(other, name)):
            return f"{name} differs"
    return None


def schedule_value(schedule: Any) -> Any:
    """A comparable form of an SB3 learning-rate schedule: the constant, else the object."""
    inner = getattr(schedule, "value_schedule", schedule)
    return inner.val if isinstance(inner, ConstantSchedule) else inner


def constant_schedules(agent: CADAM) -> bool:
    """Whether both learning rates are constants (then a step total changes no update)."""
    return all(
        not callable(schedule_value(s)) for s in (agent.lr_schedule, agent.actor_lr_schedule)
    )


def record(history: dict[str, list[Any]], info: dict[str, Any], reward: float) -> None:
    """Append the step's reward and scalar info values to a seed's history."""
    history.setdefault("reward", []).append(reward)
    for key, value in info.items():
        if np.isscalar(value):
            history.setdefault(key, []).append(value)
