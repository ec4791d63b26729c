"""Text -> plain data, keeping the 1-based line and column of every key and value.

PyYAML's composer gives node marks; we build the data ourselves from the node graph
so that (a) ``on``/``off``/``yes``/``no`` stay strings (YAML 1.1 would make them
booleans, and they are common state and event names), (b) duplicate keys are
reported instead of silently overwritten, and (c) alias expansion is counted, so a
"billion laughs" document is a located error rather than a hang.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pystator.errors import ConfigError, Issue
from pystator.model import Location

__all__ = ["DEFAULT_MAX_BYTES", "MAX_NODES", "SourceDocument", "read_source"]

DEFAULT_MAX_BYTES = 1024 * 1024
MAX_NODES = 200_000
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


@dataclass
class SourceDocument:
    """Parsed data plus a path -> location index (paths like ``states[0].name``)."""

    data: Any
    locations: dict[str, Location] = field(default_factory=dict)
    source_name: str | None = None


def _loc(mark: Any) -> Location:
    return Location(mark.line + 1, mark.column + 1)


class _Builder:
    def __init__(self, source_name: str | None) -> None:
        self.locations: dict[str, Location] = {}
        self.issues: list[Issue] = []
        self.source_name = source_name
        self.count = 0

    def issue(self, message: str, path: str, where: Location, code: str) -> None:
        self.issues.append(
            Issue(message, path, where.line, where.column, code, source=self.source_name)
        )

    def build(self, node: yaml.Node, path: str) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise _TooLarge(node)
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
        return self._scalar(node)

    @staticmethod
    def _scalar(node: Any) -> Any:
        tag, value = node.tag, node.value
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
            return int(yaml.SafeLoader.construct_yaml_int(_CONSTRUCTOR, node))
        if tag == "tag:yaml.org,2002:float":
            return float(yaml.SafeLoader.construct_yaml_float(_CONSTRUCTOR, node))
        return value  # timestamps and other scalars stay as written


_CONSTRUCTOR = yaml.SafeLoader("")


class _TooLarge(Exception):
    def __init__(self, node: yaml.Node) -> None:
        self.node = node


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

    A ``str`` is always treated as document text; pass a ``Path`` for a file.
    """
    if isinstance(source, Mapping):
        return SourceDocument(dict(source), {}, source_name)
    if isinstance(source, Path):
        source_name = source_name or str(source)
        try:
            size = source.stat().st_size
            if size > max_bytes:
                raise _fail(_too_big(size, max_bytes), source_name, code="too-large")
            source = source.read_bytes()
        except OSError as exc:
            raise _fail(
                f"cannot read {source_name}: {exc.strerror or exc}", source_name, code="io"
            ) from None
    if isinstance(source, bytes):
        if len(source) > max_bytes:
            raise _fail(_too_big(len(source), max_bytes), source_name, code="too-large")
        if b"\x00" in source:
            raise _fail("this is a binary file, not YAML or JSON text", source_name, code="binary")
        try:
            source = source.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise _fail(
                f"the file is not UTF-8 text (byte {exc.start})", source_name, code="encoding"
            ) from None
    text = source
    if len(text) > max_bytes and len(text.encode("utf-8")) > max_bytes:
        raise _fail(_too_big(len(text.encode("utf-8")), max_bytes), source_name, code="too-large")
    if "\x00" in text:
        raise _fail(
            "the text contains NUL characters: it is not YAML or JSON", source_name, code="binary"
        )
    _check_depth(text, source_name)
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "cannot parse"
        context = f" ({exc.context})" if exc.context and exc.problem else ""
        line, column = (mark.line + 1, mark.column + 1) if mark else (None, None)
        raise _fail(f"YAML syntax error: {problem}{context}", source_name, line, column) from None
    except yaml.YAMLError as exc:
        return _json_fallback(text, source_name, exc)
    if node is None:
        raise _fail("the document is empty: a machine needs 'states'", source_name, 1, 1, "empty")
    builder = _Builder(source_name)
    builder.locations[""] = _loc(node.start_mark)  # what a missing top-level key points at
    try:
        data = builder.build(node, "")
    except _TooLarge as exc:
        where = _loc(exc.node.start_mark)
        raise _fail(
            f"the document expands to more than {MAX_NODES:,} nodes (aliases repeated too often?)",
            source_name,
            where.line,
            where.column,
            "too-large",
        ) from None
    if builder.issues:
        raise ConfigError(builder.issues)
    return SourceDocument(data, builder.locations, source_name)


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


def _json_fallback(text: str, source_name: str | None, exc: Exception) -> SourceDocument:
    try:
        return SourceDocument(json.loads(text), {}, source_name)
    except json.JSONDecodeError as jexc:
        raise _fail(f"cannot parse: {jexc.msg}", source_name, jexc.lineno, jexc.colno) from None
    except ValueError:
        raise _fail(f"cannot parse: {exc}", source_name) from None


def _too_big(size: int, limit: int) -> str:
    return f"the document is {size:,} bytes; the limit is {limit:,} bytes"
