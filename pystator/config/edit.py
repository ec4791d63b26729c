"""Structured edits of machine text that keep the user's comments, order and layout.

The designer's "add a state", "connect", "rename" and "delete" write YAML, but never by
loading the document and dumping it again (that would drop every comment and reflow every
list). Each edit composes the text into YAML nodes, which keep their exact character
spans, and replaces or inserts text only at those spans; a new entry copies the style of
its neighbours (block or flow, their indentation). Everything else stays byte for byte.

Every function takes the text and returns the new text, or raises :class:`EditError` with
one sentence saying why the edit cannot be made (an unknown state, a name already taken).
The result is not checked as a machine here: the caller checks it like any typed text.

======================  ==================================================================
:func:`add_state`       a new state at the top level, as a child of a state, or in a region
:func:`add_transition`  a new transition from one state to another on an event
:func:`rename_state`    a new name for a state, and for every reference to it
:func:`state_references`  every place that names a state (shown before a delete)
:func:`delete_state`    the state, its transitions and its mentions in lists
======================  ==================================================================
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from pystator.errors import PystatorError
from pystator.textcheck import TextRejected, check_text

__all__ = [
    "EditError",
    "Reference",
    "add_state",
    "add_transition",
    "delete_state",
    "rename_state",
    "state_references",
]


class EditError(PystatorError, ValueError):
    """A structured edit that cannot be made; ``str(error)`` is the sentence to show."""


@dataclass(frozen=True)
class Reference:
    """One place in the text that names a state: its path, where it is, and what it is."""

    path: str
    line: int
    column: int
    what: str

    @property
    def where(self) -> str:
        return f"{self.line}:{self.column}"


@dataclass(frozen=True)
class _Splice:
    start: int
    end: int
    text: str


# --------------------------------------------------------------------------- reading


def _compose(text: str) -> MappingNode:
    try:
        check_text(text)
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except TextRejected as error:
        raise EditError(str(error)) from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise EditError(
            f"The text is not valid YAML{where}, so it cannot be edited from the diagram; "
            "fix it in the editor first."
        ) from None
    if not isinstance(root, MappingNode):
        raise EditError("The text is not a machine definition (a mapping with states).")
    return root


def _get(mapping: Node | None, key: str) -> Node | None:
    """The value node of ``key`` in a mapping node (``None`` when absent or not a mapping)."""
    if not isinstance(mapping, MappingNode):
        return None
    for k, v in mapping.value:
        if isinstance(k, ScalarNode) and k.value == key:
            found: Node = v
            return found
    return None


def _items(node: Node | None) -> list[Node]:
    return list(node.value) if isinstance(node, SequenceNode) else []


def _scalar(node: Node | None) -> str | None:
    return node.value if isinstance(node, ScalarNode) else None


def _names(node: Node | None) -> list[ScalarNode]:
    """The state names a field holds: one scalar, or a list of them."""
    if isinstance(node, ScalarNode):
        return [node]
    return [item for item in _items(node) if isinstance(item, ScalarNode)]


@dataclass
class _Doc:
    text: str
    root: MappingNode

    @property
    def states(self) -> list[Node]:
        return _items(_get(self.root, "states"))

    @property
    def transitions(self) -> list[Node]:
        return _items(_get(self.root, "transitions"))

    def state_names(self) -> list[str]:
        names = [_scalar(_get(s, "name")) for s in self.states]
        for state in self.states:
            for region in _items(_get(state, "regions")):
                names.extend(n.value for n in _names(_get(region, "states")))
        return [n for n in names if n]

    def state_entry(self, name: str) -> tuple[int, MappingNode] | None:
        for i, state in enumerate(self.states):
            if isinstance(state, MappingNode) and _scalar(_get(state, "name")) == name:
                return i, state
        return None

    def require(self, name: str, role: str = "state") -> None:
        if name not in self.state_names():
            known = ", ".join(self.state_names()[:12]) or "none yet"
            raise EditError(f"There is no {role} {name!r} in this machine (its states: {known}).")

    def line_start(self, index: int) -> int:
        return self.text.rfind("\n", 0, index) + 1

    def line_end(self, index: int) -> int:
        end = self.text.find("\n", index)
        return len(self.text) if end < 0 else end


def _apply(text: str, splices: list[_Splice]) -> str:
    """Each splice applied to ``text``; splices at one place keep their listed order."""
    out = text
    ordered = sorted(enumerate(splices), key=lambda p: (p[1].start, p[1].end, p[0]))
    for _, splice in reversed(ordered):
        out = out[: splice.start] + splice.text + out[splice.end :]
    return out


# --------------------------------------------------------------------------- writing

_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")
# YAML 1.1 booleans and null: written plain they would not read back as names.
_RESERVED = frozenset(["y", "n", "yes", "no", "on", "off", "true", "false", "null", "~"])


def _quoted(value: str) -> str:
    """``value`` as a YAML scalar that reads back as the same string."""
    if _PLAIN.match(value) and value.lower() not in _RESERVED:
        return value
    return json.dumps(value, ensure_ascii=False)


def _restyled(value: str, like: ScalarNode) -> str:
    """``value`` written in the quoting style of the scalar it replaces."""
    if like.style == "'":
        return "'" + value.replace("'", "''") + "'"
    if like.style == '"':
        return json.dumps(value, ensure_ascii=False)
    return _quoted(value)


def _last_line_end(doc: _Doc, node: Node) -> int:
    """The end of the last line that holds ``node``'s own text.

    A block collection "ends" where the next token starts, past blank lines and comments
    that belong to what follows; so this descends to the last scalar or flow collection
    and ends its line (a block scalar's trailing newlines are not its line).
    """
    while isinstance(node, (MappingNode, SequenceNode)) and not node.flow_style and node.value:
        last = node.value[-1]
        node = last[1] if isinstance(last, tuple) else last
    end = node.end_mark.index
    while end > node.start_mark.index and doc.text[end - 1] in " \t\r\n":
        end -= 1
    return doc.line_end(end)


def _indent_of_dash(doc: _Doc, item: Node) -> tuple[int, int]:
    """(column of the item's ``-``, column of its first key) for a block sequence item.

    The dash is on the item's first line, or alone on a line before it (``-`` then the
    keys indented below)."""
    start = item.start_mark.index
    line = doc.text[doc.line_start(start) : start]
    dash = line.rfind("-")
    if dash < 0:
        before = doc.text[:start].rstrip(" \t\r\n")
        if before.endswith("-"):
            at = len(before) - 1
            dash = at - doc.line_start(at)
    return (dash if dash >= 0 else max(item.start_mark.column - 2, 0)), item.start_mark.column


def _entry_text(fields: list[tuple[str, str]], flow: bool, key_col: int) -> str:
    if flow:
        return "{" + ", ".join(f"{k}: {v}" for k, v in fields) + "}"
    pad = " " * key_col
    return ("\n" + pad).join(f"{k}: {v}" for k, v in fields)


def _append(doc: _Doc, sequence: Node, fields: list[tuple[str, str]]) -> _Splice:
    """A new last item of ``sequence`` (a mapping of ``fields``) in its items' style."""
    assert isinstance(sequence, SequenceNode)
    items = sequence.value
    if sequence.flow_style:
        entry = _entry_text(fields, True, 0)
        if not items:
            at = sequence.start_mark.index + 1
            return _Splice(at, at, entry)
        at = items[-1].end_mark.index
        return _Splice(at, at, ", " + entry)
    last = items[-1]
    dash, key_col = _indent_of_dash(doc, last)
    flow = isinstance(last, MappingNode) and bool(last.flow_style)
    at = _last_line_end(doc, last)
    # the keys after the dash where the neighbours have theirs ("-   key:" too); a
    # neighbour whose keys sit one column past a lone dash gives no room for "- "
    key_col = max(key_col, dash + 2)
    gap = " " * (key_col - dash - 1)
    return _Splice(at, at, "\n" + " " * dash + "-" + gap + _entry_text(fields, flow, key_col))


def _append_name(doc: _Doc, sequence: Node, name: str) -> _Splice:
    """``name`` as a new last scalar of a list of names."""
    assert isinstance(sequence, SequenceNode)
    items = sequence.value
    value = _quoted(name)
    if sequence.flow_style or not items:
        if not items:
            at = sequence.start_mark.index + 1
            return _Splice(at, at, value)
        at = items[-1].end_mark.index
        return _Splice(at, at, ", " + value)
    dash, _ = _indent_of_dash(doc, items[-1])
    at = _last_line_end(doc, items[-1])
    return _Splice(at, at, "\n" + " " * dash + "- " + value)


def _add_key(doc: _Doc, mapping: MappingNode, key: str, value: str) -> _Splice:
    """A new ``key: value`` at the end of ``mapping``, in its style."""
    if mapping.flow_style:
        at = mapping.end_mark.index - 1  # the closing brace
        while at > mapping.start_mark.index and doc.text[at - 1] == " ":
            at -= 1
        return _Splice(at, at, f", {key}: {value}")
    last_value = mapping.value[-1][1]
    at = _last_line_end(doc, last_value)
    return _Splice(at, at, "\n" + " " * mapping.start_mark.column + f"{key}: {value}")


def _top_level_list(doc: _Doc, key: str, fields: list[tuple[str, str]]) -> _Splice:
    """A first entry under a new top-level ``key:`` at the end of the text."""
    tail = "" if doc.text.endswith("\n") or not doc.text else "\n"
    body = ("\n    ").join(f"{k}: {v}" for k, v in fields)
    at = len(doc.text)
    return _Splice(at, at, f"{tail}{key}:\n  - {body}\n")


def _check_new_name(doc: _Doc, name: str) -> str:
    name = name.strip()
    if not name:
        raise EditError("A state needs a name.")
    if any(ch in name for ch in "\n\r\t") or not name.isprintable():
        raise EditError("A state name is one line of printable characters.")
    if name in doc.state_names():
        raise EditError(f"There is already a state called {name!r}.")
    return name


# --------------------------------------------------------------------------- edits


def add_state(text: str, name: str, *, parent: str = "", region: str = "") -> str:
    """``text`` with a new state ``name``: top level, a child of ``parent``, or in its
    ``region`` when ``parent`` is a parallel state.

    A parent that had no children gets ``initial_child: name`` too, so it stays valid.
    """
    doc = _Doc(text, _compose(text))
    name = _check_new_name(doc, name)
    states = _get(doc.root, "states")
    if parent:
        doc.require(parent, "parent state")
    found = doc.state_entry(parent) if parent else None
    if region:
        if found is None:
            raise EditError(f"Regions belong to a parallel state; name it (not {parent!r}).")
        regions = [r for r in _items(_get(found[1], "regions")) if isinstance(r, MappingNode)]
        chosen = next((r for r in regions if _scalar(_get(r, "name")) == region), None)
        if chosen is None:
            names = ", ".join(str(_scalar(_get(r, "name"))) for r in regions) or "none"
            raise EditError(f"State {parent!r} has no region {region!r} (its regions: {names}).")
        members = _get(chosen, "states")
        if isinstance(members, SequenceNode):
            return _apply(text, [_append_name(doc, members, name)])
        return _apply(text, [_add_key(doc, chosen, "states", f"[{_quoted(name)}]")])
    if not isinstance(states, SequenceNode):
        raise EditError("The machine has no list of states to add to.")
    fields = [("name", _quoted(name))]
    splices: list[_Splice] = []
    if parent:
        fields.append(("parent", _quoted(parent)))
        has_children = any(_scalar(_get(s, "parent")) == parent for s in doc.states)
        if (
            found is not None
            and not has_children
            and _get(found[1], "initial_child") is None
            and _get(found[1], "regions") is None
        ):
            splices.append(_add_key(doc, found[1], "initial_child", _quoted(name)))
    splices.append(_append(doc, states, fields))  # a block list is never empty
    return _apply(text, splices)


def add_transition(text: str, source: str, dest: str, trigger: str) -> str:
    """``text`` with a new transition from ``source`` to ``dest`` on ``trigger``."""
    doc = _Doc(text, _compose(text))
    trigger = trigger.strip()
    if not trigger or not trigger.isprintable():
        raise EditError("A transition needs an event name (its trigger).")
    doc.require(source, "source state")
    doc.require(dest, "target state")
    fields = [("trigger", _quoted(trigger)), ("source", _quoted(source)), ("dest", _quoted(dest))]
    transitions = _get(doc.root, "transitions")
    if transitions is None:
        return _apply(text, [_top_level_list(doc, "transitions", fields)])
    if not isinstance(transitions, SequenceNode) or (
        not transitions.value and not transitions.flow_style
    ):
        raise EditError("The machine's transitions are not a list to add to.")
    return _apply(text, [_append(doc, transitions, fields)])


def _name_nodes(doc: _Doc, name: str) -> Iterator[tuple[str, ScalarNode, str]]:
    """(path, node, what) for every scalar in the text that names state ``name``."""
    for i, state in enumerate(doc.states):
        if isinstance(state, MappingNode):
            yield from _state_name_nodes(state, f"states[{i}]", name)
    for j, transition in enumerate(doc.transitions):
        yield from _transition_name_nodes(transition, f"transitions[{j}]", name)


def _state_name_nodes(
    state: MappingNode, here: str, name: str
) -> Iterator[tuple[str, ScalarNode, str]]:
    """The scalars of one state's mapping (its regions included) that name ``name``."""
    label = _scalar(_get(state, "name")) or here
    for key, what in (
        ("name", "the state itself"),
        ("parent", f"the parent of {label}"),
        ("initial_child", f"the initial child of {label}"),
        ("default", f"the default of history state {label}"),
    ):
        node = _get(state, key)
        if isinstance(node, ScalarNode) and node.value == name:
            yield f"{here}.{key}", node, what
    timeout = _get(state, "timeout")
    node = _get(timeout, "destination") if timeout is not None else None
    if isinstance(node, ScalarNode) and node.value == name:
        yield f"{here}.timeout.destination", node, f"where {label}'s timeout goes"
    for r, region in enumerate(_items(_get(state, "regions"))):
        rname = _scalar(_get(region, "name")) or str(r)
        node = _get(region, "initial")
        if isinstance(node, ScalarNode) and node.value == name:
            yield f"{here}.regions[{r}].initial", node, f"the initial state of region {rname}"
        for k, member in enumerate(_names(_get(region, "states"))):
            if member.value == name:
                yield f"{here}.regions[{r}].states[{k}]", member, f"a state of region {rname}"


def _transition_name_nodes(
    transition: Node, here: str, name: str
) -> Iterator[tuple[str, ScalarNode, str]]:
    """The scalars of one transition (its sources and target) that name ``name``."""
    trigger = _scalar(_get(transition, "trigger")) or "an eventless transition"
    sources = _get(transition, "source")
    for k, node in enumerate(_names(sources)):
        if node.value == name:
            path = f"{here}.source" + (f"[{k}]" if isinstance(sources, SequenceNode) else "")
            yield path, node, f"the source of {trigger}"
    dest = _get(transition, "dest")
    if isinstance(dest, ScalarNode) and dest.value == name:
        yield f"{here}.dest", dest, f"the target of {trigger}"


def rename_state(text: str, old: str, new: str) -> str:
    """``text`` with state ``old`` called ``new`` everywhere the structure names it.

    Guard expressions that mention the state (``In('old')``) are text the edit does not
    parse; the live check reports any that no longer match.
    """
    doc = _Doc(text, _compose(text))
    doc.require(old)
    new = _check_new_name(doc, new) if new.strip() != old else old
    splices = [
        _Splice(node.start_mark.index, node.end_mark.index, _restyled(new, node))
        for _, node, _ in _name_nodes(doc, old)
    ]
    return _apply(text, splices)


def state_references(text: str, name: str) -> tuple[Reference, ...]:
    """Every place other than its own entry that names state ``name``, in text order."""
    doc = _Doc(text, _compose(text))
    doc.require(name)
    found = [
        Reference(path, node.start_mark.line + 1, node.start_mark.column + 1, what)
        for path, node, what in _name_nodes(doc, name)
        if not path.endswith("].name")
    ]
    return tuple(sorted(found, key=lambda r: (r.line, r.column)))


def _remove_item(doc: _Doc, sequence: SequenceNode, item: Node) -> _Splice:
    """Take ``item`` out of ``sequence``: its whole lines (block) or its text and comma."""
    if sequence.flow_style:
        items = sequence.value
        k = next(i for i, it in enumerate(items) if it is item)
        if len(items) == 1:
            return _Splice(item.start_mark.index, item.end_mark.index, "")
        if k + 1 < len(items):
            return _Splice(item.start_mark.index, items[k + 1].start_mark.index, "")
        return _Splice(items[k - 1].end_mark.index, item.end_mark.index, "")
    start = doc.line_start(item.start_mark.index)
    end = min(_last_line_end(doc, item) + 1, len(doc.text))
    if doc.text[max(start - 2, 0) : start] == "\n\n" and doc.text[end : end + 1] == "\n":
        end += 1  # the blank line that separated it from the next entry goes with it
    return _Splice(start, end, "")


def delete_state(text: str, name: str) -> str:
    """``text`` without state ``name``, the transitions to or only from it, and its
    mentions in source lists and region lists.

    A state with children is refused (delete or move the children first). Other
    references (an ``initial_child``, a region's ``initial``, a timeout's destination)
    are left for the person to change: :func:`state_references` lists them beforehand and
    the live check points at each one afterwards.
    """
    doc = _Doc(text, _compose(text))
    doc.require(name)
    children = [_scalar(_get(s, "name")) for s in doc.states if _scalar(_get(s, "parent")) == name]
    if children:
        raise EditError(
            f"State {name!r} has child states ({', '.join(str(c) for c in children)}); "
            "delete or move them first."
        )
    splices: list[_Splice] = []
    states = _get(doc.root, "states")
    entry = doc.state_entry(name)
    if entry is not None and isinstance(states, SequenceNode):
        splices.append(_remove_item(doc, states, entry[1]))
    for state in doc.states:
        for region in _items(_get(state, "regions")):
            members = _get(region, "states")
            if isinstance(members, SequenceNode):
                for member in list(members.value):
                    if isinstance(member, ScalarNode) and member.value == name:
                        splices.append(_remove_item(doc, members, member))
    transitions = _get(doc.root, "transitions")
    for transition in doc.transitions:
        assert isinstance(transitions, SequenceNode)
        sources = _get(transition, "source")
        named = [n for n in _names(sources) if n.value == name]
        dest = _scalar(_get(transition, "dest"))
        if dest == name or (named and len(_names(sources)) == len(named)):
            splices.append(_remove_item(doc, transitions, transition))
        elif named and isinstance(sources, SequenceNode):
            splices.extend(_remove_item(doc, sources, n) for n in named)
    return _apply(text, splices)
