"""Bounded model checking: what every reachable configuration of a machine does.

``check(machine)`` explores every snapshot the machine can reach within the bound
(``pystator.verify.explore``: events with representative contexts from the guard
solver, named guards both ways, timers in their order on the virtual clock) and
checks:

=====================  ==================================================================
code                   violated when
=====================  ==================================================================
``deadlock``           a reachable configuration is not finished (some active leaf is
                       neither ``terminal`` nor ``final``) and nothing can happen in it:
                       no event, context or guard outcome moves it, no timer is pending
``livelock``           an event starts a chain of eventless transitions or internal
                       events that never settles (the engine refuses it as a whole)
``unreachable-state``  a state is never active in any reachable configuration
``cannot-finish``      from a reachable configuration no run leads to a finished one
                       (only for machines that have terminal or final states)
``never``              ``verify: never: [A, B]``: A and B are active together
``unreachable``        ``verify: unreachable: X``: X is active
``always-eventually``  ``verify: always_eventually: X within N steps``: N steps (events
                       and timers; waits do not count) pass without X being active, or
                       the machine stops, unfinished, without it
=====================  ==================================================================

Every violation that a run can show comes with the shortest one (fewest moves from
the start; exploration is breadth first), as a ``Run``: a simulator trace, a share
link that opens the designer at the violating step, and a pytest file that replays
the run and then asserts the property, so it fails.

Bounds. A configuration more than ``max_steps`` moves from the start, or beyond the
first ``max_states``, is not looked at; ``Report.complete`` says whether the bound
cut the exploration short. Violations found are real either way (each is a run);
``unreachable-state`` on an incomplete exploration means "not within the bound", and
``cannot-finish`` is only judged where everything reachable was explored.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from pystator._text import did_you_mean
from pystator.errors import ConfigError, Issue
from pystator.machine import StateMachine
from pystator.macrostep import LivelockError
from pystator.model import MachineSpec
from pystator.verify.explore import (
    DEFAULT_MAX_STATES,
    DEFAULT_MAX_STEPS,
    Edge,
    Exploration,
    Node,
    explore,
)
from pystator.verify.run import Run
from pystator.verify.witness import failing_pytest

__all__ = ["Report", "Violation", "ViolationCode", "check"]

ViolationCode = Literal[
    "deadlock",
    "livelock",
    "unreachable-state",
    "cannot-finish",
    "never",
    "unreachable",
    "always-eventually",
]


@dataclass(frozen=True)
class Violation:
    """One property that does not hold, and the shortest run that shows it.

    ``path`` says where in the YAML the property or the state is written
    (``states[3]``, ``verify.never``) and ``line``/``column`` locate it (1-based;
    ``None`` without source text). ``run`` is ``None`` when no run can show it (a
    state never reached, a machine that cannot start). ``detail`` holds what the
    failing pytest asserts (the states involved, the bound).
    """

    code: ViolationCode
    message: str
    run: Run | None
    path: str = ""
    line: int | None = None
    column: int | None = None
    detail: tuple[tuple[str, Any], ...] = ()

    def __str__(self) -> str:
        where = f"{self.line}:{self.column}: " if self.line is not None else ""
        return f"{where}{self.message} [{self.code}]"

    def share_path(self, yaml_text: str) -> str | None:
        """``/s/<token>``: the designer with the counterexample in its simulator, at the
        violating step (None without a run, or when it is too long for a link)."""
        return self.run.share_path(yaml_text) if self.run is not None else None

    def pytest(self, yaml_text: str, file_name: str | None = None) -> str | None:
        """A pytest module that replays the counterexample and asserts the property,
        so it fails (None without a run)."""
        if self.run is None:
            return None
        return failing_pytest(
            self.run, yaml_text, self.code, self.message, dict(self.detail), file_name
        )

    def to_dict(self, yaml_text: str | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "code": self.code,
            "message": self.message,
            "path": self.path,
            "line": self.line,
            "column": self.column,
            "counterexample": self.run.describe() if self.run is not None else None,
        }
        if self.run is not None:
            out["trace"] = self.run.trace_json(indent=None)
            if yaml_text is not None:
                out["share"] = self.share_path(yaml_text)
        return out


@dataclass(frozen=True)
class Report:
    """What ``check`` found: violations (shortest counterexample first within each
    check) and the exploration they come from."""

    machine: StateMachine
    violations: tuple[Violation, ...]
    exploration: Exploration | None

    @property
    def ok(self) -> bool:
        return not self.violations

    @property
    def complete(self) -> bool:
        """Whether every reachable configuration was explored (the bound cut nothing)."""
        return self.exploration is not None and self.exploration.complete

    def summary(self) -> str:
        e = self.exploration
        explored = (
            f"{len(e.nodes)} configurations explored"
            + ("" if e.complete else f" (cut at {e.bound_text()})")
            if e is not None
            else "the machine does not start"
        )
        found = (
            "no violations"
            if self.ok
            else f"{len(self.violations)} violation{'s' if len(self.violations) != 1 else ''}"
        )
        return f"{found}; {explored}"

    def to_dict(self, yaml_text: str | None = None) -> dict[str, Any]:
        e = self.exploration
        return {
            "ok": self.ok,
            "complete": self.complete,
            "explored": len(e.nodes) if e is not None else 0,
            "cut_by": list(e.cut_by) if e is not None else [],
            "bound": e.bound_text() if e is not None else "",
            "violations": [v.to_dict(yaml_text) for v in self.violations],
        }


# --------------------------------------------------------------------------- the checks


class _Checker:
    def __init__(self, machine: StateMachine, exploration: Exploration) -> None:
        self.machine = machine
        self.spec: MachineSpec = machine.spec
        self.e = exploration

    def violation(
        self,
        code: ViolationCode,
        message: str,
        run: Run | None,
        path: str,
        **detail: Any,
    ) -> Violation:
        loc = self.spec.location(path) if path else None
        return Violation(
            code,
            message,
            run,
            path,
            loc.line if loc else None,
            loc.column if loc else None,
            tuple(detail.items()),
        )

    def state_path(self, name: str) -> str:
        for i, state in enumerate(self.spec.states):
            if state.name == name:
                return f"states[{i}]"
        return ""

    def run_to(self, node: int, *extra: Edge) -> Run:
        return Run.of(self.machine, [*self.e.path(node), *extra])

    def describe(self, node: Node) -> str:
        return repr(self.machine.state_string(node.configuration))

    # ---------------------------------------------------------------- structure
    def deadlocks(self) -> Iterator[Violation]:
        stuck = set()
        for node in self.e.nodes:
            if not node.expanded or node.edges or self.e.finished(node):
                continue
            if any(r.node == node.id for r in self.e.livelocks):
                continue
            leaves = self.machine.chart.leaves_of(node.configuration)
            key = frozenset(leaves)
            if key in stuck:
                continue
            stuck.add(key)
            blamed = next(
                (s for s in leaves if not self.machine.chart.states[s].is_final), leaves[0]
            )
            yield self.violation(
                "deadlock",
                f"deadlock: in {self.describe(node)} nothing can happen (no event, guard "
                "outcome or timer moves it) and it is not a terminal or final state",
                self.run_to(node.id),
                self.state_path(blamed),
            )

    def livelocks(self) -> Iterator[Violation]:
        seen = set()
        for refused in self.e.livelocks:
            node = self.e.nodes[refused.node]
            key = (node.configuration, refused.move.kind, refused.move.event)
            if key in seen:
                continue
            seen.add(key)
            assert refused.step.refusal is not None
            edges = self.e.path(node.id)
            run = Run(
                self.machine,
                (*(e.move for e in edges), refused.move),
                (*(e.step for e in edges), refused.step),
            )
            yield self.violation(
                "livelock",
                f"livelock: {refused.move.describe()} in {self.describe(node)} never settles: "
                + refused.step.refusal.message,
                run,
                self.state_path(self.machine.chart.leaves_of(node.configuration)[0]),
            )

    def unreachable_states(self) -> Iterator[Violation]:
        reached: set[str] = set(self.e.start.entered)
        for node in self.e.nodes:
            reached |= node.configuration
            for edge in node.edges:
                reached.update(edge.step.entered)  # states a step passes through count
        chart = self.machine.chart
        within = (
            ""
            if self.e.complete
            else f" within {self.e.max_steps} moves (the exploration was cut short)"
        )
        for name in chart.states:
            if name in reached or name in chart.history:
                continue
            yield self.violation(
                "unreachable-state",
                f"state {name!r} is never active: no run from the start enters it{within}",
                None,
                self.state_path(name),
            )

    def cannot_finish(self) -> Iterator[Violation]:
        chart = self.machine.chart
        if not any(s.is_terminal or s.is_final for s in chart.states.values()):
            return
        nodes = self.e.nodes
        back: dict[int, list[int]] = {}
        for node in nodes:
            for edge in node.edges:
                back.setdefault(edge.target, []).append(node.id)
        # Nodes that can finish: backwards from the finished ones.
        can = {n.id for n in nodes if self.e.finished(n)}
        todo = deque(can)
        while todo:
            for parent in back.get(todo.popleft(), ()):
                if parent not in can:
                    can.add(parent)
                    todo.append(parent)
        # Nodes whose future is only partly known (it reaches an unexpanded node).
        unknown = {n.id for n in nodes if not n.expanded}
        todo = deque(unknown)
        while todo:
            for parent in back.get(todo.popleft(), ()):
                if parent not in unknown:
                    unknown.add(parent)
                    todo.append(parent)
        for node in nodes:  # breadth-first order: the first is the nearest
            if node.id in can or node.id in unknown or not node.edges:
                continue  # (a node without moves is a deadlock, reported as such)
            yield self.violation(
                "cannot-finish",
                f"from {self.describe(node)} no run reaches a terminal or final state",
                self.run_to(node.id),
                self.state_path(chart.leaves_of(node.configuration)[0]),
            )
            return

    # ---------------------------------------------------------------- user properties
    def never(self) -> Iterator[Violation]:
        sets = self.spec.verify.never
        for i, states in enumerate(sets):
            together = frozenset(states)
            path = "verify.never" if len(sets) == 1 else f"verify.never[{i}]"
            node = next((n for n in self.e.nodes if together <= n.configuration), None)
            if node is None:
                continue
            names = ", ".join(repr(s) for s in states)
            yield self.violation(
                "never",
                f"never [{names}]: {self.describe(node)} has them all active",
                self.run_to(node.id),
                path,
                states=list(states),
            )

    def unreachable(self) -> Iterator[Violation]:
        names = self.spec.verify.unreachable
        for i, name in enumerate(names):
            path = "verify.unreachable" if len(names) == 1 else f"verify.unreachable[{i}]"
            found = self.entering(name)
            if found is not None:
                run, where = found
                yield self.violation(
                    "unreachable",
                    f"unreachable {name!r}: {where}",
                    run,
                    path,
                    state=name,
                )

    def entering(self, name: str) -> tuple[Run, str] | None:
        """The shortest run that makes ``name`` active, if only within a step."""
        if name in self.e.start.entered:
            return Run.of(self.machine, []), "the machine starts in it"
        best: tuple[int, int, Edge | None] | None = None  # (moves, node, edge)
        for node in self.e.nodes:
            if best is not None and node.depth >= best[0]:
                break
            if name in node.configuration:
                best = (node.depth, node.id, None)
                break
            for candidate in node.edges:
                if name in candidate.step.entered:
                    best = (node.depth + 1, node.id, candidate)
                    break
        if best is None:
            return None
        _moves, node_id, edge = best
        if edge is None:
            node = self.e.nodes[node_id]
            return self.run_to(node_id), f"{self.describe(node)} has it active"
        source = self.e.nodes[node_id]
        return (
            self.run_to(node_id, edge),
            f"{edge.move.describe()} in {self.describe(source)} enters it",
        )

    def always_eventually(self) -> Iterator[Violation]:
        props = self.spec.verify.always_eventually
        for i, prop in enumerate(props):
            path = (
                "verify.always_eventually" if len(props) == 1 else f"verify.always_eventually[{i}]"
            )
            found = self.window(prop.state, prop.within)
            if found is None:
                continue
            edges, stopped = found
            last = self.e.nodes[edges[-1].target if edges else 0]
            if stopped:
                what = f"the machine stops in {self.describe(last)} without it"
            else:
                what = f"{prop.within} steps pass without it (up to {self.describe(last)})"
            yield self.violation(
                "always-eventually",
                f"always_eventually {prop.state!r} within {prop.within} steps: {what}",
                Run.of(self.machine, edges),
                path,
                state=prop.state,
                within=prop.within,
                stopped=stopped,
            )

    def window(self, state: str, within: int) -> tuple[list[Edge], bool] | None:
        """The shortest run that goes ``within`` steps without ``state`` active, or that
        stops unfinished without it (breadth first over node x steps-without-it)."""
        nodes = self.e.nodes

        # ``k``: how many configurations in a row, up to this one, lack ``state``.
        first = (0, 0 if state in nodes[0].configuration else 1)
        parent: dict[tuple[int, int], tuple[tuple[int, int], Edge] | None] = {first: None}
        todo = deque([first])

        def path_to(key: tuple[int, int]) -> list[Edge]:
            out: list[Edge] = []
            link = parent[key]
            while link is not None:
                key, edge = link
                out.append(edge)
                link = parent[key]
            out.reverse()
            return out

        while todo:
            key = todo.popleft()
            node_id, k = key
            node = nodes[node_id]
            if k > within:
                return path_to(key), False
            if k and node.expanded and not node.edges and not self.e.finished(node):
                return path_to(key), True
            for edge in node.edges:
                target = nodes[edge.target]
                if state in target.configuration:
                    nk = 0
                elif edge.move.kind == "wait":
                    nk = k
                else:
                    nk = k + 1
                nxt = (edge.target, nk)
                if nxt not in parent:
                    parent[nxt] = (key, edge)
                    todo.append(nxt)
        return None


def _validate(spec: MachineSpec, source: str | None) -> None:
    """Every state the ``verify:`` section names must exist (located errors otherwise)."""
    names = {s.name for s in spec.states}
    issues: list[Issue] = []

    def need(name: str, path: str) -> None:
        if name in names:
            return
        loc = spec.location(path)
        issues.append(
            Issue(
                f"verify names an unknown state {name!r}{did_you_mean(name, sorted(names))}",
                path,
                loc.line if loc else None,
                loc.column if loc else None,
                "unknown-state",
                "error",
                source,
            )
        )

    v = spec.verify
    for i, states in enumerate(v.never):
        for j, name in enumerate(states):
            need(name, f"verify.never[{i}][{j}]" if len(v.never) > 1 else f"verify.never[{j}]")
    for i, prop in enumerate(v.always_eventually):
        need(prop.state, f"verify.always_eventually[{i}]")
    for i, name in enumerate(v.unreachable):
        need(name, f"verify.unreachable[{i}]")
    if issues:
        raise ConfigError(issues)


def check(
    machine: StateMachine,
    *,
    max_steps: int = DEFAULT_MAX_STEPS,
    max_states: int = DEFAULT_MAX_STATES,
    max_seconds: float | None = None,
) -> Report:
    """Check ``machine`` (see the module docstring); ``ConfigError`` when its
    ``verify:`` section names a state the machine does not have. ``max_seconds``
    bounds the exploration's wall-clock time (``Report.complete`` is then false)."""
    _validate(machine.spec, machine.spec.source_name)
    try:
        exploration = explore(
            machine, max_steps=max_steps, max_states=max_states, max_seconds=max_seconds
        )
    except LivelockError as error:
        spec = machine.spec
        loc = spec.location("states")
        return Report(
            machine,
            (
                Violation(
                    "livelock",
                    f"livelock: the machine cannot start: {error}",
                    None,
                    "states",
                    loc.line if loc else None,
                    loc.column if loc else None,
                ),
            ),
            None,
        )
    c = _Checker(machine, exploration)
    violations = [
        *c.deadlocks(),
        *c.livelocks(),
        *c.unreachable_states(),
        *c.cannot_finish(),
        *c.never(),
        *c.unreachable(),
        *c.always_eventually(),
    ]
    return Report(machine, tuple(violations), exploration)
