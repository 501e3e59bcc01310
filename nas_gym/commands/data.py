"""``nas-gym data ...``: check and import benchmark tables."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("data", help="check or import benchmark tables")
    group = parser.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    check = group.add_parser(
        "check", help="validate the copy in use of every table, and the bundled copies"
    )
    check.add_argument(
        "--data-dir",
        default=None,
        help="data directory (default: $NAS_GYM_DATA_DIR, then the user data directory, then the bundled tables)",
    )
    check.set_defaults(func=_check)
    from nas_gym.commands import data_import

    data_import.add_subparser(group)


def _check(args: argparse.Namespace) -> int:
    from nas_gym.checks import run_data_checks

    return run_data_checks(args.data_dir)
