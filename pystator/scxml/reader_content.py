"""Executable content in SCXML (the bodies of ``<onentry>``, ``<onexit>`` and
``<transition>``) as pystator actions, and how the reader reports what it refuses.

:class:`ContentReader` holds both: every problem is recorded at its element's line and
column (:meth:`~ContentReader.fail`), never raised, so one read reports them all. Each
element of executable content reads through the ``_ACTIONS`` table; any element not in
it is refused where it stands. ``pystator.scxml.reader`` builds the document, its
states and transitions on top.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

from pystator.durations import parse_duration
from pystator.errors import Issue
from pystator.model import Location
from pystator.scxml.ecmascript import TranslationError, to_python
from pystator.scxml.xmltree import Element

__all__ = ["PS", "SCXML", "ContentReader", "css_delay", "expression_of", "literal_value"]

SCXML = "http://www.w3.org/2005/07/scxml"
PS = "urn:pystator:scxml"
"""The namespace of pystator's own attributes and elements in an SCXML document."""

_ALLOWED: dict[str, frozenset[str]] = {
    "scxml": frozenset({"version", "initial", "name", "datamodel", "binding"}),
    "state": frozenset({"id", "initial"}),
    "parallel": frozenset({"id"}),
    "final": frozenset({"id"}),
    "history": frozenset({"id", "type"}),
    "initial": frozenset(),
    "transition": frozenset({"event", "cond", "target", "type"}),
    "onentry": frozenset(),
    "onexit": frozenset(),
    "datamodel": frozenset(),
    "data": frozenset({"id", "expr"}),
    "raise": frozenset({"event"}),
    "log": frozenset({"label", "expr"}),
    "assign": frozenset({"location", "expr"}),
    "send": frozenset(
        {
            "event",
            "eventexpr",
            "delay",
            "delayexpr",
            "id",
            "idlocation",
            "target",
            "type",
            "namelist",
            "targetexpr",
            "typeexpr",
        }
    ),
    "param": frozenset({"name", "expr", "location"}),
    "content": frozenset({"expr"}),
    "cancel": frozenset({"sendid", "sendidexpr"}),
    "if": frozenset({"cond"}),
    "elseif": frozenset({"cond"}),
    "else": frozenset(),
    "foreach": frozenset({"array", "item", "index"}),
}
_PS_ALLOWED: dict[str, frozenset[str]] = {
    "scxml": frozenset(
        {
            "version",
            "strict-mode",
            "event-normalizer",
            "event-matching",
            "description",
            "fallback",
            "retry-attempts",
        }
    ),
    "state": frozenset(
        {
            "type",
            "description",
            "metadata",
            "timeout",
            "timeout-dest",
            "invoke",
            "region",
            "region-initial",
            "region-description",
            "parent-initial",
        }
    ),
    "parallel": frozenset({"description", "metadata", "invoke", "timeout", "timeout-dest"}),
    "final": frozenset({"description", "metadata", "type", "invoke"}),
    "history": frozenset({"description", "metadata"}),
    "transition": frozenset(
        {"guards", "after", "trigger", "region", "description", "metadata", "kind", "index"}
    ),
}
_HINTS = {
    "invoke": "invoking other sessions is not supported (use the orchestrator's invoke)",
    "script": "scripts are not supported: the datamodel is pystator's expression language",
    "donedata": "done data is not supported",
    "finalize": "finalize belongs to invoke, which is not supported",
}

_AttrTable = tuple[tuple[str, str, str], ...]
_SEND_ADDRESS: _AttrTable = (
    ("targetexpr", "target_expr", "expr"),
    ("type", "type", "text"),
    ("typeexpr", "type_expr", "expr"),
)
_SEND_TIMING: _AttrTable = (
    ("delayexpr", "delay_expr", "expr"),
    ("id", "id", "text"),
    ("idlocation", "id_location", "location"),
)
"""``<send>`` attributes: (attribute, action key, how its value is read)."""


