"""Parameter schema: type, range, choices and description, validated without rclpy.

A parameter that feeds a field of a core's config takes its default from that field
(:func:`core_default`), so the default has one source; the spec remembers where it came
from (``ParamSpec.source``), and tests/test_workspace.py checks every node against it.
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
import math
from dataclasses import dataclass, field
from typing import Any

#: Parameter kinds we support, named as in ROS parameter files.
KINDS = ("bool", "int", "float", "str", "bool[]", "int[]", "float[]", "str[]")


class ParameterError(ValueError):
    """A parameter is missing, of the wrong type or out of range."""


@dataclass(frozen=True)
class CoreDefault:
    """The default of a core's setting, read where the core defines it.

    ``path`` names a field of the dataclass ``owner``, or a keyword argument of the class
    (or function) ``owner``; a dotted ``path`` reaches into a field's default value
    (``"gnss.timeout_s"``: the ``timeout_s`` of the ``gnss`` field's default). Give it as a
    :class:`ParamSpec` default.
    """

    owner: Any
    path: str

    def value(self) -> Any:
        """The default, as a parameter holds it (an enum as its value, a tuple as a list).

        Raises:
            TypeError: ``path`` names no field / argument, or one without a default.

        """
        first, *rest = self.path.split(".")
        where = f"{getattr(self.owner, '__qualname__', self.owner)}.{first}"
        if dataclasses.is_dataclass(self.owner):
            fields = {f.name: f for f in dataclasses.fields(self.owner)}
            if first not in fields:
                raise TypeError(f"{where}: no such field")
            f = fields[first]
            if f.default is not dataclasses.MISSING:
                value = f.default
            elif f.default_factory is not dataclasses.MISSING:
                value = f.default_factory()
            else:
                raise TypeError(f"{where} has no default")
        else:
            arg = inspect.signature(self.owner).parameters.get(first)
            if arg is None or arg.default is inspect.Parameter.empty:
                raise TypeError(f"{where}: no such argument with a default")
            value = arg.default
        for name in rest:
            value = getattr(value, name)
        return _as_parameter(value)


def _as_parameter(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (tuple, list)):
        return [_as_parameter(v) for v in value]
    return value


def core_default(owner: Any, path: str) -> CoreDefault:
    """The default of ``owner``'s ``path`` (see :class:`CoreDefault`), as a spec's default."""
    return CoreDefault(owner, path)


@dataclass(frozen=True)
class ParamSpec:
    """One parameter of a node.

    ``default=None`` makes the parameter required: it must come from a params file or
    a launch override. A :class:`CoreDefault` default is read from the core (and kept in
    ``source``). ``min``/``max`` bound numbers (and every element of a numeric array);
    ``min_len``/``max_len`` bound arrays; ``choices`` lists allowed values (of every
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
    #: Where the default was read from (None: written in the schema).
    source: CoreDefault | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        """Resolve a core default; reject malformed specs (a programming error)."""
        if self.kind not in KINDS:
            raise TypeError(
                f"parameter '{self.name}': unknown kind '{self.kind}', use one of {KINDS}")
        if isinstance(self.default, CoreDefault):
            object.__setattr__(self, "source", self.default)
            default = self.default.value()
            # widened as declared: an int field default of a float parameter becomes a float
            object.__setattr__(self, "default",
                               None if default is None else validate(self, default))
        elif self.default is not None:
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
