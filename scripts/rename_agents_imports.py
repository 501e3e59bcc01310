"""Rewrite references to the old top-level ``agents`` package to ``nas_gym.agents``.

The agents moved from ``agents/`` to ``nas_gym/agents/`` (issue 13, sec. 4), so a
user's own module called ``agents`` can no longer clash with ours. Run this over any
file or folder written against the old layout (a branch merged after the move)::

    python scripts/rename_agents_imports.py nas_gym tests examples benchmarks docs README.md

It is idempotent (a second run changes nothing) and prints each file it changed.
What it rewrites, in ``.py``, ``.md``, ``.toml``, ``.txt``, ``.yml``/``.yaml`` and
``.cfg`` files:

* ``from agents import x`` / ``from agents.sub import x`` -> ``from nas_gym.agents...``;
* ``import agents.sub`` -> ``import nas_gym.agents.sub`` (uses are rewritten by the next
  rule); a bare ``import agents`` -> ``import nas_gym.agents as agents``;
* dotted names and strings ``agents.<sub>`` -> ``nas_gym.agents.<sub>``, and paths
  ``agents/<sub>`` -> ``nas_gym/agents/<sub>``, where ``<sub>`` is a module or folder of
  the package (read from ``nas_gym/agents``), so prose such as "RL agents." and
  attribute access such as ``spec.agents.items()`` are left alone.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

SUFFIXES = {".py", ".md", ".toml", ".txt", ".yml", ".yaml", ".cfg"}
PACKAGE = Path(__file__).resolve().parent.parent / "nas_gym" / "agents"
#: Submodules known even when run before the move (the package's layout at the move).
KNOWN = (
    "baselines",
    "bench",
    "cadam",
    "callbacks",
    "common",
    "ddas",
    "registry",
    "sb3_stock",
    "zoo",
)


def submodules(package: Path = PACKAGE) -> list[str]:
    """Module and folder names of the agents package (plus :data:`KNOWN`), longest first."""
    names = set(KNOWN)
    if package.is_dir():
        for child in package.iterdir():
            if child.name.startswith(("_", ".")):
                continue
            if child.is_dir() or child.suffix == ".py":
                names.add(child.stem)
    return sorted(names, key=len, reverse=True)


def rewrite(text: str, subs: list[str]) -> str:
    """The text with every old-layout reference rewritten (idempotent)."""
    alt = "|".join(map(re.escape, subs))
    # not preceded by a name character, a dot or a slash: skips nas_gym.agents / nas_gym/agents
    start = r"(?<![\w./-])"
    text = re.sub(r"(^|\n)([ \t]*)from agents(\.|\s+import\b)", r"\1\2from nas_gym.agents\3", text)
    text = re.sub(
        r"(^|\n)([ \t]*)import agents[ \t]*(?=\n|$|#)",
        r"\1\2import nas_gym.agents as agents",
        text,
    )
    text = re.sub(r"(^|\n)([ \t]*)import agents\.", r"\1\2import nas_gym.agents.", text)
    text = re.sub(rf"{start}agents\.(?=(?:{alt})\b)", "nas_gym.agents.", text)
    text = re.sub(rf"{start}agents/(?=(?:{alt})\b)", "nas_gym/agents/", text)
    return text


def files(paths: list[Path]) -> list[Path]:
    out = []
    for path in paths:
        if path.is_dir():
            out.extend(
                p
                for p in sorted(path.rglob("*"))
                if p.is_file() and p.suffix in SUFFIXES and ".git" not in p.parts
            )
        elif path.is_file():
            out.append(path)
        else:
            raise SystemExit(f"rename_agents_imports: no such file or folder: {path}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="+", type=Path, help="files or folders to rewrite")
    parser.add_argument("--check", action="store_true", help="only list files that would change")
    args = parser.parse_args(argv)
    subs = submodules()
    changed = 0
    for path in files(args.paths):
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        new = rewrite(text, subs)
        if new != text:
            changed += 1
            print(path)
            if not args.check:
                path.write_text(new, encoding="utf-8")
    print(f"{changed} file(s) {'would change' if args.check else 'changed'}", file=sys.stderr)
    return 1 if args.check and changed else 0


if __name__ == "__main__":
    raise SystemExit(main())
