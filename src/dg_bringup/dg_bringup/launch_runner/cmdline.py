"""Split an ``args``/``ros_args`` attribute into argv items, as launch's ``_parse_cmdline`` does.

Literal text is split shell-style (``shlex``); a substitution's result is never split, and text
glued to a substitution without whitespace joins it into one argument (``$(var dir)/file``).
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence

from dg_bringup.launch_runner.substitutions import (
    Part,
    SubstitutionContext,
    SubstitutionError,
    evaluate,
)


def split_cmdline(parts: Sequence[Part], context: SubstitutionContext) -> list[str]:
    """Return the argv items of a parsed attribute value, substitutions evaluated."""
    groups: list[list[Part]] = []
    current: list[Part] = []

    def close() -> None:
        nonlocal current
        if current:
            groups.append(current)
        current = []

    for part in parts:
        if not isinstance(part, str):
            current.append(part)
            continue
        try:
            tokens = shlex.split(part)
        except ValueError as err:
            raise SubstitutionError(f"cannot split '{part}' into arguments: {err}") from None
        if not tokens:
            close()
            continue
        if part[0].isspace():
            close()
        current.append(tokens[0])
        if len(tokens) > 1:
            close()
            groups.extend([token] for token in tokens[1:-1])
            current = [tokens[-1]]
        if part[-1].isspace():
            close()
    close()
    return [evaluate(group, context) for group in groups]
