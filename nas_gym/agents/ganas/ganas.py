"""GA-NAS: generative adversarial NAS (Changiz Rezaei et al., IJCAI 2021) as an SB3-style agent."""

from __future__ import annotations

import operator
from collections.abc import Iterator, Mapping, MutableMapping, Sequence
from typing import Any, ClassVar

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.type_aliases import GymEnv, Schedule
from torch import nn

from nas_gym.agents.common.discrete import random_ops
from nas_gym.agents.common.search import SearchAlgorithm, SearchPolicy
from nas_gym.agents.ganas.models import (
    Generator,
    PairDiscriminator,
    chain_adjacency,
    nb201_adjacency,
)

_COMPARE = {
    "<=": operator.le,
    "<": operator.lt,
    ">=": operator.ge,
    ">": operator.gt,
    "==": operator.eq,
}
MODES = ("budget", "paper")
TOPOLOGIES = ("auto", "nb201", "chain")


def topology_adjacency(topology: str, rows: int, n_ops: int) -> np.ndarray:
    """Adjacency of the op-on-node DAG: NAS-Bench-201's for a (6, 5) action ("auto"), else a chain."""
    if topology not in TOPOLOGIES:
        raise ValueError(f"topology must be one of {TOPOLOGIES}, got {topology!r}")
    if topology == "nb201" or (topology == "auto" and (rows, n_ops) == (6, 5)):
        if rows != 6:
            raise ValueError(f"topology 'nb201' needs 6 rows, the action has {rows}")
        return nb201_adjacency()
    return chain_adjacency(rows)


class CellArchive(MutableMapping):
    """Evaluated cells: ``ops tuple -> (score, admissible)``.

    Not a ``dict`` on purpose: SB3 writes dict attributes as JSON, whose keys cannot
    be tuples; any other object is pickled whole, so ``save``/``load`` keep it.
    """

    def __init__(self) -> None:
        self._cells: dict[tuple[int, ...], tuple[float, bool]] = {}

    def __getitem__(self, cell: tuple[int, ...]) -> tuple[float, bool]:
        return self._cells[cell]

    def __setitem__(self, cell: tuple[int, ...], value: tuple[float, bool]) -> None:
        self._cells[cell] = value

    def __delitem__(self, cell: tuple[int, ...]) -> None:
        del self._cells[cell]

    def __iter__(self) -> Iterator[tuple[int, ...]]:
        return iter(self._cells)

    def __len__(self) -> int:
        return len(self._cells)


