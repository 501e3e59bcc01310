"""The latency-constrained search example runs end to end on a tiny budget."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_example_runs_with_tiny_budget(tmp_path, _isolated_cache):
    cmd = [
        sys.executable,
        str(REPO / "examples" / "latency_constrained_search.py"),
        "--out",
        str(tmp_path),
    ]
    cmd += [
        "--synthetic-proxy",
        "2",
        "--resolution",
        "16",
        "--width-mult",
        "0.25",
        "--pretrain-epochs",
        "1",
    ]
    cmd += ["--batch-size", "10", "--valid-batches", "1", "--steps", "4"]
    cmd += ["--cpu-resolution", "16", "--cpu-repeats", "1"]
    env = {**os.environ, "NAS_GYM_CACHE_DIR": str(_isolated_cache)}
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "SYNTHETIC" in out.stdout
    results = json.loads((tmp_path / "results.json").read_text())
    assert [(r["agent"], r["table"]) for r in results] == [
        ("cadam", "pixel1"),
        ("td3", "pixel1"),
        ("cadam", "cpu"),
        ("td3", "cpu"),
    ]
    for r in results:
        assert r["steps"] == 4 and Path(r["plot"]).is_file()
        assert r["target_ms"] == (80.0 if r["table"] == "pixel1" else r["target_ms"])
        if r["best"] is not None:
            assert r["best"]["latency_ms"] <= r["target_ms"]
            assert f"best feasible: {r['best']['arch']}" in out.stdout
    assert (_isolated_cache / "latency" / "cpu_16px_1threads_batch1.yaml").is_file()
