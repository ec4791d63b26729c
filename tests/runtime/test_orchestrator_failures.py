"""What the orchestrator does when delivery fails for good: dead letters and the fallback.

A timer firing that failed every attempt is buried (``async_bury_timer``, the
schedulers' ``on_dead``): a dead letter keeps it, it stops being pending, and the
timer id's dedup record says so; ``retry.fallback`` moves the entity, unless it is
there already. An action that fails every attempt is a dead letter too, recorded
in the same commit as the move to the fallback state (or settled as it is when
the entity is there already). A timer the scheduler refused is handed over again
soon. Another writer committing first is retried, up to ``max_conflict_retries``.

Everything runs on an injected clock; the schedulers here are recorders, and the
races are another orchestrator committing on the same store just before a commit.
The last section holds the fallback's own semantics, each found wrong on the way (a
region beside the fallback state, services of a state the fallback left, a machine
with a datamodel, the fallback state's eventless transitions).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import pytest

from pystator import ActionRegistry, GuardRegistry, StateMachine
from pystator.runtime import (
    FALLBACK_TRIGGER,
    IDEMPOTENCY_KEY,
    Clock,
    CommitResult,
    ConflictRetriesExhausted,
    DeadLetter,
    InMemoryStateStore,
    Orchestrator,
    RetryPolicy,
    ScheduledTimer,
    StepCommit,
    StoredState,
)
from tests.drivers import ORCHESTRATOR_DRIVERS, OrchestratorDriver
from tests.invoke_machines import TICKER
from tests.runtime.adapters import ServiceLog

DRIVE = pytest.mark.parametrize("drive", ORCHESTRATOR_DRIVERS)

KILN = """
meta: {machine_name: kiln}
states:
  - {name: idle, type: initial}
  - {name: heating, initial_child: low}
  - {name: low, parent: heating}
  - {name: high, parent: heating}
  - {name: hot}
  - {name: cold}
transitions:
  - {trigger: heat, source: idle, dest: heating}
  - {trigger: ready, source: heating, dest: hot, after: 1000}
  - {trigger: give_up, source: heating, dest: cold, after: 5000}
  - {trigger: stir, source: low, dest: high}
  - {trigger: stir, source: high, dest: low}
  - {trigger: cool, source: heating, dest: cold}
"""
"""Two timers of ``heating`` stay pending while its children change."""

PLANT = """
meta: {machine_name: plant}
error_policy: {retry_attempts: 0, default_fallback: broken}
states:
  - {name: idle, type: initial}
  - {name: running, initial_child: doing}
  - name: doing
    parent: running
    on_exit: [leave]
    invoke: [{id: drill, src: drill}]
  - name: broken
    parent: running
    on_enter: [alert]
    invoke: [{id: siren, src: siren}]
  - {name: resting, parent: running}
transitions:
  - {trigger: start, source: idle, dest: running}
  - trigger: launch
    source: idle
    dest: running
    actions: [log_work, {name: charge, params: {cents: 250}}]
  - {trigger: inspect, source: running, dest: idle, after: 8000}
  - {trigger: overheat, source: doing, dest: broken, after: 1000}
  - {trigger: service, source: doing, dest: doing, after: 3000}
  - {trigger: repair, source: broken, dest: doing, after: 9000}
  - {trigger: fail, source: doing, dest: broken}
  - {trigger: poke, source: broken, dest: broken, kind: external, actions: [charge]}
  - {trigger: rest, source: doing, dest: resting}
  - {trigger: wake, source: resting, dest: doing}
"""
"""``broken`` is the fallback; ``inspect`` (a timer of ``running``) outlives the move there."""

SPLIT = """
meta: {machine_name: split}
error_policy: {retry_attempts: 0, default_fallback: broken}
states:
  - {name: idle, type: initial}
  - name: running
    type: parallel
    regions:
      - {name: work, initial: doing, states: [doing, broken]}
      - {name: watch, initial: watching, states: [watching, alarmed]}
transitions:
  - {trigger: start, source: idle, dest: running}
  - {trigger: bill, source: doing, dest: doing, actions: [charge]}
  - {trigger: fail, source: doing, dest: broken}
  - {trigger: alarm, source: watching, dest: alarmed}
"""

LEDGER = """
meta: {machine_name: ledger}
data: {letters: []}
error_policy: {retry_attempts: 0, default_fallback: broken}
states:
  - {name: idle, type: initial}
  - name: broken
    on_enter: [{assign: letters, expr: dead_letters}]
transitions:
  - {trigger: pay, source: idle, dest: idle, actions: [charge]}
"""
"""A machine with a datamodel: the fallback's entry reads the dead letters."""

