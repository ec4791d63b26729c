"""Two lint checks that need more than the chart's structure: they ask the guard solver
and the explorer.

* ``unsatisfiable-guard`` (warning): an ``expr`` guard no context can make true (the
  solver proves it), or a transition whose guards cannot all be true together. The
  transition never fires. Located at the guard.
* ``deadlock`` (warning): a reachable configuration that is not finished and in
  which nothing can happen, e.g. a state whose only ways out are guarded by guards
  that never hold, or a parallel state whose regions wait for each other. A state
  that nothing leaves at all is lint's ``dead-end`` already and is not repeated.
  Located at the state, with the shortest run that gets there.
* ``deadlock-unchecked`` (info): the deadlock search stopped at one of its bounds
  before it had seen every reachable configuration, so lint says what it did not
  check rather than staying silent (the designer's Check tab and ``pystator check``
  search further).

Both are listed in ``pystator.lint.CHECKS``, so they run in the designer's live
validation on every pause in typing. That keeps them cheap in three ways:

* proof first: when every active leaf a configuration can have has a way out that
  cannot fail (an unguarded event transition, an unguarded eventless one, a timer),
  no configuration can be stuck, and nothing is explored;
* bounds: the search sends events right after timers only (no waits between them,
  which the model checker adds to find races), stops at ``LINT_MAX_STEPS`` moves,
  ``LINT_MAX_STATES`` configurations or ``LINT_MAX_SECONDS``, and is not tried on
  machines of more than ``LINT_MAX_MACHINE_STATES`` states;
* memory: both answers are kept for the last machines seen, keyed by the spec
  (which compares without its source locations), so an edit that changes only
  comments, layout or another part's position costs a dictionary lookup, and the
  findings are located afresh in the new text.

A configuration that rests only because the context kept an eventless loop's guard
false, where another context makes the same step (or the start) loop for ever, is
that loop's symptom: lint's ``eventless-cycle`` reports it, and no deadlock is added.
"""

from __future__ import annotations

import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, Protocol

from pystator.config import timeout_trigger
from pystator.machine import StateMachine
from pystator.macrostep import LivelockError
from pystator.model import MachineSpec
from pystator.step import Step
from pystator.verify.explore import Exploration, Node, explore
from pystator.verify.run import Run
from pystator.verify.solver import Constraint, solve

if TYPE_CHECKING:
    from pystator.lint import Finding

__all__ = [
    "LINT_MAX_MACHINE_STATES",
    "LINT_MAX_SECONDS",
    "LINT_MAX_STATES",
    "LINT_MAX_STEPS",
    "LintContext",
    "check_deadlocks",
    "check_unsatisfiable_guards",
    "lint_findings",
    "may_rest",
]

LINT_MAX_STEPS = 40
LINT_MAX_STATES = 400
LINT_MAX_SECONDS = 0.25
LINT_MAX_MACHINE_STATES = 1_000
_REMEMBERED = 32  # machines whose answers are kept
_DONE = "done.state."

_Raw = tuple[str, str, str, str]
"""A finding before it is located: code, severity, message, path."""


class LintContext(Protocol):
    """What these checks need from ``pystator.lint``'s context."""

    @property
    def spec(self) -> MachineSpec: ...

    def finding(self, code: str, severity: Any, message: str, path: str) -> Finding: ...


_memory: OrderedDict[tuple[str, MachineSpec], tuple[_Raw, ...]] = OrderedDict()
_memory_lock = threading.Lock()  # the designer checks texts in several threads


def _remembered(
    ctx: LintContext, name: str, compute: Callable[[MachineSpec], Iterable[_Raw]]
) -> Iterator[Finding]:
    """``compute(spec)``'s findings, from memory when this spec was seen, located in
    the current text."""
    spec = ctx.spec
    key: tuple[str, MachineSpec] | None = (name, spec)
    try:
        with _memory_lock:
            raws = _memory.get(key)  # type: ignore[arg-type]
            if raws is not None:
                _memory.move_to_end(key)  # type: ignore[arg-type]
    except TypeError:  # a spec holding an unhashable value: compute every time
        raws, key = None, None
    if raws is None:
        raws = tuple(compute(spec))
        if key is not None:
            with _memory_lock:
                _memory[key] = raws
                while len(_memory) > _REMEMBERED:
                    _memory.popitem(last=False)
    for code, severity, message, path in raws:
        yield ctx.finding(code, severity, message, path)


def check_unsatisfiable_guards(ctx: LintContext) -> Iterator[Finding]:
    return _remembered(ctx, "unsatisfiable-guard", _unsatisfiable_guards)


