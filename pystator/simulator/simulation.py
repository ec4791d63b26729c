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
from dataclasses import dataclass
from typing import Any

from pystator import invoked
from pystator.durations import parse_duration
from pystator.errors import PystatorError
from pystator.machine import StateMachine
from pystator.simulator import trace as trace_json
from pystator.simulator.choices import resolver_for, via_by_dest
from pystator.simulator.run import MAX_STEPS, Now, Run
from pystator.simulator.trace import Input, json_value
from pystator.simulator.values import (
    Divergence,
    EnabledEvent,
    ExecutedAction,
    SimulationError,
    Step,
    Timer,
)
from pystator.snapshot import Snapshot
from pystator.step import Step as EngineStep

__all__ = ["MAX_STEPS", "Simulation"]


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
        self._run = Run(machine, self._initial_context)
        self._divergence: Divergence | None = None
        self._options_of: tuple[Now, list[_Option]] | None = None

    # ------------------------------------------------------------------ reading
    @property
    def machine(self) -> StateMachine:
        return self._machine

    @property
    def configuration(self) -> frozenset[str]:
        """The active states, ancestors and every parallel region included."""
        return self._run.now.snapshot.configuration

    @property
    def state(self) -> str:
        """The configuration's string form (a leaf, or ``P:region=leaf,...``)."""
        return self._run.now.state

    @property
    def children(self) -> dict[str, str]:
        """Each running child machine's state string, by invoke id (``invoke`` with
        ``src: machine:NAME``); empty when none runs."""
        return invoked.child_states(self._machine, self._run.now.snapshot)

    @property
    def child_events(self) -> tuple[str, ...]:
        """Events only a running ``autoforward`` child listens for: the parent takes them
        and passes them on (the simulator offers them beside the parent's)."""
        return invoked.forwarded_triggers(self._machine, self._run.now.snapshot)

    @property
    def clock_ms(self) -> int:
        return self._run.now.clock_ms

    @property
    def context(self) -> dict[str, Any]:
        """A copy of the current context (edit it with ``set_context``)."""
        return dict(self._run.now.context)

    @property
    def initial_context(self) -> dict[str, Any]:
        return dict(self._initial_context)

    @property
    def guard_outcomes(self) -> dict[str, bool]:
        """Named guards fixed with ``set_guard``."""
        return dict(self._run.now.guards)

    @property
    def pending_timers(self) -> tuple[Timer, ...]:
        """Armed timers, in the order they will fire (child machines' included)."""
        return self._run.now.snapshot.pending

    @property
    def snapshot(self) -> Snapshot:
        """The engine's snapshot as it stands now (what the next step starts from)."""
        return self._run.now.snapshot

    @property
    def steps(self) -> tuple[Step, ...]:
        return tuple(self._run.steps)

    @property
    def last_step(self) -> Step:
        return self._run.steps[-1]

    @property
    def action_log(self) -> tuple[ExecutedAction, ...]:
        """Every action the run would have executed so far, in order, with params."""
        return tuple(self._run.actions)

    @property
    def divergence(self) -> Divergence | None:
        """Set by ``from_json`` when the trace stopped applying to this machine."""
        return self._divergence

    @property
    def can_undo(self) -> bool:
        return bool(self._run.inputs)

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
            via = via_by_dest(event, via, self._run.choices(self._run.now, event))
        data = json_value(dict(payload or {}), "the payload")
        return self._run.record(Input("event", event=event, payload=data, via=via))[-1]

    def advance(self, duration: int | str) -> tuple[Step, ...]:
        """Move the clock by ``duration`` (ms, or ``"500ms"``/``"5s"``/``"1m"``).

        Returns the steps it made: one per timer fired, then the clock step.
        """
        try:
            ms = parse_duration(duration)
        except ValueError as error:
            raise SimulationError(str(error)) from None
        return self._run.record(Input("advance", to_ms=self.clock_ms + ms))

    def advance_to(self, ms: int) -> tuple[Step, ...]:
        """Move the clock to ``ms`` (absolute, not before now), firing what falls due."""
        if isinstance(ms, bool) or not isinstance(ms, int) or ms < self.clock_ms:
            raise SimulationError(
                f"advance_to needs a time in ms not before the clock ({self.clock_ms}), got {ms!r}"
            )
        return self._run.record(Input("advance", to_ms=ms))

    def fire_next_timer(self) -> Step:
        """Move the clock to the next timer's due time and fire it (only that one)."""
        return self._run.record(Input("fire"))[-1]

    def set_guard(self, name: str, outcome: bool | None) -> Step:
        """Fix named guard ``name`` to ``outcome`` for the rest of the run (``None`` unsets)."""
        if outcome is not None and not isinstance(outcome, bool):
            raise SimulationError(f"a guard outcome is True, False or None, not {outcome!r}")
        return self._run.record(Input("guard", guard=name, outcome=outcome))[-1]

    def set_context(self, values: Mapping[str, Any]) -> Step:
        """Replace the context with ``values``; the step records the difference."""
        if not isinstance(values, Mapping):
            raise SimulationError(f"the context must be a dict, not {type(values).__name__}")
        return self._run.record(Input("context", context=json_value(dict(values), "the context")))[
            -1
        ]

    def undo(self) -> None:
        """Take back the last input (an ``advance`` is one input, with all its timers)."""
        if not self._run.inputs:
            raise SimulationError("nothing to undo: the simulation is at its start")
        self._run.inputs.pop()
        self._run.ends.pop()
        self._run.truncate(self._run.ends[-1] if self._run.ends else 1)

    def jump(self, step_index: int) -> None:
        """Go back to just after step ``step_index``: later steps are dropped from the trace.

        Jumping into the middle of an ``advance`` keeps the timers fired up to that
        step (as ``fire_next_timer`` inputs) and leaves the clock at the last one.
        """
        if isinstance(step_index, bool) or not isinstance(step_index, int):
            raise SimulationError(f"a step index is an int, not {step_index!r}")
        if not 0 <= step_index < len(self._run.steps):
            raise SimulationError(
                f"no step {step_index}: the simulation has steps 0 to {len(self._run.steps) - 1}"
            )
        j = bisect.bisect_right(self._run.ends, step_index)
        if step_index == 0:
            del self._run.inputs[:], self._run.ends[:]
        elif self._run.ends[j] - 1 == step_index:
            del self._run.inputs[j + 1 :], self._run.ends[j + 1 :]
        else:  # inside an advance: keep the timers it had fired by then
            first = self._run.ends[j - 1] if j else 1
            del self._run.inputs[j:], self._run.ends[j:]
            for k in range(first, step_index + 1):
                self._run.inputs.append(Input("fire", expect=self._run.steps[k].state))
                self._run.ends.append(k + 1)
        self._run.truncate(step_index + 1)

    def reset(self) -> None:
        """Back to the start (the initial context is kept)."""
        del self._run.inputs[:], self._run.ends[:]
        self._run.truncate(1)

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
                    edges=tuple(t.edge for t in step.transitions),
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
        now = self._run.now
        if self._options_of is not None and self._options_of[0] is now:
            return self._options_of[1]
        machine = self._machine
        triggers = list(
            dict.fromkeys(
                [
                    *(t.trigger for t in machine.all_transitions),
                    *invoked.forwarded_triggers(machine, now.snapshot),
                ]
            )
        )
        choices = {e: self._run.choices(now, e) for e in triggers}
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
                out.append(_Option(event, via, self._run.engine_step(now, event, {}, via, None)))
        self._options_of = (now, out)
        return out

    # ------------------------------------------------------------------ JSON
    def to_json(self, indent: int | None = None) -> str:
        """The trace as compact JSON (``indent`` for a readable file)."""
        return trace_json.encode(
            self._machine.name,
            self._initial_context,
            self._run.steps[0].state,
            self._run.inputs,
            indent,
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
        sim._run.replaying = True
        try:
            for number, item in enumerate(decoded.inputs):
                step_index = len(sim._run.steps)
                try:
                    sim._run.record(item, check=True)
                except (SimulationError, PystatorError) as error:
                    explanation = f"{item.describe()}: {error}"
                    sim._divergence = Divergence(step_index, number, explanation)
                    break
        finally:
            sim._run.replaying = False
        return sim
