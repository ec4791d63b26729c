"""Verification: generated tests and a bounded model checker, over the engine's own steps.

* ``paths(machine)``: a small set of shortest runs from the start that cover every
  transition, state and history state, each with the contexts that make its guards
  come out as needed (``PathSet``: runs, coverage, pytest files, traces);
* ``check(machine)``: every reachable configuration within a bound, checked for
  deadlocks, livelocks, unreachable states, configurations that cannot finish and
  the ``verify:`` properties of the YAML (``Report``: violations, each with its
  shortest counterexample as a ``Run``);
* ``solve`` / ``satisfiable``: contexts for guards, from the solver both use;
* ``Run``: a sequence of moves from the start, which opens in the simulator
  (``simulation``, ``trace_json``, ``share_path``) and replays as a pytest file.

Nothing here decides what a machine does: every step is ``StateMachine.step``.
"""

from __future__ import annotations

from pystator.verify.checker import Report, Violation, ViolationCode, check
from pystator.verify.coverage import Item, PathSet, Uncovered, paths, transition_edges
from pystator.verify.explore import (
    DEFAULT_MAX_STATES,
    DEFAULT_MAX_STEPS,
    Edge,
    Exploration,
    Move,
    Node,
    explore,
)
from pystator.verify.findings import check_deadlocks, check_unsatisfiable_guards, lint_findings
from pystator.verify.run import Run, share_path
from pystator.verify.solver import Solution, satisfiable, solve

__all__ = [
    "DEFAULT_MAX_STATES",
    "DEFAULT_MAX_STEPS",
    "Edge",
    "Exploration",
    "Item",
    "Move",
    "Node",
    "PathSet",
    "Report",
    "Run",
    "Solution",
    "Uncovered",
    "Violation",
    "ViolationCode",
    "check",
    "check_deadlocks",
    "check_unsatisfiable_guards",
    "explore",
    "lint_findings",
    "paths",
    "satisfiable",
    "share_path",
    "solve",
    "transition_edges",
]
