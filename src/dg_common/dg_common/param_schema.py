"""Parameter schema: type, range, choices and description, validated without rclpy."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

#: Parameter kinds we support, named as in ROS parameter files.
KINDS = ("bool", "int", "float", "str", "bool[]", "int[]", "float[]", "str[]")


class ParameterError(ValueError):
    """A parameter is missing, of the wrong type or out of range."""


@dataclass(frozen=True)
class ParamSpec:
    """One parameter of a node.

    ``default=None`` makes the parameter required: it must come from a params file or
    a launch override. ``min``/``max`` bound numbers (and every element of a numeric
    array); ``min_len``/``max_len`` bound arrays; ``choices`` lists allowed values (of every
    element, for an array).
    """

    name: str
    kind: str
    description: str
    default: Any = None
    min: float | None = None
    max: float | None = None
    choices: tuple[Any, ...] | None = None
    min_len: int | None = None
    max_len: int | None = None
    read_only: bool = False

    def __post_init__(self) -> None:
        """Reject malformed specs early (a programming error, not a user error)."""
        if self.kind not in KINDS:
            raise TypeError(
                f"parameter '{self.name}': unknown kind '{self.kind}', use one of {KINDS}")
        if self.default is not None:
            validate(self, self.default)


def _check_scalar(spec: ParamSpec, kind: str, value: Any, where: str) -> Any:
    if kind == "bool":
        if not isinstance(value, bool):
            raise ParameterError(f"{where} must be a bool (true/false), got {value!r}")
        return value
    if kind == "str":
        if not isinstance(value, str):
            raise ParameterError(f"{where} must be a string, got {value!r}")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ParameterError(f"{where} must be a {kind}, got {value!r}")
    if kind == "int":
        if not isinstance(value, int):
            raise ParameterError(f"{where} must be an integer, got {value!r}")
    else:
        value = float(value)
        if not math.isfinite(value):
            raise ParameterError(f"{where} must be finite, got {value!r}")
    if spec.min is not None and value < spec.min:
        raise ParameterError(f"{where} = {value} is below the minimum {spec.min}")
    if spec.max is not None and value > spec.max:
        raise ParameterError(f"{where} = {value} is above the maximum {spec.max}")
    return value


def validate(spec: ParamSpec, value: Any) -> Any:
    """Return ``value`` normalised (ints widened to float where a float is expected).

    Raises:
        ParameterError: with a message naming the parameter, the rule and the value.

    """
    where = f"parameter '{spec.name}'"
    if value is None:
        raise ParameterError(
            f"{where} is required ({spec.description}); set it in a params file")
    if spec.kind.endswith("[]"):
        if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
            raise ParameterError(f"{where} must be a list of {spec.kind[:-2]}, got {value!r}")
        items = [_check_scalar(spec, spec.kind[:-2], v, f"{where}[{i}]")
                 for i, v in enumerate(value)]
        if spec.choices is not None:
            bad = [v for v in items if v not in spec.choices]
            if bad:
                raise ParameterError(f"{where}: {bad!r} not allowed; each element must be "
                                     f"one of {list(spec.choices)}")
        n = len(items)
        if spec.min_len is not None and n < spec.min_len:
            raise ParameterError(f"{where} needs at least {spec.min_len} elements, got {n}")
        if spec.max_len is not None and n > spec.max_len:
            raise ParameterError(f"{where} allows at most {spec.max_len} elements, got {n}")
        value = items
    else:
        value = _check_scalar(spec, spec.kind, value, where)
        if spec.choices is not None and value not in spec.choices:
            raise ParameterError(f"{where} = {value!r} is not one of {list(spec.choices)}")
    return value


def read_only_param(name: str, kind: str, description: str, default: Any,
                    lo: float | None = None, hi: float | None = None, **kw: Any) -> ParamSpec:
    """A read-only (set at start) :class:`ParamSpec`, range ``[lo, hi]``, in one line.

    The short form of a node's schema entries; ``kw`` are further ParamSpec fields
    (``choices``, ``min_len``, ...).
    """
    return ParamSpec(name, kind, description, default=default, min=lo, max=hi,
                     read_only=True, **kw)
