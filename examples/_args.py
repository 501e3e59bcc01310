"""The examples' one argument parser: a dataclass of arguments becomes ``--flags``.

Each example declares ``@dataclass class Args`` with a default and a docstring
under every field (the CleanRL style), then calls ``parse_args(Args, __doc__)``.
Field types map to argparse types; ``X | None`` takes an ``X``, ``list[X]`` takes
one or more, ``bool`` takes true/false.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
import textwrap
import types
import typing
from typing import Any, TypeVar

T = TypeVar("T")


def _field_docs(cls: type) -> dict[str, str]:
    """The string literal written under each field of ``cls`` (its help text)."""
    try:
        body = ast.parse(textwrap.dedent(inspect.getsource(cls))).body[0].body
    except (OSError, TypeError):
        return {}
    docs = {}
    for node, after in zip(body, body[1:], strict=False):
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            if isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant):
                docs[node.target.id] = str(after.value.value)
    return docs


def _to_bool(text: str) -> bool:
    if text.lower() in ("1", "true", "yes"):
        return True
    if text.lower() in ("0", "false", "no"):
        return False
    raise argparse.ArgumentTypeError(f"{text!r} is not a boolean; use true or false")


def _argparse_kind(hint: Any) -> tuple[Any, str | None]:
    """(type callable, nargs) for a field's type hint."""
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        return _argparse_kind(args[0])
    if typing.get_origin(hint) is list:
        return _argparse_kind(args[0])[0], "+"
    return (_to_bool if hint is bool else hint), None


def parse_args(cls: type[T], description: str | None = None) -> T:
    """Parse the command line into an instance of the dataclass ``cls``."""
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    hints, docs = typing.get_type_hints(cls), _field_docs(cls)
    for field in dataclasses.fields(cls):
        kind, nargs = _argparse_kind(hints[field.name])
        default = (
            field.default_factory()
            if field.default_factory is not dataclasses.MISSING
            else field.default
        )
        help_text = f"{docs.get(field.name, '')} (default: {default})".strip()
        parser.add_argument(
            "--" + field.name.replace("_", "-"), type=kind, nargs=nargs, default=default,
            help=help_text,
        )  # fmt: skip
    return cls(**vars(parser.parse_args()))
