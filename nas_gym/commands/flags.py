"""Errors of the configuration dataclasses, told in the command line's words."""

from __future__ import annotations

import re


def as_flags(err: ValueError, config: str) -> ValueError:
    """``err`` with each ``<config>.<field>`` named as its flag ``--<field-with-dashes>``.

    The search and pre-training configurations validate their own fields; a CLI user set
    them as flags, so the message should name those (``--max-batches``, not
    ``PretrainConfig.max_batches``).
    """
    text = re.sub(rf"\b{config}\.(\w+)", lambda m: "--" + m[1].replace("_", "-"), str(err))
    return ValueError(text)
