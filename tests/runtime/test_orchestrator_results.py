"""What the orchestrator reports and records: results, their summaries, and snapshots.

An ``OrchestratorResult`` and the outcome summary kept in the dedup record (what a
duplicate is answered with) are read field by field; timers as the schedulers see
them (``ScheduledTimer``) and as the engine's snapshot keeps them; an entity stored
without a snapshot (by an earlier version) read back from its state string and
pending timers; and each action of a step run alone, in its own phase, with its
params. Sync and async paths run the same test (``drive``).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from pystator import ActionRegistry, Event, StateMachine
from pystator.runtime import (
    IDEMPOTENCY_KEY,
    InMemoryIdempotencyStore,
    InMemoryStateStore,
    Orchestrator,
    ScheduledTimer,
)
from pystator.snapshot import Snapshot, Timer
from tests.drivers import ORCHESTRATOR_DRIVERS, OrchestratorDriver

DRIVE = pytest.mark.parametrize("drive", ORCHESTRATOR_DRIVERS)


class FakeClock:
    def __init__(self, now: float = 1.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# An order whose fill is guarded, so an event can be refused with an error.
GUARDED = """
meta: {machine_name: guarded}
states:
  - {name: open, type: initial}
  - {name: filled, type: terminal}
transitions:
  - trigger: fill
    source: open
    dest: filled
    guards: [{expr: "qty >= 10"}]
"""

# ``work`` holds two delayed transitions; its child ``b`` arms one of its own.
# Transition indexes (document order): go 0, step 1, remind 2, expire 3, nudge 4, quit 5.
NESTED_TIMERS = """
meta: {machine_name: nested}
states:
  - {name: idle, type: initial}
  - {name: work, initial_child: a}
  - {name: a, parent: work}
  - {name: b, parent: work}
  - {name: expired, type: terminal}
  - {name: late, type: terminal}
transitions:
  - {trigger: go, source: idle, dest: work}
  - {trigger: step, source: a, dest: b}
  - {trigger: remind, source: b, dest: late, after: 3000}
  - {trigger: expire, source: work, dest: expired, after: 5000}
  - {trigger: nudge, source: work, dest: expired, after: 9000}
  - {trigger: quit, source: work, dest: idle}
"""

# One action per phase, each with its own params.
PHASES = """
meta: {machine_name: phases}
states:
  - name: draft
    type: initial
    on_exit: [{name: leave, params: {why: draft}}]
  - name: sent
    on_enter: [{name: arrive, params: {where: sent}}]
transitions:
  - trigger: send
    source: draft
    dest: sent
    actions: [{name: carry, params: {n: 1}}]