def _unsatisfiable_guards(spec: MachineSpec) -> Iterator[_Raw]:
    for j, t in enumerate(spec.transitions):
        expressions = [(k, g.expr) for k, g in enumerate(t.guards) if g.expr is not None]
        alone = False
        for k, expr in expressions:
            solution = solve([(expr, True)])
            if solution.status == "unsat":
                alone = True
                yield (
                    "unsatisfiable-guard",
                    "warning",
                    f"guard {expr!r} (on {t.trigger or 'always'!r} to {t.dest!r}) can never be "
                    "true, so the transition never fires",
                    f"transitions[{j}].guards[{k}]",
                )
        if alone or len(expressions) < 2:
            continue
        if solve([(e, True) for _k, e in expressions]).status == "unsat":
            together = " and ".join(e for _k, e in expressions)
            yield (
                "unsatisfiable-guard",
                "warning",
                f"the guards of this transition ({together}) are never all true, so it never fires",
                f"transitions[{j}].guards",
            )


def check_deadlocks(ctx: LintContext) -> Iterator[Finding]:
    return _remembered(ctx, "deadlock", _deadlocks)


def may_rest(spec: MachineSpec) -> list[str]:
    """The atomic, unfinished states that could be active in a stuck configuration.

    A state is left out when it always has a way out that cannot fail: an unguarded
    transition from it or an ancestor on an event a host can send (each time it is
    sent it is taken), an unguarded eventless one (the engine takes it before the step
    ends), or an unguarded ``after`` delay or timeout to a state outside it that is not
    one of its ancestors (its timer is pending while the state is active, and firing it
    leaves), when no other transition shares its trigger. A configuration is stuck
    only if every active leaf is finished or listed here, so an empty list proves there
    is no deadlock without exploring anything.
    """
    chart = spec.chart
    sure = _sure_exits(spec)
    covered: dict[Any, bool] = {}
    for node in chart.order:  # parents before their children
        up = chart.parent[node]
        covered[node] = (up is not None and covered[up]) or (isinstance(node, str) and node in sure)
    return [
        name
        for name, state in chart.states.items()
        if name in chart.atomic
        and name not in chart.ends
        and not (state.is_final or state.is_terminal)
        and not covered[name]
    ]


def _sure_exits(spec: MachineSpec) -> set[str]:
    """The states with a way out that cannot fail, themselves (see ``may_rest``)."""
    chart = spec.chart
    known = chart.states

    def leaves(source: str, dest: str) -> bool:
        """Whether taking it surely leaves ``source``: a target inside it, or one of its
        ancestors, can bring the same leaf back without its timer."""
        if dest == source or dest not in known:
            return False
        return not (chart.is_inside(dest, source) or chart.is_inside(source, dest))

    # A timer fires its trigger, and the transitions selected for it may be others that
    # share the trigger: only a trigger of its own surely takes the timer's transition.
    uses = Counter(t.trigger for t in spec.transitions)
    uses.update(timeout_trigger(s.name) for s in spec.states if s.timeout is not None)
    sure: set[str] = set()
    for t in spec.transitions:
        if t.guards:
            continue
        sources = [s for s in t.source if s in known]
        if t.after is not None:
            if uses[t.trigger] == 1:
                sure.update(s for s in sources if leaves(s, t.dest))
        elif t.eventless or not t.trigger.startswith(_DONE):
            sure.update(sources)
    sure.update(
        state.name
        for state in spec.states
        if state.timeout is not None
        and uses[timeout_trigger(state.name)] == 1
        and leaves(state.name, state.timeout.destination)
    )
    return sure


def _deadlocks(spec: MachineSpec) -> Iterator[_Raw]:
    leaving = _leaving(spec)
    if all(not _leaves(spec, leaving, s) for s in may_rest(spec)):
        return  # no state can be stuck, or only those lint's dead-end reports
    size = len(spec.chart.states)
    if size > LINT_MAX_MACHINE_STATES:
        yield (
            "deadlock-unchecked",
            "info",
            f"deadlocks were not searched for: the machine has {size:,} states, more than "
            f"live validation explores ({LINT_MAX_MACHINE_STATES:,}); use the Check tab "
            "or 'pystator check'",
            "states",
        )
        return
    try:
        machine = StateMachine.from_spec(spec)
        exploration = explore(
            machine,
            max_steps=LINT_MAX_STEPS,
            max_states=LINT_MAX_STATES,
            max_seconds=LINT_MAX_SECONDS,
            waits=False,
        )
    except LivelockError:
        return  # the loader and the simulator say why the machine cannot start
    yield from _stuck(machine, exploration, leaving)
    if not exploration.complete:
        yield (
            "deadlock-unchecked",
            "info",
            f"the deadlock search stopped at its bound ({exploration.bound_text()}) after "
            f"{len(exploration.nodes):,} configurations, so configurations beyond it were "
            "not checked; use the Check tab or 'pystator check' to search further",
            "states",
        )


