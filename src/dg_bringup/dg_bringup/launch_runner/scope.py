"""Evaluation state: the scoped launch configurations/environment/namespace, and the file."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from dg_bringup.launch_runner.cmdline import split_cmdline
from dg_bringup.launch_runner.substitutions import (
    SubstitutionContext,
    SubstitutionError,
    evaluate,
    parse,
)
from dg_bringup.launch_runner.xml_loader import XmlElement


def unescape(text: str) -> str:
    r"""Replace ``\x`` by ``x``, as launch does for attributes without substitutions."""
    return re.sub(r"\\(.)", r"\1", text)


@dataclass
class Scope:
    """What a scoped ``<group>`` copies and drops again at its end (launch's push/pop)."""

    configs: dict[str, str]
    environ: dict[str, str]
    namespace: str | None = None

    def copy(self) -> Scope:
        """Return an independent copy for a scoped group."""
        return Scope(dict(self.configs), dict(self.environ), self.namespace)


@dataclass
class Frame:
    """The scope plus the launch file being read: evaluates attributes of its elements."""

    file: Path
    scope: Scope
    anon: dict[str, str] = field(default_factory=dict)

    def with_scope(self, scope: Scope) -> Frame:
        """Return this frame reading ``scope`` instead."""
        return replace(self, scope=scope)

    def text(self, element: XmlElement, attr: str) -> str | None:
        """Return the attribute with substitutions performed, or None when it is absent."""
        raw = element.attrib.get(attr)
        if raw is None:
            return None
        try:
            return evaluate(parse(raw), self._context())
        except SubstitutionError as err:
            raise element.error(str(err), attr) from None

    def literal(self, element: XmlElement, attr: str, default: str = "") -> str:
        """Return an attribute that takes no substitutions (``default`` when absent)."""
        return unescape(element.attrib.get(attr, default))

    def required_text(self, element: XmlElement, attr: str) -> str:
        """Return a mandatory attribute (the schema guarantees it is present)."""
        value = self.text(element, attr)
        if value is None:
            raise element.error("is required", attr)
        return value

    def argv(self, element: XmlElement, attr: str) -> list[str] | None:
        """Return an ``args``-style attribute split into argv items, or None when absent."""
        raw = element.attrib.get(attr)
        if raw is None:
            return None
        try:
            return split_cmdline(parse(raw), self._context())
        except SubstitutionError as err:
            raise element.error(str(err), attr) from None

    def enabled(self, element: XmlElement) -> bool:
        """Evaluate ``if``/``unless``: 'true'/'1' or 'false'/'0' (any case); else an error."""
        for attr, expected in (("if", True), ("unless", False)):
            value = self.text(element, attr)
            if value is None:
                continue
            word = value.strip().lower()
            if word not in ("true", "1", "false", "0"):
                raise element.error(f"'{value}' is not a condition (use true/false/1/0)", attr)
            return (word in ("true", "1")) == expected
        return True

    def _context(self) -> SubstitutionContext:
        return SubstitutionContext(self.scope.configs, self.scope.environ, self.file, self.anon)
