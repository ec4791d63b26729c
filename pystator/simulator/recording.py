"""How the simulator writes down an engine ``Step``: with its clock and its choices.

Everything a recorded event or timer says (what was exited and entered, which
transitions and guards, the actions with their owners, the timers armed and
cancelled, why nothing happened) is read from the engine's step; this module only
adds what the simulator knows (the step's number, the clock, the person's choice).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from pystator.machine import StateMachine
from pystator.result import GuardEvaluation
from pystator.simulator.values import (
    ExecutedAction,
    GuardCheck,
    GuardSource,
    Step,
    StepKind,
)
from pystator.snapshot import Timer
from pystator.step import Step as EngineStep

__all__ = ["guard_check", "record"]


def guard_check(machine: StateMachine, evaluation: GuardEvaluation) -> GuardCheck:
    """A guard the engine evaluated, with the transition it guards as ``"source -> dest"``."""
    dest = machine.all_transitions[evaluation.transition_index].dest
    return GuardCheck(
        evaluation.guard,
        evaluation.passed,
        evaluation.detail,
        cast(GuardSource, evaluation.decided_by or "expr"),
        f"{evaluation.source} -> {dest}",
    )


def record(
    machine: StateMachine,
    index: int,
    kind: StepKind,
    clock_ms: int,
    engine: EngineStep,
    *,
    event: str,
    payload: Mapping[str, Any],
    via: int | None,
    timer: Timer | None,
) -> Step:
    """The simulator's record of one engine step (an event sent or a timer fired)."""
    checks = tuple(guard_check(machine, e) for e in engine.guards)
    configuration = engine.configuration
    state = machine.state_string(configuration)
    common: dict[str, Any] = {
        "clock_ms": clock_ms,
        "event": event,
        "payload": payload,
        "via": via,
        "timer": timer,
        "success": engine.success,
        "guards": checks,
    }
    refusal = engine.refusal
    if refusal is not None:
        return Step(
            index,
            kind,
            configuration=configuration,
            state=state,
            reason=refusal.message,
            reason_code=refusal.code,
            **common,
        )
    return Step(
        index,
        kind,
        configuration=configuration,
        state=state,
        exited=engine.exited,
        entered=engine.entered,
        transitions=tuple(t.label for t in engine.transitions),
        taken=tuple((t.index, t.source) for t in engine.transitions),
        actions=tuple(ExecutedAction(index, a.phase, a.owner, a.action) for a in engine.actions),
        timers_armed=engine.timers_armed,
        timers_cancelled=engine.timers_cancelled,
        microsteps=engine.microsteps,
        **common,
    )


def record_start(machine: StateMachine, engine: EngineStep) -> Step:
    """The simulator's step 0: the engine's ``start`` step."""
    return Step(
        0,
        "start",
        0,
        engine.configuration,
        machine.state_string(engine.configuration),
        entered=engine.entered,
        transitions=tuple(t.label for t in engine.transitions),
        taken=tuple((t.index, t.source) for t in engine.transitions),
        guards=tuple(guard_check(machine, e) for e in engine.guards),
        actions=tuple(ExecutedAction(0, a.phase, a.owner, a.action) for a in engine.actions),
        timers_armed=engine.timers_armed,
        microsteps=engine.microsteps,
    )
