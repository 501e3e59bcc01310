"""CI smoke test of a fresh install: core dependencies only, no env vars, empty HOME.

Run by .ci/run with the throwaway venv's python, from outside the clone, so it
imports the installed package and reads the bundled tables.
"""

import importlib.util
import sys

import gymnasium as gym
import numpy as np

import nas_gym
from nas_gym.data import SOURCE_BUNDLED, locate_table

assert "site-packages" in nas_gym.__file__, f"not the installed package: {nas_gym.__file__}"
for heavy in ("torch", "matplotlib", "stable_baselines3"):
    assert importlib.util.find_spec(heavy) is None, f"{heavy} is not a core dependency"

env = gym.make("NASBench201-v0")
env.reset(seed=0)
# Index 6111 is the CIFAR-10 optimum: |nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+
# |skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2| (envs_data/README.md).
alpha = np.zeros((6, 5), dtype=np.float32)
alpha[np.arange(6), [3, 3, 3, 1, 3, 2]] = 1.0
info = env.step(alpha)[4]
assert info["arch_index"] == 6111, info
assert abs(info["valid_acc"] - 91.606667) < 1e-4 and abs(info["test_acc"] - 94.373333) < 1e-4, info
rng = np.random.default_rng(0)
for _ in range(20):
    env.step(rng.random((6, 5), dtype=np.float32))
assert locate_table("nb201/nb201_metrics.csv").source == SOURCE_BUNDLED
assert "torch" not in sys.modules and "matplotlib" not in sys.modules
print(f"fresh install OK: nas_gym {nas_gym.__version__} from {nas_gym.__file__}, bundled tables")
