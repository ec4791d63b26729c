"""State stores: one step is written whole or not at all, on every backend.

The same contract runs against the in-memory store, a SQLite file and a real
PostgreSQL server: versions, conflicts, audit rows, dedup records, timers, the
outbox (claims, leases, settling) and dead letters.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pystator.core.state_store import (
    AuditEntry,
    InMemoryStateStore,
    SQLiteStateStore,
    StateConflictError,
    StateStore,
)
from pystator.runtime import (
    ActionEffect,
    DeadLetter,
    DuplicateEventError,
    FailedAction,
    OrchestratorUsageError,
    ScheduledTimer,
    StepCommit,
    StoreUnavailableError,
)
from tests.runtime.stores import close_store, open_store

BACKENDS = [
    "memory",
    "sqlite",
    "sqlite-memory",  # one private database, which every thread's calls must share
    pytest.param("postgres", marks=[pytest.mark.slow, pytest.mark.postgres]),
]


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StateStore]:
    if request.param == "memory":
        opened: StateStore = InMemoryStateStore()
    elif request.param == "sqlite":
        opened = open_store(f"sqlite:///{tmp_path / 'state.db'}")
    elif request.param == "sqlite-memory":
        opened = SQLiteStateStore(":memory:")
    else:
        opened = open_store(request.getfixturevalue("pg_url"))
    yield opened
    close_store(opened)


def step(entity: str, expected: int, state: str, **more: object) -> StepCommit:
    return StepCommit(entity, expected, state, AuditEntry("?", state, "go"), **more)  # type: ignore[arg-type]


def test_a_new_entity_is_created_at_version_one(store: StateStore) -> None:
    assert store.load("e1") is None
    assert store.save("e1", "PENDING", 0, AuditEntry("", "PENDING", "create")) == 1
    loaded = store.load("e1")
    assert loaded is not None
    assert (loaded.state, loaded.version) == ("PENDING", 1)


def test_save_with_a_stale_version_raises_and_changes_nothing(store: StateStore) -> None:
    store.save("e1", "A", 0)
    store.save("e1", "B", 1, AuditEntry("A", "B", "go"))
    with pytest.raises(StateConflictError) as info:
        store.save("e1", "C", 1, AuditEntry("A", "C", "other"))
    assert (info.value.expected_version, info.value.actual_version) == (1, 2)
    loaded = store.load("e1")
    assert loaded is not None and (loaded.state, loaded.version) == ("B", 2)
    assert [r.to_state for r in store.audit_trail("e1")] == ["B"]


def test_creating_twice_is_a_conflict(store: StateStore) -> None:
    store.save("e1", "A", 0)
    with pytest.raises(StateConflictError):
        store.save("e1", "A", 0)


def test_audit_rows_carry_the_transition_and_version(store: StateStore) -> None:
    store.save("e1", "A", 0, AuditEntry("", "A", "create", None, 10.0))
    store.save("e1", "B", 1, AuditEntry("A", "B", "go", "evt-1", 11.0))
    trail = store.audit_trail("e1")
    assert [(r.version, r.from_state, r.to_state, r.trigger, r.event_id) for r in trail] == [
        (1, "", "A", "create", None),
        (2, "A", "B", "go", "evt-1"),
    ]
    assert trail[1].timestamp == 11.0


def test_parallel_state_strings_timers_context_and_snapshot_round_trip(
    store: StateStore,
) -> None:
    state = "active:trading=scanning,risk_monitor=normal,data_feed=connecting"
    timers = (ScheduledTimer("t1", "e1", "scanning", "tick", 1234.5),)
    snapshot = {"configuration": ["active", "scanning"], "history": {"h": ["x"]}, "n": 1.5}
    store.save("e1", state, 0, context={"qty": 3, "tags": ["a"]}, timers=timers, snapshot=snapshot)
    loaded = store.load("e1")
    assert loaded is not None
    assert loaded.state == state
    assert loaded.timers == timers
    assert loaded.context == {"qty": 3, "tags": ["a"]}
    assert loaded.snapshot == snapshot
    store.save("e1", state, 1, timers=())
    again = store.load("e1")
    assert again is not None and again.context == {"qty": 3, "tags": ["a"]}
    assert again.timers == () and again.snapshot is None


def test_what_a_load_returns_is_the_callers_to_change(store: StateStore) -> None:
    # Only a commit changes an entity: editing what was loaded must not reach the store.
    store.save("e1", "A", 0, context={"n": [1]}, snapshot={"x": [1]})
    loaded = store.load("e1")
    assert loaded is not None and loaded.context is not None and loaded.snapshot is not None
    loaded.context["n"].append(2)
    loaded.snapshot["x"].append(2)
    again = store.load("e1")
    assert again is not None
    assert again.context == {"n": [1]} and again.snapshot == {"x": [1]}


def test_outcomes_and_dead_letters_read_back_are_the_callers_to_change(store: StateStore) -> None:
    # as with a load: what a caller does to what it read never reaches the store, nor
    # does a later change to what it committed
    outcome = {"state": "B", "seen": {"ids": [1]}}
    payload = {"name": "pay", "params": {"cents": [250]}}
    letter = DeadLetter("action", "e1:2:0", "e1", payload, "RuntimeError: no", 3, 5.0)
    store.save("e1", "A", 0)
    store.commit(step("e1", 1, "B", event_id="evt-1", outcome=outcome, dead_letters=(letter,)))
    outcome["seen"]["ids"].append(2)
    payload["params"]["cents"].append(1)
    _, first = store.load_with_outcome("e1", "evt-1")
    assert first is not None
    first["seen"]["ids"].append(3)
    (read,) = store.dead_letters("e1")
    read.payload["params"]["cents"].append(2)
    _, again = store.load_with_outcome("e1", "evt-1")
    assert again == {"state": "B", "seen": {"ids": [1]}}
    assert store.dead_letters("e1")[0].payload == {"name": "pay", "params": {"cents": [250]}}


def test_the_first_outcome_a_duplicate_commit_returns_is_the_callers_to_change(
    store: StateStore,
) -> None:
    # the duplicate's first outcome is a copy all the way down, as a load's is
    store.save("e1", "A", 0)
    store.commit(step("e1", 1, "B", event_id="evt-1", outcome={"seen": {"ids": [1]}}))
    (again,) = store.commit_many([step("e1", 2, "C", event_id="evt-1")])
    assert again.version is None and again.duplicate == {"seen": {"ids": [1]}}
    again.duplicate["seen"]["ids"].append(2)
    (third,) = store.commit_many([step("e1", 2, "C", event_id="evt-1")])
    assert third.duplicate == {"seen": {"ids": [1]}}
    assert store.load_with_outcome("e1", "evt-1")[1] == {"seen": {"ids": [1]}}


def test_outbox_rows_read_back_are_the_callers_to_change(store: StateStore) -> None:
    params: dict[str, Any] = {"to": ["ops"]}
    context: dict[str, Any] = {"order": {"id": 7}}
    store.save("e1", "A", 0)
    store.commit(
        step("e1", 1, "B", actions=(ActionEffect("notify", params, "enter", "B", context),))
    )
    params["to"].append("sales")
    context["order"]["id"] = 8
    (first,) = store.pending_actions("e1")
    first.effect.params["to"].append("all")
    (claimed,) = store.claim("me", 1e12, 1e12 + 30, 10).actions
    claimed.effect.context["order"]["id"] = 9
    (again,) = store.pending_actions("e1")
    assert (again.effect.params, again.effect.context) == ({"to": ["ops"]}, {"order": {"id": 7}})


def test_a_step_is_written_whole_with_its_dedup_record_timers_and_outbox(
    store: StateStore,
) -> None:
    store.save("e1", "A", 0, timers=(ScheduledTimer("old", "e1", "A", "tick", 5.0),))
    commit = step(
        "e1",
        1,
        "B",
        timers=(ScheduledTimer("new", "e1", "B", "tock", 9.0),),
        actions=(ActionEffect("notify", {"to": "ops"}, "enter", "B", {"order": 7}),),
        event_id="evt-1",
        outcome={"state": "B", "version": 2},
        owner="me",
        lease_until=100.0,
    )
    assert store.commit(commit) == 2
    stored, first = store.load_with_outcome("e1", "evt-1")
    assert stored is not None and stored.state == "B"
    assert [t.timer_id for t in stored.timers] == ["new"], "the old timer is no longer pending"
    assert first == {"state": "B", "version": 2}
    (pending,) = store.pending_actions("e1")
    assert (pending.key, pending.effect.name, pending.effect.params) == (
        "e1:2:0",
        "notify",
        {"to": "ops"},
    )
    assert pending.effect.context == {"order": 7} and pending.effect.phase == "enter"
    with pytest.raises(DuplicateEventError) as info:
        store.commit(step("e1", 2, "C", event_id="evt-1", outcome={}))
    assert info.value.first_outcome == {"state": "B", "version": 2}
    assert store.load("e1").version == 2  # type: ignore[union-attr]


def test_a_refused_commit_writes_nothing_at_all(store: StateStore) -> None:
    store.save("e1", "A", 0)
    store.save("e1", "B", 1)
    results = store.commit_many(
        [
            step(
                "e1",
                1,
                "C",
                event_id="late",
                outcome={"x": 1},
                timers=(ScheduledTimer("t", "e1", "C", "tick", 1.0),),
                actions=(ActionEffect("a"),),
            ),
        ]
    )
    assert results[0].conflict == 2 and not results[0].written
    stored, first = store.load_with_outcome("e1", "late")
    assert stored is not None and stored.state == "B" and stored.timers == ()
    assert first is None, "a lost race leaves no dedup record"
    assert store.pending_actions("e1") == []
    assert len(store.audit_trail("e1")) == 0


def test_a_batch_takes_commits_for_one_entity_in_order(store: StateStore) -> None:
    store.save("e1", "A", 0)
    results = store.commit_many(
        [
            step("e1", 1, "B"),
            step("e1", 2, "C"),
            step("e1", 2, "X"),
            step("e2", 0, "A"),
        ]
    )
    assert [r.version for r in results] == [2, 3, None, 1]
    assert results[2].conflict == 3
    assert store.load("e1").state == "C"  # type: ignore[union-attr]


def test_a_rejected_event_is_remembered_without_a_new_version(store: StateStore) -> None:
    store.save("e1", "A", 0)
    store.commit(
        StepCommit("e1", 1, "A", event_id="nope", outcome={"success": False}, changes_state=False)
    )
    stored, first = store.load_with_outcome("e1", "nope")
    assert stored is not None and stored.version == 1 and first == {"success": False}
    results = store.commit_many([step("e1", 1, "B", event_id="nope", outcome={})])
    assert results[0].duplicate == {"success": False}


def test_claims_lease_rows_to_one_owner_until_the_lease_ends(store: StateStore) -> None:
    store.save("e1", "A", 0)
    store.commit(
        step(
            "e1",
            1,
            "B",
            actions=(ActionEffect("a"), ActionEffect("b")),
            timers=(ScheduledTimer("t", "e1", "B", "tick", 50.0),),
            owner="first",
            lease_until=100.0,
        )
    )
    assert not store.claim("second", 99.0, 200.0, 10), "still leased to the committer"
    claimed = store.claim("second", 100.0, 200.0, 10)
    assert [a.key for a in claimed.actions] == ["e1:2:0", "e1:2:1"]
    assert [t.timer_id for t in claimed.timers] == ["t"]
    assert not store.claim("third", 150.0, 300.0, 10), "one owner at a time"
    assert store.renew("first", ["e1:2:0"], 400.0) == set(), "the old owner lost it"
    assert store.renew("second", ["e1:2:0", "e1:2:1"], 400.0) == {"e1:2:0", "e1:2:1"}
    late = store.claim("third", 300.0, 500.0, 10)
    assert late.actions == (), "renewed leases hold"
    assert [t.timer_id for t in late.timers] == ["t"], "a timer's arming lease is not renewed"
    store.settle(
        "second",
        done=["e1:2:0"],
        failed=[FailedAction("e1:2:1", 1, "boom", 450.0)],
        armed={"t": 1000.0},
    )
    (left,) = store.pending_actions("e1")
    assert (left.key, left.attempts, left.last_error) == ("e1:2:1", 1, "boom")
    assert not store.claim("third", 449.0, 500.0, 10)
    again = store.claim("third", 450.0, 500.0, 10)
    assert [a.key for a in again.actions] == ["e1:2:1"] and again.timers == ()
    assert [t.timer_id for t in store.claim("x", 1000.0, 2000.0, 10).timers] == ["t"]


def test_dead_letters_are_kept_with_their_error(store: StateStore) -> None:
    store.save("e1", "A", 0)
    store.commit(
        step("e1", 1, "B", actions=(ActionEffect("pay", {"n": 1}),), owner="me", lease_until=10.0)
    )
    letter = DeadLetter("action", "e1:2:0", "e1", {"name": "pay"}, "RuntimeError: no", 3, 5.0)
    store.settle("me", dead=[letter])
    assert store.pending_actions("e1") == []
    (kept,) = store.dead_letters("e1")
    assert (kept.kind, kept.key, kept.error, kept.attempts, kept.payload) == (
        "action",
        "e1:2:0",
        "RuntimeError: no",
        3,
        {"name": "pay"},
    )
    assert kept.id is not None and store.dead_letters("other") == []


def test_async_methods_match_the_sync_ones(store: StateStore) -> None:
    async def main() -> None:
        assert await store.async_save("e1", "A", 0, AuditEntry("", "A", "create")) == 1
        with pytest.raises(StateConflictError):
            await store.async_save("e1", "B", 0)
        loaded = await store.async_load("e1")
        assert loaded is not None and loaded.state == "A"
        assert len(await store.async_audit_trail("e1")) == 1
        results = await store.async_commit_many(
            [step("e1", 1, "B", event_id="x", outcome={"ok": 1}, actions=(ActionEffect("a"),))]
        )
        assert results[0].version == 2
        stored, first = await store.async_load_with_outcome("e1", "x")
        assert stored is not None and stored.state == "B" and first == {"ok": 1}
        claimed = await store.async_claim("o", 1e12, 2e12, 5)
        assert [a.key for a in claimed.actions] == ["e1:2:0"]
        assert await store.async_renew("o", ["e1:2:0"], 3e12) == {"e1:2:0"}
        await store.async_settle("o", done=["e1:2:0"])
        assert store.pending_actions() == [] and await store.async_dead_letters() == []
        await store.aclose()

    asyncio.run(main())


def test_values_json_cannot_hold_are_refused_by_name(tmp_path: Path) -> None:
    store = SQLiteStateStore(tmp_path / "state.db")
    store.save("e1", "A", 0)
    with pytest.raises(OrchestratorUsageError, match=r"context of action 'notify'.*plain JSON"):
        store.commit(step("e1", 1, "B", actions=(ActionEffect("notify", context={"s": {1}}),)))
    assert store.load("e1").version == 1  # type: ignore[union-attr]


def test_sqlite_store_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    first = SQLiteStateStore(path)
    first.save("e1", "A", 0, AuditEntry("", "A", "create"))
    first.close()
    second = SQLiteStateStore(path)
    loaded = second.load("e1")
    assert loaded is not None and (loaded.state, loaded.version) == ("A", 1)
    mode = second._conn().execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_a_sqlite_file_locked_past_the_timeout_is_unavailable_not_corrupted(
    tmp_path: Path,
) -> None:
    path = tmp_path / "state.db"
    store = SQLiteStateStore(path, busy_timeout=0.2)
    store.save("e1", "A", 0)
    locker = sqlite3.connect(path, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreUnavailableError, match="database is locked"):
            store.commit(step("e1", 1, "B"))
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    assert store.commit(step("e1", 1, "B")) == 2


def test_a_file_from_the_previous_layout_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.executescript("""
        CREATE TABLE pystator_entities (entity_id TEXT PRIMARY KEY, state TEXT NOT NULL,
            version INTEGER NOT NULL, context TEXT, timers TEXT NOT NULL DEFAULT '[]',
            updated_at REAL NOT NULL);
        INSERT INTO pystator_entities VALUES ('e1', 'armed', 2, NULL,
            '[{"timer_id": "t1", "entity_id": "e1", "state": "armed", "event": "expire",
               "due_at": 12.5}]', 1.0);
    """)
    conn.commit()
    conn.close()
    store = SQLiteStateStore(path)
    loaded = store.load("e1")
    assert loaded is not None and loaded.version == 2
    assert loaded.timers == (ScheduledTimer("t1", "e1", "armed", "expire", 12.5),)
    assert store.commit(step("e1", 2, "expired")) == 3


def test_threads_committing_for_one_entity_never_both_win(store: StateStore) -> None:
    store.save("e1", "A", 0)
    wins: list[int] = []

    def commit() -> None:
        results = store.commit_many([step("e1", 1, "B", event_id="same", outcome={})])
        if results[0].written:
            wins.append(1)

    threads = [threading.Thread(target=commit) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wins == [1]
    assert store.load("e1").version == 2  # type: ignore[union-attr]
