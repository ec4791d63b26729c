"""The designer's bridge to the simulator: a trace and an action in, plain values out.

The Simulate view keeps no state on the server. Each request carries the machine
text and the trace (the simulator's list of inputs, as JSON); :func:`simulate`
replays the trace with :meth:`pystator.simulator.Simulation.from_json`, applies one
action through the simulator's own methods, and returns a :class:`SimView` that the
template only loops over. Every figure on the page (enabled events and where they
go, why others are disabled, timers, steps, actions, divergence) is read from the
simulator; this module only turns it into words and rows.

Bad input (malformed JSON, an unknown event, a trace that no longer applies or is
too long) never raises: it becomes a sentence in ``SimView.message``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import threading
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from pystator.diagram import (
    DiagramEdge,
    DiagramGraph,
    DiagramView,
    MermaidDiagram,
    build_graph,
)
from pystator.durations import format_duration, parse_duration
from pystator.errors import PystatorError
from pystator.invoked import InvokeError, child_invokes, child_name
from pystator.limits import JsonInputError, load_json
from pystator.machine import StateMachine
from pystator.model import Transition
from pystator.simulator import EnabledEvent, Simulation, SimulationError, Step
from pystator.simulator.trace import FORMAT_VERSION
from ui.designer import diagram_view

__all__ = [
    "MAX_TRACE_CHARS",
    "Action",
    "ChildText",
    "SimView",
    "machine_for",
    "pack_trace",
    "parse_action",
    "simulate",
    "unpack_trace",
]

MAX_TRACE_CHARS = 2_000_000
"""A trace field longer than this is refused before it is parsed (10,000 inputs fit)."""

MAX_PACKED_CHARS = 6_000
_ADVANCE_BUTTONS = ("500ms", "5s", "1m")


# --------------------------------------------------------------------------- the trace


def pack_trace(trace_json: str) -> str:
    """A URL-safe, compressed form of a trace (for the page address); "" when too long."""
    packed = base64.urlsafe_b64encode(zlib.compress(trace_json.encode("utf-8"), 9))
    token = packed.decode("ascii").rstrip("=")
    return token if len(token) <= MAX_PACKED_CHARS else ""


def unpack_trace(token: str) -> str:
    """The trace JSON in a packed token; ``SimulationError`` says why it cannot be read."""
    if len(token) > MAX_PACKED_CHARS:
        raise SimulationError("the simulation in this address is too long to open")
    try:
        packed = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        inflater = zlib.decompressobj()
        raw = inflater.decompress(packed, MAX_TRACE_CHARS)
        if inflater.unconsumed_tail or not inflater.eof:
            raise ValueError("truncated or too large")
        text = raw.decode("utf-8")
        load_json(text, "the simulation", max_chars=MAX_TRACE_CHARS)
        return text
    except JsonInputError as error:
        raise SimulationError(f"the simulation in this address is refused: {error}") from None
    except (binascii.Error, ValueError, zlib.error):
        raise SimulationError(
            "the simulation in this address is damaged; a new one was started"
        ) from None


def _trace_list(trace_text: str) -> list[Any]:
    """The inputs in a trace field (a JSON list, or a whole ``to_json`` document)."""
    if not trace_text.strip():
        return []
    try:
        value = load_json(trace_text, "the simulation trace", max_chars=MAX_TRACE_CHARS)
    except JsonInputError as error:
        raise SimulationError(str(error)) from None
    if isinstance(value, dict) and isinstance(value.get("trace"), list):
        value = value["trace"]
    if not isinstance(value, list):
        raise SimulationError("the simulation trace must be a list of steps")
    return value


def _replay(machine: StateMachine, inputs: list[Any]) -> Simulation:
    document = {"v": FORMAT_VERSION, "context": {}, "trace": inputs}
    return Simulation.from_json(machine, json.dumps(document))


def _inputs_of(sim: Simulation) -> list[Any]:
    inputs: list[Any] = json.loads(sim.to_json())["trace"]
    return inputs


# --------------------------------------------------------------------------- actions


@dataclass(frozen=True)
class Action:
    """One thing the person asked for, parsed from the form's ``do`` field."""

    kind: str  # show, send, fire, advance, advance_to, guard, context, undo, reset, jump
    event: str = ""
    via: int | None = None
    duration: str = ""
    guard: str = ""
    outcome: bool | None = None
    step: int = 0


