"""pystator.verify.paths: generated runs cover every transition a run can take, each run
is a shortest one, and every generated pytest passes.

"Every transition a run can take" is judged by the brute force of
``test_verify_check`` (every event, a fixed grid of contexts, every named-guard
outcome): whatever it takes within the bound, the generated runs must take too.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pystator import StateMachine
from pystator.diagram import build_graph
from pystator.simulator import Simulation
from pystator.verify import Item, PathSet, paths, transition_edges
from tests.engine.test_properties import machines
from tests.engine.test_verify_check import GRID, _yaml, brute_force, run_pytest

EXAMPLES = sorted((Path(__file__).parents[2] / "examples").glob("*.yaml"))


def taken_edges(definition_or_machine: Any, depth: int) -> set[tuple[str, str]]:
    machine = definition_or_machine
    brute = brute_force(machine, depth)
    return {t.edge for _d, _k, step in brute.steps for t in step.transitions} | {
        t.edge for t in machine.start({}).transitions
    }


def replays(found: PathSet) -> None:
    """Every run's trace opens in the simulator where the run ended."""
    for run in found.runs:
        sim = Simulation.from_json(found.machine, run.trace_json())
        assert sim.divergence is None
        assert sim.state == run.states[-1]


# --------------------------------------------------------------------------- examples


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_examples_are_covered(path: Path) -> None:
    machine = StateMachine.from_yaml(path)
    found = paths(machine)
    assert (
        set(found.covered_transitions)
        == set(found.solvable_transitions)
        == set(transition_edges(machine))
    )
    assert all(u.item.kind == "history" for u in found.uncovered), found.uncovered
    replays(found)


def test_generated_pytests_pass_under_pytest(tmp_path: Path) -> None:
    written = 0
    for path in EXAMPLES:
        found = paths(StateMachine.from_yaml(path))
        for name, body in found.pytest_files(path.read_text(encoding="utf-8"), path.stem).items():
            (tmp_path / name).write_text(body, encoding="utf-8")
            written += 1
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{written} passed" in result.stdout


HISTORY = """
states:
  - {name: editing, type: initial, initial_child: writing}
  - {name: writing, parent: editing}
  - {name: formatting, parent: editing}
  - {name: back, parent: editing, type: history, default: formatting}
  - {name: paused}
transitions:
  - {trigger: format, source: writing, dest: formatting}
  - {trigger: pause, source: editing, dest: paused}
  - {trigger: resume, source: paused, dest: back}
  - {trigger: jump, source: writing, dest: back}
"""


def test_history_is_covered_both_ways_when_it_can_be() -> None:
    machine = StateMachine.from_yaml(HISTORY)
    found = paths(machine)
    fresh, restored = Item("history", state="back"), Item("history", state="back", restored=True)
    assert fresh in found.covered and restored in found.covered
    # entering "back" with nothing remembered takes its default: the first move does
    fresh_run = found.runs[found.covered[fresh]]
    assert "jump" in [m.event for m in fresh_run.moves]
    restoring = found.runs[found.covered[restored]]
    assert restoring.states == ["writing", "paused", "writing"]  # not the default
    replays(found)


def test_the_exported_pytest_of_a_history_restoring_run_passes() -> None:
    found = paths(StateMachine.from_yaml(HISTORY))
    restored = found.runs[found.covered[Item("history", state="back", restored=True)]]
    failures = {k: v for k, v in run_pytest(restored.pytest(HISTORY)).items() if v is not None}
    assert not failures, failures


def test_the_exported_pytest_of_a_run_with_machine_variables_passes() -> None:
    from tests.engine.test_verify_explore import RETRIES

    found = paths(StateMachine.from_yaml(RETRIES))
    assert len(found.runs) == 2 and not found.uncovered
    replays(found)  # the traces are right
    for body in found.pytest_files(RETRIES).values():
        failures = {k: v for k, v in run_pytest(body).items() if v is not None}
        assert not failures, failures


def test_timers_and_named_guards_are_covered() -> None:
    text = """
states:
  - {name: waiting, type: initial}
  - {name: approved}
  - {name: refused}
  - {name: expired, type: terminal}
transitions:
  - {trigger: decide, source: waiting, dest: approved, guards: [manager_ok]}
  - {trigger: decide, source: waiting, dest: refused}
  - {trigger: expire, source: waiting, dest: expired, after: 5s}
  - {trigger: retry, source: [approved, refused], dest: waiting}
"""
    machine = StateMachine.from_yaml(text)
    found = paths(machine)
    assert set(found.covered_transitions) == set(transition_edges(machine))
    kinds = {m.kind for run in found.runs for m in run.moves}
    assert "timer" in kinds
    guards = {g for run in found.runs for m in run.moves for g in m.guards}
    assert {("manager_ok", True), ("manager_ok", False)} <= guards
    for body in found.pytest_files(text).values():
        assert all(e is None for e in run_pytest(body).values())


# --------------------------------------------------------------------------- uncovered