def _stuck(
    machine: StateMachine, exploration: Exploration, leaving: dict[str, set[str]]
) -> Iterator[_Raw]:
    spec = machine.spec
    chart = machine.chart
    order = {s.name: i for i, s in enumerate(spec.states)}
    reported: set[str] = set()
    looping: set[tuple[int, str, str]] = {
        (r.node, r.move.kind, r.move.event) for r in exploration.livelocks
    }
    for node in exploration.nodes:
        if not node.expanded or node.edges or exploration.finished(node):
            continue
        if any(r.node == node.id for r in exploration.livelocks):
            continue
        leaves = chart.leaves_of(node.configuration)
        stuck = [
            s for s in leaves if not chart.states[s].is_final and not chart.states[s].is_terminal
        ]
        if not any(_leaves(spec, leaving, s) for s in stuck):
            continue  # lint's dead-end says it
        state = next((s for s in stuck if s in order and s not in reported), None)
        if state is None or _masks_a_livelock(machine, exploration, node, looping):
            continue
        reported.add(state)
        run = Run.of(machine, exploration.path(node.id))
        how = "; ".join(run.describe()) or "it is where the machine starts"
        yield (
            "deadlock",
            "warning",
            f"deadlock: in {machine.state_string(node.configuration)!r} nothing can happen "
            f"(no event, guard outcome or timer moves it) and it is not terminal or final; "
            f"reached by: {how}",
            f"states[{order[state]}]",
        )


def _masks_a_livelock(
    machine: StateMachine,
    exploration: Exploration,
    node: Node,
    looping: set[tuple[int, str, str]],
) -> bool:
    """Whether the step into ``node`` loops for ever under another context (the start
    under another start context): the node rests only because this context kept an
    eventless loop's guard false."""
    if node.via is None:
        return _start_can_loop(machine, exploration.start)
    incoming = (e for e in exploration.edges() if e.target == node.id)
    return any((e.source, e.move.kind, e.move.event) in looping for e in incoming)


def _start_can_loop(machine: StateMachine, start: Step, limit: int = 32) -> bool:
    """Whether some context makes ``machine.start`` loop for ever: each ``expr`` guard the
    start evaluated is flipped in turn (keeping the earlier outcomes), as the explorer
    flips a move's guards, and the engine is asked again."""
    prefix: list[Constraint] = []
    for g in start.guards[:limit]:
        if g.decided_by != "expr":
            continue
        solution = solve([*prefix, (g.guard, not g.passed)])
        if solution.context is not None:
            try:
                machine.start(solution.context)
            except LivelockError:
                return True
        prefix.append((g.guard, g.passed))
    return False


def _leaving(spec: MachineSpec) -> dict[str, set[str]]:
    """State -> where its written transitions and timeout lead."""
    out: dict[str, set[str]] = {}
    for t in spec.transitions:
        for source in t.source:
            out.setdefault(source, set()).add(t.dest)
    for state in spec.states:
        if state.timeout is not None:
            out.setdefault(state.name, set()).add(state.timeout.destination)
    return out


def _leaves(spec: MachineSpec, leaving: dict[str, set[str]], state: str) -> bool:
    """Whether something written leaves ``state`` (else it is lint's ``dead-end``): a
    transition or timeout of it or an ancestor that leads anywhere but ``state``."""
    chart = spec.chart
    node: Any = state
    while node is not None:
        if isinstance(node, str) and leaving.get(node, set()) - {state}:
            return True
        node = chart.parent[node]
    return False


def lint_findings(spec: MachineSpec | StateMachine) -> list[Finding]:
    """Both checks on ``spec``, as lint would report them."""
    from pystator.lint import Finding

    if isinstance(spec, StateMachine):
        spec = spec.spec

    class _Context:
        def __init__(self, spec: MachineSpec) -> None:
            self._spec = spec

        @property
        def spec(self) -> MachineSpec:
            return self._spec

        def finding(self, code: str, severity: Any, message: str, path: str) -> Finding:
            loc = self._spec.location(path)
            return Finding(
                code,
                severity,
                message,
                path,
                loc.line if loc else None,
                loc.column if loc else None,
            )

    ctx = _Context(spec)
    return [*check_unsatisfiable_guards(ctx), *check_deadlocks(ctx)]
