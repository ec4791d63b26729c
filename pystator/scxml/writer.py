"""A machine -> SCXML text that ``read_scxml`` reads back to an equal machine.

Everything SCXML can say is written as SCXML: states, parallel states (one child
state per region when the region is just that state), finals, history, initial
states and transitions, ECMAScript conditions and executable content. What it has
no word for goes into pystator's own namespace (``ps:``), so nothing is lost:
host actions (``<ps:call name params>``), named guards and guard lists
(``ps:guards``), ``after`` delays and state timeouts, state types, region names,
descriptions and metadata, and the engine's default transition kind
(``ps:kind="default"``; SCXML's own default is external).
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

from pystator.chart import RegionNode
from pystator.model import ActionSpec, MachineSpec, State, StateType, Transition
from pystator.scxml.ecmascript import TranslationError, to_ecmascript
from pystator.scxml.reader import PS, SCXML

__all__ = ["ScxmlExportError", "spec_to_scxml"]


class ScxmlExportError(ValueError):
    """A machine holds something SCXML (even with ``ps:``) cannot carry; says what and where."""


def _q(name: str) -> str:
    return f"{{{SCXML}}}{name}"


def _ps(name: str) -> str:
    return f"{{{PS}}}{name}"


def _js(expr: str, where: str) -> str:
    try:
        return to_ecmascript(expr)
    except TranslationError as error:
        raise ScxmlExportError(f"{where}: {error}") from None


class _Writer:
    def __init__(self, spec: MachineSpec) -> None:
        self.spec = spec
        self.chart = spec.chart
        self.order = {id(t): i for i, t in enumerate(spec.transitions)}
        self.placed: dict[ET.Element, int] = {}
        self.transient = {
            name
            for name, state in self.chart.states.items()
            if state.metadata.get("scxml") == "initial"
        }

    def document(self) -> ET.Element:
        root = ET.Element(_q("scxml"), {"version": "1.0", "datamodel": "ecmascript"})
        root.set("name", self.spec.meta.machine_name)
        for attr, value in self.document_ps():
            if value is not None:
                root.set(_ps(attr), value)
        self.start(root)
        self.datamodel(root)
        for name in self.chart.roots:
            if name not in self.transient:
                self.state(root, name)
        self.number(root)
        return root

    def document_ps(self) -> tuple[tuple[str, str | None], ...]:
        """The ``ps:`` attributes of ``<scxml>``: each meta and error policy field that is
        not its default (``None``: not written)."""
        meta, policy = self.spec.meta, self.spec.error_policy
        return (
            ("version", meta.version if meta.version != "1.0.0" else None),
            ("strict-mode", "true" if meta.strict_mode else None),
            ("event-matching", meta.event_matching if meta.event_matching != "prefix" else None),
            ("event-normalizer", meta.event_normalizer or None),
            ("description", meta.description or None),
            ("fallback", policy.default_fallback),
            ("retry-attempts", str(policy.retry_attempts) if policy.retry_attempts else None),
        )

    def start(self, root: ET.Element) -> None:
        """``<scxml initial>`` where SCXML's default (the first state) is not the start."""
        chart = self.chart
        roots = chart.roots
        start = chart.initial_state
        if start in self.transient:
            root.set("initial", self._initial_target(start))
        elif (
            start is not None and roots and start != roots[0] and not chart.states[start].is_initial
        ):
            root.set("initial", start)

    def datamodel(self, root: ET.Element) -> None:
        if not self.spec.data:
            return
        model = ET.SubElement(root, _q("datamodel"))
        for d in self.spec.data:
            element = ET.SubElement(model, _q("data"), {"id": d.name})
            if d.expr is not None:
                element.set("expr", _js(d.expr, f"data {d.name!r}"))
            elif d.value is not None:
                element.text = json.dumps(d.value)

    def number(self, root: ET.Element) -> None:
        """Mark each transition with its place in the machine (``ps:index``) when the
        document's order would read differently: it orders simultaneous transitions'
        actions."""
        written = [e for e in root.iter(_q("transition")) if e in self.placed]
        indexes = [self.placed[e] for e in written]
        if indexes != sorted(indexes):
            for element in written:
                element.set(_ps("index"), str(self.placed[element]))

    def _initial_target(self, transient: str) -> str:
        moves = [t for t in self.spec.transitions if transient in t.source]
        return moves[0].dest if moves else transient

    # ------------------------------------------------------------------ states
    def state(self, parent: ET.Element, name: str) -> None:
        chart = self.chart
        state = chart.states[name]
        if state.is_history:
            self.history(parent, state)
            return
        tag = "parallel" if state.is_parallel else "final" if state.is_final else "state"
        element = ET.SubElement(parent, _q(tag), {"id": name})
        if state.type in (StateType.INITIAL, StateType.ERROR, StateType.TERMINAL):
            element.set(_ps("type"), state.type.value)
        self.common(element, state)
        if state.timeout is not None:
            element.set(_ps("timeout"), repr(state.timeout.seconds))
            element.set(_ps("timeout-dest"), state.timeout.destination)
        kids = [k for k in chart.kids(name) if isinstance(k, str)]
        transient = [k for k in kids if k in self.transient]
        if state.initial_child is not None and state.initial_child not in self.transient:
            element.set("initial", state.initial_child)
        self.hooks(element, state)
        for t in self.transitions_from(name):
            self.transition(element, name, t)
        if transient:
            move = next(t for t in self.spec.transitions if transient[0] in t.source)
            initial = ET.SubElement(element, _q("initial"))
            self.move(initial, move)
        if state.is_parallel:
            for child in sorted(chart.kids(name), key=self._written_at):
                if isinstance(child, RegionNode):
                    self.region(element, child)
                else:
                    self.state(element, child)
            return
        for kid in kids:
            if kid not in self.transient:
                self.state(element, kid)

    def _written_at(self, node: str | RegionNode) -> int:
        """Where a parallel state's child stands in the definition (a region: where its
        first state does), so a history state keeps its place among the regions."""
        index = self.chart.index
        if isinstance(node, RegionNode):
            members = [m for m in self.chart.kids(node) if isinstance(m, str)]
            return min((index[m] for m in members), default=len(index))
        return index[node]

    def region(self, parent: ET.Element, node: RegionNode) -> None:
        region = self.chart.region(node)
        members = [m for m in self.chart.kids(node) if isinstance(m, str)]
        if members == [region.name] and region.initial == region.name:
            self.state(parent, region.name)
            return
        wrapper = ET.SubElement(parent, _q("state"), {"id": region.name, _ps("region"): "true"})
        wrapper.set("initial", region.initial)
        if region.description:
            wrapper.set(_ps("description"), region.description)
        for member in members:
            self.state(wrapper, member)

    def history(self, parent: ET.Element, state: State) -> None:
        element = ET.SubElement(
            parent, _q("history"), {"id": state.name, "type": state.history or "shallow"}
        )
        self.common(element, state)
        if state.default is not None:
            move = ET.SubElement(element, _q("transition"), {"target": state.default})
            self.actions(move, state.default_actions, f"state {state.name!r} default_actions")

    def common(self, element: ET.Element, state: State) -> None:
        if state.description:
            element.set(_ps("description"), state.description)
        metadata = {k: v for k, v in state.metadata.items() if k != "scxml"}
        if metadata:
            element.set(_ps("metadata"), json.dumps(metadata))
        if state.invoke:
            element.set(
                _ps("invoke"),
                json.dumps(
                    [
                        {
                            "id": v.id,
                            "src": v.src,
                            **({"on_done": v.on_done} if v.on_done else {}),
                            **({"params": dict(v.params)} if v.params else {}),
                        }
                        for v in state.invoke
                    ]
                ),
            )

    def hooks(self, element: ET.Element, state: State) -> None:
        if state.on_enter:
            block = ET.SubElement(element, _q("onentry"))
            self.actions(block, state.on_enter, f"state {state.name!r} on_enter")
        if state.on_exit:
            block = ET.SubElement(element, _q("onexit"))
            self.actions(block, state.on_exit, f"state {state.name!r} on_exit")

    # ------------------------------------------------------------------ transitions
    def transitions_from(self, name: str) -> list[Transition]:
        return [t for t in self.spec.transitions if name in t.source]

    def transition(self, parent: ET.Element, source: str, t: Transition) -> None:
        group = t.metadata.get("scxml_group")
        if group is not None:
            previous = getattr(self, "_last", None)
            if previous is not None and previous[0] == (source, group) and _same(previous[2], t):
                element = previous[1]
                element.set("event", f"{element.get('event')} {t.trigger}")
                self._last = ((source, group), element, t)
                return
        element = ET.SubElement(parent, _q("transition"))
        self.placed[element] = self.order[id(t)]
        self._last = ((source, group), element, t)
        where = f"transition {t.trigger!r} from {source!r}"
        if not t.eventless:
            if t.trigger and not any(c.isspace() for c in t.trigger):
                element.set("event", t.trigger)
            else:
                element.set(_ps("trigger"), t.trigger)
        if t.after is not None:
            element.set(_ps("after"), str(t.after))
        self.guards(element, t, where)
        if not (t.kind is None and t.dest == source):
            element.set("target", t.dest)
            if t.kind is None:
                element.set(_ps("kind"), "default")
            elif t.kind == "internal":
                element.set("type", "internal")
        if t.region is not None:
            element.set(_ps("region"), t.region)
        if t.description:
            element.set(_ps("description"), t.description)
        metadata = {k: v for k, v in t.metadata.items() if k != "scxml_group"}
        if metadata:
            element.set(_ps("metadata"), json.dumps(metadata))
        self.actions(element, t.actions, where)

    def guards(self, element: ET.Element, t: Transition, where: str) -> None:
        if not t.guards:
            return
        if len(t.guards) == 1 and t.guards[0].expr is not None:
            try:
                element.set("cond", to_ecmascript(t.guards[0].expr))
                return
            except TranslationError:
                pass
        element.set(_ps("guards"), json.dumps([g.to_config() for g in t.guards]))

    def move(self, parent: ET.Element, t: Transition) -> None:
        element = ET.SubElement(parent, _q("transition"), {"target": t.dest})
        self.actions(element, t.actions, "initial transition")

    # ------------------------------------------------------------------ executable content
    def actions(self, parent: ET.Element, actions: tuple[ActionSpec, ...], where: str) -> None:
        for action in actions:
            self.action(parent, action, where)

    def action(self, parent: ET.Element, a: ActionSpec, where: str) -> None:
        write = _ACTIONS.get(a.kind)
        if write is None:
            raise ScxmlExportError(f"{where}: an action of kind {a.kind!r} has no SCXML form")
        write(self, parent, a, where)

    def call(self, parent: ET.Element, a: ActionSpec, where: str) -> None:
        element = ET.SubElement(parent, _ps("call"), {"name": a.name})
        if a.params:
            element.set("params", json.dumps(dict(a.params)))

    def raise_(self, parent: ET.Element, a: ActionSpec, where: str) -> None:
        ET.SubElement(parent, _q("raise"), {"event": a.name})

    def assign(self, parent: ET.Element, a: ActionSpec, where: str) -> None:
        expr = _js(a.params["expr"], where)
        ET.SubElement(parent, _q("assign"), {"location": a.name, "expr": expr})

    def log(self, parent: ET.Element, a: ActionSpec, where: str) -> None:
        element = ET.SubElement(parent, _q("log"), {"label": a.name})
        if "expr" in a.params:
            element.set("expr", _js(a.params["expr"], where))

    def cancel(self, parent: ET.Element, a: ActionSpec, where: str) -> None:
        if "expr" in a.params:
            ET.SubElement(parent, _q("cancel"), {"sendidexpr": _js(a.params["expr"], where)})
        else:
            ET.SubElement(parent, _q("cancel"), {"sendid": a.name})

    def if_(self, parent: ET.Element, a: ActionSpec, where: str) -> None:
        p = a.params
        (cond, then), *rest = p["branches"]
        element = ET.SubElement(parent, _q("if"), {"cond": _js(cond, where)})
        self.actions(element, then, where)
        for other, acts in rest:
            ET.SubElement(element, _q("elseif"), {"cond": _js(other, where)})
            self.actions(element, acts, where)
        if p.get("else"):
            ET.SubElement(element, _q("else"))
            self.actions(element, p["else"], where)

    def foreach(self, parent: ET.Element, a: ActionSpec, where: str) -> None:
        p = a.params
        element = ET.SubElement(
            parent, _q("foreach"), {"array": _js(p["array"], where), "item": a.name}
        )
        if p.get("index"):
            element.set("index", p["index"])
        self.actions(element, p.get("do", ()), where)

    def send(self, parent: ET.Element, a: ActionSpec, where: str) -> None:
        p = a.params
        element = ET.SubElement(parent, _q("send"))
        if "event_expr" in p:
            element.set("eventexpr", _js(p["event_expr"], where))
        else:
            element.set("event", a.name)
        if p.get("internal"):
            element.set("target", "#_internal")
        for key, attr, write in _SEND_ATTRS:
            if key in p:
                element.set(attr, write(p[key], where))
        for name, expr in (p.get("data") or {}).items():
            ET.SubElement(element, _q("param"), {"name": name, "expr": _js(expr, where)})
        if "content" in p:
            ET.SubElement(element, _q("content"), {"expr": _js(p["content"], where)})


