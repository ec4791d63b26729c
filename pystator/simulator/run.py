"""How a simulation's trace becomes steps: each input replayed through the engine.

``Run`` holds the inputs, the steps they made and, after each step, the ``Now``
(the engine's snapshot plus what the simulator adds: its clock, context and fixed
guard outcomes). An input is applied atomically: if it fails, the run is left as
it was. ``Simulation`` is the public face over one ``Run``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from pystator._text import did_you_mean
from pystator.machine import StateMachine
from pystator.macrostep import LivelockError
from pystator.model import Event
from pystator.simulator.choices import Choices, choices_for, choose, resolver_for
from pystator.simulator.recording import record, record_start
from pystator.simulator.trace import Input
from pystator.simulator.values import (
    ContextChange,
    ExecutedAction,
    SimulationError,
    Step,
    StepKind,
    Timer,
)
from pystator.snapshot import Snapshot
from pystator.step import Step as EngineStep

__all__ = ["MAX_STEPS", "Now", "Run"]

MAX_STEPS = 10_000
"""Most steps a simulation holds (the start counts); traces travel in designer links."""


@dataclass(frozen=True, slots=True)
class Now:
    """Everything that changes from step to step, as it stands after one step."""

    snapshot: Snapshot
    state: str
    clock_ms: int
    context: Mapping[str, Any]
    guards: Mapping[str, bool]
    actions: int


class Run:
    """A machine, its trace of inputs, and what each input did."""

    def __init__(self, machine: StateMachine, context: dict[str, Any]) -> None:
        self.machine = machine
        self.initial_context = context
        self.inputs: list[Input] = []
        self.ends: list[int] = []  # len(steps) after each input
        self.steps: list[Step] = []
        self.snapshots: list[Now] = []
        self.actions: list[ExecutedAction] = []
        self.replaying = False  # from_json: a via with nothing left to choose is dropped
        self.start()

    @property
    def now(self) -> Now:
        return self.snapshots[-1]

    def record(self, item: Input, check: bool = False) -> tuple[Step, ...]:
        """Apply one input atomically: on any error the simulation is left as it was."""
        mark = len(self.steps)
        try:
            self.apply(item)
            state = self.now.state
            if check and item.expect is not None and state != item.expect:
                raise SimulationError(
                    f"the trace went to {item.expect!r}, the machine now goes to {state!r}"
                )
        except BaseException:
            self.truncate(mark)
            raise
        if item.kind in ("event", "fire", "advance"):
            via = self.steps[-1].via if item.kind == "event" else None
            item = Input(item.kind, item.event, item.payload, via, item.to_ms, expect=state)
        self.inputs.append(item)
        self.ends.append(len(self.steps))
        return tuple(self.steps[mark:])

    def apply(self, item: Input) -> None:
        now = self.now
        if item.kind == "event":
            self.fire(now, "event", item.event, item.payload, item.via, None)
        elif item.kind == "fire":
            timer = now.snapshot.next_timer
            if timer is None:
                raise SimulationError("no timer is pending")
            self.fire_timer(timer)
        elif item.kind == "advance":
            if item.to_ms < now.clock_ms:
                raise SimulationError(f"cannot move the clock back to {item.to_ms} ms")
            fired = 0
            while True:
                timer = self.now.snapshot.next_timer
                if timer is None or timer.due_ms > item.to_ms:
                    break
                self.fire_timer(timer)
                fired += 1
            now = self.now
            self.push(
                self.plain_step("advance", now, clock_ms=item.to_ms, timers_fired=fired),
                replace(now, clock_ms=item.to_ms),
            )
        elif item.kind == "guard":
            self.set_guard(now, item.guard, item.outcome)
        else:
            self.set_context(now, item.context)

    def plain_step(self, kind: StepKind, now: Now, **fields: Any) -> Step:
        base: dict[str, Any] = {"clock_ms": now.clock_ms}
        base.update(fields)
        return Step(
            len(self.steps),
            kind,
            configuration=now.snapshot.configuration,
            state=now.state,
            **base,
        )

    def set_guard(self, now: Now, name: str, outcome: bool | None) -> None:
        named = self.machine.named_guards
        if name not in named:
            known = sorted(named)
            listing = f" (it uses: {', '.join(known)})" if known else " (it uses none)"
            raise SimulationError(
                f"no transition uses a named guard {name!r}{did_you_mean(name, known)}{listing}"
            )
        guards = {k: v for k, v in now.guards.items() if k != name}
        if outcome is not None:
            guards[name] = outcome
        step = self.plain_step("guard", now, guard_name=name, guard_outcome=outcome)
        self.push(step, replace(now, guards=guards))

    def set_context(self, now: Now, values: Mapping[str, Any]) -> None:
        before = now.context
        changes: list[ContextChange] = []
        for key, value in values.items():
            if key not in before:
                changes.append(ContextChange(key, None, value, "added"))
            elif before[key] != value or type(before[key]) is not type(value):
                changes.append(ContextChange(key, before[key], value, "changed"))
        changes.extend(
            ContextChange(key, before[key], None, "removed") for key in before if key not in values
        )
        step = self.plain_step("context", now, context_changes=tuple(changes))
        self.push(step, replace(now, context=dict(values)))

    def fire_timer(self, timer: Timer) -> None:
        """Move the clock to the timer's due time and hand the timer to the engine."""
        now = replace(self.now, clock_ms=timer.due_ms)
        self.fire(now, "timer", timer.trigger, {}, None, timer)

    def fire(
        self,
        now: Now,
        kind: StepKind,
        event: str,
        payload: Mapping[str, Any],
        via: int | None,
        timer: Timer | None,
    ) -> None:
        if timer is not None and timer.owner:
            chosen = None  # a child machine's timer: the parent's transitions never see it
        else:
            choices = self.choices(now, event)
            chosen = choose(
                event, via, timer.transition if timer else None, choices, self.replaying
            )
        engine = self.engine_step(now, event, payload, chosen, timer)
        index = len(self.steps)
        step = record(
            self.machine,
            index,
            kind,
            now.clock_ms,
            engine,
            event=event,
            payload=payload,
            via=chosen,
            timer=timer,
        )
        actions = tuple(step.actions)
        self.actions.extend(actions)
        after = Now(
            engine.snapshot,
            step.state,
            now.clock_ms,
            dict(engine.context),  # the machine's assignments are part of the context
            now.guards,
            len(self.actions),
        )
        self.push(step, after)

    def engine_step(
        self,
        now: Now,
        event: str,
        payload: Mapping[str, Any],
        chosen: int | None,
        timer: Timer | None,
    ) -> EngineStep:
        """The engine's step for one event (or timer) from ``now``; nothing is recorded."""
        machine = self.machine
        sent: str | Event = Event(event, payload) if payload else event
        resolver = (
            resolver_for(machine, now.guards, chosen, timer is not None)
            if machine.named_guards
            else None
        )
        return machine.step(
            now.snapshot,
            timer if timer is not None else sent,
            now.context,
            now=now.clock_ms,
            guard_resolver=resolver,
            explain=True,
        )

    def choices(self, now: Now, event: str) -> Choices:
        return choices_for(self.machine, now.snapshot.configuration, now.guards, event)

    def push(self, step: Step, snapshot: Now) -> None:
        if len(self.steps) >= MAX_STEPS:
            raise SimulationError(
                f"a simulation is limited to {MAX_STEPS} steps (traces travel in links): "
                "undo, jump back or reset to go on"
            )
        self.steps.append(step)
        self.snapshots.append(snapshot)

    def truncate(self, length: int) -> None:
        del self.steps[length:], self.snapshots[length:]
        del self.actions[self.snapshots[-1].actions :]

    def start(self) -> None:
        machine = self.machine
        try:
            engine = machine.start(self.initial_context, now=0)
        except LivelockError as error:
            raise SimulationError(str(error)) from None
        step = record_start(machine, engine)
        self.actions.extend(step.actions)
        context = dict(engine.context)  # with the machine's data: initialised
        now = Now(engine.snapshot, step.state, 0, context, {}, len(step.actions))
        self.push(step, now)