def parse_action(do: str, fields: Mapping[str, str]) -> Action:
    """The action a button asked for; ``SimulationError`` for one that makes no sense.

    Buttons send ``do`` as ``send:<via or ->:<event>``, ``fire``, ``advance:<duration>``,
    ``advance_to`` (with ``to``), ``guard:<true|false|unset>:<name>``, ``context``,
    ``event`` (the typed event in ``event``), ``undo``, ``reset``, ``jump:<step>``;
    anything else (or nothing) only shows the simulation.
    """
    head, _, rest = do.partition(":")
    if head in ("", "show", "replay"):
        return Action("show")
    if head in ("fire", "undo", "reset", "context", "advance_to"):
        return Action(head, duration=fields.get("to", "").strip())
    parse = _ACTION_PARSERS.get(head)
    if parse is None:
        raise SimulationError(f"the simulator has no action {head!r}")
    return parse(rest, fields)


def _send_action(rest: str, fields: Mapping[str, str]) -> Action:
    """``send:<via>:<event>``: ``via`` is a transition number, or ``-``/empty for any."""
    via_text, _, event = rest.partition(":")
    via = None
    if via_text not in ("", "-"):
        if not via_text.isdigit():
            raise SimulationError(f"the choice {via_text!r} is not a transition number")
        via = int(via_text)
    return Action("send", event=event, via=via)


def _typed_event_action(rest: str, fields: Mapping[str, str]) -> Action:
    event = fields.get("event", "").strip()
    if not event:
        raise SimulationError("type the name of the event to send")
    return Action("send", event=event)


def _advance_action(rest: str, fields: Mapping[str, str]) -> Action:
    return Action("advance", duration=rest)


def _guard_action(rest: str, fields: Mapping[str, str]) -> Action:
    value, _, name = rest.partition(":")
    outcomes = {"true": True, "false": False, "unset": None}
    if value not in outcomes or not name:
        raise SimulationError(f"a guard is set to true, false or unset, not {value!r}")
    return Action("guard", guard=name, outcome=outcomes[value])


def _jump_action(rest: str, fields: Mapping[str, str]) -> Action:
    if not rest.isdigit():
        raise SimulationError(f"there is no step {rest!r} to go back to")
    return Action("jump", step=int(rest))


# The actions whose ``do`` carries more after the colon (or reads a typed field).
_ACTION_PARSERS: dict[str, Callable[[str, Mapping[str, str]], Action]] = {
    "send": _send_action,
    "event": _typed_event_action,
    "advance": _advance_action,
    "guard": _guard_action,
    "jump": _jump_action,
}


@dataclass(frozen=True)
class JsonProblem:
    """Invalid JSON typed by the person: where, and what is wrong."""

    message: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.message} (line {self.line}, column {self.column})"


def _json_object(text: str, what: str) -> dict[str, Any] | JsonProblem:
    if not text.strip():
        return {}
    try:
        value = load_json(text, what)
    except JsonInputError as error:
        where = f" at {error.path}" if error.path else ""
        return JsonProblem(error.message + where, error.line or 1, error.column or 1)
    if not isinstance(value, dict):
        return JsonProblem(f"{what} must be a JSON object ({{...}}), not {_kind(value)}", 1, 1)
    return value


def _kind(value: Any) -> str:
    names = {list: "a list", str: "a string", bool: "true/false", type(None): "null"}
    return names.get(type(value), "a number")


# --------------------------------------------------------------------------- the view


@dataclass(frozen=True)
class EventButton:
    key: int
    event: str
    label: str
    goes_to: str
    configuration: str
    do: str
    assumes: tuple[str, ...]
    timer: bool


