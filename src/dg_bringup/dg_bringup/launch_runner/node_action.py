"""``<node>`` -> ``ProcessSpec``: the command line exactly as launch_ros builds it.

``exe [args] [--ros-args ros_args] --ros-args [-r __node:=name] [-r __ns:=ns]
[--params-file f ...] [-r from:=to ...]``; inline parameters go to temporary params files (one
per run of consecutive ``<param name>`` elements, so ``from`` files keep their order), keyed by
the node's full name when name and namespace are both known, else ``/**``.
"""

from __future__ import annotations

import os
from pathlib import Path

from dg_bringup.launch_runner.namespaces import (
    join_namespace,
    namespace_problem,
    node_name_problem,
)
from dg_bringup.launch_runner.packages import (
    PackageLookupError,
    package_prefix,
    package_share,
)
from dg_bringup.launch_runner.params import ParamValue, typed_value, write_params_file
from dg_bringup.launch_runner.scope import Frame
from dg_bringup.launch_runner.spec import ProcessSpec
from dg_bringup.launch_runner.xml_loader import XmlElement

DEFAULT_ENV = {"FASTDDS_BUILTIN_TRANSPORTS": "LARGE_DATA"}  # unless the user sets it
#: Fast DDS profiles file of every node (config/fastdds_profiles.xml: per-topic writer
#: settings), unless the user names another.
PROFILES_ENV = "FASTDDS_DEFAULT_PROFILES_FILE"


def default_env() -> dict[str, str]:
    """What a node's environment has unless the user's environment sets it."""
    env = dict(DEFAULT_ENV)
    try:
        profiles = package_share("dg_bringup") / "config" / "fastdds_profiles.xml"
    except PackageLookupError:
        return env
    if profiles.is_file():
        env[PROFILES_ENV] = str(profiles)
    return env
FORCED_ENV = {"PYTHONUNBUFFERED": "1"}  # output lines must arrive as they are written


def build_node(element: XmlElement, frame: Frame, params_dir: Path) -> ProcessSpec:
    """Resolve a ``<node>`` in ``frame`` (temporary params files go to ``params_dir``)."""
    package = frame.required_text(element, "pkg")
    executable = frame.required_text(element, "exec")
    try:
        path = package_prefix(package) / "lib" / package / executable
    except PackageLookupError as err:
        raise element.error(str(err), "pkg") from None
    if not path.is_file() or not os.access(path, os.X_OK):
        raise element.error(
            f"executable '{executable}' not found in package '{package}' (looked for {path})",
            "exec")
    name = frame.text(element, "name")
    if name is not None and (problem := node_name_problem(name)):
        raise element.error(problem, "name")
    namespace = frame.scope.namespace
    relative = frame.text(element, "namespace")
    if relative is not None:
        namespace = join_namespace(namespace, relative)
    if namespace is not None and (problem := namespace_problem(namespace)):
        raise element.error(problem, "namespace")

    cmd = [str(path), *(frame.argv(element, "args") or [])]
    ros_args = frame.argv(element, "ros_args")
    if ros_args is not None:
        cmd += ["--ros-args", *ros_args]
    cmd.append("--ros-args")
    if name is not None:
        cmd += ["-r", f"__node:={name}"]
    if namespace is not None:
        cmd += ["-r", f"__ns:={namespace}"]
    node_key = "/**"
    if name is not None and namespace is not None:
        node_key = f"{namespace.rstrip('/')}/{name}"
    cmd += _parameter_args(element, frame, node_key, params_dir)
    env = default_env() | frame.scope.environ
    for child in element.children:
        if child.tag == "remap":
            source, target = frame.required_text(child, "from"), frame.required_text(child, "to")
            cmd += ["-r", f"{source}:={target}"]
        elif child.tag == "env":
            env[frame.required_text(child, "name")] = frame.required_text(child, "value")
    return ProcessSpec(
        label=frame.text(element, "exec_name") or path.name,
        cmd=tuple(cmd),
        env=env | FORCED_ENV,
        required="on_exit" in element.attrib,
    )


def _parameter_args(element: XmlElement, frame: Frame, node_key: str,
                    params_dir: Path) -> list[str]:
    args: list[str] = []
    pending: dict[str, ParamValue] = {}

    def flush() -> None:
        if pending:
            args.extend(["--params-file", str(write_params_file(node_key, pending, params_dir))])
            pending.clear()

    for child in element.children:
        if child.tag != "param":
            continue
        source = frame.text(child, "from")
        if source is None:
            pending.update(_inline_params(child, frame, prefix=""))
            continue
        flush()
        if not Path(source).is_file():
            raise child.error(f"parameter file not found: {source}", "from")
        args.extend(["--params-file", source])
    flush()
    return args


def _inline_params(element: XmlElement, frame: Frame, prefix: str) -> dict[str, ParamValue]:
    """Return ``{name: value}``; nested ``<param>`` names join with '.' as launch_ros does."""
    name = prefix + frame.required_text(element, "name")
    if element.children:
        params: dict[str, ParamValue] = {}
        for child in element.children:
            params.update(_inline_params(child, frame, prefix=name + "."))
        return params
    try:
        return {name: typed_value(frame.required_text(element, "value"))}
    except ValueError as err:
        raise element.error(f"parameter '{name}': {err}", "value") from None
