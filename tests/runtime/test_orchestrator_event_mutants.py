"""How one event goes through the orchestrator, read field by field.

The path every event takes (load with the event id's first outcome, step, plan,
commit, back off and recompute on a lost race, answer a duplicate, report) is
checked here by what it leaves behind: the ``OrchestratorResult``, the stored
entity and snapshot, the audit row, the dedup record, the outbox rows an action sees
while it runs, the services the adapter is asked to start and stop. Sync and async
paths run the same test (``drive``). A ``RacingStore`` lets "another worker" commit
between a step's load and its commit, to lose races and meet duplicates on purpose.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from pystator import ActionRegistry, Event, GuardRegistry, InvokeSpec, StateMachine
from pystator.runtime import (
    CREATE_TRIGGER,
    IDEMPOTENCY_KEY,
    AsyncioScheduler,
    CommitResult,
    ConflictRetriesExhausted,
    InMemoryIdempotencyStore,
    InMemoryStateStore,
    Orchestrator,
    OrchestratorUsageError,
    RetryPolicy,
    ScheduledTimer,
    SQLiteStateStore,
    StepCommit,
)
from tests.drivers import ORCHESTRATOR_DRIVERS, OrchestratorDriver
from tests.runtime.adapters import AsyncServiceLog, ServiceLog, service_log_for

DRIVE = pytest.mark.parametrize("drive", ORCHESTRATOR_DRIVERS)

SHOP = """
meta: {machine_name: shop}
states:
  - name: idle
    type: initial
    on_enter: [{name: hello, params: {tone: warm}}]
    invoke: [{id: watcher, src: camera}]
  - name: cart
    on_enter: [{name: greet, params: {n: 1}}]
    on_exit: [bye]
  - name: paying
    invoke:
      - {id: gateway, src: bank, on_done: paid}
      - {id: ledger, src: log}
  - {name: hop, invoke: [{id: hopper, src: rabbit}]}
  - {name: done}
transitions:
  - {trigger: nudge, source: idle, dest: cart, after: 1000}
  - {trigger: add, source: idle, dest: cart, actions: [{name: record, params: {sku: A1}}]}
  - {trigger: expire, source: cart, dest: idle, after: 5000}
  - {trigger: pay, source: cart, dest: paying, guards: [{expr: "total >= 10"}]}
  - {trigger: leave, source: cart, dest: done}
  - {trigger: paid, source: paying, dest: done}
  - {trigger: skip, source: idle, dest: hop}
  - {trigger: hop_timer, source: hop, dest: done, after: 1000}
  - {source: hop, dest: done, always: true}
"""
"""``idle`` (initial) arms ``nudge`` and has a service; ``hop`` arms a timer and starts a
service but is left within the same step, so neither is ever armed nor started."""

COUNTER = """
meta: {machine_name: counter}
states:
  - {name: A, type: initial}
  - {name: B}
transitions:
  - {trigger: inc, source: A, dest: B, guards: [counted]}
  - {trigger: inc, source: B, dest: A, guards: [counted]}
  - {trigger: open, source: A, dest: B, guards: [{expr: "ok"}]}
