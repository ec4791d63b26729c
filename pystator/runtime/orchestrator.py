"""The orchestrator: load -> decide -> commit one step -> deliver, for many entities.

The engine only computes. The orchestrator loads the entity (its stored engine
``Snapshot``, and the recorded outcome of the event id, in the same read), asks the
engine for the step (``StateMachine.step``; ``start`` for a new entity), and writes
it as one ``StepCommit``: new state and version, audit row, pending timers,
an outbox row per action, context, and the event id's dedup record, all in one
transaction of the state store. A lost race (another writer committed first) is
recomputed from the new version; a duplicate event id is answered with the first
outcome. Nothing is written twice and nothing is half written.

Then it delivers what the commit recorded, itself and at once in the common case:
cancels and arms timers through the scheduler, stops and starts ``invoke``
services, runs the actions (each with its idempotency key, retried with backoff).
Whatever it could not finish (it crashed, the scheduler was down, an action kept
failing) is still in the store, and the ``Dispatcher`` (started by ``start()``, or
one pass with ``dispatch_once``) delivers it at least once: every committed timer
is handed to a scheduler and every unfinished action is run again. An action or
timer firing that fails every attempt of the retry policy becomes a dead letter,
and ``error_policy.default_fallback`` moves the entity to that state.

A fired timer is an event whose id is the timer id, and it only applies while its
id is pending in the stored state, so a stale or repeated firing changes nothing.

The sync and async paths are one generator (``_event``) that yields the operations
it needs (``_Load``, ``_Commit``, ``_RunActions``...); ``_drive`` performs them
with blocking calls and ``_adrive`` with awaits.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import itertools
import logging
import random
import threading
import time
from collections.abc import Awaitable, Generator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, TypeVar

from pystator.actions import ActionExecutor, ActionRegistry, ActionResult, ExecutionResult
from pystator.guards import GuardRegistry
from pystator.invoked import child_name
from pystator.model import ActionSpec, Event
from pystator.reset import reset_to
from pystator.result import TransitionResult
from pystator.runtime.errors import ConflictRetriesExhausted, OrchestratorUsageError
from pystator.runtime.idempotency import IdempotencyStore
from pystator.runtime.invoke import InvokeAdapter, NoOpInvokeAdapter
from pystator.runtime.outbox import (
    IDEMPOTENCY_KEY,
    ActionEffect,
    AuditEntry,
    CommitResult,
    DeadLetter,
    FailedAction,
    PendingAction,
    StepCommit,
    new_owner,
)
from pystator.runtime.retry import RetryPolicy
from pystator.runtime.state_store import Claimed, StateStore, StoredState
from pystator.runtime.timers import Clock, ScheduledTimer, Scheduler, wall_clock
from pystator.snapshot import Snapshot, Timer, sorted_timers
from pystator.step import Step as EngineStep

if TYPE_CHECKING:
    from pystator.machine import StateMachine
    from pystator.runtime.dispatcher import Dispatcher

__all__ = ["CREATE_TRIGGER", "FALLBACK_TRIGGER", "Orchestrator", "OrchestratorResult"]

log = logging.getLogger("pystator.runtime")

CREATE_TRIGGER = "pystator.create"
"""The trigger recorded in the audit row that creates an entity in its initial state."""

FALLBACK_TRIGGER = "pystator.fallback"
"""The trigger of the audit row that moves an entity to ``error_policy.default_fallback``."""

T = TypeVar("T")


@dataclass(frozen=True)
class OrchestratorResult:
    """What one event did to one entity.

    ``transition`` is the engine's result (``None`` for a duplicate or a stale
    timer). ``state`` and ``version`` are the stored values after the event.
    ``failed_actions`` lists actions still failing after every retry (they are dead
    letters now, and ``fallback`` is the entity's move to the fallback state if the
    policy has one); the step stays committed regardless. A ``duplicate`` carries
    the first outcome in ``first_outcome`` and changed nothing.
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
    action_keys: tuple[str, ...] = ()
    fallback: OrchestratorResult | None = None

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
        """The JSON-ready outcome the dedup record keeps; duplicates are answered with it."""
        return _summary(
            self.entity_id,
            self.trigger,
            self.event_id,
            self.transition,
            self.state,
            self.version,
            self.stale_timer,
        )


def _summary(
    entity_id: str,
    trigger: str,
    event_id: str | None,
    t: TransitionResult | None,
    state: str,
    version: int,
    stale_timer: bool = False,
) -> dict[str, Any]:
    return {
        "entity_id": entity_id,
        "trigger": trigger,
        "event_id": event_id,
        "success": t.success if t is not None else False,
        "source_state": t.source_state if t is not None else None,
        "target_state": t.target_state if t is not None else None,
        "error": str(t.error) if t is not None and t.error is not None else None,
        "state": state,
        "version": version,
        "stale_timer": stale_timer,
    }


# ---------------------------------------------------------------------- operations
# What the step generator asks its driver to do; each is performed by _drive
# (blocking) or _adrive (awaiting). Exceptions are thrown back into the generator.
@dataclass(frozen=True)
class _Load:
    entity_id: str
    event_id: str | None


@dataclass(frozen=True)
class _Step:
    """Ask the engine what an event (or a pending timer) does to a snapshot."""

    snapshot: Snapshot
    event: str | Event | Timer
    context: Mapping[str, Any]
    now: int


@dataclass(frozen=True)
class _Start:
    """Ask the engine for the step that starts a new entity."""

    now: int


@dataclass(frozen=True)
class _Commit:
    commit: StepCommit


@dataclass(frozen=True)
class _Pause:
    seconds: float
    retry: bool = False  # a retry backoff (RetryPolicy's sleeps) or a conflict backoff


@dataclass(frozen=True)
class _Schedule:
    timer: ScheduledTimer


@dataclass(frozen=True)
class _Cancel:
    timer_id: str


@dataclass(frozen=True)
class _Services:
    start: bool
    entity_id: str
    state: str
    context: Mapping[str, Any]


@dataclass(frozen=True)
class _RunActions:
    items: tuple[tuple[str, ActionEffect], ...]
    owner: str


