"""State stores: versions, conflicts, audit rows, timers and contexts persist exactly."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from pystator.core.state_store import (
    AuditEntry,
    InMemoryStateStore,
    SQLiteStateStore,
    StateConflictError,
    StateStore,
)
from pystator.runtime import ScheduledTimer


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> StateStore:
    if request.param == "memory":
        return InMemoryStateStore()
    return SQLiteStateStore(tmp_path / "state.db")


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


def test_parallel_state_strings_timers_and_context_round_trip(store: StateStore) -> None:
    state = "active:trading=scanning,risk_monitor=normal,data_feed=connecting"
    timers = (ScheduledTimer("t1", "e1", "scanning", "tick", 1234.5),)
    store.save("e1", state, 0, context={"qty": 3, "tags": ["a"]}, timers=timers)
    loaded = store.load("e1")
    assert loaded is not None
    assert loaded.state == state
    assert loaded.timers == timers
    assert loaded.context == {"qty": 3, "tags": ["a"]}
    store.save("e1", state, 1, timers=())
    again = store.load("e1")
    assert again is not None and again.context == {"qty": 3, "tags": ["a"]}
    assert again.timers == ()


def test_async_methods_match_the_sync_ones(store: StateStore) -> None:
    async def main() -> None:
        assert await store.async_save("e1", "A", 0, AuditEntry("", "A", "create")) == 1
        with pytest.raises(StateConflictError):
            await store.async_save("e1", "B", 0)
        loaded = await store.async_load("e1")
        assert loaded is not None and loaded.state == "A"
        assert len(await store.async_audit_trail("e1")) == 1

    asyncio.run(main())


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