"""

ACTION_NAMES = ("hello", "greet", "bye", "record")


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def recording(log: list[tuple[str, dict[str, Any]]]) -> ActionRegistry:
    """Every action of SHOP, recording its name and the context it was given."""
    actions = ActionRegistry()
    for name in ACTION_NAMES:
        actions.register(name, lambda ctx, name=name: log.append((name, dict(ctx))))
    return actions


class RacingStore(InMemoryStateStore):
    """An in-memory store where "another worker" may commit just before a commit.

    Each queued hook runs once, right before the next commit the orchestrator makes
    (commits the hook makes itself run no hook).
    """

    def __init__(self) -> None:
        super().__init__()
        self.hooks: list[Callable[[], Any]] = []
        self.results: list[CommitResult] = []
        self._busy = False

    def commit_many(self, commits: Sequence[StepCommit]) -> list[CommitResult]:
        if self.hooks and not self._busy:
            hook = self.hooks.pop(0)
            self._busy = True
            try:
                hook()
            finally:
                self._busy = False
        results = super().commit_many(commits)
        if not self._busy:
            self.results.extend(results)
        return results

    def bump(self, entity_id: str) -> Callable[[], None]:
        """A hook: another worker commits a version of ``entity_id`` (same state)."""

        def hook() -> None:
            current = self.load(entity_id)
            assert current is not None
            self.save(entity_id, current.state, current.version)

        return hook


def counting_guards(calls: list[str]) -> GuardRegistry:
    def counted(ctx: Mapping[str, Any]) -> bool:
        calls.append("counted")
        return True

    guards = GuardRegistry()
    guards.register("counted", counted)
    return guards


# ---------------------------------------------------------------- create


@DRIVE
def test_creating_commits_the_start_step_and_returns_what_was_stored(
    drive: OrchestratorDriver,
) -> None:
    log: list[tuple[str, dict[str, Any]]] = []
    store = InMemoryStateStore()
    adapter = service_log_for(drive)
    orch = Orchestrator(
        StateMachine.from_string(SHOP),
        store,
        None,
        recording(log),
        invoke_adapter=adapter,
        clock=FakeClock(),
        mark_delay=0,
    )
    created = drive.create(orch, "s1")
    timer = ScheduledTimer("s1#0@1000000", "s1", "idle", "nudge", 1001.0)
    assert created == store.load("s1")
    assert (created.entity_id, created.state, created.version) == ("s1", "idle", 1)
    assert created.context is None and created.timers == (timer,)
    assert created.snapshot is not None and created.snapshot["configuration"] == ["idle"]
    assert created.snapshot["timers"][0]["armed_at_ms"] == 1_000_000, "started on the clock"
    trail = store.audit_trail("s1")
    assert [(r.version, r.from_state, r.to_state, r.trigger, r.event_id) for r in trail] == [
        (1, "", "idle", CREATE_TRIGGER, None)
    ]
    assert trail[0].timestamp == 1000.0, "the audit row is stamped with the orchestrator's clock"
    assert log == [
        (
            "hello",
            {"entity_id": "s1", IDEMPOTENCY_KEY: "s1:1:0", "_action_params": {"tone": "warm"}},
        )
    ]
    assert store.pending_actions("s1") == [], "the entry action is done"
    assert adapter.calls == [("start", "s1", "idle", ("watcher",), {"entity_id": "s1"})]
    assert store.timer_arm_at(timer.timer_id) == 1030.0, "claimed for the lease (30 s)"

    again = drive.create(orch, "s1")
    assert again == created and len(store.audit_trail("s1")) == 1 and len(log) == 1
    assert drive.get_state(orch, "s1") == created
    assert drive.get_state(orch, "nobody") is None


@DRIVE
def test_a_create_that_loses_the_race_returns_the_entity_the_winner_made(
    drive: OrchestratorDriver,
) -> None:
    log: list[tuple[str, dict[str, Any]]] = []
    store = RacingStore()
    machine = StateMachine.from_string(SHOP)
    winner = Orchestrator(machine, store, None, recording([]), clock=FakeClock(2000.0))
    orch = Orchestrator(machine, store, None, recording(log), clock=FakeClock(), mark_delay=0)
    store.hooks.append(lambda: winner.create("s1"))
    created = drive.create(orch, "s1")
    assert [r.written for r in store.results] == [False]
    assert created == store.load("s1") and created.version == 1
    assert created.timers[0].due_at == 2001.0, "the winner's entity, not a second one"
    assert log == [], "the loser ran no entry action"


def test_creating_with_a_scheduler_arms_the_initial_timers() -> None:
    clock = FakeClock()
    scheduler = AsyncioScheduler(clock=clock)
    store = InMemoryStateStore()
    orch = Orchestrator(
        StateMachine.from_string(SHOP), store, None, recording([]), scheduler=scheduler
    )
    assert orch.clock() == 1000.0, "the scheduler's clock by default"
    assert scheduler.on_dead == orch.async_bury_timer and scheduler.retry is orch.retry

    async def main() -> None:
        created = await orch.async_create("s1")
        assert [t.timer_id for t in scheduler.pending] == ["s1#0@1000000"]
        assert store.timer_arm_at("s1#0@1000000") == 1006.0, "re-armed 5 s after due"
        assert created.timers == tuple(scheduler.pending)
        await scheduler.stop()

    asyncio.run(main())


# ---------------------------------------------------------------- one event, whole


@DRIVE
def test_an_event_commits_audit_timers_outbox_and_snapshot_as_the_step_says(
    drive: OrchestratorDriver,
) -> None:
    log: list[tuple[str, dict[str, Any]]] = []
    store = InMemoryStateStore()
    rows: list[Any] = []
    actions = recording(log)
    actions.register(
        "record", lambda ctx: rows.extend(a for a in store.pending_actions("s1") if a.version == 2)
    )
    clock = FakeClock()
    orch = Orchestrator(
        StateMachine.from_string(SHOP), store, None, actions, clock=clock, mark_delay=0
    )
    drive.create(orch, "s1")
    clock.now = 1010.0
    event = Event("add", {"coupon": "X"}, event_id="add-1")
    result = drive.process_event(orch, "s1", event, {"user": "ann"})
    assert (result.entity_id, result.trigger, result.event_id) == ("s1", "add", "add-1")
    assert (result.state, result.version, result.conflicts) == ("cart", 2, 0)
    assert not result.duplicate and not result.stale_timer and result.committed
    assert result.transition is not None and result.transition.source_state == "idle"
    assert result.action_keys == ("s1:2:0", "s1:2:1")
    expire = ScheduledTimer("s1#1@1010000", "s1", "cart", "expire", 1015.0)
    nudge = ScheduledTimer("s1#0@1000000", "s1", "idle", "nudge", 1001.0)
    assert result.armed_timers == (expire,) and result.cancelled_timers == (nudge,)
    assert result.services_stopped == ("idle",) and result.services_started == ()

    stored = store.load("s1")
    assert stored is not None and stored.timers == (expire,)
    assert stored.snapshot is not None and stored.snapshot["configuration"] == ["cart"]
    assert stored.context is None, "the context is not kept unless persist_context"
    (row,) = store.audit_trail("s1")[1:]
    assert (row.from_state, row.to_state, row.trigger, row.event_id) == (
        "idle",
        "cart",
        "add",
        "add-1",
    )
    assert row.timestamp == 1010.0

    seen = {"coupon": "X", "user": "ann", "entity_id": "s1"}
    assert [(a.key, a.effect.name, a.effect.phase, a.effect.state) for a in rows] == [
        ("s1:2:0", "record", "transition", None),
        ("s1:2:1", "greet", "enter", "cart"),
    ]
    assert [dict(a.effect.params) for a in rows] == [{"sku": "A1"}, {"n": 1}]
    assert [dict(a.effect.context) for a in rows] == [seen, seen]
    assert log[-1] == ("greet", {**seen, IDEMPOTENCY_KEY: "s1:2:1", "_action_params": {"n": 1}})
    first = store.load_with_outcome("s1", "add-1")[1]
    assert first == result.summary()
    assert first is not None and first["version"] == 2 and first["source_state"] == "idle"

    left = drive.process_event(orch, "s1", "leave")
    assert store.pending_actions("s1") == []
    assert [name for name, _ in log][-1] == "bye" and left.state == "done"
    assert left.cancelled_timers == (expire,) and left.armed_timers == ()


@DRIVE
def test_timers_and_services_of_a_state_left_within_the_step_are_never_delivered(
    drive: OrchestratorDriver,
) -> None:
    adapter = service_log_for(drive)
    orch = Orchestrator(
        StateMachine.from_string(SHOP),
        InMemoryStateStore(),
        None,
        recording([]),
        invoke_adapter=adapter,
        clock=FakeClock(),
    )
    result = drive.process_event(orch, "s1", "skip")
    assert result.transition is not None and result.transition.exited_states == ("idle", "hop")
    assert result.state == "done" and result.armed_timers == ()
    assert [t.state for t in result.cancelled_timers] == ["idle"], "hop's timer never pended"
    assert result.services_started == () and result.services_stopped == ("idle",)
    assert adapter.calls[1:] == [("stop", "s1", "idle")]


@DRIVE
def test_services_start_with_their_specs_and_the_events_context(
    drive: OrchestratorDriver,
) -> None:
    adapter = service_log_for(drive)
    orch = Orchestrator(
        StateMachine.from_string(SHOP),
        InMemoryStateStore(),
        None,
        recording([]),
        invoke_adapter=adapter,
    )
    drive.process_event(orch, "s1", "add")
    result = drive.process_event(orch, "s1", Event.simple("pay", total=12), {"user": "ann"})
    assert result.services_started == ("paying",)
    ctx = {"total": 12, "user": "ann", "entity_id": "s1"}
    assert adapter.calls[-1] == ("start", "s1", "paying", ("gateway", "ledger"), ctx)
    assert drive.service_done(orch, "s1", "ledger") is None, "a service without on_done"
    assert drive.service_done(orch, "s1", "nothing") is None, "no such service"
    assert drive.service_done(orch, "nobody", "gateway") is None, "no such entity"
    done = drive.service_done(orch, "s1", "gateway")
    assert done is not None and (done.trigger, done.state, done.version) == ("paid", "done", 4)
    assert adapter.calls[-1:] == [("stop", "s1", "paying")]


def test_service_done_passes_its_context_to_the_guards() -> None:
    machine = StateMachine.from_string(
        SHOP.replace(
            "{trigger: paid, source: paying, dest: done}",
            '{trigger: paid, source: paying, dest: done, guards: [{expr: "receipt"}]}',
        )
    )
    orch = Orchestrator(machine, InMemoryStateStore(), None, recording([]))
    orch.process_event("s1", "add")
    orch.process_event("s1", Event.simple("pay", total=12))
    refused = orch.service_done("s1", "gateway", {"receipt": False})
    assert refused is not None and not refused.success and refused.state == "paying"
    done = orch.service_done("s1", "gateway", {"receipt": True})
    assert done is not None and done.state == "done"

    async def main() -> None:
        await orch.async_process_event("s2", "add")
        await orch.async_process_event("s2", Event.simple("pay", total=12))
        refused = await orch.async_service_done("s2", "gateway", {"receipt": False})
        assert refused is not None and refused.state == "paying"
        done = await orch.async_service_done("s2", "gateway", {"receipt": True})
        assert done is not None and done.state == "done"

    asyncio.run(main())


# ---------------------------------------------------------------- refusals


@DRIVE
def test_a_refused_event_without_an_id_writes_nothing_and_reports_the_stored_state(
    drive: OrchestratorDriver,
) -> None:
    store = InMemoryStateStore()
    orch = Orchestrator(StateMachine.from_string(SHOP), store, None, recording([]))
    drive.process_event(orch, "s1", "add")
    before = store.load("s1")
    result = drive.process_event(orch, "s1", "pay", {"total": 3})
    assert (result.entity_id, result.trigger, result.event_id) == ("s1", "pay", None)
    assert (result.state, result.version) == ("cart", 2)
    assert result.transition is not None and result.transition.source_state == "cart"
    assert "total >= 10" in str(result.transition.error)
    assert result.action_keys == () and result.conflicts == 0 and not result.success
    assert store.load("s1") == before and len(store.audit_trail("s1")) == 2

    plain = drive.process_event(orch, "s1", "paid")
    assert (plain.trigger, plain.event_id, plain.state, plain.version) == ("paid", None, "cart", 2)
    assert plain.armed_timers == () and plain.action_keys == ()


@DRIVE
def test_a_refused_event_with_an_id_is_remembered_without_a_new_version(
    drive: OrchestratorDriver,
) -> None:
    store = InMemoryStateStore()
    orch = Orchestrator(StateMachine.from_string(SHOP), store, None, recording([]))
    drive.process_event(orch, "s1", "add")
    refused = drive.process_event(orch, "s1", "pay", {"total": 3}, event_id="p1")
    assert (refused.state, refused.version, refused.event_id) == ("cart", 2, "p1")
    assert refused.transition is not None and refused.transition.source_state == "cart"
    stored, first = store.load_with_outcome("s1", "p1")
    assert stored is not None and stored.version == 2, "a refusal does not bump the version"
    assert first == {
        "entity_id": "s1",
        "trigger": "pay",
        "event_id": "p1",
        "success": False,
        "source_state": "cart",
        "target_state": None,
        "error": str(refused.transition.error),
        "state": "cart",
        "version": 2,
        "stale_timer": False,
    }
    again = drive.process_event(orch, "s1", "pay", {"total": 30}, event_id="p1")
    assert again.duplicate and again.first_outcome == first and again.state == "cart"
    moved = drive.process_event(orch, "s1", "pay", {"total": 30}, event_id="p2")
    assert moved.state == "paying" and moved.version == 3


# ---------------------------------------------------------------- duplicates


@DRIVE
def test_a_duplicate_is_answered_from_the_store_before_any_guard_runs(
    drive: OrchestratorDriver,
) -> None:
    calls: list[str] = []
    store = InMemoryStateStore()
    orch = Orchestrator(StateMachine.from_string(COUNTER), store, counting_guards(calls))
    first = drive.process_event(orch, "c1", "inc", event_id="e1")
    assert calls == ["counted"] and first.version == 2
    repeated = drive.process_event(orch, "c1", "inc", event_id="e1")
    assert repeated.duplicate and calls == ["counted"], "a duplicate runs no guard"
    again = drive.process_event(orch, "c1", "open", {"ok": True}, event_id="e1")
    assert (again.entity_id, again.trigger, again.event_id) == ("c1", "open", "e1")
    assert (again.state, again.version) == ("B", 2) and again.duplicate
    assert again.transition is None and again.success
    assert again.first_outcome == first.summary()
    assert len(store.audit_trail("c1")) == 2


@DRIVE
def test_a_duplicate_met_at_commit_gets_the_first_outcome(drive: OrchestratorDriver) -> None:
    store = RacingStore()
    machine = StateMachine.from_string(COUNTER)
    other = Orchestrator(machine, store, counting_guards([]))
    orch = Orchestrator(machine, store, counting_guards([]))
    drive.create(orch, "c1")
    won: list[Any] = []
    # The other worker is refused the same event id: remembered, and the version stays.
    store.hooks.append(
        lambda: won.append(other.process_event("c1", "open", {"ok": False}, event_id="e1"))
    )
    result = drive.process_event(orch, "c1", "open", {"ok": True}, event_id="e1")
    assert [r.duplicate is not None for r in store.results] == [False, True]
    assert result.duplicate and result.first_outcome == won[0].summary()
    assert (result.entity_id, result.trigger, result.event_id) == ("c1", "open", "e1")
    assert (result.state, result.version, result.success) == ("A", 1, False)
    assert store.load("c1").state == "A"  # type: ignore[union-attr]


@DRIVE
def test_an_explicit_event_id_wins_over_the_events_own(drive: OrchestratorDriver) -> None:
    store = InMemoryStateStore()
    orch = Orchestrator(StateMachine.from_string(COUNTER), store, counting_guards([]))
    event = Event("inc", {}, event_id="own")
    result = drive.process_event(orch, "c1", event, event_id="given")
    assert result.event_id == "given"
    assert store.load_with_outcome("c1", "given")[1] is not None
    assert store.load_with_outcome("c1", "own")[1] is None
    assert drive.process_event(orch, "c1", event).state == "A", "its own id is a new event"


@DRIVE
def test_the_idempotency_front_answers_without_the_state_store(drive: OrchestratorDriver) -> None:
    calls: list[str] = []
    idem = InMemoryIdempotencyStore()
    machine = StateMachine.from_string(COUNTER)
    orch = Orchestrator(machine, InMemoryStateStore(), counting_guards(calls), idempotency=idem)
    first = drive.process_event(orch, "c1", "inc", event_id="e1")
    assert idem.get("c1:e1") == first.summary()
    fresh = InMemoryStateStore()
    front = Orchestrator(machine, fresh, counting_guards(calls), idempotency=idem)
    again = drive.process_event(front, "c1", "open", {"ok": True}, event_id="e1")
    assert again.duplicate and again.first_outcome == first.summary()
    assert (again.entity_id, again.trigger, again.event_id) == ("c1", "open", "e1")
    assert (again.state, again.version) == ("B", 2)
    assert fresh.load("c1") is None and calls == ["counted"], "answered before any load"

    refused = drive.process_event(orch, "c1", "open", {"ok": True}, event_id="e2")
    assert not refused.success and idem.get("c1:e2") == refused.summary()

    unnamed = [drive.process_event(orch, "c1", "inc") for _ in range(2)]
    assert [r.duplicate for r in unnamed] == [False, False], "no id, nothing to remember"
    assert [r.version for r in unnamed] == [3, 4] and idem.get("c1:None") is None


@DRIVE
def test_a_first_outcome_without_state_or_version_reads_as_empty(
    drive: OrchestratorDriver,
) -> None:
    idem = InMemoryIdempotencyStore()
    idem.complete("c1:e1", {"success": True})  # written by another system sharing the store
    orch = Orchestrator(
        StateMachine.from_string(COUNTER),
        InMemoryStateStore(),
        counting_guards([]),
        idempotency=idem,
    )
    again = drive.process_event(orch, "c1", "inc", event_id="e1")
    assert again.duplicate and (again.state, again.version) == ("", 0) and again.success


@DRIVE
def test_event_ids_without_an_idempotency_store_are_deduplicated_by_the_state_store(
    drive: OrchestratorDriver,
) -> None:
    orch = Orchestrator(
        StateMachine.from_string(COUNTER), InMemoryStateStore(), counting_guards([])
    )
    assert not drive.process_event(orch, "c1", "inc", event_id="e1").duplicate
    assert drive.process_event(orch, "c1", "inc", event_id="e1").duplicate


# ---------------------------------------------------------------- lost races


@DRIVE
def test_a_lost_race_backs_off_then_recomputes_and_counts_the_conflicts(
    drive: OrchestratorDriver, monkeypatch: pytest.MonkeyPatch
) -> None:
    bounds: list[tuple[float, float]] = []
    pauses: list[float] = []
    policy_sleeps: list[float] = []

    def uniform(low: float, high: float) -> float:
        bounds.append((low, high))
        return high

    def sleep(seconds: float) -> None:
        if threading.current_thread() is threading.main_thread():
            pauses.append(seconds)

    async def async_sleep(seconds: float) -> None:
        pauses.append(seconds)

    monkeypatch.setattr(random, "uniform", uniform)
    monkeypatch.setattr(time, "sleep", sleep)
    monkeypatch.setattr(asyncio, "sleep", async_sleep)

    async def policy_async_sleep(seconds: float) -> None:
        policy_sleeps.append(seconds)

    retry = RetryPolicy(sleep=policy_sleeps.append, async_sleep=policy_async_sleep)
    calls: list[str] = []
    store = RacingStore()
    orch = Orchestrator(
        StateMachine.from_string(COUNTER), store, counting_guards(calls), retry=retry
    )
    drive.create(orch, "c1")
    store.hooks.extend([store.bump("c1")] * 7)
    result = drive.process_event(orch, "c1", "inc")
    assert result.conflicts == 7 and (result.state, result.version) == ("B", 9)
    assert [r.conflict for r in store.results[1:]] == [2, 3, 4, 5, 6, 7, 8, None]
    assert len(calls) == 8, "the step is computed again from each new version"
    caps = [0.002, 0.004, 0.008, 0.016, 0.032, 0.05, 0.05]
    assert [low for low, _ in bounds] == [0] * 7
    assert [high for _, high in bounds] == pytest.approx(caps)
    assert pauses == pytest.approx(caps)
    assert policy_sleeps == [], "a conflict backoff is not a retry backoff"


@DRIVE
def test_conflict_retries_stop_after_max_conflict_retries(
    drive: OrchestratorDriver, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def no_sleep(seconds: float) -> None:
        return None

    monkeypatch.setattr(time, "sleep", lambda seconds: None)
    monkeypatch.setattr(asyncio, "sleep", no_sleep)
    store = RacingStore()
    orch = Orchestrator(
        StateMachine.from_string(COUNTER), store, counting_guards([]), max_conflict_retries=2
    )
    drive.create(orch, "c1")
    store.hooks.extend([store.bump("c1")] * 2)
    assert drive.process_event(orch, "c1", "inc").conflicts == 2, "two are within the limit"
    drive.create(orch, "c2")
    store.hooks.extend([store.bump("c2")] * 3)
    with pytest.raises(ConflictRetriesExhausted) as raised:
        drive.process_event(orch, "c2", "inc")
    err = raised.value
    assert (err.entity_id, err.expected_version, err.actual_version, err.attempts) == (
        "c2",
        3,
        4,
        3,
    )

    default = Orchestrator(StateMachine.from_string(COUNTER), store, counting_guards([]))
    assert default.max_conflict_retries == 20
    drive.create(default, "c3")
    store.hooks.extend([store.bump("c3")] * 20)
    assert drive.process_event(default, "c3", "inc").conflicts == 20
    store.hooks.extend([store.bump("c3")] * 21)
    with pytest.raises(ConflictRetriesExhausted, match="gave up after 21 attempts"):
        drive.process_event(default, "c3", "inc")


# ---------------------------------------------------------------- timers as events


@DRIVE
def test_a_fired_timer_that_is_not_pending_is_reported_stale(drive: OrchestratorDriver) -> None:
    store = InMemoryStateStore()
    orch = Orchestrator(StateMachine.from_string(SHOP), store, None, recording([]))
    drive.create(orch, "s1")
    drive.process_event(orch, "s1", "add")
    result = asyncio.run(orch.async_fire_timer("s1", "nudge", "s1#0@0"))
    assert (result.entity_id, result.trigger, result.event_id) == ("s1", "nudge", "s1#0@0")
    assert (result.state, result.version) == ("cart", 2)
    assert result.stale_timer and result.transition is None and not result.duplicate
    assert len(store.audit_trail("s1")) == 2


def test_a_pending_timer_fires_as_its_own_event_with_the_timer_id() -> None:
    store = InMemoryStateStore()
    clock = FakeClock()
    orch = Orchestrator(StateMachine.from_string(SHOP), store, None, recording([]), clock=clock)
    created = orch.create("s1")
    (timer,) = created.timers
    clock.now = 1001.0
    fired = asyncio.run(orch.async_fire_timer("s1", timer.event, timer.timer_id))
    assert (fired.state, fired.version, fired.event_id) == ("cart", 2, timer.timer_id)
    assert fired.armed_timers[0].due_at == 1006.0, "the next timer is armed on the step's clock"
    row = store.audit_trail("s1")[-1]
    assert (row.trigger, row.event_id) == ("nudge", timer.timer_id)
    assert asyncio.run(orch.async_fire_timer("s1", timer.event, timer.timer_id)).duplicate


def test_a_timer_whose_guard_is_false_is_spent_with_a_version_and_no_audit_row() -> None:
    guarded = """
