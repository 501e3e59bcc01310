"""rl-baselines3-zoo trains on the flat default id with its own default hyperparameters.

rl-zoo builds its action noise from ``action_space.shape[0]``, so it needs 1-D spaces
(``NASBench201-v1``); on the matrix ``-v0`` spaces its noise does not broadcast.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile

import pytest

pytest.importorskip("rl_zoo3")


def _zoo_train(algo: str, env_id: str, folder, steps: int) -> subprocess.CompletedProcess:
    cmd = [
        sys.executable,
        "-m",
        "rl_zoo3.train",
        "--algo",
        algo,
        "--env",
        env_id,
        "--gym-packages",
        "nas_gym",
        "-n",
        str(steps),
        "-f",
        str(folder),
        "--seed",
        "1",
        "--eval-freq",
        "-1",
        "--log-interval",
        "-1",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        cmd, cwd=folder, env=env, capture_output=True, text=True, timeout=600, check=False
    )


@pytest.mark.parametrize("algo", ["td3", "ddpg"])
def test_rl_zoo_trains_on_nasbench201_v1_with_its_defaults(algo, tmp_path):
    # 150 steps: past SB3's learning_starts=100, so the zoo's noise and updates both run.
    out = _zoo_train(algo, "NASBench201-v1", tmp_path, 150)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert "Using 'default' hyperparameters" in out.stdout
    model = tmp_path / algo / "NASBench201-v1_1" / "NASBench201-v1.zip"
    assert model.is_file()
    with zipfile.ZipFile(model) as archive:
        assert "policy.pth" in archive.namelist()