class GANASPolicy(SearchPolicy):
    """The incumbent (what ``predict`` returns) plus the generator, discriminator and their optimisers."""

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Box,
        lr_schedule: Schedule,
        use_logits: bool = False,
        alpha_shape: tuple[int, ...] | None = None,
        hidden: int = 64,
        n_layers: int = 3,
        topology: str = "auto",
    ):
        super().__init__(
            observation_space, action_space, lr_schedule, use_logits=False, alpha_shape=alpha_shape
        )
        rows, n_ops = self.incumbent.shape
        self.hidden, self.n_layers, self.topology = hidden, n_layers, topology
        adj = topology_adjacency(topology, rows, n_ops)
        self.generator = Generator(adj, n_ops, hidden, n_layers)
        self.discriminator = PairDiscriminator(adj, n_ops, hidden, n_layers)
        lr = lr_schedule(1)
        self.gen_optimizer = torch.optim.Adam(self.generator.parameters(), lr=lr, foreach=True)
        self.disc_optimizer = torch.optim.Adam(self.discriminator.parameters(), lr=lr, foreach=True)

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data.update(hidden=self.hidden, n_layers=self.n_layers, topology=self.topology)
        return data

    def sample(
        self, n: int, temperature: float = 1.0
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``n`` cells from the generator: ops ``(n, rows)``, log-probs and values ``(n, rows)``."""
        gen = self.generator
        ops = torch.full((n, gen.n_rows), -1, dtype=torch.long)
        logp = torch.zeros(n, gen.n_rows)
        values = torch.zeros(n, gen.n_rows)
        with torch.no_grad():
            for s in range(gen.n_rows):
                logits, v = gen(ops, torch.full((n,), s, dtype=torch.long))
                logits = logits.masked_fill(~self.op_mask[s], -torch.inf)
                probs = torch.softmax(logits / temperature, dim=1)
                ops[:, s] = torch.multinomial(probs, 1)[:, 0]
                logp[:, s] = (
                    torch.log_softmax(logits, dim=1).gather(1, ops[:, s : s + 1]).squeeze(1)
                )
                values[:, s] = v
        return ops, logp, values


class GANAS(SearchAlgorithm):
    """GA-NAS (Algorithms 1 and 2 of Changiz Rezaei et al., IJCAI 2021).

    Iteration t: the truth set T is the top-``k`` cells evaluated so far (only
    feasible ones: ``info["feasible"]`` when present, and ``truth_filters``); then
    ``alternations`` times (the paper's T'): draw ``k`` cells F from the generator G,
    train the pairwise discriminator D on pairs (T, T) -> 1 and (T, F) -> 0, and train
    G by PPO (clipped ratio, GAE, entropy bonus) on the final reward
    R(x) = mean_{t in T} D(t, x) (step rewards are 0: every masked cell is valid).
    Then X_t, ``|X_{t-1}| + increment`` *distinct* cells drawn from G, is queued minus
    the cells already known, so a cell is never queried twice and
    ``n_queries == n_unique_queries``. X_0 is ``initial_archs`` then uniform distinct cells.

    Modes: ``"budget"`` (default; iterate until ``learn(total_timesteps)`` is spent,
    as the bench needs) and ``"paper"`` (stop once X_T is queried, T =
    ``max_iterations``; 50 + 100 + 150 + 200 = 500 generated cells at defaults).
    When G yields no unseen cell even at higher temperature, ``increment`` uniform
    unseen cells are queued and counted in ``n_fallback_queries`` (logged as
    ``ganas/fallback_queries``).

    Args:
        policy: ``"MlpPolicy"`` (kept for the SB3 call shape).
        env: a Gymnasium environment with a 2-D Box ``(rows, ops)`` action space.
        learning_rate: Adam learning rate of G and D (1e-3, ours).
        mode: ``"budget"`` or ``"paper"``.
        max_iterations: T of paper mode (3, inferred from the ~444 queries of Table 4).
        initial_size: |X_0| (50, paper's NB101 setup 1).
        increment: |X_t| - |X_{t-1}| (50, paper).
        k: truth-set size (25, paper).
        alternations: D/G rounds per iteration, the paper's T' (5, ours).
        d_steps: Adam steps of D per round, on ``d_batch`` positive and negative pairs (50, 32; ours).
        ppo_rollouts: PPO updates per round, each on ``ppo_batch`` fresh cells (2 x 64, ours).
        ppo_epochs: gradient epochs per PPO update (4).
        clip_range, gae_lambda, gamma, vf_coef, max_grad_norm: PPO (0.2, 0.95, 1.0, 0.5, 0.5).
        ent_coef: entropy bonus (0.05, ours; lower collapses G, Sec. "Risks" of docs/seed_agents.md).
        hidden, n_layers: 1-GNN width and depth (64, 3; ours).
        topology: op-on-node DAG: ``"auto"`` (NB201 for a (6, 5) action, else a chain).
        truth_filters: extra admission rules on ``info``, e.g. ``{"params_M": ("<=", 0.8)}``.
        initial_archs: op-index sequences queried first (in X_0).
        **kwargs: see :class:`nas_gym.agents.common.search.SearchAlgorithm`.
    """

    policy_aliases: ClassVar[dict[str, type]] = {"MlpPolicy": GANASPolicy}
    policy: GANASPolicy

    def __init__(
        self,
        policy: str | type[GANASPolicy] = "MlpPolicy",
        env: GymEnv | str | None = None,
        learning_rate: float = 1e-3,
        mode: str = "budget",
        max_iterations: int = 3,
        initial_size: int = 50,
        increment: int = 50,
        k: int = 25,
        alternations: int = 5,
        d_steps: int = 50,
        d_batch: int = 32,
        ppo_rollouts: int = 2,
        ppo_batch: int = 64,
        ppo_epochs: int = 4,
        clip_range: float = 0.2,
        gae_lambda: float = 0.95,
        gamma: float = 1.0,
        ent_coef: float = 0.05,
        vf_coef: float = 0.5,
        max_grad_norm: float = 0.5,
        hidden: int = 64,
        n_layers: int = 3,
        topology: str = "auto",
        truth_filters: Mapping[str, tuple[str, float]] | None = None,
        initial_archs: Sequence[Sequence[int]] | None = None,
        **kwargs: Any,
    ):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        for name, value in dict(
            max_iterations=max_iterations, initial_size=initial_size, increment=increment,
            alternations=alternations, d_steps=d_steps, d_batch=d_batch, ppo_rollouts=ppo_rollouts,
            ppo_batch=ppo_batch, ppo_epochs=ppo_epochs, hidden=hidden, n_layers=n_layers,
        ).items():  # fmt: skip
            if int(value) < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        if int(k) < 2:
            raise ValueError(f"k (truth-set size) must be >= 2, got {k!r}")
        if learning_rate <= 0 or not 0 < clip_range < 1 or ent_coef < 0:
            raise ValueError(
                f"need learning_rate > 0, 0 < clip_range < 1, ent_coef >= 0; got "
                f"{learning_rate!r}, {clip_range!r}, {ent_coef!r}"
            )
        self.truth_filters = _check_filters(truth_filters)
        self.mode, self.max_iterations = mode, int(max_iterations)
        self.initial_size, self.increment, self.k = int(initial_size), int(increment), int(k)
        self.alternations, self.d_steps, self.d_batch = (
            int(alternations),
            int(d_steps),
            int(d_batch),
        )
        self.ppo_rollouts, self.ppo_batch, self.ppo_epochs = (
            int(ppo_rollouts), int(ppo_batch), int(ppo_epochs)
        )  # fmt: skip
        self.clip_range, self.gae_lambda, self.gamma = (
            float(clip_range),
            float(gae_lambda),
            float(gamma),
        )
        self.ent_coef, self.vf_coef, self.max_grad_norm = (
            float(ent_coef),
            float(vf_coef),
            float(max_grad_norm),
        )
        self.initial_archs = [tuple(int(o) for o in a) for a in (initial_archs or [])]
        self._net_kwargs = {"hidden": int(hidden), "n_layers": int(n_layers), "topology": topology}
        self._reset_search()
        super().__init__(policy, env, learning_rate=learning_rate, **kwargs)

    def _setup_model(self) -> None:
        self.policy_kwargs = {**self.policy_kwargs, **self._net_kwargs}
        super()._setup_model()
        for arch in self.initial_archs:
            self._check_arch(arch)

    def _check_arch(self, arch: tuple[int, ...]) -> None:
        mask = self.op_mask
        if len(arch) != self.n_rows or not all(
            0 <= o < self.n_ops and mask[r, o] for r, o in enumerate(arch)
        ):
            raise ValueError(
                f"initial_archs entry {arch!r} is not a cell of this env: it needs {self.n_rows} "
                f"op indices in [0, {self.n_ops}) allowed by env.op_mask"
            )

    # search state -------------------------------------------------------------
    def _reset_search(self) -> None:
        self.evaluated = CellArchive()
        self.queue: list[tuple[int, ...]] = []
        self.iteration = 0
        self.last_set_size = 0
        self.n_fallback_queries = 0
        self._fallback_pending: set[tuple[int, ...]] = set()

    def _setup_learn(self, total_timesteps: int, callback: Any = None, reset_num_timesteps: bool = True, *args: Any, **kwargs: Any) -> Any:  # fmt: skip
        if reset_num_timesteps:
            self._reset_search()
        return super()._setup_learn(total_timesteps, callback, reset_num_timesteps, *args, **kwargs)

    def _search_done(self) -> bool:
        return self.mode == "paper" and self.iteration >= self.max_iterations and not self.queue

    def _propose(self) -> np.ndarray:
        if not self.queue:
            if self.iteration == 0 and not self.evaluated:
                self._queue_initial()
            else:
                self._advance()
        if not self.queue:
            raise RuntimeError(
                f"GA-NAS found no unqueried cell after {len(self.evaluated)} evaluated ones: "
                "the search space is (nearly) exhausted; use a smaller total_timesteps"
            )
        return np.asarray(self.queue.pop(0))

    def _observe(
        self, ops: np.ndarray, reward: float, info: Mapping[str, Any] | None = None
    ) -> None:
        cell = tuple(int(o) for o in ops)
        info = info or {}
        feasible = bool(info.get("feasible", True)) and self._passes_filters(info)
        self.evaluated[cell] = (reward, feasible)
        if cell in self._fallback_pending:
            self._fallback_pending.discard(cell)
            self.n_fallback_queries += 1

    def _passes_filters(self, info: Mapping[str, Any]) -> bool:
        for key, (op, bound) in self.truth_filters.items():
            if key not in info:
                raise KeyError(
                    f"truth_filters names {key!r}, which this env's info lacks; info has: "
                    f"{', '.join(sorted(info))}"
                )
            value = info[key]
            if value is None or not _COMPARE[op](float(value), bound):
                return False
        return True

    def truth_set(self) -> list[tuple[int, ...]]:
        """Top-k feasible cells evaluated so far, best first (ties: first evaluated)."""
        ok = [(cell, score) for cell, (score, feasible) in self.evaluated.items() if feasible]
        ok.sort(key=lambda item: -item[1])
        return [cell for cell, _ in ok[: self.k]]

    def _queue_initial(self) -> None:
        seen: set[tuple[int, ...]] = set()
        for arch in self.initial_archs:
            if arch not in seen:
                seen.add(arch)
                self.queue.append(arch)
        self.queue.extend(self._uniform_unseen(self.initial_size - len(self.queue), seen))
        self.last_set_size = max(self.initial_size, len(self.queue))

    def _uniform_unseen(self, n: int, exclude: set[tuple[int, ...]]) -> list[tuple[int, ...]]:
        out: list[tuple[int, ...]] = []
        tries = 0
        while len(out) < n and tries < 100 * max(n, 1):
            tries += 1
            cell = tuple(int(o) for o in random_ops(self.op_mask))
            if cell not in exclude and cell not in self.evaluated:
                exclude.add(cell)
                out.append(cell)
        return out

    # one GA-NAS iteration -------------------------------------------------------
    def _advance(self) -> None:
        self.iteration += 1
        truth = self.truth_set()
        self.logger.record("ganas/iteration", self.iteration)
        self.logger.record("ganas/truth_size", len(truth))
        if len(truth) >= 2:
            t = torch.as_tensor(truth, dtype=torch.long)
            for _ in range(self.alternations):
                self._train_discriminator(t)
                for _ in range(self.ppo_rollouts):
                    self._ppo_update(t)
        size = self.last_set_size + self.increment
        self.last_set_size = size
        for temperature in (1.0, 2.0, 4.0):
            batch = self._distinct_from_generator(size, temperature)
            self.queue = [c for c in batch if c not in self.evaluated]
            if self.queue:
                break
        if not self.queue:
            cells = self._uniform_unseen(self.increment, set())
            self._fallback_pending.update(cells)
            self.queue = cells
        self.logger.record(
            "ganas/fallback_queries", self.n_fallback_queries + len(self._fallback_pending)
        )
        self.logger.record("ganas/queued", len(self.queue))

    def _distinct_from_generator(self, size: int, temperature: float) -> list[tuple[int, ...]]:
        """Up to ``size`` distinct cells from G (order of first appearance)."""
        out: dict[tuple[int, ...], None] = {}
        for _ in range(8):
            ops, _, _ = self.policy.sample(size, temperature)
            for row in ops.tolist():
                out.setdefault(tuple(row), None)
                if len(out) == size:
                    return list(out)
        return list(out)

    def _train_discriminator(self, truth: torch.Tensor) -> None:
        disc, opt = self.policy.discriminator, self.policy.disc_optimizer
        fakes, _, _ = self.policy.sample(self.k)
        cells = torch.cat([truth, fakes])
        n_t = len(truth)
        labels = torch.cat([torch.ones(self.d_batch), torch.zeros(self.d_batch)])
        for _ in range(self.d_steps):
            emb = disc.embed(cells)
            anchor = torch.randint(0, n_t, (2 * self.d_batch,))
            pos = torch.randint(0, n_t, (self.d_batch,))
            neg = n_t + torch.randint(0, len(fakes), (self.d_batch,))
            logits = disc.pair_logits(emb[anchor], emb[torch.cat([pos, neg])])
            loss = nn.functional.binary_cross_entropy_with_logits(logits, labels)
            opt.zero_grad()
            loss.backward()
            opt.step()
        self.logger.record("ganas/d_loss", float(loss.detach()))

    def _ppo_update(self, truth: torch.Tensor) -> None:
        pol, gen = self.policy, self.policy.generator
        ops, old_logp, values = pol.sample(self.ppo_batch)
        final = pol.discriminator.reward(truth, ops)
        adv = gae(final, values, self.gamma, self.gae_lambda)
        returns = adv + values
        adv = (adv - adv.mean()) / (adv.std() + 1e-8)
        for _ in range(self.ppo_epochs):
            logits, v = gen.all_steps(ops)
            logits = logits.masked_fill(~pol.op_mask, -torch.inf)
            log_probs = torch.log_softmax(logits, dim=-1)
            logp = log_probs.gather(2, ops[..., None]).squeeze(-1)
            probs = log_probs.exp()
            entropy = -(probs * log_probs.masked_fill(~pol.op_mask, 0.0)).sum(-1).mean()
            ratio = torch.exp(logp - old_logp)
            clipped = ratio.clamp(1 - self.clip_range, 1 + self.clip_range)
            policy_loss = -torch.min(ratio * adv, clipped * adv).mean()
            value_loss = nn.functional.mse_loss(v, returns)
            loss = policy_loss + self.vf_coef * value_loss - self.ent_coef * entropy
            pol.gen_optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(gen.parameters(), self.max_grad_norm)
            pol.gen_optimizer.step()
        self.logger.record("ganas/g_reward", float(final.mean()))
        self.logger.record("ganas/g_entropy", float(entropy.detach()))

    def _get_torch_save_params(self) -> tuple[list[str], list[str]]:
        return ["policy", "policy.gen_optimizer", "policy.disc_optimizer"], []


def gae(final: torch.Tensor, values: torch.Tensor, gamma: float, lam: float) -> torch.Tensor:
    """GAE advantages ``(B, rows)`` when only the last step is rewarded (``final``) and V_rows = 0."""
    batch, rows = values.shape
    adv = torch.zeros(batch, rows)
    running = torch.zeros(batch)
    for s in reversed(range(rows)):
        nxt = values[:, s + 1] if s + 1 < rows else torch.zeros(batch)
        reward = final if s == rows - 1 else torch.zeros(batch)
        delta = reward + gamma * nxt - values[:, s]
        running = delta + gamma * lam * running
        adv[:, s] = running
    return adv


def _check_filters(filters: Mapping[str, tuple[str, float]] | None) -> dict[str, tuple[str, float]]:
    out: dict[str, tuple[str, float]] = {}
    for key, rule in (filters or {}).items():
        try:
            op, bound = rule
            bound = float(bound)
        except (TypeError, ValueError) as err:
            raise ValueError(
                f"truth_filters[{key!r}] must be (comparison, number), e.g. ('<=', 1.5); got {rule!r}"
            ) from err
        if op not in _COMPARE:
            raise ValueError(
                f"truth_filters[{key!r}] uses comparison {op!r}; allowed: {', '.join(_COMPARE)}"
            )
        out[str(key)] = (op, bound)
    return out
