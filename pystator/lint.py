"""Static checks for machines that are valid but probably wrong.

The loader rejects what cannot work (unknown states, bad delays); ``lint`` warns
about what works but is likely a mistake, in the user's terms and at the line of
the definition:

=======================  ========  =====================================================
code                     severity  meaning
=======================  ========  =====================================================
``unreachable-state``    warning   no path of transitions, timeouts or default entries
                                   leads from the initial configuration to the state
``dead-end``             warning   a non-terminal state that nothing can leave
``shadowed-transition``  warning   an earlier unguarded transition on the same source and
                                   trigger always wins, so this one never fires
``nondeterministic``     warning   two unguarded transitions for one source and trigger
``terminal-outgoing``    warning   a transition, ``after`` delay or timeout leaving a
                                   terminal state, or a final one at the top level
                                   (either ends the machine: it accepts no event)
``eventless-cycle``      warning   eventless transitions (``always: true``) that can
                                   take each other for ever: the engine refuses the
                                   step that gets caught in them (a livelock)
``unsatisfiable-guard``  warning   an ``expr`` guard no context can make true, or guards of
                                   one transition that are never true together (the guard
                                   solver proves it; ``pystator.verify.findings``)
``deadlock``             warning   a reachable unfinished configuration where nothing can
                                   happen, with the shortest run to it (a bounded search)
``deadlock-unchecked``   info      that search stopped at its bound before it saw every
                                   configuration
``invoke-self``          error     a state invokes its own machine (``src: machine:NAME``):
                                   each child would start another without end
``unknown-guard``        error     a named guard the given guard registry does not have
``unknown-action``       error     an action the given action registry does not have
=======================  ========  =====================================================

Each check is one small function over the spec and its ``Chart`` (the structure the
engine, the config checks and the diagram read too, so lint starts the machine where
the engine does), and a new rule is one more function in ``CHECKS``. Every check is
one pass over the states and transitions, whatever the nesting depth; the two checks
of ``pystator.verify.findings`` ask the guard solver and a bounded exploration, and
keep their answers per machine so that live validation stays cheap.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from pystator._eventless import eventless_cycles
from pystator.chart import Chart, Node
from pystator.errors import Issue
from pystator.invoked import child_name
from pystator.microstep import effective_targets
from pystator.model import ActionSpec, MachineSpec, Transition
from pystator.verify.findings import check_deadlocks, check_unsatisfiable_guards

__all__ = ["CHECKS", "Finding", "Registry", "lint"]

Severity = Literal["error", "warning", "info"]


class Registry(Protocol):
    """What lint needs from a ``GuardRegistry`` or ``ActionRegistry``."""

    def has(self, name: str) -> bool: ...


@dataclass(frozen=True)
class Finding:
    """One lint result; ``line``/``column`` are 1-based, ``None`` without source text."""

    code: str
    severity: Severity
    message: str
    path: str = ""
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        where = f"{self.line}:{self.column}: " if self.line is not None else ""
        return f"{where}{self.severity}: {self.message} [{self.code}]"

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "path": self.path,
            "line": self.line,
            "column": self.column,
        }

    def to_issue(self, source: str | None = None) -> Issue:
        """The same finding as an ``Issue``, the type validation problems use."""
        return Issue(
            self.message, self.path, self.line, self.column, self.code, self.severity, source
        )


@dataclass(frozen=True)
class _Context:
    spec: MachineSpec
    chart: Chart
    guards: Registry | None
    actions: Registry | None

    def finding(self, code: str, severity: Severity, message: str, path: str) -> Finding:
        loc = self.spec.location(path)
        return Finding(
            code,
            severity,
            message,
            path,
            loc.line if loc else None,
            loc.column if loc else None,
        )

    def state_path(self, name: str) -> str:
        return f"states[{self.chart.index[name]}]"

    def sources(self, t: Transition) -> list[str]:
        """A transition's known sources in document order."""
        index = self.chart.index
        return sorted((s for s in t.source if s in index), key=index.__getitem__)


def _q(name: str) -> str:
    return repr(name)


# --------------------------------------------------------------------------- reachability


def _exits(spec: MachineSpec, chart: Chart) -> dict[str, list[str]]:
    """State -> where its transitions and its timeout lead, in order (any name)."""
    out: dict[str, list[str]] = {}
    known = chart.states
    for t in spec.transitions:
        for source in t.source:
            if source in known:
                out.setdefault(source, []).append(t.dest)
    for i, state in enumerate(spec.states):
        if state.timeout is not None and chart.index[state.name] == i:
            out.setdefault(state.name, []).append(state.timeout.destination)
    return out


