"""Random search (Li & Talwalkar 2020; the RS baseline of Mills 2020 Sec. 3.2.1)."""

from __future__ import annotations

import numpy as np

from agents.common.search import SearchAlgorithm


class RandomSearch(SearchAlgorithm):
    """Query alpha ~ U(0, 1)^(rows x ops) every step.

    Under argmax-per-row discretization every op of a row is equally likely, so this
    samples architectures uniformly (with replacement). ``predict`` returns the best
    architecture seen. Arguments: see :class:`agents.common.search.SearchAlgorithm`.
    """

    def _propose_alpha(self) -> np.ndarray:
        return np.random.random((self.n_rows, self.n_ops)).astype(np.float32)
