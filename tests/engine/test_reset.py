"""``reset_to``: the step that moves an entity to a state no transition leads to.

The runtime's fallback (``error_policy.default_fallback``) is this step; the runtime's
tests check that it is recorded and delivered, these check what the engine computes:
what is exited and entered, in which order, with which actions, for a target inside a
region, at the top level, compound, a history state, and one already active.
"""

from __future__ import annotations

import pytest

from pystator import StateMachine
from pystator.errors import UndefinedStateError
from pystator.reset import reset_to
from pystator.snapshot import Snapshot
from pystator.step import Step

PLANT = """
meta: {machine_name: plant}
states:
  - {name: idle, type: initial, on_exit: [leave_idle]}
  - name: running
    type: parallel
    on_enter: [start_running]
    on_exit: [stop_running]
    regions:
      - {name: motor, initial: slow, states: [slow, fast]}
      - {name: pump, initial: "off", states: ["off", "on"]}
  - {name: slow, on_exit: [leave_slow]}
  - {name: fast, on_enter: [enter_fast]}
  - {name: "off"}
  - {name: "on", on_exit: [leave_on]}
  - {name: service, initial_child: checking, on_enter: [enter_service]}
  - {name: checking, parent: service}
  - {name: fixing, parent: service}
  - {name: back, parent: service, type: history, default: fixing}
  - {name: bare, parent: service, type: history}
  - {name: safe, type: terminal}
transitions:
  - {trigger: go, source: idle, dest: running}
  - {trigger: pump_on, source: "off", dest: "on"}
  - {trigger: repair, source: running, dest: service}
  - {trigger: fix, source: checking, dest: fixing}
  - {trigger: leave, source: service, dest: idle}
"""


@pytest.fixture(scope="module")
def plant() -> StateMachine:
    return StateMachine.from_yaml(PLANT)


def pumping(plant: StateMachine) -> Snapshot:
    """``running`` with the motor ``slow`` and the pump ``on``."""
    return plant.step(plant.step(plant.start().snapshot, "go").snapshot, "pump_on").snapshot


def moved(step: Step) -> tuple[tuple[str, ...], tuple[str, ...], list[str], list[str]]:
    return step.exited, step.entered, [a.name for a in step.actions], sorted(step.configuration)


def test_a_target_in_one_region_leaves_the_other_regions_as_they_are(plant: StateMachine) -> None:
    assert moved(reset_to(plant, pumping(plant), "fast", "boom")) == (
        ("slow",),
        ("fast",),
        ["leave_slow", "enter_fast"],
        ["fast", "on", "running"],
    )


def test_a_top_level_target_leaves_everything_innermost_first(plant: StateMachine) -> None:
    step = reset_to(plant, pumping(plant), "safe", "boom")
    assert moved(step) == (
        ("on", "slow", "running"),
        ("safe",),
        ["leave_on", "leave_slow", "stop_running"],
        ["safe"],
    )
    assert step.event == "boom" and step.refusal is None


def test_a_compound_target_is_entered_by_its_default(plant: StateMachine) -> None:
    assert moved(reset_to(plant, pumping(plant), "service", "boom")) == (
        ("on", "slow", "running"),
        ("service", "checking"),
        ["leave_on", "leave_slow", "stop_running", "enter_service"],
        ["checking", "service"],
    )


def test_a_history_target_restores_what_was_recorded_else_its_default(
    plant: StateMachine,
) -> None:
    fixing = plant.step(plant.step(pumping(plant), "repair").snapshot, "fix").snapshot
    left = plant.step(fixing, "leave").snapshot
    assert moved(reset_to(plant, left, "back", "boom"))[1:] == (
        ("service", "fixing"),
        ["leave_idle", "enter_service"],
        ["fixing", "service"],
    )
    never = reset_to(plant, pumping(plant), "back", "boom")
    assert never.entered == ("service", "fixing")
    nothing = reset_to(plant, pumping(plant), "bare", "boom")
    assert nothing.entered == ("service", "checking")


def test_an_active_target_stays_and_what_is_not_its_default_is_left(plant: StateMachine) -> None:
    assert moved(reset_to(plant, pumping(plant), "running", "boom")) == (
        ("on",),
        ("off",),
        ["leave_on"],
        ["off", "running", "slow"],
    )
    assert moved(reset_to(plant, pumping(plant), "slow", "boom")) == (
        (),
        (),
        [],
        ["on", "running", "slow"],
    )
    fixing = plant.step(plant.step(pumping(plant), "repair").snapshot, "fix").snapshot
    assert moved(reset_to(plant, fixing, "service", "boom")) == (
        ("fixing",),
        ("checking",),
        [],
        ["checking", "service"],
    )


def test_an_unknown_target_is_refused_by_name(plant: StateMachine) -> None:
    with pytest.raises(UndefinedStateError, match="'nowhere' is not defined"):
        reset_to(plant, pumping(plant), "nowhere", "boom")
