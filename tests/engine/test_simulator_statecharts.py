"""The simulator applies the engine's steps for every statechart construct.

History, done events, eventless transitions and internal events come from the engine's
step; these tests check the simulator records them (the chain of microsteps, the
snapshot with history) and that a saved run replays to the same place.
"""

from __future__ import annotations

from pathlib import Path

from pystator import StateMachine
from pystator.simulator import Simulation
from pystator.simulator.cli import describe_step

EXAMPLES = Path(__file__).parents[2] / "examples"

SPIN = """
states:
  - {name: A, type: initial}
  - {name: B}
transitions:
  - {trigger: go, source: A, dest: B}
  - {source: B, dest: A, always: true}
  - {source: A, dest: B, always: true, guards: [{expr: "spin"}]}
"""


def review() -> StateMachine:
    return StateMachine.from_yaml(EXAMPLES / "document_review.yaml")


def test_a_chained_step_lists_each_microstep() -> None:
    sim = Simulation(review(), {"words": 50})
    step = sim.send("submit")
    assert step.chain == (
        "submit: editing -> review",
        "eventless: triage -> approved",
        "internal done.state.review: review -> published",
    )
    assert sim.state == "published"
    assert [(a.phase, a.owner, a.name) for a in step.actions] == [
        ("exit", "editing", "close_editor"),
        ("transition", "triage -> approved", "fast_track"),
        ("enter", "published", "publish"),
    ]
    assert "    microstep: eventless: triage -> approved" in describe_step(step)


def test_a_single_microstep_has_no_chain() -> None:
    sim = Simulation(review())
    assert sim.send("format").chain == ()


def test_history_lives_in_the_snapshot_and_a_saved_run_replays_to_it() -> None:
    sim = Simulation(review())
    sim.send("format")
    sim.send("pause")
    assert dict(sim.snapshot.history) == {"where_i_was": frozenset({"formatting"})}
    assert sim.send("resume").state == "formatting"
    again = Simulation.from_json(sim.machine, sim.to_json())
    assert again.divergence is None
    assert again.snapshot == sim.snapshot and again.steps == sim.steps
    sim.undo()  # undo goes back before the resume: history still remembers formatting
    assert sim.state == "paused" and dict(sim.snapshot.history)


def test_a_livelock_is_a_refused_step_that_changes_nothing() -> None:
    sim = Simulation(StateMachine.from_yaml(SPIN), {"spin": False})
    sim.set_context({"spin": True})
    step = sim.send("go")
    assert step.reason_code == "livelock" and not step.success
    assert "B -> A, then A -> B" in (step.reason or "")
    assert sim.state == "A"
    assert sim.disabled_events()["go"] == step.reason


def test_a_machine_that_cannot_settle_at_its_start_is_a_clear_simulation_error() -> None:
    import pytest

    from pystator.simulator import SimulationError

    with pytest.raises(SimulationError, match=r"cannot start: .*A -> B, then B -> A"):
        Simulation(StateMachine.from_yaml(SPIN), {"spin": True})
