"""``nas-gym data import-nats PATH``: build the NB201 table from the NATS-Bench archive."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_subparser(group: argparse._SubParsersAction) -> None:
    """Add ``import-nats`` to the ``nas-gym data`` action group."""
    parser = group.add_parser(
        "import-nats",
        help="build nb201/nb201_metrics.csv from the NATS-Bench archive NATS-tss-v1_0-3ffb9-simple",
        description=(
            "Read the official NATS-Bench topology archive (the extracted directory "
            "NATS-tss-v1_0-3ffb9-simple) and write nb201/nb201_metrics.csv into the data "
            "directory, validated and atomically. Needs: pip install 'nas_gym[nats]'."
        ),
    )
    parser.add_argument(
        "path", metavar="PATH", help="the extracted NATS-tss-v1_0-3ffb9-simple directory"
    )
    parser.add_argument(
        "--out-dir",
        default=None,
        help="data directory to write into (default: the user data directory, ~/.local/share/nas_gym)",
    )
    parser.add_argument("--force", action="store_true", help="overwrite an existing table")
    parser.add_argument(
        "--allow-partial",
        action="store_true",
        help="if architectures are missing, write the available rows to nb201/nb201_metrics.partial.csv "
        "(never used by the environments) instead of failing",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.set_defaults(func=_import_nats)


def _import_nats(args: argparse.Namespace) -> int:
    import sys

    from gymnasium.error import DependencyNotInstalled

    from nas_gym.benchmarks.nats_import import import_nats

    try:
        result = import_nats(
            args.path,
            args.out_dir,
            force=args.force,
            allow_partial=args.allow_partial,
            progress=not args.no_progress,
        )
    except DependencyNotInstalled as err:
        print(f"nas-gym data import-nats: error: {err}", file=sys.stderr)
        return 2
    if result.partial:
        print(
            f"wrote {result.n_rows} rows (PARTIAL table, not usable by the environments) to {result.path}"
        )
        return 0
    print(f"wrote {result.n_rows} rows to {result.path}")
    _print_optima(result.path)
    return 0


def _print_optima(path: Path) -> None:
    """Compare the new table's optima with the published ones (a sanity check for users)."""
    from nas_gym.benchmarks.nb201 import ACC_COLUMNS, KNOWN_OPTIMA, parse_csv

    arr = parse_csv(path)
    print(f"{'dataset':<16}{'split':<7}{'best index':>11}{'accuracy':>10}  published (index)")
    for (dataset, split), (pub_index, pub_acc) in KNOWN_OPTIMA.items():
        acc = arr[ACC_COLUMNS[(dataset, split, 200)]]
        best = int(acc.argmax())
        print(f"{dataset:<16}{split:<7}{best:>11}{acc[best]:>10.4f}  {pub_acc:.4f} ({pub_index})")
