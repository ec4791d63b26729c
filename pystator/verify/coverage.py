"""Test generation: a small set of shortest runs from the start that cover the machine.

``paths(machine)`` explores the machine breadth first (``pystator.verify.explore``),
so the first edge found that takes a transition is reached by a shortest run. Each
coverage item gets such a run:

* every transition edge (``TakenTransition.edge``: a transition and the state it
  leaves from, so a transition with two sources is two edges), eventless and
  ``done.state.*`` transitions and state timeouts included;
* every state (entered at least once);
* every history state both ways: entered with nothing remembered (its default)
  and restoring what it remembered.

Runs are then kept longest first, each only if it covers something the kept ones
do not, so every kept run is still a shortest run to at least one item. Every run
carries the contexts the guard solver found for it and the named-guard outcomes it
chose, and becomes a simulator trace, a share link and a pytest file that passes.

What is left uncovered says why: a guard no context can make true (a proof from
the solver), a guard outside what the solver handles (sampling found nothing), the
exploration's bound, or a transition that no reachable configuration takes (its
source is never active, or a higher-priority transition always wins).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pystator.machine import StateMachine
from pystator.verify.explore import (
    DEFAULT_MAX_STATES,
    DEFAULT_MAX_STEPS,
    Edge,
    Exploration,
    explore,
)
from pystator.verify.run import Run
from pystator.verify.solver import solve

__all__ = ["Item", "PathSet", "Uncovered", "UncoveredCode", "paths", "transition_edges"]

EdgeKey = tuple[str, str]
"""``(key, source)``, as ``TakenTransition.edge`` and the diagram's edges name one edge."""

UncoveredCode = Literal["unsatisfiable", "unsolved", "bound", "never-taken"]


@dataclass(frozen=True)
class Item:
    """One thing to cover: a transition edge, a state, or a history state one way.

    ``kind`` is ``"transition"`` (``edge`` set), ``"state"`` or ``"history"``
    (``state`` set; for history ``restored`` says which way).
    """

    kind: Literal["transition", "state", "history"]
    edge: EdgeKey | None = None
    state: str = ""
    restored: bool = False

    def describe(self, machine: StateMachine) -> str:
        if self.kind == "transition":
            assert self.edge is not None
            return _edge_label(machine, self.edge)
        if self.kind == "state":
            return f"state {self.state!r}"
        way = "restoring what it remembered" if self.restored else "with nothing remembered"
        return f"history {self.state!r} {way}"


@dataclass(frozen=True)
class Uncovered:
    """An item no run covers, with a stable ``code`` and a sentence saying why."""

    item: Item
    code: UncoveredCode
    reason: str