def reachable_states(spec: MachineSpec) -> set[str]:
    """States some run can enter, starting from the initial configuration.

    One breadth-first pass over the chart: a state is reached when a run can be in
    it; entering a state (the start, a transition's or timeout's target, a default
    child) reaches it and its default descendants; a reached state reaches its
    parent, and a reached parallel state enters every region's initial state. A
    history state is entered as the engine enters one that remembers nothing (what
    it can restore was reached already). Each state is entered and reached at most
    once, so the pass is linear.
    """
    chart = spec.chart
    reached: set[str] = set()
    start = chart.initial_state
    if start is None:
        return reached
    exits = _exits(spec, chart)
    entered: set[str] = set()
    to_enter: list[str] = [start]
    while to_enter:
        name = to_enter.pop()
        if name in entered or name not in chart.states:
            continue
        entered.add(name)
        for state in _reach(chart, name, reached):
            if state in chart.history:
                continue  # a pseudo-state: never active, so nothing leaves it
            to_enter.extend(exits.get(state, ()))
            if chart.states[state].is_parallel:
                to_enter.extend(_region_starts(chart, state))
        if name in chart.history:
            # what it restores was reached before; with nothing remembered, as the engine
            to_enter.extend(effective_targets(chart, name, {}))
        elif not chart.states[name].is_parallel:
            child = chart.initial_child(name)
            if child is not None:
                to_enter.append(child)
    return reached


def _reach(chart: Chart, name: str, reached: set[str]) -> list[str]:
    """Mark ``name`` and its unmarked ancestors reached; return the newly marked ones."""
    new: list[str] = []
    node: Node | None = name
    while node is not None:
        if isinstance(node, str):
            if node in reached:
                break
            reached.add(node)
            new.append(node)
        node = chart.parent[node]
    return new


def _region_starts(chart: Chart, parallel: str) -> list[str]:
    starts = (chart.region_initial(node) for node in chart.region_nodes(parallel))
    return [s for s in starts if s is not None]


def check_unreachable(ctx: _Context) -> Iterator[Finding]:
    reached = reachable_states(ctx.spec)
    if not reached:
        return
    for name in ctx.chart.states:
        if name not in reached:
            yield ctx.finding(
                "unreachable-state",
                "warning",
                f"state {_q(name)} can never be entered: no transition, timeout or "
                "initial state leads to it from the start",
                ctx.state_path(name),
            )


def check_implicit_initial(ctx: _Context) -> Iterator[Finding]:
    """No top-level state marked initial: the machine starts in the first one. Say so."""
    chart = ctx.chart
    start = chart.initial_state
    if start is not None and len(chart.roots) > 1 and not chart.states[start].is_initial:
        yield ctx.finding(
            "implicit-initial",
            "info",
            f"no top-level state is marked 'type: initial', so the machine starts in "
            f"{_q(start)}, the first one",
            ctx.state_path(start),
        )


# --------------------------------------------------------------------------- dead ends


def check_dead_ends(ctx: _Context) -> Iterator[Finding]:
    """Atomic, non-terminal states from which no transition or timeout leads elsewhere.

    A transition or timeout of the state or of any ancestor leaves it, unless it
    leads back to the state itself. Walking the tree once from the top, each node
    carries up to two distinct destinations seen on the way down: two distinct ones
    always include one that is not the state.
    """
    chart = ctx.chart
    exits = _exits(ctx.spec, chart)
    above: dict[Node, tuple[str, ...]] = {}
    for node in chart.order:
        up = chart.parent[node]
        seen = above[up] if up is not None else ()
        if isinstance(node, str) and len(seen) < 2:
            for dest in exits.get(node, ()):
                if dest not in seen:
                    seen = (*seen, dest)
                    if len(seen) == 2:
                        break
        above[node] = seen
    for name in chart.states:
        if name in chart.ends or name not in chart.atomic:
            continue  # terminal, or final at the top level: it ends the machine
        if all(dest == name for dest in above[name]):
            yield ctx.finding(
                "dead-end",
                "warning",
                f"state {_q(name)} is not terminal but nothing leaves it: add a "
                "transition or a timeout from it, or make it type terminal",
                ctx.state_path(name),
            )


# --------------------------------------------------------------------------- priority


def _event_transitions(ctx: _Context) -> dict[tuple[str, str, str | None], list[int]]:
    """(source, trigger, region) -> indexes of the event-driven transitions, in order."""
    table: dict[tuple[str, str, str | None], list[int]] = {}
    for j, t in enumerate(ctx.spec.transitions):
        if t.after is not None:
            continue  # each delayed transition has its own timer
        for source in ctx.sources(t):
            table.setdefault((source, t.trigger, t.region), []).append(j)
    return table


