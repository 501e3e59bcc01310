"""Import a repository script (``benchmarks/``, ``scripts/``, ``examples/``) by its path."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[1]


def load_script(relpath: str) -> ModuleType:
    """The script at ``REPO / relpath`` as a module named after its file.

    It is registered in ``sys.modules`` first: a dataclass looks its module up there
    while the class is built.
    """
    path = REPO / relpath
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    return module
