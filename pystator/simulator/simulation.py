"""``Simulation``: a machine plus a trace; everything else is the trace replayed.

The engine decides every step: which transitions fire, what is exited and entered,
which actions run, in what order (``StateMachine.process_configuration``). This
module adds only what the engine leaves to its caller:

* a virtual clock and the pending timers (entering a state arms its ``after``
  transitions and its ``timeout``; leaving it cancels them; due timers fire in
  (due time, arming order) at exactly their due time, each as an ordinary event);
* who decides a named guard the simulator cannot run (see ``Simulation``);
* the record of each step, the snapshots that make undo and jump cheap, and the
  compact JSON trace that rebuilds all of it.
"""

from __future__ import annotations

import bisect
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from pystator._text import did_you_mean
from pystator.durations import parse_duration
from pystator.errors import (
    GuardRejectedError,
    PystatorError,
    TerminalStateError,
    UndefinedTriggerError,
)
from pystator.machine import StateMachine
from pystator.model import ActionSpec, GuardSpec, Transition
from pystator.result import TransitionResult
from pystator.simulator import trace as trace_json
from pystator.simulator.trace import Input, json_value
from pystator.simulator.values import (
    ContextChange,
    Divergence,
    EnabledEvent,
    ExecutedAction,
    GuardCheck,
    GuardSource,
    Phase,
    ReasonCode,
    SimulationError,
    Step,
    StepKind,
    Timer,
)

__all__ = ["MAX_STEPS", "Simulation"]

MAX_STEPS = 10_000
"""Most steps a simulation holds (the start counts); traces travel in designer links."""

_Record = tuple[Transition, GuardSpec, GuardSource, str]
_Choices = list[tuple[int, Transition]]
_Effects = tuple[tuple[str, ...], tuple[tuple[Phase, str, ActionSpec], ...]]


@dataclass(frozen=True, slots=True)
class _Snapshot:
    """Everything that changes from step to step, as it stands after one step."""

    configuration: frozenset[str]
    state: str
    clock_ms: int
    context: Mapping[str, Any]
    timers: tuple[Timer, ...]
    guards: Mapping[str, bool]
    next_timer_id: int
    actions: int


@dataclass(frozen=True, slots=True)
class _Outcome:
    result: TransitionResult
    checks: tuple[GuardCheck, ...]
    via: int | None


class _Tables:
    """What the simulator looks up about a machine, computed once per simulation."""

    def __init__(self, machine: StateMachine) -> None:
        self.transitions: list[Transition] = list(machine.transitions)
        self.index: dict[int, int] = {id(t): i for i, t in enumerate(self.transitions)}
        self.delayed: dict[str, tuple[Transition, ...]] = {}
        for name in machine.state_names:
            self.delayed[name] = machine.delayed_transitions(name)
            for t in self.delayed[name]:
                if id(t) not in self.index:  # a state timeout: numbered after the written ones
                    self.index[id(t)] = len(self.transitions)
                    self.transitions.append(t)
        states = machine.states
        self.on_exit = {name: s.on_exit for name, s in states.items()}
        self.on_enter = {name: s.on_enter for name, s in states.items()}
        self.order = {name: machine.document_order(name) for name in states}
        self.ancestors = {name: machine.ancestors(name) for name in states}
        self.atomic = frozenset(name for name in states if not machine.children(name))
        self.named_guards = frozenset(
            g.name for t in self.transitions for g in t.guards if g.name is not None
        )
        self.triggers = tuple(dict.fromkeys(t.trigger for t in self.transitions))
        self.timer_triggers = frozenset(t.trigger for t in self.transitions if t.is_delayed)
        self.effects: dict[tuple[frozenset[str], tuple[int, ...]], _Effects] = {}

    @classmethod
    def of(cls, machine: StateMachine) -> _Tables:
        """The tables of ``machine``, shared by every simulation of it (machines are immutable)."""
        tables = _TABLES.get(machine)
        if tables is None:
            tables = _TABLES[machine] = cls(machine)
        return tables