def test_uncovered_transitions_say_why() -> None:
    text = """
states:
  - {name: a, type: initial}
  - {name: b}
  - {name: c}
  - {name: island}
transitions:
  - {trigger: go, source: a, dest: b}
  - {trigger: go, source: a, dest: c}
  - {trigger: never, source: a, dest: c, guards: [{expr: "n > 5 and n < 3"}]}
  - {trigger: both, source: a, dest: c, guards: [{expr: "n > 5"}, {expr: "n < 3"}]}
  - {trigger: odd, source: a, dest: c, guards: [{expr: "n % 2 == 1 and n % 2 == 0"}]}
  - {trigger: leave, source: island, dest: a}
"""
    machine = StateMachine.from_yaml(text)
    found = paths(machine)
    why = {key: (u.code, u.reason) for (key, _s), u in found.uncovered_transitions.items()}
    assert why["transitions[1]"][0] == "never-taken"
    assert "higher priority" in why["transitions[1]"][1]
    assert why["transitions[2]"] == (
        "unsatisfiable",
        "its guard 'n > 5 and n < 3' can never be true",
    )
    assert (
        why["transitions[3]"][0] == "unsatisfiable" and "never all true" in why["transitions[3]"][1]
    )
    assert why["transitions[4]"][0] == "unsolved"
    assert "n % 2 == 1" in why["transitions[4]"][1] and "sampled" in why["transitions[4]"][1]
    assert why["transitions[5]"] == ("never-taken", "its source 'island' is never active")
    assert set(found.solvable_transitions) == {
        ("transitions[0]", "a"),
        ("transitions[1]", "a"),
        ("transitions[5]", "island"),
    }
    figures = found.figures()
    assert figures["transitions"] == {"covered": 1, "total": 6}
    assert figures["solvable_transitions"] == {"covered": 1, "total": 3}
    assert "transitions 1/6 (16%)" in found.summary()


def test_the_bound_is_a_reason() -> None:
    chain = "\n".join(f"  - {{trigger: next, source: s{i}, dest: s{i + 1}}}" for i in range(5))
    states = "\n".join(f"  - {{name: s{i}}}" for i in range(1, 6))
    text = f"states:\n  - {{name: s0, type: initial}}\n{states}\ntransitions:\n{chain}\n"
    found = paths(StateMachine.from_yaml(text), max_steps=3)
    assert [u.code for u in found.uncovered] == ["bound", "bound", "bound", "bound"]
    assert "not reached within the exploration's bound (3 moves)" in found.uncovered[0].reason
    assert "cut short" in found.summary()


# --------------------------------------------------------------------------- the designer's call


def test_to_dict_names_the_diagram_edges_and_carries_openable_traces() -> None:
    path = next(p for p in EXAMPLES if p.stem == "day_trading_fsm")
    machine = StateMachine.from_yaml(path)
    found = paths(machine)
    view = found.to_dict()
    json.dumps(view)  # JSON-ready
    diagram = {
        (e.key, e.source) for e in build_graph(machine).edges if not e.key.startswith("initial:")
    }
    covered = {(c["key"], c["source"]) for c in view["covered"]}
    assert covered == diagram == set(transition_edges(machine))
    assert view["uncovered"] == []
    assert view["figures"]["transitions"] == {"covered": len(diagram), "total": len(diagram)}
    assert len(view["runs"]) == len(found.runs)
    for shown, run in zip(view["runs"], found.runs, strict=True):
        sim = Simulation.from_json(machine, shown["trace"])
        assert sim.divergence is None and sim.state == run.states[-1]
        assert shown["length"] == len(shown["moves"]) == len(run)
        assert shown["edges"] == [list(t.edge) for step in run.steps for t in step.transitions]
        assert shown["covers"]


# --------------------------------------------------------------------------- generated machines

GUARDS = [
    None,
    None,
    "n > 1",
    "n <= 1",
    "n == 3 and m != 'x'",
    "m in ['a', 'b']",
    "not (n > 2) or m == 'b'",
    "len(items) >= 2",
    "'k' in items",
    "n + 2 * k > 5 and k < 2",
    "n > 5 and n < 3",
    "approved",
    "ready",
]


@st.composite
def guarded_machines(draw: st.DrawFn) -> dict[str, Any]:
    definition = draw(machines())
    for t in definition["transitions"]:
        t.pop("guards", None)
        chosen = draw(st.lists(st.sampled_from(GUARDS), max_size=2))
        guards: list[Any] = [
            g if g in ("approved", "ready") else {"expr": g} for g in chosen if g is not None
        ]
        if guards:
            t["guards"] = guards
    return definition


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(guarded_machines())
def test_paths_cover_every_transition_brute_force_can_take(definition: dict[str, Any]) -> None:
    machine = StateMachine.from_dict(definition)
    depth = 5
    found = paths(machine, max_steps=depth)
    takeable = taken_edges(machine, depth)
    covered = set(found.covered_transitions)
    assert takeable <= covered, takeable - covered
    # and what is left over is not solvable, or is beyond what any run takes
    for edge, u in found.uncovered_transitions.items():
        assert edge not in takeable
        assert u.code in ("unsatisfiable", "unsolved", "bound", "never-taken")
    # every run is a shortest run to something its last move covers (the brute force
    # gets the runs' contexts too: the solver may find values the grid lacks)
    used = [dict(m.context) for run in found.runs for m in run.moves]
    brute = brute_force(machine, depth, [*GRID, *used])
    least: dict[Any, int] = {}
    for d, _key, step in brute.steps:
        for item in [*(t.edge for t in step.transitions), *step.entered]:
            least[item] = min(least.get(item, d + 1), d + 1)
    for run in found.runs:
        if not run.moves:  # the machine can do nothing: the start is the only run
            assert found.runs == (run,)
            continue
        last = [*(t.edge for t in run.steps[-1].transitions), *run.steps[-1].entered]
        assert any(least.get(item) == len(run) for item in last), run.describe()
    yaml_text = _yaml(definition)
    for name, body in found.pytest_files(yaml_text).items():
        failures = {k: v for k, v in run_pytest(body).items() if v is not None}
        assert not failures, (name, failures)
