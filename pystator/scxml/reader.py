"""SCXML text -> a machine definition (the same plain data the YAML loader reads).

The reader walks the document once and writes the definition as YAML would say it,
keeping the line and column of the element behind every part; ``load_spec`` then
validates it with every check a YAML file gets, and each problem it finds is
reported at the element it came from. Every element and attribute is either mapped
or refused with its place: nothing is dropped silently.

The mapping (see the README's "SCXML" section for the whole table):

* ``<state>``, ``<parallel>`` (each child state is one region), ``<final>``,
  ``<history type>`` with its default ``<transition>``, ``initial`` attributes and
  ``<initial>`` elements (an initial transition with actions or a deep target
  becomes a transient child state left at once by an eventless transition);
* ``<transition event cond target type>``: SCXML transitions are external by
  default (``kind: external``), ``type="internal"`` gives ``kind: internal``; one
  with no target is targetless (``dest`` is its own state, default kind); one with
  several events becomes one transition per event, in place;
* ``<onentry>``, ``<onexit>`` and executable content: ``<raise>``, ``<log>``,
  ``<assign>``, ``<send>`` (to the machine itself; ``#_internal`` queues it as an
  internal event), ``<cancel>``, ``<if>/<elseif>/<else>``, ``<foreach>``;
* ``<datamodel>/<data>`` anywhere: the machine's ``data:`` (early binding);
* ECMAScript ``cond``/``expr`` translated by ``pystator.scxml.ecmascript``;
* the ``ps:`` attributes and ``<ps:call>`` of pystator's own namespace, written by
  ``to_scxml`` for what SCXML has no word for (host actions, named guards, timers,
  state types, region names).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from pystator.config import load_spec
from pystator.durations import parse_duration
from pystator.errors import ConfigError, Issue
from pystator.model import Location, MachineSpec
from pystator.scxml.ecmascript import TranslationError, to_python
from pystator.scxml.xmltree import Element, XmlError, parse_xml

__all__ = ["PS", "SCXML", "read_scxml"]

SCXML = "http://www.w3.org/2005/07/scxml"
PS = "urn:pystator:scxml"
"""The namespace of pystator's own attributes and elements in an SCXML document."""

_CUT = "\x00"  # between a state's name and the rest of a path, while names are placed
_STATE_TAGS = ("state", "parallel", "final", "history")
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


