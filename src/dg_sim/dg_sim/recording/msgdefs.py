"""Complete ROS 2 message definitions in rosbag2's ``ros2msg`` schema format (pure).

The format is the one rosbag2's MCAP storage writes as each schema's data
(rosbag2_cpp ``LocalMessageDefinitionSource::get_full_text``; docs/message_definition_encoding.md
in ros2/rosbag2): the root type's ``.msg`` file verbatim, then for every dependency, depth
first in sorted order and each only once, a newline, a line of 80 ``=``, a line
``MSG: <pkg>/<Type>`` (the name as written in the referring ``.msg``, an unqualified name
prefixed with the referring package) and that type's ``.msg`` file verbatim. Dependencies
are found with rosbag2's regular expression, so the result is byte-identical to what
``ros2 bag record -s mcap`` stores.

Deliberate difference: ``wstring`` counts as a primitive (rosbag2 misses it, fails to find
``<pkg>/wstring`` and falls back to IDL). Types that only have an ``.idl`` definition are
refused with :class:`MessageDefinitionError` (rosbag2 would store a ``ros2idl`` schema, which
mcap-ros2-support cannot decode).
"""

from __future__ import annotations

import functools
import os
import re

from ament_index_python.packages import PackageNotFoundError, get_package_share_directory

#: Line that starts each dependency's block.
SEPARATOR = "=" * 80

#: rosbag2's MSG_FIELD_TYPE_REGEX: the type of each field or constant line.
_FIELD_TYPE = re.compile(r"(?:^|\n)\s*([a-zA-Z0-9_/]+)(?:\[[^\]]*\])?\s+")
#: ``pkg/Type`` or ``pkg/msg/Type`` (rosbag2's PACKAGE_TYPENAME_REGEX).
_TYPE_NAME = re.compile(r"^([a-zA-Z0-9_]+)/(?:msg/)?([a-zA-Z0-9_]+)$")
#: rosbag2's PRIMITIVE_TYPES plus ``wstring``.
_PRIMITIVES = frozenset((
    "bool", "byte", "char", "float32", "float64", "int8", "uint8", "int16", "uint16",
    "int32", "uint32", "int64", "uint64", "string", "wstring"))
#: rosbag2's ROSBAG2_CPP_LOCAL_MESSAGE_DEFINITION_SOURCE_MAX_RECURSION_DEPTH.
_MAX_DEPTH = 50


class MessageDefinitionError(LookupError):
    """The definition of a message type cannot be built; the message says why."""


def _split(type_name: str) -> tuple[str, str]:
    match = _TYPE_NAME.match(type_name)
    if match is None:
        raise MessageDefinitionError(
            f"'{type_name}' is not a message type name like 'geometry_msgs/msg/Twist'")
    return match[1], match[2]


@functools.cache
def _msg_text(type_name: str) -> str:
    """The ``.msg`` file of ``type_name`` (``pkg/Type`` or ``pkg/msg/Type``), verbatim."""
    package, name = _split(type_name)
    try:
        share = get_package_share_directory(package)
    except PackageNotFoundError:
        raise MessageDefinitionError(
            f"package '{package}' of '{type_name}' is not in the ament index "
            f"(AMENT_PREFIX_PATH={os.environ.get('AMENT_PREFIX_PATH', '')!r})") from None
    path = os.path.join(share, "msg", f"{name}.msg")
    try:
        with open(path, encoding="utf-8", newline="") as f:
            return f.read()
    except FileNotFoundError:
        idl = os.path.join(share, "msg", f"{name}.idl")
        if os.path.isfile(idl):
            raise MessageDefinitionError(
                f"'{type_name}' is defined only in IDL ({idl}); ros2idl schemas are not "
                "supported, so this type cannot be recorded") from None
        raise MessageDefinitionError(f"no definition of '{type_name}': {path} is missing") from None


def _dependencies(text: str, package: str) -> list[str]:
    """Sorted, unique non-primitive field types of a ``.msg`` text, package-qualified."""
    deps = set()
    for match in _FIELD_TYPE.finditer(text):
        field_type = match[1]
        if field_type in _PRIMITIVES:
            continue
        deps.add(field_type if "/" in field_type else f"{package}/{field_type}")
    return sorted(deps)


@functools.cache
def full_message_definition(type_name: str) -> str:
    """The ``ros2msg`` schema text of ``type_name`` (e.g. ``nav_msgs/msg/Odometry``).

    Results are cached per type name for the life of the process.

    Raises:
        MessageDefinitionError: for a malformed name, a package missing from the ament
            index, a missing ``.msg`` file (naming an ``.idl``-only type as such) or a
            dependency chain deeper than rosbag2 accepts.

    """
    seen: set[str] = set()

    def append(name: str, depth: int) -> str:
        if depth <= 0:
            raise MessageDefinitionError(
                f"dependencies of '{type_name}' nest deeper than {_MAX_DEPTH} levels")
        text = _msg_text(name)
        parts = [text]
        for dep in _dependencies(text, _split(name)[0]):
            if dep not in seen:
                seen.add(dep)
                parts.append(f"\n{SEPARATOR}\nMSG: {dep}\n")
                parts.append(append(dep, depth - 1))
        return "".join(parts)

    return append(type_name, _MAX_DEPTH)


def clear_cache() -> None:
    """Forget cached definitions (after packages were installed or AMENT_PREFIX_PATH changed)."""
    full_message_definition.cache_clear()
    _msg_text.cache_clear()
