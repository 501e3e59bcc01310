"""``nas-gym info``: version, environments, and which copy of each table is in use."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "info", help="version, registered environments, data directory and tables"
    )
    parser.add_argument(
        "--data-dir",
        default=None,
        help="data directory (default: $NAS_GYM_DATA_DIR, then the user data directory, "
        "then the tables bundled with the package)",
    )
    parser.set_defaults(func=_info)


def _info(args: argparse.Namespace) -> int:
    import nas_gym
    from nas_gym import data
    from nas_gym.checks import KNOWN_TABLES
    from nas_gym.data import (
        HOW_TO_GET_DATA,
        SOURCE_BUNDLED,
        DataError,
        cache_dir,
        locate_table,
        resolve_data_dir,
    )

    print(f"nas_gym {nas_gym.__version__}")
    print("environments:")
    for env_id, entry in nas_gym.ENVIRONMENTS.items():
        print(f"  {env_id:<22} {entry}")
    try:
        root, source = resolve_data_dir(args.data_dir)
    except DataError as err:
        print(f"data directory: error: {err}")
        return 1
    print(f"data directory: {root} (from {source})")
    print(f"bundled tables: {data.BUNDLED_DIR}")
    print(f"cache directory: {cache_dir()}")
    print("tables (copy in use):")
    missing = 0
    for rel in KNOWN_TABLES:
        location = locate_table(rel, args.data_dir)
        if location is None:
            missing += 1
            status = "MISSING"
        else:
            size = location.path.stat().st_size / 1e6
            unit = "MB, xz" if location.source == SOURCE_BUNDLED else "MB"
            status = f"{location.source}: {location.path} ({size:.2f} {unit})"
        print(f"  {rel:<38} {status}")
    if missing:
        print(f"\n{missing} table(s) missing. {HOW_TO_GET_DATA}")
    return 0