class _Reader:
    def __init__(self, source_name: str | None) -> None:
        self.source_name = source_name
        self.issues: list[Issue] = []
        self.states: list[dict[str, Any]] = []
        self.transitions: list[dict[str, Any]] = []
        self.data: dict[str, Any] = {}
        self.where: dict[str, Location] = {}
        self.ids: set[str] = set()
        self.generated = 0
        self.indexes: dict[int, int] = {}

    def located(self) -> dict[str, Location]:
        """The locations by config path, now that the states have their final order."""
        index = {s["name"]: i for i, s in enumerate(self.states)}
        out: dict[str, Location] = {}
        for path, loc in self.where.items():
            if path.startswith("@"):
                name, _, rest = path[1:].partition(_CUT)
                if name in index:
                    out[f"states[{index[name]}]{rest}"] = loc
            else:
                out[path] = loc
        return out

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

    def expression(self, element: Element, attr: str, text: str | None = None) -> str | None:
        source = element.get(attr) if text is None else text
        if source is None:
            return None
        try:
            return to_python(source)
        except TranslationError as error:
            self.fail(element, f"<{element.tag} {attr}={source!r}>: {error}")
            return None

    # ------------------------------------------------------------------ the document
    def read(self, root: Element) -> dict[str, Any]:
        if root.ns != SCXML or root.tag != "scxml":
            self.fail(root, f"the root element is <{root.tag}>, not <scxml> in the SCXML namespace")
            return {}
        self.check_attrs(root)
        if root.get("version") not in (None, "1.0"):
            self.fail(root, f"SCXML version {root.get('version')!r} is not supported (1.0 is)")
        datamodel = root.get("datamodel")
        if datamodel not in (None, "ecmascript", "null"):
            self.fail(root, f"the datamodel {datamodel!r} is not supported (use ecmascript)")
        if root.get("binding") not in (None, "early"):
            self.fail(root, "late binding is not supported: data is initialised at start")
        meta: dict[str, Any] = {
            "machine_name": root.get("name") or "scxml",
            "strict_mode": False,
            "event_matching": "prefix",
        }
        for key, field in (("version", "version"), ("description", "description")):
            value = self.ps(root, key)
            if value is not None:
                meta[field] = value
        if self.ps(root, "strict-mode") is not None:
            meta["strict_mode"] = self.ps(root, "strict-mode") == "true"
        if self.ps(root, "event-normalizer") is not None:
            meta["event_normalizer"] = self.ps(root, "event-normalizer")
        if self.ps(root, "event-matching") is not None:
            meta["event_matching"] = self.ps(root, "event-matching")
        self.collect_ids(root)
        first = len(self.states)
        self.children(root, None)
        self.top_initial(root, first)
        self.written_order()
        config: dict[str, Any] = {
            "meta": meta,
            "states": self.states,
            "transitions": self.transitions,
        }
        if self.data:
            config["data"] = self.data
        policy: dict[str, Any] = {}
        if self.ps(root, "fallback") is not None:
            policy["default_fallback"] = self.ps(root, "fallback")
        if self.ps(root, "retry-attempts") is not None:
            policy["retry_attempts"] = int(self.ps(root, "retry-attempts") or 0)
        if policy:
            config["error_policy"] = policy
        if not self.states:
            self.fail(root, "an SCXML document needs at least one state")
        return config

    def collect_ids(self, root: Element) -> None:
        stack = [root]
        while stack:
            element = stack.pop()
            if element.ns == SCXML and element.tag in _STATE_TAGS and element.get("id"):
                self.ids.add(str(element.get("id")))
            stack.extend(element.children)

    def new_id(self, base: str) -> str:
        while True:
            self.generated += 1
            name = f"{base}{self.generated}" if base.endswith("_") else base
            if name not in self.ids:
                self.ids.add(name)
                return name
            base = base.rstrip("_") + "_"

    def children(self, element: Element, parent: str | None) -> list[str]:
        """Read the state children of ``element`` (and its datamodel); their names."""
        names: list[str] = []
        for child in element.children:
            if child.ns == SCXML and child.tag in _STATE_TAGS:
                names.append(self.state(child, parent))
            elif child.ns == SCXML and child.tag == "datamodel":
                self.datamodel(child)
            elif child.ns == SCXML and child.tag in ("transition", "onentry", "onexit", "initial"):
                if parent is None:
                    self.unsupported(child, "<scxml>")
            else:
                self.unsupported(child, f"<{element.tag}>")
        return names

    def datamodel(self, element: Element) -> None:
        self.check_attrs(element)
        for data in element.children:
            if data.ns != SCXML or data.tag != "data":
                self.unsupported(data, "<datamodel>")
                continue
            self.check_attrs(data)
            name = data.get("id")
            if not name:
                self.fail(data, "<data> needs an id")
                continue
            for inner in data.children:
                self.unsupported(inner, "<data> (inline XML)")
            if name in self.data:
                self.fail(data, f"the data {name!r} is declared twice")
            self.where[f"data.{name}"] = Location(data.line, data.column)
            if data.get("expr") is not None:
                expr = self.expression(data, "expr")
                if expr is not None:
                    self.data[name] = _folded(expr)
            elif data.text.strip():
                self.data[name] = _literal(data.text)
            else:
                self.data[name] = None

    # ------------------------------------------------------------------ states
    def state(self, element: Element, parent: str | None) -> str:
        kind = element.tag
        self.check_attrs(element)
        name = element.get("id") or self.new_id(f"{kind}_")
        entry: dict[str, Any] = {"name": name}
        self.where[f"@{name}"] = Location(element.line, element.column)
        self.states.append(entry)
        if parent is not None:
            entry["parent"] = parent
        ps_type = self.ps(element, "type")
        if kind == "parallel":
            entry["type"] = "parallel"
        elif kind == "final":
            entry["type"] = ps_type if ps_type == "terminal" else "final"
        elif kind == "history":
            entry["type"] = "history"
            entry["history"] = element.get("type") or "shallow"
            if entry["history"] not in ("shallow", "deep"):
                self.fail(element, f"<history type={entry['history']!r}>: use shallow or deep")
        elif ps_type is not None:
            entry["type"] = ps_type
        for key in ("description",):
            if self.ps(element, key) is not None:
                entry[key] = self.ps(element, key)
        metadata = self.ps_json(element, "metadata")
        if metadata is not None:
            entry["metadata"] = metadata
        invoke = self.ps_json(element, "invoke")
        if invoke is not None:
            entry["invoke"] = invoke
        if self.ps(element, "timeout") is not None:
            entry["timeout"] = {
                "seconds": float(self.ps(element, "timeout") or 0),
                "destination": self.ps(element, "timeout-dest") or "",
            }
        if kind == "history":
            self.history(element, entry, name)
            return name
        on_enter: list[Any] = []
        on_exit: list[Any] = []
        for child in element.children:
            if child.ns != SCXML:
                if not (child.ns == PS and child.tag == "region"):
                    self.unsupported(child, f"<{kind}>")
                continue
            if child.tag == "onentry":
                self.check_attrs(child)
                on_enter.extend(self.block(child, f"@{name}{_CUT}.on_enter", len(on_enter)))
            elif child.tag == "onexit":
                self.check_attrs(child)
                on_exit.extend(self.block(child, f"@{name}{_CUT}.on_exit", len(on_exit)))
        if on_enter:
            entry["on_enter"] = on_enter
        if on_exit:
            entry["on_exit"] = on_exit
        if kind == "final":
            for child in element.children:
                if child.ns == SCXML and child.tag not in ("onentry", "onexit"):
                    self.unsupported(child, "<final>")
            return name
        for child in element.children:
            if child.ns == SCXML and child.tag == "transition":
                self.transition(child, name)
        kids: list[str] = []
        initial_element: Element | None = None
        for child in element.children:
            if child.ns != SCXML:
                continue
            if child.tag in _STATE_TAGS:
                kids.append(self.state(child, name))
            elif child.tag == "datamodel":
                self.datamodel(child)
            elif child.tag == "initial":
                if kind == "parallel":
                    self.unsupported(child, "<parallel>")
                initial_element = child
            elif child.tag not in ("onentry", "onexit", "transition"):
                self.unsupported(child, f"<{kind}>")
        if kind == "parallel":
            self.regions(element, entry, kids)
        elif kids:
            self.initial(element, entry, name, kids, initial_element)
        elif element.get("initial") is not None or initial_element is not None:
            self.fail(element, f"<state id={name!r}> has an initial but no child states")
        return name

    def regions(self, element: Element, entry: dict[str, Any], kids: list[str]) -> None:
        """Each child of a ``<parallel>`` is one region holding just that state, unless
        ``to_scxml`` wrote it as a region of several states (``ps:region``)."""
        regions: list[dict[str, Any]] = []
        by_name = {s["name"]: s for s in self.states}
        for kid in kids:
            state = by_name[kid]
            if state.get("type") == "history":
                continue
            if state.pop("_region", False):
                members = [s["name"] for s in self.states if s.get("parent") == kid]
                for member in self.states:
                    if member.get("parent") == kid:
                        member["parent"] = entry["name"]
                region = {
                    "name": kid,
                    "initial": state.pop("_region_initial", None) or (members or [kid])[0],
                    "states": members,
                }
                if state.get("description"):
                    region["description"] = state["description"]
                self.states.remove(state)
                regions.append(region)
            else:
                regions.append({"name": kid, "initial": kid, "states": [kid]})
        entry["regions"] = regions

    def initial(
        self,
        element: Element,
        entry: dict[str, Any],
        name: str,
        kids: list[str],
        initial_element: Element | None,
    ) -> None:
        if self.ps(element, "region") == "true":
            entry["_region"] = True
            if element.get("initial") is not None:
                entry["_region_initial"] = element.get("initial")
            return
        attr = element.get("initial")
        first = next((k for k in kids if not self.is_history(k)), None)
        if first is not None:
            entry["initial_child"] = first  # SCXML's default: the first child state
        if attr is not None and initial_element is not None:
            self.fail(element, "a state has an initial attribute or an <initial>, not both")
            return
        if initial_element is not None:
            self.check_attrs(initial_element)
            moves = [c for c in initial_element.children if c.ns == SCXML]
            if (
                len(moves) != 1
                or moves[0].tag != "transition"
                or len(initial_element.children) != 1
            ):
                self.fail(initial_element, "<initial> holds exactly one <transition>")
                return
            move = moves[0]
            self.check_attrs(move)
            for key in ("event", "cond", "type"):
                if move.get(key) is not None:
                    self.fail(move, f"an initial transition has no {key!r}")
            targets = (move.get("target") or "").split()
            has_actions = any(c.ns == SCXML for c in move.children)
            if (
                len(targets) == 1
                and targets[0] in kids
                and not has_actions
                and (not self.is_history(targets[0]))
            ):
                entry["initial_child"] = targets[0]
                return
            self.transient(move, entry, name, targets)
            return
        if attr is None:
            return
        targets = attr.split()
        if len(targets) == 1 and targets[0] in kids and not self.is_history(targets[0]):
            entry["initial_child"] = targets[0]
            return
        self.transient(element, entry, name, targets, from_attribute=True)

    def is_history(self, name: str) -> bool:
        return any(s["name"] == name and s.get("type") == "history" for s in self.states)

    def transient(
        self,
        element: Element,
        entry: dict[str, Any] | None,
        parent: str | None,
        targets: list[str],
        from_attribute: bool = False,
    ) -> None:
        """An initial transition that is more than a child's name: a child state entered
        first and left at once by an eventless transition (with the actions)."""
        if len(targets) != 1:
            self.fail(element, "an initial transition to several states is not supported")
            return
        name = self.new_id(f"{parent or 'scxml'}.initial")
        state: dict[str, Any] = {"name": name, "metadata": {"scxml": "initial"}}
        if parent is not None:
            state["parent"] = parent
        self.states.append(state)
        if entry is not None:
            entry["initial_child"] = name
        self.where[f"@{name}"] = Location(element.line, element.column)
        transition: dict[str, Any] = {
            "always": True,
            "source": name,
            "dest": targets[0],
            "kind": "external",
        }
        if not from_attribute:
            actions = self.block(element, f"transitions[{len(self.transitions)}].actions", 0)
            if actions:
                transition["actions"] = actions
        self.where[f"transitions[{len(self.transitions)}]"] = Location(element.line, element.column)
        self.transitions.append(transition)

    def top_initial(self, root: Element, first: int) -> None:
        """``<scxml initial>``: the machine starts in the first top-level state, so the
        named one moves to the front (a deeper target gets a transient first state)."""
        attr = root.get("initial")
        if attr is None:
            return
        targets = attr.split()
        tops = [s for s in self.states[first:] if "parent" not in s]
        names = [s["name"] for s in tops]
        if len(targets) == 1 and targets[0] in names:
            target = targets[0]
            if names[0] == target:
                return
            moved = self.subtree(target)
        else:
            before = list(self.states)
            self.transient(root, None, None, targets, from_attribute=True)
            moved = [s for s in self.states if s not in before]
        rest = [s for s in self.states if s not in moved]
        self.states[:] = moved + rest
        self.transitions_first({s["name"] for s in moved})

    def transitions_first(self, sources: set[str]) -> None:
        """Put the transitions of ``sources`` first (in order), as their states moved."""
        self.reorder(
            sorted(
                range(len(self.transitions)),
                key=lambda i: (self.transitions[i]["source"] not in sources, i),
            )
        )

    def written_order(self) -> None:
        """``ps:index``: the order ``to_scxml`` found the transitions in (which decides
        the order of simultaneous transitions' actions), where it differs from the
        document's."""
        if not self.indexes:
            return
        self.reorder(
            sorted(range(len(self.transitions)), key=lambda i: (self.indexes.get(i, -1), i))
        )

    def reorder(self, order: list[int]) -> None:
        self.transitions[:] = [self.transitions[i] for i in order]
        new_index = {old: new for new, old in enumerate(order)}
        where: dict[str, Location] = {}
        for path, loc in self.where.items():
            if path.startswith("transitions["):
                end = path.index("]")
                old = int(path[len("transitions[") : end])
                path = f"transitions[{new_index[old]}]{path[end + 1 :]}"
            where[path] = loc
        self.where = where

    def subtree(self, name: str) -> list[dict[str, Any]]:
        inside = {name}
        out: list[dict[str, Any]] = []
        for state in self.states:
            if state["name"] in inside or state.get("parent") in inside:
                inside.add(state["name"])
                out.append(state)
        return out

    def history(self, element: Element, entry: dict[str, Any], name: str) -> None:
        moves = [c for c in element.children if c.ns == SCXML]
        for child in element.children:
            if child.ns != SCXML or child.tag != "transition":
                self.unsupported(child, "<history>")
        if not moves or moves[0].tag != "transition":
            return
        move = moves[0]
        self.check_attrs(move)
        targets = (move.get("target") or "").split()
        if len(targets) != 1:
            self.fail(move, "a history default goes to exactly one state")
            return
        entry["default"] = targets[0]
        actions = self.block(move, f"@{name}{_CUT}.default_actions", 0)
        if actions:
            entry["default_actions"] = actions

    # ------------------------------------------------------------------ transitions
    def transition(self, element: Element, source: str) -> None:
        self.check_attrs(element)
        targets = (element.get("target") or "").split()
        if len(targets) > 1:
            self.fail(element, "a transition to several states is not supported")
            return
        base: dict[str, Any] = {"source": source}
        kind = self.ps(element, "kind")
        if targets:
            base["dest"] = targets[0]
            if kind == "default":
                pass
            elif element.get("type") == "internal":
                base["kind"] = "internal"
            elif element.get("type") in (None, "external"):
                base["kind"] = "external"
            else:
                self.fail(element, f"<transition type={element.get('type')!r}>: use internal")
        else:
            base["dest"] = source
            if element.get("type") not in (None, "external", "internal"):
                self.fail(element, f"<transition type={element.get('type')!r}>: use internal")
        guards = self.ps_json(element, "guards")
        if guards is not None:
            base["guards"] = guards
        cond = self.expression(element, "cond")
        if cond is not None:
            base.setdefault("guards", []).append({"expr": cond})
        for key in ("region", "description"):
            if self.ps(element, key) is not None:
                base[key] = self.ps(element, key)
        metadata = self.ps_json(element, "metadata")
        if metadata is not None:
            base["metadata"] = metadata
        after = self.ps(element, "after")
        if after is not None:
            base["after"] = int(after)
        trigger = self.ps(element, "trigger")
        events = [trigger] if trigger is not None else (element.get("event") or "").split()
        first = len(self.transitions)
        actions = self.block(element, f"transitions[{first}].actions", 0)
        if actions:
            base["actions"] = actions
        if not events and after is None:
            self.append({**base, "always": True}, element)
        elif not events:
            self.append(base, element)
        for event in events:
            extra = {"metadata": {**base.get("metadata", {}), "scxml_group": first}}
            self.append({**base, "trigger": event, **(extra if len(events) > 1 else {})}, element)

    def append(self, transition: dict[str, Any], element: Element) -> None:
        index = self.ps(element, "index")
        if index is not None:
            if index.isdigit():
                self.indexes[len(self.transitions)] = int(index)
            else:
                self.fail(element, f"ps:index={index!r} is not a number")
        self.where[f"transitions[{len(self.transitions)}]"] = Location(element.line, element.column)
        self.transitions.append(transition)

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
        if element.ns == PS and element.tag == "call":
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
        tag = element.tag
        if element.ns != SCXML or tag not in _ALLOWED or tag in _STATE_TAGS or tag in (
            "scxml", "initial", "transition", "onentry", "onexit", "datamodel", "data",
            "param", "content", "elseif", "else",
        ):  # fmt: skip
            self.unsupported(element, "executable content")
            return None
        self.check_attrs(element)
        if tag == "raise":
            if element.children:
                self.unsupported(element.children[0], "<raise>")
            event = element.get("event")
            if not event:
                self.fail(element, "<raise> needs an event")
                return None
            return {"raise": event}
        if tag == "log":
            action: dict[str, Any] = {"log": element.get("label") or ""}
            expr = self.expression(element, "expr")
            if expr is not None:
                action["expr"] = expr
            return action
        if tag == "assign":
            return self.assign(element)
        if tag == "send":
            return self.send(element)
        if tag == "cancel":
            if element.get("sendidexpr") is not None:
                expr = self.expression(element, "sendidexpr")
                return {"cancel_expr": expr} if expr is not None else None
            if not element.get("sendid"):
                self.fail(element, "<cancel> needs a sendid or sendidexpr")
                return None
            return {"cancel": element.get("sendid")}
        if tag == "if":
            return self.if_(element)
        return self.foreach(element)

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
            expr = _expression_of(_literal(element.text))
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
        if element.get("targetexpr") is not None:
            action["target_expr"] = self.expression(element, "targetexpr")
        if element.get("type") is not None:
            action["type"] = element.get("type")
        if element.get("typeexpr") is not None:
            action["type_expr"] = self.expression(element, "typeexpr")
        if element.get("eventexpr") is not None:
            action["send_expr"] = self.expression(element, "eventexpr")
        elif element.get("event"):
            action["send"] = element.get("event")
        else:
            self.fail(element, "<send> needs an event or eventexpr")
            return None
        if element.get("delay") is not None:
            try:
                action["delay"] = css_delay(str(element.get("delay")))
            except ValueError as error:
                self.fail(element, f"<send delay>: {error}")
        if element.get("delayexpr") is not None:
            action["delay_expr"] = self.expression(element, "delayexpr")
        if element.get("id") is not None:
            action["id"] = element.get("id")
        if element.get("idlocation") is not None:
            action["id_location"] = str(element.get("idlocation")).strip()
        if internal:
            action["internal"] = True
        data: dict[str, str] = {}
        for listed in (element.get("namelist") or "").split():
            data[listed] = listed
        for child in element.children:
            if child.ns == SCXML and child.tag == "param":
                self.check_attrs(child)
                name = child.get("name")
                source = (
                    child.get("expr") if child.get("expr") is not None else child.get("location")
                )
                if not name or source is None:
                    self.fail(child, "<param> needs a name and an expr or location")
                    continue
                expr = self.expression(child, "expr" if child.get("expr") else "location")
                if expr is not None:
                    data[name] = expr
            elif child.ns == SCXML and child.tag == "content":
                self.check_attrs(child)
                for inner in child.children:
                    self.unsupported(inner, "<content> (inline XML)")
                if child.get("expr") is not None:
                    action["content"] = self.expression(child, "expr")
                else:
                    content = _expression_of(_literal(child.text))
                    if content == "":
                        self.fail(child, "<content>: this value has no pystator expression")
                    else:
                        action["content"] = content
            else:
                self.unsupported(child, "<send>")
        if data:
            action["data"] = data
        return action

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


