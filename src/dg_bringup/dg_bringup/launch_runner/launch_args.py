"""Command-line launch arguments: ``name:=value`` tokens, as ``ros2 launch`` accepts them."""

from __future__ import annotations

from collections.abc import Sequence

from dg_bringup.launch_runner.errors import LaunchError


def parse_launch_args(argv: Sequence[str]) -> dict[str, str]:
    """Return ``{name: value}`` for tokens ``name:=value`` (a later duplicate wins).

    Raises ``LaunchError`` for a token without ``:=`` or with an empty or blank name.
    """
    args: dict[str, str] = {}
    for token in argv:
        name, separator, value = token.partition(":=")
        if not separator or not name or any(c.isspace() for c in name):
            raise LaunchError(
                f"malformed launch argument '{token}', expected format '<name>:=<value>'")
        args[name] = value
    return args