@dataclass(frozen=True)
class PathSet:
    """The generated runs and what they cover (see the module docstring)."""

    machine: StateMachine
    runs: tuple[Run, ...]
    items: tuple[Item, ...]
    covered: Mapping[Item, int]
    """Each covered item and the index of the first run that covers it."""
    uncovered: tuple[Uncovered, ...]
    exploration: Exploration

    # ---------------------------------------------------------------- figures
    @property
    def transitions(self) -> tuple[EdgeKey, ...]:
        return tuple(i.edge for i in self.items if i.edge is not None)

    @property
    def covered_transitions(self) -> tuple[EdgeKey, ...]:
        return tuple(i.edge for i in self.covered if i.edge is not None)

    @property
    def uncovered_transitions(self) -> dict[EdgeKey, Uncovered]:
        return {u.item.edge: u for u in self.uncovered if u.item.edge is not None}

    @property
    def solvable_transitions(self) -> tuple[EdgeKey, ...]:
        """Edges whose guards the solver can satisfy (everything but ``unsatisfiable``
        and ``unsolved``): the figure test generation promises to cover in full."""
        unsolvable = {
            e
            for e, u in self.uncovered_transitions.items()
            if u.code in ("unsatisfiable", "unsolved")
        }
        return tuple(e for e in self.transitions if e not in unsolvable)

    def figures(self) -> dict[str, Any]:
        """Coverage as counts: transitions, solvable transitions, states, history."""

        def count(kind: str) -> tuple[int, int]:
            mine = [i for i in self.items if i.kind == kind]
            return sum(1 for i in mine if i in self.covered), len(mine)

        transitions = count("transition")
        states = count("state")
        history = count("history")
        return {
            "runs": len(self.runs),
            "moves": sum(len(r) for r in self.runs),
            "transitions": {"covered": transitions[0], "total": transitions[1]},
            "solvable_transitions": {
                "covered": transitions[0],
                "total": len(self.solvable_transitions),
            },
            "states": {"covered": states[0], "total": states[1]},
            "history": {"covered": history[0], "total": history[1]},
            "explored": len(self.exploration.nodes),
            "complete": self.exploration.complete,
            "cut_by": list(self.exploration.cut_by),
            "bound": self.exploration.bound_text(),
        }

    def summary(self) -> str:
        """One line of figures, e.g. ``4 runs, 11 moves: transitions 9/10 ...``."""
        f = self.figures()

        def part(name: str, key: str) -> str:
            c, t = f[key]["covered"], f[key]["total"]
            return f"{name} {c}/{t}" + (f" ({100 * c // t}%)" if t else "")

        parts = [
            part("transitions", "transitions"),
            part("solvable", "solvable_transitions"),
            part("states", "states"),
        ]
        if f["history"]["total"]:
            parts.append(part("history", "history"))
        bound = "" if f["complete"] else f" (exploration cut short at {f['bound']})"
        return f"{f['runs']} runs, {f['moves']} moves: " + ", ".join(parts) + bound

    # ---------------------------------------------------------------- output
    def covers(self, index: int) -> list[Item]:
        """The items run ``index`` is the first to cover."""
        return [item for item, first in self.covered.items() if first == index]

    def pytest_files(self, yaml_text: str, stem: str = "machine") -> dict[str, str]:
        """One pytest module per run (the simulator's export format), by file name."""
        return {
            f"test_{stem}_path_{n + 1:02d}.py": run.pytest(yaml_text, f"{stem}.yaml")
            for n, run in enumerate(self.runs)
        }

    def to_dict(self) -> dict[str, Any]:
        """Everything the designer's "Generate tests" view shows, as JSON-ready data:
        covered and uncovered transitions by ``key`` and ``source`` (the diagram's
        edge), figures, and per run its moves, what it covers and its simulator trace
        (``Simulation.from_json`` opens ``trace``)."""
        machine = self.machine
        return {
            "figures": self.figures(),
            "covered": [
                {
                    "key": e[0],
                    "source": e[1],
                    "label": _edge_label(machine, e),
                    "run": self.covered[i],
                }
                for i in self.covered
                if (e := i.edge) is not None
            ],
            "uncovered": [
                {
                    "key": u.item.edge[0],
                    "source": u.item.edge[1],
                    "label": _edge_label(machine, u.item.edge),
                    "code": u.code,
                    "reason": u.reason,
                }
                for u in self.uncovered
                if u.item.edge is not None
            ],
            "uncovered_states": [
                {"item": u.item.describe(machine), "code": u.code, "reason": u.reason}
                for u in self.uncovered
                if u.item.edge is None
            ],
            "runs": [
                {
                    "moves": run.describe(),
                    "length": len(run),
                    "covers": [i.describe(machine) for i in self.covers(n)],
                    "edges": [list(t.edge) for step in run.steps for t in step.transitions],
                    "trace": run.trace_json(indent=None),
                }
                for n, run in enumerate(self.runs)
            ],
        }


def transition_edges(machine: StateMachine) -> tuple[EdgeKey, ...]:
    """Every edge a step can take: each transition from each of its sources, in order."""
    order = machine.document_order
    out: list[EdgeKey] = []
    for index, t in enumerate(machine.all_transitions):
        key = machine.transition_key(index)
        out.extend((key, s) for s in sorted(t.source, key=order))
    return tuple(out)


def _edge_label(machine: StateMachine, edge: EdgeKey) -> str:
    key, source = edge
    index = _index_of(machine, key)
    t = machine.all_transitions[index]
    trigger = t.trigger if not t.eventless else "(eventless)"
    return f"{key}: {source} -> {t.dest} on {trigger}"


def _index_of(machine: StateMachine, key: str) -> int:
    for index in range(len(machine.all_transitions)):
        if machine.transition_key(index) == key:
            return index
    raise KeyError(key)


def _items(machine: StateMachine) -> list[Item]:
    chart = machine.chart
    items = [Item("transition", edge=e) for e in transition_edges(machine)]
    items += [Item("state", state=s) for s in chart.states if s not in chart.history]
    for h in chart.states:
        if h in chart.history:
            items += [
                Item("history", state=h, restored=False),
                Item("history", state=h, restored=True),
            ]
    return items