meta: {machine_name: guarded}
states:
  - {name: idle, type: initial}
  - {name: expired}
transitions:
  - {trigger: expire, source: idle, dest: expired, after: 1000, guards: [{expr: "go"}]}
  - {trigger: later, source: idle, dest: expired, after: 9000}
"""
    store = InMemoryStateStore()
    orch = Orchestrator(StateMachine.from_string(guarded), store, clock=FakeClock())
    timer, later = orch.create("g1").timers
    assert later == ScheduledTimer("g1#1@1000000", "g1", "idle", "later", 1009.0)
    result = asyncio.run(orch.async_fire_timer("g1", "expire", timer.timer_id))
    assert (result.state, result.version, result.event_id) == ("idle", 2, timer.timer_id)
    assert not result.success and result.transition is not None
    stored, first = store.load_with_outcome("g1", timer.timer_id)
    assert stored is not None and (stored.state, stored.version) == ("idle", 2)
    assert stored.timers == (later,), "the other timer is still pending, as it was"
    assert stored.snapshot is not None and [t["id"] for t in stored.snapshot["timers"]] == [1]
    assert first is not None and (first["version"], first["success"]) == (2, False)
    assert first["trigger"] == "expire" and first["state"] == "idle"
    assert [r.version for r in store.audit_trail("g1")] == [1], "no audit row for a spent timer"
    again = asyncio.run(orch.async_fire_timer("g1", "expire", timer.timer_id))
    assert again.duplicate and again.first_outcome == first


# ---------------------------------------------------------------- context


@DRIVE
def test_persisted_context_is_merged_under_the_events_context(drive: OrchestratorDriver) -> None:
    seen: list[dict[str, Any]] = []

    def counted(ctx: Mapping[str, Any]) -> bool:
        seen.append(dict(ctx))
        return True

    guards = GuardRegistry()
    guards.register("counted", counted)
    store = InMemoryStateStore()
    machine = StateMachine.from_string(COUNTER)
    orch = Orchestrator(machine, store, guards, persist_context=True)
    drive.process_event(orch, "c1", "inc", {"a": 1, "b": 1})
    assert store.load("c1").context == {"a": 1, "b": 1}  # type: ignore[union-attr]
    drive.process_event(orch, "c1", "inc", {"b": 2})
    assert seen[-1] == {"a": 1, "b": 2}
    assert store.load("c1").context == {"a": 1, "b": 2}  # type: ignore[union-attr]
    drive.process_event(orch, "c1", "inc")
    assert seen[-1] == {"a": 1, "b": 2}, "later events see the stored context"

    plain = Orchestrator(machine, store, guards)
    assert plain.persist_context is False
    drive.process_event(plain, "c1", "inc", {"c": 3})
    assert seen[-1] == {"c": 3}, "without persist_context the stored context is not read"
    assert store.load("c1").context == {"a": 1, "b": 2}  # type: ignore[union-attr]


# ---------------------------------------------------------------- sync refusals


def test_the_sync_calls_refuse_a_scheduler_or_an_async_adapter_word_for_word() -> None:
    machine = StateMachine.from_string(COUNTER)
    scheduled = Orchestrator(machine, InMemoryStateStore(), scheduler=AsyncioScheduler())
    message = (
        "process_event is synchronous but this orchestrator has a scheduler, whose "
        "operations are coroutines: use await orchestrator.async_process_event(...)"
    )
    for call in (
        lambda: scheduled.process_event("c1", "inc"),
        lambda: scheduled.create("c1"),
        lambda: scheduled.dispatch_once(),
    ):
        with pytest.raises(OrchestratorUsageError) as raised:
            call()
        assert str(raised.value) == message

    class HalfAsync(ServiceLog):
        async def stop_services(self, entity_id: str, state_name: str) -> None:  # type: ignore[override]
            return None

    class StartsAsync(ServiceLog):
        async def start_services(  # type: ignore[override]
            self,
            entity_id: str,
            state_name: str,
            invoke_specs: Sequence[InvokeSpec],
            context: Mapping[str, Any],
        ) -> None:
            return None

    for adapter in (HalfAsync(), StartsAsync(), AsyncServiceLog()):
        orch = Orchestrator(machine, InMemoryStateStore(), invoke_adapter=adapter)
        with pytest.raises(OrchestratorUsageError) as raised:
            orch.process_event("c1", "inc")
        assert str(raised.value) == (
            "the invoke adapter is asynchronous: use await orchestrator.async_process_event"
        )
    assert Orchestrator(machine, InMemoryStateStore()).process_event("c1", "open").state == "A"


# ---------------------------------------------------------------- done marks and leases


@DRIVE
def test_done_marks_ride_on_the_next_commit_even_after_a_lost_race(
    drive: OrchestratorDriver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(random, "uniform", lambda low, high: 0.0)
    store = RacingStore()
    orch = Orchestrator(StateMachine.from_string(SHOP), store, None, recording([]), mark_delay=3600)
    drive.create(orch, "s1")
    assert [a.key for a in store.pending_actions("s1")] == ["s1:1:0"], "marked done later"
    store.hooks.append(store.bump("s1"))
    result = drive.process_event(orch, "s1", "add")
    assert result.conflicts == 1
    assert [a.key for a in store.pending_actions("s1")] == ["s1:3:0", "s1:3:1"]
    orch.flush()
    assert store.pending_actions("s1") == []


@DRIVE
def test_a_running_action_keeps_its_claim_and_sees_its_key(drive: OrchestratorDriver) -> None:
    renewed = threading.Event()
    renewals: list[tuple[str, tuple[str, ...], float]] = []

    class Renewing(InMemoryStateStore):
        def renew(self, owner: str, keys: Sequence[str], lease_until: float) -> set[str]:
            renewals.append((owner, tuple(keys), lease_until))
            renewed.set()
            return super().renew(owner, keys, lease_until)

    store = Renewing()
    keys: list[str] = []

    def slow(ctx: dict[str, Any]) -> None:
        keys.append(ctx[IDEMPOTENCY_KEY])
        assert renewed.wait(10), "the lease keeper renews a long action's claim"

    actions = recording([])
    actions.register("record", slow)
    orch = Orchestrator(
        StateMachine.from_string(SHOP), store, None, actions, clock=FakeClock(), lease_seconds=0.3
    )
    drive.process_event(orch, "s1", "add")
    assert keys == ["s1:2:0"]
    owner, held, until = renewals[0]
    assert (owner, held, until) == (orch.owner, ("s1:2:0", "s1:2:1"), 1000.3)


# ---------------------------------------------------------------- retries, dead letters, dispatch


def recorded_sleeps(sleeps: list[float]) -> dict[str, Any]:
    async def async_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    return {"sleep": sleeps.append, "async_sleep": async_sleep}


@DRIVE
@pytest.mark.parametrize("backend", ["memory", "sqlite"])
def test_an_inline_retry_records_the_failed_try_and_keeps_its_claim(
    drive: OrchestratorDriver, backend: str, tmp_path: Path
) -> None:
    store = InMemoryStateStore() if backend == "memory" else SQLiteStateStore(tmp_path / "s.db")
    clock = FakeClock()
    seen: list[Any] = []
    calls = [0]

    def greet(ctx: dict[str, Any]) -> None:
        calls[0] += 1
        if calls[0] == 1:
            raise ConnectionError("boom")
        seen.append([(a.key, a.attempts, a.last_error) for a in store.pending_actions("s1")])
        seen.append(store.claim("thief", clock(), clock() + 30, 10))

    actions = recording([])
    actions.register("greet", greet)
    sleeps: list[float] = []
    retry = RetryPolicy(max_attempts=2, base_delay=0.5, jitter=0.0, **recorded_sleeps(sleeps))
    orch = Orchestrator(
        StateMachine.from_string(SHOP), store, None, actions, retry=retry, clock=clock, mark_delay=0
    )
    result = drive.process_event(orch, "s1", "add")
    assert result.failed_actions == () and result.action_attempts == 2 and sleeps == [0.5]
    rows, stolen = seen
    assert rows == [("s1:2:1", 1, "ConnectionError: boom")], (
        "record is done, greet's failed try is on record"
    )
    assert not stolen, "nobody else can claim the action while it is retried"
    assert store.pending_actions("s1") == [] and store.dead_letters() == []


@DRIVE
def test_an_action_failing_every_try_is_a_dead_letter(drive: OrchestratorDriver) -> None:
    store = InMemoryStateStore()

    def greet(ctx: dict[str, Any]) -> None:
        raise ConnectionError("boom")

    actions = recording([])
    actions.register("greet", greet)
    retry = RetryPolicy(max_attempts=2, base_delay=0.5, jitter=0.0, **recorded_sleeps([]))
    orch = Orchestrator(
        StateMachine.from_string(SHOP), store, None, actions, retry=retry, mark_delay=0
    )
    result = drive.process_event(orch, "s1", "add")
    assert result.failed_actions == ("greet",) and result.action_attempts == 2
    (letter,) = store.dead_letters("s1")
    assert (letter.kind, letter.key, letter.attempts) == ("action", "s1:2:1", 2)
    assert "boom" in letter.error and letter.payload["name"] == "greet"
    assert store.pending_actions("s1") == [] and result.state == "cart"


class Crash(BaseException):
    """The process dies here (nothing in the runtime catches a BaseException)."""


@DRIVE
def test_the_dispatcher_reruns_what_a_crashed_process_left_and_records_the_failure(
    drive: OrchestratorDriver,
) -> None:
    store = InMemoryStateStore()
    clock = FakeClock()

    def crash(ctx: dict[str, Any]) -> None:
        raise Crash

    def fails(ctx: dict[str, Any]) -> None:
        raise ConnectionError("boom")

    machine = StateMachine.from_string(SHOP)
    dying = recording([])
    dying.register("greet", crash)
    with pytest.raises(Crash):
        drive.process_event(Orchestrator(machine, store, None, dying, clock=clock), "s1", "add")
    assert [a.key for a in store.pending_actions("s1")] == ["s1:2:0", "s1:2:1"]

    log: list[tuple[str, dict[str, Any]]] = []
    later = recording(log)
    later.register("greet", fails)
    retry = RetryPolicy(max_attempts=3, base_delay=1.0, jitter=0.0)
    orch = Orchestrator(machine, store, None, later, retry=retry, clock=clock, mark_delay=0)
    assert dispatch(drive, orch) == 0, "the crashed process still holds them"
    clock.now = 1031.0  # its lease (30 s) is over
    assert dispatch(drive, orch, 1) == 2, "one action (the limit) and one timer"
    assert [name for name, _ in log] == ["record"]
    assert dispatch(drive, orch) == 1
    rows = [(a.key, a.attempts, a.last_error) for a in store.pending_actions("s1")]
    assert rows == [("s1:2:1", 1, "ConnectionError: boom")]


def dispatch(drive: OrchestratorDriver, orch: Orchestrator, limit: int = 100) -> int:
    if drive.is_async:
        return asyncio.run(orch.async_dispatch_once(limit))
    return orch.dispatch_once(limit)


# ---------------------------------------------------------------- construction


def test_the_orchestrator_keeps_what_it_was_given_and_binds_guards_to_a_copy() -> None:
    calls: list[str] = []
    guards = counting_guards(calls)
    actions = ActionRegistry()
    machine = StateMachine.from_string(COUNTER)
    orch = Orchestrator(machine, InMemoryStateStore(), guards, actions)
    assert orch.guards is guards and orch.actions is actions and orch.idempotency is None
    assert orch.machine is not machine and orch.dispatcher.interval == 0.5
    assert orch.dispatcher.orchestrator is orch
    assert orch.process_event("c1", "inc").state == "B" and calls == ["counted"]
    step = machine.step(machine.start().snapshot, "inc")
    assert step.refusal is not None, "the caller's machine is not bound to the guards"

    bound = machine.with_guards(guards)
    own = Orchestrator(bound, InMemoryStateStore())
    assert own.machine is bound and own.guards is None
    assert isinstance(own.actions, ActionRegistry)
    assert own.process_event("c1", "inc").state == "B", "the machine's own guards still apply"
    assert (
        Orchestrator(machine, InMemoryStateStore(), dispatch_interval=2.0).dispatcher.interval
        == 2.0
    )


def test_done_marks_wait_50_ms_for_a_commit_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    real_sleep = time.sleep
    asked: list[float] = []
    waited = threading.Event()

    def sleep(seconds: float) -> None:
        if threading.current_thread().name == "pystator-done-marks":
            asked.append(seconds)
            waited.set()
            seconds = 0.0
        real_sleep(seconds)

    monkeypatch.setattr(time, "sleep", sleep)
    store = InMemoryStateStore()
    orch = Orchestrator(StateMachine.from_string(SHOP), store, None, recording([]))
    orch.create("s1")
    assert waited.wait(10), "the done-mark writer waits for a commit to ride on"
    assert asked[0] == 0.05
    orch.flush()
    assert store.pending_actions("s1") == []


# ---------------------------------------------------------------- the front's key


@DRIVE
@pytest.mark.parametrize(
    ("first", "second"),
    [(("a:b", "c"), ("a", "b:c")), (("a\\", ":x"), ("a:", "x"))],
    ids=["colon", "backslash"],
)
def test_the_idempotency_front_keeps_entities_apart_whatever_their_ids(
    drive: OrchestratorDriver, first: tuple[str, str], second: tuple[str, str]
) -> None:
    # the key is "<entity>:<event>" with ":" and "\\" escaped in the entity id
    orch = Orchestrator(
        StateMachine.from_string(COUNTER),
        InMemoryStateStore(),
        counting_guards([]),
        idempotency=InMemoryIdempotencyStore(),
    )
    assert not drive.process_event(orch, first[0], "inc", event_id=first[1]).duplicate
    result = drive.process_event(orch, second[0], "inc", event_id=second[1])
    assert not result.duplicate, "another entity's event answered as this one's duplicate"
    assert orch.get_state(second[0]) is not None