def check_shadowed_and_nondeterministic(ctx: _Context) -> Iterator[Finding]:
    """A transition listed after an unguarded one for the same source and trigger.

    One table of (source, trigger, region) -> transitions in order; the first
    unguarded transition of each entry wins over every later one.
    """
    transitions = ctx.spec.transitions
    reported: set[tuple[str, int]] = set()
    for (source, trigger, _region), indexes in _event_transitions(ctx).items():
        winner: int | None = None
        for k in indexes:
            later = transitions[k]
            if winner is None:
                if not later.guards:
                    winner = k
                continue
            code = "shadowed-transition" if later.guards else "nondeterministic"
            if (code, k) in reported:
                continue
            reported.add((code, k))
            first = transitions[winner]
            if later.guards:
                message = (
                    f"transition {k} ({trigger!r} from {_q(source)} to {_q(later.dest)}) never "
                    f"fires: transition {winner} to {_q(first.dest)} has no guard and is "
                    "listed first"
                )
            else:
                message = (
                    f"{trigger!r} from {_q(source)} has two transitions without a guard "
                    f"(to {_q(first.dest)} in transition {winner} and to {_q(later.dest)} "
                    f"in transition {k}); only the first can fire: add guards or remove one"
                )
            yield ctx.finding(code, "warning", message, f"transitions[{k}]")


# --------------------------------------------------------------------------- terminal states


def check_terminal_outgoing(ctx: _Context) -> Iterator[Finding]:
    """What leaves a state that ends the machine (terminal, or final at the top level)."""
    ends = ctx.chart.ends
    if not ends:
        return
    for j, t in enumerate(ctx.spec.transitions):
        if ends.isdisjoint(t.source):
            continue
        for source in ctx.sources(t):
            if source in ends:
                if t.eventless:
                    what = "an eventless transition"
                elif t.after is not None:
                    what = "an 'after' delay"
                else:
                    what = f"trigger {t.trigger!r}"
                kind = _end_kind(ctx, source)
                yield ctx.finding(
                    "terminal-outgoing",
                    "warning",
                    f"{kind} state {_q(source)} has an outgoing transition ({what} to "
                    f"{_q(t.dest)}); {kind} states accept no event, so it never fires",
                    f"transitions[{j}].source",
                )
    for i, state in enumerate(ctx.spec.states):
        if state.name in ends and state.timeout is not None:
            kind = _end_kind(ctx, state.name)
            yield ctx.finding(
                "terminal-outgoing",
                "warning",
                f"{kind} state {_q(state.name)} has a timeout to "
                f"{_q(state.timeout.destination)}; {kind} states are never left",
                f"states[{i}].timeout",
            )


def _end_kind(ctx: _Context, name: str) -> str:
    return "terminal" if ctx.chart.states[name].is_terminal else "top-level final"


# --------------------------------------------------------------------------- eventless cycles


def check_eventless_cycles(ctx: _Context) -> Iterator[Finding]:
    """Eventless transitions that can keep taking each other: a step caught in them
    never settles, and the engine refuses it as a livelock."""
    transitions = ctx.spec.transitions
    for cycle in eventless_cycles(ctx.spec):
        way = ", then ".join(
            f"{_source_in(ctx, transitions[j], cycle, k)} -> {transitions[j].dest}"
            for k, j in enumerate(cycle)
        )
        numbers = ", ".join(str(j) for j in cycle)
        guarded = any(transitions[j].guards for j in cycle)
        many = len(cycle) > 1
        if guarded:
            advice = f"make sure {'one of their guards' if many else 'its guard'} turns false"
        elif many:
            advice = "none of them has a guard, so once one is taken nothing stops them"
        else:
            advice = "it has no guard, so once taken nothing stops it"
        plural = "s" if many else ""
        yield ctx.finding(
            "eventless-cycle",
            "warning",
            f"eventless transition{plural} can go round for ever: {way} (transition{plural} "
            f"{numbers}); the engine refuses a step caught in this loop: {advice}",
            f"transitions[{cycle[0]}]",
        )


def _source_in(ctx: _Context, t: Transition, cycle: Sequence[int], k: int) -> str:
    """The source a cycle takes ``t`` from: the one the previous transition leads to."""
    sources = ctx.sources(t)
    if len(sources) == 1:
        return sources[0]
    before = ctx.spec.transitions[cycle[k - 1]].dest
    inside = ctx.chart.is_inside
    for near in (
        lambda s: s == before,
        lambda s: inside(before, s),
        lambda s: inside(s, before),
    ):
        found = next((s for s in sources if near(s)), None)
        if found is not None:
            return found
    return sources[0]


