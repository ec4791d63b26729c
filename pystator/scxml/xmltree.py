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
    if isinstance(source, Path):
        if source.stat().st_size > max_bytes:
            raise XmlError(f"the file is larger than {max_bytes} bytes")
        data = source.read_bytes()
    else:
        data = source.encode("utf-8") if isinstance(source, str) else source
    if len(data) > max_bytes:
        raise XmlError(f"the document is larger than {max_bytes} bytes")
    parser = expat.ParserCreate(namespace_separator=SEPARATOR)
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    stack: list[Element] = []
    roots: list[Element] = []
    texts: list[list[str]] = []
    count = 0

    def here() -> tuple[int, int]:
        return parser.CurrentLineNumber, parser.CurrentColumnNumber + 1

    def refuse(message: str) -> None:
        raise XmlError(message, *here())

    def start(name: str, attributes: dict[str, str]) -> None:
        nonlocal count
        count += 1
        if count > MAX_ELEMENTS:
            refuse(f"the document has more than {MAX_ELEMENTS} elements")
        if len(stack) >= MAX_DEPTH:
            refuse(f"elements are nested more than {MAX_DEPTH} deep")
        ns, tag = _split(name)
        attrs: dict[str, str] = {}
        for key, value in attributes.items():
            a_ns, a_name = _split(key)
            attrs[f"{{{a_ns}}}{a_name}" if a_ns else a_name] = value
        element = Element(ns, tag, attrs, *here())
        (stack[-1].children if stack else roots).append(element)
        stack.append(element)
        texts.append([])

    def end(_name: str) -> None:
        element = stack.pop()
        element.text = "".join(texts.pop())

    def characters(text: str) -> None:
        if texts:
            texts[-1].append(text)

    def doctype(*_args: object) -> None:
        refuse("a DOCTYPE is not accepted (no entities are expanded)")

    def entity(*_args: object) -> None:
        refuse("entity declarations are not accepted")

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = characters
    parser.StartDoctypeDeclHandler = doctype
    parser.EntityDeclHandler = entity

    def external(*_args: object) -> int:
        refuse("external entities are not accepted")
        return 0

    parser.ExternalEntityRefHandler = external
    try:
        parser.Parse(data, True)
    except expat.ExpatError as error:
        raise XmlError(
            f"not well-formed XML: {expat.ErrorString(error.code)}", error.lineno, error.offset + 1
        ) from None
    if not roots:
        raise XmlError("the document has no root element", 1, 1)
    return roots[0]