_ACTIONS: dict[str, Callable[[_Writer, ET.Element, ActionSpec, str], None]] = {
    "call": _Writer.call,
    "raise": _Writer.raise_,
    "assign": _Writer.assign,
    "log": _Writer.log,
    "send": _Writer.send,
    "cancel": _Writer.cancel,
    "if": _Writer.if_,
    "foreach": _Writer.foreach,
}
"""How each kind of action is written; a kind not listed has no SCXML form."""


def _text(value: Any, _where: str) -> str:
    return str(value)


def _milliseconds(value: Any, _where: str) -> str:
    return f"{value}ms"


_SEND_ATTRS: tuple[tuple[str, str, Callable[[Any, str], str]], ...] = (
    ("target", "target", _text),
    ("type", "type", _text),
    ("target_expr", "targetexpr", _js),
    ("type_expr", "typeexpr", _js),
    ("delay", "delay", _milliseconds),
    ("delay_expr", "delayexpr", _js),
    ("id", "id", _text),
    ("id_location", "idlocation", _text),
)
"""``<send>`` attributes, in the order they are written: (param, attribute, how)."""


def _same(a: Transition, b: Transition) -> bool:
    """Two halves of one SCXML transition with several events (everything but the trigger)."""
    return (
        a.source == b.source
        and a.dest == b.dest
        and a.guards == b.guards
        and a.actions == b.actions
        and a.kind == b.kind
        and a.eventless == b.eventless
        and a.after is None
        and b.after is None
    )


def spec_to_scxml(spec: MachineSpec) -> str:
    """The SCXML document of ``spec``, indented, with an XML declaration."""
    ET.register_namespace("", SCXML)
    ET.register_namespace("ps", PS)
    root = _Writer(spec).document()
    ET.indent(root, space="  ")
    body = ET.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"
