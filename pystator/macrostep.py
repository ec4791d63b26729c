"""One step of the engine: SCXML's macrostep, as a pure function of a snapshot.

An event selects transitions (``pystator.selection``) and takes them as one
microstep (``pystator.microstep``). Then, as SCXML's main event loop does, the step
goes on by itself: eventless transitions are taken while any is enabled, and each
internal event (raised by an action, or ``done.state.*`` when a final state is
entered) is processed in order, each followed by the eventless transitions again,
until neither is left. The whole chain is one ``Step``: hosts see every microstep
and apply only the end result.

A chain that never settles (eventless transitions or raised events going round) is
refused as a whole with code ``livelock``, naming the loop, and nothing of it is
applied: the machine stays where it was. It is detected when the chain comes back
to a configuration it has already been in with the same events queued, or at the
latest after ``MAX_MICROSTEPS`` microsteps.

Timers are entry and exit effects, computed here because they need the clock: each
entered state arms its ``after`` transitions and ``timeout`` (due ``now`` + delay),
each exited state cancels the timers it armed.

The step is written once, as a generator that yields only what an async guard
returned; ``run_sync`` and ``run_async`` drive it for ``step`` and ``async_step``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Generator, Mapping
from typing import TYPE_CHECKING, Any

from pystator.errors import FSMError
from pystator.microstep import Action, Transfer, entry_groups
from pystator.model import Event
from pystator.refusal import refuse, stale_timer
from pystator.selection import Judge, Selection, guard_context, select, split_event
from pystator.snapshot import Snapshot, Timer, sorted_timers
from pystator.step import (
    CancelTimer,
    Effect,
    MicroStep,
    Refusal,
    ScheduleTimer,
    Step,
    TakenTransition,
)

if TYPE_CHECKING:
    from pystator.machine import StateMachine

__all__ = ["MAX_MICROSTEPS", "LivelockError", "starter", "stepper"]

MAX_MICROSTEPS = 100
"""Most microsteps one step may chain before it is refused as a livelock."""

Context = Mapping[str, Any]
Runner = Generator[tuple[str, Awaitable[Any]], Any, Step]
_Groups = tuple[tuple[str, tuple[Action, ...]], ...]


class LivelockError(FSMError):
    """A step whose eventless transitions or internal events never settle.

    ``step()`` reports it as the refusal of the event (nothing is applied);
    ``start()`` raises it: a machine that cannot settle cannot start.
    """


class _Chain:
    """The state of one macrostep while it runs: what it has done so far."""

    def __init__(
        self,
        machine: StateMachine,
        snapshot: Snapshot,
        now: int,
        judge: Judge,
        context: Context | None,
    ) -> None:
        self.machine = machine
        self.judge = judge
        self.context: Context = context if context is not None else {}
        self.configuration = snapshot.configuration
        self.timers = snapshot.timers
        self.history = snapshot.history
        self.next_id = snapshot.next_timer_id
        self.now = now
        self.queue: deque[str] = deque()
        self.microsteps: list[MicroStep] = []
        self.guards: list[Any] = []
        self.seen: dict[tuple[frozenset[str], tuple[str, ...]], int] = {}
        self.loop: str | None = None

    def take(self, transfer: Transfer, event: str | None, internal: bool = False) -> None:
        """Apply one microstep: its effects, timers and history; queue what it raises."""
        effects: list[Effect] = []
        timers = self.timers
        if transfer.exited and timers:
            by_state: dict[str, list[Timer]] = {}
            for t in timers:
                by_state.setdefault(t.state, []).append(t)
            for state, actions in transfer.exit_groups:
                effects.extend(actions)
                effects.extend(CancelTimer(t) for t in by_state.get(state, ()))
            gone = set(transfer.exited)
            timers = tuple(t for t in timers if t.state not in gone)
        else:
            for _state, actions in transfer.exit_groups:
                effects.extend(actions)
        effects.extend(transfer.transition_actions)
        armed = self.enter(transfer.enter_groups, effects)
        self.timers = sorted_timers(timers + armed) if armed else timers
        if transfer.recorded:
            self.history = {**self.history, **dict(transfer.recorded)}
        self.configuration = transfer.configuration
        self.queue.extend(transfer.queued)
        self.microsteps.append(
            MicroStep(
                event, transfer.taken, transfer.exited, transfer.entered, tuple(effects), internal
            )
        )

    def enter(self, groups: _Groups, effects: list[Effect]) -> tuple[Timer, ...]:
        """Append each entered state's actions, then its timers; return the timers armed."""
        delayed = self.machine._tables.delayed
        armed: list[Timer] = []
        now, next_id = self.now, self.next_id
        for state, actions in groups:
            effects.extend(actions)
            for d in delayed.get(state, ()):
                t = d.transition
                timer = Timer(next_id, state, now + d.after, t.trigger, t.dest, now, d.index)
                next_id += 1
                armed.append(timer)
                effects.append(ScheduleTimer(timer))
        self.next_id = next_id
        return tuple(armed)

    def settled(self) -> Generator[tuple[str, Awaitable[Any]], Any, None]:
        """Take eventless transitions and internal events until none is left."""
        tables = self.machine._tables
        judge, context = self.judge, self.context
        while True:
            if self._looping():
                return
            if tables.eventless:
                plan = tables.plan(self.configuration, None)
                if plan.chains:
                    selection: Selection = yield from select(plan, context, judge)
                    self.guards.extend(selection.evaluations)
                    if selection.chosen and selection.missing_guard is None:
                        self.take(tables.transfer(plan, selection.chosen, self.history), None)
                        continue
            if not self.queue:
                return
            event = self.queue.popleft()
            plan = tables.plan(self.configuration, tables.norm(event))
            selection = yield from select(plan, context, judge)
            self.guards.extend(selection.evaluations)
            if selection.chosen and selection.missing_guard is None:
                self.take(tables.transfer(plan, selection.chosen, self.history), event, True)
            else:  # nothing handles it: shown as an empty microstep, never silently lost
                self.microsteps.append(MicroStep(event, (), (), (), (), True))

    def _looping(self) -> bool:
        key = (self.configuration, tuple(self.queue))
        if key in self.seen or len(self.microsteps) > MAX_MICROSTEPS:
            first = self.seen.get(key, max(len(self.microsteps) - 10, 0))
            self.loop = _describe_loop(self.microsteps[first:], len(self.microsteps))
            return True
        self.seen[key] = len(self.microsteps)
        return False

    def snapshot(self) -> Snapshot:
        return Snapshot(self.configuration, self.timers, self.history, self.next_id)

    def step(self, event: str | None, guards: tuple[Any, ...], timer: Timer | None) -> Step:
        micro = self.microsteps
        exited: list[str] = []
        entered: list[str] = []
        taken: list[TakenTransition] = []
        effects: list[Effect] = []
        for m in micro:
            exited.extend(m.exited)
            entered.extend(m.entered)
            taken.extend(m.transitions)
            effects.extend(m.effects)
        return Step(
            event,
            self.snapshot(),
            tuple(exited),
            tuple(entered),
            tuple(taken),
            guards + tuple(self.guards),
            tuple(effects),
            None,
            tuple(micro),
            timer,
        )


