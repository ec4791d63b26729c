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

Both have the shape of the functions in ``pystator.lint.CHECKS`` (they take lint's
context and yield its ``Finding``s), so lint can list them; ``lint_findings`` runs
them on a spec on their own. The deadlock search is bounded (``LINT_MAX_STEPS``
moves, ``LINT_MAX_STATES`` configurations) so that it stays cheap enough for the
designer's live validation.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Protocol

from pystator.machine import StateMachine
from pystator.macrostep import LivelockError
from pystator.model import MachineSpec
from pystator.verify.explore import explore
from pystator.verify.run import Run
from pystator.verify.solver import solve

if TYPE_CHECKING:
    from pystator.lint import Finding

__all__ = [
    "LINT_MAX_STATES",
    "LINT_MAX_STEPS",
    "LintContext",
    "check_deadlocks",
    "check_unsatisfiable_guards",
    "lint_findings",
]

LINT_MAX_STEPS = 12
LINT_MAX_STATES = 2_000


class LintContext(Protocol):
    """What these checks need from ``pystator.lint``'s context."""

    @property
    def spec(self) -> MachineSpec: ...

    def finding(self, code: str, severity: Any, message: str, path: str) -> Finding: ...


def check_unsatisfiable_guards(ctx: LintContext) -> Iterator[Finding]:
    for j, t in enumerate(ctx.spec.transitions):
        expressions = [(k, g.expr) for k, g in enumerate(t.guards) if g.expr is not None]
        alone = False
        for k, expr in expressions:
            solution = solve([(expr, True)])
            if solution.status == "unsat":
                alone = True
                yield ctx.finding(
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
            yield ctx.finding(
                "unsatisfiable-guard",
                "warning",
                f"the guards of this transition ({together}) are never all true, so it never fires",
                f"transitions[{j}].guards",
            )


def check_deadlocks(ctx: LintContext) -> Iterator[Finding]:
    spec = ctx.spec
    try:
        machine = StateMachine.from_spec(spec)
        exploration = explore(machine, max_steps=LINT_MAX_STEPS, max_states=LINT_MAX_STATES)
    except LivelockError:
        return  # the loader and the simulator say why the machine cannot start
    chart = machine.chart
    order = {s.name: i for i, s in enumerate(spec.states)}
    reported: set[str] = set()
    for node in exploration.nodes:
        if not node.expanded or node.edges or exploration.finished(node):
            continue
        if any(r.node == node.id for r in exploration.livelocks):
            continue
        leaves = chart.leaves_of(node.configuration)
        stuck = [
            s for s in leaves if not chart.states[s].is_final and not chart.states[s].is_terminal
        ]
        if all(_static_dead_end(machine, s) for s in stuck):
            continue  # lint's dead-end says it
        state = next((s for s in stuck if s in order and s not in reported), None)
        if state is None:
            continue
        reported.add(state)
        run = Run.of(machine, exploration.path(node.id))
        how = "; ".join(run.describe()) or "it is where the machine starts"
        yield ctx.finding(
            "deadlock",
            "warning",
            f"deadlock: in {machine.state_string(node.configuration)!r} nothing can happen "
            f"(no event, guard outcome or timer moves it) and it is not terminal or final; "
            f"reached by: {how}",
            f"states[{order[state]}]",
        )


def _static_dead_end(machine: StateMachine, state: str) -> bool:
    """Whether nothing written leaves ``state`` (lint's ``dead-end``)."""
    scope = {state, *machine.ancestors(state)}
    return not any(t.source & scope and t.dest != state for t in machine.all_transitions)


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
