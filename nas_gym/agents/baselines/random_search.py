"""Random search (Li & Talwalkar 2020; the RS baseline of Mills 2020 Sec. 3.2.1)."""

from __future__ import annotations

import numpy as np

from nas_gym.agents.common.search import SearchAlgorithm


class RandomSearch(SearchAlgorithm):
    """Query alpha ~ U(0, 1)^(rows x ops) every step, disallowed ops set to 0.

    Under argmax-per-row discretization every allowed op of a row is equally likely,
    so this samples architectures uniformly over the env's ``op_mask`` (with
    replacement). ``predict`` returns the best architecture seen. Arguments: see
    :class:`nas_gym.agents.common.search.SearchAlgorithm`.
    """

    def _propose_alpha(self) -> np.ndarray:
        alpha = np.random.random((self.n_rows, self.n_ops)).astype(np.float32)
        alpha[~self.op_mask] = 0.0
        return alpha
