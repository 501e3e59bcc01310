"""``nas-gym info``: version, environments, the data directory and the tables found."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "info", help="version, registered environments, data directory and tables"
    )
    parser.add_argument(
        "--data-dir", default=None, help="data directory (default: $NAS_GYM_DATA_DIR)"
    )
    parser.set_defaults(func=_info)


def _info(args: argparse.Namespace) -> int:
    import nas_gym
    from nas_gym.checks import KNOWN_TABLES
    from nas_gym.data import DataError, cache_dir, resolve_data_dir

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
    print(f"cache directory: {cache_dir()}")
    print("tables:")
    for rel in KNOWN_TABLES:
        path = root / rel
        status = f"found ({path.stat().st_size / 1e6:.1f} MB)" if path.is_file() else "missing"
        print(f"  {rel:<42} {status}")
    return 0