@dataclass(frozen=True)
class TimerRow:
    state: str
    trigger: str
    fires: str
    due: str
    left: str
    armed_at: str


@dataclass(frozen=True)
class GuardToggle:
    name: str
    value: str  # "true", "false" or "unset"


@dataclass(frozen=True)
class LogEntry:
    """One step of the log, in words."""

    index: int
    kind: str
    clock: str
    summary: str
    state: str
    moved: bool
    refused: bool
    reason: str
    exited: tuple[str, ...]
    entered: tuple[str, ...]
    transitions: tuple[str, ...]
    actions: tuple[tuple[str, str, str, str], ...]  # phase, owner, name, params
    guards: tuple[tuple[str, bool, str, str], ...]  # guard, passed, detail, decided by
    armed: tuple[str, ...]
    cancelled: tuple[str, ...]
    changes: tuple[str, ...]
    payload: str
    current: bool
    chain: tuple[str, ...] = ()  # one line per microstep when the event chained several


@dataclass(frozen=True)
class TimelineColumn:
    index: int
    clock: str
    cells: tuple[tuple[str, str], ...]  # per lane: (text, css kind) or ("", "")


@dataclass(frozen=True)
class RegionState:
    region: str
    state: str


@dataclass
class SimView:
    """Everything the Simulate panel shows; built by :func:`simulate`."""

    trace: str = "[]"
    packed: str = ""
    message: str | None = None
    divergence: str | None = None
    dropped: tuple[str, ...] = ()
    machine_problem: str | None = None
    mermaid: str = ""
    highlight_edges: tuple[str, ...] = ()
    active_composites: tuple[str, ...] = ()
    active_states: tuple[str, ...] = ()
    regions_json: str = "[]"
    folds_json: str = "[]"
    edge_controls_json: str = "{}"
    state: str = ""
    regions: tuple[RegionState, ...] = ()
    children: tuple[tuple[str, str], ...] = ()  # (invoke id, the child's state)
    enabled: tuple[EventButton, ...] = ()
    disabled: tuple[tuple[str, str], ...] = ()
    guards: tuple[GuardToggle, ...] = ()
    context_text: str = "{}"
    context_problem: JsonProblem | None = None
    payload_text: str = ""
    payload_problem: JsonProblem | None = None
    event_text: str = ""
    clock: str = "0ms"
    clock_ms: int = 0
    timers: tuple[TimerRow, ...] = ()
    advance_buttons: tuple[str, ...] = _ADVANCE_BUTTONS
    advance_to_text: str = ""
    lanes: tuple[str, ...] = ()
    timeline: tuple[TimelineColumn, ...] = ()
    log: tuple[LogEntry, ...] = ()
    can_undo: bool = False
    steps: int = 0
    actions_total: int = 0