_TABLES: weakref.WeakKeyDictionary[StateMachine, _Tables] = weakref.WeakKeyDictionary()


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
        self._tables = _Tables.of(machine)
        self._initial_context: dict[str, Any] = json_value(dict(context or {}), "the context")
        self._inputs: list[Input] = []
        self._ends: list[int] = []  # len(steps) after each input
        self._steps: list[Step] = []
        self._snapshots: list[_Snapshot] = []
        self._actions: list[ExecutedAction] = []
        self._divergence: Divergence | None = None
        self._explained: dict[tuple[str, int], tuple[Mapping[str, Any], str]] = {}
        self._replaying = False  # from_json: a via with nothing left to choose is dropped
        self._start()

    # ------------------------------------------------------------------ reading
    @property
    def machine(self) -> StateMachine:
        return self._machine

    @property
    def configuration(self) -> frozenset[str]:
        """The active states, ancestors and every parallel region included."""
        return self._now.configuration

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
        return self._now.timers

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
            via = self._via_by_dest(event, via)
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
        out: list[EnabledEvent] = []
        for event in self._tables.triggers:
            seen: set[tuple[frozenset[str], tuple[int, ...]]] = set()
            for via, outcome in self._options(event):
                result = outcome.result
                if not result.success or result.ignored:
                    continue
                key = (result.configuration, tuple(id(t) for t in result.transitions))
                if key in seen:
                    continue
                seen.add(key)
                out.append(
                    EnabledEvent(
                        event=event,
                        state=self._machine.state_string(result.configuration),
                        transitions=tuple(
                            f"{source} -> {t.dest}"
                            for t, source in zip(
                                result.transitions, result.transition_sources, strict=True
                            )
                        ),
                        dests=tuple(t.dest for t in result.transitions),
                        via=via,
                        assumes=tuple(
                            c.guard for c in outcome.checks if c.decided_by == "choice" and c.passed
                        ),
                        timer=event in self._tables.timer_triggers,
                    )
                )
        return out

    def disabled_events(self) -> dict[str, str]:
        """Every other trigger of the machine, with why it would do nothing now."""
        out: dict[str, str] = {}
        for event in self._tables.triggers:
            reasons: list[str] = []
            for _via, outcome in self._options(event):
                result = outcome.result
                if result.success and not result.ignored:
                    break
                reason = self._reason(result, outcome.checks)[0]
                if reason not in reasons:
                    reasons.append(reason)
            else:
                out[event] = "; ".join(reasons)
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
    def _now(self) -> _Snapshot:
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
            if not now.timers:
                raise SimulationError("no timer is pending")
            self._fire_timer(now.timers[0])
        elif item.kind == "advance":
            if item.to_ms < now.clock_ms:
                raise SimulationError(f"cannot move the clock back to {item.to_ms} ms")
            fired = 0
            while self._now.timers and self._now.timers[0].due_ms <= item.to_ms:
                self._fire_timer(self._now.timers[0])
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

    def _plain_step(self, kind: StepKind, now: _Snapshot, **fields: Any) -> Step:
        base: dict[str, Any] = {"clock_ms": now.clock_ms}
        base.update(fields)
        return Step(
            len(self._steps), kind, configuration=now.configuration, state=now.state, **base
        )

    def _set_guard(self, now: _Snapshot, name: str, outcome: bool | None) -> None:
        if name not in self._tables.named_guards:
            known = sorted(self._tables.named_guards)
            listing = f" (it uses: {', '.join(known)})" if known else " (it uses none)"
            raise SimulationError(
                f"no transition uses a named guard {name!r}{did_you_mean(name, known)}{listing}"
            )
        guards = {k: v for k, v in now.guards.items() if k != name}
        if outcome is not None:
            guards[name] = outcome
        step = self._plain_step("guard", now, guard_name=name, guard_outcome=outcome)
        self._push(step, replace(now, guards=guards))

    def _set_context(self, now: _Snapshot, values: Mapping[str, Any]) -> None:
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
        now = self._now
        rest = tuple(t for t in now.timers if t is not timer)
        now = _Snapshot(
            now.configuration,
            now.state,
            timer.due_ms,
            now.context,
            rest,
            now.guards,
            now.next_timer_id,
            now.actions,
        )
        self._fire(now, "timer", timer.trigger, {}, None, timer)

    def _fire(
        self,
        now: _Snapshot,
        kind: StepKind,
        event: str,
        payload: Mapping[str, Any],
        via: int | None,
        timer: Timer | None,
    ) -> None:
        outcome = self._compute(now, event, payload, via, timer, None)
        result = outcome.result
        index = len(self._steps)
        common: dict[str, Any] = {
            "clock_ms": now.clock_ms,
            "event": event,
            "payload": payload,
            "via": outcome.via,
            "timer": timer,
            "success": result.success,
            "guards": outcome.checks,
        }
        if not result.success or result.ignored:
            reason, code = self._reason(result, outcome.checks)
            self._push(self._plain_step(kind, now, reason=reason, reason_code=code, **common), now)
            return
        exited, entered = result.exited_states, result.entered_states
        timers: tuple[Timer, ...] = now.timers
        cancelled: tuple[Timer, ...] = ()
        if exited:
            gone = set(exited)
            cancelled = tuple(t for t in timers if t.state in gone)
            if cancelled:
                timers = tuple(t for t in timers if t.state not in gone)
        armed, next_id = self._arm(entered, now.clock_ms, now.next_timer_id)
        if armed:
            timers = tuple(sorted(timers + armed, key=_due_order))
        labels, owned = self._effects(result, now.configuration)
        actions = tuple(ExecutedAction(index, phase, owner, a) for phase, owner, a in owned)
        self._actions.extend(actions)
        configuration = result.configuration
        after = _Snapshot(
            configuration,
            self._machine.state_string(configuration),
            now.clock_ms,
            now.context,
            timers,
            now.guards,
            next_id,
            len(self._actions),
        )
        step = Step(
            index,
            kind,
            configuration=configuration,
            state=after.state,
            exited=exited,
            entered=entered,
            transitions=labels,
            taken=tuple(
                (self._machine.transition_index(t), source)
                for t, source in zip(result.transitions, result.transition_sources, strict=True)
            ),
            actions=actions,
            timers_armed=armed,
            timers_cancelled=cancelled,
            **common,
        )
        self._push(step, after)

    def _push(self, step: Step, snapshot: _Snapshot) -> None:
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
        configuration = machine.initial_configuration()
        entered = tuple(sorted(configuration, key=self._tables.order.__getitem__))
        actions = tuple(
            ExecutedAction(0, "enter", s, a) for s in entered for a in self._tables.on_enter[s]
        )
        armed, next_id = self._arm(entered, 0, 0)
        self._actions.extend(actions)
        state = machine.state_string(configuration)
        snapshot = _Snapshot(
            configuration, state, 0, self._initial_context, armed, {}, next_id, len(actions)
        )
        self._push(
            Step(
                0,
                "start",
                0,
                configuration,
                state,
                entered=entered,
                actions=actions,
                timers_armed=armed,
            ),
            snapshot,
        )

    def _arm(
        self, entered: tuple[str, ...], clock_ms: int, next_id: int
    ) -> tuple[tuple[Timer, ...], int]:
        armed: list[Timer] = []
        delayed, index = self._tables.delayed, self._tables.index
        for state in entered:
            for t in delayed[state]:
                after = t.after or 0
                armed.append(
                    Timer(
                        next_id, state, clock_ms + after, t.trigger, t.dest, clock_ms, index[id(t)]
                    )
                )
                next_id += 1
        return tuple(armed), next_id

    def _effects(self, result: TransitionResult, before: frozenset[str]) -> _Effects:
        """Transition labels and owned actions of a step; the same for the same engine step."""
        key = (before, tuple(id(t) for t in result.transitions))
        cached = self._tables.effects.get(key)
        if cached is not None:
            return cached
        tables = self._tables
        labels = tuple(
            f"{source} -> {t.dest}"
            for t, source in zip(result.transitions, result.transition_sources, strict=True)
        )
        owned: list[tuple[Phase, str, ActionSpec]] = []
        phases: tuple[tuple[Phase, tuple[ActionSpec, ...], list[tuple[str, ActionSpec]]], ...] = (
            (
                "exit",
                result.on_exit_actions,
                [(s, a) for s in result.exited_states for a in tables.on_exit[s]],
            ),
            (
                "transition",
                result.actions_to_execute,
                [
                    (label, a)
                    for label, t in zip(labels, result.transitions, strict=True)
                    for a in t.actions
                ],
            ),
            (
                "enter",
                result.on_enter_actions,
                [(s, a) for s in result.entered_states for a in tables.on_enter[s]],
            ),
        )
        for phase, specs, pairs in phases:
            if len(pairs) == len(specs) and all(
                p[1] is a for p, a in zip(pairs, specs, strict=True)
            ):
                owned.extend((phase, owner, a) for owner, a in pairs)
            else:  # the engine ordered them differently: trust it, without owners
                owned.extend((phase, "", a) for a in specs)
        effects = (labels, tuple(owned))
        if len(tables.effects) < 50_000:
            tables.effects[key] = effects
        return effects

    # ------------------------------------------------------------------ guards and choices
    def _choices(self, now: _Snapshot, event: str) -> _Choices:
        """Candidates of ``event`` with a named guard nobody decides: the person must."""
        if not self._tables.named_guards:
            return []
        undecided = self._undecided_names(now)
        out: _Choices = []
        for _source, t in self._machine.candidates(now.configuration, event):
            if any(g.name is not None and undecided(g.name) for g in t.guards):
                out.append((self._tables.index[id(t)], t))
        return out

    def _undecided_names(self, now: _Snapshot) -> Callable[[str], bool]:
        registry = self._machine.guard_registry
        fixed = now.guards

        def undecided(name: str) -> bool:
            return name not in fixed and not _runnable(registry, name)

        return undecided

    def _choose(
        self,
        now: _Snapshot,
        event: str,
        via: int | None,
        timer: Timer | None,
        choices: _Choices,
    ) -> int | None:
        indexes = [i for i, _ in choices]
        if timer is not None:
            return timer.transition if timer.transition in indexes else None
        if not choices:
            if via is not None and not self._replaying:
                raise SimulationError(
                    f"{event!r} needs no choice here (no unset named guard): send it without via"
                )
            return None
        if via is None:
            if len(choices) == 1:
                return indexes[0]
            raise SimulationError(
                f"{event!r} depends on named guards nobody has decided; choose with via=: "
                + self._describe_choices(choices)
                + "; or fix the guards with set_guard()"
            )
        if via not in indexes:
            raise SimulationError(
                f"via={via} is not a choice for {event!r} here; the choices are: "
                + self._describe_choices(choices)
            )
        return via

    def _describe_choices(self, choices: _Choices) -> str:
        parts = []
        for i, t in choices:
            guards = ", ".join(g.label for g in t.guards)
            parts.append(f"via={i} (-> {t.dest} [{guards}])")
        return ", ".join(parts)

    def _via_by_dest(self, event: str, dest: str) -> int:
        choices = self._choices(self._now, event)
        matches = [i for i, t in choices if t.dest == dest]
        if len(matches) == 1:
            return matches[0]
        if not choices:
            raise SimulationError(f"{event!r} needs no choice here: send it without via")
        problem = "more than one choice goes to" if matches else "no choice goes to"
        raise SimulationError(
            f"{problem} {dest!r} for {event!r}; the choices are: {self._describe_choices(choices)}"
        )

    def _compute(
        self,
        now: _Snapshot,
        event: str,
        payload: Mapping[str, Any],
        via: int | None,
        timer: Timer | None,
        choices: _Choices | None,
    ) -> _Outcome:
        """What the engine does with ``event`` now; pure (nothing is recorded)."""
        if choices is None:
            choices = self._choices(now, event)
        chosen = self._choose(now, event, via, timer, choices)
        ctx: Mapping[str, Any] = {**now.context, **payload} if payload else now.context
        records: list[_Record] = []
        resolver = self._resolver(now, chosen, timer is not None, records)
        result = self._machine.process_configuration(
            now.configuration, event, ctx, guard_resolver=resolver
        )
        return _Outcome(result, self._checks(records, result, ctx), chosen)

    def _resolver(
        self, now: _Snapshot, chosen: int | None, for_timer: bool, records: list[_Record]
    ) -> Callable[[Transition, GuardSpec, Mapping[str, Any]], bool | None]:
        registry = self._machine.guard_registry
        fixed = now.guards
        index = self._tables.index

        def resolve(t: Transition, guard: GuardSpec, ctx: Mapping[str, Any]) -> bool | None:
            name = guard.name
            if name is None:
                records.append((t, guard, "expr", ""))
                return None
            if name in fixed:
                records.append((t, guard, "set_guard", "fixed with set_guard"))
                return fixed[name]
            if _runnable(registry, name):
                try:
                    value = bool(registry.get(name)(dict(ctx)))
                except Exception as error:
                    raised = f"raised {type(error).__name__}: {error}"
                    records.append((t, guard, "registry", raised))
                    return False
                records.append((t, guard, "registry", "registry function"))
                return value
            taken = index[id(t)] == chosen
            if for_timer:
                detail = "the timer's own transition" if taken else "another transition"
                records.append((t, guard, "timer", detail))
            else:
                detail = f"chosen with via={chosen}" if taken else "not chosen"
                records.append((t, guard, "choice", detail))
            return taken

        return resolve

    def _checks(
        self, records: list[_Record], result: TransitionResult, ctx: Mapping[str, Any]
    ) -> tuple[GuardCheck, ...]:
        evaluations = result.guard_evaluations
        if len(evaluations) != len(records):  # not expected: report what the engine said
            return tuple(GuardCheck(e.guard, e.passed, e.detail, "expr", "") for e in evaluations)
        out = []
        for (t, guard, source, detail), evaluation in zip(records, evaluations, strict=True):
            if source == "expr":
                detail = evaluation.detail
                if evaluation.passed and guard.expr is not None:
                    detail = self._explain(guard, ctx)
            out.append(GuardCheck(guard.label, evaluation.passed, detail, source, self._label(t)))
        return tuple(out)

    def _explain(self, guard: GuardSpec, ctx: Mapping[str, Any]) -> str:
        """What a passing ``expr`` guard read; cached per (expression, context object)."""
        key = (guard.label, id(ctx))
        cached = self._explained.get(key)
        if cached is not None and cached[0] is ctx:
            return cached[1]
        detail = self._machine.explain_guard(guard, ctx).detail
        if len(self._explained) > 4096:
            self._explained.clear()
        self._explained[key] = (ctx, detail)
        return detail

    def _options(self, event: str) -> list[tuple[int | None, _Outcome]]:
        now = self._now
        choices = self._choices(now, event)
        vias: list[int | None] = [i for i, _ in choices] or [None]
        return [(via, self._compute(now, event, {}, via, None, choices)) for via in vias]

    # ------------------------------------------------------------------ wording
    def _label(self, t: Transition, configuration: frozenset[str] | None = None) -> str:
        """``"OPEN -> FILLED"``: the source that matched (when known) and the destination.

        The engine tries active leaves in document order, innermost source first, so
        the matched source is the first leaf's innermost ancestor-or-self in ``source``.
        """
        tables = self._tables
        if configuration is not None:
            for leaf in sorted(configuration & tables.atomic, key=tables.order.__getitem__):
                for node in (leaf, *tables.ancestors[leaf]):
                    if node in t.source:
                        return f"{node} -> {t.dest}"
        sources = sorted(t.source, key=lambda s: tables.order.get(s, 0))
        return f"{'|'.join(sources)} -> {t.dest}"

    def _reason(
        self, result: TransitionResult, checks: tuple[GuardCheck, ...]
    ) -> tuple[str, ReasonCode]:
        trigger, here = result.trigger, result.source_state
        if result.ignored:
            return (
                f"ignored (non-strict mode): no transition for {trigger!r} from {here!r}",
                "ignored",
            )
        error = result.error
        if isinstance(error, TerminalStateError):
            return f"{here!r} is a terminal state: it accepts no event", "terminal"
        if isinstance(error, GuardRejectedError):
            failed = [c for c in checks if not c.passed]
            parts = [
                f"{c.guard} is false ({c.detail})" if c.detail else f"{c.guard} is false"
                for c in failed
            ]
            return f"no transition for {trigger!r} from {here!r}: {'; '.join(parts)}", "guard-false"
        if isinstance(error, UndefinedTriggerError):
            return error.message, "unknown-trigger"
        if error is not None:
            return str(error), "no-transition"
        return f"no transition for {trigger!r} from {here!r}", "no-transition"


def _runnable(registry: Any, name: str) -> bool:
    return registry is not None and registry.has(name) and not registry.is_async(name)


def _due_order(timer: Timer) -> tuple[int, int]:
    return timer.due_ms, timer.id