def _edge_items(exploration: Exploration, edge: Edge) -> list[Item]:
    """What taking ``edge`` covers: its transitions, the states it enters, history."""
    history = exploration.machine.chart.history
    before = exploration.nodes[edge.source].snapshot
    out = [Item("transition", edge=t.edge) for t in edge.step.transitions]
    out += [Item("state", state=s) for s in edge.step.entered]
    for t in edge.step.transitions:
        if t.dest in history:
            out.append(Item("history", state=t.dest, restored=bool(before.history.get(t.dest))))
    return out


def paths(
    machine: StateMachine,
    *,
    max_steps: int = DEFAULT_MAX_STEPS,
    max_states: int = DEFAULT_MAX_STATES,
    max_seconds: float | None = None,
) -> PathSet:
    """The runs that cover ``machine`` (see the module docstring); ``max_seconds``
    bounds the exploration's wall-clock time (the figures then say it was cut)."""
    exploration = explore(
        machine, max_steps=max_steps, max_states=max_states, max_seconds=max_seconds
    )
    items = _items(machine)
    wanted = set(items)
    # The shortest run to each item: nodes come in breadth-first order, so the
    # first edge that covers an item leaves from a node of least depth.
    first: dict[Item, list[Edge]] = {}
    start_states = exploration.start.snapshot.configuration
    for state in start_states:
        first.setdefault(Item("state", state=state), [])
    for t in exploration.start.transitions:  # eventless transitions taken at the start
        first.setdefault(Item("transition", edge=t.edge), [])
    for node in exploration.nodes:
        for edge in node.edges:
            for item in _edge_items(exploration, edge):
                if item in wanted and item not in first:
                    first[item] = [*exploration.path(node.id), edge]
    # Longest first, each kept only if it adds something.
    candidates = sorted(
        {tuple(id(e) for e in run): run for run in first.values()}.values(),
        key=len,
        reverse=True,
    )
    kept: list[list[Edge]] = []
    covered: dict[Item, int] = {}
    for run in candidates:
        new = [i for i in _covered_by(exploration, run) & wanted if i not in covered]
        if not new:
            continue
        for item in new:
            covered[item] = len(kept)
        kept.append(run)
    runs = tuple(Run.of(machine, run) for run in kept)
    # Order covered like the items (document order), for stable output.
    ordered = {i: covered[i] for i in items if i in covered}
    reached: set[str] = set()
    for node in exploration.nodes:
        reached |= node.configuration
    uncovered = tuple(_why(machine, exploration, reached, i) for i in items if i not in covered)
    return PathSet(machine, runs, tuple(items), ordered, uncovered, exploration)


def _covered_by(exploration: Exploration, run: list[Edge]) -> set[Item]:
    out = {Item("state", state=s) for s in exploration.start.snapshot.configuration}
    out |= {Item("transition", edge=t.edge) for t in exploration.start.transitions}
    for edge in run:
        out.update(_edge_items(exploration, edge))
    return out


def _why(
    machine: StateMachine, exploration: Exploration, reached_states: set[str], item: Item
) -> Uncovered:
    bound = f"not reached within the exploration's bound ({exploration.bound_text()})"
    if item.kind != "transition":
        if not exploration.complete:
            return Uncovered(item, "bound", bound)
        if item.kind == "history":
            return Uncovered(item, "never-taken", "no reachable run enters it that way")
        return Uncovered(item, "never-taken", "no reachable run enters it")
    assert item.edge is not None
    key, source = item.edge
    t = machine.all_transitions[_index_of(machine, key)]
    expressions = [g.expr for g in t.guards if g.expr is not None]
    for expr in expressions:
        solution = solve([(expr, True)])
        if solution.status == "unsat":
            return Uncovered(item, "unsatisfiable", f"its guard {expr!r} can never be true")
    if len(expressions) > 1:
        solution = solve([(e, True) for e in expressions])
        if solution.status == "unsat":
            together = " and ".join(expressions)
            return Uncovered(item, "unsatisfiable", f"its guards {together!r} are never all true")
    reached = source in reached_states
    missed = [e for e in expressions if e in exploration.unsolved]
    if missed and reached:
        return Uncovered(
            item,
            "unsolved",
            f"no context was found for its guard {missed[0]!r}: " + exploration.unsolved[missed[0]],
        )
    if not exploration.complete:
        return Uncovered(item, "bound", bound)
    if not reached:
        return Uncovered(item, "never-taken", f"its source {source!r} is never active")
    return Uncovered(
        item,
        "never-taken",
        "no reachable configuration takes it: a transition of higher priority (an inner "
        "state's, or one listed earlier) always wins, or it needs guards that never hold together",
    )
