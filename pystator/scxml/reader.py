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

Executable content and the attribute vocabulary every element is checked against are
in ``pystator.scxml.reader_content``.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from pystator.config import load_spec
from pystator.errors import ConfigError, Issue
from pystator.model import Location, MachineSpec
from pystator.scxml.reader_content import PS, SCXML, ContentReader, literal_value
from pystator.scxml.xmltree import Element, XmlError, parse_xml

__all__ = ["PS", "SCXML", "read_scxml"]

_CUT = "\x00"  # between a state's name and the rest of a path, while names are placed
_STATE_TAGS = ("state", "parallel", "final", "history")
_HOOKS = {"onentry": "on_enter", "onexit": "on_exit"}
_TRANSITION_TYPES = {None: "external", "external": "external", "internal": "internal"}
"""SCXML's ``type`` of a transition with a target, as its ``kind:``."""
_PS_META = (
    ("version", "version"),
    ("description", "description"),
    ("event-normalizer", "event_normalizer"),
    ("event-matching", "event_matching"),
)
"""The ``ps:`` attributes of ``<scxml>`` copied as they are into ``meta:``."""


class _Reader(ContentReader):
    """The document, its states and transitions (executable content: the base class)."""

    def __init__(self, source_name: str | None) -> None:
        super().__init__(source_name)
        self.states: list[dict[str, Any]] = []
        self.transitions: list[dict[str, Any]] = []
        self.data: dict[str, Any] = {}
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

    # ------------------------------------------------------------------ the document
    def read(self, root: Element) -> dict[str, Any]:
        if root.ns != SCXML or root.tag != "scxml":
            self.fail(root, f"the root element is <{root.tag}>, not <scxml> in the SCXML namespace")
            return {}
        self.check_root(root)
        meta = self.meta(root)
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
        policy = self.error_policy(root)
        if policy:
            config["error_policy"] = policy
        if not self.states:
            self.fail(root, "an SCXML document needs at least one state")
        return config

    def check_root(self, root: Element) -> None:
        """Refuse what ``<scxml>`` may say that pystator does not do."""
        self.check_attrs(root)
        if root.get("version") not in (None, "1.0"):
            self.fail(root, f"SCXML version {root.get('version')!r} is not supported (1.0 is)")
        datamodel = root.get("datamodel")
        if datamodel not in (None, "ecmascript", "null"):
            self.fail(root, f"the datamodel {datamodel!r} is not supported (use ecmascript)")
        if root.get("binding") not in (None, "early"):
            self.fail(root, "late binding is not supported: data is initialised at start")

    def meta(self, root: Element) -> dict[str, Any]:
        """The ``meta:`` block: SCXML's name, its prefix matching, and what ``ps:`` adds."""
        meta: dict[str, Any] = {
            "machine_name": root.get("name") or "scxml",
            "strict_mode": False,
            "event_matching": "prefix",
        }
        for attr, key in _PS_META:
            value = self.ps(root, attr)
            if value is not None:
                meta[key] = value
        strict = self.ps(root, "strict-mode")
        if strict is not None:
            meta["strict_mode"] = strict == "true"
        return meta

    def error_policy(self, root: Element) -> dict[str, Any]:
        policy: dict[str, Any] = {}
        fallback = self.ps(root, "fallback")
        if fallback is not None:
            policy["default_fallback"] = fallback
        attempts = self.ps_number(root, "retry-attempts", int)
        if attempts is not None:
            policy["retry_attempts"] = attempts
        return policy

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
                self.data[name] = literal_value(data.text)
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
        self.state_type(element, entry)
        self.state_ps(element, entry)
        if kind == "history":
            self.history(element, entry, name)
            return name
        self.hooks(element, entry)
        if kind == "final":
            self.final_children(element)
            return name
        self.own_transitions(element, name)
        kids, initial_element = self.substates(element, name)
        if kind == "parallel":
            self.regions(element, entry, kids)
        elif kids:
            self.initial(element, entry, name, kids, initial_element)
        elif element.get("initial") is not None or initial_element is not None:
            self.fail(element, f"<state id={name!r}> has an initial but no child states")
        return name

    def state_type(self, element: Element, entry: dict[str, Any]) -> None:
        """The ``type:`` the element's tag implies (``ps:type`` keeps what SCXML cannot say)."""
        kind = element.tag
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

    def state_ps(self, element: Element, entry: dict[str, Any]) -> None:
        """What ``to_scxml`` wrote in the ``ps:`` namespace: description, metadata, invoke,
        timeout."""
        description = self.ps(element, "description")
        if description is not None:
            entry["description"] = description
        for key in ("metadata", "invoke"):
            value = self.ps_json(element, key)
            if value is not None:
                entry[key] = value
        timeout = self.ps_number(element, "timeout", float)
        if timeout is not None:
            entry["timeout"] = {
                "seconds": timeout,
                "destination": self.ps(element, "timeout-dest") or "",
            }

    def hooks(self, element: Element, entry: dict[str, Any]) -> None:
        """``<onentry>`` and ``<onexit>`` blocks (several of each add up, in order)."""
        name = entry["name"]
        hooks: dict[str, list[Any]] = {"on_enter": [], "on_exit": []}
        for child in element.children:
            if child.ns != SCXML:
                if not (child.ns == PS and child.tag == "region"):
                    self.unsupported(child, f"<{element.tag}>")
                continue
            hook = _HOOKS.get(child.tag)
            if hook is not None:
                self.check_attrs(child)
                actions = hooks[hook]
                actions.extend(self.block(child, f"@{name}{_CUT}.{hook}", len(actions)))
        for hook, actions in hooks.items():
            if actions:
                entry[hook] = actions

    def final_children(self, element: Element) -> None:
        """A ``<final>`` holds nothing but its hooks (``<donedata>`` is not supported)."""
        for child in element.children:
            if child.ns == SCXML and child.tag not in _HOOKS:
                self.unsupported(child, "<final>")

    def own_transitions(self, element: Element, name: str) -> None:
        """The state's transitions, read before its children's so they come first."""
        for child in element.children:
            if child.ns == SCXML and child.tag == "transition":
                self.transition(child, name)

    def substates(self, element: Element, name: str) -> tuple[list[str], Element | None]:
        """Read the child states (and datamodels); their names and the ``<initial>``."""
        kind = element.tag
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
        return kids, initial_element

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
        self.transition_kind(element, base, targets)
        self.transition_guards(element, base)
        self.transition_ps(element, base)
        trigger = self.ps(element, "trigger")
        events = [trigger] if trigger is not None else (element.get("event") or "").split()
        first = len(self.transitions)
        actions = self.block(element, f"transitions[{first}].actions", 0)
        if actions:
            base["actions"] = actions
        if not events:
            # No event: a timer (``ps:after``), or else an eventless transition.
            self.append(base if "after" in base else {**base, "always": True}, element)
        for event in events:
            extra = {"metadata": {**base.get("metadata", {}), "scxml_group": first}}
            self.append({**base, "trigger": event, **(extra if len(events) > 1 else {})}, element)

    def transition_kind(self, element: Element, base: dict[str, Any], targets: list[str]) -> None:
        """``dest`` and ``kind``: SCXML is external by default, the engine's own default
        (``ps:kind="default"``) is written without one; no target stays in place."""
        scxml_type = element.get("type")
        if not targets:
            base["dest"] = base["source"]
            if scxml_type not in _TRANSITION_TYPES:
                self.fail(element, f"<transition type={scxml_type!r}>: use internal")
            return
        base["dest"] = targets[0]
        if self.ps(element, "kind") == "default":
            return
        kind = _TRANSITION_TYPES.get(scxml_type)
        if kind is None:
            self.fail(element, f"<transition type={scxml_type!r}>: use internal")
        else:
            base["kind"] = kind

    def transition_guards(self, element: Element, base: dict[str, Any]) -> None:
        """``ps:guards`` (named guards, written by ``to_scxml``), then ``cond`` after them."""
        guards = self.ps_json(element, "guards")
        if guards is not None:
            base["guards"] = guards
        cond = self.expression(element, "cond")
        if cond is not None:
            base.setdefault("guards", []).append({"expr": cond})

    def transition_ps(self, element: Element, base: dict[str, Any]) -> None:
        for key in ("region", "description"):
            if self.ps(element, key) is not None:
                base[key] = self.ps(element, key)
        metadata = self.ps_json(element, "metadata")
        if metadata is not None:
            base["metadata"] = metadata
        after = self.ps_number(element, "after", int)
        if after is not None:
            base["after"] = after

    def append(self, transition: dict[str, Any], element: Element) -> None:
        index = self.ps(element, "index")
        if index is not None:
            if index.isdigit():
                self.indexes[len(self.transitions)] = int(index)
            else:
                self.fail(element, f"ps:index={index!r} is not a number")
        self.where[f"transitions[{len(self.transitions)}]"] = Location(element.line, element.column)
        self.transitions.append(transition)


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
