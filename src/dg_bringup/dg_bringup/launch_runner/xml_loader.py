"""Read a launch file into a small element tree that remembers line numbers for messages."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from xml.parsers import expat

from dg_bringup.launch_runner.errors import LaunchError


@dataclass
class XmlElement:
    """One XML element: tag, attributes in file order, children, and where it is written."""

    tag: str
    attrib: dict[str, str]
    file: Path
    line: int
    children: list[XmlElement] = field(default_factory=list)
    text: str = ""

    def error(self, message: str, attr: str | None = None) -> LaunchError:
        """Return a ``LaunchError`` naming file, line, tag and (if given) the attribute."""
        where = f"{self.file}:{self.line}: <{self.tag}>"
        if attr is not None:
            where += f" attribute '{attr}'"
        return LaunchError(f"{where}: {message}")


def load_xml(path: Path) -> XmlElement:
    """Parse ``path`` and return its root element; comments are dropped, text is kept."""
    if not path.is_file():
        raise LaunchError(f"launch file not found: {path}")
    parser = expat.ParserCreate()
    stack: list[XmlElement] = []
    roots: list[XmlElement] = []

    def start(tag: str, attrib: dict[str, str]) -> None:
        element = XmlElement(tag, dict(attrib), path, parser.CurrentLineNumber)
        (stack[-1].children if stack else roots).append(element)
        stack.append(element)

    def end(_tag: str) -> None:
        stack.pop()

    def text(data: str) -> None:
        if stack:
            stack[-1].text += data

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = text
    try:
        with path.open("rb") as stream:
            parser.ParseFile(stream)
    except expat.ExpatError as err:
        message = expat.errors.messages[err.code]
        raise LaunchError(f"{path}:{err.lineno}: malformed XML: {message}") from None
    return roots[0]
