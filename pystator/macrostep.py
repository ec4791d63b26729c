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

import json
from collections import deque
from collections.abc import Awaitable, Generator, Mapping
from typing import TYPE_CHECKING, Any

from pystator import invoked
from pystator.datamodel import Executor, Queued, event_value
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

__all__ = ["MAX_DATAMODEL_MICROSTEPS", "MAX_MICROSTEPS", "LivelockError", "starter", "stepper"]

MAX_MICROSTEPS = 100
"""Most microsteps one step may chain before it is refused as a livelock."""

MAX_DATAMODEL_MICROSTEPS = 10_000
"""The same limit for a machine with a datamodel, whose loops may count (a chain that
comes back to the same configuration, queue and variables is caught at once)."""

Context = Mapping[str, Any]
Runner = Generator[tuple[str, Awaitable[Any]], Any, Step]
_Groups = tuple[tuple[str, tuple[Action, ...]], ...]


class LivelockError(FSMError):
    """A step whose eventless transitions or internal events never settle.

    ``step()`` reports it as the refusal of the event (nothing is applied);
    ``start()`` raises it: a machine that cannot settle cannot start.
    """


class _Chain:
    """The state of one macrostep while it runs: what it has done so far.

    A machine with a datamodel (``tables.datamodel``) also carries its variables
    and ``_event`` through the chain: each block of actions is evaluated as it is
    taken (``pystator.datamodel.Executor``), so later guards read what earlier
    actions assigned, and the internal queue holds each event's data.
    """

    def __init__(
        self,
        machine: StateMachine,
        snapshot: Snapshot,
        now: int,
        judge: Judge,
        context: Context | None,
        variables: dict[str, Any] | None = None,
    ) -> None:
        self.machine = machine
        self.judge = judge
        self.context: Context = context if context is not None else {}
        self.configuration = snapshot.configuration
        self.timers = snapshot.timers
        self.history = snapshot.history
        self.next_id = snapshot.next_timer_id
        self.children: Mapping[str, Snapshot] = snapshot.children
        self.now = now
        self.queue: deque[Any] = deque()
        self.microsteps: list[MicroStep] = []
        self.guards: list[Any] = []
        self.seen: dict[Any, int] = {}
        self.loop: str | None = None
        datamodel = machine._tables.datamodel
        self.run: Executor | None = None
        if datamodel is not None:
            if variables is None:
                variables = {**datamodel.missing(snapshot.data), **snapshot.data, **self.context}
            self.run = Executor(
                datamodel, variables, now, list(snapshot.timers), snapshot.next_timer_id, self.queue
            )
            self.context = variables

    def take(self, transfer: Transfer, event: str | None, internal: bool = False) -> None:
        """Apply one microstep: its effects, timers and history; queue what it raises."""
        if self.run is not None:
            self._take_evaluated(transfer, event, internal)
            return
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

    def _take_evaluated(self, transfer: Transfer, event: str | None, internal: bool) -> None:
        """``take`` for a machine with a datamodel: each block runs as it is reached.

        The order is the same (exits, transition actions, entries, each state's timers
        after its own actions); ``send`` timers survive their state's exit.
        """
        run = self.run
        assert run is not None
        effects: list[Effect] = []
        # In(...) sees the configuration as SCXML changes it: a state is active during
        # its own onexit and leaves after it; it is active before its own onentry.
        active = set(self.configuration)
        for state, actions in transfer.exit_groups:
            run.configuration = frozenset(active)
            run.block(actions, effects)
            active.discard(state)
            for t in [t for t in run.timers if t.state == state and t.send_id is None]:
                run.timers.remove(t)
                effects.append(CancelTimer(t))
        run.configuration = frozenset(active)
        for block in _blocks(transfer.transition_actions):
            run.block(block, effects)
        delayed = self.machine._tables.delayed
        now = self.now
        for (state, actions), done in zip(transfer.enter_groups, transfer.done, strict=True):
            active.add(state)
            run.configuration = frozenset(active)
            run.block(actions, effects)
            for d in delayed.get(state, ()):
                move = d.transition
                timer = Timer(
                    run.next_id, state, now + d.after, move.trigger, move.dest, now, d.index
                )
                run.next_id += 1
                run.timers.append(timer)
                effects.append(ScheduleTimer(timer))
            self.queue.extend(Queued(name, None, "platform") for name in done)
        run.configuration = transfer.configuration
        self.timers = sorted_timers(run.timers)
        self.next_id = run.next_id
        if transfer.recorded:
            self.history = {**self.history, **dict(transfer.recorded)}
        self.configuration = transfer.configuration
        self.microsteps.append(
            MicroStep(
                event, transfer.taken, transfer.exited, transfer.entered, tuple(effects), internal
            )
        )

    def queue_event(self, name: str) -> None:
        """Put a platform event (``done.invoke.*``) on the internal queue."""
        self.queue.append(Queued(name, None, "platform") if self.run is not None else name)

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

    def guard_scope(self, payload: Mapping[str, Any] | None = None) -> Context:
        """What guards read now: the context (the variables, with a datamodel)."""
        if self.run is None:
            return self.context
        return self.run.scope(payload if payload else None)

    def settled(self) -> Generator[tuple[str, Awaitable[Any]], Any, None]:
        """Take eventless transitions and internal events until none is left."""
        tables = self.machine._tables
        judge = self.judge
        run = self.run
        while True:
            if self._looping():
                return
            if tables.eventless:
                plan = tables.plan(self.configuration, None)
                if plan.chains:
                    selection: Selection = yield from select(plan, self.guard_scope(), judge)
                    self.guards.extend(selection.evaluations)
                    if selection.chosen and selection.missing_guard is None:
                        self.take(tables.transfer(plan, selection.chosen, self.history), None)
                        continue
            if not self.queue:
                return
            item = self.queue.popleft()
            payload: Mapping[str, Any] | None = None
            if isinstance(item, Queued):
                event = item.name
                assert run is not None
                origin = run.origin() if item.sendid is not None else None
                run.event = event_value(item.name, item.data, item.type, item.sendid, origin)
                if isinstance(item.data, Mapping):
                    payload = item.data
            else:
                event = item
            plan = tables.plan(self.configuration, tables.norm(event))
            selection = yield from select(plan, self.guard_scope(payload), judge)
            self.guards.extend(selection.evaluations)
            if selection.chosen and selection.missing_guard is None:
                self.take(tables.transfer(plan, selection.chosen, self.history), event, True)
            else:  # nothing handles it: shown as an empty microstep, never silently lost
                self.microsteps.append(MicroStep(event, (), (), (), (), True))

    def _looping(self) -> bool:
        if self.run is None:
            key: Any = (self.configuration, tuple(self.queue))
            limit = MAX_MICROSTEPS
        else:  # the variables are part of where the chain stands: a counter is progress
            key = (
                self.configuration,
                tuple(q.name for q in self.queue),
                _frozen(self.run.variables),
            )
            limit = MAX_DATAMODEL_MICROSTEPS
        if key in self.seen or len(self.microsteps) > limit:
            first = self.seen.get(key, max(len(self.microsteps) - 10, 0))
            self.loop = _describe_loop(self.microsteps[first:], len(self.microsteps))
            return True
        self.seen[key] = len(self.microsteps)
        return False

    def snapshot(self) -> Snapshot:
        if self.run is not None:
            data = self.run.datamodel.kept(self.run.variables)
            return Snapshot(
                self.configuration, self.timers, self.history, self.next_id, data, self.children
            )
        if self.children:
            return Snapshot(
                self.configuration, self.timers, self.history, self.next_id, children=self.children
            )
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
            self.context,
        )