# --------------------------------------------------------------------------- registries


def check_self_invoke(ctx: _Context) -> Iterator[Finding]:
    """A machine that invokes itself (``src: machine:<its own name>``) never ends: each
    child starts another. ``bind_machines`` refuses longer cycles, which need the others."""
    name = ctx.spec.meta.machine_name
    for i, state in enumerate(ctx.spec.states):
        for k, spec in enumerate(state.invoke):
            if child_name(spec) == name:
                yield ctx.finding(
                    "invoke-self",
                    "error",
                    f"state {state.name!r} invokes its own machine {name!r}: "
                    "each child would start another without end",
                    f"states[{i}].invoke[{k}].src",
                )


def check_unknown_guards(ctx: _Context) -> Iterator[Finding]:
    if ctx.guards is None:
        return
    for j, t in enumerate(ctx.spec.transitions):
        for k, guard in enumerate(t.guards):
            if guard.name is not None and not ctx.guards.has(guard.name):
                yield ctx.finding(
                    "unknown-guard",
                    "error",
                    f"guard {guard.name!r} (on {t.trigger!r} to {_q(t.dest)}) is not registered",
                    f"transitions[{j}].guards[{k}]",
                )


def _calls(actions: Sequence[ActionSpec], path: str) -> Iterator[tuple[ActionSpec, str]]:
    """The actions a host runs (``call`` kind), nested ``if``/``foreach`` bodies included,
    each with its path; raised events and the datamodel's own content are the engine's."""
    work: list[tuple[Sequence[ActionSpec], str]] = [(actions, path)]
    while work:
        group, base = work.pop()
        nested: list[tuple[Sequence[ActionSpec], str]] = []
        for k, action in enumerate(group):
            here = f"{base}[{k}]"
            if action.is_call:
                yield action, here
            elif action.kind == "if":
                branches = action.params.get("branches", ())
                for b, (_cond, then) in enumerate(branches):
                    nested.append(
                        (then, f"{here}.then" if b == 0 else f"{here}.elif[{b - 1}].then")
                    )
                nested.append((action.params.get("else", ()), f"{here}.else"))
            elif action.kind == "foreach":
                nested.append((action.params.get("do", ()), f"{here}.do"))
        work.extend(reversed(nested))


def check_unknown_actions(ctx: _Context) -> Iterator[Finding]:
    if ctx.actions is None:
        return
    for i, state in enumerate(ctx.spec.states):
        for hook in ("on_enter", "on_exit", "default_actions"):
            for action, path in _calls(getattr(state, hook), f"states[{i}].{hook}"):
                if not ctx.actions.has(action.name):
                    yield ctx.finding(
                        "unknown-action",
                        "error",
                        f"action {action.name!r} ({hook} of {_q(state.name)}) is not registered",
                        path,
                    )
    for j, t in enumerate(ctx.spec.transitions):
        for action, path in _calls(t.actions, f"transitions[{j}].actions"):
            if not ctx.actions.has(action.name):
                yield ctx.finding(
                    "unknown-action",
                    "error",
                    f"action {action.name!r} (on {t.trigger!r} to {_q(t.dest)}) is not registered",
                    path,
                )


CHECKS: tuple[Callable[[_Context], Iterator[Finding]], ...] = (
    check_unreachable,
    check_implicit_initial,
    check_dead_ends,
    check_shadowed_and_nondeterministic,
    check_terminal_outgoing,
    check_eventless_cycles,
    check_unsatisfiable_guards,
    check_deadlocks,
    check_self_invoke,
    check_unknown_guards,
    check_unknown_actions,
)


def lint(
    spec: MachineSpec | Any,
    *,
    guards: Registry | None = None,
    actions: Registry | None = None,
) -> list[Finding]:
    """Every finding for ``spec`` (a ``MachineSpec`` or anything with ``.spec``).

    Registries are optional: without them named guards and actions are not
    checked, because the definition alone cannot know what code will register.
    """
    if not isinstance(spec, MachineSpec):
        inner = getattr(spec, "spec", None)
        if not isinstance(inner, MachineSpec):
            raise TypeError(
                f"lint expects a MachineSpec or a StateMachine, not {type(spec).__name__}"
            )
        spec = inner
    ctx = _Context(spec, spec.chart, guards, actions)
    return [finding for check in CHECKS for finding in check(ctx)]