def simulate(
    machine: StateMachine | None,
    trace_text: str,
    do: str,
    fields: Mapping[str, str],
    *,
    machine_problem: str | None = None,
) -> SimView:
    """Replay ``trace_text`` on ``machine``, apply ``action``, and describe the result.

    ``machine`` is None when the editor's text is not a valid machine: the view then
    keeps the trace as it is and says what to fix (``machine_problem``).
    ``do`` names the action (see :func:`parse_action`); ``fields`` are the form's text
    fields (payload, context, the typed event, ``to``).
    """
    payload_text = fields.get("payload", "")
    view = SimView(payload_text=payload_text, event_text=fields.get("event", ""))
    if machine is None:
        view.trace = trace_text.strip() or "[]"
        view.machine_problem = machine_problem or "The definition is not a valid machine."
        view.context_text = fields.get("context", "{}") or "{}"
        return view
    messages: list[str] = []
    try:
        fresh = Simulation(machine)
    except SimulationError as error:  # the machine itself cannot start (it never settles)
        view.trace = trace_text.strip() or "[]"
        view.machine_problem = _sentence(f"The machine cannot be simulated: {error}")
        view.context_text = fields.get("context", "{}") or "{}"
        return view
    try:
        inputs = _trace_list(trace_text)
        sim = _replay(machine, inputs)
    except SimulationError as error:
        messages.append(f"The simulation could not be restored: {error}. A new one was started.")
        inputs, sim = [], fresh
    recorded = inputs
    if sim.divergence is not None:
        kept = sim.divergence.input_index if sim.divergence.input_index >= 0 else 0
        view.divergence = (
            f"After your edit the run no longer applies from step {sim.divergence.step_index}: "
            f"{sim.divergence.explanation}."
        )
        view.dropped = tuple(_describe_input(item) for item in inputs[kept:])
    changed = False
    try:
        action = parse_action(do, fields)
    except SimulationError as error:
        messages.append(_sentence(str(error)))
        action = Action("show")
    if action.kind != "show":
        outcome = _apply(sim, action, fields, view)
        if isinstance(outcome, str):
            messages.append(outcome)
        else:
            changed = outcome
    view.message = " ".join(messages) or None
    if changed or sim.divergence is None:
        view.trace = json.dumps(_inputs_of(sim), separators=(",", ":"), ensure_ascii=False)
        if changed:
            view.divergence, view.dropped = None, ()
    else:  # keep the recorded run: undoing the edit brings it back
        view.trace = json.dumps(recorded, separators=(",", ":"), ensure_ascii=False)
    view.packed = pack_trace(view.trace)
    _describe(sim, view, keep_context=view.context_problem is not None, fields=fields)
    return view


def _apply(sim: Simulation, action: Action, fields: Mapping[str, str], view: SimView) -> bool | str:
    """Apply one action; True when the run changed, else a sentence saying why not."""
    try:
        refused = _ACTIONS[action.kind](sim, action, fields, view)
    except (SimulationError, PystatorError) as error:
        return _sentence(str(error))
    return True if refused is None else refused


def _send(sim: Simulation, action: Action, fields: Mapping[str, str], view: SimView) -> str | None:
    payload = _json_object(view.payload_text, "the payload")
    if isinstance(payload, JsonProblem):
        view.payload_problem = payload
        return f"Nothing was sent: {payload}."
    events = [*_triggers(sim.machine), *sim.child_events]
    if action.event not in events:
        known = ", ".join(events[:12])
        return (
            f"Nothing was sent: {action.event!r} is not an event of this machine "
            f"(its events: {known})."
        )
    sim.send(action.event, payload or None, action.via)
    return None


def _fire(sim: Simulation, action: Action, fields: Mapping[str, str], view: SimView) -> str | None:
    if not sim.pending_timers:
        return "No timer is pending, so there is nothing to fire."
    sim.fire_next_timer()
    return None


def _advance_to(
    sim: Simulation, action: Action, fields: Mapping[str, str], view: SimView
) -> str | None:
    view.advance_to_text = action.duration
    try:
        target = parse_duration(action.duration)
    except ValueError as error:
        return f"The clock was not moved: {error}."
    if target < sim.clock_ms:
        return (
            f"The clock was not moved: {format_duration(target)} is before now "
            f"({format_duration(sim.clock_ms)}); go back in the step log instead."
        )
    sim.advance_to(target)
    view.advance_to_text = ""
    return None


def _context(
    sim: Simulation, action: Action, fields: Mapping[str, str], view: SimView
) -> str | None:
    context = _json_object(fields.get("context", ""), "the context")
    if isinstance(context, JsonProblem):
        view.context_problem = context
        return f"The context was not changed: {context}."
    sim.set_context(context)
    return None


def _undo(sim: Simulation, action: Action, fields: Mapping[str, str], view: SimView) -> str | None:
    if not sim.can_undo:
        return "Nothing to undo: the simulation is at its start."
    sim.undo()
    return None


def _plain(
    call: Callable[[Simulation, Action], object],
) -> Callable[[Simulation, Action, Mapping[str, str], SimView], str | None]:
    """An action that is always done (or raises a ``SimulationError`` saying why not)."""

    def apply(sim: Simulation, action: Action, fields: Mapping[str, str], view: SimView) -> None:
        call(sim, action)

    return apply


