"""Walk a launch file in order, as launch would execute it, and collect the processes to start.

Everything is resolved before any process starts, so a mistake anywhere in the launch files is
reported before anything runs. Scoping follows launch: a ``<group>`` is scoped by default
(launch configurations, environment and pushed namespace set inside it are dropped at its end);
an ``<include>`` is not (the included file acts as if written in place, so its ``<let>``s and
the include's ``<arg>`` values stay visible afterwards).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping
from pathlib import Path

from dg_bringup.launch_runner.errors import LaunchError
from dg_bringup.launch_runner.namespaces import join_namespace, namespace_problem
from dg_bringup.launch_runner.node_action import build_node
from dg_bringup.launch_runner.schema import validate
from dg_bringup.launch_runner.scope import Frame, Scope, unescape
from dg_bringup.launch_runner.spec import ProcessSpec
from dg_bringup.launch_runner.xml_loader import XmlElement, load_xml

MAX_INCLUDE_DEPTH = 32


def load_launch(path: Path, launch_args: Mapping[str, str], *, environ: Mapping[str, str],
                params_dir: Path, warn: Callable[[str], None]) -> list[ProcessSpec]:
    """Return the processes ``path`` starts with ``launch_args``, in launch order.

    ``environ`` is what ``$(env)`` reads and what nodes inherit; temporary params files are
    written to ``params_dir``; ``warn`` receives non-fatal notes. Raises ``LaunchError``.
    """
    evaluator = _Evaluator(params_dir, warn)
    evaluator.run_file(path, Scope(dict(launch_args), dict(environ)), given=launch_args.keys())
    return evaluator.specs


class _Evaluator:
    def __init__(self, params_dir: Path, warn: Callable[[str], None]) -> None:
        self.specs: list[ProcessSpec] = []
        self._params_dir = params_dir
        self._warn = warn
        self._anon: dict[str, str] = {}
        self._depth = 0
        self._handlers: dict[str, Callable[[XmlElement, Frame], None]] = {
            "arg": self._arg,
            "let": self._let,
            "set_env": self._set_env,
            "push-ros-namespace": self._push_namespace,
            "push_ros_namespace": self._push_namespace,
            "group": self._group,
            "include": self._include,
            "node": self._node,
        }

    def run_file(self, path: Path, scope: Scope, given: Collection[str]) -> None:
        root = load_xml(path)
        validate(root)
        _check_required_args(root, given)
        if "deprecated" in root.attrib:
            self._warn(f"{path} is deprecated: {unescape(root.attrib['deprecated'])}")
        self._actions(root.children, Frame(path, scope, self._anon))

    def _actions(self, elements: list[XmlElement], frame: Frame) -> None:
        for element in elements:
            if frame.enabled(element):
                self._handlers[element.tag](element, frame)

    def _arg(self, element: XmlElement, frame: Frame) -> None:
        name = frame.literal(element, "name")
        configs = frame.scope.configs
        if name not in configs:
            default = frame.text(element, "default")
            if default is None:
                raise element.error(f"required launch argument '{name}' was not provided")
            configs[name] = default
        choices = [frame.literal(choice, "value") for choice in element.children]
        if choices and configs[name] not in choices:
            raise element.error(f"argument '{name}' is '{configs[name]}', which is not one of: "
                                f"{', '.join(choices)}")

    def _let(self, element: XmlElement, frame: Frame) -> None:
        name = frame.required_text(element, "name")
        frame.scope.configs[name] = frame.required_text(element, "value")

    def _set_env(self, element: XmlElement, frame: Frame) -> None:
        name = frame.required_text(element, "name")
        frame.scope.environ[name] = frame.required_text(element, "value")

    def _push_namespace(self, element: XmlElement, frame: Frame) -> None:
        pushed = frame.required_text(element, "namespace")
        namespace = join_namespace(frame.scope.namespace, pushed)
        if problem := namespace_problem(namespace):
            raise element.error(f"pushing '{pushed}' onto '{frame.scope.namespace}': {problem}",
                                "namespace")
        frame.scope.namespace = namespace

    def _group(self, element: XmlElement, frame: Frame) -> None:
        scoped = frame.literal(element, "scoped", "true").lower() == "true"
        self._actions(element.children, frame.with_scope(frame.scope.copy()) if scoped else frame)

    def _include(self, element: XmlElement, frame: Frame) -> None:
        path = Path(frame.required_text(element, "file"))
        if not path.name.endswith(".xml"):
            raise element.error(f"'{path}': only XML launch files are supported", "file")
        if not path.is_file():
            raise element.error(f"launch file not found: {path}", "file")
        given = []
        for arg in element.children:
            name = frame.required_text(arg, "name")
            frame.scope.configs[name] = frame.required_text(arg, "value")
            given.append(name)
        if self._depth >= MAX_INCLUDE_DEPTH:
            raise element.error("includes are nested too deeply (does a file include itself?)")
        self._depth += 1
        try:
            self.run_file(path, frame.scope, given)
        finally:
            self._depth -= 1

    def _node(self, element: XmlElement, frame: Frame) -> None:
        self.specs.append(build_node(element, frame, self._params_dir))


def _check_required_args(root: XmlElement, given: Collection[str]) -> None:
    """Report all unconditional ``<arg>``s without default that were not given, at once."""
    missing = [arg for arg in _required_args(root) if unescape(arg.attrib["name"]) not in given]
    if missing:
        listed = ", ".join(
            f"'{unescape(arg.attrib['name'])}' "
            f"({unescape(arg.attrib.get('description', 'no description given'))})"
            for arg in missing)
        raise LaunchError(
            f"{root.file}: required launch argument(s) not provided: {listed} (give them as "
            "name:=value on the command line, or as <arg name=... value=...> in the <include>)")


def _required_args(element: XmlElement, conditional: bool = False) -> Iterator[XmlElement]:
    for child in element.children:
        child_conditional = conditional or "if" in child.attrib or "unless" in child.attrib
        if child.tag == "group":
            yield from _required_args(child, child_conditional)
        elif child.tag == "arg" and not child_conditional and "default" not in child.attrib:
            yield child
