"""The orchestrator: load -> decide -> commit -> act, timers, retries, idempotency, invoke.

Whatever has a sync and an async path runs on both (``drive``: process_event or
async_process_event, and their create / get_state / service_done twins); timers
need the scheduler, whose calls are coroutines, so those tests are async only.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from pystator import ActionRegistry, Event, GuardRegistry, InvokeSpec, StateMachine
from pystator.core.state_store import InMemoryStateStore, SQLiteStateStore
from pystator.runtime import (
    CREATE_TRIGGER,
    AsyncioScheduler,
    ConflictRetriesExhausted,
    InMemoryIdempotencyStore,
    Orchestrator,
    OrchestratorResult,
    OrchestratorUsageError,
    RetryPolicy,
    SQLiteIdempotencyStore,
)
from tests.drivers import ORCHESTRATOR_DRIVERS, OrchestratorDriver
from tests.runtime.machines import CYCLE, GUARDED_TIMER, MONITORING, ORDERS, TRADING

DRIVE = pytest.mark.parametrize("drive", ORCHESTRATOR_DRIVERS)


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def recording_actions(log: list[str], store: Any = None) -> ActionRegistry:
    actions = ActionRegistry()
    for name in ("note_waiting", "notify", "record_submit", "start_metrics"):
        actions.register(name, lambda ctx, name=name: log.append(name))
    return actions


# ---------------------------------------------------------------- sandwich


@DRIVE
def test_a_new_entity_starts_in_the_initial_state_and_moves_on_events(
    drive: OrchestratorDriver,
) -> None:
    log: list[str] = []
    store = InMemoryStateStore()
    orch = Orchestrator(
        StateMachine.from_string(ORDERS), store, GuardRegistry(), recording_actions(log)
    )
    result = drive.process_event(orch, "o1", "submit")
    assert result.success and result.state == "waiting" and result.version == 2
    assert log == ["record_submit", "note_waiting"]
    assert result.execution is not None and result.execution.all_succeeded
    trail = store.audit_trail("o1")
    assert [(r.version, r.from_state, r.to_state, r.trigger) for r in trail] == [
        (1, "", "draft", CREATE_TRIGGER),
        (2, "draft", "waiting", "submit"),
    ]


@DRIVE
def test_actions_run_after_the_commit(drive: OrchestratorDriver) -> None:
    store = InMemoryStateStore()
    seen: list[str] = []
    actions = ActionRegistry()
    for name in ("note_waiting", "notify", "record_submit"):
        actions.register(name, lambda ctx: seen.append(store.load(ctx["entity_id"]).state))
    orch = Orchestrator(StateMachine.from_string(ORDERS), store, GuardRegistry(), actions)
    drive.process_event(orch, "o1", "submit")
    assert seen == ["waiting", "waiting"], "actions must see the committed state"


@DRIVE
def test_a_rejected_event_commits_nothing_and_explains_why(drive: OrchestratorDriver) -> None:
    store = InMemoryStateStore()
    orch = Orchestrator(
        StateMachine.from_string(ORDERS), store, GuardRegistry(), recording_actions([])
    )
    drive.process_event(orch, "o1", "submit")
    drive.process_event(orch, "o1", "ack")
    result = drive.process_event(orch, "o1", "fill", {"fill_qty": 50, "order_qty": 100})
    assert not result.success and result.state == "open" and result.version == 3
    assert result.transition is not None and result.transition.error is not None
    assert "fill_qty >= order_qty" in str(result.transition.error)
    assert len(store.audit_trail("o1")) == 3
    done = drive.process_event(orch, "o1", Event.simple("fill", fill_qty=100, order_qty=100))
    assert done.success and done.state == "filled"


@DRIVE
def test_an_event_a_lenient_machine_ignores_commits_nothing(drive: OrchestratorDriver) -> None:
    store = InMemoryStateStore()
    lenient = CYCLE.replace("{machine_name: cycle}", "{machine_name: cycle, strict_mode: false}")
    orch = Orchestrator(StateMachine.from_string(lenient), store)
    drive.create(orch, "c1")
    result = drive.process_event(orch, "c1", "unknown_event")
    assert result.transition is not None and result.transition.ignored
    assert (result.state, result.version) == ("A", 1)
    assert len(store.audit_trail("c1")) == 1


@DRIVE
def test_event_payload_reaches_guards_and_actions(drive: OrchestratorDriver) -> None:
    got: dict[str, Any] = {}
    actions = recording_actions([])
    actions.register("notify", lambda ctx: got.update(ctx))
    orch = Orchestrator(StateMachine.from_string(ORDERS), InMemoryStateStore(), None, actions)
    drive.process_event(orch, "o1", "submit")
    drive.process_event(orch, "o1", Event.simple("ack", exchange_id="X1"), {"user": "ann"})
    assert got["exchange_id"] == "X1" and got["user"] == "ann" and got["entity_id"] == "o1"


def test_sync_calls_with_a_scheduler_are_refused_clearly() -> None:
    orch = Orchestrator(
        StateMachine.from_string(ORDERS), InMemoryStateStore(), scheduler=AsyncioScheduler()
    )
    with pytest.raises(OrchestratorUsageError, match="async_process_event"):
        orch.process_event("o1", "submit")


@DRIVE
def test_parallel_configurations_persist_and_reload_exactly(
    drive: OrchestratorDriver, tmp_path: Path
) -> None:
    path = tmp_path / "state.db"
    machine = StateMachine.from_string(TRADING)
    orch = Orchestrator(machine, SQLiteStateStore(path))
    drive.process_event(orch, "t1", "start")
    drive.process_event(orch, "t1", "signal_detected")
    state = drive.process_event(orch, "t1", "risk_warning").state
    assert state == "active:trading=analyzing,risk_monitor=elevated"
    reopened = Orchestrator(StateMachine.from_string(TRADING), SQLiteStateStore(path))
    stored = drive.get_state(reopened, "t1")
    assert stored is not None and stored.state == state
    assert machine.configuration_of(stored.state) == frozenset({"active", "analyzing", "elevated"})
    assert drive.process_event(reopened, "t1", "rescan").state == (
        "active:trading=scanning,risk_monitor=elevated"
    )


# ---------------------------------------------------------------- retry


def recording_sleeps(sleeps: list[float]) -> dict[str, Any]:
    """RetryPolicy sleeps (sync and async) that record the delay instead of waiting."""

    async def async_sleep(delay: float) -> None:
        sleeps.append(delay)

    return {"sleep": sleeps.append, "async_sleep": async_sleep}


@DRIVE
def test_failed_actions_are_retried_with_backoff_and_the_state_stays(
    drive: OrchestratorDriver,
) -> None:
    calls: list[str] = []
    sleeps: list[float] = []
    flaky_failures = [2]

    def flaky(ctx: dict[str, Any]) -> None:
        calls.append("record_submit")
        if flaky_failures[0] > 0:
            flaky_failures[0] -= 1
            raise ConnectionError("broker down")

    actions = recording_actions(calls)
    actions.register("record_submit", flaky)
    retry = RetryPolicy(
        max_attempts=4, base_delay=0.5, max_delay=10, jitter=0.0, **recording_sleeps(sleeps)
    )
    orch = Orchestrator(
        StateMachine.from_string(ORDERS), InMemoryStateStore(), None, actions, retry=retry
    )
    result = drive.process_event(orch, "o1", "submit")
    assert result.state == "waiting" and result.failed_actions == ()
    assert result.action_attempts == 3 and sleeps == [0.5, 1.0]
    assert calls == ["record_submit", "note_waiting", "record_submit", "record_submit"], (
        "only the failed action is retried"
    )


@DRIVE
def test_an_action_that_keeps_failing_is_reported_not_rolled_back(
    drive: OrchestratorDriver,
) -> None:
    sleeps: list[float] = []

    def always_fails(ctx: dict[str, Any]) -> None:
        raise RuntimeError("nope")

    actions = recording_actions([])
    actions.register("note_waiting", always_fails)
    machine = StateMachine.from_string(
        ORDERS.replace(
            "meta: {machine_name: orders}",
            ("meta: {machine_name: orders}\nerror_policy: {retry_attempts: 2}"),
        )
    )

    policy = RetryPolicy.from_error_policy(machine.spec.error_policy, base_delay=1.0, jitter=0.0)
    policy = RetryPolicy(policy.max_attempts, 1.0, 10.0, 0.0, **recording_sleeps(sleeps))
    store = InMemoryStateStore()
    orch = Orchestrator(machine, store, None, actions, retry=policy)
    result = drive.process_event(orch, "o1", "submit")
    assert result.failed_actions == ("note_waiting",) and result.action_attempts == 3
    assert sleeps == [1.0, 2.0]
    assert store.load("o1") is not None and store.load("o1").state == "waiting"  # type: ignore[union-attr]
    assert result.execution is not None and "nope" in result.execution.errors["note_waiting"]


def test_the_default_retry_policy_comes_from_error_policy() -> None:
    machine = StateMachine.from_string(ORDERS + "\nerror_policy: {retry_attempts: 3}\n")
    assert Orchestrator(machine, InMemoryStateStore()).retry.max_attempts == 4


# ---------------------------------------------------------------- idempotency


@DRIVE
@pytest.mark.parametrize("backend", ["memory", "sqlite"])
def test_a_duplicate_event_id_gets_the_first_outcome_and_changes_nothing(
    drive: OrchestratorDriver, backend: str, tmp_path: Path
) -> None:
    log: list[str] = []
    idem = (
        InMemoryIdempotencyStore()
        if backend == "memory"
        else SQLiteIdempotencyStore(tmp_path / "i.db")
    )
    store = InMemoryStateStore()
    orch = Orchestrator(
        StateMachine.from_string(ORDERS), store, None, recording_actions(log), idempotency=idem
    )
    first = drive.process_event(orch, "o1", "submit", event_id="evt-1")
    again = drive.process_event(orch, "o1", "submit", event_id="evt-1")
    assert not first.duplicate and again.duplicate
    assert again.success and again.state == "waiting" and again.version == first.version
    assert again.first_outcome == first.summary()
    assert log == ["record_submit", "note_waiting"], "actions ran once"
    assert len(store.audit_trail("o1")) == 2
    other = drive.process_event(orch, "o2", "submit", event_id="evt-1")
    assert not other.duplicate, "event ids are scoped to their entity"


@DRIVE
def test_an_event_object_carries_its_own_id(drive: OrchestratorDriver) -> None:
    orch = Orchestrator(
        StateMachine.from_string(ORDERS),
        InMemoryStateStore(),
        idempotency=InMemoryIdempotencyStore(),
    )
    event = Event("submit", {})
    assert not drive.process_event(orch, "o1", event).duplicate
    assert drive.process_event(orch, "o1", event).duplicate
    assert not drive.process_event(orch, "o1", Event("ack", {})).duplicate, "a new event, a new id"


# ---------------------------------------------------------------- timers


def make_timed(
    yaml: str, guards: GuardRegistry | None = None
) -> tuple[Orchestrator, AsyncioScheduler, FakeClock, InMemoryStateStore]:
    clock = FakeClock()
    scheduler = AsyncioScheduler(clock=clock)
    store = InMemoryStateStore()
    orch = Orchestrator(
        StateMachine.from_string(yaml), store, guards, recording_actions([]), scheduler=scheduler
    )
    return orch, scheduler, clock, store


def test_timers_are_cancelled_on_exit_and_rearmed_fresh_on_reentry() -> None:
    orch, scheduler, clock, store = make_timed(ORDERS)

    async def main() -> None:
        first = await orch.async_process_event("o1", "submit")
        (timer,) = first.armed_timers
        assert (timer.state, timer.event, timer.due_at) == ("waiting", "timeout", 1005.0)
        assert [t.timer_id for t in scheduler.pending] == [timer.timer_id]

        clock.now = 1003.0
        left = await orch.async_process_event("o1", "ack")
        assert [t.timer_id for t in left.cancelled_timers] == [timer.timer_id]
        assert scheduler.pending == []

        back = await orch.async_process_event("o1", "back")
        (fresh,) = back.armed_timers
        assert fresh.timer_id != timer.timer_id and fresh.due_at == 1008.0

        clock.now = 1005.0
        assert await scheduler.fire_due() == 0, "the old timer must not fire"
        stale = await orch.async_fire_timer("o1", "timeout", timer.timer_id)
        assert stale.stale_timer and stale.state == "waiting"

        clock.now = 1008.0
        assert await scheduler.fire_due() == 1
        stored = await orch.async_get_state("o1")
        assert stored is not None and stored.state == "retry"
        (timeout,) = stored.timers
        assert (timeout.event, timeout.due_at) == ("timeout:retry", 1010.0)
        clock.now = 1010.0
        await scheduler.fire_due()
        await scheduler.stop()

    asyncio.run(main())
    trail = [(r.from_state, r.to_state, r.trigger) for r in store.audit_trail("o1")]
    assert trail[-2:] == [("waiting", "retry", "timeout"), ("retry", "failed", "timeout:retry")]


def test_a_timer_whose_guard_is_false_is_spent_not_rearmed() -> None:
    allowed = [False]
    guards = GuardRegistry()
    guards.register("may_expire", lambda ctx: allowed[0])
    orch, scheduler, clock, _store = make_timed(GUARDED_TIMER, guards)

    async def main() -> None:
        created = await orch.async_create("g1")
        assert [t.event for t in created.timers] == ["expire"]
        clock.now += 1
        assert await scheduler.fire_due() == 1
        stored = await orch.async_get_state("g1")
        assert stored is not None and stored.state == "idle" and stored.timers == ()
        allowed[0] = True
        clock.now += 10
        assert await scheduler.fire_due() == 0
        await scheduler.stop()

    asyncio.run(main())


def test_timers_in_parallel_regions_follow_their_region() -> None:
    orch, scheduler, clock, _ = make_timed(TRADING)

    async def main() -> None:
        await orch.async_process_event("t1", "start")
        warned = await orch.async_process_event("t1", "risk_warning")
        assert [t.state for t in warned.armed_timers] == ["elevated"]
        await orch.async_process_event("t1", "signal_detected")
        assert len(scheduler.pending) == 1, "a transition in another region keeps the timer"
        clock.now += 3
        await scheduler.fire_due()
        stored = await orch.async_get_state("t1")
        assert stored is not None
        assert stored.state == "active:trading=analyzing,risk_monitor=normal"
        await scheduler.stop()

    asyncio.run(main())


def test_the_scheduler_loop_fires_timers_on_the_wall_clock() -> None:
    machine = StateMachine.from_string(GUARDED_TIMER.replace('"1s"', "100"))
    guards = GuardRegistry()
    guards.register("may_expire", lambda ctx: True)
    scheduler = AsyncioScheduler()
    orch = Orchestrator(machine, InMemoryStateStore(), guards, scheduler=scheduler)
    deliver = scheduler.on_fire
    assert deliver is not None
    fired: list[OrchestratorResult] = []
    done = asyncio.Event()

    async def on_fire(entity_id: str, event: str, timer_id: str) -> OrchestratorResult:
        fired.append(await deliver(entity_id, event, timer_id))
        done.set()
        return fired[-1]

    scheduler.on_fire = on_fire  # nobody calls fire_due: the scheduler's own loop must

    async def main() -> str:
        await orch.start()
        created = await orch.async_create("g1")
        await asyncio.wait_for(done.wait(), timeout=10)
        await orch.stop()
        assert scheduler.clock() >= created.timers[0].due_at, "a timer never fires early"
        stored = await orch.async_get_state("g1")
        return stored.state if stored else ""

    assert asyncio.run(main()) == "expired"
    assert [(r.trigger, r.state) for r in fired] == [("expire", "expired")]


# ---------------------------------------------------------------- concurrency (in-process)


def test_concurrent_tasks_on_one_entity_lose_no_update(tmp_path: Path) -> None:
    store = SQLiteStateStore(tmp_path / "state.db")
    orch = Orchestrator(StateMachine.from_string(CYCLE), store)

    async def main() -> list[int]:
        results = await asyncio.gather(
            *(orch.async_process_event("c1", "inc", event_id=f"e{i}") for i in range(30))
        )
        return [r.conflicts for r in results]

    conflicts = asyncio.run(main())
    trail = store.audit_trail("c1")
    assert [r.version for r in trail] == list(range(1, 32))
    assert all(a.to_state == b.from_state for a, b in itertools.pairwise(trail))
    assert sum(conflicts) > 0, "the tasks really raced"
    assert store.load("c1").state == "A"  # type: ignore[union-attr]  # 30 incs: 10 cycles


def interfering_guard(store: InMemoryStateStore, times: int) -> GuardRegistry:
    """A guard that commits behind the orchestrator's back, like a second worker."""
    left = [times]
    guards = GuardRegistry()

    def sneaky(ctx: dict[str, Any]) -> bool:
        if left[0] > 0:
            left[0] -= 1
            current = store.load("c1")
            assert current is not None
            store.save("c1", current.state, current.version)
        return True

    guards.register("sneaky", sneaky)
    return guards