class ContentReader:
    """Reads executable content, and records each problem at its element."""

    def __init__(self, source_name: str | None) -> None:
        self.source_name = source_name
        self.issues: list[Issue] = []
        self.where: dict[str, Location] = {}

    # ------------------------------------------------------------------ problems
    def fail(self, element: Element, message: str, path: str = "") -> None:
        self.issues.append(
            Issue(
                message,
                path,
                element.line,
                element.column,
                "scxml",
                source=self.source_name,
            )
        )

    def check_attrs(self, element: Element, kind: str | None = None) -> None:
        kind = kind or element.tag
        allowed = _ALLOWED.get(kind, frozenset())
        ps_allowed = _PS_ALLOWED.get(kind, frozenset())
        for key in element.attrs:
            if key.startswith("{"):
                ns, name = key[1:].split("}", 1)
                if ns == PS and name in ps_allowed:
                    continue
                if ns == "http://www.w3.org/XML/1998/namespace":
                    continue
                self.fail(element, f"<{element.tag}>: the attribute {key} is not supported")
            elif key not in allowed:
                self.fail(element, f"<{element.tag}>: the attribute {key!r} is not supported")

    def unsupported(self, element: Element, where: str) -> None:
        hint = _HINTS.get(element.tag)
        if element.ns not in (SCXML, PS):
            what = f"<{element.tag}> (namespace {element.ns or 'none'})"
        else:
            what = f"<{element.tag}>"
        self.fail(element, f"{what} is not supported in {where}" + (f": {hint}" if hint else ""))

    def ps(self, element: Element, name: str) -> str | None:
        return element.attrs.get(f"{{{PS}}}{name}")

    def ps_json(self, element: Element, name: str) -> Any:
        text = self.ps(element, name)
        if text is None:
            return None
        try:
            return json.loads(text)
        except json.JSONDecodeError as error:
            self.fail(element, f"ps:{name} is not valid JSON: {error.msg}")
            return None

    def ps_number(self, element: Element, name: str, kind: type[int] | type[float]) -> Any:
        """A numeric ``ps:`` attribute, or None (with a located issue) if it is no number."""
        text = self.ps(element, name)
        if text is None:
            return None
        try:
            value = kind(text)
        except ValueError:
            what = "a whole number" if kind is int else "a number"
            self.fail(element, f"ps:{name}={text!r} is not {what}")
            return None
        if kind is float and not math.isfinite(value):
            self.fail(element, f"ps:{name}={text!r} is not a finite number")
            return None
        return value

    def expression(self, element: Element, attr: str, text: str | None = None) -> str | None:
        source = element.get(attr) if text is None else text
        if source is None:
            return None
        try:
            return to_python(source)
        except TranslationError as error:
            self.fail(element, f"<{element.tag} {attr}={source!r}>: {error}")
            return None

    # ------------------------------------------------------------------ executable content
    def block(self, element: Element, path: str, offset: int) -> list[Any]:
        out: list[Any] = []
        for child in element.children:
            action = self.action(child)
            if action is not None:
                self.where[f"{path}[{offset + len(out)}]"] = Location(child.line, child.column)
                out.append(action)
        return out

    def action(self, element: Element) -> Any:
        """One piece of executable content as an action (``None``, reported, when refused)."""
        if element.ns == PS and element.tag == "call":
            return self.call(element)
        read = _ACTIONS.get(element.tag) if element.ns == SCXML else None
        if read is None:
            self.unsupported(element, "executable content")
            return None
        self.check_attrs(element)
        return read(self, element)

    def call(self, element: Element) -> Any:
        """``<ps:call name params>``: a host action, as ``to_scxml`` writes one."""
        name = element.get("name")
        if not name:
            self.fail(element, "<ps:call> needs a name")
            return None
        params = element.get("params")
        for key in element.attrs:
            if key not in ("name", "params"):
                self.fail(element, f"<ps:call>: the attribute {key!r} is not supported")
        if params is None:
            return name
        try:
            return {"name": name, "params": json.loads(params)}
        except json.JSONDecodeError as error:
            self.fail(element, f"<ps:call params>: not valid JSON: {error.msg}")
            return None

    def raise_(self, element: Element) -> Any:
        if element.children:
            self.unsupported(element.children[0], "<raise>")
        event = element.get("event")
        if not event:
            self.fail(element, "<raise> needs an event")
            return None
        return {"raise": event}

    def log(self, element: Element) -> Any:
        action: dict[str, Any] = {"log": element.get("label") or ""}
        expr = self.expression(element, "expr")
        if expr is not None:
            action["expr"] = expr
        return action

    def cancel(self, element: Element) -> Any:
        if element.get("sendidexpr") is not None:
            expr = self.expression(element, "sendidexpr")
            return {"cancel_expr": expr} if expr is not None else None
        if not element.get("sendid"):
            self.fail(element, "<cancel> needs a sendid or sendidexpr")
            return None
        return {"cancel": element.get("sendid")}

    def assign(self, element: Element) -> Any:
        location = (element.get("location") or "").strip()
        if not location:
            self.fail(element, "<assign> needs a location")
            return None
        for inner in element.children:
            self.unsupported(inner, "<assign> (inline XML)")
        if element.get("expr") is not None:
            expr = self.expression(element, "expr")
        elif element.text.strip():
            expr = expression_of(literal_value(element.text))
        else:
            self.fail(element, "<assign> needs an expr")
            return None
        if expr is None:
            return None
        if expr == "":
            self.fail(element, "<assign>: this value has no pystator expression")
            return None
        return {"assign": location, "expr": expr}

    def send(self, element: Element) -> Any:
        target = element.get("target")
        internal = target == "#_internal"
        action: dict[str, Any] = {}
        if target is not None and not internal:
            action["target"] = target
        self.copy(element, action, _SEND_ADDRESS)
        event = self.send_event(element)
        if event is None:
            return None
        action.update(event)
        delay = element.get("delay")
        if delay is not None:
            try:
                action["delay"] = css_delay(delay)
            except ValueError as error:
                self.fail(element, f"<send delay>: {error}")
        self.copy(element, action, _SEND_TIMING)
        if internal:
            action["internal"] = True
        data = self.send_data(element, action)
        if data:
            action["data"] = data
        return action

    def copy(self, element: Element, out: dict[str, Any], table: _AttrTable) -> None:
        """Each attribute of ``table`` the element has, under its action key: as written,
        stripped (a location), or translated (an expression)."""
        for attr, key, how in table:
            value = element.get(attr)
            if value is None:
                continue
            if how == "expr":
                out[key] = self.expression(element, attr)
            elif how == "location":
                out[key] = value.strip()
            else:
                out[key] = value

    def send_event(self, element: Element) -> dict[str, Any] | None:
        if element.get("eventexpr") is not None:
            return {"send_expr": self.expression(element, "eventexpr")}
        if element.get("event"):
            return {"send": element.get("event")}
        self.fail(element, "<send> needs an event or eventexpr")
        return None

    def send_data(self, element: Element, action: dict[str, Any]) -> dict[str, str]:
        """The event's data: ``namelist``, then each ``<param>``; ``<content>`` goes into
        ``action`` (the checks refuse it beside data)."""
        data = {listed: listed for listed in (element.get("namelist") or "").split()}
        for child in element.children:
            if child.ns == SCXML and child.tag == "param":
                self.param(child, data)
            elif child.ns == SCXML and child.tag == "content":
                self.content(child, action)
            else:
                self.unsupported(child, "<send>")
        return data

    def param(self, child: Element, data: dict[str, str]) -> None:
        self.check_attrs(child)
        name = child.get("name")
        source = child.get("expr") if child.get("expr") is not None else child.get("location")
        if not name or source is None:
            self.fail(child, "<param> needs a name and an expr or location")
            return
        expr = self.expression(child, "expr" if child.get("expr") else "location")
        if expr is not None:
            data[name] = expr

    def content(self, child: Element, action: dict[str, Any]) -> None:
        self.check_attrs(child)
        for inner in child.children:
            self.unsupported(inner, "<content> (inline XML)")
        if child.get("expr") is not None:
            action["content"] = self.expression(child, "expr")
            return
        content = expression_of(literal_value(child.text))
        if content == "":
            self.fail(child, "<content>: this value has no pystator expression")
        else:
            action["content"] = content

    def if_(self, element: Element) -> Any:
        branches: list[tuple[str, list[Any]]] = []
        otherwise: list[Any] | None = None
        cond = self.expression(element, "cond")
        if element.get("cond") is None:
            self.fail(element, "<if> needs a cond")
        current: list[Any] = []
        branches.append((cond or "False", current))
        for child in element.children:
            if child.ns == SCXML and child.tag == "elseif":
                self.check_attrs(child)
                if otherwise is not None:
                    self.fail(child, "<elseif> after <else>")
                current = []
                branches.append((self.expression(child, "cond") or "False", current))
            elif child.ns == SCXML and child.tag == "else":
                self.check_attrs(child)
                current = []
                otherwise = current
            else:
                action = self.action(child)
                if action is not None:
                    current.append(action)
        out: dict[str, Any] = {"if": branches[0][0], "then": branches[0][1]}
        if len(branches) > 1:
            out["elif"] = [{"if": c, "then": acts} for c, acts in branches[1:]]
        if otherwise:
            out["else"] = otherwise
        return out

    def foreach(self, element: Element) -> Any:
        array = self.expression(element, "array")
        item = element.get("item")
        if array is None or not item:
            self.fail(element, "<foreach> needs an array and an item")
            return None
        out: dict[str, Any] = {"foreach": array, "item": item.strip()}
        if element.get("index"):
            out["index"] = str(element.get("index")).strip()
        body = [a for a in (self.action(c) for c in element.children) if a is not None]
        if body:
            out["do"] = body
        return out


_ACTIONS: dict[str, Callable[[ContentReader, Element], Any]] = {
    "raise": ContentReader.raise_,
    "log": ContentReader.log,
    "assign": ContentReader.assign,
    "send": ContentReader.send,
    "cancel": ContentReader.cancel,
    "if": ContentReader.if_,
    "foreach": ContentReader.foreach,
}
"""How each element of executable content reads; any other element there is refused."""


def css_delay(text: str) -> int:
    """Milliseconds for an SCXML delay (CSS2 time: ``1s``, ``.5s``, ``250ms``)."""
    value = text.strip()
    if value.startswith("."):
        value = "0" + value
    return parse_duration(value)


def literal_value(text: str) -> Any:
    """Inline content as a value: JSON when it reads as JSON, else the text itself."""
    stripped = text.strip()
    try:
        return json.loads(stripped)
    except ValueError:
        return " ".join(stripped.split())


def expression_of(value: Any) -> str:
    """A literal value as a pystator expression ('' when it has none: a mapping)."""
    if isinstance(value, (dict,)):
        return ""
    if isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value):
        return ""
    return repr(value)