PAGER = """
meta: {machine_name: pager}
error_policy: {retry_attempts: 0, default_fallback: broken}
states:
  - {name: idle, type: initial}
  - {name: broken}
  - {name: paged}
transitions:
  - {trigger: pay, source: idle, dest: idle, actions: [charge]}
  - {trigger: fail, source: idle, dest: broken}
  - {source: broken, dest: paged, always: true}
"""
"""Entering ``broken`` goes straight on to ``paged``: an eventless transition."""


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class RecordingScheduler:
    """Records the timers handed to it and cancelled; refuses those of ``refuse`` events."""

    def __init__(self, clock: Clock, refuse: Iterable[str] = ()) -> None:
        self.clock: Clock = clock
        self.on_fire: Any = None
        self.on_dead: Any = None
        self.refuse = set(refuse)
        self.scheduled: list[ScheduledTimer] = []
        self.cancelled: list[str] = []

    async def schedule(self, timer: ScheduledTimer) -> None:
        if timer.event in self.refuse:
            raise ConnectionError("scheduler down")
        self.scheduled.append(timer)

    async def cancel(self, timer_id: str) -> None:
        self.cancelled.append(timer_id)

    async def cancel_entity(self, entity_id: str, state: str | None = None) -> None:
        raise AssertionError("the orchestrator cancels timers one by one")

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None


class RacingStore(InMemoryStateStore):
    """Another writer commits just before each of the next commits its race matches."""

    def __init__(self) -> None:
        super().__init__()
        self.races: list[tuple[Callable[[StepCommit], bool], Callable[[], object]]] = []

    def commit_many(self, commits: Sequence[StepCommit]) -> list[CommitResult]:
        if self.races and self.races[0][0](commits[0]):
            _, race = self.races.pop(0)
            race()
        return super().commit_many(commits)


def burying(commit: StepCommit) -> bool:
    return bool(commit.dead_letters)


def falling_back(commit: StepCommit) -> bool:
    return commit.audit is not None and commit.audit.trigger == FALLBACK_TRIGGER


def plant_actions(seen: list[tuple[str, dict[str, Any]]]) -> ActionRegistry:
    """``charge`` always fails; the others record what they saw."""
    actions = ActionRegistry()
    for name in ("leave", "alert", "log_work"):
        actions.register(name, lambda ctx, name=name: seen.append((name, dict(ctx))))

    def charge(ctx: Mapping[str, Any]) -> None:
        raise RuntimeError("card declined")

    actions.register("charge", charge)
    return actions


def timers_of(stored: StoredState | None) -> dict[str, ScheduledTimer]:
    assert stored is not None
    return {t.event: t for t in stored.timers}


def messages(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "pystator.runtime" and r.levelno == level
    ]


# ---------------------------------------------------------------- burying a timer


