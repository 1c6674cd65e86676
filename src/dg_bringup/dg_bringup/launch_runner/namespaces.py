"""ROS namespace joining and name validation, with launch_ros semantics."""

from __future__ import annotations

import re

_TOKEN = r"[A-Za-z_][A-Za-z0-9_]*"
_NAMESPACE = re.compile(rf"/|(/{_TOKEN})+")
_NODE_NAME = re.compile(_TOKEN)


def join_namespace(base: str | None, namespace: str) -> str:
    """Join like launch_ros ``prefix_namespace``: ``a`` + ``b`` -> ``/a/b``; ``/x`` stays ``/x``.

    ``base`` is the namespace pushed so far (None: none). The result is absolute, without a
    trailing ``/``.
    """
    if not base or namespace.startswith("/"):
        combined = namespace
    else:
        combined = ("" if base == "/" else base) + "/" + namespace
    if combined != "/":
        combined = combined.rstrip("/")
    return combined if combined.startswith("/") else "/" + combined


def namespace_problem(namespace: str) -> str | None:
    """Return why ``namespace`` (absolute) is not a valid ROS namespace, or None if it is."""
    if _NAMESPACE.fullmatch(namespace):
        return None
    return (f"invalid namespace '{namespace}': tokens must be letters, digits and '_', "
            "not start with a digit, separated by single '/'")


def node_name_problem(name: str) -> str | None:
    """Return why ``name`` is not a valid ROS node name, or None if it is."""
    if _NODE_NAME.fullmatch(name):
        return None
    return (f"invalid node name '{name}': use letters, digits and '_', "
            "not starting with a digit")
