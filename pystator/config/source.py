"""Text -> plain data, keeping the 1-based line and column of every key and value.

PyYAML's composer gives node marks; we build the data ourselves from the node graph
so that (a) ``on``/``off``/``yes``/``no`` stay strings (YAML 1.1 would make them
booleans, and they are common state and event names), (b) duplicate keys, merge keys,
tags (``!state``, ``!!python/name:...``, ``!!binary``) and integers longer than
:data:`~pystator.limits.MAX_INT_DIGITS` digits are reported where they are written instead
of being overwritten, ignored or crashing Python's integer parser, and (c) alias expansion
is counted in nodes and in characters, so a "billion laughs" document, or a small one that
repeats a long string through aliases, is a located error rather than a hang or a
hundred-megabyte answer.

Text must be real Unicode: a lone surrogate (which Python strings can hold but no file
can) is reported with its line and column.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pystator.errors import ConfigError, Issue
from pystator.limits import MAX_INT_DIGITS, JsonInputError, load_json
from pystator.model import Location

__all__ = [
    "DEFAULT_MAX_BYTES",
    "EXPANSION_FACTOR",
    "MAX_NODES",
    "SourceDocument",
    "read_document",
    "read_source",
]

DEFAULT_MAX_BYTES = 1024 * 1024
MAX_NODES = 200_000
EXPANSION_FACTOR = 4
"""Aliases may repeat text until the data holds this many times the byte limit in characters."""
MAX_DEPTH = 200  # flow brackets open at once; the C parser crashes on tens of thousands
MAX_INDENT = 1000  # leading spaces and "- " markers; deep block nesting overflows the stack
_BRACKET = re.compile(r"[\[\]{}]")
_INDENT = re.compile(r"^(?:[ ]|- )+", re.M)

try:  # the C composer is ~7x faster and still keeps marks
    _Loader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _Loader = yaml.SafeLoader

_TRUE_WORDS = {"true", "True", "TRUE"}
_FALSE_WORDS = {"false", "False", "FALSE"}
_CORE = "tag:yaml.org,2002:"
# What a plain YAML document resolves to; any other tag was written by hand and is refused.
_KNOWN_TAGS = {
    _CORE + name
    for name in ("str", "int", "float", "bool", "null", "map", "seq", "timestamp", "value")
}


@dataclass
class SourceDocument:
    """Parsed data plus a path -> location index (paths like ``states[0].name``).

    ``issues`` are problems found while reading that did not stop it (a duplicate key, a
    tag): the data is what remains when the offending part is left out.
    """

    data: Any
    locations: dict[str, Location] = field(default_factory=dict)
    source_name: str | None = None
    issues: list[Issue] = field(default_factory=list)


def _loc(mark: Any) -> Location:
    return Location(mark.line + 1, mark.column + 1)


class _Builder:
    def __init__(self, source_name: str | None, max_chars: int) -> None:
        self.locations: dict[str, Location] = {}
        self.issues: list[Issue] = []
        self.source_name = source_name
        self.count = 0
        self.chars = 0
        self.max_chars = max_chars

    def issue(self, message: str, path: str, where: Location, code: str) -> None:
        self.issues.append(
            Issue(message, path, where.line, where.column, code, source=self.source_name)
        )

    def build(self, node: yaml.Node, path: str) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise _TooLarge(node, f"more than {MAX_NODES:,} nodes")
        if node.tag not in _KNOWN_TAGS and node.tag != _CORE + "merge":
            self.issue(
                f"tags such as {_shown_tag(node.tag)!r} are not supported: write the value "
                "without a tag",
                path,
                _loc(node.start_mark),
                "yaml-tag",
            )
        if isinstance(node, yaml.MappingNode):
            result: dict[str, Any] = {}
            for key_node, value_node in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    self.issue(
                        "merge keys ('<<') are not supported",
                        path,
                        _loc(key_node.start_mark),
                        "yaml",
                    )
                    continue
                key = self.build(key_node, path)
                if not isinstance(key, str):
                    key = str(key)
                child = f"{path}.{key}" if path else key
                if key in result:
                    first = self.locations.get(child)
                    where = f" (first at line {first.line})" if first else ""
                    self.issue(
                        f"duplicate key {key!r}{where}",
                        child,
                        _loc(key_node.start_mark),
                        "duplicate-key",
                    )
                    continue
                self.locations[child] = _loc(key_node.start_mark)
                self.locations[child + "#value"] = _loc(value_node.start_mark)
                result[key] = self.build(value_node, child)
            return result
        if isinstance(node, yaml.SequenceNode):
            items = []
            for index, item in enumerate(node.value):
                child = f"{path}[{index}]"
                self.locations[child] = _loc(item.start_mark)
                items.append(self.build(item, child))
            return items
        return self._scalar(node, path)

    def _scalar(self, node: Any, path: str) -> Any:
        tag, value = node.tag, node.value
        self.chars += len(value) + 1
        if self.chars > self.max_chars:
            raise _TooLarge(node, f"more than {self.max_chars:,} characters")
        if tag == "tag:yaml.org,2002:bool":
            if value in _TRUE_WORDS:
                return True
            if value in _FALSE_WORDS:
                return False
            return value  # on/off/yes/no/y/n: names, not booleans
        if tag == "tag:yaml.org,2002:str":
            return value
        if tag == "tag:yaml.org,2002:null":
            return None
        if tag == "tag:yaml.org,2002:int":
            if len(value.lstrip("+-").replace("_", "")) > MAX_INT_DIGITS:
                self.issue(
                    f"this number has more than {MAX_INT_DIGITS} digits; no machine needs that",
                    path,
                    _loc(node.start_mark),
                    "too-large",
                )
                return value
            return int(yaml.SafeLoader.construct_yaml_int(_CONSTRUCTOR, node))
        if tag == "tag:yaml.org,2002:float":
            return float(yaml.SafeLoader.construct_yaml_float(_CONSTRUCTOR, node))
        return value  # timestamps and other scalars stay as written


_CONSTRUCTOR = yaml.SafeLoader("")


class _TooLarge(Exception):
    def __init__(self, node: yaml.Node, what: str) -> None:
        self.node = node
        self.what = what


def _shown_tag(tag: str) -> str:
    return "!!" + tag[len(_CORE) :] if tag.startswith(_CORE) else tag


def _fail(
    message: str,
    source_name: str | None,
    line: int | None = None,
    column: int | None = None,
    code: str = "yaml",
) -> ConfigError:
    return ConfigError([Issue(message, "", line, column, code, source=source_name)])


def read_source(
    source: str | bytes | Path | Mapping[str, Any],
    *,
    source_name: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> SourceDocument:
    """Read YAML/JSON text, a file path or a dict into data with locations.

    A ``str`` is always treated as document text; pass a ``Path`` for a file. Every problem
    is raised as one ``ConfigError``.
    """
    document = read_document(source, source_name=source_name, max_bytes=max_bytes)
    if document.issues:
        raise ConfigError(document.issues)
    return document


def read_document(
    source: str | bytes | Path | Mapping[str, Any],
    *,
    source_name: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> SourceDocument:
    """Like :func:`read_source`, but problems that leave data to check are returned in
    ``issues`` (so the caller can check the rest and report everything at once); only
    problems that leave nothing to read raise ``ConfigError``."""
    if isinstance(source, Mapping):
        # A dict is read as given, never written into (the loader copies what it changes),
        # so a cycle back to the caller's own top level is recognised as that top level.
        data = source if isinstance(source, dict) else dict(source)
        return SourceDocument(data, {}, source_name)
    if not isinstance(source, (str, bytes, Path)):
        raise _fail(
            "a machine definition is YAML or JSON text, a file path, bytes or a mapping, "
            f"not {type(source).__name__}",
            source_name,
            code="shape",
        )
    if isinstance(source, Path):
        source_name = source_name or str(source)
        source = _file_bytes(source, source_name, max_bytes)
    text = _decoded(source, source_name, max_bytes) if isinstance(source, bytes) else source
    _check_text(text, source_name, max_bytes)
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        raise _syntax_error(exc, source_name) from None
    except yaml.YAMLError:
        return _json_fallback(text, source_name)
    if node is None:
        raise _fail("the document is empty: a machine needs 'states'", source_name, 1, 1, "empty")
    return _built(node, source_name, max_bytes)


def _file_bytes(path: Path, source_name: str, max_bytes: int) -> bytes:
    """The file's bytes; one over the cap is refused before it is read."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise _fail(_too_big(size, max_bytes), source_name, code="too-large")
        return path.read_bytes()
    except OSError as exc:
        raise _fail(
            f"cannot read {source_name}: {exc.strerror or exc}", source_name, code="io"
        ) from None


