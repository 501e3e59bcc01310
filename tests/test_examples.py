"""The examples run end to end with tiny budgets and print their results tables."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ROW = re.compile(r"^\| (?P<agent>[^|]+?) \| (?P<acc>\d+\.\d+) ± (?P<std>\d+\.\d+) \|", re.M)


def run_example(name: str, *args: str) -> str:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run(
        [sys.executable, str(REPO / "examples" / name), *args],
        capture_output=True, text=True, timeout=300, env=env, cwd=REPO,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def rows(output: str) -> dict[str, float]:
    return {m["agent"]: float(m["acc"]) for m in ROW.finditer(output)}


def test_cadam_example():
    out = run_example("cadam_nb201.py", "--budget", "20", "--seeds", "2", "--dataset", "cifar100")
    assert re.search(r"seed 1: best valid acc \d+\.\d+%", out) and "seed 2:" in out
    line = [ln for ln in out.splitlines() if ln.startswith("| CADAM")]
    assert len(line) == 1 and "| cifar100 | valid | 20 | 1-2 |" in line[0]
    acc = float(re.search(r"\| (\d+\.\d+) ± ", line[0]).group(1))
    assert 60.0 < acc < 73.6  # CIFAR-100 validation accuracies of NB201 cells; optimum 73.49


@pytest.mark.parametrize(
    "script, agents",
    [
        (
            "td3_vs_ddpg_nb201.py",
            {"SB3 DDPG", "SB3 TD3", "DDAS-4S (DDPG)", "DDAS-TD3", "CADAM", "CADAM-TD3"},
        ),
        ("custom_agent_nb201.py", {"local-search", "rs", "cadam"}),
    ],
)
def test_comparison_examples(script, agents):
    found = rows(run_example(script, "--budget", "15", "--seeds", "1", "--dataset", "cifar10"))
    assert set(found) == agents
    assert all(80.0 < acc < 91.7 for acc in found.values()), found  # CIFAR-10 valid; optimum 91.61
