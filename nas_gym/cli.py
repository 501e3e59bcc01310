"""The ``nas-gym`` command line.

Each command group lives in its own module exposing ``add_parser(subparsers)``;
the module is imported only when the CLI starts, and heavy imports (torch) happen
inside the command functions, so ``nas-gym info`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import os
import select
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
    "nas_gym.commands.search",
    "nas_gym.commands.latency",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nas-gym",
        description="Neural architecture search as Gymnasium environments.",
    )
    from nas_gym import __version__

    parser.add_argument("--version", action="version", version=f"nas-gym {__version__}")
    parser.add_argument(
        "--debug",
        action="store_true",
        help="show the full Python traceback of an error (default: one line)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).add_parser(sub)
    return parser


def error_line(command: str, err: BaseException) -> str:
    """The one line a CLI user sees for an error: ours verbatim, anything else with its type."""
    from gymnasium.error import DependencyNotInstalled

    from nas_gym.data import DataError

    text = " ".join(str(err).split()) or type(err).__name__
    if not isinstance(err, (DataError, ValueError, OSError, DependencyNotInstalled)):
        text = (
            f"{type(err).__name__}: {text} (run `nas-gym --debug {command} ...` for the traceback)"
        )
    return f"nas-gym {command}: error: {text}"


def _reader_left() -> bool:
    """True when stdout is a pipe whose reading end has been closed."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        return True
    except (OSError, ValueError):
        return False
    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(event & select.POLLERR for _, event in poller.poll(0))
    except (AttributeError, OSError, ValueError):  # no poll() (Windows) or no real stdout
        return False


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; command functions return an exit code.

    Every error prints one line ``nas-gym <cmd>: error: ...`` and exits 2 (130 on
    Ctrl-C); ``--debug`` shows the traceback instead.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        if args.debug:
            raise
        print(f"nas-gym {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError as err:
        if not _reader_left():  # another pipe (a bench worker's): a real error
            print(error_line(args.command, err), file=sys.stderr)
            return 2
        # the reader left (`nas-gym info | head`): not an error of ours; point stdout at
        # devnull so that Python's flush at exit does not raise again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as err:  # noqa: BLE001  (the CLI's single error boundary)
        if args.debug:
            raise
        print(error_line(args.command, err), file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