_ACTIONS: dict[str, Callable[[Simulation, Action, Mapping[str, str], SimView], str | None]] = {
    "send": _send,
    "fire": _fire,
    "advance": _plain(lambda sim, action: sim.advance(action.duration)),
    "advance_to": _advance_to,
    "guard": _plain(lambda sim, action: sim.set_guard(action.guard, action.outcome)),
    "context": _context,
    "undo": _undo,
    "reset": _plain(lambda sim, action: sim.reset()),
    "jump": _plain(lambda sim, action: sim.jump(action.step)),
}
"""What each simulator button does: None when it was done, else why not."""


def _sentence(text: str) -> str:
    text = text.strip()
    text = text[:1].upper() + text[1:]
    return text if text.endswith(".") else text + "."


def _triggers(machine: StateMachine) -> list[str]:
    out = dict.fromkeys(t.trigger for t in machine.transitions)
    for state in machine.state_names:
        for t in machine.delayed_transitions(state):
            out.setdefault(t.trigger)
    return list(out)


def _describe_input(item: Any) -> str:
    if not isinstance(item, dict):
        return "an unreadable entry"
    if "e" in item:
        return f"send {item['e']}"
    if "f" in item:
        return "fire next timer"
    if "a" in item:
        return f"clock to {format_duration(item['a']) if isinstance(item['a'], int) else item['a']}"
    if "g" in item:
        value = item.get("v")
        return f"guard {item['g']} = {'unset' if value is None else str(value).lower()}"
    return "edit context"


# --------------------------------------------------------------------------- describing


def _describe(
    sim: Simulation, view: SimView, *, keep_context: bool, fields: Mapping[str, str]
) -> None:
    machine = sim.machine
    steps = sim.steps
    view.state = sim.state
    view.steps = len(steps)
    view.can_undo = sim.can_undo
    view.clock_ms = sim.clock_ms
    view.clock = format_duration(sim.clock_ms)
    view.actions_total = len(sim.action_log)
    view.regions = _regions(machine, sim.configuration)
    view.children = tuple(sim.children.items())
    graph, drawn = _diagram(sim, view, diagram_view(fields))
    enabled = sim.enabled_events()
    view.enabled = tuple(
        EventButton(
            key=i + 1,
            event=e.event,
            label=e.label,
            goes_to=", ".join(dict.fromkeys(e.dests)),
            configuration=e.state,
            do=f"send:{'-' if e.via is None else e.via}:{e.event}",
            assumes=e.assumes,
            timer=e.timer,
        )
        for i, e in enumerate(enabled)
    )
    view.disabled = tuple(sim.disabled_events().items())
    view.edge_controls_json = _edge_controls(sim, graph, drawn, view, enabled)
    fixed = sim.guard_outcomes
    names = dict.fromkeys(
        g.name for t in machine.transitions for g in t.guards if g.name is not None
    )
    view.guards = tuple(
        GuardToggle(name, "unset" if name not in fixed else str(fixed[name]).lower())
        for name in names
    )
    if keep_context:
        view.context_text = fields.get("context", "")
    else:
        view.context_text = json.dumps(sim.context, indent=2, ensure_ascii=False)
    view.timers = tuple(
        TimerRow(
            state=t.state,
            trigger=t.trigger,
            fires=f"{t.state} -> {t.dest}",
            due=format_duration(t.due_ms),
            left=format_duration(max(t.due_ms - sim.clock_ms, 0)),
            armed_at=format_duration(t.armed_at_ms),
        )
        for t in sim.pending_timers
    )
    view.log = tuple(_entry(step, step.index == len(steps) - 1) for step in steps)
    view.lanes, view.timeline = _timeline(machine, steps)


def _regions(machine: StateMachine, configuration: frozenset[str]) -> tuple[RegionState, ...]:
    leaves = [s for s in configuration if not machine.children(s)]
    rows = []
    for leaf in sorted(leaves, key=machine.document_order):
        where = machine.region_of(leaf)
        rows.append(RegionState(f"{where[0]} / {where[1]}" if where else "", leaf))
    return tuple(rows)


