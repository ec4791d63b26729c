"""The orchestrator: load -> decide -> commit -> act, for many entities of one machine.

``StateMachine.process`` only computes. The orchestrator wraps it in the sandwich
the spec describes: it loads the entity's state from a ``StateStore``, computes
the step, commits the new state with an optimistic version check (reloading and
recomputing when another writer won), and only then acts: timers of exited
states are cancelled and those of entered states armed, services are stopped and
started, and the actions run, with retries. Nothing after the commit can undo it;
what failed is reported in the ``OrchestratorResult``.

A fired timer goes through the same path as any other event (guards included).
The ids of pending timers are stored with the state, and a firing whose id is not
pending any more is dropped, so a timer from an earlier visit to a state can
never fire even if a scheduler failed to cancel it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import logging
import random
import time
from collections.abc import Awaitable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pystator.actions import ActionExecutor, ActionRegistry, ExecutionResult
from pystator.guards import GuardRegistry
from pystator.model import ActionSpec, Event
from pystator.result import TransitionResult
from pystator.runtime.errors import (
    ConflictRetriesExhausted,
    EventInProgressError,
    OrchestratorUsageError,
    StateConflictError,
)
from pystator.runtime.idempotency import IdempotencyStore
from pystator.runtime.invoke import InvokeAdapter, NoOpInvokeAdapter
from pystator.runtime.retry import RetryPolicy
from pystator.runtime.state_store import AuditEntry, StateStore, StoredState
from pystator.runtime.timers import (
    Clock,
    ScheduledTimer,
    Scheduler,
    new_timer_id,
    wall_clock,
)

if TYPE_CHECKING:
    from pystator.machine import StateMachine

__all__ = ["CREATE_TRIGGER", "Orchestrator", "OrchestratorResult"]

log = logging.getLogger("pystator.runtime")

CREATE_TRIGGER = "pystator.create"
"""The trigger recorded in the audit row that creates an entity in its initial state."""


@dataclass(frozen=True)
class OrchestratorResult:
    """What one event did to one entity.

    ``transition`` is the engine's result (``None`` for a duplicate or a stale
    timer). ``state`` and ``version`` are the stored values after the event.
    ``failed_actions`` lists actions still failing after every retry; the state
    stays committed regardless. A ``duplicate`` carries the first outcome in
    ``first_outcome`` and changed nothing.
    """

    entity_id: str
    trigger: str
    event_id: str | None
    state: str
    version: int
    transition: TransitionResult | None = None
    execution: ExecutionResult | None = None
    retry_executions: tuple[ExecutionResult, ...] = ()
    failed_actions: tuple[str, ...] = ()
    action_attempts: int = 0
    action_error: str | None = None
    armed_timers: tuple[ScheduledTimer, ...] = ()
    cancelled_timers: tuple[ScheduledTimer, ...] = ()
    services_started: tuple[str, ...] = ()
    services_stopped: tuple[str, ...] = ()
    conflicts: int = 0
    duplicate: bool = False
    stale_timer: bool = False
    first_outcome: Mapping[str, Any] | None = field(default=None, hash=False)

    @property
    def success(self) -> bool:
        """True when the event moved the machine (for a duplicate: the first time)."""
        if self.transition is not None:
            return self.transition.success
        if self.first_outcome is not None:
            return bool(self.first_outcome.get("success"))
        return False

    @property
    def committed(self) -> bool:
        return self.transition is not None and self.transition.success

    def summary(self) -> dict[str, Any]:
        """The JSON-ready outcome an idempotency store keeps for duplicates."""
        t = self.transition
        return {
            "entity_id": self.entity_id,
            "trigger": self.trigger,
            "event_id": self.event_id,
            "success": self.success,
            "source_state": t.source_state if t is not None else None,
            "target_state": t.target_state if t is not None else None,
            "error": str(t.error) if t is not None and t.error is not None else None,
            "state": self.state,
            "version": self.version,
            "failed_actions": list(self.failed_actions),
            "stale_timer": self.stale_timer,
        }


@dataclass(frozen=True)
class _Step:
    """The commit one event calls for, computed before anything is written."""

    stored: StoredState
    result: TransitionResult
    commit: bool
    new_state: str
    timers: tuple[ScheduledTimer, ...] = ()
    armed: tuple[ScheduledTimer, ...] = ()
    cancelled: tuple[ScheduledTimer, ...] = ()
    started: tuple[str, ...] = ()
    stopped: tuple[str, ...] = ()
    audit: AuditEntry | None = None


def _trigger_of(event: str | Event) -> str:
    return event.trigger if isinstance(event, Event) else event


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


class Orchestrator:
    """Drives entities of one machine through events, timers and services.

    ``guards`` is bound to the machine; ``actions`` is the ``ActionRegistry`` the
    actions run from. ``retry`` defaults to the machine's
    ``error_policy.retry_attempts``. With ``persist_context=True`` the context of
    each event is merged into the stored context, which later events and timers
    (which carry no context of their own) then see.
    """

    def __init__(
        self,
        machine: StateMachine,
        state_store: StateStore,
        guards: GuardRegistry | None = None,
        actions: ActionRegistry | None = None,
        scheduler: Scheduler | None = None,
        invoke_adapter: InvokeAdapter | None = None,
        idempotency: IdempotencyStore | None = None,
        retry: RetryPolicy | None = None,
        *,
        clock: Clock | None = None,
        max_conflict_retries: int = 20,
        persist_context: bool = False,
    ) -> None:
        self.machine = machine
        self.state_store = state_store
        self.guards = guards
        if guards is not None:
            machine.bind_guards(guards)
        self.actions = actions if actions is not None else ActionRegistry()
        self.executor = ActionExecutor(self.actions)
        self.scheduler = scheduler
        self.invoke_adapter: InvokeAdapter = invoke_adapter or NoOpInvokeAdapter()
        self.idempotency = idempotency
        self.retry = retry or RetryPolicy.from_error_policy(machine.spec.error_policy)
        self.clock = clock or (scheduler.clock if scheduler is not None else wall_clock)
        self.max_conflict_retries = max_conflict_retries
        self.persist_context = persist_context
        if scheduler is not None:
            scheduler.on_fire = self.async_fire_timer

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Start the scheduler's loop (if there is a scheduler)."""
        if self.scheduler is not None:
            await self.scheduler.start()

    async def stop(self) -> None:
        if self.scheduler is not None:
            await self.scheduler.stop()

    # ------------------------------------------------------------------ planning (pure)
    def _entry_order(self, states: Iterable[str]) -> tuple[str, ...]:
        """Outer before inner, then document order: how a configuration is entered."""
        return tuple(
            sorted(
                states,
                key=lambda s: (len(self.machine.ancestors(s)), self.machine.document_order(s)),
            )
        )

    def _arm(self, entity_id: str, states: Iterable[str], now: float) -> tuple[ScheduledTimer, ...]:
        timers: list[ScheduledTimer] = []
        for state in states:
            for transition in self.machine.delayed_transitions(state):
                if transition.after is None:
                    continue
                timers.append(
                    ScheduledTimer(
                        new_timer_id(),
                        entity_id,
                        state,
                        transition.trigger,
                        now + transition.after / 1000.0,
                    )
                )
        return tuple(timers)

    def _initial(self, entity_id: str) -> tuple[str, tuple[str, ...], tuple[ScheduledTimer, ...]]:
        configuration = self.machine.initial_configuration()
        entered = self._entry_order(configuration)
        state = self.machine.state_string(configuration)
        return state, entered, self._arm(entity_id, entered, self.clock())

    def _plan(
        self,
        stored: StoredState,
        result: TransitionResult,
        event_id: str | None,
        timer_id: str | None,
    ) -> _Step:
        kept = tuple(t for t in stored.timers if t.timer_id != timer_id)
        if not result.success or result.target_state is None or result.ignored:
            if timer_id is not None:
                # A timer whose guard was false is spent, not re-armed.
                return _Step(stored, result, True, stored.state, kept)
            return _Step(stored, result, False, stored.state, stored.timers)
        exited = set(result.exited_states)
        cancelled = tuple(t for t in kept if t.state in exited)
        kept = tuple(t for t in kept if t.state not in exited)
        armed = self._arm(stored.entity_id, result.entered_states, self.clock())
        before = self.machine.configuration_of(stored.state)
        after = result.configuration or self.machine.configuration_of(result.target_state)
        return _Step(
            stored,
            result,
            True,
            result.target_state,
            kept + armed,
            armed,
            cancelled,
            started=_unique(
                s for s in result.entered_states if s in after and self._invoke_specs(s)
            ),
            stopped=_unique(
                s for s in result.exited_states if s in before and self._invoke_specs(s)
            ),
            audit=AuditEntry(
                stored.state, result.target_state, result.trigger, event_id, self.clock()
            ),
        )

    def _guard_context(
        self, stored: StoredState, context: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        base = dict(stored.context or {}) if self.persist_context else {}
        base.update(context or {})
        return base

    def _action_context(
        self, entity_id: str, event: str | Event, ctx: Mapping[str, Any]
    ) -> dict[str, Any]:
        action_ctx = dict(ctx)
        if isinstance(event, Event):
            for key, value in event.payload.items():
                action_ctx.setdefault(key, value)
        action_ctx.setdefault("entity_id", entity_id)
        return action_ctx

    def _stored_context(
        self, stored: StoredState, ctx: Mapping[str, Any]
    ) -> Mapping[str, Any] | None:
        return ctx if self.persist_context else None

    @staticmethod
    def _retry_result(result: TransitionResult, execution: ExecutionResult) -> TransitionResult:
        """The step reduced to the actions that failed, each in its own phase."""
        failed = [r for r in execution.results if not r.success]

        def phase(name: str) -> tuple[ActionSpec, ...]:
            return tuple(ActionSpec(r.action_name, r.params) for r in failed if r.phase == name)

        return dataclasses.replace(
            result,
            on_exit_actions=phase("exit"),
            actions_to_execute=phase("transition"),
            on_enter_actions=phase("enter"),
        )

    def _conflict(self, entity_id: str, exc: StateConflictError, conflicts: int) -> float:
        """Raise when out of retries; else how long to back off before reloading."""
        if conflicts > self.max_conflict_retries:
            raise ConflictRetriesExhausted(
                entity_id, exc.expected_version, exc.actual_version, conflicts
            ) from exc
        return random.uniform(0, min(0.05, 0.001 * 2**conflicts))

    def _duplicate(
        self, entity_id: str, trigger: str, event_id: str, first: Mapping[str, Any]
    ) -> OrchestratorResult:
        return OrchestratorResult(
            entity_id,
            trigger,
            event_id,
            str(first.get("state", "")),
            int(first.get("version", 0)),
            duplicate=True,
            first_outcome=dict(first),
            failed_actions=tuple(first.get("failed_actions", ())),
        )

    def _result(
        self,
        step: _Step,
        entity_id: str,
        trigger: str,
        event_id: str | None,
        version: int,
        conflicts: int,
    ) -> OrchestratorResult:
        return OrchestratorResult(
            entity_id,
            trigger,
            event_id,
            step.new_state,
            version,
            step.result,
            armed_timers=step.armed,
            cancelled_timers=step.cancelled,
            services_started=step.started,
            services_stopped=step.stopped,
            conflicts=conflicts,
        )

    def _stale(self, stored: StoredState, trigger: str, event_id: str | None) -> OrchestratorResult:
        return OrchestratorResult(
            stored.entity_id, trigger, event_id, stored.state, stored.version, stale_timer=True
        )

    def _invoke_specs(self, state: str) -> tuple[Any, ...]:
        return tuple(self.machine.get_state(state).invoke)

    def _service_event(self, stored: StoredState | None, service_id: str) -> str | None:
        if stored is None:
            return None
        for state in self._entry_order(self.machine.configuration_of(stored.state)):
            for spec in self._invoke_specs(state):
                if spec.id == service_id:
                    return str(spec.on_done) if spec.on_done else None
        return None

    # ------------------------------------------------------------------ async driver
    async def async_process_event(
        self,
        entity_id: str,
        event: str | Event,
        context: Mapping[str, Any] | None = None,
        *,
        event_id: str | None = None,
        timer_id: str | None = None,
    ) -> OrchestratorResult:
        """Load, compute, commit, act. ``event_id`` makes the call idempotent."""
        trigger = _trigger_of(event)
        if event_id is None and isinstance(event, Event):
            event_id = event.event_id
        key = f"{entity_id}:{event_id}" if self.idempotency is not None and event_id else None
        if key is not None and self.idempotency is not None:
            first = await self.idempotency.async_get(key)
            if first is not None:
                return self._duplicate(entity_id, trigger, str(event_id), first)
            if not await self.idempotency.async_claim(key):
                first = await self.idempotency.async_get(key)
                if first is not None:
                    return self._duplicate(entity_id, trigger, str(event_id), first)
                raise EventInProgressError(key)
        try:
            outcome = await self._async_step(entity_id, event, trigger, context, event_id, timer_id)
        except BaseException:
            if key is not None and self.idempotency is not None:
                await self.idempotency.async_release(key)
            raise
        if key is not None and self.idempotency is not None:
            await self.idempotency.async_complete(key, outcome.summary())
        return outcome

    async def async_fire_timer(
        self, entity_id: str, event: str, timer_id: str
    ) -> OrchestratorResult:
        """The schedulers' ``on_fire``: a timer is an event whose id is the timer id."""
        return await self.async_process_event(
            entity_id, event, event_id=timer_id, timer_id=timer_id
        )

    async def async_service_done(
        self, entity_id: str, service_id: str, context: Mapping[str, Any] | None = None
    ) -> OrchestratorResult | None:
        """Send the ``on_done`` of a finished service; ``None`` if its state is gone."""
        stored = await self.state_store.async_load(entity_id)
        on_done = self._service_event(stored, service_id)
        if on_done is None:
            return None
        return await self.async_process_event(entity_id, on_done, context)

    async def async_create(self, entity_id: str) -> StoredState:
        """The entity's stored state, creating it in the initial configuration if new.

        Creating arms the initial states' timers and starts their services; no
        action runs (the initial configuration is where an entity begins, not a
        transition it takes).
        """
        while True:
            stored = await self.state_store.async_load(entity_id)
            if stored is not None:
                return stored
            state, entered, timers = self._initial(entity_id)
            try:
                version = await self.state_store.async_save(
                    entity_id,
                    state,
                    0,
                    AuditEntry("", state, CREATE_TRIGGER, None, self.clock()),
                    timers=timers,
                )
            except StateConflictError:
                continue
            for timer in timers:
                await self._async_schedule(timer)
            for name in entered:
                await self._async_start_services(entity_id, name, {})
            return StoredState(entity_id, state, version, None, timers)

    async def async_get_state(self, entity_id: str) -> StoredState | None:
        return await self.state_store.async_load(entity_id)

    async def _async_step(
        self,
        entity_id: str,
        event: str | Event,
        trigger: str,
        context: Mapping[str, Any] | None,
        event_id: str | None,
        timer_id: str | None,
    ) -> OrchestratorResult:
        conflicts = 0
        while True:
            stored = await self.async_create(entity_id)
            if timer_id is not None and all(t.timer_id != timer_id for t in stored.timers):
                return self._stale(stored, trigger, event_id)
            ctx = self._guard_context(stored, context)
            result = await self.machine.async_process(stored.state, event, ctx)
            step = self._plan(stored, result, event_id, timer_id)
            if not step.commit:
                return self._result(step, entity_id, trigger, event_id, stored.version, conflicts)
            try:
                version = await self.state_store.async_save(
                    entity_id,
                    step.new_state,
                    stored.version,
                    step.audit,
                    context=self._stored_context(stored, ctx),
                    timers=step.timers,
                )
                break
            except StateConflictError as exc:
                conflicts += 1
                await asyncio.sleep(self._conflict(entity_id, exc, conflicts))
        for timer in step.cancelled:
            await self._async_cancel(timer)
        for timer in step.armed:
            await self._async_schedule(timer)
        for name in reversed(step.stopped):
            await _maybe_await(self.invoke_adapter.stop_services(entity_id, name))
        outcome = self._result(step, entity_id, trigger, event_id, version, conflicts)
        action_ctx = self._action_context(entity_id, event, ctx)
        if step.result.success and step.result.all_action_specs:
            outcome = await self._async_run_actions(outcome, step.result, action_ctx)
        for name in step.started:
            await self._async_start_services(entity_id, name, action_ctx)
        return outcome

    async def _async_schedule(self, timer: ScheduledTimer) -> None:
        if self.scheduler is not None:
            await self.scheduler.schedule(timer)

    async def _async_cancel(self, timer: ScheduledTimer) -> None:
        if self.scheduler is not None:
            await self.scheduler.cancel(timer.timer_id)

    async def _async_start_services(
        self, entity_id: str, state: str, ctx: Mapping[str, Any]
    ) -> None:
        specs = self._invoke_specs(state)
        if specs:
            await _maybe_await(self.invoke_adapter.start_services(entity_id, state, specs, ctx))

    async def _async_run_actions(
        self, outcome: OrchestratorResult, result: TransitionResult, ctx: dict[str, Any]
    ) -> OrchestratorResult:
        try:
            execution = await self.executor.async_execute(result, ctx)
        except Exception as exc:  # the commit stands; report, do not raise
            log.exception("actions for %s failed to run", outcome.entity_id)
            return dataclasses.replace(
                outcome,
                action_attempts=1,
                action_error=repr(exc),
                failed_actions=result.all_actions,
            )
        last, attempts, retries = execution, 1, []
        while last.failed_actions and attempts < self.retry.max_attempts:
            await self.retry.async_sleep(self.retry.delay_for(attempts))
            attempts += 1
            last = await self.executor.async_execute(self._retry_result(result, last), ctx)
            retries.append(last)
        return dataclasses.replace(
            outcome,
            execution=execution,
            retry_executions=tuple(retries),
            failed_actions=tuple(last.failed_actions),
            action_attempts=attempts,
        )

    # ------------------------------------------------------------------ sync driver
    def _check_sync(self) -> None:
        if self.scheduler is not None:
            raise OrchestratorUsageError(
                "process_event is synchronous but this orchestrator has a scheduler, whose "
                "operations are coroutines: use await orchestrator.async_process_event(...)"
            )
        adapter = self.invoke_adapter
        if inspect.iscoroutinefunction(adapter.start_services) or inspect.iscoroutinefunction(
            adapter.stop_services
        ):
            raise OrchestratorUsageError(
                "the invoke adapter is asynchronous: use await orchestrator.async_process_event"
            )

    def process_event(
        self,
        entity_id: str,
        event: str | Event,
        context: Mapping[str, Any] | None = None,
        *,
        event_id: str | None = None,
    ) -> OrchestratorResult:
        """The synchronous sandwich (no scheduler; sync store, guards and actions)."""
        self._check_sync()
        trigger = _trigger_of(event)
        if event_id is None and isinstance(event, Event):
            event_id = event.event_id
        key = f"{entity_id}:{event_id}" if self.idempotency is not None and event_id else None
        if key is not None and self.idempotency is not None:
            first = self.idempotency.get(key)
            if first is not None:
                return self._duplicate(entity_id, trigger, str(event_id), first)
            if not self.idempotency.claim(key):
                first = self.idempotency.get(key)
                if first is not None:
                    return self._duplicate(entity_id, trigger, str(event_id), first)
                raise EventInProgressError(key)
        try:
            outcome = self._sync_step(entity_id, event, trigger, context, event_id)
        except BaseException:
            if key is not None and self.idempotency is not None:
                self.idempotency.release(key)
            raise
        if key is not None and self.idempotency is not None:
            self.idempotency.complete(key, outcome.summary())
        return outcome

    def create(self, entity_id: str) -> StoredState:
        """Sync ``async_create`` (no scheduler allowed: timers need the async path)."""
        self._check_sync()
        while True:
            stored = self.state_store.load(entity_id)
            if stored is not None:
                return stored
            state, entered, timers = self._initial(entity_id)
            try:
                version = self.state_store.save(
                    entity_id,
                    state,
                    0,
                    AuditEntry("", state, CREATE_TRIGGER, None, self.clock()),
                    timers=timers,
                )
            except StateConflictError:
                continue
            for name in entered:
                specs = self._invoke_specs(name)
                if specs:
                    self.invoke_adapter.start_services(entity_id, name, specs, {})
            return StoredState(entity_id, state, version, None, timers)

    def get_state(self, entity_id: str) -> StoredState | None:
        return self.state_store.load(entity_id)

    def service_done(
        self, entity_id: str, service_id: str, context: Mapping[str, Any] | None = None
    ) -> OrchestratorResult | None:
        on_done = self._service_event(self.state_store.load(entity_id), service_id)
        return None if on_done is None else self.process_event(entity_id, on_done, context)

    def _sync_step(
        self,
        entity_id: str,
        event: str | Event,
        trigger: str,
        context: Mapping[str, Any] | None,
        event_id: str | None,
    ) -> OrchestratorResult:
        conflicts = 0
        while True:
            stored = self.create(entity_id)
            ctx = self._guard_context(stored, context)
            result = self.machine.process(stored.state, event, ctx)
            step = self._plan(stored, result, event_id, None)
            if not step.commit:
                return self._result(step, entity_id, trigger, event_id, stored.version, conflicts)
            try:
                version = self.state_store.save(
                    entity_id,
                    step.new_state,
                    stored.version,
                    step.audit,
                    context=self._stored_context(stored, ctx),
                    timers=step.timers,
                )
                break
            except StateConflictError as exc:
                conflicts += 1
                time.sleep(self._conflict(entity_id, exc, conflicts))
        for name in reversed(step.stopped):
            self.invoke_adapter.stop_services(entity_id, name)
        outcome = self._result(step, entity_id, trigger, event_id, version, conflicts)
        action_ctx = self._action_context(entity_id, event, ctx)
        if step.result.success and step.result.all_action_specs:
            outcome = self._sync_run_actions(outcome, step.result, action_ctx)
        for name in step.started:
            specs = self._invoke_specs(name)
            if specs:
                self.invoke_adapter.start_services(entity_id, name, specs, action_ctx)
        return outcome

    def _sync_run_actions(
        self, outcome: OrchestratorResult, result: TransitionResult, ctx: dict[str, Any]
    ) -> OrchestratorResult:
        try:
            execution = self.executor.execute(result, ctx)
        except Exception as exc:
            log.exception("actions for %s failed to run", outcome.entity_id)
            return dataclasses.replace(
                outcome,
                action_attempts=1,
                action_error=repr(exc),
                failed_actions=result.all_actions,
            )
        last, attempts, retries = execution, 1, []
        while last.failed_actions and attempts < self.retry.max_attempts:
            self.retry.sleep(self.retry.delay_for(attempts))
            attempts += 1
            last = self.executor.execute(self._retry_result(result, last), ctx)
            retries.append(last)
        return dataclasses.replace(
            outcome,
            execution=execution,
            retry_executions=tuple(retries),
            failed_actions=tuple(last.failed_actions),
            action_attempts=attempts,
        )


async def _maybe_await(value: Awaitable[None] | None) -> None:
    if value is not None and inspect.isawaitable(value):
        await value