"""


# ---------------------------------------------------------------- results and summaries


@DRIVE
def test_a_moved_event_is_summarised_field_by_field_and_answers_its_duplicate(
    drive: OrchestratorDriver,
) -> None:
    orch = Orchestrator(
        StateMachine.from_string(GUARDED),
        InMemoryStateStore(),
        idempotency=InMemoryIdempotencyStore(),
    )
    result = drive.process_event(orch, "o1", Event.simple("fill", qty=12), event_id="evt-1")
    assert result.trigger == "fill", "an Event's trigger, not the Event"
    assert result.success and result.committed
    expected = {
        "entity_id": "o1",
        "trigger": "fill",
        "event_id": "evt-1",
        "success": True,
        "source_state": "open",
        "target_state": "filled",
        "error": None,
        "state": "filled",
        "version": 2,
        "stale_timer": False,
    }
    assert result.summary() == expected
    again = drive.process_event(orch, "o1", Event.simple("fill", qty=12), event_id="evt-1")
    assert again.duplicate and again.transition is None
    assert again.first_outcome == expected, "the dedup record keeps the same summary"
    assert again.success and not again.committed
    assert (again.trigger, again.state, again.version) == ("fill", "filled", 2)


@DRIVE
def test_a_refused_event_is_summarised_with_its_error_and_answers_its_duplicate(
    drive: OrchestratorDriver,
) -> None:
    orch = Orchestrator(StateMachine.from_string(GUARDED), InMemoryStateStore())
    refused = drive.process_event(orch, "o1", "fill", {"qty": 3}, event_id="evt-2")
    assert not refused.success and not refused.committed
    assert refused.transition is not None and refused.transition.error is not None
    error = str(refused.transition.error)
    assert "qty >= 10" in error
    expected = {
        "entity_id": "o1",
        "trigger": "fill",
        "event_id": "evt-2",
        "success": False,
        "source_state": "open",
        "target_state": None,
        "error": error,
        "state": "open",
        "version": 1,
        "stale_timer": False,
    }
    assert refused.summary() == expected
    again = drive.process_event(orch, "o1", "fill", {"qty": 30}, event_id="evt-2")
    assert again.duplicate and again.first_outcome == expected
    assert not again.success, "a duplicate succeeds only if its first time did"
    assert drive.get_state(orch, "o1").state == "open"  # type: ignore[union-attr]


def test_a_stale_timer_is_summarised_without_a_transition() -> None:
    async def main() -> None:
        orch = Orchestrator(StateMachine.from_string(NESTED_TIMERS), InMemoryStateStore())
        await orch.async_create("e1")
        stale = await orch.async_fire_timer("e1", "expire", "e1#7@0")
        assert stale.stale_timer and stale.transition is None
        assert not stale.success and not stale.committed
        assert stale.summary() == {
            "entity_id": "e1",
            "trigger": "expire",
            "event_id": "e1#7@0",
            "success": False,
            "source_state": None,
            "target_state": None,
            "error": None,
            "state": "idle",
            "version": 1,
            "stale_timer": True,
        }

    asyncio.run(main())


# ---------------------------------------------------------------- stored without a snapshot


def legacy_store() -> InMemoryStateStore:
    """Entities written by an earlier version: a state string and timers, no snapshot."""
    store = InMemoryStateStore()
    for entity in ("e1", "e2", "e3"):
        timers = (
            ScheduledTimer(f"{entity}-expire", entity, "work", "expire", 5.0),
            ScheduledTimer(f"{entity}-gone", entity, "work", "vanished", 7.0),
            ScheduledTimer(f"{entity}-nudge", entity, "work", "nudge", 9.0),
        )
        store.save(entity, "a", 0, timers=timers)
        assert store.load(entity).snapshot is None  # type: ignore[union-attr]
    return store


@DRIVE
def test_an_entity_without_a_snapshot_is_read_from_its_state_and_timers(
    drive: OrchestratorDriver,
) -> None:
    store = legacy_store()
    orch = Orchestrator(StateMachine.from_string(NESTED_TIMERS), store, clock=FakeClock(1.0))
    moved = drive.process_event(orch, "e1", "step")
    assert moved.success and (moved.state, moved.version) == ("b", 2)
    # the legacy timers are numbered 0, 1, 2 in due order: b's timer is the fourth
    assert moved.armed_timers == (ScheduledTimer("e1#3@1000", "e1", "b", "remind", 4.0),)
    assert moved.cancelled_timers == ()
    stored = store.load("e1")
    assert stored is not None and stored.snapshot is not None
    snapshot = Snapshot.from_dict(stored.snapshot)
    assert snapshot.configuration == frozenset({"work", "b"})
    assert snapshot.timers == (
        Timer(3, "b", 4000, "remind", "late", 1000, 2),
        Timer(0, "work", 5000, "expire", "expired", 5000, 3),
        # a timer whose transition the machine no longer has: kept, going nowhere
        Timer(1, "work", 7000, "vanished", "work", 7000, -1),
        Timer(2, "work", 9000, "nudge", "expired", 9000, 4),
    )
    assert snapshot.next_timer_id == 4
    assert [t.timer_id for t in stored.timers] == [
        "e1#3@1000",
        "e1#0@5000",
        "e1#1@7000",
        "e1#2@9000",
    ]

    left = drive.process_event(orch, "e3", "quit")
    assert left.state == "idle"
    assert left.cancelled_timers == (
        ScheduledTimer("e3#0@5000", "e3", "work", "expire", 5.0),
        ScheduledTimer("e3#1@7000", "e3", "work", "vanished", 7.0),
        ScheduledTimer("e3#2@9000", "e3", "work", "nudge", 9.0),
    )
    assert store.load("e3").timers == ()  # type: ignore[union-attr]


def test_a_timer_stored_without_a_snapshot_still_fires_by_its_old_id() -> None:
    async def main() -> None:
        store = legacy_store()
        orch = Orchestrator(StateMachine.from_string(NESTED_TIMERS), store, clock=FakeClock(6.0))
        fired = await orch.async_fire_timer("e2", "expire", "e2-expire")
        assert not fired.stale_timer and fired.success
        assert (fired.state, fired.version) == ("expired", 2)
        assert fired.transition is not None and fired.transition.source_state == "a"
        again = await orch.async_fire_timer("e2", "expire", "e2-expire")
        assert again.duplicate

    asyncio.run(main())


# ---------------------------------------------------------------- one action at a time


@DRIVE
def test_each_action_runs_once_in_its_own_phase_with_its_params(
    drive: OrchestratorDriver,
) -> None:
    seen: list[tuple[str, dict[str, Any], str]] = []
    actions = ActionRegistry()
    for name in ("leave", "carry", "arrive"):
        actions.register(
            name,
            lambda ctx, name=name: seen.append(
                (name, dict(ctx["_action_params"]), ctx[IDEMPOTENCY_KEY])
            ),
        )
    orch = Orchestrator(StateMachine.from_string(PHASES), InMemoryStateStore(), None, actions)
    result = drive.process_event(orch, "d1", "send")
    assert seen == [
        ("leave", {"why": "draft"}, "d1:2:0"),
        ("carry", {"n": 1}, "d1:2:1"),
        ("arrive", {"where": "sent"}, "d1:2:2"),
    ]
    assert result.execution is not None
    assert [
        (r.action_name, r.phase, r.success, dict(r.params)) for r in result.execution.results
    ] == [
        ("leave", "exit", True, {"why": "draft"}),
        ("carry", "transition", True, {"n": 1}),
        ("arrive", "enter", True, {"where": "sent"}),
    ]
    assert result.action_keys == ("d1:2:0", "d1:2:1", "d1:2:2")
    assert result.failed_actions == () and result.action_attempts == 1
