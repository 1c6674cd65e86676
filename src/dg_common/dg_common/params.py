"""Declare a node's parameters from a schema, validate them at start and on change."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rcl_interfaces.msg import (
    FloatingPointRange,
    IntegerRange,
    ParameterDescriptor,
    ParameterType,
    SetParametersResult,
)
from rclpy.exceptions import (
    InvalidParameterTypeException,
    InvalidParameterValueException,
    ParameterUninitializedException,
)
from rclpy.node import Node
from rclpy.parameter import Parameter

from dg_common.param_schema import ParameterError, ParamSpec, validate

_TYPES = {
    "bool": ParameterType.PARAMETER_BOOL,
    "int": ParameterType.PARAMETER_INTEGER,
    "float": ParameterType.PARAMETER_DOUBLE,
    "str": ParameterType.PARAMETER_STRING,
    "bool[]": ParameterType.PARAMETER_BOOL_ARRAY,
    "int[]": ParameterType.PARAMETER_INTEGER_ARRAY,
    "float[]": ParameterType.PARAMETER_DOUBLE_ARRAY,
    "str[]": ParameterType.PARAMETER_STRING_ARRAY,
}


class Params:
    """Validated parameter values with attribute access, kept current on change."""

    def __init__(self, values: dict[str, Any]) -> None:
        """Hold ``values`` (already validated)."""
        self._values = dict(values)

    def __getattr__(self, name: str) -> Any:
        """Return the current value of parameter ``name``."""
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(f"no parameter '{name}' in this node's schema") from None

    def as_dict(self) -> dict[str, Any]:
        """A copy of all values (for run reports)."""
        return dict(self._values)


def _descriptor(spec: ParamSpec) -> ParameterDescriptor:
    d = ParameterDescriptor(
        type=_TYPES[spec.kind], description=spec.description, read_only=spec.read_only)
    extra = []
    if spec.choices is not None:
        extra.append(f"one of {list(spec.choices)}")
    if spec.min_len is not None or spec.max_len is not None:
        extra.append(f"length {spec.min_len or 0}..{spec.max_len or 'inf'}")
    d.additional_constraints = "; ".join(extra)
    if spec.min is not None and spec.max is not None and not spec.kind.endswith("[]"):
        if spec.kind == "int":
            d.integer_range = [IntegerRange(from_value=int(spec.min), to_value=int(spec.max))]
        elif spec.kind == "float":
            d.floating_point_range = [
                FloatingPointRange(from_value=float(spec.min), to_value=float(spec.max))]
    return d


def declare_parameters(node: Node, schema: Iterable[ParamSpec]) -> Params:
    """Declare every parameter of ``schema`` on ``node`` and validate the values.

    Later changes (``ros2 param set``) are validated the same way and rejected with a
    clear reason; accepted changes update the returned :class:`Params`.

    Raises:
        ParameterError: naming the parameter and what is wrong with it.

    """
    specs = {s.name: s for s in schema}
    values: dict[str, Any] = {}
    for spec in specs.values():
        ptype = Parameter.Type(_TYPES[spec.kind])
        try:
            if spec.default == []:
                # rclpy infers BYTE_ARRAY from an empty list: declare by type, then set [].
                # (Read-only is then enforced by ``on_set`` below: rclpy would refuse the set.)
                descriptor = _descriptor(spec)
                descriptor.read_only = False
                param = node.declare_parameter(spec.name, ptype, descriptor)
                if param.value is None:
                    node.set_parameters([Parameter(spec.name, ptype, [])])
                    param = node.get_parameter(spec.name)
            elif spec.default is None:
                param = node.declare_parameter(spec.name, ptype, _descriptor(spec))
            else:
                param = node.declare_parameter(spec.name, spec.default, _descriptor(spec))
            value = param.value
        except ParameterUninitializedException:
            value = None
        except InvalidParameterTypeException as exc:
            raise ParameterError(
                f"parameter '{spec.name}' must be of type {spec.kind} "
                f"(write 1.0, not 1, for a float): {exc}") from None
        except InvalidParameterValueException as exc:
            raise ParameterError(f"parameter '{spec.name}': {exc}") from None
        values[spec.name] = validate(spec, value)
    params = Params(values)

    def on_set(changes: list) -> SetParametersResult:
        for p in changes:
            spec = specs.get(p.name)
            if spec is None:
                continue  # rclpy's own parameters, e.g. use_sim_time
            if spec.read_only:
                return SetParametersResult(successful=False,
                                           reason=f"parameter '{p.name}' is read-only")
            try:
                validate(spec, p.value)
            except ParameterError as exc:
                return SetParametersResult(successful=False, reason=str(exc))
        return SetParametersResult(successful=True)

    def after_set(changes: list) -> None:
        for p in changes:
            if p.name in specs:
                params._values[p.name] = validate(specs[p.name], p.value)

    node.add_on_set_parameters_callback(on_set)
    node.add_post_set_parameters_callback(after_set)
    return params