@dataclass(frozen=True)
class _Settle:
    owner: str
    done: tuple[str, ...] = ()
    failed: tuple[FailedAction, ...] = ()
    armed: Mapping[str, float] = field(default_factory=dict)
    dead: tuple[DeadLetter, ...] = ()


@dataclass(frozen=True)
class _Done:
    """Actions that completed: marked done on the next commit, or within ``mark_delay``."""

    keys: tuple[str, ...]


@dataclass(frozen=True)
class _Renew:
    owner: str
    keys: tuple[str, ...]
    until: float


@dataclass(frozen=True)
class _Claim:
    owner: str
    now: float
    until: float
    limit: int


@dataclass(frozen=True)
class _Remember:
    key: str
    outcome: Mapping[str, Any] | None  # None: look the key up


_Op = Any
_Gen = Generator[_Op, Any, T]


@dataclass(frozen=True)
class _Plan:
    """The commit one engine step calls for, and what to deliver after it."""

    stored: StoredState
    result: TransitionResult
    commit: StepCommit | None
    state: str
    armed: tuple[ScheduledTimer, ...] = ()
    cancelled: tuple[ScheduledTimer, ...] = ()
    started: tuple[str, ...] = ()
    stopped: tuple[str, ...] = ()
    action_context: Mapping[str, Any] = field(default_factory=dict)


def _timer_id(entity_id: str, timer: Timer) -> str:
    """A scheduler's name for an engine timer: unique per entity, arming and time.

    A child machine's timer (``timer.owner``, see ``Snapshot.pending``) carries its
    invoke path too (``/`` and ``\\`` in an id escaped): parent and child number their
    timers each from 0, so the same number armed at the same time names two timers."""
    if timer.owner:
        path = "".join(o.replace("\\", "\\\\").replace("/", "\\/") + "/" for o in timer.owner)
        return f"{entity_id}#{path}{timer.id}@{timer.armed_at_ms}"
    return f"{entity_id}#{timer.id}@{timer.armed_at_ms}"


def _scheduled(entity_id: str, timer: Timer) -> ScheduledTimer:
    """An engine timer as the schedulers know it (due time in clock seconds)."""
    return ScheduledTimer(
        _timer_id(entity_id, timer),
        entity_id,
        timer.state,
        timer.trigger,
        timer.due_ms / 1000.0,
    )


def _schedule_of(entity_id: str, snapshot: Snapshot) -> dict[Timer, ScheduledTimer]:
    """Every timer ``snapshot`` holds pending, its child machines' included, as the
    schedulers know it, in firing order."""
    return {t: _scheduled(entity_id, t) for t in snapshot.pending}


def _front_key(entity_id: str, event_id: str) -> str:
    """The idempotency store's key of an event, ``<entity>:<event>``. A ``:`` or ``\\``
    in the entity id is escaped, so that entity ``a:b`` with event ``c`` and entity
    ``a`` with event ``b:c`` stay apart; ids without them keep the plain key."""
    escaped = entity_id.replace("\\", "\\\\").replace(":", "\\:")
    return f"{escaped}:{event_id}"


def _trigger_of(event: str | Event) -> str:
    return event.trigger if isinstance(event, Event) else event


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def _phase_result(effect: ActionEffect, source: str) -> TransitionResult:
    """A one-action step, so the executor runs exactly this action in its phase."""
    spec = (ActionSpec(effect.name, dict(effect.params)),)
    return TransitionResult(
        True,
        source,
        source,
        "",
        actions_to_execute=spec if effect.phase == "transition" else (),
        on_exit_actions=spec if effect.phase == "exit" else (),
        on_enter_actions=spec if effect.phase == "enter" else (),
    )


