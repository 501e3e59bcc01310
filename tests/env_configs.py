"""Tiny constructor kwargs for every registered environment.

Each entry maps an environment id to ``factory(tmp_path_factory) -> kwargs`` giving
a configuration small enough for the generic API tests in ``test_env_api.py``
(checkers, determinism, pickling, vector envs, bad input). Registering a new
environment without adding it here fails ``test_every_env_has_tiny_config``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

TinyFactory = Callable[[pytest.TempPathFactory], dict[str, Any]]


def _nb201(_: pytest.TempPathFactory) -> dict[str, Any]:
    return {"dataset": "cifar100", "max_queries": 20, "top_k": 4}


def _darts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from tests.test_darts_env import tiny_darts_kwargs

    return tiny_darts_kwargs(tmp_path_factory.mktemp("cifar"))


def _proxyless(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from tests.test_proxyless_env import tiny_proxyless_kwargs

    return tiny_proxyless_kwargs(tmp_path_factory.mktemp("cifar"))


TINY_KWARGS: dict[str, TinyFactory] = {
    "NASBench201-v0": _nb201,
    "NASBench201-v1": _nb201,
    "DARTSSupernet-v0": _darts,
    "ProxylessNAS-v0": _proxyless,
}
