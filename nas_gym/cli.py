"""The ``nas-gym`` command line.

Each command group lives in its own module exposing ``add_parser(subparsers)``;
the module is imported only when the CLI starts, and heavy imports (torch) happen
inside the command functions, so ``nas-gym info`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

#: Modules that contribute subcommands (each defines ``add_parser(subparsers)``).
COMMAND_MODULES: tuple[str, ...] = (
    "nas_gym.commands.info",
    "nas_gym.commands.data",
    "nas_gym.commands.bench_env",
    "nas_gym.commands.bench",
    "nas_gym.commands.supernet",
    "nas_gym.commands.train_genotype",
    "nas_gym.commands.latency",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nas-gym",
        description="Neural architecture search as Gymnasium environments.",
    )
    from nas_gym import __version__

    parser.add_argument("--version", action="version", version=f"nas-gym {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; command functions return an exit code. Known errors print one line."""
    from nas_gym.data import DataError

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (DataError, ValueError, FileNotFoundError) as err:
        print(f"nas-gym {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
