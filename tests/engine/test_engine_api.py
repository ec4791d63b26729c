"""The engine's own API: start/step/outcomes, and the documented calls as views of it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from pystator import (
    CancelTimer,
    GuardRegistry,
    RunAction,
    Snapshot,
    StateMachine,
)
from pystator.runtime.orchestrator import Orchestrator
from pystator.runtime.state_store import InMemoryStateStore

EXAMPLES = Path(__file__).parents[2] / "examples"

TIMED = """
states:
  - name: a
    type: initial
    on_enter: [enter_a]
    on_exit: [exit_a]
    timeout: {seconds: 2, destination: b}
  - {name: b, on_enter: [enter_b]}
transitions:
  - {trigger: go, source: a, dest: b, actions: [move]}
  - {trigger: later, source: a, dest: b, after: 500}
"""


def test_start_enters_the_initial_states_with_their_actions_then_their_timers() -> None:
    step = StateMachine.from_yaml(TIMED).start(now=100)
    assert [type(e).__name__ for e in step.effects] == [
        "RunAction",
        "ScheduleTimer",
        "ScheduleTimer",
    ]
    assert [(t.trigger, t.due_ms, t.id) for t in step.snapshot.timers] == [
        ("later", 600, 0),  # armed in transition order, the state's timeout last
        ("timeout:a", 2100, 1),
    ]


def test_a_step_lists_effects_in_order_with_owners() -> None:
    machine = StateMachine.from_yaml(TIMED)
    start = machine.start()
    step = machine.step(start.snapshot, "go", now=50)
    kinds = [type(e) for e in step.effects]
    assert kinds == [RunAction, CancelTimer, CancelTimer, RunAction, RunAction]
    assert [(a.name, a.phase, a.owner) for a in step.actions] == [
        ("exit_a", "exit", "a"),
        ("move", "transition", "a -> b"),
        ("enter_b", "enter", "b"),
    ]
    assert step.snapshot.timers == ()
    assert [t.key for t in step.transitions] == ["transitions[0]"]


def test_a_timer_fires_once_and_a_spent_one_is_refused() -> None:
    machine = StateMachine.from_yaml(TIMED)
    snapshot = machine.start().snapshot
    timer = snapshot.next_timer
    assert timer is not None and timer.trigger == "later"
    fired = machine.step(snapshot, timer, now=timer.due_ms)
    assert fired.configuration == {"b"} and fired.timer == timer
    again = machine.step(fired.snapshot, timer, now=timer.due_ms)
    assert again.refusal is not None and again.refusal.code == "stale-timer"


def test_snapshots_round_trip_through_json() -> None:
    machine = StateMachine.from_yaml(TIMED)
    snapshot = machine.start().snapshot
    assert Snapshot.from_dict(snapshot.to_dict()) == snapshot


def test_outcomes_answers_every_event_in_one_call() -> None:
    machine = StateMachine.from_yaml(TIMED)
    outcomes = machine.outcomes(machine.snapshot_of("b"))
    assert list(outcomes) == ["go", "later", "timeout:a"]
    assert {e: s.refusal.code for e, s in outcomes.items() if s.refusal} == {
        "go": "no-transition",
        "later": "no-transition",
        "timeout:a": "no-transition",
    }


def test_step_and_async_step_agree() -> None:
    machine = StateMachine.from_yaml(TIMED)
    snapshot = machine.start().snapshot
    assert asyncio.run(machine.async_step(snapshot, "go")) == machine.step(snapshot, "go")


def test_available_transitions_are_the_written_ones_not_the_timeout() -> None:
    machine = StateMachine.from_yaml(TIMED)
    assert [t.trigger for t in machine.get_available_transitions("a")] == ["go", "later"]
    assert machine.get_state("a").timeout is not None  # the timeout is a state property


def test_get_all_active_lists_the_regions_states() -> None:
    machine = StateMachine.from_yaml(EXAMPLES / "day_trading_fsm.yaml")
    config = machine.enter_parallel_state("session")
    assert config.get_all_active() == list(config.region_states.values())
    assert "session" not in config.get_all_active()


def test_with_guards_binds_a_copy_and_leaves_the_machine_as_it_was() -> None:
    machine = StateMachine.from_yaml(EXAMPLES / "order_fsm.yaml")
    guards = GuardRegistry()
    guards.register("is_full_fill", lambda ctx: True)
    guards.register("is_partial_fill", lambda ctx: False)
    bound = machine.with_guards(guards)
    assert bound.guard_registry is guards and machine.guard_registry is None
    assert bound.process("OPEN", "execution_report").target_state == "FILLED"
    refused = machine.process("OPEN", "execution_report")
    assert not refused.success and "not registered" in str(refused.error)


def test_an_orchestrator_never_rebinds_the_machine_it_is_given() -> None:
    machine = StateMachine.from_yaml(EXAMPLES / "order_fsm.yaml")
    mine = GuardRegistry()
    machine.bind_guards(mine)
    theirs = GuardRegistry()
    Orchestrator(machine, InMemoryStateStore(), guards=theirs)
    assert machine.guard_registry is mine


def test_an_unknown_state_in_a_snapshot_is_named() -> None:
    from pystator import UndefinedStateError

    machine = StateMachine.from_yaml(TIMED)
    with pytest.raises(UndefinedStateError, match="'zz'"):
        machine.step(Snapshot(frozenset({"zz"})), "go")