def css_delay(text: str) -> int:
    """Milliseconds for an SCXML delay (CSS2 time: ``1s``, ``.5s``, ``250ms``)."""
    value = text.strip()
    if value.startswith("."):
        value = "0" + value
    return parse_duration(value)


def _literal(text: str) -> Any:
    """Inline content as a value: JSON when it reads as JSON, else the text itself."""
    stripped = text.strip()
    try:
        return json.loads(stripped)
    except ValueError:
        return " ".join(stripped.split())


def _expression_of(value: Any) -> str:
    """A literal value as a pystator expression ('' when it has none: a mapping)."""
    if isinstance(value, (dict,)):
        return ""
    if isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value):
        return ""
    return repr(value)


def _folded(expr: str) -> Any:
    """A data expression that is a plain literal, as its value; others stay ``{expr}``."""
    import ast

    try:
        value = ast.literal_eval(expr)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return {"expr": expr}
    if isinstance(value, (tuple, set, dict, bytes, complex)):
        return {"expr": expr}
    return value


def read_scxml(source: str | bytes | Path, *, source_name: str | None = None) -> MachineSpec:
    """Read an SCXML document (text, or a path) into a validated ``MachineSpec``.

    Raises ``ConfigError`` listing every problem, each at its line and column: XML
    that is not well formed, elements and attributes that are not supported,
    ECMAScript that has no pystator form, and whatever the machine checks find.
    """
    name = source_name or (str(source) if isinstance(source, Path) else None)
    try:
        root = parse_xml(source)
    except XmlError as error:
        raise ConfigError(
            [Issue(error.message, "", error.line, error.column, "xml", source=name)]
        ) from None
    except OSError as error:
        raise ConfigError([Issue(f"cannot read the file: {error.strerror}", source=name)]) from None
    reader = _Reader(name)
    config = reader.read(root)
    reader.where = reader.located()
    if reader.issues:
        raise ConfigError(sorted(reader.issues, key=lambda i: (i.line or 0, i.column or 0)))
    try:
        spec = load_spec(config)
    except ConfigError as error:
        raise ConfigError([_relocated(issue, reader, name) for issue in error.issues]) from None
    return replace(spec, locations=dict(reader.where), source_name=name)


def _relocated(issue: Issue, reader: _Reader, name: str | None) -> Issue:
    path = issue.path
    while path:
        loc = reader.where.get(path)
        if loc is not None:
            return Issue(issue.message, _readable(path, reader), loc.line, loc.column,
                         issue.code, issue.severity, name)  # fmt: skip
        cut = max(path.rfind("."), path.rfind("["))
        path = path[:cut] if cut > 0 else ""
    return Issue(issue.message, issue.path, None, None, issue.code, issue.severity, name)


def _readable(path: str, reader: _Reader) -> str:
    """``states[3].on_enter[0]`` as the reader's user knows it: ``state 's1' on_enter[0]``."""
    if path.startswith("states["):
        index = int(path[len("states[") : path.index("]")])
        if index < len(reader.states):
            return f"state {reader.states[index]['name']!r}{path[path.index(']') + 1 :]}"
    return path
