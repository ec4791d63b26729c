"""``Simulation``: a machine plus a trace; everything else is the trace replayed.

The engine decides every step (``StateMachine.start`` and ``StateMachine.step``):
which transitions fire, what is exited and entered, which actions run in what
order, which timers are armed and cancelled. The simulation is a host that applies
those steps. It adds only what the engine leaves to its caller:

* a virtual clock: ``now`` for each step, and the firing of due timers in (due time,
  arming order) at exactly their due time, each as an ordinary event;
* who decides a named guard the simulator cannot run (``pystator.simulator.choices``);
* the record of each step, the snapshots that make undo and jump cheap, and the
  compact JSON trace that rebuilds all of it.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from pystator._text import did_you_mean
from pystator.durations import parse_duration
from pystator.errors import PystatorError
from pystator.machine import StateMachine
from pystator.macrostep import LivelockError
from pystator.simulator import trace as trace_json
from pystator.simulator.choices import (
    Choices,
    choices_for,
    choose,
    resolver_for,
    via_by_dest,
)
from pystator.simulator.recording import record, record_start
from pystator.simulator.trace import Input, json_value
from pystator.simulator.values import (
    ContextChange,
    Divergence,
    EnabledEvent,
    ExecutedAction,
    SimulationError,
    Step,
    StepKind,
    Timer,
)
from pystator.snapshot import Snapshot
from pystator.step import Step as EngineStep

__all__ = ["MAX_STEPS", "Simulation"]

MAX_STEPS = 10_000
"""Most steps a simulation holds (the start counts); traces travel in designer links."""


@dataclass(frozen=True, slots=True)
class _Now:
    """Everything that changes from step to step, as it stands after one step."""

    snapshot: Snapshot
    state: str
    clock_ms: int
    context: Mapping[str, Any]
    guards: Mapping[str, bool]
    actions: int


@dataclass(frozen=True, slots=True)
class _Option:
    """What sending ``event`` now would do, for one choice (``via``)."""

    event: str
    via: int | None
    step: EngineStep


class Simulation:
    """Drive a machine by hand: send events, move a virtual clock, decide guards, go back.

    Every input is appended to the trace and replayed through the engine at once;
    ``steps`` says what each one did. Undo and jump truncate the trace (each step
    keeps a snapshot, so going back costs nothing).

    Guards. An ``expr`` guard is evaluated against the context, plus the event's
    payload for that event only. A named guard is decided, in this order, by an
    outcome fixed with ``set_guard`` (it holds for the rest of the run), by the
    function of that name in the machine's bound ``GuardRegistry`` (async ones
    excepted), or else by the person: while a named guard is unset, each candidate
    transition of the event that has one is offered as its own choice, and
    ``send(event, via=...)`` picks one: its unset guards count as true, the other
    choices' as false. The choice is recorded in the trace.

    ``via`` is the chosen transition's index in ``machine.transitions`` (what
    ``enabled_events()`` reports for each choice), or its destination state name
    when that names one choice. With one choice, ``send`` takes it; with several
    and no ``via``, ``SimulationError`` lists them. A timer that fires takes its own
    transition as the choice.

    Time. ``advance`` fires every timer due by the new time, in (due time, arming
    order), each at exactly its due time and as an ordinary event (guards apply; a
    timer whose transition is refused is spent, not re-armed), then sets the clock.
    """

    def __init__(self, machine: StateMachine, context: Mapping[str, Any] | None = None) -> None:
        if context is not None and not isinstance(context, Mapping):
            raise SimulationError(f"the context must be a dict, not {type(context).__name__}")
        self._machine = machine
        self._initial_context: dict[str, Any] = json_value(dict(context or {}), "the context")
        self._inputs: list[Input] = []
        self._ends: list[int] = []  # len(steps) after each input
        self._steps: list[Step] = []
        self._snapshots: list[_Now] = []
        self._actions: list[ExecutedAction] = []
        self._divergence: Divergence | None = None
        self._options_of: tuple[_Now, list[_Option]] | None = None
        self._replaying = False  # from_json: a via with nothing left to choose is dropped
        self._start()

    # ------------------------------------------------------------------ reading
    @property
    def machine(self) -> StateMachine:
        return self._machine

    @property
    def configuration(self) -> frozenset[str]:
        """The active states, ancestors and every parallel region included."""
        return self._now.snapshot.configuration

    @property
    def state(self) -> str:
        """The configuration's string form (a leaf, or ``P:region=leaf,...``)."""
        return self._now.state

    @property
    def clock_ms(self) -> int:
        return self._now.clock_ms

    @property
    def context(self) -> dict[str, Any]:
        """A copy of the current context (edit it with ``set_context``)."""
        return dict(self._now.context)

    @property
    def initial_context(self) -> dict[str, Any]:
        return dict(self._initial_context)

    @property
    def guard_outcomes(self) -> dict[str, bool]:
        """Named guards fixed with ``set_guard``."""
        return dict(self._now.guards)

    @property
    def pending_timers(self) -> tuple[Timer, ...]:
        """Armed timers, in the order they will fire."""
        return self._now.snapshot.timers

    @property
    def snapshot(self) -> Snapshot:
        """The engine's snapshot as it stands now (what the next step starts from)."""
        return self._now.snapshot

    @property
    def steps(self) -> tuple[Step, ...]:
        return tuple(self._steps)

    @property
    def last_step(self) -> Step:
        return self._steps[-1]

    @property
    def action_log(self) -> tuple[ExecutedAction, ...]:
        """Every action the run would have executed so far, in order, with params."""
        return tuple(self._actions)

    @property
    def divergence(self) -> Divergence | None:
        """Set by ``from_json`` when the trace stopped applying to this machine."""
        return self._divergence

    @property
    def can_undo(self) -> bool:
        return bool(self._inputs)

    # ------------------------------------------------------------------ inputs
    def send(
        self,
        event: str,
        payload: Mapping[str, Any] | None = None,
        via: int | str | None = None,
    ) -> Step:
        """Send ``event`` (with ``payload`` visible to this event's guards) and return its step.

        A refused event is recorded too, with the reason in ``step.reason``.
        """
        # Any non-empty text, as for the engine and the trace format: a trigger the
        # loader accepts (even one of spaces) can always be sent.
        if not isinstance(event, str) or not event:
            raise SimulationError(f"an event must be a non-empty string, got {event!r}")
        if payload is not None and not isinstance(payload, Mapping):
            raise SimulationError(f"a payload must be a dict, not {type(payload).__name__}")
        if isinstance(via, bool) or not (via is None or isinstance(via, (int, str))):
            raise SimulationError(f"via must be a transition index or a state name, not {via!r}")
        if isinstance(via, str):
            via = via_by_dest(event, via, self._choices(self._now, event))
        data = json_value(dict(payload or {}), "the payload")
        return self._record(Input("event", event=event, payload=data, via=via))[-1]

    def advance(self, duration: int | str) -> tuple[Step, ...]:
        """Move the clock by ``duration`` (ms, or ``"500ms"``/``"5s"``/``"1m"``).

        Returns the steps it made: one per timer fired, then the clock step.
        """
        try:
            ms = parse_duration(duration)
        except ValueError as error:
            raise SimulationError(str(error)) from None
        return self._record(Input("advance", to_ms=self.clock_ms + ms))

    def advance_to(self, ms: int) -> tuple[Step, ...]:
        """Move the clock to ``ms`` (absolute, not before now), firing what falls due."""
        if isinstance(ms, bool) or not isinstance(ms, int) or ms < self.clock_ms:
            raise SimulationError(
                f"advance_to needs a time in ms not before the clock ({self.clock_ms}), got {ms!r}"
            )
        return self._record(Input("advance", to_ms=ms))

    def fire_next_timer(self) -> Step:
        """Move the clock to the next timer's due time and fire it (only that one)."""
        return self._record(Input("fire"))[-1]

    def set_guard(self, name: str, outcome: bool | None) -> Step:
        """Fix named guard ``name`` to ``outcome`` for the rest of the run (``None`` unsets)."""
        if outcome is not None and not isinstance(outcome, bool):
            raise SimulationError(f"a guard outcome is True, False or None, not {outcome!r}")
        return self._record(Input("guard", guard=name, outcome=outcome))[-1]

    def set_context(self, values: Mapping[str, Any]) -> Step:
        """Replace the context with ``values``; the step records the difference."""
        if not isinstance(values, Mapping):
            raise SimulationError(f"the context must be a dict, not {type(values).__name__}")
        return self._record(Input("context", context=json_value(dict(values), "the context")))[-1]

    def undo(self) -> None:
        """Take back the last input (an ``advance`` is one input, with all its timers)."""
        if not self._inputs:
            raise SimulationError("nothing to undo: the simulation is at its start")
        self._inputs.pop()
        self._ends.pop()
        self._truncate(self._ends[-1] if self._ends else 1)

    def jump(self, step_index: int) -> None:
        """Go back to just after step ``step_index``: later steps are dropped from the trace.

        Jumping into the middle of an ``advance`` keeps the timers fired up to that
        step (as ``fire_next_timer`` inputs) and leaves the clock at the last one.
        """
        if isinstance(step_index, bool) or not isinstance(step_index, int):
            raise SimulationError(f"a step index is an int, not {step_index!r}")
        if not 0 <= step_index < len(self._steps):
            raise SimulationError(
                f"no step {step_index}: the simulation has steps 0 to {len(self._steps) - 1}"
            )
        j = bisect.bisect_right(self._ends, step_index)
        if step_index == 0:
            del self._inputs[:], self._ends[:]
        elif self._ends[j] - 1 == step_index:
            del self._inputs[j + 1 :], self._ends[j + 1 :]
        else:  # inside an advance: keep the timers it had fired by then
            first = self._ends[j - 1] if j else 1
            del self._inputs[j:], self._ends[j:]
            for k in range(first, step_index + 1):
                self._inputs.append(Input("fire", expect=self._steps[k].state))
                self._ends.append(k + 1)
        self._truncate(step_index + 1)

    def reset(self) -> None:
        """Back to the start (the initial context is kept)."""
        del self._inputs[:], self._ends[:]
        self._truncate(1)

    # ------------------------------------------------------------------ what could happen
    def enabled_events(self) -> list[EnabledEvent]:
        """Events that would do something now, one entry per choice, with where each goes."""
        machine = self._machine
        timed = {t.trigger for t in machine.all_transitions if t.is_delayed}
        out: list[EnabledEvent] = []
        seen: set[tuple[str, frozenset[str], tuple[int, ...]]] = set()
        for option in self._options():
            step = option.step
            if step.refusal is not None:
                continue
            key = (option.event, step.configuration, tuple(t.index for t in step.transitions))
            if key in seen:
                continue
            seen.add(key)
            out.append(
                EnabledEvent(
                    event=option.event,
                    state=machine.state_string(step.configuration),
                    transitions=tuple(t.label for t in step.transitions),
                    dests=tuple(t.dest for t in step.transitions),
                    via=option.via,
                    assumes=tuple(
                        g.guard for g in step.guards if g.decided_by == "choice" and g.passed
                    ),
                    timer=option.event in timed,
                )
            )
        return out

    def disabled_events(self) -> dict[str, str]:
        """Every other trigger of the machine, with why it would do nothing now."""
        reasons: dict[str, list[str]] = {}
        enabled: set[str] = set()
        for option in self._options():
            refusal = option.step.refusal
            if refusal is None:
                enabled.add(option.event)
                continue
            said = reasons.setdefault(option.event, [])
            if refusal.message not in said:
                said.append(refusal.message)
        return {event: "; ".join(said) for event, said in reasons.items() if event not in enabled}

    def _options(self) -> list[_Option]:
        """What every event would do now, per choice; computed once per state of the run.

        Events whose named guards are all decided are asked of the engine in one
        ``outcomes`` call; an event with undecided named guards is stepped once per
        choice.
        """
        now = self._now
        if self._options_of is not None and self._options_of[0] is now:
            return self._options_of[1]
        machine = self._machine
        triggers = list(dict.fromkeys(t.trigger for t in machine.all_transitions))
        choices = {e: self._choices(now, e) for e in triggers}
        plain = [e for e in triggers if not choices[e]]
        resolver = resolver_for(machine, now.guards, None, False) if machine.named_guards else None
        base = machine.outcomes(
            now.snapshot,
            now.context,
            now=now.clock_ms,
            guard_resolver=resolver,
            explain=True,
            events=plain,
        )
        out: list[_Option] = []
        for event in triggers:
            if not choices[event]:
                out.append(_Option(event, None, base[event]))
                continue
            for via, _t in choices[event]:
                out.append(_Option(event, via, self._engine_step(now, event, {}, via, None)))
        self._options_of = (now, out)
        return out

    # ------------------------------------------------------------------ JSON
    def to_json(self, indent: int | None = None) -> str:
        """The trace as compact JSON (``indent`` for a readable file)."""
        return trace_json.encode(
            self._machine.name, self._initial_context, self._steps[0].state, self._inputs, indent
        )

    @classmethod
    def from_json(cls, machine: StateMachine, text: str | bytes) -> Simulation:
        """Rebuild a simulation by replaying a trace from ``to_json``.

        A trace that no longer fits ``machine`` (an edited definition) does not
        raise: it is replayed up to the first input that fails or leads elsewhere
        than it did, and ``divergence`` says which and why. A recorded choice
        (``via``) that is no longer needed, e.g. because a guard registry now decides
        those guards, is dropped; where the run goes is still checked. A malformed or oversized
        trace raises ``SimulationError``.
        """
        decoded = trace_json.decode(text, MAX_STEPS)
        sim = cls(machine, decoded.context)
        if decoded.start is not None and decoded.start != sim.state:
            sim._divergence = Divergence(
                0, -1, f"the trace starts in {decoded.start!r}, the machine now in {sim.state!r}"
            )
            return sim
        sim._replaying = True
        try:
            for number, item in enumerate(decoded.inputs):
                step_index = len(sim._steps)
                try:
                    sim._record(item, check=True)
                except (SimulationError, PystatorError) as error:
                    explanation = f"{item.describe()}: {error}"
                    sim._divergence = Divergence(step_index, number, explanation)
                    break
        finally:
            sim._replaying = False
        return sim

    # ------------------------------------------------------------------ replay
    @property
    def _now(self) -> _Now:
        return self._snapshots[-1]

    def _record(self, item: Input, check: bool = False) -> tuple[Step, ...]:
        """Apply one input atomically: on any error the simulation is left as it was."""
        mark = len(self._steps)
        try:
            self._apply(item)
            state = self._now.state
            if check and item.expect is not None and state != item.expect:
                raise SimulationError(
                    f"the trace went to {item.expect!r}, the machine now goes to {state!r}"
                )
        except BaseException:
            self._truncate(mark)
            raise
        if item.kind in ("event", "fire", "advance"):
            via = self._steps[-1].via if item.kind == "event" else None
            item = Input(item.kind, item.event, item.payload, via, item.to_ms, expect=state)
        self._inputs.append(item)
        self._ends.append(len(self._steps))
        return tuple(self._steps[mark:])

    def _apply(self, item: Input) -> None:
        now = self._now
        if item.kind == "event":
            self._fire(now, "event", item.event, item.payload, item.via, None)
        elif item.kind == "fire":
            timer = now.snapshot.next_timer
            if timer is None:
                raise SimulationError("no timer is pending")
            self._fire_timer(timer)
        elif item.kind == "advance":
            if item.to_ms < now.clock_ms:
                raise SimulationError(f"cannot move the clock back to {item.to_ms} ms")
            fired = 0
            while True:
                timer = self._now.snapshot.next_timer
                if timer is None or timer.due_ms > item.to_ms:
                    break
                self._fire_timer(timer)
                fired += 1
            now = self._now
            self._push(
                self._plain_step("advance", now, clock_ms=item.to_ms, timers_fired=fired),
                replace(now, clock_ms=item.to_ms),
            )
        elif item.kind == "guard":
            self._set_guard(now, item.guard, item.outcome)
        else:
            self._set_context(now, item.context)

    def _plain_step(self, kind: StepKind, now: _Now, **fields: Any) -> Step:
        base: dict[str, Any] = {"clock_ms": now.clock_ms}
        base.update(fields)
        return Step(
            len(self._steps),
            kind,
            configuration=now.snapshot.configuration,
            state=now.state,
            **base,
        )

    def _set_guard(self, now: _Now, name: str, outcome: bool | None) -> None:
        named = self._machine.named_guards
        if name not in named:
            known = sorted(named)
            listing = f" (it uses: {', '.join(known)})" if known else " (it uses none)"
            raise SimulationError(
                f"no transition uses a named guard {name!r}{did_you_mean(name, known)}{listing}"
            )
        guards = {k: v for k, v in now.guards.items() if k != name}
        if outcome is not None:
            guards[name] = outcome
        step = self._plain_step("guard", now, guard_name=name, guard_outcome=outcome)
        self._push(step, replace(now, guards=guards))

    def _set_context(self, now: _Now, values: Mapping[str, Any]) -> None:
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
        step = self._plain_step("context", now, context_changes=tuple(changes))
        self._push(step, replace(now, context=dict(values)))

    def _fire_timer(self, timer: Timer) -> None:
        """Move the clock to the timer's due time and hand the timer to the engine."""
        now = replace(self._now, clock_ms=timer.due_ms)
        self._fire(now, "timer", timer.trigger, {}, None, timer)

    def _fire(
        self,
        now: _Now,
        kind: StepKind,
        event: str,
        payload: Mapping[str, Any],
        via: int | None,
        timer: Timer | None,
    ) -> None:
        choices = self._choices(now, event)
        chosen = choose(event, via, timer.transition if timer else None, choices, self._replaying)
        engine = self._engine_step(now, event, payload, chosen, timer)
        index = len(self._steps)
        step = record(
            self._machine,
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
        self._actions.extend(actions)
        after = _Now(
            engine.snapshot,
            step.state,
            now.clock_ms,
            now.context,
            now.guards,
            len(self._actions),
        )
        self._push(step, after)

    def _engine_step(
        self,
        now: _Now,
        event: str,
        payload: Mapping[str, Any],
        chosen: int | None,
        timer: Timer | None,
    ) -> EngineStep:
        """The engine's step for one event (or timer) from ``now``; nothing is recorded."""
        machine = self._machine
        ctx: Mapping[str, Any] = {**now.context, **payload} if payload else now.context
        resolver = (
            resolver_for(machine, now.guards, chosen, timer is not None)
            if machine.named_guards
            else None
        )
        return machine.step(
            now.snapshot,
            timer if timer is not None else event,
            ctx,
            now=now.clock_ms,
            guard_resolver=resolver,
            explain=True,
        )

    def _choices(self, now: _Now, event: str) -> Choices:
        return choices_for(self._machine, now.snapshot.configuration, now.guards, event)

    def _push(self, step: Step, snapshot: _Now) -> None:
        if len(self._steps) >= MAX_STEPS:
            raise SimulationError(
                f"a simulation is limited to {MAX_STEPS} steps (traces travel in links): "
                "undo, jump back or reset to go on"
            )
        self._steps.append(step)
        self._snapshots.append(snapshot)

    def _truncate(self, length: int) -> None:
        del self._steps[length:], self._snapshots[length:]
        del self._actions[self._snapshots[-1].actions :]

    def _start(self) -> None:
        machine = self._machine
        try:
            engine = machine.start(self._initial_context, now=0)
        except LivelockError as error:
            raise SimulationError(str(error)) from None
        step = record_start(machine, engine)
        self._actions.extend(step.actions)
        now = _Now(engine.snapshot, step.state, 0, self._initial_context, {}, len(step.actions))
        self._push(step, now)
