"""What the evaluator hands to the supervisor: one fully resolved process per node."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class ProcessSpec:
    """A node ready to start: output label, exact argv, environment, and ``on_exit``."""

    label: str  # prefix of output lines before the process number, e.g. 'talker' -> talker-1
    cmd: tuple[str, ...]
    env: Mapping[str, str]
    required: bool = False  # on_exit="shutdown": its exit ends the launch
