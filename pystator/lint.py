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
                                   terminal state (terminal states accept no event)
``unknown-guard``        error     a named guard the given guard registry does not have
``unknown-action``       error     an action the given action registry does not have
=======================  ========  =====================================================

Each check is one small function over a ``SpecTree`` so a new rule is one more
function in ``CHECKS``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from pystator._spec_tree import SpecTree
from pystator.errors import Issue
from pystator.model import MachineSpec, Transition

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
    tree: SpecTree
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
        return f"states[{self.tree.order[name]}]"

    def sources(self, t: Transition) -> list[str]:
        """A transition's known sources in document order."""
        return sorted(
            (s for s in t.source if s in self.tree.states), key=self.tree.order.__getitem__
        )


def _q(name: str) -> str:
    return repr(name)


# --------------------------------------------------------------------------- reachability


def _enter(tree: SpecTree, target: str, into: set[str]) -> None:
    """Everything active after entering ``target``: ancestors, their other regions, defaults."""
    chain = [target, *tree.ancestors(target)]
    for state in chain:
        into.add(state)
    for state in chain[1:]:
        if tree.is_parallel(state):
            for initial in tree.region_initials(state):
                if initial is not None:
                    into.update(tree.entry_set(initial))
    into.update(tree.entry_set(target))


def reachable_states(spec: MachineSpec) -> set[str]:
    """States some run can enter, starting from the initial configuration."""
    tree = SpecTree(spec)
    reached: set[str] = set()
    start = tree.root_initial()
    if start is None:
        return reached
    _enter(tree, start, reached)
    edges: list[tuple[frozenset[str], str]] = [(t.source, t.dest) for t in spec.transitions]
    edges += [
        (frozenset({s.name}), s.timeout.destination) for s in spec.states if s.timeout is not None
    ]
    changed = True
    while changed:
        changed = False
        for sources, dest in edges:
            if dest in tree.states and dest not in reached and sources & reached:
                _enter(tree, dest, reached)
                changed = True
    return reached


def check_unreachable(ctx: _Context) -> Iterator[Finding]:
    reached = reachable_states(ctx.spec)
    if not reached:
        return
    for state in ctx.spec.states:
        if state.name not in reached:
            yield ctx.finding(
                "unreachable-state",
                "warning",
                f"state {_q(state.name)} can never be entered: no transition, timeout or "
                "initial state leads to it from the start",
                ctx.state_path(state.name),
            )


def check_implicit_initial(ctx: _Context) -> Iterator[Finding]:
    """No top-level state marked initial: the machine starts in the first one. Say so."""
    roots = [s for s in ctx.spec.states if s.parent is None]
    if len(roots) > 1 and not any(s.is_initial for s in roots):
        yield ctx.finding(
            "implicit-initial",
            "info",
            f"no top-level state is marked 'type: initial', so the machine starts in "
            f"{_q(roots[0].name)}, the first one",
            ctx.state_path(roots[0].name),
        )


# --------------------------------------------------------------------------- dead ends


def check_dead_ends(ctx: _Context) -> Iterator[Finding]:
    tree = ctx.tree
    for state in ctx.spec.states:
        if state.is_terminal or tree.kids(state.name):
            continue
        scope = {state.name, *tree.ancestors(state.name)}
        leaves = any(t.source & scope and t.dest != state.name for t in ctx.spec.transitions)
        leaves = leaves or any(
            timeout is not None and timeout.destination != state.name
            for timeout in (tree.states[s].timeout for s in scope)
        )
        if not leaves:
            yield ctx.finding(
                "dead-end",
                "warning",
                f"state {_q(state.name)} is not terminal but nothing leaves it: add a "
                "transition or a timeout from it, or make it type terminal",
                ctx.state_path(state.name),
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
    transitions = ctx.spec.transitions
    reported: set[tuple[str, int]] = set()
    for (source, trigger, _region), indexes in _event_transitions(ctx).items():
        for pos, k in enumerate(indexes):
            winner = next((j for j in indexes[:pos] if not transitions[j].guards), None)
            if winner is None:
                continue
            later = transitions[k]
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
    for j, t in enumerate(ctx.spec.transitions):
        for source in ctx.sources(t):
            if ctx.tree.states[source].is_terminal:
                what = "an 'after' delay" if t.after is not None else f"trigger {t.trigger!r}"
                yield ctx.finding(
                    "terminal-outgoing",
                    "warning",
                    f"terminal state {_q(source)} has an outgoing transition ({what} to "
                    f"{_q(t.dest)}); terminal states accept no event, so it never fires",
                    f"transitions[{j}].source",
                )
    for i, state in enumerate(ctx.spec.states):
        if state.is_terminal and state.timeout is not None:
            yield ctx.finding(
                "terminal-outgoing",
                "warning",
                f"terminal state {_q(state.name)} has a timeout to "
                f"{_q(state.timeout.destination)}; terminal states are never left",
                f"states[{i}].timeout",
            )


# --------------------------------------------------------------------------- registries


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


def check_unknown_actions(ctx: _Context) -> Iterator[Finding]:
    if ctx.actions is None:
        return
    for i, state in enumerate(ctx.spec.states):
        for hook in ("on_enter", "on_exit"):
            for k, action in enumerate(getattr(state, hook)):
                if not ctx.actions.has(action.name):
                    yield ctx.finding(
                        "unknown-action",
                        "error",
                        f"action {action.name!r} ({hook} of {_q(state.name)}) is not registered",
                        f"states[{i}].{hook}[{k}]",
                    )
    for j, t in enumerate(ctx.spec.transitions):
        for k, action in enumerate(t.actions):
            if not ctx.actions.has(action.name):
                yield ctx.finding(
                    "unknown-action",
                    "error",
                    f"action {action.name!r} (on {t.trigger!r} to {_q(t.dest)}) is not registered",
                    f"transitions[{j}].actions[{k}]",
                )


CHECKS: tuple[Callable[[_Context], Iterator[Finding]], ...] = (
    check_unreachable,
    check_implicit_initial,
    check_dead_ends,
    check_shadowed_and_nondeterministic,
    check_terminal_outgoing,
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
    ctx = _Context(spec, SpecTree(spec), guards, actions)
    return [finding for check in CHECKS for finding in check(ctx)]