def _decoded(data: bytes, source_name: str | None, max_bytes: int) -> str:
    """UTF-8 text (a BOM allowed), refused when too long or binary."""
    if len(data) > max_bytes:
        raise _fail(_too_big(len(data), max_bytes), source_name, code="too-large")
    if b"\x00" in data:
        raise _fail("this is a binary file, not YAML or JSON text", source_name, code="binary")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _fail(
            f"the file is not UTF-8 text (byte {exc.start})", source_name, code="encoding"
        ) from None


def _check_text(text: str, source_name: str | None, max_bytes: int) -> None:
    """Refuse, before YAML sees it, text no file could hold, too long, or nested too deep."""
    _check_unicode(text, source_name)
    # a character is 1 to 4 bytes: only a text between a quarter of the limit and the
    # limit needs encoding to know
    if len(text) > max_bytes or (
        4 * len(text) > max_bytes and len(text.encode("utf-8")) > max_bytes
    ):
        raise _fail(_too_big(len(text.encode("utf-8")), max_bytes), source_name, code="too-large")
    if "\x00" in text:
        raise _fail(
            "the text contains NUL characters: it is not YAML or JSON", source_name, code="binary"
        )
    _check_depth(text, source_name)


def _syntax_error(exc: yaml.MarkedYAMLError, source_name: str | None) -> ConfigError:
    mark = exc.problem_mark or exc.context_mark
    problem = exc.problem or exc.context or "cannot parse"
    context = f" ({exc.context})" if exc.context and exc.problem else ""
    line, column = (mark.line + 1, mark.column + 1) if mark else (None, None)
    return _fail(f"YAML syntax error: {problem}{context}", source_name, line, column)