GUARDED_CYCLE = CYCLE.replace(
    "{trigger: inc, source: A, dest: B}", "{trigger: inc, source: A, dest: B, guards: [sneaky]}"
)


@DRIVE
def test_a_lost_race_is_recomputed_on_the_new_version(drive: OrchestratorDriver) -> None:
    store = InMemoryStateStore()
    orch = Orchestrator(StateMachine.from_string(GUARDED_CYCLE), store, interfering_guard(store, 2))
    drive.create(orch, "c1")
    result = drive.process_event(orch, "c1", "inc")
    assert result.conflicts == 2 and result.state == "B" and result.version == 4


@DRIVE
def test_running_out_of_conflict_retries_is_a_clear_error(drive: OrchestratorDriver) -> None:
    store = InMemoryStateStore()
    orch = Orchestrator(
        StateMachine.from_string(GUARDED_CYCLE),
        store,
        interfering_guard(store, 5),
        max_conflict_retries=2,
    )
    drive.create(orch, "c1")
    with pytest.raises(ConflictRetriesExhausted, match="gave up after 3 attempts"):
        drive.process_event(orch, "c1", "inc")
    stored = drive.get_state(orch, "c1")
    assert stored is not None and stored.state == "A", "the lost event committed nothing"


# ---------------------------------------------------------------- invoke


