"""The documented ``process`` family: views of the engine's step as a ``TransitionResult``.

``process(state, event, context)`` reads a state string and answers with a
``TransitionResult`` (the spec's API). It runs the same selection and microstep as
``StateMachine.step`` and renders them; when a machine can chain microsteps
(eventless transitions, raised events, done events) it renders a whole ``step``.
A state string carries no timers or history, so ``process`` starts from a snapshot
with neither: a history state enters its default.

Speed matters here (``process`` is the per-event call of every user of the spec's
API), so the common outcomes are cached: an unguarded event's result per (state,
trigger), and a guarded one's per chosen transition when every guard passed.

These functions become ``StateMachine`` methods (``process = views.process``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pystator.model import Event, Transition
from pystator.refusal import refuse
from pystator.result import TransitionResult
from pystator.selection import (
    Candidate,
    GuardResolver,
    Plan,
    Selection,
    guard_context,
    run_async,
    run_sync,
    select,
    split_event,
)
from pystator.snapshot import Snapshot
from pystator.step import Step

if TYPE_CHECKING:
    from pystator.machine import StateMachine

__all__ = [
    "async_process",
    "candidates",
    "process",
    "process_configuration",
    "result_of",
]

Context = Mapping[str, Any]
_CHAINED = object()  # the entry of a (state, trigger) that needs a whole step


def process(
    self: StateMachine,
    current_state: str,
    event: str | Event,
    context: Context | None = None,
) -> TransitionResult:
    """Compute what ``event`` does in ``current_state``; nothing is executed.

    A transition that cannot happen comes back with ``success=False`` and an
    ``error``; only an unknown state name raises (``UndefinedStateError``).
    """
    if type(event) is str:
        trigger, payload = event, None
    else:
        trigger, payload = split_event(event)
    entry = self._tables.entries.get((current_state, trigger))
    if entry is None:
        entry = _entry(self, current_state, trigger)
    if type(entry) is TransitionResult:
        return entry  # an unguarded event: its result is fixed
    if entry is _CHAINED:
        return result_of(
            self, self.step(self.snapshot_of(current_state), event, context), current_state
        )
    plan: Plan = entry
    ctx = context if payload is None and context is not None else guard_context(context, payload)
    return _result(self, current_state, plan, run_sync(select(plan, ctx, self._default_judge)))


async def async_process(
    self: StateMachine,
    current_state: str,
    event: str | Event,
    context: Context | None = None,
) -> TransitionResult:
    """As ``process``, awaiting async guards."""
    tables = self._tables
    if tables.chained:
        step = await self.async_step(self.snapshot_of(current_state), event, context)
        return result_of(self, step, current_state)
    trigger, payload = split_event(event)
    plan = tables.plan(self.configuration_of(current_state), tables.norm(trigger))
    selection = await run_async(select(plan, guard_context(context, payload), self._judge()))
    return _result(self, current_state, plan, selection)


def process_configuration(
    self: StateMachine,
    configuration: frozenset[str],
    event: str | Event,
    context: Context | None = None,
    *,
    guard_resolver: GuardResolver | None = None,
) -> TransitionResult:
    """The general form of ``process``: from any configuration (set of active states)."""
    snapshot = Snapshot(self._known(frozenset(configuration)))
    step = self.step(snapshot, event, context, guard_resolver=guard_resolver)
    return result_of(self, step, self.state_string(snapshot.configuration))


def candidates(
    self: StateMachine, configuration: frozenset[str], event: str
) -> list[tuple[str, Transition]]:
    """Every (matched source, transition) the event could take, by priority (no guards run)."""
    tables = self._tables
    plan = tables.plan(self._known(frozenset(configuration)), tables.norm(event))
    out: list[tuple[str, Transition]] = []
    for chain in plan.chains:
        for c in chain:
            if all(c.transition is not t for _, t in out):
                out.append((c.source, c.transition))
    return out


def result_of(self: StateMachine, step: Step, source: str) -> TransitionResult:
    """``step`` as a ``TransitionResult`` (the view ``process`` returns)."""
    trigger = self._tables.norm(step.event or "")
    refusal = step.refusal
    if refusal is not None:
        if refusal.code == "ignored":
            return _ignored(source, trigger, step.configuration)
        return TransitionResult(
            False, source, None, trigger, error=refusal.error, guard_evaluations=step.guards
        )
    actions = step.actions
    return TransitionResult(
        success=True,
        source_state=source,
        target_state=self.state_string(step.configuration),
        trigger=trigger,
        actions_to_execute=tuple(a.action for a in actions if a.phase == "transition"),
        on_exit_actions=tuple(a.action for a in actions if a.phase == "exit"),
        on_enter_actions=tuple(a.action for a in actions if a.phase == "enter"),
        exited_states=step.exited,
        entered_states=step.entered,
        transitions=tuple(t.transition for t in step.transitions),
        transition_sources=tuple(t.source for t in step.transitions),
        guard_evaluations=step.guards,
        configuration=step.configuration,
    )


def _entry(self: StateMachine, state: str, trigger: str) -> Any:
    """What ``process`` keeps per (state string, trigger): the plan, or the fixed result."""
    tables = self._tables
    configuration = self.configuration_of(state)
    if tables.chained:
        entry: Any = _CHAINED
    else:
        plan = tables.plan(configuration, tables.norm(trigger))
        entry = plan if plan.guarded else _result(self, state, plan, plan.unguarded)
    if len(tables.entries) < 100_000:
        tables.entries[(state, trigger)] = entry
    return entry


def _result(self: StateMachine, source: str, plan: Plan, selection: Selection) -> TransitionResult:
    """The ``TransitionResult`` of a selection made from a state string (one microstep)."""
    tables = self._tables
    trigger = plan.trigger or ""
    if not selection.chosen or selection.missing_guard is not None:
        refusal = refuse(tables, source, plan, selection)
        if refusal.code == "ignored":
            return _ignored(source, trigger, plan.configuration)
        return TransitionResult(
            False,
            source,
            None,
            trigger,
            error=refusal.error,
            guard_evaluations=selection.evaluations,
        )
    # With no guard rejected on the way, the result depends only on which
    # candidates were chosen (their guards all passed): reuse it, it is immutable.
    first: Candidate = selection.chosen[0]
    alone = selection is first.alone
    if alone:
        cached = first.results.get(source)
    elif not selection.rejected:
        cached = tables.results.get((source, selection.chosen))
    else:
        cached = None
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    transfer = tables.transfer(plan, selection.chosen, {})
    result = TransitionResult(
        success=True,
        source_state=source,
        target_state=self.state_string(transfer.configuration),
        trigger=trigger,
        actions_to_execute=transfer.calls("transition"),
        on_exit_actions=transfer.calls("exit"),
        on_enter_actions=transfer.calls("enter"),
        exited_states=transfer.exited,
        entered_states=transfer.entered,
        transitions=tuple(t.transition for t in transfer.taken),
        transition_sources=tuple(t.source for t in transfer.taken),
        guard_evaluations=selection.evaluations,
        configuration=transfer.configuration,
    )
    if alone:
        first.results[source] = result
    elif not selection.rejected and len(tables.results) < 100_000:
        tables.results[(source, selection.chosen)] = result
    return result


def _ignored(source: str, trigger: str, configuration: frozenset[str]) -> TransitionResult:
    return TransitionResult(
        True,
        source,
        source,
        trigger,
        configuration=configuration,
        metadata={"ignored": True, "no_op": True},
    )
