"""Build the bundled benchmark tables: xz-compressed copies of every known table.

Reads the tables from a data directory (default ``../shared/envs_data`` beside the
repository), checks each one against the SHA-256 the project tests with
(:data:`nas_gym.checks.KNOWN_TABLES`), and writes ``nas_gym/resources/tables/<relpath>.xz``
plus ``MANIFEST.json`` (the plain and compressed checksums and sizes). The output is
deterministic for a given Python/liblzma, so rebuilding an unchanged table leaves git
clean. Run from the repository root::

    python scripts/build_package_data.py [--data-dir PATH]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import lzma
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from nas_gym.checks import KNOWN_TABLES  # noqa: E402
from nas_gym.data import BUNDLED_DIR, MANIFEST_NAME, atomic_write_bytes  # noqa: E402

#: xz preset: maximum compression; decompression cost does not depend on it much.
PRESET = 9 | lzma.PRESET_EXTREME


def compress(data: bytes) -> bytes:
    """xz container, CRC64 check, fixed preset (no timestamps: reproducible bytes)."""
    return lzma.compress(data, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC64, preset=PRESET)


def build(
    data_dir: Path, out_dir: Path = BUNDLED_DIR, relpaths: tuple[str, ...] = tuple(KNOWN_TABLES)
) -> dict[str, dict[str, object]]:
    """Compress the known tables ``relpaths`` from ``data_dir`` into ``out_dir``; return the manifest."""
    tables: dict[str, dict[str, object]] = {}
    for relpath in relpaths:
        known_sha = KNOWN_TABLES[relpath]
        raw = (data_dir / relpath).read_bytes()
        sha = hashlib.sha256(raw).hexdigest()
        if sha != known_sha:
            raise SystemExit(
                f"{data_dir / relpath}: sha256 {sha} is not the tested version {known_sha}; "
                "update nas_gym.checks.KNOWN_TABLES first if the change is intended"
            )
        packed = compress(raw)
        atomic_write_bytes(out_dir / f"{relpath}.xz", packed)
        tables[relpath] = {
            "sha256": sha,
            "size": len(raw),
            "xz": f"{relpath}.xz",
            "xz_sha256": hashlib.sha256(packed).hexdigest(),
            "xz_size": len(packed),
        }
        print(f"{relpath:<40} {len(raw) / 1e6:6.2f} MB -> {len(packed) / 1e6:5.2f} MB xz")
    manifest = {
        "about": "xz copies of the benchmark tables; see envs_data/README.md for sources and licences",
        "built_by": "scripts/build_package_data.py",
        "tables": tables,
    }
    atomic_write_bytes(out_dir / MANIFEST_NAME, (json.dumps(manifest, indent=2) + "\n").encode())
    total = sum(int(t["xz_size"]) for t in tables.values())
    print(f"{len(tables)} tables, {total / 1e6:.2f} MB compressed, in {out_dir}")
    return tables


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=REPO.parent / "shared" / "envs_data",
        help="directory holding the plain tables (default: ../shared/envs_data)",
    )
    args = parser.parse_args(argv)
    if not args.data_dir.is_dir():
        parser.error(f"--data-dir {str(args.data_dir)!r} does not exist")
    build(args.data_dir)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
