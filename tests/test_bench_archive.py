"""``nas_gym.agents.bench.archive``: the committed archives stay readable."""

from __future__ import annotations

import json
import lzma
from pathlib import Path

import pytest

from nas_gym.agents.bench import archive

ROOT = Path(__file__).resolve().parents[1]


def test_committed_archives_read_back_and_match_the_table():
    """Every archive in the repository reads (the td3 study's under their first header
    name) and each run's best on its searched split is the table's best over its queries."""
    files = sorted((ROOT / "benchmarks" / "archives").rglob("*.jsonl.xz"))
    assert len(files) >= 6
    headers = set()
    for path in files:
        headers.add(json.loads(lzma.decompress(path.read_bytes()).splitlines()[0])["format"])
        runs = archive.read_archive(path)
        assert runs, path
        for run in runs:
            split = run["spec"]["reward_metric"]
            assert max(run["history"][f"{split}_acc"]) == run["result"][f"best_{split}_acc"]
            assert len(run["history"]["arch_index"]) == run["result"]["n_queries"]
    assert headers <= set(archive.READABLE_FORMATS)


def test_an_unknown_header_is_refused(tmp_path):
    path = tmp_path / "a.jsonl.xz"
    path.write_bytes(lzma.compress(b'{"format": "nas_gym bench archive 9"}\n'))
    with pytest.raises(archive.ArchiveError, match="first line is not the header"):
        archive.read_archive(path)
