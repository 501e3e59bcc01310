"""Agent-private random streams on top of SB3 code that draws from global RNGs.

Stable-Baselines3 draws from the global ``numpy``/``torch``/``random`` generators
(replay sampling, action noise, network initialisation) and seeds them globally
in ``set_random_seed``. nas_gym library code must never seed global RNGs, so our
agents keep their *own* generator states and swap them in only while the agent
runs (``learn``, model construction), restoring the caller's global state after.
Seeded runs are then reproducible and leave the caller's RNGs untouched.

The same scope sets torch's intra-op thread count to the agent's ``torch_threads``
(default 1: the networks are tiny, and extra threads only add synchronisation, see
:mod:`nas_gym.agents.common.threads`) and restores the caller's count afterwards.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from stable_baselines3.common.callbacks import (
    BaseCallback,
    CallbackList,
    ConvertCallback,
    ProgressBarCallback,
)

from nas_gym.agents.common.threads import torch_threads
from nas_gym.progress import progress_bar

#: Seeds every agent accepts: numpy's legacy seeding (stock SB3) takes 0 .. 2**32 - 1.
MAX_SEED = 2**32 - 1


def check_seed(seed: object) -> int | None:
    """``seed`` as an int if it is None or a whole number in 0 .. 2**32 - 1, else a ValueError."""
    if seed is None:
        return None
    if (
        isinstance(seed, bool)
        or not isinstance(seed, int | np.integer)
        or not 0 <= seed <= MAX_SEED
    ):
        raise ValueError(f"seed must be None or an integer in 0..{MAX_SEED}, got {seed!r}")
    return int(seed)


def check_total_timesteps(total_timesteps: object) -> int:
    """The step count of ``learn`` as an int: a whole number >= 1 (``1e5`` is 100000).

    SB3 runs a negative or fractional total silently (no step, or one step more), so
    a typo would look like a finished search.
    """
    ok = not isinstance(total_timesteps, bool) and isinstance(
        total_timesteps, int | float | np.integer | np.floating
    )
    if ok and isinstance(total_timesteps, float | np.floating):
        ok = math.isfinite(total_timesteps) and float(total_timesteps).is_integer()
    if not ok or total_timesteps < 1:
        raise ValueError(
            f"total_timesteps must be a whole number of steps >= 1 (e.g. 500 or 1e3), "
            f"got {total_timesteps!r}"
        )
    return int(total_timesteps)


@dataclass
class RNGStates:
    """Snapshots of the three global generators, owned by one agent."""

    python: Any
    numpy: Any
    torch: torch.Tensor

    @classmethod
    def from_seed(cls, seed: int | None) -> RNGStates:
        """Independent streams derived from ``seed`` (fresh OS entropy when None)."""
        words = np.random.SeedSequence(seed).generate_state(3, dtype=np.uint32)
        py = random.Random(int(words[0])).getstate()
        nps = np.random.RandomState(int(words[1])).get_state()
        ts = torch.Generator().manual_seed(int(words[2])).get_state()
        return cls(py, nps, ts)

    @classmethod
    def capture(cls) -> RNGStates:
        return cls(random.getstate(), np.random.get_state(), torch.get_rng_state())

    def install(self) -> None:
        random.setstate(self.python)
        np.random.set_state(self.numpy)
        torch.set_rng_state(self.torch)


@contextmanager
def private_rng(owner: Any) -> Iterator[None]:
    """Run a block as ``owner``: its RNG states and torch thread count, then restore the caller's.

    Uses ``owner._rng_states`` as the global RNG states and ``owner.torch_threads``
    (None: leave torch's setting alone) as torch's intra-op thread count. Nested use
    is a no-op, so a method under the context may call another one.
    """
    states: RNGStates | None = getattr(owner, "_rng_states", None)
    if states is None or getattr(owner, "_rng_active", False):
        yield
        return
    with torch_threads(getattr(owner, "torch_threads", None)):
        outer = RNGStates.capture()
        states.install()
        owner._rng_active = True
        try:
            yield
        finally:
            owner._rng_states = RNGStates.capture()
            owner._rng_active = False
            outer.install()


class TqdmProgressBar(ProgressBarCallback):
    """SB3's progress bar (``learn(progress_bar=True)``) drawn with plain tqdm on stderr.

    SB3's own bar needs the optional ``rich`` package; plain tqdm is a core dependency,
    and :func:`~nas_gym.progress.progress_bar` writes whole lines in log files.
    """

    def __init__(self) -> None:
        BaseCallback.__init__(self)  # SB3's __init__ only checks that rich is installed

    def _on_training_start(self) -> None:
        remaining = self.locals["total_timesteps"] - self.model.num_timesteps
        self.pbar = progress_bar(total=remaining, desc=type(self.model).__name__, unit="step")


class LocalRNGMixin:
    """Mixin for SB3 ``BaseAlgorithm`` subclasses: seeding without global side effects.

    Put it first in the bases. ``seed`` gives reproducible runs; the generator
    states are saved with the agent, so a loaded agent continues the same stream.
    ``learn``, ``predict`` and model construction run with ``torch_threads`` torch
    threads (set the attribute, e.g. ``agent.torch_threads = 4``, or None to keep
    the caller's setting); ``learn(progress_bar=True)`` shows a tqdm bar on stderr.
    """

    _rng_states: RNGStates | None = None
    _rng_active: bool = False
    #: torch intra-op threads while the agent runs; None leaves torch's setting alone.
    torch_threads: int | None = 1

    def set_random_seed(self, seed: int | None = None) -> None:
        """Derive private generator states from ``seed`` (SB3 seeds the global ones)."""
        seed = check_seed(seed)
        self._rng_states = RNGStates.from_seed(seed)
        if seed is not None:
            self.action_space.seed(seed)  # type: ignore[attr-defined]
            if self.env is not None:  # type: ignore[attr-defined]
                self.env.seed(seed)  # type: ignore[attr-defined]

    def _setup_model(self) -> None:
        restored = self._rng_states  # set when SB3 ``load`` restores a saved agent
        if restored is None:
            self.set_random_seed(self.seed)  # type: ignore[attr-defined]
        with private_rng(self):
            super()._setup_model()  # type: ignore[misc]
        if restored is not None:
            self._rng_states = restored

    def learn(self, total_timesteps: int, *args: Any, **kwargs: Any) -> Any:
        total_timesteps = check_total_timesteps(total_timesteps)
        with private_rng(self):
            return super().learn(total_timesteps, *args, **kwargs)  # type: ignore[misc]

    def predict(self, *args: Any, **kwargs: Any) -> Any:
        with torch_threads(self.torch_threads):
            return super().predict(*args, **kwargs)  # type: ignore[misc]

    def _init_callback(self, callback: Any, progress_bar: bool = False) -> BaseCallback:
        """SB3's callback setup, with :class:`TqdmProgressBar` as the progress bar."""
        if progress_bar:
            if isinstance(callback, list):
                callback = CallbackList(callback)
            if not isinstance(callback, BaseCallback):
                callback = ConvertCallback(callback)
            callback = [callback, TqdmProgressBar()]
        return super()._init_callback(callback, False)  # type: ignore[misc]

    def _excluded_save_params(self) -> list[str]:
        return [*super()._excluded_save_params(), "_rng_active"]  # type: ignore[misc]
