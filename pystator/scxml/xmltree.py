"""A small XML tree with the line and column of every element, read safely.

The standard library's expat parser reads the text; this module keeps what the SCXML
reader needs (namespaced names, attributes, direct text, children, where each element
starts) and refuses what it must never do for a document typed in by anyone:

* a DOCTYPE of any kind is an error, so no entity can be declared, expanded or
  fetched (no "billion laughs", no external entities);
* the text is at most ``max_bytes`` long (the YAML loader's cap), with at most
  ``MAX_ELEMENTS`` elements nested at most ``MAX_DEPTH`` deep.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from xml.parsers import expat

from pystator.config.source import DEFAULT_MAX_BYTES

__all__ = ["MAX_DEPTH", "MAX_ELEMENTS", "Element", "XmlError", "parse_xml"]

MAX_ELEMENTS = 100_000
MAX_DEPTH = 200

SEPARATOR = " "
"""How expat joins a namespace URI and a local name (a space cannot occur in either)."""


class XmlError(ValueError):
    """The text is not well-formed XML, or is refused; ``line``/``column`` are 1-based."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column


@dataclass(eq=False)
class Element:
    """One element: ``ns`` and ``tag`` (its local name), attributes, text and children.

    Attribute keys are local names for attributes without a namespace, and
    ``"{uri}name"`` for namespaced ones. ``text`` is the element's own character
    data (its children's excluded), and ``line``/``column`` where its tag starts.
    """

    ns: str
    tag: str
    attrs: dict[str, str]
    line: int
    column: int
    children: list[Element] = field(default_factory=list)
    text: str = ""

    def get(self, name: str) -> str | None:
        return self.attrs.get(name)


def _split(name: str) -> tuple[str, str]:
    if SEPARATOR in name:
        uri, local = name.split(SEPARATOR, 1)
        return uri, local
    return "", name


def parse_xml(source: str | bytes | Path, max_bytes: int = DEFAULT_MAX_BYTES) -> Element:
    """The root element of ``source`` (XML text, or a path to a file holding it)."""
    data = _bytes_of(source, max_bytes)
    parser = expat.ParserCreate(namespace_separator=SEPARATOR)
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    builder = _Builder(parser)
    try:
        parser.Parse(data, True)
    except expat.ExpatError as error:
        raise XmlError(
            f"not well-formed XML: {expat.ErrorString(error.code)}", error.lineno, error.offset + 1
        ) from None
    if not builder.roots:
        raise XmlError("the document has no root element", 1, 1)
    return builder.roots[0]


def _bytes_of(source: str | bytes | Path, max_bytes: int) -> bytes:
    """The document's bytes, refused when over the cap (a file before it is read)."""
    if isinstance(source, Path):
        if source.stat().st_size > max_bytes:
            raise XmlError(f"the file is larger than {max_bytes} bytes")
        data = source.read_bytes()
    else:
        data = source.encode("utf-8") if isinstance(source, str) else source
    if len(data) > max_bytes:
        raise XmlError(f"the document is larger than {max_bytes} bytes")
    return data


class _Builder:
    """expat's handlers: build the tree, count and bound it, refuse any DTD content."""

    def __init__(self, parser: expat.XMLParserType) -> None:
        self.parser = parser
        self.stack: list[Element] = []
        self.roots: list[Element] = []
        self.texts: list[list[str]] = []
        self.count = 0
        parser.StartElementHandler = self.start
        parser.EndElementHandler = self.end
        parser.CharacterDataHandler = self.characters
        parser.StartDoctypeDeclHandler = self.doctype
        parser.EntityDeclHandler = self.entity
        parser.ExternalEntityRefHandler = self.external

    def here(self) -> tuple[int, int]:
        return self.parser.CurrentLineNumber, self.parser.CurrentColumnNumber + 1

    def refuse(self, message: str) -> None:
        raise XmlError(message, *self.here())

    def start(self, name: str, attributes: dict[str, str]) -> None:
        self.count += 1
        if self.count > MAX_ELEMENTS:
            self.refuse(f"the document has more than {MAX_ELEMENTS} elements")
        if len(self.stack) >= MAX_DEPTH:
            self.refuse(f"elements are nested more than {MAX_DEPTH} deep")
        ns, tag = _split(name)
        attrs: dict[str, str] = {}
        for key, value in attributes.items():
            a_ns, a_name = _split(key)
            attrs[f"{{{a_ns}}}{a_name}" if a_ns else a_name] = value
        element = Element(ns, tag, attrs, *self.here())
        (self.stack[-1].children if self.stack else self.roots).append(element)
        self.stack.append(element)
        self.texts.append([])

    def end(self, _name: str) -> None:
        element = self.stack.pop()
        element.text = "".join(self.texts.pop())

    def characters(self, text: str) -> None:
        if self.texts:
            self.texts[-1].append(text)

    def doctype(self, *_args: object) -> None:
        self.refuse("a DOCTYPE is not accepted (no entities are expanded)")

    def entity(self, *_args: object) -> None:
        self.refuse("entity declarations are not accepted")

    def external(self, *_args: object) -> int:
        self.refuse("external entities are not accepted")
        return 0