def test_a_buried_timer_is_a_dead_letter_and_no_longer_pending(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()
    store = InMemoryStateStore()
    orch = Orchestrator(StateMachine.from_string(KILN), store, clock=clock)
    orch.process_event("k1", "heat")
    timers = timers_of(store.load("k1"))
    ready, give_up = timers["ready"], timers["give_up"]
    assert give_up.timer_id == "k1#1@1000000"

    clock.now = 1003.0
    caplog.set_level(logging.ERROR, logger="pystator.runtime")
    buried = asyncio.run(orch.async_bury_timer(give_up, "RuntimeError: kiln offline", 3))
    assert buried is True
    assert store.dead_letters() == [
        DeadLetter(
            "timer",
            "k1#1@1000000",
            "k1",
            give_up.to_dict(),
            "RuntimeError: kiln offline",
            3,
            1003.0,
            id=1,
        )
    ]
    assert messages(caplog, logging.ERROR) == [
        "timer k1#1@1000000 (give_up for k1) is a dead letter after 3 attempts: "
        "RuntimeError: kiln offline"
    ]
    stored = store.load("k1")
    assert stored is not None
    assert (stored.state, stored.version, stored.timers) == ("low", 3, (ready,))
    assert stored.snapshot is not None
    assert [t["trigger"] for t in stored.snapshot["timers"]] == ["ready"]
    assert stored.snapshot["next_timer_id"] == 2, "timer ids are never reused"
    assert [r.version for r in store.audit_trail("k1")] == [1, 2], "no transition, no audit row"

    again = asyncio.run(orch.async_fire_timer("k1", "give_up", give_up.timer_id))
    assert again.duplicate and not again.success
    assert again.first_outcome == {
        "success": False,
        "dead_letter": True,
        "error": "RuntimeError: kiln offline",
        "state": "low",
        "version": 3,
    }
    assert asyncio.run(orch.async_bury_timer(give_up, "later", 4)) is False
    assert len(store.dead_letters()) == 1

    fired = asyncio.run(orch.async_fire_timer("k1", "ready", ready.timer_id))
    assert fired.success and fired.state == "hot" and fired.version == 4


def test_burying_a_timer_that_is_not_pending_changes_nothing() -> None:
    store = InMemoryStateStore()
    orch = Orchestrator(StateMachine.from_string(KILN), store, clock=FakeClock())
    orch.process_event("k1", "heat")
    ready = timers_of(store.load("k1"))["ready"]
    unknown = ScheduledTimer("x#0@1", "nobody", "heating", "ready", 1001.0)
    assert asyncio.run(orch.async_bury_timer(unknown, "boom", 1)) is False
    assert store.load("nobody") is None

    orch.process_event("k1", "cool")  # leaving heating cancels its timers
    assert asyncio.run(orch.async_bury_timer(ready, "boom", 1)) is False
    stored = store.load("k1")
    assert stored is not None and (stored.state, stored.version) == ("cold", 3)
    assert store.dead_letters() == []
    assert store.load_with_outcome("k1", ready.timer_id)[1] is None, "no outcome recorded"


def test_burying_retries_a_lost_race_and_gives_up_after_the_limit() -> None:
    store = RacingStore()
    kiln = StateMachine.from_string(KILN)
    orch = Orchestrator(kiln, store, clock=FakeClock(), max_conflict_retries=1)
    other = Orchestrator(kiln, store, clock=FakeClock())
    orch.process_event("k1", "heat")
    give_up = timers_of(store.load("k1"))["give_up"]

    store.races = [(burying, lambda: other.process_event("k1", "stir"))]
    assert asyncio.run(orch.async_bury_timer(give_up, "boom", 2)) is True
    stored = store.load("k1")
    assert stored is not None and (stored.state, stored.version) == ("high", 4)
    assert list(timers_of(stored)) == ["ready"]
    assert [d.key for d in store.dead_letters()] == [give_up.timer_id]
    assert store.load_with_outcome("k1", give_up.timer_id)[1] == {
        "success": False,
        "dead_letter": True,
        "error": "boom",
        "state": "high",
        "version": 4,
    }

    orch.process_event("k2", "heat")
    ready = timers_of(store.load("k2"))["ready"]
    store.races = [(burying, lambda: other.process_event("k2", "stir"))] * 2
    with pytest.raises(ConflictRetriesExhausted) as exc:
        asyncio.run(orch.async_bury_timer(ready, "boom", 2))
    assert (exc.value.entity_id, exc.value.expected_version) == ("k2", 3)
    assert (exc.value.actual_version, exc.value.attempts) == (4, 2)
    assert "gave up after 2 attempts" in str(exc.value)
    assert list(timers_of(store.load("k2"))) == ["ready", "give_up"], "nothing was buried"
    assert [d.entity_id for d in store.dead_letters()] == ["k1"]


def test_burying_gives_way_when_the_timer_id_was_recorded_in_between() -> None:
    store = RacingStore()
    kiln = StateMachine.from_string(KILN)
    orch = Orchestrator(kiln, store, clock=FakeClock())
    other = Orchestrator(kiln, store, clock=FakeClock())
    orch.process_event("k1", "heat")
    give_up = timers_of(store.load("k1"))["give_up"]
    # Another process answered the timer id first (here an event nothing takes).
    store.races = [
        (burying, lambda: other.process_event("k1", "unknown", event_id=give_up.timer_id))
    ]
    assert asyncio.run(orch.async_bury_timer(give_up, "boom", 2)) is False
    assert store.dead_letters() == []
    assert list(timers_of(store.load("k1"))) == ["ready", "give_up"]


GATED = """
meta: {machine_name: gated}
states:
  - {name: idle, type: initial}
  - {name: done}
transitions:
  - {trigger: expire, source: idle, dest: done, after: 1000, guards: [{expr: "go"}]}
  - {trigger: later, source: idle, dest: done, after: 5000}
"""


@pytest.mark.parametrize("how", ["buried", "refused"])
def test_a_stored_timer_renamed_by_its_first_snapshot_keeps_its_lease(how: str) -> None:
    # An entity stored without a snapshot (by an earlier version) has its timers renamed
    # when it is first written with one: the timer left is new to the store, and is leased
    # to this orchestrator (not due for a dispatcher at once) like any timer it arms.
    store = InMemoryStateStore()
    orch = Orchestrator(StateMachine.from_string(GATED), store, clock=FakeClock())
    expire = ScheduledTimer("legacy-expire", "g1", "idle", "expire", 1001.0)
    later = ScheduledTimer("legacy-later", "g1", "idle", "later", 1005.0)
    store.save("g1", "idle", 0, timers=[expire, later])
    if how == "buried":
        assert asyncio.run(orch.async_bury_timer(expire, "boom", 1)) is True
    else:
        spent = asyncio.run(orch.async_fire_timer("g1", "expire", "legacy-expire"))
        assert not spent.success and spent.version == 2, "no `go`: the guard is false"
    (left,) = store.load("g1").timers  # type: ignore[union-attr]
    assert (left.event, left.due_at) == ("later", 1005.0) and left.timer_id != "legacy-later"
    assert store.timer_arm_at(left.timer_id) == 1000.0 + orch.lease_seconds


def test_a_timer_stored_without_a_snapshot_is_buried_by_its_state_event_and_due_time() -> None:
    store = InMemoryStateStore()
    orch = Orchestrator(StateMachine.from_string(KILN), store, clock=FakeClock())
    ready = ScheduledTimer("legacy-ready", "k1", "heating", "ready", 1001.5)
    give_up = ScheduledTimer("legacy-give-up", "k1", "heating", "give_up", 1005.25)
    store.save("k1", "low", 0, timers=[ready, give_up])  # as an earlier version wrote it

    stray = ScheduledTimer("legacy-other", "k1", "heating", "give_up", 1005.25)
    assert asyncio.run(orch.async_bury_timer(stray, "boom", 1)) is False
    assert asyncio.run(orch.async_bury_timer(give_up, "boom", 1)) is True
    assert [d.key for d in store.dead_letters()] == ["legacy-give-up"]
    (left,) = store.load("k1").timers  # type: ignore[union-attr]
    assert (left.event, left.due_at) == ("ready", 1001.5)
    assert asyncio.run(orch.async_bury_timer(ready, "boom", 1)) is False, (
        "once rewritten with a snapshot, the entity's timers go by their new ids"
    )


# ---------------------------------------------------------------- burying, with a fallback


def test_a_buried_timer_moves_the_entity_to_the_fallback_state(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()
    scheduler = RecordingScheduler(clock)
    services = ServiceLog()
    seen: list[tuple[str, dict[str, Any]]] = []
    store = InMemoryStateStore()
    orch = Orchestrator(
        StateMachine.from_string(PLANT),
        store,
        actions=plant_actions(seen),
        scheduler=scheduler,
        invoke_adapter=services,
        mark_delay=0,
    )

    async def main() -> tuple[bool, Any]:
        await orch.async_process_event("p1", "start")
        timers = timers_of(await orch.async_get_state("p1"))
        scheduler.scheduled.clear()
        services.calls.clear()
        clock.now = 1000.5
        buried = await orch.async_bury_timer(timers["overheat"], "RuntimeError: sensor", 3)
        again = await orch.async_fire_timer("p1", "overheat", timers["overheat"].timer_id)
        return buried, (timers, again)

    caplog.set_level(logging.WARNING, logger="pystator.runtime")
    buried, (timers, again) = asyncio.run(main())
    assert buried is True
    inspect, overheat, service = timers["inspect"], timers["overheat"], timers["service"]
    assert [inspect.timer_id, overheat.timer_id, service.timer_id] == [
        "p1#0@1000000",
        "p1#1@1000000",
        "p1#2@1000000",
    ]
    repair = ScheduledTimer("p1#3@1000500", "p1", "broken", "repair", 1009.5)
    stored = store.load("p1")
    assert stored is not None and (stored.state, stored.version) == ("broken", 3)
    assert stored.timers == (inspect, repair), "inspect is kept, repair armed, ids not reused"
    assert scheduler.scheduled == [repair]
    assert scheduler.cancelled == [service.timer_id], "the buried timer is not cancelled"
    letters = ["p1#1@1000000"]
    assert [(name, ctx["dead_letters"], ctx["entity_id"]) for name, ctx in seen] == [
        ("leave", letters, "p1"),
        ("alert", letters, "p1"),
    ]
    assert services.calls == [
        ("stop", "p1", "doing"),
        ("start", "p1", "broken", ("siren",), {"entity_id": "p1", "dead_letters": letters}),
    ]
    (letter,) = store.dead_letters("p1")
    assert (letter.kind, letter.key, letter.attempts, letter.failed_at) == (
        "timer",
        overheat.timer_id,
        3,
        1000.5,
    )
    trail = store.audit_trail("p1")
    assert [(r.version, r.from_state, r.to_state, r.trigger, r.event_id) for r in trail[-1:]] == [
        (3, "doing", "broken", FALLBACK_TRIGGER, None)
    ]
    assert store.pending_actions("p1") == []
    assert again.duplicate and again.first_outcome == {
        "success": False,
        "dead_letter": True,
        "error": "RuntimeError: sensor",
        "state": "broken",
        "version": 3,
    }
    assert messages(caplog, logging.ERROR) == [
        "timer p1#1@1000000 (overheat for p1) is a dead letter after 3 attempts: "
        "RuntimeError: sensor"
    ]


def test_a_timer_buried_in_the_fallback_state_leaves_the_entity_there() -> None:
    clock = FakeClock()
    seen: list[tuple[str, dict[str, Any]]] = []
    store = InMemoryStateStore()
    orch = Orchestrator(
        StateMachine.from_string(PLANT), store, actions=plant_actions(seen), clock=clock
    )
    orch.process_event("p1", "start")
    orch.process_event("p1", "fail")
    timers = timers_of(store.load("p1"))
    seen.clear()
    assert asyncio.run(orch.async_bury_timer(timers["repair"], "boom", 2)) is True
    stored = store.load("p1")
    assert stored is not None and (stored.state, stored.version) == ("broken", 4)
    assert stored.timers == (timers["inspect"],)
    assert seen == [], "broken is not entered again"
    assert [r.trigger for r in store.audit_trail("p1")][-1] == "fail"
    assert [d.key for d in store.dead_letters()] == [timers["repair"].timer_id]
    assert store.load_with_outcome("p1", timers["repair"].timer_id)[1] == {
        "success": False,
        "dead_letter": True,
        "error": "boom",
        "state": "broken",
        "version": 4,
    }


# ---------------------------------------------------------------- actions that keep failing


@DRIVE
def test_an_action_that_keeps_failing_is_a_dead_letter_and_the_entity_falls_back(
    drive: OrchestratorDriver, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock()
    services = ServiceLog()
    seen: list[tuple[str, dict[str, Any]]] = []
    store = InMemoryStateStore()
    orch = Orchestrator(
        StateMachine.from_string(PLANT),
        store,
        actions=plant_actions(seen),
        invoke_adapter=services,
        clock=clock,
        mark_delay=0,
    )
    drive.create(orch, "p1")
    clock.now = 1002.0
    caplog.set_level(logging.WARNING, logger="pystator.runtime")
    result = drive.process_event(orch, "p1", "launch")

    assert (result.state, result.version, result.failed_actions) == ("doing", 2, ("charge",))
    assert result.action_attempts == 1
    assert store.dead_letters() == [
        DeadLetter(
            "action",
            "p1:2:1",
            "p1",
            {
                "name": "charge",
                "params": {"cents": 250},
                "phase": "transition",
                "state": None,
                "context": {"entity_id": "p1"},
            },
            "RuntimeError: card declined",
            1,
            1002.0,
            id=1,
        )
    ]
    fallback = result.fallback
    assert fallback is not None
    assert (fallback.trigger, fallback.event_id, fallback.state, fallback.version) == (
        FALLBACK_TRIGGER,
        None,
        "broken",
        3,
    )
    assert fallback.conflicts == 0 and fallback.fallback is None
    t = fallback.transition
    assert t is not None and t.success
    assert (t.source_state, t.target_state, t.trigger) == ("doing", "broken", FALLBACK_TRIGGER)
    assert (t.exited_states, t.entered_states) == (("doing",), ("broken",))
    armed = ScheduledTimer("p1#3@1002000", "p1", "broken", "repair", 1011.0)
    assert fallback.armed_timers == (armed,)
    assert [x.event for x in fallback.cancelled_timers] == ["overheat", "service"]
    # doing's service was never started (the step fell back before its services ran)
    assert (fallback.services_started, fallback.services_stopped) == (("broken",), ())
    assert fallback.action_keys == ("p1:3:0", "p1:3:1")
    assert fallback.execution is not None and fallback.execution.all_succeeded

    letters = ["p1:2:1"]
    assert [(name, ctx.get("dead_letters"), ctx[IDEMPOTENCY_KEY]) for name, ctx in seen] == [
        ("log_work", None, "p1:2:0"),
        ("leave", letters, "p1:3:0"),
        ("alert", letters, "p1:3:1"),
    ]
    assert all(ctx["entity_id"] == "p1" for _, ctx in seen)
    assert services.calls == [
        ("start", "p1", "broken", ("siren",), {"entity_id": "p1", "dead_letters": letters}),
    ]
    assert result.services_started == ()
    stored = drive.get_state(orch, "p1")
    assert stored is not None and (stored.state, stored.version) == ("broken", 3)
    assert [x.event for x in stored.timers] == ["inspect", "repair"]
    trail = store.audit_trail("p1")
    assert [(r.version, r.from_state, r.to_state, r.trigger) for r in trail[-2:]] == [
        (2, "idle", "doing", "launch"),
        (3, "doing", "broken", FALLBACK_TRIGGER),
    ]
    assert store.pending_actions("p1") == [], "log_work's done mark rode on the fallback"
    assert messages(caplog, logging.ERROR) == [
        "action charge (p1:2:1) is a dead letter after 1 attempts: RuntimeError: card declined"
    ]
    assert messages(caplog, logging.WARNING) == ["entity p1 moved to fallback state broken"]


@DRIVE
def test_an_action_failing_in_the_fallback_state_is_a_dead_letter_and_the_entity_stays(
    drive: OrchestratorDriver,
) -> None:
    seen: list[tuple[str, dict[str, Any]]] = []
    store = InMemoryStateStore()
    orch = Orchestrator(
        StateMachine.from_string(PLANT),
        store,
        actions=plant_actions(seen),
        clock=FakeClock(),
        mark_delay=0,
    )
    drive.process_event(orch, "p1", "start")
    drive.process_event(orch, "p1", "fail")
    seen.clear()
    result = drive.process_event(orch, "p1", "poke")
    assert (result.state, result.version, result.fallback) == ("broken", 4, None)
    assert result.failed_actions == ("charge",)
    assert [name for name, _ in seen] == ["alert"], "poke re-entered broken, nothing more"
    assert [d.key for d in store.dead_letters()] == ["p1:4:0"]
    assert [r.trigger for r in store.audit_trail("p1")][-2:] == ["fail", "poke"]
    assert store.pending_actions("p1") == [], "alert's done mark settled with the letter"


@DRIVE
def test_the_move_to_the_fallback_is_retried_when_another_writer_commits_first(
    drive: OrchestratorDriver,
) -> None:
    store = RacingStore()
    plant = StateMachine.from_string(PLANT)
    orch = Orchestrator(
        plant,
        store,
        actions=plant_actions([]),
        clock=FakeClock(),
        max_conflict_retries=1,
        mark_delay=0,
    )
    other = Orchestrator(plant, store, actions=plant_actions([]), clock=FakeClock())
    store.races = [(falling_back, lambda: other.process_event("p1", "rest"))]
    result = drive.process_event(orch, "p1", "launch")
    fallback = result.fallback
    assert fallback is not None
    assert (fallback.state, fallback.version, fallback.conflicts) == ("broken", 4, 1)
    t = fallback.transition
    assert t is not None and (t.source_state, t.exited_states) == ("resting", ("resting",))
    assert [r.trigger for r in store.audit_trail("p1")][-3:] == ["launch", "rest", FALLBACK_TRIGGER]
    assert [d.key for d in store.dead_letters()] == ["p1:2:1"]

    store.races = [
        (falling_back, lambda: other.process_event("p2", "rest")),
        (falling_back, lambda: other.process_event("p2", "wake")),
    ]
    with pytest.raises(ConflictRetriesExhausted) as exc:
        drive.process_event(orch, "p2", "launch")
    assert (exc.value.entity_id, exc.value.expected_version) == ("p2", 3)
    assert (exc.value.actual_version, exc.value.attempts) == (4, 2)


def test_timers_the_scheduler_refused_are_handed_over_again_after_the_first_retry_delay(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()
    scheduler = RecordingScheduler(clock, refuse={"ready", "give_up"})
    store = InMemoryStateStore()
    retry = RetryPolicy(max_attempts=1, base_delay=2.0, jitter=0.0)
    orch = Orchestrator(StateMachine.from_string(KILN), store, scheduler=scheduler, retry=retry)
    caplog.set_level(logging.WARNING, logger="pystator.runtime")

    async def main() -> list[int]:
        result = await orch.async_process_event("k1", "heat")
        assert [t.event for t in result.armed_timers] == ["ready", "give_up"]
        scheduler.refuse.clear()
        claimed = []
        for now in (1001.99, 1002.0):
            clock.now = now
            claimed.append(await orch.async_dispatch_once())
        return claimed

    assert asyncio.run(main()) == [0, 2]
    assert [t.event for t in scheduler.scheduled] == ["ready", "give_up"]
    assert messages(caplog, logging.WARNING) == [
        "could not arm timer k1#0@1000000 (scheduler down): the dispatcher will",
        "could not arm timer k1#1@1000000 (scheduler down): the dispatcher will",
    ]


@pytest.mark.parametrize("start", ["fail", None])
def test_a_refused_timer_of_a_step_whose_action_dies_is_handed_over_again_soon(
    start: str | None,
) -> None:
    """Whether the entity falls back (``launch``) or is in the fallback already (``poke``)."""
    clock = FakeClock()
    scheduler = RecordingScheduler(clock)
    store = InMemoryStateStore()
    retry = RetryPolicy(max_attempts=1, base_delay=2.0, jitter=0.0, fallback="broken")
    orch = Orchestrator(
        StateMachine.from_string(PLANT),
        store,
        actions=plant_actions([]),
        scheduler=scheduler,
        retry=retry,
        mark_delay=0,
    )
    refused = "repair" if start else "inspect"

    async def main() -> list[int]:
        if start:
            await orch.async_process_event("p1", "start")
            await orch.async_process_event("p1", start)
        else:
            await orch.async_create("p1")
        scheduler.refuse = {refused}
        result = await orch.async_process_event("p1", "poke" if start else "launch")
        assert result.failed_actions == ("charge",)
        assert (result.fallback is None) == bool(start)
        scheduler.refuse.clear()
        scheduler.scheduled.clear()
        claimed = []
        for now in (1001.99, 1002.0):
            clock.now = now
            claimed.append(await orch.async_dispatch_once())
        return claimed

    assert asyncio.run(main()) == [0, 1]
    assert [t.event for t in scheduler.scheduled] == [refused]
    assert len(store.dead_letters()) == 1


# ---------------------------------------------------------------- the fallback is a step


def failing_charge() -> ActionRegistry:
    """``charge`` fails every time: with ``retry_attempts: 0`` the step falls back at once."""
    actions = ActionRegistry()
    actions.register("charge", lambda ctx: 1 / 0)
    return actions


def test_falling_back_into_one_region_of_a_parallel_state_keeps_the_others_running() -> None:
    actions = failing_charge()
    store = InMemoryStateStore()
    orch = Orchestrator(StateMachine.from_string(SPLIT), store, actions=actions)
    orch.process_event("s1", "start")
    assert orch.process_event("s2", "start").success
    assert orch.process_event("s2", "fail").state == "running:work=broken,watch=watching"
    result = orch.process_event("s1", "bill")
    assert result.fallback is not None
    assert result.fallback.state == "running:work=broken,watch=watching"
    assert orch.process_event("s1", "alarm").success
    # a region that moved on is kept where it is, not entered afresh
    orch.process_event("s3", "start")
    assert orch.process_event("s3", "alarm").state == "running:work=doing,watch=alarmed"
    moved = orch.process_event("s3", "bill").fallback
    assert moved is not None and moved.state == "running:work=broken,watch=alarmed"
    assert moved.transition is not None
    assert moved.transition.source_state == "running:work=doing,watch=alarmed"


@DRIVE
def test_a_step_that_falls_back_does_not_start_the_services_of_the_state_it_left(
    drive: OrchestratorDriver,
) -> None:
    services = ServiceLog()
    orch = Orchestrator(
        StateMachine.from_string(PLANT),
        InMemoryStateStore(),
        actions=plant_actions([]),
        invoke_adapter=services,
        mark_delay=0,
    )
    result = drive.process_event(orch, "p1", "launch")
    assert result.fallback is not None and result.fallback.state == "broken"
    running: set[str] = set()
    for call in services.calls:
        (running.add if call[0] == "start" else running.discard)(call[2])
    assert running == {"broken"}, services.calls


def test_a_machine_with_a_datamodel_falls_back_too() -> None:
    actions = failing_charge()
    store = InMemoryStateStore()
    orch = Orchestrator(StateMachine.from_string(LEDGER), store, actions=actions)
    result = orch.process_event("l1", "pay")
    assert result.fallback is not None and result.fallback.state == "broken"
    assert [d.key for d in store.dead_letters()] == ["l1:2:0"]
    stored = store.load("l1")
    assert stored is not None and stored.snapshot is not None
    assert stored.snapshot["data"]["letters"] == ["l1:2:0"]


def test_the_fallback_settles_like_a_step_into_the_same_state() -> None:
    actions = failing_charge()
    orch = Orchestrator(StateMachine.from_string(PAGER), InMemoryStateStore(), actions=actions)
    assert orch.process_event("a1", "fail").state == "paged"
    result = orch.process_event("a2", "pay")
    assert result.fallback is not None and result.fallback.state == "paged"


REMEMBERING = """
meta: {machine_name: remembering}
error_policy: {retry_attempts: 0, default_fallback: mem}
states:
  - {name: idle, type: initial}
  - {name: work, initial_child: w1}
  - {name: w1, parent: work}
  - {name: w2, parent: work}
  - {name: mem, parent: work, type: history}
transitions:
  - {trigger: go, source: idle, dest: work}
  - {trigger: next, source: w1, dest: w2}
  - {trigger: leave, source: work, dest: idle}
  - {trigger: pay, source: idle, dest: idle, actions: [charge]}
"""
"""A history state as the fallback: the move restores what it remembers."""

ON_CALL = """
meta: {machine_name: on_call}
error_policy: {retry_attempts: 0, default_fallback: broken}
states:
  - {name: idle, type: initial}
  - {name: broken}
  - {name: paged}
transitions:
  - {trigger: pay, source: idle, dest: idle, actions: [charge]}
  - {trigger: note, source: idle, dest: idle}
  - {source: broken, dest: paged, always: true, guards: [on_call]}
"""
"""The fallback state's eventless way out is guarded by a named guard."""


def test_a_history_state_as_the_fallback_restores_what_it_remembers() -> None:
    store = InMemoryStateStore()
    orch = Orchestrator(StateMachine.from_string(REMEMBERING), store, actions=failing_charge())
    for event in ("go", "next", "leave"):
        orch.process_event("h1", event)
    moved = orch.process_event("h1", "pay").fallback
    assert moved is not None and moved.state == "w2"
    assert [d.key for d in store.dead_letters()] == ["h1:5:0"]
    fresh = orch.process_event("h2", "pay").fallback  # nothing remembered: the default
    assert fresh is not None and fresh.state == "w1"


@DRIVE
def test_the_fallback_states_guards_read_the_stored_context(drive: OrchestratorDriver) -> None:
    guards = GuardRegistry()
    guards.register("on_call", lambda ctx: ctx["vip"])
    orch = Orchestrator(
        StateMachine.from_string(ON_CALL),
        InMemoryStateStore(),
        guards=guards,
        actions=failing_charge(),
        persist_context=True,
    )
    drive.process_event(orch, "v1", "note", {"vip": True})  # remembered by the entity
    moved = drive.process_event(orch, "v1", "pay").fallback
    assert moved is not None and moved.state == "paged"


def test_a_fallback_whose_way_on_cannot_be_taken_lands_with_its_entry_alone(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # an async guard cannot be evaluated by the fallback's move, nor can one that
    # raises: the move still lands, and the dead letter is on record
    async def on_call(ctx: Mapping[str, Any]) -> bool:
        return True

    for guard in (on_call, lambda ctx: ctx["missing"]):
        guards = GuardRegistry()
        guards.register("on_call", guard)
        store = InMemoryStateStore()
        orch = Orchestrator(
            StateMachine.from_string(ON_CALL), store, guards=guards, actions=failing_charge()
        )
        with caplog.at_level(logging.WARNING, logger="pystator.reset"):
            result = asyncio.run(orch.async_process_event("a1", "pay"))
        assert result.fallback is not None and result.fallback.state == "broken"
        assert [d.key for d in store.dead_letters()] == ["a1:2:0"]
        assert "fallback to broken: what follows its entry failed" in caplog.text
        caplog.clear()


RIG = """
meta: {machine_name: rig}
error_policy: {retry_attempts: 0, default_fallback: broken}
states:
  - {name: idle, type: initial}
  - name: working
    invoke: [{id: drill, src: "machine:drill"}]
  - name: broken
    invoke: [{id: pager, src: "machine:pager"}]
transitions:
  - {trigger: start, source: idle, dest: working}
  - {trigger: pay, source: working, dest: working, actions: [charge]}
  - {trigger: check, source: working, dest: working, after: 9000}
  - {trigger: done.invoke.drill, source: working, dest: idle}
"""
"""``working`` runs the ``drill`` child machine, ``broken`` (the fallback) the ``pager``;
``working``'s own ``check`` timer is armed in the same step as the drill's ``wear``."""

DRILL = """
meta: {machine_name: drill}
states:
  - {name: spinning, type: initial}
  - {name: worn, type: terminal}
transitions:
  - {trigger: wear, source: spinning, dest: worn, after: 5000}
"""

CHILD_PAGER = """
meta: {machine_name: pager}
states:
  - {name: paging, type: initial}
  - {name: answered, type: terminal}
transitions:
  - {trigger: answer, source: paging, dest: answered}
"""


@DRIVE
def test_the_fallback_cancels_the_child_machines_it_leaves_and_starts_those_it_enters(
    drive: OrchestratorDriver,
) -> None:
    store = InMemoryStateStore()
    orch = Orchestrator(rig_machine(), store, actions=failing_charge())
    drive.process_event(orch, "r1", "start")
    before = store.load("r1")
    assert before is not None and before.snapshot is not None
    assert set(before.snapshot["children"]) == {"drill"}
    assert [t.event for t in before.timers] == ["wear", "check"]
    result = drive.process_event(orch, "r1", "pay")
    assert result.fallback is not None and result.fallback.state == "broken"
    after = store.load("r1")
    assert after is not None and after.snapshot is not None
    assert set(after.snapshot["children"]) == {"pager"}
    assert after.timers == (), "the drill's timer went with it"
    assert sorted(x.event for x in result.fallback.cancelled_timers) == ["check", "wear"]


def rig_machine() -> StateMachine:
    machines = {
        "drill": StateMachine.from_string(DRILL),
        "pager": StateMachine.from_string(CHILD_PAGER),
    }
    return StateMachine.from_string(RIG).bind_machines(machines)


def test_a_child_machines_timer_is_scheduled_apart_from_the_parents_and_fires_the_child() -> None:
    # parent and child number their timers each from 0, armed in one step at one time
    clock = FakeClock()
    scheduler = RecordingScheduler(clock)
    store = InMemoryStateStore()
    orch = Orchestrator(rig_machine(), store, scheduler=scheduler, clock=clock)

    async def main() -> tuple[Any, Any]:
        await orch.async_process_event("r1", "start")
        stored = store.load("r1")
        assert stored is not None
        ids = {t.event: t.timer_id for t in stored.timers}
        assert len(set(ids.values())) == 2, ids
        assert {t.timer_id for t in scheduler.scheduled} == set(ids.values())
        fired = await orch.async_fire_timer("r1", "wear", ids["wear"])
        return fired, ids

    fired, ids = asyncio.run(main())
    assert fired.success and fired.state == "idle", "the drill wore out: done.invoke.drill"
    stored = store.load("r1")
    assert stored is not None and stored.snapshot is not None
    assert stored.timers == () and "children" not in stored.snapshot
    assert ids["check"] in scheduler.cancelled


PAIR = """
meta: {machine_name: pair}
states:
  - name: both
    type: initial
    invoke: [{id: "left/1", src: "machine:ticker"}, {id: right, src: "machine:ticker"}]
"""
"""Two children of one machine: their timers are equal but for whose they are."""


def test_two_children_of_one_machine_are_scheduled_apart_and_a_buried_one_goes_alone() -> None:
    clock = FakeClock()
    scheduler = RecordingScheduler(clock)
    store = InMemoryStateStore()
    pair = StateMachine.from_string(PAIR).bind_machines(
        {"ticker": StateMachine.from_string(TICKER)}
    )
    orch = Orchestrator(pair, store, scheduler=scheduler, clock=clock)

    async def main() -> None:
        await orch.async_create("p1")
        stored = store.load("p1")
        assert stored is not None
        ids = sorted(t.timer_id for t in stored.timers)
        assert ids == ["p1#left\\/1/0@1000000", "p1#right/0@1000000"]
        left = next(t for t in stored.timers if t.timer_id == ids[0])
        assert await orch.async_bury_timer(left, "RuntimeError: no", 3)
        fired = await orch.async_fire_timer("p1", "ding", ids[1])
        assert fired.success

    asyncio.run(main())
    stored = store.load("p1")
    assert stored is not None and stored.snapshot is not None
    children = stored.snapshot["children"]
    assert (children["left/1"]["configuration"], children["left/1"]["timers"]) == (
        ["counting"],
        [],
    )
    assert children["right"]["configuration"] == ["ringing"]
    assert [t.event for t in stored.timers] == ["dong"]
    assert [d.key for d in store.dead_letters()] == ["p1#left\\/1/0@1000000"]