def _blocks(actions: tuple[Action, ...]) -> list[tuple[Action, ...]]:
    """Transition actions split by the transition they belong to: each is its own block."""
    out: list[list[Action]] = []
    owner: str | None = None
    for action in actions:
        if action.owner != owner or not out:
            out.append([])
            owner = action.owner
        out[-1].append(action)
    return [tuple(b) for b in out]


def _frozen(variables: Mapping[str, Any]) -> str:
    return json.dumps(variables, sort_keys=True, default=repr)


def starter(machine: StateMachine, context: Context | None, now: int, judge: Judge) -> Runner:
    """The step that enters the initial configuration, and whatever follows by itself."""
    chart = machine.chart
    configuration = chart.initial_configuration
    entered = chart.in_entry_order(configuration)
    groups, queued, done = entry_groups(chart, entered)
    tables = machine._tables
    if tables.datamodel is not None:
        variables, errors = tables.datamodel.initial(context)
        chain = _Chain(machine, Snapshot(frozenset()), now, judge, context, variables)
        chain.queue.extend(errors)
        transfer = Transfer(configuration, (), entered, (), (), (), groups, (), done=done)
        chain._take_evaluated(transfer, None, False)
    else:
        chain = _Chain(machine, Snapshot(frozenset()), now, judge, context)
        effects: list[Effect] = []
        armed = chain.enter(groups, effects)
        chain.timers = sorted_timers(armed)
        chain.configuration = configuration
        chain.queue.extend(queued)
        chain.microsteps.append(MicroStep(None, (), (), entered, tuple(effects)))
    if tables.chained:
        yield from chain.settled()
        if chain.loop is not None:
            raise LivelockError(f"the machine cannot start: {chain.loop}")
    if machine._invokes:
        yield from invoked.reconcile(chain, None)
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
    tables = machine._tables
    if isinstance(event, Timer):
        timer, trigger = event, event.trigger
        payload = event.data if isinstance(event.data, Mapping) else None
    else:
        trigger, payload = split_event(event)
    configuration = machine._known(snapshot.configuration)
    if timer is not None:
        if timer not in timers:
            return (yield from _not_pending(machine, snapshot, context, now, judge, timer))
        timers = tuple(t for t in timers if t is not timer)
    plan = tables.plan(configuration, tables.norm(trigger))
    rest = snapshot if timers is snapshot.timers else _with_timers(snapshot, timers)
    if tables.datamodel is not None:
        chain = _Chain(machine, rest, now, judge, context)
        assert chain.run is not None
        data = timer.data if timer is not None else payload
        sent = timer.send_id if timer is not None else None
        chain.run.event = event_value(
            trigger, data, "external", sent, chain.run.origin() if sent is not None else None
        )
        chain.run.configuration = configuration
        scope = chain.guard_scope(payload)
    else:
        scope = guard_context(context, payload)
    selection: Selection = yield from select(plan, scope, judge)
    refused = not selection.chosen or selection.missing_guard is not None
    if refused and _forwards(machine, snapshot):
        by_child = yield from _children_only(machine, rest, context, now, judge, trigger)
        if by_child is not None:
            return by_child
    if refused:
        refusal = refuse(tables, machine.state_string(configuration), plan, selection)
        return Step(
            trigger,
            rest,
            guards=selection.evaluations,
            refusal=refusal,
            timer=timer,
            context=_given(snapshot, context, tables.datamodel is not None),
        )
    if tables.datamodel is None:
        chain = _Chain(machine, rest, now, judge, context)
    chain.take(tables.transfer(plan, selection.chosen, rest.history), trigger)
    if tables.chained:
        yield from chain.settled()
    if machine._invokes and chain.loop is None:
        yield from invoked.reconcile(chain, trigger)
    if chain.loop is not None:
        error = LivelockError(chain.loop, {"trigger": trigger})
        return Step(
            trigger,
            rest,
            guards=selection.evaluations,
            refusal=Refusal("livelock", chain.loop, error),
            timer=timer,
            context=_given(snapshot, context, tables.datamodel is not None),
        )
    return chain.step(trigger, selection.evaluations, timer)