def _last_move(steps: tuple[Step, ...]) -> Step | None:
    """The step whose transitions the diagram marks: the last input's last move."""
    for step in reversed(steps):
        if step.kind == "advance":
            continue
        if step.kind in ("event", "timer") and step.moved:
            return step
        return None
    return None


def _edge_keys(machine: StateMachine, step: Step) -> set[tuple[str, str]]:
    """The diagram edges a step took: (``transitions[j]`` or ``states[i].timeout``, source)."""
    written = len(machine.spec.transitions)
    timeouts = [i for i, s in enumerate(machine.spec.states) if s.timeout is not None]
    keys: set[tuple[str, str]] = set()
    for index, source in step.taken:
        if 0 <= index < written:
            keys.add((f"transitions[{index}]", source))
        elif 0 <= index - written < len(timeouts):
            keys.add((f"states[{timeouts[index - written]}].timeout", source))
    return keys


def _diagram(
    sim: Simulation, view: SimView, shown: DiagramView
) -> tuple[DiagramGraph, MermaidDiagram]:
    machine = sim.machine
    graph = build_graph(machine, active=sim.configuration)
    last = _last_move(sim.steps)
    if last is not None:
        keys = _edge_keys(machine, last)
        marked = frozenset(
            i for i, edge in enumerate(graph.edges) if (edge.key, edge.source) in keys
        )
        graph = replace(graph, highlighted_edges=marked)
    # The marks stay out of the text, so a step that changes only what is active keeps
    # the text, and the page keeps the drawing it has: it re-marks it from these ids.
    graph, diagram = shown.draw(graph, marks_in_text=False)
    view.mermaid = diagram.text
    view.active_states = diagram.active_states
    view.highlight_edges = tuple(
        diagram.edge_ids[i] for i in sorted(graph.highlighted_edges) if i in diagram.edge_ids
    )
    view.active_composites = diagram.active_composites
    view.regions_json = diagram.regions_json
    view.folds_json = diagram.folds_json
    return graph, diagram


def _edge_controls(
    sim: Simulation,
    graph: DiagramGraph,
    drawn: MermaidDiagram,
    view: SimView,
    enabled: list[EnabledEvent],
) -> str:
    """What clicking each drawn edge does now, as JSON for the page: ``{"edge3": {...}}``.

    An edge the engine would take now (one of ``sim.enabled_events()``, matched by the
    edge key and source the engine's ``TakenTransition.edge`` carries) gets the ``do``
    of its event button, so a click presses that very button; any other edge gets ``why``:
    the sentence the simulator gives for it.
    """
    machine = sim.machine
    active = sim.configuration
    buttons: dict[tuple[str, str], EventButton] = {}
    for button, event in zip(view.enabled, enabled, strict=True):
        # A chained step also lists the edges its later microsteps take: not this click's.
        for taken in event.edges:
            if taken[1] in active:
                buttons.setdefault(taken, button)
    disabled = dict(view.disabled)
    controls: dict[str, dict[str, str]] = {}
    for index, drawn_edge in enumerate(graph.edges):
        edge_id = drawn.edge_ids.get(index)
        if edge_id is None or not drawn_edge.key.startswith(("transitions[", "states[")):
            continue
        found = buttons.get((drawn_edge.key, drawn_edge.state))
        if found is not None:
            controls[edge_id] = {"do": found.do, "label": f"Fire {found.label}"}
        else:
            controls[edge_id] = {"why": _why_not(machine, drawn_edge, active, disabled, view)}
    return json.dumps(controls, separators=(",", ":"), ensure_ascii=False)


