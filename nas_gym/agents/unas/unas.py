"""Black-box UNAS (Vahdat et al., CVPR 2020) over per-row categoricals, as an SB3-style agent."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from stable_baselines3.common.type_aliases import GymEnv

from nas_gym.agents.common.discrete import accuracy_fraction, env_reward_kind
from nas_gym.agents.common.search import SearchAlgorithm, SearchPolicy
from nas_gym.agents.unas.estimators import gumbel_argmax, log_prob, relaxed_sample, soften

ESTIMATORS = ("relax", "reinforce")
LATENCY_KEYS = ("auto", "cost", "latency_ms")


class RidgeSurrogate:
    """Linear g(x) = w . [x, 1] fitted by ridge regression on all (one-hot z, L(z)) pairs seen.

    UNAS fits its latency surrogate once, by closed-form ridge (lambda = 1, bias column),
    on 10,000 sampled architectures. A black-box agent cannot afford that, so we refit
    on the queries themselves after each one (sufficient statistics kept, O(d^2)).
    """

    def __init__(self, dim: int, ridge: float = 1.0):
        self.ridge = float(ridge)
        self.xtx = np.zeros((dim + 1, dim + 1))
        self.xty = np.zeros(dim + 1)
        self.n = 0
        self.weights = torch.zeros(dim + 1)

    def add(self, x: np.ndarray, y: float) -> None:
        row = np.append(np.asarray(x, dtype=np.float64).reshape(-1), 1.0)
        self.xtx += np.outer(row, row)
        self.xty += row * y
        self.n += 1
        w = np.linalg.solve(self.xtx + self.ridge * np.eye(len(row)), self.xty)
        self.weights = torch.as_tensor(w, dtype=torch.float32)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.reshape(*x.shape[:-2], -1)
        return flat @ self.weights[:-1] + self.weights[-1]


class UNAS(SearchAlgorithm):
    """UNAS' estimators on black-box criteria: RELAX with a linear surrogate, or REINFORCE.

    The architecture distribution is one categorical per row (logits phi, start at 0,
    masked by the env's ``op_mask``). Each query draws uniforms u, the Gumbel-softmax
    sample zeta (tau = 0.4), z = argmax and the conditional relaxation zeta~; queries z;
    and takes one Adam step on the single-sample estimate of d E[L(z)] for

        L(z) = -acc(z) + lambda_t * max(0, cost(z) - target_latency)

    (UNAS' latency hinge, Sec. 3.3 and proxylessnas/train_search.py of the official
    code; acc is the env's objective as a fraction, see
    :func:`nas_gym.agents.common.discrete.accuracy_fraction`; cost is ``info["cost"]`` on
    NB201 with ``cost=`` or ``info["latency_ms"]`` on ProxylessNAS-v0). ``"relax"``:
    control variate c(zeta) = g_acc(zeta) + lambda_t max(0, g_lat(zeta) - target)
    with g_acc, g_lat ridge-fitted linear surrogates (UNAS' L_n route, Eq. for
    non-differentiable losses); until ``surrogate_min_fit`` queries are seen the
    EMA baseline stands in. ``"reinforce"``: (L(z) - b) d log p(z), b an EMA of L read
    *before* this query's update (so the estimate stays unbiased).

    Unlike the paper's one-shot UNAS, accuracy is a black box here (it goes through
    the non-differentiable route, not REBAR on a supernet), there is no
    generalization-gap term, and the budget is queries, not minibatches; see
    docs/seed_agents.md.

    Args:
        policy: ``"MlpPolicy"`` (kept for the SB3 call shape).
        env: a Gymnasium environment with a 2-D Box ``(rows, ops)`` action space.
        learning_rate: Adam lr of phi (0.01, ours: UNAS' 1e-3 is per 128-sample minibatch).
        estimator: ``"relax"`` or ``"reinforce"``.
        tau: Gumbel-softmax temperature (0.4, UNAS code).
        soften_eps: UNAS' probability softening epsilon (0.0; UNAS used 0.08 on ImageNet/ProxylessNAS).
        arch_weight_decay: Adam weight decay of phi (1e-6, UNAS code).
        surrogate_ridge: ridge lambda of the surrogates (1.0, UNAS code).
        surrogate_min_fit: queries before RELAX uses its surrogates (2, ours).
        ema_momentum: momentum of the loss baseline (0.9).
        target_latency: t_g of the hinge, in the cost's unit (None: no latency term).
        latency_key: ``"auto"`` (``cost`` if in info, else ``latency_ms``), ``"cost"`` or ``"latency_ms"``.
        latency_coeff: lambda of the hinge (0.1, UNAS code).
        latency_warmup_steps: queries over which lambda ramps up linearly (0 = none; UNAS: 30k minibatches).
        **kwargs: see :class:`nas_gym.agents.common.search.SearchAlgorithm`.
    """

    use_logits = True

    def __init__(
        self,
        policy: str | type[SearchPolicy] = "MlpPolicy",
        env: GymEnv | str | None = None,
        learning_rate: float = 0.01,
        estimator: str = "relax",
        tau: float = 0.4,
        soften_eps: float = 0.0,
        arch_weight_decay: float = 1e-6,
        surrogate_ridge: float = 1.0,
        surrogate_min_fit: int = 2,
        ema_momentum: float = 0.9,
        target_latency: float | None = None,
        latency_key: str = "auto",
        latency_coeff: float = 0.1,
        latency_warmup_steps: int = 0,
        **kwargs: Any,
    ):
        if estimator not in ESTIMATORS:
            raise ValueError(f"estimator must be one of {ESTIMATORS}, got {estimator!r}")
        if latency_key not in LATENCY_KEYS:
            raise ValueError(f"latency_key must be one of {LATENCY_KEYS}, got {latency_key!r}")
        if learning_rate <= 0 or tau <= 0 or not 0 <= ema_momentum < 1 or not 0 <= soften_eps < 1:
            raise ValueError(
                "need learning_rate > 0, tau > 0, 0 <= ema_momentum < 1, 0 <= soften_eps < 1; got "
                f"{learning_rate!r}, {tau!r}, {ema_momentum!r}, {soften_eps!r}"
            )
        if target_latency is not None and not target_latency > 0:
            raise ValueError(f"target_latency must be > 0 or None, got {target_latency!r}")
        if latency_coeff < 0 or latency_warmup_steps < 0 or surrogate_min_fit < 1:
            raise ValueError(
                "need latency_coeff >= 0, latency_warmup_steps >= 0, surrogate_min_fit >= 1; got "
                f"{latency_coeff!r}, {latency_warmup_steps!r}, {surrogate_min_fit!r}"
            )
        self.estimator, self.tau, self.soften_eps = estimator, float(tau), float(soften_eps)
        self.arch_weight_decay = float(arch_weight_decay)
        self.surrogate_ridge, self.surrogate_min_fit = (
            float(surrogate_ridge),
            int(surrogate_min_fit),
        )
        self.ema_momentum = float(ema_momentum)
        self.target_latency = None if target_latency is None else float(target_latency)
        self.latency_key, self.latency_coeff = latency_key, float(latency_coeff)
        self.latency_warmup_steps = int(latency_warmup_steps)
        super().__init__(policy, env, learning_rate=learning_rate, **kwargs)

    def _setup_model(self) -> None:
        super()._setup_model()
        for group in self.policy.optimizer.param_groups:
            group["weight_decay"] = self.arch_weight_decay
        self._reward_kind = env_reward_kind(self.env) if self.env is not None else None
        self._reset_search()

    def _reset_search(self) -> None:
        dim = self.n_rows * self.n_ops
        self.g_acc = RidgeSurrogate(dim, self.surrogate_ridge)
        self.g_lat = RidgeSurrogate(dim, self.surrogate_ridge)
        self._ema_num = self._ema_den = 0.0
        self._pending: tuple[torch.Tensor, ...] | None = None
        self.n_feasible = 0
        self.n_observed = 0

    @property
    def baseline(self) -> float:
        """EMA of the loss L (0 before the first query)."""
        return self._ema_num / self._ema_den if self._ema_den else 0.0

    def _latency_weight(self) -> float:
        ramp = (
            min(1.0, self.num_timesteps / self.latency_warmup_steps)
            if self.latency_warmup_steps
            else 1.0
        )
        return self.latency_coeff * ramp

    def _propose(self) -> np.ndarray:
        log_p = soften(self.policy.logits, self.policy.op_mask, self.soften_eps)
        u = torch.rand(self.n_rows, self.n_ops)
        if self.estimator == "relax":
            zeta, zeta_tilde, z = relaxed_sample(log_p, u, self.tau)
            self._pending = (log_p, z, zeta - zeta_tilde + zeta_tilde.detach())
        else:
            z = gumbel_argmax(log_p.detach(), u)
            self._pending = (log_p, z)
        return z.argmax(dim=1).numpy()

    def _cost(self, info: Mapping[str, Any]) -> float | None:
        key = self.latency_key
        if key == "auto":
            key = "cost" if "cost" in info else "latency_ms"
        if key not in info:
            raise KeyError(
                f"target_latency needs info[{key!r}] (NASBench201-v0 with cost=..., or "
                f"ProxylessNAS-v0); this env's info has: {', '.join(sorted(info))}"
            )
        value = info[key]
        return None if value is None else float(value)

    def _observe(
        self, ops: np.ndarray, reward: float, info: Mapping[str, Any] | None = None
    ) -> None:
        if self._pending is None:  # observe without a propose (e.g. a test): nothing to learn
            return
        pending, self._pending = self._pending, None
        log_p, z = pending[0], pending[1]
        info = info or {}
        loss_acc = -accuracy_fraction(reward, self._reward_kind)
        lam = self._latency_weight()
        cost = self._cost(info) if self.target_latency is not None else None
        loss_lat = lam * max(0.0, cost - self.target_latency) if cost is not None else 0.0
        if cost is not None:
            self.n_feasible += cost <= self.target_latency
        self.n_observed += 1
        loss = loss_acc + loss_lat
        log_q = log_prob(log_p, z)
        use_relax = self.estimator == "relax" and self.g_acc.n >= self.surrogate_min_fit
        if use_relax:
            zeta_star = pending[2]
            control = self.g_acc(zeta_star)
            if cost is not None and self.g_lat.n >= self.surrogate_min_fit:
                control = control + lam * torch.relu(self.g_lat(zeta_star) - self.target_latency)
            objective = log_q * (loss - control).detach() + control
        else:
            objective = log_q * (loss - self.baseline)
        self.policy.optimizer.zero_grad()
        objective.backward()
        self.policy.optimizer.step()
        m = self.ema_momentum  # baseline updated after use: it never depends on this query
        self._ema_num = m * self._ema_num + (1 - m) * loss
        self._ema_den = m * self._ema_den + (1 - m)
        onehot = z.detach().numpy()
        self.g_acc.add(onehot, loss_acc)
        if cost is not None:
            self.g_lat.add(onehot, cost)
        self.logger.record("train/loss", loss)
        if self.target_latency is not None:
            self.logger.record("unas/feasible_fraction", self.n_feasible / self.n_observed)

    def _setup_learn(self, total_timesteps: int, callback: Any = None, reset_num_timesteps: bool = True, *args: Any, **kwargs: Any) -> Any:  # fmt: skip
        if reset_num_timesteps:
            self._reset_search()
        return super()._setup_learn(total_timesteps, callback, reset_num_timesteps, *args, **kwargs)

    def _excluded_save_params(self) -> list[str]:
        return [*super()._excluded_save_params(), "_pending"]

    def _get_torch_save_params(self) -> tuple[list[str], list[str]]:
        return ["policy", "policy.optimizer"], []
