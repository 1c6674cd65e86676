"""Launch runner pieces without processes: substitutions, argv splitting, namespaces, params."""

from __future__ import annotations

from pathlib import Path

import pytest

from dg_bringup.launch_runner.cmdline import split_cmdline
from dg_bringup.launch_runner.namespaces import join_namespace, namespace_problem
from dg_bringup.launch_runner.params import typed_value
from dg_bringup.launch_runner.substitutions import (
    Call,
    SubstitutionContext,
    SubstitutionError,
    evaluate,
    parse,
    values_equal,
)


def context(**configs: str) -> SubstitutionContext:
    return SubstitutionContext(configs, {"HOME_DIR": "/home/me"}, Path("/ws/launch/a.launch.xml"),
                               {})


@pytest.mark.parametrize(("text", "expected"), [
    ("plain text", "plain text"),
    ("$(var x)_$(env HOME_DIR)", "1_/home/me"),
    ("$(var nope 'default value')", "default value"),
    ("$(env NOPE '')", ""),
    ("$(env NOPE \"x $(var x)\")", "x 1"),
    ("$(var $(var key))", "1"),
    ("$(dirname)/b.launch.xml", "/ws/launch/b.launch.xml"),
    ("$(equals $(var x) true)", "true"),
    ("$(equals 2 2.0)", "true"),
    ("$(not-equals abc abd)", "true"),
    ("quote ' and \\$ and \\\\", "quote ' and $ and \\"),
])
def test_evaluate(text: str, expected: str) -> None:
    assert evaluate(parse(text), context(x="1", key="x")) == expected


def test_parse_structure() -> None:
    assert parse("a$(var b 'c d')e") == ["a", Call("var", (("b",), ("c d",))), "e"]


@pytest.mark.parametrize(("text", "message"), [
    ("$(eval 1 + 1)", r"unsupported substitution '\$\(eval\)'"),
    ("$(var)", r"expects 1 or 2 argument"),
    ("$(dirname x)", r"expects 0 argument"),
    ("$(var x", r"unterminated substitution"),
    ("$(var 'x)", r"unterminated '-quoted argument"),
    ("$(var  x)", r"empty substitution argument"),
    ("$(var a'b)", r"unexpected \"'\""),
    ("5$", r"must be escaped"),
    ("$(1abc)", r"expected a substitution name"),
])
def test_parse_errors(text: str, message: str) -> None:
    with pytest.raises(SubstitutionError, match=message):
        parse(text)


def test_missing_values_are_errors() -> None:
    with pytest.raises(SubstitutionError, match=r"launch configuration 'x' does not exist"):
        evaluate(parse("$(var x)"), context())
    with pytest.raises(SubstitutionError, match=r"environment variable 'NOPE' does not exist"):
        evaluate(parse("$(env NOPE)"), context())


def test_equals_like_launch() -> None:
    assert values_equal("True", "1") and values_equal("0", "false")
    assert values_equal("1.0", "1") and not values_equal("a", "A")


@pytest.mark.parametrize(("text", "expected"), [
    ("--a 1 --b 'two words'", ["--a", "1", "--b", "two words"]),
    ("--dir $(var d)/sub $(var d) x", ["--dir", "/x y/sub", "/x y", "x"]),
    ("$(var d)$(var d)", ["/x y/x y"]),
    ("  ", []),
])
def test_split_cmdline_keeps_substitution_results_whole(text: str, expected: list[str]) -> None:
    assert split_cmdline(parse(text), context(d="/x y")) == expected


@pytest.mark.parametrize(("base", "namespace", "expected"), [
    (None, "a", "/a"),
    ("/a", "b", "/a/b"),
    ("/a", "/b", "/b"),
    ("/", "b/", "/b"),
    (None, "", "/"),
    ("/a/b", "c/d", "/a/b/c/d"),
])
def test_join_namespace(base: str | None, namespace: str, expected: str) -> None:
    assert join_namespace(base, namespace) == expected
    assert namespace_problem(expected) is None


def test_namespace_problems() -> None:
    assert namespace_problem("/a//b") and namespace_problem("/1a") and namespace_problem("/a-b")


@pytest.mark.parametrize(("text", "expected"), [
    ("1.5", 1.5), ("3", 3), ("true", True), ("False", False), ("'1'", "1"), ("abc", "abc"),
    ("[1.0, 2.0]", [1.0, 2.0]), ("[a, b]", ["a", "b"]), ("a: b: c", "a: b: c"),
])
def test_param_values_are_typed_by_yaml(text: str, expected: object) -> None:
    value = typed_value(text)
    assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize("text", ["", "~", "[]", "[1, 2.0]", "{a: 1}", "a: 1"])
def test_param_values_without_a_ros_type_are_errors(text: str) -> None:
    with pytest.raises(ValueError):
        typed_value(text)