def _why_not(
    machine: StateMachine,
    edge: DiagramEdge,
    active: frozenset[str],
    disabled: Mapping[str, str],
    view: SimView,
) -> str:
    """Why the simulator would not take ``edge`` now, in one sentence."""
    transition = _transition_at(machine, edge.key)
    if edge.state not in active:
        return f"State {edge.state} is not active now (the machine is in {view.state})."
    if transition is None:  # a state's timeout
        return f"The timeout of {edge.state} fires from the clock: use Fire next."
    if transition.eventless:
        return _sentence(
            "this transition has no event: the machine takes it by itself when its guards "
            "hold, and they do not now"
        )
    trigger = transition.trigger
    if trigger in disabled:
        return _sentence(f"Event {trigger} does nothing now: {disabled[trigger]}")
    others = [b.label for b in view.enabled if b.event == trigger]
    if others:
        return f"Event {trigger} takes another transition now: {'; '.join(others)}."
    return f"Event {trigger} does nothing here now."


def _transition_at(machine: StateMachine, key: str) -> Transition | None:
    """The written transition a diagram edge key names (``None`` for a state's timeout)."""
    if not key.startswith("transitions["):
        return None
    index = int(key[len("transitions[") : key.index("]")])
    transitions = machine.spec.transitions
    return transitions[index] if 0 <= index < len(transitions) else None


def _params(params: Mapping[str, Any]) -> str:
    return json.dumps(dict(params), ensure_ascii=False, sort_keys=True) if params else ""


def _entry(step: Step, current: bool) -> LogEntry:
    refused = step.kind in ("event", "timer") and (not step.success or step.reason is not None)
    changes = tuple(
        f"{c.key}: {json.dumps(c.before)} → {json.dumps(c.after)}"
        if c.change == "changed"
        else f"{c.key}: added {json.dumps(c.after)}"
        if c.change == "added"
        else f"{c.key}: removed (was {json.dumps(c.before)})"
        for c in step.context_changes
    )
    return LogEntry(
        index=step.index,
        kind=step.kind,
        clock=format_duration(step.clock_ms),
        summary=step.summary,
        state=step.state,
        moved=step.moved,
        refused=refused,
        reason=step.reason or "",
        exited=step.exited,
        entered=step.entered,
        transitions=step.transitions,
        actions=tuple((a.phase, a.owner, a.name, _params(a.params)) for a in step.actions),
        guards=tuple((g.guard, g.passed, g.detail, g.decided_by) for g in step.guards),
        armed=tuple(
            f"{t.trigger} ({t.state} → {t.dest}) due {format_duration(t.due_ms)}"
            for t in step.timers_armed
        ),
        cancelled=tuple(
            f"{t.trigger} ({t.state} → {t.dest}), was due {format_duration(t.due_ms)}"
            for t in step.timers_cancelled
        ),
        changes=changes,
        payload=_params(step.payload),
        current=current,
        chain=step.chain,
    )


def _timeline(
    machine: StateMachine, steps: tuple[Step, ...]
) -> tuple[tuple[str, ...], tuple[TimelineColumn, ...]]:
    """Lanes (the machine, then one per parallel region) and one column per event or timer."""
    lanes: list[str] = ["machine"]
    for state in machine.state_names:
        if machine.is_parallel_state(state):
            for leaf in machine.state_names:
                where = machine.region_of(leaf)
                if where is not None and where[0] == state:
                    lane = f"{where[0]} / {where[1]}"
                    if lane not in lanes:
                        lanes.append(lane)
    columns = []
    for step in steps:
        if step.kind not in ("event", "timer"):
            continue
        cells: dict[str, tuple[str, str]] = {}
        kind = "timer" if step.kind == "timer" else "event"
        name = step.event or ""
        if step.moved:
            for label in step.transitions:
                source = label.partition(" -> ")[0]
                where = machine.region_of(source) if source in machine.states else None
                lane = f"{where[0]} / {where[1]}" if where else "machine"
                text = f"{name}: {label}"
                previous = cells.get(lane)
                cells[lane] = (f"{previous[0]}; {label}" if previous else text, kind)
        else:
            cells["machine"] = (f"{name}: nothing happened", "refused")
        columns.append(
            TimelineColumn(
                index=step.index,
                clock=format_duration(step.clock_ms),
                cells=tuple(cells.get(lane, ("", "")) for lane in lanes),
            )
        )
    return tuple(lanes), tuple(columns[-60:])


# --------------------------------------------------------------------------- the machine