class Orchestrator:
    """Drives entities of one machine through events, timers and services.

    ``guards`` is bound to the machine; ``actions`` is the ``ActionRegistry`` the
    actions run from. ``retry`` defaults to the machine's ``error_policy``
    (``retry_attempts`` retries, ``default_fallback`` for dead letters). With
    ``persist_context=True`` the context of each event is merged into the stored
    context, which later events and timers (which carry no context of their own)
    then see. ``lease_seconds`` is how long one process holds an outbox row it is
    delivering before another may take over (renewed while a long action runs);
    ``rearm_after`` is how long after its due time a still-pending timer is handed
    to the scheduler again, in case the scheduler lost it. Completed actions are
    marked done in the next commit this orchestrator makes, or at the latest after
    ``mark_delay`` seconds (a process that dies in between has them run again:
    at least once). ``idempotency`` is an
    optional fast front for duplicates: the state store's dedup record inside the
    step's transaction is what decides.
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
        lease_seconds: float = 30.0,
        rearm_after: float = 5.0,
        dispatch_interval: float = 0.5,
        mark_delay: float = 0.05,
    ) -> None:
        from pystator.runtime.dispatcher import Dispatcher

        # Bound to a copy: the caller's machine (shared, maybe bound to other guards) is
        # left as it is.
        self.machine = machine.with_guards(guards) if guards is not None else machine
        self.state_store = state_store
        self.guards = guards
        self.actions = actions if actions is not None else ActionRegistry()
        self.executor = ActionExecutor(self.actions)
        self.scheduler = scheduler
        self.invoke_adapter: InvokeAdapter = invoke_adapter or NoOpInvokeAdapter()
        self.idempotency = idempotency
        self.retry = retry or RetryPolicy.from_error_policy(machine.spec.error_policy)
        if self.retry.fallback is not None:
            machine.get_state(self.retry.fallback)  # an unknown fallback fails here, named
        self.clock = clock or (scheduler.clock if scheduler is not None else wall_clock)
        self.max_conflict_retries = max_conflict_retries
        self.persist_context = persist_context
        self.lease_seconds = lease_seconds
        self.rearm_after = rearm_after
        self.owner = new_owner()
        self._leases = _LeaseKeeper(self)
        self._marks = _DoneMarks(self, mark_delay)
        self.dispatcher: Dispatcher = Dispatcher(self, interval=dispatch_interval)
        if scheduler is not None:
            scheduler.on_fire = self.async_fire_timer
            if hasattr(scheduler, "on_dead"):
                scheduler.on_dead = self.async_bury_timer
            if hasattr(scheduler, "retry"):
                scheduler.retry = self.retry

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Deliver what earlier runs left, then keep delivering; start the scheduler."""
        if self.scheduler is not None:
            await self.scheduler.start()
        await self.dispatcher.start()

    async def stop(self) -> None:
        """Stop delivering and firing; release the store's async connections."""
        await asyncio.to_thread(self._marks.flush)
        await self.dispatcher.stop()
        if self.scheduler is not None:
            await self.scheduler.stop()
        aclose = getattr(self.state_store, "aclose", None)
        if aclose is not None:
            await aclose()

    # ------------------------------------------------------------------ planning (pure)
    def _now_ms(self) -> int:
        return round(self.clock() * 1000)

    def _lease(self) -> dict[str, Any]:
        return {
            "owner": self.owner,
            "lease_until": self.clock() + self.lease_seconds,
            "arm_after": self.rearm_after if self.scheduler is not None else None,
        }

    def _snapshot(self, stored: StoredState) -> Snapshot:
        """The engine's snapshot of a stored entity.

        Every commit stores it; an entity written without one (by an earlier version)
        is read back from its state string and pending timers.
        """
        if stored.snapshot:
            return Snapshot.from_dict(stored.snapshot)
        timers = []
        for n, t in enumerate(stored.timers):
            due = round(t.due_at * 1000)
            delayed = [d for d in self.machine.delayed_transitions(t.state) if d.trigger == t.event]
            dest = delayed[0].dest if delayed else t.state
            index = self.machine.transition_index(delayed[0]) if delayed else -1
            timers.append(Timer(n, t.state, due, t.event, dest, due, index))
        configuration = self.machine.configuration_of(stored.state)
        return Snapshot(configuration, sorted_timers(timers), next_timer_id=len(timers))

    def _engine_timer(self, stored: StoredState, snapshot: Snapshot, timer_id: str) -> Timer | None:
        """The snapshot's pending timer a scheduler's firing names (None: not pending)."""
        for t in snapshot.pending:
            if _timer_id(stored.entity_id, t) == timer_id:
                return t
        legacy = next((t for t in stored.timers if t.timer_id == timer_id), None)
        if legacy is None or stored.snapshot:
            return None
        due = round(legacy.due_at * 1000)
        return next(
            (
                t
                for t in snapshot.timers
                if (t.state, t.trigger, t.due_ms) == (legacy.state, legacy.event, due)
            ),
            None,
        )

    def _commit_of(
        self,
        stored: StoredState,
        before: Snapshot,
        step: EngineStep,
        trigger: str,
        event_id: str | None,
        action_ctx: Mapping[str, Any],
        **extra: Any,
    ) -> tuple[StepCommit, tuple[ScheduledTimer, ...], tuple[ScheduledTimer, ...]]:
        """The commit of a step that moved: new state and snapshot, its timers, its actions.

        Also the timers to cancel (pending before and cancelled by the step) and to arm
        (armed by the step and still pending after it: one armed and left within the
        same step is never scheduled).
        """
        entity = stored.entity_id
        pending_before = _schedule_of(entity, before)
        pending_after = _schedule_of(entity, step.snapshot)
        cancelled = tuple(pending_before[t] for t in step.timers_cancelled if t in pending_before)
        armed = tuple(pending_after[t] for t in step.timers_armed if t in pending_after)
        state = self.machine.state_string(step.configuration)
        effects = tuple(
            ActionEffect(
                a.name,
                dict(a.params),
                a.phase,
                a.owner if a.phase != "transition" else None,
                action_ctx,
            )
            for a in step.actions
        )
        commit = StepCommit(
            entity,
            stored.version,
            state,
            AuditEntry(stored.state, state, trigger, event_id, self.clock()),
            tuple(pending_after.values()),
            effects,
            snapshot=step.snapshot.to_dict(),
            event_id=event_id,
            **extra,
            **self._lease(),
        )
        return commit, cancelled, armed

    def _services(
        self, before: frozenset[str], step: EngineStep
    ) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The states whose services start and stop with a step."""
        started = _unique(
            s for s in step.entered if s in step.configuration and self._invoke_specs(s)
        )
        stopped = _unique(s for s in step.exited if s in before and self._invoke_specs(s))
        return started, stopped

    def _initial(self, entity_id: str, step: EngineStep) -> _Plan:
        """Creating an entity is the engine's start step: entries, actions, timers."""
        stored = StoredState(entity_id, "", 0)
        ctx = {"entity_id": entity_id}
        commit, _, armed = self._commit_of(
            stored, Snapshot(frozenset()), step, CREATE_TRIGGER, None, ctx
        )
        state = commit.state
        audit = AuditEntry("", state, CREATE_TRIGGER, None, self.clock())
        commit = replace(commit, audit=audit)
        result = self.machine.result_of(step, "")
        started, _ = self._services(frozenset(), step)
        return _Plan(stored, result, commit, state, armed, (), started, (), ctx)

    def _plan(
        self,
        stored: StoredState,
        snapshot: Snapshot,
        step: EngineStep,
        event: str | Event,
        event_id: str | None,
        timer_id: str | None,
        ctx: Mapping[str, Any],
    ) -> _Plan:
        trigger = _trigger_of(event)
        result = self.machine.result_of(step, stored.state)
        if step.refusal is not None:
            outcome = _summary(
                stored.entity_id, trigger, event_id, result, stored.state, stored.version
            )
            if timer_id is not None:
                # A timer whose guard was false is spent, not re-armed.
                commit = StepCommit(
                    stored.entity_id,
                    stored.version,
                    stored.state,
                    None,
                    tuple(_schedule_of(stored.entity_id, step.snapshot).values()),
                    snapshot=step.snapshot.to_dict(),
                    event_id=event_id,
                    **self._lease(),
                )
                outcome["version"] = commit.version
                return _Plan(stored, result, replace(commit, outcome=outcome), stored.state)
            if event_id is None:
                return _Plan(stored, result, None, stored.state)
            commit = StepCommit(
                stored.entity_id,
                stored.version,
                stored.state,
                event_id=event_id,
                outcome=outcome,
                changes_state=False,
            )
            return _Plan(stored, result, commit, stored.state)
        action_ctx = self._action_context(stored.entity_id, event, ctx)
        state = self.machine.state_string(step.configuration)
        commit, cancelled, armed = self._commit_of(
            stored,
            snapshot,
            step,
            result.trigger,
            event_id,
            action_ctx,
            context=ctx if self.persist_context else None,
            outcome=_summary(
                stored.entity_id, trigger, event_id, result, state, stored.version + 1
            ),
        )
        started, stopped = self._services(snapshot.configuration, step)
        return _Plan(stored, result, commit, state, armed, cancelled, started, stopped, action_ctx)

    def _fallback_plan(
        self, stored: StoredState, dead: Sequence[DeadLetter], done: Sequence[str]
    ) -> _Plan:
        """Move to ``retry.fallback``: the engine's step out of what is not part of it."""
        target = str(self.retry.fallback)
        ctx = self._guard_context(
            stored, {"entity_id": stored.entity_id, "dead_letters": [d.key for d in dead]}
        )
        snapshot = self._snapshot(stored)
        step = reset_to(self.machine, snapshot, target, FALLBACK_TRIGGER, ctx, now=self._now_ms())
        commit, cancelled, armed = self._commit_of(
            stored,
            snapshot,
            step,
            FALLBACK_TRIGGER,
            None,
            ctx,
            dead_letters=tuple(dead),
            done_actions=tuple(done),
        )
        result = self.machine.result_of(step, stored.state)
        started, stopped = self._services(snapshot.configuration, step)
        return _Plan(stored, result, commit, commit.state, armed, cancelled, started, stopped, ctx)

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

    def _conflict(self, entity_id: str, result: CommitResult, expected: int, n: int) -> float:
        """Raise when out of retries; else how long to back off before reloading."""
        if n > self.max_conflict_retries:
            raise ConflictRetriesExhausted(entity_id, expected, result.conflict or 0, n)
        return random.uniform(0, min(0.05, 0.001 * 2**n))

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
        )

    def _result(
        self, plan: _Plan, trigger: str, event_id: str | None, version: int, conflicts: int
    ) -> OrchestratorResult:
        keys = plan.commit.action_keys() if plan.commit is not None else ()
        return OrchestratorResult(
            plan.stored.entity_id,
            trigger,
            event_id,
            plan.state,
            version,
            transition=plan.result,
            armed_timers=plan.armed,
            cancelled_timers=plan.cancelled,
            services_started=plan.started,
            services_stopped=plan.stopped,
            conflicts=conflicts,
            action_keys=keys,
        )

    def _invoke_specs(self, state: str) -> tuple[Any, ...]:
        # src: machine:NAME is a child machine the engine runs; the adapter gets services only
        return tuple(v for v in self.machine.get_state(state).invoke if child_name(v) is None)

    def _service_event(self, stored: StoredState | None, service_id: str) -> str | None:
        if stored is None:
            return None
        chart = self.machine.chart
        for state in chart.in_entry_order(self.machine.configuration_of(stored.state)):
            for spec in self._invoke_specs(state):
                if spec.id == service_id:
                    return str(spec.on_done) if spec.on_done else None
        return None

    # ------------------------------------------------------------------ the step (one generator)
    def _load_or_create(
        self, entity_id: str, event_id: str | None
    ) -> _Gen[tuple[StoredState, dict[str, Any] | None]]:
        while True:
            stored, first = yield _Load(entity_id, event_id)
            if stored is not None:
                return stored, first
            step = yield _Start(self._now_ms())
            plan = self._initial(entity_id, step)
            assert plan.commit is not None
            written = yield _Commit(plan.commit)
            if not written.written:
                continue
            commit = plan.commit
            created = StoredState(
                entity_id, commit.state, commit.version, None, commit.timers, commit.snapshot
            )
            outcome = self._result(plan, CREATE_TRIGGER, None, commit.version, 0)
            yield from self._deliver(plan, outcome)
            return created, first

    def _event(
        self,
        entity_id: str,
        event: str | Event,
        context: Mapping[str, Any] | None,
        event_id: str | None,
        timer_id: str | None,
    ) -> _Gen[OrchestratorResult]:
        trigger = _trigger_of(event)
        if event_id is None and isinstance(event, Event):
            event_id = event.event_id
        front = (
            _front_key(entity_id, event_id) if self.idempotency is not None and event_id else None
        )
        if front is not None:
            first = yield _Remember(front, None)
            if first is not None:
                return self._duplicate(entity_id, trigger, str(event_id), first)
        conflicts = 0
        while True:
            stored, first = yield from self._load_or_create(entity_id, event_id)
            if first is not None:
                return self._duplicate(entity_id, trigger, str(event_id), first)
            snapshot = self._snapshot(stored)
            fired: str | Event | Timer = event
            if timer_id is not None:
                timer = self._engine_timer(stored, snapshot, timer_id)
                if timer is None:
                    return OrchestratorResult(
                        entity_id, trigger, event_id, stored.state, stored.version, stale_timer=True
                    )
                fired = timer
            ctx = self._guard_context(stored, context)
            step = yield _Step(snapshot, fired, ctx, self._now_ms())
            plan = self._plan(stored, snapshot, step, event, event_id, timer_id, ctx)
            if plan.commit is None:
                return self._result(plan, trigger, event_id, stored.version, conflicts)
            written = yield _Commit(plan.commit)
            if written.duplicate is not None:
                return self._duplicate(entity_id, trigger, str(event_id), written.duplicate)
            if written.version is not None:
                break
            conflicts += 1
            yield _Pause(self._conflict(entity_id, written, stored.version, conflicts))
        outcome = self._result(plan, trigger, event_id, written.version, conflicts)
        if front is not None and plan.commit.outcome is not None:
            yield _Remember(front, plan.commit.outcome)
        return (yield from self._deliver(plan, outcome))

    def _arm_timers(self, timers: Sequence[ScheduledTimer]) -> _Gen[dict[str, float]]:
        """Hand new timers to the scheduler; those it refused are due again soon."""
        retry_at: dict[str, float] = {}
        if self.scheduler is None:
            return retry_at
        for timer in timers:
            try:
                yield _Schedule(timer)
            except Exception as exc:
                log.warning("could not arm timer %s (%s): the dispatcher will", timer.timer_id, exc)
                retry_at[timer.timer_id] = self.clock() + self.retry.delay_for(1)
        return retry_at

    def _deliver(
        self, plan: _Plan, outcome: OrchestratorResult, unstarted: tuple[str, ...] = ()
    ) -> _Gen[OrchestratorResult]:
        """Carry out a committed plan. ``unstarted`` are services of the step a fallback
        cut short: never started, so the fallback does not stop them."""
        assert plan.commit is not None
        entity_id = plan.stored.entity_id
        for timer in plan.cancelled:
            if self.scheduler is not None:
                try:
                    yield _Cancel(timer.timer_id)
                except Exception as exc:  # harmless: a stale firing is refused anyway
                    log.warning("could not cancel timer %s: %s", timer.timer_id, exc)
        retry_at = yield from self._arm_timers(plan.armed)
        stopped = tuple(name for name in plan.stopped if name not in unstarted)
        for name in stopped:  # innermost first, as the states are exited
            yield _Services(False, entity_id, name, {})
        items = tuple(zip(plan.commit.action_keys(), plan.commit.actions, strict=True))
        if items:
            outcome = yield from self._run_inline(outcome, items, retry_at, plan.started)
        elif retry_at:
            yield _Settle(self.owner, armed=retry_at)
        # Services start once the step's actions ran; a fallback among them may have
        # left a state already, and its services are not started at all.
        started = plan.started
        if outcome.fallback is not None:
            active = self.machine.configuration_of(outcome.fallback.state)
            started = tuple(name for name in started if name in active)
        for name in started:
            yield _Services(True, entity_id, name, plan.action_context)
        if started != plan.started or stopped != plan.stopped:
            outcome = replace(outcome, services_started=started, services_stopped=stopped)
        return outcome

    def _run_inline(
        self,
        outcome: OrchestratorResult,
        items: tuple[tuple[str, ActionEffect], ...],
        armed: Mapping[str, float],
        unstarted: tuple[str, ...] = (),
    ) -> _Gen[OrchestratorResult]:
        """Run the step's actions now, retrying with backoff; every try is on record."""
        try:
            results: list[ActionResult] = yield _RunActions(items, self.owner)
        except Exception as exc:  # the commit stands; the dispatcher re-runs them
            log.exception("actions for %s failed to run", outcome.entity_id)
            return replace(
                outcome,
                action_attempts=1,
                action_error=repr(exc),
                failed_actions=tuple(e.name for _, e in items),
            )
        execution = ExecutionResult(results)
        attempts, retries, done = 1, [], []
        pending = list(zip(items, results, strict=True))
        while True:
            done += [key for (key, _), r in pending if r.success]
            failed = [(item, r) for item, r in pending if not r.success]
            if not failed or attempts >= self.retry.max_attempts:
                break
            delay = self.retry.delay_for(attempts)
            retry_at = self.clock() + delay + self.lease_seconds
            yield _Settle(
                self.owner,
                tuple(done),
                tuple(
                    FailedAction(key, attempts, str(r.error), retry_at, keep_claim=True)
                    for (key, _), r in failed
                ),
                armed,
            )
            done, armed = [], {}
            yield _Pause(delay, retry=True)
            keys = tuple(key for (key, _), _ in failed)
            held = yield _Renew(self.owner, keys, self.clock() + self.lease_seconds)
            again = tuple(item for item, _ in failed if item[0] in held)
            if not again:  # a dispatcher took them over while this process slept
                failed = []
                break
            results = yield _RunActions(again, self.owner)
            retries.append(ExecutionResult(results))
            attempts += 1
            pending = list(zip(again, results, strict=True))
        dead = tuple(
            self._dead_action(outcome.entity_id, key, effect, str(r.error), attempts)
            for (key, effect), r in failed
        )
        fallback = None
        if dead and self.retry.fallback is not None:
            fallback = yield from self._fall_back(
                outcome.entity_id, dead, tuple(done), armed, unstarted
            )
        elif dead or armed:
            yield _Settle(self.owner, tuple(done), (), armed, dead)
        elif done:
            yield _Done(tuple(done))
        return replace(
            outcome,
            execution=execution,
            retry_executions=tuple(retries),
            failed_actions=tuple(effect.name for (_, effect), _ in failed),
            action_attempts=attempts,
            fallback=fallback,
        )

    def _dead_action(
        self, entity_id: str, key: str, effect: ActionEffect, error: str, attempts: int
    ) -> DeadLetter:
        payload = {
            "name": effect.name,
            "params": dict(effect.params),
            "phase": effect.phase,
            "state": effect.state,
            "context": dict(effect.context),
        }
        log.error(
            "action %s (%s) is a dead letter after %d attempts: %s",
            effect.name,
            key,
            attempts,
            error,
        )
        return DeadLetter("action", key, entity_id, payload, error, attempts, self.clock())

    def _fall_back(
        self,
        entity_id: str,
        dead: tuple[DeadLetter, ...],
        done: tuple[str, ...],
        armed: Mapping[str, float],
        unstarted: tuple[str, ...] = (),
    ) -> _Gen[OrchestratorResult | None]:
        """Record the dead letters and move the entity to the fallback state, together."""
        target = str(self.retry.fallback)
        conflicts = 0
        while True:
            stored, _ = yield _Load(entity_id, None)
            if stored is None or target in self.machine.configuration_of(stored.state):
                yield _Settle(self.owner, done, (), armed, dead)
                return None
            plan = self._fallback_plan(stored, dead, done)
            assert plan.commit is not None
            written = yield _Commit(plan.commit)
            if written.version is not None:
                break
            conflicts += 1
            yield _Pause(self._conflict(entity_id, written, stored.version, conflicts))
        if armed:
            yield _Settle(self.owner, armed=armed)
        log.warning("entity %s moved to fallback state %s", entity_id, target)
        outcome = self._result(plan, FALLBACK_TRIGGER, None, written.version, conflicts)
        return (yield from self._deliver(plan, outcome, unstarted))

    def _bury_timer(self, timer: ScheduledTimer, error: str, attempts: int) -> _Gen[bool]:
        """A timer firing that failed every attempt: a dead letter, and no longer pending."""
        letter = DeadLetter(
            "timer",
            timer.timer_id,
            timer.entity_id,
            timer.to_dict(),
            error,
            attempts,
            self.clock(),
        )
        conflicts = 0
        while True:
            stored, first = yield _Load(timer.entity_id, timer.timer_id)
            if first is not None or stored is None:
                return False
            snapshot = self._snapshot(stored)
            spent = self._engine_timer(stored, snapshot, timer.timer_id)
            if spent is None:
                return False
            left = snapshot.without_timer(spent)
            rest = tuple(_schedule_of(timer.entity_id, left).values())
            outcome = {
                "success": False,
                "dead_letter": True,
                "error": error,
                "state": stored.state,
                "version": stored.version + 1,
            }
            target = self.retry.fallback
            if target is not None and target not in self.machine.configuration_of(stored.state):
                plan = self._fallback_plan(
                    replace(stored, timers=rest, snapshot=left.to_dict()), (letter,), ()
                )
                assert plan.commit is not None
                commit = replace(
                    plan.commit, event_id=timer.timer_id, outcome={**outcome, "state": plan.state}
                )
            else:
                plan = None
                commit = StepCommit(
                    stored.entity_id,
                    stored.version,
                    stored.state,
                    None,
                    rest,
                    snapshot=left.to_dict(),
                    event_id=timer.timer_id,
                    outcome=outcome,
                    dead_letters=(letter,),
                    **self._lease(),
                )
            written = yield _Commit(commit)
            if written.version is not None:
                break
            if written.duplicate is not None:
                return False
            conflicts += 1
            yield _Pause(self._conflict(timer.entity_id, written, stored.version, conflicts))
        log.error(
            "timer %s (%s for %s) is a dead letter after %d attempts: %s",
            timer.timer_id,
            timer.event,
            timer.entity_id,
            attempts,
            error,
        )
        if plan is not None:
            result = self._result(plan, FALLBACK_TRIGGER, None, written.version, conflicts)
            yield from self._deliver(plan, result)
        return True

    # ------------------------------------------------------------------ dispatching
    def _dispatch(self, limit: int) -> _Gen[int]:
        """One pass: claim due outbox rows and timers, deliver each, record how it went."""
        owner = new_owner()
        now = self.clock()
        claimed: Claimed = yield _Claim(owner, now, now + self.lease_seconds, limit)
        armed: dict[str, float] = {}
        for timer in claimed.timers:
            if self.scheduler is None:
                armed[timer.timer_id] = now + self.lease_seconds
                continue
            try:
                yield _Schedule(timer)
                armed[timer.timer_id] = max(timer.due_at, now) + self.rearm_after
            except Exception as exc:
                log.warning("could not arm timer %s (%s); will retry", timer.timer_id, exc)
                armed[timer.timer_id] = now + self.retry.delay_for(1)
        done: list[str] = []
        failed: list[FailedAction] = []
        dead: list[DeadLetter] = []
        for group in _steps(claimed.actions):
            items = tuple((a.key, a.effect) for a in group)
            results = yield _RunActions(items, owner)
            for action, r in zip(group, results, strict=True):
                attempts = action.attempts + 1
                if r.success:
                    done.append(action.key)
                elif attempts >= self.retry.max_attempts:
                    dead.append(
                        self._dead_action(
                            action.entity_id, action.key, action.effect, str(r.error), attempts
                        )
                    )
                else:
                    retry_at = self.clock() + self.retry.delay_for(attempts)
                    failed.append(FailedAction(action.key, attempts, str(r.error), retry_at))
        fallen = {d.entity_id for d in dead} if self.retry.fallback is not None else set()
        yield _Settle(
            owner,
            tuple(done),
            tuple(failed),
            armed,
            tuple(d for d in dead if d.entity_id not in fallen),
        )
        for entity_id in sorted(fallen):
            letters = tuple(d for d in dead if d.entity_id == entity_id)
            yield from self._fall_back(entity_id, letters, (), {})
        return len(claimed.actions) + len(claimed.timers)

    # ------------------------------------------------------------------ drivers
    def _drive(self, gen: _Gen[T]) -> T:
        """Run the step generator with blocking calls."""
        try:
            op = next(gen)
            while True:
                try:
                    value = self._perform(op)
                except Exception as exc:
                    op = gen.throw(exc)
                    continue
                op = gen.send(value)
        except StopIteration as stop:
            result: T = stop.value
            return result

    async def _adrive(self, gen: _Gen[T]) -> T:
        """Run the step generator with awaits."""
        try:
            op = next(gen)
            while True:
                try:
                    value = await self._aperform(op)
                except Exception as exc:
                    op = gen.throw(exc)
                    continue
                op = gen.send(value)
        except StopIteration as stop:
            result: T = stop.value
            return result

    def _perform(self, op: _Op) -> Any:
        """Do one operation of the step generator with blocking calls."""
        handler = _SYNC_OPS.get(type(op))
        if handler is None:
            raise OrchestratorUsageError(
                f"{type(op).__name__} needs the scheduler, whose operations are coroutines: use "
                "await orchestrator.async_process_event(...)"
            )
        return handler(self, op)

    async def _aperform(self, op: _Op) -> Any:
        """Do one operation of the step generator with awaits."""
        return await _ASYNC_OPS[type(op)](self, op)

    def _do_load(self, op: _Load) -> Any:
        return self.state_store.load_with_outcome(op.entity_id, op.event_id)

    def _do_step(self, op: _Step) -> Any:
        return self.machine.step(op.snapshot, op.event, op.context, now=op.now)

    def _do_start(self, op: _Start) -> Any:
        return self.machine.start({}, now=op.now)

    def _do_commit(self, op: _Commit) -> Any:
        commit, marks = self._marks.ride(op.commit)
        result = self.state_store.commit_many([commit])[0]
        if marks and not result.written:
            self._marks.add(marks)
        return result

    def _do_done(self, op: _Done) -> Any:
        self._marks.add(op.keys)
        return None

    def _do_runactions(self, op: _RunActions) -> Any:
        with self._leases.holding(op.owner, tuple(k for k, _ in op.items)):
            return [self._run_one(key, effect) for key, effect in op.items]

    def _do_settle(self, op: _Settle) -> Any:
        self.state_store.settle(
            op.owner, done=op.done, failed=op.failed, armed=op.armed, dead=op.dead
        )
        return None

    def _do_renew(self, op: _Renew) -> Any:
        return self.state_store.renew(op.owner, op.keys, op.until)

    def _do_claim(self, op: _Claim) -> Any:
        return self.state_store.claim(op.owner, op.now, op.until, op.limit)

    def _do_pause(self, op: _Pause) -> Any:
        (self.retry.sleep if op.retry else time.sleep)(op.seconds)
        return None

    def _do_services(self, op: _Services) -> Any:
        if op.start:
            self.invoke_adapter.start_services(
                op.entity_id, op.state, self._invoke_specs(op.state), op.context
            )
        else:
            self.invoke_adapter.stop_services(op.entity_id, op.state)
        return None

    def _do_remember(self, op: _Remember) -> Any:
        assert self.idempotency is not None
        if op.outcome is None:
            return self.idempotency.get(op.key)
        self.idempotency.complete(op.key, op.outcome)
        return None

    async def _ado_load(self, op: _Load) -> Any:
        return await self.state_store.async_load_with_outcome(op.entity_id, op.event_id)

    async def _ado_step(self, op: _Step) -> Any:
        return await self.machine.async_step(op.snapshot, op.event, op.context, now=op.now)

    async def _ado_start(self, op: _Start) -> Any:
        return await self.machine.async_start({}, now=op.now)

    async def _ado_commit(self, op: _Commit) -> Any:
        commit, marks = self._marks.ride(op.commit)
        result = (await self.state_store.async_commit_many([commit]))[0]
        if marks and not result.written:
            self._marks.add(marks)
        return result

    async def _ado_done(self, op: _Done) -> Any:
        self._marks.add(op.keys)
        return None

    async def _ado_runactions(self, op: _RunActions) -> Any:
        with self._leases.holding(op.owner, tuple(k for k, _ in op.items)):
            return [await self._arun_one(key, effect) for key, effect in op.items]

    async def _ado_settle(self, op: _Settle) -> Any:
        await self.state_store.async_settle(
            op.owner, done=op.done, failed=op.failed, armed=op.armed, dead=op.dead
        )
        return None

    async def _ado_renew(self, op: _Renew) -> Any:
        return await self.state_store.async_renew(op.owner, op.keys, op.until)

    async def _ado_claim(self, op: _Claim) -> Any:
        return await self.state_store.async_claim(op.owner, op.now, op.until, op.limit)

    async def _ado_pause(self, op: _Pause) -> Any:
        await (self.retry.async_sleep(op.seconds) if op.retry else asyncio.sleep(op.seconds))
        return None

    async def _ado_schedule(self, op: _Schedule) -> Any:
        assert self.scheduler is not None
        await self.scheduler.schedule(op.timer)
        return None

    async def _ado_cancel(self, op: _Cancel) -> Any:
        assert self.scheduler is not None
        await self.scheduler.cancel(op.timer_id)
        return None

    async def _ado_services(self, op: _Services) -> Any:
        if op.start:
            await _maybe_await(
                self.invoke_adapter.start_services(
                    op.entity_id, op.state, self._invoke_specs(op.state), op.context
                )
            )
        else:
            await _maybe_await(self.invoke_adapter.stop_services(op.entity_id, op.state))
        return None

    async def _ado_remember(self, op: _Remember) -> Any:
        assert self.idempotency is not None
        if op.outcome is None:
            return await self.idempotency.async_get(op.key)
        await self.idempotency.async_complete(op.key, op.outcome)
        return None

    def _run_one(self, key: str, effect: ActionEffect) -> ActionResult:
        ctx = {**effect.context, IDEMPOTENCY_KEY: key}
        (result,) = self.executor.execute(_phase_result(effect, ""), ctx).results
        return result

    async def _arun_one(self, key: str, effect: ActionEffect) -> ActionResult:
        ctx = {**effect.context, IDEMPOTENCY_KEY: key}
        (result,) = (await self.executor.async_execute(_phase_result(effect, ""), ctx)).results
        return result

    # ------------------------------------------------------------------ async API
    async def async_process_event(
        self,
        entity_id: str,
        event: str | Event,
        context: Mapping[str, Any] | None = None,
        *,
        event_id: str | None = None,
        timer_id: str | None = None,
    ) -> OrchestratorResult:
        """Load, compute, commit, deliver. ``event_id`` makes the call idempotent."""
        return await self._adrive(self._event(entity_id, event, context, event_id, timer_id))

    async def async_fire_timer(
        self, entity_id: str, event: str, timer_id: str
    ) -> OrchestratorResult:
        """The schedulers' ``on_fire``: a timer is an event whose id is the timer id."""
        return await self.async_process_event(
            entity_id, event, event_id=timer_id, timer_id=timer_id
        )

    async def async_bury_timer(self, timer: ScheduledTimer, error: str, attempts: int) -> bool:
        """The schedulers' ``on_dead``: record a firing that failed every attempt.

        The timer stops being pending, a dead letter keeps it with the error, and
        ``retry.fallback`` (if set) moves the entity; ``False`` if the timer had
        already been handled (fired, cancelled or buried by someone else).
        """
        return await self._adrive(self._bury_timer(timer, error, attempts))

    async def async_dispatch_once(self, limit: int = 100) -> int:
        """Deliver up to ``limit`` due outbox rows and timers once; how many were claimed."""
        return await self._adrive(self._dispatch(limit))

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

        Creating commits the engine's ``start`` step: the initial states' entry
        actions run (after the commit, like any step's), their timers are armed and
        their services started, exactly as the simulator starts a machine.
        """
        stored, _ = await self._adrive(self._load_or_create(entity_id, None))
        return stored

    async def async_get_state(self, entity_id: str) -> StoredState | None:
        return await self.state_store.async_load(entity_id)

    # ------------------------------------------------------------------ sync API
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
        """The synchronous form (no scheduler; sync store, guards, actions and adapter)."""
        self._check_sync()
        return self._drive(self._event(entity_id, event, context, event_id, None))

    def flush(self) -> None:
        """Write the done marks still waiting to ride on a commit (see ``mark_delay``)."""
        self._marks.flush()

    def dispatch_once(self, limit: int = 100) -> int:
        """Sync ``async_dispatch_once``: re-run unfinished actions (no scheduler allowed)."""
        self._check_sync()
        return self._drive(self._dispatch(limit))

    def create(self, entity_id: str) -> StoredState:
        """Sync ``async_create`` (no scheduler allowed: timers need the async path)."""
        self._check_sync()
        stored, _ = self._drive(self._load_or_create(entity_id, None))
        return stored

    def get_state(self, entity_id: str) -> StoredState | None:
        return self.state_store.load(entity_id)

    def service_done(
        self, entity_id: str, service_id: str, context: Mapping[str, Any] | None = None
    ) -> OrchestratorResult | None:
        on_done = self._service_event(self.state_store.load(entity_id), service_id)
        return None if on_done is None else self.process_event(entity_id, on_done, context)


# How each operation of the step generator is performed, by each driver.
_SYNC_OPS: dict[type, Any] = {
    _Load: Orchestrator._do_load,
    _Step: Orchestrator._do_step,
    _Start: Orchestrator._do_start,
    _Commit: Orchestrator._do_commit,
    _Done: Orchestrator._do_done,
    _RunActions: Orchestrator._do_runactions,
    _Settle: Orchestrator._do_settle,
    _Renew: Orchestrator._do_renew,
    _Claim: Orchestrator._do_claim,
    _Pause: Orchestrator._do_pause,
    _Services: Orchestrator._do_services,
    _Remember: Orchestrator._do_remember,
}
_ASYNC_OPS: dict[type, Any] = {
    _Load: Orchestrator._ado_load,
    _Step: Orchestrator._ado_step,
    _Start: Orchestrator._ado_start,
    _Commit: Orchestrator._ado_commit,
    _Done: Orchestrator._ado_done,
    _RunActions: Orchestrator._ado_runactions,
    _Settle: Orchestrator._ado_settle,
    _Renew: Orchestrator._ado_renew,
    _Claim: Orchestrator._ado_claim,
    _Pause: Orchestrator._ado_pause,
    _Schedule: Orchestrator._ado_schedule,
    _Cancel: Orchestrator._ado_cancel,
    _Services: Orchestrator._ado_services,
    _Remember: Orchestrator._ado_remember,
}


def _steps(actions: Sequence[PendingAction]) -> list[list[PendingAction]]:
    """Claimed actions grouped by the commit that made them, each group in order."""
    groups: dict[tuple[str, int], list[PendingAction]] = {}
    for action in actions:
        groups.setdefault((action.entity_id, action.version), []).append(action)
    return [sorted(g, key=lambda a: a.seq) for g in groups.values()]


class _DoneMarks:
    """Done marks of completed actions, written together instead of one transaction each.

    They ride on the orchestrator's next commit (``ride``); a daemon thread writes
    whatever is still waiting after ``delay`` seconds, so an idle process settles
    its outbox rows promptly too.
    """

    def __init__(self, orchestrator: Orchestrator, delay: float) -> None:
        self.orchestrator = orchestrator
        self.delay = delay
        self.lock = threading.Lock()
        self.keys: list[str] = []
        self.thread: threading.Thread | None = None

    def add(self, keys: Sequence[str]) -> None:
        if self.delay <= 0:
            self.orchestrator.state_store.settle(self.orchestrator.owner, done=keys)
            return
        with self.lock:
            self.keys.extend(keys)
            if self.thread is None:
                self.thread = threading.Thread(
                    target=self._loop, name="pystator-done-marks", daemon=True
                )
                self.thread.start()

    def take(self) -> tuple[str, ...]:
        with self.lock:
            keys, self.keys = tuple(self.keys), []
            return keys

    def ride(self, commit: StepCommit) -> tuple[StepCommit, tuple[str, ...]]:
        """``commit`` carrying the waiting marks (and which they were)."""
        if not self.keys:
            return commit, ()
        marks = self.take()
        return replace(commit, done_actions=commit.done_actions + marks), marks

    def flush(self) -> None:
        marks = self.take()
        if marks:
            try:
                self.orchestrator.state_store.settle(self.orchestrator.owner, done=marks)
            except Exception as exc:  # the next flush (or the lease's end) settles them
                log.warning("could not mark %d actions done: %s", len(marks), exc)
                with self.lock:
                    self.keys.extend(marks)

    def _loop(self) -> None:
        idle = 0
        while idle < 20:
            time.sleep(self.delay)
            if self.keys:
                idle = 0
                self.flush()
            else:
                idle += 1
        with self.lock:
            self.thread = None
            pending = bool(self.keys)
        if pending:
            self.add(())


class _LeaseKeeper:
    """Renews the claims on actions while they run, so a long action is not taken over.

    One daemon thread per orchestrator, started when an action starts and ended once
    nothing has run for a renewal period; each claim running longer than a third of
    ``lease_seconds`` is extended by another lease.
    """

    def __init__(self, orchestrator: Orchestrator) -> None:
        self.orchestrator = orchestrator
        self.lock = threading.Lock()
        self.running: dict[int, tuple[str, tuple[str, ...], float]] = {}
        self.counter = itertools.count()
        self.thread: threading.Thread | None = None

    @contextlib.contextmanager
    def holding(self, owner: str, keys: tuple[str, ...]) -> Iterator[None]:
        if not keys or self.orchestrator.lease_seconds <= 0:
            yield
            return
        token = next(self.counter)
        with self.lock:
            self.running[token] = (owner, keys, time.monotonic())
            if self.thread is None:
                self.thread = threading.Thread(
                    target=self._loop, name="pystator-lease-keeper", daemon=True
                )
                self.thread.start()
        try:
            yield
        finally:
            with self.lock:
                self.running.pop(token, None)

    def _loop(self) -> None:
        o = self.orchestrator
        period = o.lease_seconds / 3
        while True:
            time.sleep(period)
            now = time.monotonic()
            with self.lock:
                if not self.running:
                    self.thread = None
                    return
                due = [(w, k) for w, k, since in self.running.values() if now - since >= period]
            for owner, keys in due:
                try:
                    o.state_store.renew(owner, keys, o.clock() + o.lease_seconds)
                except Exception as exc:  # the next period tries again
                    log.warning("could not renew the lease on %s: %s", keys, exc)


async def _maybe_await(value: Awaitable[None] | None) -> None:
    if value is not None and inspect.isawaitable(value):
        await value
