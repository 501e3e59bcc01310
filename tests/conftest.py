"""Shared test setup.

The benchmark tables are read from ``NAS_GYM_DATA_DIR`` or, when unset, from
``../shared/envs_data`` beside the repository (where CI puts them). Tests never
skip for missing data: a missing table is a failing test with a clear message.
Derived caches go to a per-session temporary directory, so every run also
exercises the cold (CSV-parsing) path once.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
_DEFAULT_DATA = REPO.parent / "shared" / "envs_data"

if not os.environ.get("NAS_GYM_DATA_DIR") and _DEFAULT_DATA.is_dir():
    os.environ["NAS_GYM_DATA_DIR"] = str(_DEFAULT_DATA)


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory):
    cache = tmp_path_factory.mktemp("nas_gym_cache")
    old = os.environ.get("NAS_GYM_CACHE_DIR")
    os.environ["NAS_GYM_CACHE_DIR"] = str(cache)
    yield cache
    if old is None:
        os.environ.pop("NAS_GYM_CACHE_DIR", None)
    else:
        os.environ["NAS_GYM_CACHE_DIR"] = old


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The benchmark data directory; fails (never skips) when it is missing."""
    value = os.environ.get("NAS_GYM_DATA_DIR")
    if not value or not (Path(value) / "nb201" / "nb201_metrics.csv").is_file():
        pytest.fail(
            "benchmark tables not found: set NAS_GYM_DATA_DIR to the envs_data directory "
            f"(expected {_DEFAULT_DATA})"
        )
    return Path(value)


@pytest.fixture(scope="session")
def nb201_table(data_dir: Path):
    from nas_gym.benchmarks.nb201 import load_nb201

    return load_nb201(data_dir)
