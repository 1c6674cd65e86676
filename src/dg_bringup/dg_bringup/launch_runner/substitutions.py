r"""Substitutions in attribute values: ``$(name arg ...)``, parsed and evaluated like launch does.

Grammar (launch/frontend/grammar.lark): outside a substitution everything is text, ``\x`` is
``x``, and a ``$`` that does not open ``$(`` must be escaped. Inside ``$(name a b)`` the
arguments are separated by single spaces; an argument is either unquoted (no spaces, quotes or
parentheses; may embed substitutions, e.g. ``$(var x)_suffix``) or a single- or double-quoted
string that may hold spaces and substitutions (``'$(var a) b'``, ``''`` for an empty value).
"""

from __future__ import annotations

import math
import os
import random
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from dg_bringup.launch_runner.packages import PackageLookupError, package_prefix, package_share


class SubstitutionError(ValueError):
    """A substitution that cannot be parsed or evaluated (the caller adds file and attribute)."""


@dataclass(frozen=True)
class Call:
    """One ``$(name args...)``; each argument is itself a list of text and calls."""

    name: str
    args: tuple[tuple[Part, ...], ...]


Part = str | Call

# name -> (fewest, most) arguments
ARITY: dict[str, tuple[int, int]] = {
    "var": (1, 2),
    "env": (1, 2),
    "find-pkg-share": (1, 1),
    "find-pkg-prefix": (1, 1),
    "dirname": (0, 0),
    "equals": (2, 2),
    "not-equals": (2, 2),
    "anon": (1, 1),
}

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")


@dataclass
class SubstitutionContext:
    """What substitutions read: launch configurations, environment, current file, anon names."""

    configs: Mapping[str, str]
    environ: Mapping[str, str]
    launch_file: Path
    anon: dict[str, str]


class _Parser:
    """Recursive-descent parser over one attribute value."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def template(self) -> list[Part]:
        parts: list[Part] = []
        buffer: list[str] = []
        while self.pos < len(self.text):
            self._plain_char(buffer, parts, stop="")
        _flush(buffer, parts)
        return parts

    def _plain_char(self, buffer: list[str], parts: list[Part], stop: str) -> bool:
        """Consume one char (escape, substitution or text); False when it is in ``stop``."""
        char = self.text[self.pos]
        if char in stop:
            return False
        if char == "\\" and self.pos + 1 < len(self.text):
            buffer.append(self.text[self.pos + 1])
            self.pos += 2
        elif char == "$":
            if not self.text.startswith("$(", self.pos):
                raise self._error("a '$' that does not start '$(' must be escaped as '\\$'")
            _flush(buffer, parts)
            parts.append(self._call())
        else:
            buffer.append(char)
            self.pos += 1
        return True

    def _call(self) -> Call:
        start = self.pos
        self.pos += 2
        match = _NAME.match(self.text, self.pos)
        if match is None:
            raise self._error("expected a substitution name after '$('")
        name = match.group()
        self.pos = match.end()
        args: list[tuple[Part, ...]] = []
        while self.pos < len(self.text) and self.text[self.pos] == " ":
            self.pos += 1
            args.append(tuple(self._argument()))
        if self.pos >= len(self.text):
            raise SubstitutionError(f"unterminated substitution '{self.text[start:]}'")
        if self.text[self.pos] != ")":
            raise self._error(f"unexpected {self.text[self.pos]!r} in '$({name} ...)'")
        self.pos += 1
        if name not in ARITY:
            raise SubstitutionError(
                f"unsupported substitution '$({name})' (supported: {', '.join(sorted(ARITY))})")
        fewest, most = ARITY[name]
        if not fewest <= len(args) <= most:
            expected = str(fewest) if fewest == most else f"{fewest} or {most}"
            raise SubstitutionError(
                f"'$({name})' expects {expected} argument(s), got {len(args)}")
        return Call(name, tuple(args))

    def _argument(self) -> list[Part]:
        if self.pos < len(self.text) and self.text[self.pos] in "'\"":
            return self._quoted(self.text[self.pos])
        parts: list[Part] = []
        buffer: list[str] = []
        while self.pos < len(self.text) and self._plain_char(buffer, parts, stop=" )'\"("):
            pass
        if self.pos < len(self.text) and self.text[self.pos] in "'\"(":
            raise self._error(
                f"unexpected {self.text[self.pos]!r} in a substitution argument (quote it)")
        _flush(buffer, parts)
        if not parts:
            raise self._error("empty substitution argument (use '' for an empty value)")
        return parts

    def _quoted(self, quote: str) -> list[Part]:
        self.pos += 1
        parts: list[Part] = []
        buffer: list[str] = []
        while self.pos < len(self.text):
            if not self._plain_char(buffer, parts, stop=quote):
                self.pos += 1
                _flush(buffer, parts)
                return parts or [""]
        raise SubstitutionError(f"unterminated {quote}-quoted argument in '{self.text}'")

    def _error(self, message: str) -> SubstitutionError:
        return SubstitutionError(f"{message} at column {self.pos + 1} of '{self.text}'")


def _flush(buffer: list[str], parts: list[Part]) -> None:
    if buffer:
        parts.append("".join(buffer))
        buffer.clear()


def parse(text: str) -> list[Part]:
    """Split ``text`` into literal strings and ``Call`` items; raise ``SubstitutionError``."""
    return _Parser(text).template()


def evaluate(parts: Sequence[Part], context: SubstitutionContext) -> str:
    """Concatenate the text parts and the results of the calls."""
    return "".join(part if isinstance(part, str) else _perform(part, context) for part in parts)


def _perform(call: Call, context: SubstitutionContext) -> str:
    args = [evaluate(arg, context) for arg in call.args]
    if call.name == "var":
        return _lookup(context.configs, args, "launch configuration")
    if call.name == "env":
        return _lookup(context.environ, args, "environment variable")
    if call.name in ("find-pkg-share", "find-pkg-prefix"):
        finder = package_share if call.name == "find-pkg-share" else package_prefix
        try:
            return str(finder(args[0]))
        except PackageLookupError as err:
            raise SubstitutionError(str(err)) from None
    if call.name == "dirname":
        return str(context.launch_file.absolute().parent)
    if call.name == "equals":
        return str(values_equal(*args)).lower()
    if call.name == "not-equals":
        return str(not values_equal(*args)).lower()
    return context.anon.setdefault(
        args[0], f"{args[0]}_{os.getpid()}_{random.randint(0, sys.maxsize)}")


def _lookup(table: Mapping[str, str], args: list[str], what: str) -> str:
    if args[0] in table:
        return table[args[0]]
    if len(args) == 2:
        return args[1]
    raise SubstitutionError(f"{what} '{args[0]}' does not exist")


def values_equal(left: str, right: str) -> bool:
    """Compare like launch's ``equals``: booleans and numbers by value, else as strings."""
    booleans = ("true", "false", "1", "0")
    if left.lower() in booleans and right.lower() in booleans:
        return (left.lower() in ("true", "1")) == (right.lower() in ("true", "1"))
    try:
        return math.isclose(float(left), float(right))
    except ValueError:
        return left == right
