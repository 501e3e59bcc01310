"""Errors of the configuration dataclasses, told in the command line's words."""

from __future__ import annotations

import re
from typing import Any


def as_flags(err: ValueError, config: str) -> ValueError:
    """``err`` with each ``<config>.<field>`` named as its flag ``--<field-with-dashes>``.

    The search and pre-training configurations validate their own fields; a CLI user set
    them as flags, so the message should name those (``--max-batches``, not
    ``PretrainConfig.max_batches``).
    """
    text = re.sub(rf"\b{config}\.(\w+)", lambda m: "--" + m[1].replace("_", "-"), str(err))
    return ValueError(text)


def check_supernet_flags(space: str, args: Any) -> None:
    """The supernet's size flags, checked before any data is read.

    ``--space darts``: ``--channels``, ``--cells`` and ``--pc-k`` (where the command has
    it); ``--space proxyless``: ``--width-mult``. The supernets apply the same rules
    when they are built; this names the flags and runs first.
    """
    if space == "darts":
        from nas_gym.supernets.darts import SHAPE_FLAGS, check_shape

        check_shape(args.channels, args.cells, getattr(args, "pc_k", None), SHAPE_FLAGS)
    elif space == "proxyless":
        from nas_gym.supernets.mobilenet import check_width_mult

        check_width_mult(args.width_mult, "--width-mult")
