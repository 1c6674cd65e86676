"""The supported subset of the ROS 2 XML launch format, checked before anything runs.

Like launch's frontend, a whole file is checked when it is read (unknown tags, attributes or
substitutions are errors even inside a group whose condition is false); included files are
read and checked when the include is reached. Tag spellings follow launch / launch_ros:
``push-ros-namespace`` and ``push_ros_namespace`` (both exposed by launch_ros), ``set_env``
(the only spelling launch exposes).
"""

from __future__ import annotations

from dataclasses import dataclass

from dg_bringup.launch_runner.substitutions import SubstitutionError, parse
from dg_bringup.launch_runner.xml_loader import XmlElement


@dataclass(frozen=True)
class Rule:
    """Allowed attributes and children of one tag."""

    substituted: frozenset[str] = frozenset()  # attributes whose values take $(...)
    literal: frozenset[str] = frozenset()  # attributes taken as written
    required: frozenset[str] = frozenset()
    children: frozenset[str] | None = frozenset()  # None: any action
    action: bool = True  # actions accept if/unless


def _rule(substituted: str = "", literal: str = "", required: str = "",
          children: str | None = "", action: bool = True) -> Rule:
    return Rule(frozenset(substituted.split()), frozenset(literal.split()),
                frozenset(required.split()),
                None if children is None else frozenset(children.split()), action)


ROOT = _rule(literal="deprecated", children=None, action=False)
_PUSH_NAMESPACE = _rule("namespace", required="namespace")
ACTIONS: dict[str, Rule] = {
    "arg": _rule("default", "name description", "name", "choice"),
    "let": _rule("name value", required="name value"),
    "set_env": _rule("name value", required="name value"),
    "push-ros-namespace": _PUSH_NAMESPACE,
    "push_ros_namespace": _PUSH_NAMESPACE,
    "group": _rule(literal="scoped", children=None),
    "include": _rule("file", required="file", children="arg let"),
    "node": _rule("pkg exec name namespace exec_name args ros_args", "output on_exit",
                  "pkg exec", "param remap env"),
}
_NAME_VALUE = _rule("name value", required="name value", action=False)
_PARAM = _rule("name value from", children="param", action=False)
_NESTED_PARAM = _rule("name value", required="name", children="param", action=False)
NESTED: dict[tuple[str, str], Rule] = {
    ("arg", "choice"): _rule(literal="value", required="value", action=False),
    ("include", "arg"): _NAME_VALUE,
    ("include", "let"): _NAME_VALUE,
    ("node", "env"): _NAME_VALUE,
    ("node", "remap"): _rule("from to", required="from to", action=False),
    ("node", "param"): _PARAM,
    ("param", "param"): _NESTED_PARAM,
}
OUTPUTS = ("screen", "log", "both")


def validate(root: XmlElement) -> None:
    """Raise ``LaunchError`` (file, line, tag, attribute) unless ``root`` is in the subset."""
    if root.tag != "launch":
        raise root.error("the root element must be <launch>")
    _check(root, ROOT)


def _check(element: XmlElement, rule: Rule) -> None:
    allowed = rule.substituted | rule.literal | ({"if", "unless"} if rule.action else set())
    for attr in element.attrib:
        if attr not in allowed:
            raise element.error(
                f"unsupported attribute (supported: {', '.join(sorted(allowed)) or 'none'})",
                attr)
    missing = sorted(rule.required - element.attrib.keys())
    if missing:
        raise element.error("is required", missing[0])
    if "if" in element.attrib and "unless" in element.attrib:
        raise element.error("'if' and 'unless' cannot be used together")
    if element.text.strip():
        raise element.error(f"unexpected text '{element.text.strip()}'")
    for attr in (rule.substituted | {"if", "unless"}) & element.attrib.keys():
        try:
            parse(element.attrib[attr])
        except SubstitutionError as err:
            raise element.error(str(err), attr) from None
    _check_specifics(element)
    for child in element.children:
        _check(child, _child_rule(element, child, rule))


def _child_rule(parent: XmlElement, child: XmlElement, rule: Rule) -> Rule:
    if rule.children is None:
        if child.tag in ACTIONS:
            return ACTIONS[child.tag]
        supported = ", ".join(f"<{tag}>" for tag in sorted(ACTIONS))
        raise child.error(f"unsupported tag (supported here: {supported})")
    if child.tag not in rule.children:
        supported = ", ".join(f"<{tag}>" for tag in sorted(rule.children)) or "none"
        raise child.error(f"unsupported tag inside <{parent.tag}> (supported: {supported})")
    return NESTED[(parent.tag, child.tag)]


def _check_specifics(element: XmlElement) -> None:
    attrib = element.attrib
    if element.tag == "node":
        if attrib.get("output", "screen") not in OUTPUTS:
            raise element.error(f"must be one of {', '.join(OUTPUTS)}", "output")
        if attrib.get("on_exit", "shutdown") != "shutdown":
            raise element.error("only 'shutdown' is supported", "on_exit")
    elif element.tag == "group":
        if attrib.get("scoped", "true").lower() not in ("true", "false"):
            raise element.error("must be 'true' or 'false'", "scoped")
    elif element.tag == "param":
        _check_param(element)


def _check_param(element: XmlElement) -> None:
    has = element.attrib.keys()
    if ("name" in has) == ("from" in has):
        raise element.error("needs exactly one of 'name' (a value) or 'from' (a params file)")
    if "from" in has and ("value" in has or element.children):
        raise element.error("'from' cannot be combined with 'value' or nested <param>")
    if "name" in has and ("value" in has) == bool(element.children):
        raise element.error("needs exactly one of 'value' or nested <param> elements")
