"""Node parameters: YAML typing of ``<param value>`` and the temporary params files."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import cast

import yaml

ParamValue = bool | int | float | str | list[bool] | list[int] | list[float] | list[str]
_SCALARS = (bool, int, float, str)


def typed_value(text: str) -> ParamValue:
    """Type ``text`` by YAML rules as launch does: '1.5' float, 'true' bool, "'1'" str.

    Text that is not valid YAML stays a string. Lists must be non-empty and of one scalar
    type. Raises ``ValueError`` for null/empty values, mappings and other YAML types.
    """
    try:
        value: object = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    if isinstance(value, _SCALARS):
        return value
    if isinstance(value, list) and _uniform_scalars(value):
        return cast(ParamValue, value)
    if value is None:
        raise ValueError("empty or null value (write value=\"''\" for an empty string)")
    raise ValueError(
        f"'{text}' is not a parameter value (bool, int, float, str, "
        "or a non-empty list of one of these types)")


def _uniform_scalars(items: list[object]) -> bool:
    kinds = {type(item) for item in items}
    return len(kinds) == 1 and kinds <= set(_SCALARS)


def write_params_file(node_key: str, params: Mapping[str, ParamValue], directory: Path) -> Path:
    """Write ``{node_key: {ros__parameters: params}}`` to a new file in ``directory``."""
    handle, name = tempfile.mkstemp(prefix="launch_params_", suffix=".yaml", dir=directory)
    with open(handle, "w", encoding="utf-8") as stream:
        yaml.safe_dump({node_key: {"ros__parameters": dict(params)}}, stream,
                       default_flow_style=False)
    return Path(name)
