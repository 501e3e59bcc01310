"""The examples' one argument parser: a dataclass of arguments becomes ``--flags``.

Each example declares ``@dataclass class Args`` with a default and a docstring
under every field (the CleanRL style), then calls ``parse_args(Args, __doc__)``.
Field types map to argparse types; ``X | None`` takes an ``X``, ``list[X]`` takes
one or more, ``bool`` takes true/false. A field made with :func:`option` also says
what the flag accepts (``choices``, or ``at_least`` a number), so a bad value is one
argparse error line before the example starts, not a traceback from deep inside it.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
import textwrap
import types
import typing
from collections.abc import Sequence
from typing import Any, TypeVar

T = TypeVar("T")


def option(
    default: Any, *, choices: Sequence[Any] | None = None, at_least: float | None = None
) -> Any:
    """A dataclass field with ``default`` whose flag accepts only ``choices``, or values
    (each value, for a list) of at least ``at_least``."""
    meta = {"choices": choices, "at_least": at_least}
    meta = {k: v for k, v in meta.items() if v is not None}
    if isinstance(default, list):  # a mutable default: each instance gets its own copy
        return dataclasses.field(default_factory=lambda: list(default), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


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
            choices=field.metadata.get("choices"), help=help_text,
        )  # fmt: skip
    args = vars(parser.parse_args())
    for field in dataclasses.fields(cls):
        low, value = field.metadata.get("at_least"), args[field.name]
        values = value if isinstance(value, list) else [value]
        if low is not None and any(v is not None and v < low for v in values):
            flag = "--" + field.name.replace("_", "-")
            parser.error(f"{flag} must be at least {low:g}, got {value}")
    return cls(**args)
