"""The agents live in ``nas_gym.agents``: a user's own ``agents`` module cannot clash."""

from __future__ import annotations

import subprocess
import sys

import nas_gym.agents


def test_agents_are_inside_the_nas_gym_package():
    assert nas_gym.agents.__name__ == "nas_gym.agents"
    assert nas_gym.agents.__file__.replace("\\", "/").endswith("nas_gym/agents/__init__.py")


def test_a_users_own_agents_module_does_not_clash(tmp_path):
    # The user's project has its own agents.py, first on sys.path (the working directory).
    (tmp_path / "agents.py").write_text("MINE = True\n")
    code = (
        "import agents, gymnasium as gym, nas_gym\n"
        "from nas_gym.agents.registry import make_agent\n"
        "env = gym.make('NASBench201-v1', max_queries=3)\n"
        "make_agent('rs', env, seed=0).learn(3)\n"
        "import agents as again\n"
        "print(agents.MINE and again.MINE)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "True"