def starter(machine: StateMachine, context: Context | None, now: int, judge: Judge) -> Runner:
    """The step that enters the initial configuration, and whatever follows by itself."""
    chart = machine.chart
    configuration = chart.initial_configuration
    entered = chart.in_entry_order(configuration)
    groups, queued = entry_groups(chart, entered)
    chain = _Chain(machine, Snapshot(frozenset()), now, judge, context)
    effects: list[Effect] = []
    armed = chain.enter(groups, effects)
    chain.timers = sorted_timers(armed)
    chain.configuration = configuration
    chain.queue.extend(queued)
    chain.microsteps.append(MicroStep(None, (), (), entered, tuple(effects)))
    if machine._tables.chained:
        yield from chain.settled()
        if chain.loop is not None:
            raise LivelockError(f"the machine cannot start: {chain.loop}")
    return chain.step(None, (), None)


def stepper(
    machine: StateMachine,
    snapshot: Snapshot,
    event: str | Event | Timer,
    context: Context | None,
    now: int,
    judge: Judge,
) -> Runner:
    """The step, as a generator that yields only what an async guard returned."""
    timer: Timer | None = None
    timers = snapshot.timers
    if isinstance(event, Timer):
        timer, trigger, payload = event, event.trigger, None
    else:
        trigger, payload = split_event(event)
    configuration = machine._known(snapshot.configuration)
    if timer is not None:
        if timer not in timers:
            source = machine.state_string(configuration)
            return Step(trigger, snapshot, refusal=stale_timer(source, timer.id), timer=timer)
        timers = tuple(t for t in timers if t is not timer)
    tables = machine._tables
    plan = tables.plan(configuration, tables.norm(trigger))
    selection: Selection = yield from select(plan, guard_context(context, payload), judge)
    rest = snapshot if timers is snapshot.timers else _with_timers(snapshot, timers)
    if not selection.chosen or selection.missing_guard is not None:
        refusal = refuse(tables, machine.state_string(configuration), plan, selection)
        return Step(trigger, rest, guards=selection.evaluations, refusal=refusal, timer=timer)
    chain = _Chain(machine, rest, now, judge, context)
    chain.take(tables.transfer(plan, selection.chosen, rest.history), trigger)
    if tables.chained:
        yield from chain.settled()
        if chain.loop is not None:
            error = LivelockError(chain.loop, {"trigger": trigger})
            refusal = Refusal("livelock", chain.loop, error)
            return Step(trigger, rest, guards=selection.evaluations, refusal=refusal, timer=timer)
    return chain.step(trigger, selection.evaluations, timer)


def _with_timers(snapshot: Snapshot, timers: tuple[Timer, ...]) -> Snapshot:
    return Snapshot(snapshot.configuration, timers, snapshot.history, snapshot.next_timer_id)


def _describe_loop(microsteps: list[MicroStep], count: int) -> str:
    """``"eventless transitions loop without settling: B -> A, then A -> B, and again"``."""
    labels: list[str] = []
    for m in microsteps:
        what = ", ".join(t.label for t in m.transitions) or "nothing handles it"
        labels.append(f"{m.event}: {what}" if m.event else what)
    path = ", then ".join(dict.fromkeys(labels)) or "no transition"
    return (
        f"eventless transitions or internal events loop without settling: {path}, and again "
        f"(stopped after {count} microsteps)"
    )