class SyncRecordingAdapter:
    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []

    def start_services(
        self,
        entity_id: str,
        state_name: str,
        invoke_specs: Sequence[InvokeSpec],
        context: Mapping[str, Any],
    ) -> None:
        self.calls.append(
            ("start", entity_id, state_name, *(f"{s.id}:{s.src}" for s in invoke_specs))
        )

    def stop_services(self, entity_id: str, state_name: str) -> None:
        self.calls.append(("stop", entity_id, state_name))


class RecordingAdapter(SyncRecordingAdapter):
    """Half async, as adapters may be: the orchestrator awaits what needs awaiting."""

    async def start_services(  # type: ignore[override]
        self,
        entity_id: str,
        state_name: str,
        invoke_specs: Sequence[InvokeSpec],
        context: Mapping[str, Any],
    ) -> None:
        super().start_services(entity_id, state_name, invoke_specs, context)


@DRIVE
def test_services_start_on_entry_stop_on_exit_and_on_done_reenters(
    drive: OrchestratorDriver,
) -> None:
    adapter = RecordingAdapter() if drive.is_async else SyncRecordingAdapter()
    actions = recording_actions([])
    orch = Orchestrator(
        StateMachine.from_string(MONITORING),
        InMemoryStateStore(),
        None,
        actions,
        invoke_adapter=adapter,
    )
    watched = drive.process_event(orch, "m1", "watch")
    assert watched.services_started == ("monitoring",)
    assert adapter.calls == [("start", "m1", "monitoring", "price_feed:websocket")]
    drive.process_event(orch, "m1", "halt")
    assert adapter.calls[-1] == ("stop", "m1", "monitoring")
    assert drive.service_done(orch, "m1", "price_feed") is None, (
        "a service of a state already left cannot send on_done"
    )
    drive.process_event(orch, "m1", "watch")
    done = drive.service_done(orch, "m1", "price_feed")
    assert done is not None and done.trigger == "feed_ended" and done.state == "ended"
    assert adapter.calls[-1] == ("stop", "m1", "monitoring")
    assert [c[0] for c in adapter.calls] == ["start", "stop", "start", "stop"]


def test_an_async_adapter_needs_the_async_path() -> None:
    orch = Orchestrator(
        StateMachine.from_string(MONITORING),
        InMemoryStateStore(),
        invoke_adapter=RecordingAdapter(),
    )
    with pytest.raises(OrchestratorUsageError, match="async"):
        orch.process_event("m1", "watch")