def _not_pending(
    machine: StateMachine,
    snapshot: Snapshot,
    context: Context | None,
    now: int,
    judge: Judge,
    timer: Timer,
) -> Generator[tuple[str, Awaitable[Any]], Any, Step]:
    """A timer the parent does not hold: a child's (its ``owner`` path names the child,
    which alone sees it, never the parent's transitions), or a stale one, refused.

    A child's timer handed over as the child's own snapshot holds it (no ``owner``) goes
    to the one child that holds it; held by two, it cannot be told whose, and is refused.
    """
    routed = timer
    if not timer.owner:
        holders = [k for k, c in snapshot.children.items() if timer in c.timers]
        if len(holders) == 1:
            routed = timer.owned_by(holders[0])
    if routed.owner and snapshot.holds(routed):
        chain = _Chain(machine, snapshot, now, judge, context)
        yield from invoked.reconcile(chain, None, routed)
        return chain.step(timer.trigger, (), timer)
    source = machine.state_string(machine._known(snapshot.configuration))
    return Step(
        timer.trigger,
        snapshot,
        refusal=stale_timer(source, timer.id),
        timer=timer,
        context=_given(snapshot, context, machine._tables.datamodel is not None),
    )


def _children_only(
    machine: StateMachine,
    rest: Snapshot,
    context: Context | None,
    now: int,
    judge: Judge,
    event: str,
) -> Generator[tuple[str, Awaitable[Any]], Any, Step | None]:
    """The step of an event the parent refuses but a forwarding child may take; None
    when no child does anything with it either."""
    chain = _Chain(machine, rest, now, judge, context)
    yield from invoked.reconcile(chain, event)
    if not chain.microsteps:
        return None
    return chain.step(event, (), None)


def _forwards(machine: StateMachine, snapshot: Snapshot) -> bool:
    """Whether a running child of ``snapshot`` gets the parent's external events."""
    if not snapshot.children:
        return False
    return any(
        spec.autoforward and spec.id in snapshot.children
        for pairs in machine._invokes.values()
        for _state, spec in pairs
    )


def _given(snapshot: Snapshot, context: Context | None, datamodel: bool) -> Context:
    """The context of a step that changed nothing: the one given (with the machine's
    own variables, for a machine with a datamodel)."""
    if datamodel:
        return {**snapshot.data, **(context or {})}
    return context if context is not None else {}


def _with_timers(snapshot: Snapshot, timers: tuple[Timer, ...]) -> Snapshot:
    return Snapshot(
        snapshot.configuration,
        timers,
        snapshot.history,
        snapshot.next_timer_id,
        snapshot.data,
        snapshot.children,
    )


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