def _built(node: yaml.Node, source_name: str | None, max_bytes: int) -> SourceDocument:
    """The data of a composed document, with the location of every node."""
    builder = _Builder(source_name, EXPANSION_FACTOR * max_bytes)
    builder.locations[""] = _loc(node.start_mark)  # what a missing top-level key points at
    try:
        data = builder.build(node, "")
    except _TooLarge as exc:
        where = _loc(exc.node.start_mark)
        raise _fail(
            f"the document expands to {exc.what} (aliases repeated too often?)",
            source_name,
            where.line,
            where.column,
            "too-large",
        ) from None
    return SourceDocument(data, builder.locations, source_name, builder.issues)


def _check_unicode(text: str, source_name: str | None) -> None:
    """Refuse a lone surrogate: a Python string may hold one, no text file can."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        line = text.count("\n", 0, exc.start) + 1
        column = exc.start - (text.rfind("\n", 0, exc.start) + 1) + 1
        raise _fail(
            f"the text contains a lone surrogate (\\u{ord(text[exc.start]):04x}), which is "
            "not a character",
            source_name,
            line,
            column,
            "encoding",
        ) from None


def _check_depth(text: str, source_name: str | None) -> None:
    """Refuse absurd nesting before the parser sees it (it would overflow or crash)."""
    depth = 0
    for match in _BRACKET.finditer(text):
        if match.group() in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                line = text.count("\n", 0, match.start()) + 1
                raise _fail(
                    f"brackets nest more than {MAX_DEPTH} levels deep here; no machine needs that",
                    source_name,
                    line,
                    None,
                    "too-deep",
                )
        elif depth:
            depth -= 1
    for match in _INDENT.finditer(text):
        if match.end() - match.start() > MAX_INDENT:
            line = text.count("\n", 0, match.start()) + 1
            raise _fail(
                f"this line is indented more than {MAX_INDENT} columns deep; no machine needs that",
                source_name,
                line,
                1,
                "too-deep",
            )


def _json_fallback(text: str, source_name: str | None) -> SourceDocument:
    """Text PyYAML could not read that is not a located syntax error: JSON's reader tries,
    and its message (with line and column) is the one shown when it cannot read it either."""
    try:
        return SourceDocument(load_json(text, "the document", max_chars=len(text)), {}, source_name)
    except JsonInputError as jexc:
        raise _fail(f"cannot parse: {jexc.message}", source_name, jexc.line, jexc.column) from None


def _too_big(size: int, limit: int) -> str:
    return f"the document is {size:,} bytes; the limit is {limit:,} bytes"
