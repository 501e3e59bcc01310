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
    versions = ", ".join(
        f"-{v}" + (f" ({', '.join(f'{k}={x!r}' for k, x in fixed.items())})" if fixed else "")
        for v, fixed in reversed(nas_gym.VERSIONS.items())
    )
    print(f"environments (each at {versions}; -v1 recommended; also as {nas_gym.NAMESPACE}/<id>):")
    for row in environment_rows():
        print("  " + row)
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


def environment_rows() -> list[str]:
    """One line per registered environment, its latest version's id first: the entry
    point of a base environment, the base and fixed keywords of a variant."""
    import nas_gym

    latest = list(nas_gym.VERSIONS)[-1]
    rows = [
        f"{nas_gym.versioned(env_id, latest):<26} {entry}"
        for env_id, entry in nas_gym.ENVIRONMENTS.items()
    ]
    for env_id, (base, kwargs) in nas_gym.VARIANTS.items():
        fixed = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
        rows.append(
            f"{nas_gym.versioned(env_id, latest):<26} {base.rsplit('-', 1)[0]} with {fixed}"
        )
    return rows
