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


def test_option_fields_refuse_bad_values_by_flag(monkeypatch, capsys):
    args_module = load_args_module()

    @dataclass
    class Checked:
        dataset: str = args_module.option("cifar10", choices=("cifar10", "cifar100"))
        budget: int = args_module.option(500, at_least=1)
        seeds: list[int] = args_module.option([0, 1], at_least=0)

    parse_args = args_module.parse_args
    monkeypatch.setattr(sys, "argv", ["x"])
    first, second = parse_args(Checked), parse_args(Checked)
    assert first == Checked() and first.seeds is not second.seeds  # no shared default list
    for argv, message in [
        (["--budget", "0"], "--budget must be at least 1, got 0"),
        (["--seeds", "3", "-1"], "--seeds must be at least 0, got [3, -1]"),
        (["--dataset", "cifar-10"], "argument --dataset: invalid choice: 'cifar-10'"),
    ]:
        monkeypatch.setattr(sys, "argv", ["x", *argv])
        with pytest.raises(SystemExit):
            parse_args(Checked)
        assert message in capsys.readouterr().err
    monkeypatch.setattr(
        sys, "argv", ["x", "--budget", "1", "--seeds", "0", "--dataset", "cifar100"]
    )
    assert parse_args(Checked) == Checked("cifar100", 1, [0])


@pytest.mark.parametrize(
    "script, argv, message",
    [
        # one process is enough: every example parses through _args (tested above)
        ("td3_vs_ddpg_nb201.py", ["--seeds", "0"], "--seeds must be at least 1, got 0"),
    ],
)
def test_examples_refuse_bad_flags_in_one_line(script, argv, message):
    out = subprocess.run(
        [sys.executable, str(REPO / "examples" / script), *argv],
        capture_output=True, text=True, timeout=120, cwd=REPO,
    )  # fmt: skip
    assert out.returncode == 2
    assert message in out.stderr and "Traceback" not in out.stderr


def test_the_cadam_example_defaults_to_cadams_actor_learning_rate(monkeypatch):
    import inspect

    from nas_gym.agents.cadam import CADAM

    monkeypatch.syspath_prepend(str(REPO / "examples"))  # the example imports _args
    default = inspect.signature(CADAM).parameters["actor_learning_rate"].default
    assert load_script("examples/cadam_nb201.py").Args().actor_lr == default == 1e-4
