"""The examples' one argument parser (examples/_args.py) and its use in every example."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.scripts import load_script

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = sorted(p for p in (REPO / "examples").glob("*.py") if not p.name.startswith("_"))


def load_args_module():
    return load_script("examples/_args.py")


@dataclass
class Args:
    dataset: str = "cifar10"
    """cifar10, cifar100 or ImageNet16-120"""
    budget: int = 500
    target: float | None = None
    """latency target in ms"""
    agents: list[str] = field(default_factory=lambda: ["cadam", "td3"])
    plots: bool = True


def test_dataclass_fields_become_typed_flags(monkeypatch, capsys):
    parse_args = load_args_module().parse_args
    monkeypatch.setattr(sys, "argv", ["x"])
    assert parse_args(Args) == Args()
    argv = ["x", "--budget", "20", "--target", "7.5", "--agents", "rs", "rea", "--plots", "false"]
    monkeypatch.setattr(sys, "argv", argv)
    assert parse_args(Args) == Args("cifar10", 20, 7.5, ["rs", "rea"], False)
    monkeypatch.setattr(sys, "argv", ["x", "--budget", "many"])
    with pytest.raises(SystemExit):
        parse_args(Args)
    assert "--budget: invalid int value: 'many'" in capsys.readouterr().err
    # the docstring under a field is its help text
    monkeypatch.setattr(sys, "argv", ["x", "--help"])
    with pytest.raises(SystemExit):
        parse_args(Args, "an example")
    help_text = " ".join(capsys.readouterr().out.split())
    assert "latency target in ms (default: None)" in help_text
    assert "cifar10, cifar100 or ImageNet16-120 (default: cifar10)" in help_text


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_uses_the_shared_parser(path):
    text = path.read_text()
    assert "parse_args(Args, __doc__)" in text and "argparse" not in text


def test_random_search_example_runs_with_the_shared_parser():
    out = subprocess.run(
        [sys.executable, str(REPO / "examples" / "random_search_nb201.py"), "--budget", "30"],
        capture_output=True, text=True, timeout=120, cwd=REPO,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    assert "30 queries" in out.stdout and "seed 1" in out.stdout


def test_examples_take_published_numbers_from_the_one_source():
    from nas_gym.agents.bench.published import CADAM_500

    text = (REPO / "examples" / "cadam_nb201.py").read_text()
    assert "from nas_gym.agents.bench.published import" in text
    for mean, _ in CADAM_500.searched.values():
        for path in EXAMPLES:
            assert f"{mean:.2f}" not in path.read_text(), (path.name, mean)