_MACHINES: dict[str, tuple[StateMachine | None, str]] = {}
_MACHINES_LOCK = threading.Lock()


ChildText = Callable[[str], "str | None"]
"""Looks up the text of the machine an ``invoke`` names (``src: machine:NAME``)."""


def machine_for(text: str, children: ChildText | None = None) -> tuple[StateMachine | None, str]:
    """The machine the editor's text describes, with the child machines it invokes
    bound (looked up by ``children``), or None and the sentence saying why not.

    The engine decides what a child does; the designer only finds the texts: a machine
    that names ``payment`` gets the library's ``payment`` (or the example of that name),
    as last saved. Without ``children`` (or without ``invoke``) the text stands alone.
    """
    machine, problem = _compiled(text)
    if machine is None or children is None or not _child_names(machine):
        return machine, problem
    texts: dict[str, str] = {}
    waiting = list(_child_names(machine))
    while waiting:
        name = waiting.pop()
        found = None if name in texts else children(name)
        if found is None:
            continue  # bind_machines names it, with a did-you-mean
        texts[name] = found
        child, _ = _compiled(found)
        if child is None:
            return None, (
                f"The definition cannot be simulated: it invokes machine {name!r}, whose "
                f"definition has problems; open {name!r} in the library to fix them."
            )
        waiting.extend(_child_names(child))
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass"))
    for name in sorted(texts):
        digest.update(f"\0{name}\0{texts[name]}".encode("utf-8", "surrogatepass"))
    key = "bound:" + digest.hexdigest()
    found_outcome = _MACHINES.get(key)
    if found_outcome is not None:
        return found_outcome
    outcome = _bound(text, texts)
    _remember(key, outcome)
    return outcome


def _child_names(machine: StateMachine) -> tuple[str, ...]:
    """The machines ``machine``'s states invoke, in written order."""
    return tuple(
        name
        for pairs in child_invokes(machine).values()
        for _state, spec in pairs
        if (name := child_name(spec)) is not None
    )


def _bound(text: str, texts: Mapping[str, str]) -> tuple[StateMachine | None, str]:
    """Fresh machines for ``text`` and its children, bound together (binding changes the
    machines, so the cached stand-alone ones are never used for it)."""
    from pystator.config import load_spec

    parent = StateMachine.from_spec(load_spec(text))
    # A child's problem is located in the child's own text: its name leads the location.
    machines = {
        name: StateMachine.from_spec(load_spec(t, source_name=name)) for name, t in texts.items()
    }
    try:
        parent.bind_machines(machines)
    except InvokeError as error:
        return None, f"The definition cannot be simulated: {error}"
    return parent, ""


def _remember(key: str, outcome: tuple[StateMachine | None, str]) -> None:
    with _MACHINES_LOCK:  # routes run in a thread pool
        while len(_MACHINES) >= 16:
            _MACHINES.pop(next(iter(_MACHINES)))
        _MACHINES[key] = outcome


def _compiled(text: str) -> tuple[StateMachine | None, str]:
    """The machine ``text`` describes on its own (no child machines bound), or None and
    the sentence saying why not.

    Kept for the last few texts: every simulator request carries the text, and
    compiling it once keeps each step cheap.
    """
    key = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    found = _MACHINES.get(key)
    if found is not None:
        return found
    from pystator.config import load_spec
    from pystator.errors import ConfigError
    from pystator.textcheck import TextRejected, check_text

    outcome: tuple[StateMachine | None, str]
    try:
        check_text(text)
        if not text.strip():
            raise TextRejected("the editor is empty")
        outcome = (StateMachine.from_spec(load_spec(text)), "")
    except TextRejected as error:
        outcome = (None, f"The definition cannot be simulated: {error}")
    except ConfigError as error:
        count = len(error.issues)
        noun = "problem" if count == 1 else "problems"
        outcome = (
            None,
            f"The definition has {count} {noun} (listed beside the editor); fix them to "
            "simulate. The run is kept and replays when the machine is valid again.",
        )
    _remember(key, outcome)
    return outcome
