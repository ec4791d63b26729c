"""Every way a machine can go, breadth first, as the engine's own steps.

The exploration is a graph: its nodes are the ``Snapshot``s the machine can reach
from ``start`` (with the virtual clock each was reached at), its edges the
``Move``s a host can make and the ``Step`` the engine answered. Nothing here
selects transitions or enters states: every edge is ``machine.step``.

What a host can do from a snapshot (the moves):

* send an event: each trigger a transition of the active states listens for
  (triggers only timers use are left to the timers, and ``done.state.*`` and a
  bound child machine's ``done.invoke.<id>`` to the engine, which raises them),
  with a context and outcomes for the named guards the step asks;
* fire the next pending timer, at its due time (``step(snapshot, timer,
  now=timer.due_ms)``): timers fire in their order, so the only choice is when
  events come between them;
* wait until just before the next timer is due, so that an event sent then arms
  its own timers as late as it can (with ``waits=False`` events come only right
  after the last timer, which keeps the graph smaller).

Contexts and named guards. A step's outcome depends on the context only through
the ``expr`` guards it evaluates, so the contexts worth trying are found by
flipping guards one at a time (as concolic testing does): run the step, look at
the guards it evaluated in order, and for each one ask ``solver.solve`` for a
context that keeps the earlier outcomes and flips this one; a named guard is
simply flipped. Every distinct sequence of guard outcomes is one representative
input. They are worked out once per (configuration, history, variables, trigger)
and reused for every snapshot with those. The machine's own variables are not the
host's to choose: the solver reads them from the snapshot as constants.

Visited-set reduction and symmetry: two snapshots are the same node when they
have the same configuration, history and machine variables (``snapshot.data``) and
the same timers *relative to the clock* (a timer's id and the clock's absolute
value do not change what can happen), and their child machines the same by that
measure, so a machine that loops through timers has finitely many nodes. A child
machine's timer is one of the snapshot's pending timers like the parent's own
(``Snapshot.pending``).
Exploration stops at ``max_steps`` moves from the start, ``max_states`` nodes, or
(when given) once ``max_seconds`` of wall-clock time are spent, so a designer or lint
asking about a hostile machine gets an answer in bounded time;
``Exploration.complete`` says whether a bound cut it short and ``cut_by`` which.
The time bound is checked between steps: one step of the engine is never interrupted,
and a node whose moves were cut short by it counts as not expanded.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pystator.durations import format_duration
from pystator.machine import StateMachine
from pystator.model import GuardSpec, Transition
from pystator.selection import GuardDecision
from pystator.snapshot import Snapshot, Timer
from pystator.step import Step
from pystator.verify.solver import Constraint, solve

__all__ = [
    "DEFAULT_MAX_STATES",
    "DEFAULT_MAX_STEPS",
    "Bound",
    "Edge",
    "Exploration",
    "Move",
    "MoveKind",
    "Node",
    "explore",
]

DEFAULT_MAX_STEPS = 20
DEFAULT_MAX_STATES = 20_000
_MAX_RUNS = 64  # steps tried per (configuration, trigger) while flipping guards

MoveKind = Literal["event", "timer", "wait"]
Bound = Literal["steps", "states", "time"]
"""A bound that cut an exploration short: ``max_steps``, ``max_states`` or ``max_seconds``."""
_DECIDED_BY = "verify"
_DONE = "done.state."


@dataclass(frozen=True)
class Move:
    """One thing a host does: send ``event`` (or fire the next timer) with a context
    and named-guard outcomes, or let ``wait_ms`` pass (a wait is relative: the same
    node can be reached at different clock times, and what can happen next depends
    only on how far off its timers are).

    ``guards`` are the named guards the step asked, with the outcome each was
    given, in the order asked.
    """

    kind: MoveKind
    event: str = ""
    context: Mapping[str, Any] = field(default_factory=dict, hash=False, compare=False)
    guards: tuple[tuple[str, bool], ...] = ()
    wait_ms: int = 0

    def describe(self) -> str:
        if self.kind == "wait":
            return f"wait {format_duration(self.wait_ms)}"
        what = f"send {self.event!r}" if self.kind == "event" else f"timer {self.event!r} fires"
        extras = []
        if self.context:
            extras.append("context " + ", ".join(f"{k}={v!r}" for k, v in self.context.items()))
        if self.guards:
            extras.append(", ".join(f"{g}={'true' if v else 'false'}" for g, v in self.guards))
        return what + (f" ({'; '.join(extras)})" if extras else "")


@dataclass(frozen=True)
class Edge:
    """A move from one node and what the engine did: ``step`` leads to node ``target``."""

    source: int
    move: Move
    step: Step
    target: int


@dataclass(eq=False)
class Node:
    """A reachable snapshot, the clock when it was first reached, and how.

    ``parent``/``via`` form the breadth-first tree: following them back gives a
    shortest sequence of moves from the start. ``edges`` is filled when the node
    is expanded (nodes at the step bound, or found after the state bound, are not).
    """

    id: int
    snapshot: Snapshot
    now: int
    depth: int
    parent: int | None = None
    via: Edge | None = None
    edges: list[Edge] = field(default_factory=list)
    expanded: bool = False

    @property
    def configuration(self) -> frozenset[str]:
        return self.snapshot.configuration


@dataclass(frozen=True)
class Refused:
    """A move the engine refused as a whole for ``code`` (a livelock), from ``node``."""

    node: int
    move: Move
    step: Step


@dataclass
class Exploration:
    """The reachable graph of one machine, within the bounds."""

    machine: StateMachine
    start: Step
    nodes: list[Node]
    max_steps: int
    max_states: int
    complete: bool
    livelocks: list[Refused]
    unsolved: dict[str, str]
    """Guard text -> why no context could be found for it (outside the solver)."""
    cut_by: tuple[Bound, ...] = ()
    """The bounds that cut the exploration short, in the order steps, states, time
    (empty when ``complete``)."""
    max_seconds: float | None = None

    def bound_text(self) -> str:
        """The bounds that were hit, in words: ``"20 moves, 2.0 s"`` (empty if none)."""
        words = {
            "steps": f"{self.max_steps} moves",
            "states": f"{self.max_states:,} configurations",
            "time": f"{self.max_seconds or 0:g} s",
        }
        return ", ".join(words[b] for b in self.cut_by)

    def path(self, node: int) -> list[Edge]:
        """The shortest moves from the start to ``node``."""
        out: list[Edge] = []
        current = self.nodes[node]
        while current.via is not None:
            out.append(current.via)
            assert current.parent is not None
            current = self.nodes[current.parent]
        out.reverse()
        return out

    def edges(self) -> Iterator[Edge]:
        for node in self.nodes:
            yield from node.edges

    def finished(self, node: Node) -> bool:
        """Whether the node's configuration is the machine's end: every active leaf is
        ``terminal`` or ``final``."""
        return _finished(self.machine, node.configuration)


def _finished(machine: StateMachine, configuration: frozenset[str]) -> bool:
    chart = machine.chart
    leaves = chart.leaves_of(configuration)
    return bool(leaves) and all(
        chart.states[leaf].is_terminal or chart.states[leaf].is_final for leaf in leaves
    )


def _key(snapshot: Snapshot, now: int) -> tuple[Any, ...]:
    return (
        snapshot.configuration,
        frozenset(snapshot.history.items()) if snapshot.history else frozenset(),
        tuple(
            (t.state, t.transition, t.due_ms - now, t.trigger, _frozen(t.data))
            if t.is_send
            else (t.state, t.transition, t.due_ms - now)
            for t in snapshot.timers
        ),
        _frozen(snapshot.data) if snapshot.data else (),
        tuple((k, _key(v, now)) for k, v in sorted(snapshot.children.items())),
    )


def _frozen(value: Any) -> Any:
    """A hashable stand-in for a JSON-like value (the machine's variables)."""
    if isinstance(value, Mapping):
        return ("map", tuple(sorted((str(k), _frozen(v)) for k, v in value.items())))
    if isinstance(value, (list, tuple)):
        return ("seq", tuple(_frozen(v) for v in value))
    try:
        hash(value)
    except TypeError:
        return ("repr", repr(value))
    return (type(value).__name__, value)


@dataclass(frozen=True)
class _Representative:
    context: Mapping[str, Any]
    guards: tuple[tuple[str, bool], ...]


class _Explorer:
    def __init__(
        self,
        machine: StateMachine,
        max_steps: int,
        max_states: int,
        waits: bool,
        max_seconds: float | None = None,
    ) -> None:
        self.machine = machine
        self.max_steps = max_steps
        self.max_states = max_states
        self.waits = waits
        self.max_seconds = max_seconds
        self.deadline = None if max_seconds is None else time.perf_counter() + max_seconds
        self.late = False
        self.external = _external_triggers(machine)
        self.listening: dict[frozenset[str], tuple[str, ...]] = {}
        self.representatives: dict[Any, list[_Representative]] = {}
        self.unsolved: dict[str, str] = {}

    # ------------------------------------------------------------------ the graph
    def run(self, start: Step) -> Exploration:
        nodes: list[Node] = [Node(0, start.snapshot, 0, 0)]
        seen: dict[tuple[Any, ...], int] = {_key(start.snapshot, 0): 0}
        livelocks: list[Refused] = []
        cut: set[Bound] = set()
        queue: deque[int] = deque([0])
        while queue:
            if self.out_of_time():
                cut.add("time")
                break
            node = nodes[queue.popleft()]
            if node.depth >= self.max_steps:
                cut.add("steps")
                continue
            node.expanded = True
            here = _key(node.snapshot, node.now)
            for move, step, now, key in self.moves(node):
                if _livelock(step):
                    livelocks.append(Refused(node.id, move, step))
                    continue
                if not step.transitions and key == here:
                    continue  # nothing happened
                target = seen.get(key)
                if target is None:
                    if len(nodes) >= self.max_states:
                        cut.add("states")
                        continue
                    target = len(nodes)
                    seen[key] = target
                    edge = Edge(node.id, move, step, target)
                    nodes.append(Node(target, step.snapshot, now, node.depth + 1, node.id, edge))
                    queue.append(target)
                else:
                    edge = Edge(node.id, move, step, target)
                node.edges.append(edge)
            if self.late:
                node.expanded = False  # its moves were cut short: it may have more
                cut.add("time")
                break
        cut_by = tuple(b for b in ("steps", "states", "time") if b in cut)
        return Exploration(
            self.machine,
            start,
            nodes,
            self.max_steps,
            self.max_states,
            not cut_by,
            livelocks,
            dict(self.unsolved),
            cut_by,
            self.max_seconds,
        )

    def out_of_time(self) -> bool:
        """Whether the time bound has passed (remembered, so every caller agrees)."""
        if not self.late and self.deadline is not None and time.perf_counter() >= self.deadline:
            self.late = True
        return self.late

    def moves(self, node: Node) -> Iterator[tuple[Move, Step, int, tuple[Any, ...]]]:
        """Each distinct thing a host can do from ``node``: the move, the engine's step,
        the clock after it and the key of the snapshot it leads to."""
        snapshot, now = node.snapshot, node.now
        seen: set[Any] = set()
        for trigger in self.triggers(snapshot.configuration):
            if self.out_of_time():
                return
            for rep, step in self.steps(snapshot, trigger, now):
                key = _key(step.snapshot, now)
                outcome = (key, _taken(step), _livelock(step))
                if outcome in seen:
                    continue
                seen.add(outcome)
                yield Move("event", trigger, rep.context, rep.guards), step, now, key
        timer = snapshot.next_timer
        if timer is None:
            return
        for rep, step in self.steps(snapshot, timer, timer.due_ms):
            key = _key(step.snapshot, timer.due_ms)
            outcome = (key, _taken(step), _livelock(step))
            if outcome in seen:
                continue
            seen.add(outcome)
            yield Move("timer", timer.trigger, rep.context, rep.guards), step, timer.due_ms, key
        if self.waits and timer.due_ms - now > 1 and seen:
            later = timer.due_ms - 1
            move = Move("wait", wait_ms=later - now)
            yield move, Step(None, snapshot), later, _key(snapshot, later)

    def triggers(self, configuration: frozenset[str]) -> tuple[str, ...]:
        """The external triggers some transition of ``configuration`` listens for."""
        cached = self.listening.get(configuration)
        if cached is None:
            machine = self.machine
            cached = tuple(t for t in self.external if machine.candidates(configuration, t))
            self.listening[configuration] = cached
        return cached

    # ------------------------------------------------------------------ inputs
    def steps(
        self, snapshot: Snapshot, event: str | Timer, now: int
    ) -> Iterator[tuple[_Representative, Step]]:
        trigger = event.trigger if isinstance(event, Timer) else event
        history = frozenset(snapshot.history.items()) if snapshot.history else frozenset()
        data = _frozen(snapshot.data) if snapshot.data else ()
        key = (snapshot.configuration, history, data, trigger)
        cached = self.representatives.get(key)
        if cached is None:
            found = self.flip(snapshot, event, now)
            self.representatives[key] = [rep for rep, _step in found]
            yield from found
            return
        for rep in cached:
            if self.out_of_time():
                return
            yield rep, self.step(snapshot, event, now, rep.context, dict(rep.guards), [])

    def step(
        self,
        snapshot: Snapshot,
        event: str | Timer,
        now: int,
        context: Mapping[str, Any],
        named: Mapping[str, bool],
        asked: list[tuple[str, bool]],
    ) -> Step:
        def resolve(
            _t: Transition, guard: GuardSpec, _ctx: Mapping[str, Any]
        ) -> GuardDecision | None:
            name = guard.name
            if name is None:
                return None
            value = named.get(name, False)
            if all(n != name for n, _v in asked):
                asked.append((name, value))
            return GuardDecision(value, _DECIDED_BY, "chosen by pystator.verify")

        return self.machine.step(snapshot, event, context, now=now, guard_resolver=resolve)

    def flip(
        self, snapshot: Snapshot, event: str | Timer, now: int
    ) -> list[tuple[_Representative, Step]]:
        """Every distinct sequence of guard outcomes one step can take (module docstring);
        a guard the solver could not handle is recorded in ``unsolved``."""
        todo: deque[tuple[tuple[Constraint, ...], dict[str, bool]]] = deque([((), {})])
        tried: set[Any] = set()
        paths: set[Any] = set()
        found: list[tuple[_Representative, Step]] = []
        while todo and len(paths) < _MAX_RUNS and not self.out_of_time():
            constraints, named = todo.popleft()
            marker = (constraints, tuple(sorted(named.items())))
            if marker in tried:
                continue
            tried.add(marker)
            context: dict[str, Any] = {}
            if constraints:
                solution = solve(constraints, states=snapshot.configuration, values=snapshot.data)
                if solution.context is None:
                    if solution.status == "unknown":
                        text = str(constraints[-1][0])
                        self.unsolved.setdefault(text, solution.reason)
                    continue
                context = solution.context
            asked: list[tuple[str, bool]] = []
            step = self.step(snapshot, event, now, context, named, asked)
            path = tuple((g.guard, g.decided_by, g.passed) for g in step.guards)
            if path in paths:
                continue
            paths.add(path)
            found.append((_Representative(context, tuple(asked)), step))
            prefix: list[Constraint] = []
            fixed: dict[str, bool] = {}
            for g in step.guards:
                if g.decided_by == _DECIDED_BY:
                    if g.guard not in fixed:
                        todo.append((tuple(prefix), {**fixed, g.guard: not g.passed}))
                        fixed[g.guard] = g.passed
                else:
                    todo.append(((*prefix, (g.guard, not g.passed)), dict(fixed)))
                    prefix.append((g.guard, g.passed))
        return found


def _taken(step: Step) -> tuple[tuple[str, str], ...]:
    return tuple(t.edge for t in step.transitions)


def _livelock(step: Step) -> bool:
    return step.refusal is not None and step.refusal.code == "livelock"


def _external_triggers(machine: StateMachine) -> tuple[str, ...]:
    """Triggers a host may send: those of transitions that are neither delayed nor
    eventless, less the events only the engine raises: ``done.state.*``, and the
    ``done.invoke.<id>`` of each child machine bound (an unbound one runs nothing,
    so its end is the host's to report)."""
    raised = {f"done.invoke.{spec.id}" for pairs in machine._invokes.values() for _s, spec in pairs}
    return tuple(
        dict.fromkeys(
            t.trigger
            for t in machine.all_transitions
            if not t.is_delayed
            and not t.eventless
            and not t.trigger.startswith(_DONE)
            and t.trigger not in raised
        )
    )


def explore(
    machine: StateMachine,
    *,
    max_steps: int = DEFAULT_MAX_STEPS,
    max_states: int = DEFAULT_MAX_STATES,
    waits: bool = True,
    start: Snapshot | None = None,
    max_seconds: float | None = None,
) -> Exploration:
    """The graph of snapshots ``machine`` can reach (see the module docstring).

    From ``machine.start({})`` by default: the simulator starts every run with an
    empty context, and contexts apply from the first move on. ``start`` explores
    from another snapshot instead (at clock 0). ``max_seconds`` bounds the wall-clock
    time (None: no time bound), counted from this call.
    """
    if max_steps < 0 or max_states < 1:
        raise ValueError("max_steps must be >= 0 and max_states >= 1")
    if max_seconds is not None and not max_seconds > 0:
        raise ValueError("max_seconds must be > 0")
    explorer = _Explorer(machine, max_steps, max_states, waits, max_seconds)
    first = machine.start({}) if start is None else Step(None, start)
    return explorer.run(first)
