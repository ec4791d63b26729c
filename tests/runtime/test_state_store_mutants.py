"""The in-memory store kept to the letter, and the conveniences every store shares.

``InMemoryStateStore`` is what the simulator, the tests and single-process apps run
on, so each of its writes and reads is pinned here value by value: what a commit
stores (row, context, snapshot, timers and their arming time, audit row, outbox
rows, dedup record, dead letters, done marks), what a claim leases and in which
order, what renew and settle change, and which rows each read returns.
``StoreConveniences`` (``commit``, ``save``, the ``async_`` forms) is checked on the
in-memory store (run inline) and on SQLite (run in a worker thread).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pystator.runtime import (
    ActionEffect,
    AuditEntry,
    AuditRecord,
    Claimed,
    CommitResult,
    DeadLetter,
    DuplicateEventError,
    FailedAction,
    InMemoryStateStore,
    PendingAction,
    ScheduledTimer,
    SQLiteStateStore,
    StateConflictError,
    StateStore,
    StepCommit,
    StoredState,
)


def step(entity: str, expected: int, state: str, **more: object) -> StepCommit:
    return StepCommit(entity, expected, state, **more)  # type: ignore[arg-type]


def timer(timer_id: str, due_at: float, entity: str = "e1") -> ScheduledTimer:
    return ScheduledTimer(timer_id, entity, "A", "tick", due_at)


def letter(kind: str, key: str, entity: str = "e1", n: int = 0) -> DeadLetter:
    return DeadLetter(kind, key, entity, {"n": n}, f"boom {n}", 3 + n, 50.0 + n)  # type: ignore[arg-type]


# ---------------------------------------------------------------- values


def test_a_claim_is_true_when_it_holds_actions_or_timers() -> None:
    action = PendingAction("e1:2:0", "e1", 2, 0, ActionEffect("a"))
    assert not Claimed()
    assert Claimed(actions=(action,))
    assert Claimed(timers=(timer("t", 1.0),))
    assert Claimed((action,), (timer("t", 1.0),))


# ---------------------------------------------------------------- commits and reads


def test_a_commit_stores_every_field_and_a_read_returns_them() -> None:
    store = InMemoryStateStore()
    assert store.load_with_outcome("e1", None) == (None, None)
    context = {"tags": ["a"], "qty": 3}
    snapshot = {"configuration": ["A"], "history": {"h": ["x"]}}
    timers = (timer("late", 30.0), timer("early", 10.0), timer("mid", 20.0))
    audit = AuditEntry("", "A", "create", "evt-0", 12.5)
    commit = step(
        "e1",
        0,
        "A",
        audit=audit,
        timers=timers,
        snapshot=snapshot,
        context=context,
        event_id="evt-0",
        outcome={"state": "A", "version": 1},
    )
    assert store.commit_many([commit]) == [CommitResult(version=1)]
    # what the caller keeps mutating after the commit is not the stored value
    context["tags"].append("b")
    snapshot["history"]["h"].append("y")
    stored, first = store.load_with_outcome("e1", "evt-0")
    assert stored == StoredState(
        "e1",
        "A",
        1,
        {"tags": ["a"], "qty": 3},
        (timer("early", 10.0), timer("mid", 20.0), timer("late", 30.0)),
        {"configuration": ["A"], "history": {"h": ["x"]}},
    )
    assert stored.context == {"tags": ["a"], "qty": 3}
    assert stored.snapshot == {"configuration": ["A"], "history": {"h": ["x"]}}
    assert first == {"state": "A", "version": 1}
    assert store.load_with_outcome("e1", "other") == (stored, None)
    assert store.load_with_outcome("e1", None)[1] is None
    assert store.load("e1") == stored
    assert store.load("e2") is None
    assert store.entity_ids() == ["e1"]
    assert store.audit_trail("e1") == [AuditRecord("e1", 1, "", "A", "create", "evt-0", 12.5)]


def test_an_event_seen_before_is_answered_for_a_missing_entity_too() -> None:
    store = InMemoryStateStore()
    store.commit(step("e1", 0, "A", event_id="x", changes_state=False))
    assert store.load_with_outcome("e1", "x") == (None, {}), "no outcome is recorded as {}"
    assert store.load_with_outcome("e2", "x") == (None, None), "dedup records are per entity"
    assert store.entity_ids() == []


def test_context_is_kept_when_a_commit_gives_none_and_replaced_when_it_gives_one() -> None:
    store = InMemoryStateStore()
    store.commit(step("e1", 0, "A"))
    assert store.load("e1").context is None  # type: ignore[union-attr]
    store.commit(step("e1", 1, "B", context={"n": 1}))
    store.commit(step("e1", 2, "C"))
    assert store.load("e1").context == {"n": 1}  # type: ignore[union-attr]
    store.commit(step("e1", 3, "D", context={"n": 2}))
    loaded = store.load("e1")
    assert loaded is not None and (loaded.state, loaded.version, loaded.context) == (
        "D",
        4,
        {"n": 2},
    )
    assert loaded.snapshot is None


def test_refused_commits_say_why_with_the_version_or_first_outcome() -> None:
    store = InMemoryStateStore()
    store.commit(step("e1", 0, "A", event_id="evt", outcome={"first": True}))
    store.commit(step("e1", 1, "B"))
    results = store.commit_many(
        [step("e1", 1, "X"), step("e1", 2, "Y", event_id="evt"), step("e2", 3, "Z")]
    )
    assert [(r.version, r.conflict, r.duplicate) for r in results] == [
        (None, 2, None),
        (None, None, {"first": True}),
        (None, 0, None),
    ]
    with pytest.raises(StateConflictError) as conflict:
        store.commit(step("e1", 1, "X"))
    assert (conflict.value.entity_id, conflict.value.expected_version) == ("e1", 1)
    assert conflict.value.actual_version == 2
    assert "expected version 1, store has version 2" in str(conflict.value)
    with pytest.raises(StateConflictError) as missing:
        store.commit(step("e2", 3, "Z"))
    assert (missing.value.entity_id, missing.value.expected_version) == ("e2", 3)
    assert missing.value.actual_version == 0
    with pytest.raises(DuplicateEventError) as duplicate:
        store.commit(step("e1", 2, "Y", event_id="evt"))
    assert (duplicate.value.entity_id, duplicate.value.event_id) == ("e1", "evt")
    assert duplicate.value.first_outcome == {"first": True}
    assert "'e1' already processed event 'evt'" in str(duplicate.value)
    assert store.commit(step("e1", 2, "C")) == 3


def test_a_commit_that_does_not_change_state_keeps_the_row_and_does_its_bookkeeping() -> None:
    store = InMemoryStateStore()
    store.commit(
        step("e1", 0, "A", actions=(ActionEffect("a"), ActionEffect("b"), ActionEffect("c")))
    )
    result = store.commit(
        step(
            "e1",
            1,
            "ignored",
            event_id="no",
            outcome={"success": False},
            changes_state=False,
            done_actions=("e1:1:0", "e1:9:9"),
            dead_letters=(letter("action", "e1:1:1"),),
        )
    )
    assert result == 1
    loaded = store.load("e1")
    assert loaded is not None and (loaded.state, loaded.version) == ("A", 1)
    assert [a.key for a in store.pending_actions("e1")] == ["e1:1:2"]
    assert [d.key for d in store.dead_letters()] == ["e1:1:1"]
    assert store.load_with_outcome("e1", "no")[1] == {"success": False}
    assert len(store.audit_trail("e1")) == 0


def test_audit_rows_are_kept_per_entity_with_every_field() -> None:
    store = InMemoryStateStore()
    store.commit(step("e1", 0, "A", audit=AuditEntry("", "A", "create", None, 1.0)))
    store.commit(step("e2", 0, "X", audit=AuditEntry("", "X", "create", None, 2.0)))
    store.commit(step("e1", 1, "B"))  # no audit row asked for
    store.commit(step("e1", 2, "C", audit=AuditEntry("B", "C", "go", "evt-9", 3.0)))
    assert store.audit_trail("e1") == [
        AuditRecord("e1", 1, "", "A", "create", None, 1.0),
        AuditRecord("e1", 3, "B", "C", "go", "evt-9", 3.0),
    ]
    assert store.audit_trail("e2") == [AuditRecord("e2", 1, "", "X", "create", None, 2.0)]
    assert store.audit_trail("nobody") == []
    assert sorted(store.entity_ids()) == ["e1", "e2"]


# ---------------------------------------------------------------- the outbox


def test_outbox_rows_carry_their_step_and_are_listed_in_step_order() -> None:
    store = InMemoryStateStore()
    effect = ActionEffect("notify", {"to": "ops"}, "enter", "B", {"order": 7})
    store.commit(step("e2", 0, "A", actions=(ActionEffect("z"),)))
    store.commit(step("e1", 0, "A"))
    store.commit(step("e1", 1, "B", actions=(effect, ActionEffect("second"))))
    store.commit(step("e1", 2, "C", actions=(ActionEffect("third"),)))
    rows = store.pending_actions()
    assert [(a.key, a.entity_id, a.version, a.seq) for a in rows] == [
        ("e1:2:0", "e1", 2, 0),
        ("e1:2:1", "e1", 2, 1),
        ("e1:3:0", "e1", 3, 0),
        ("e2:1:0", "e2", 1, 0),
    ]
    assert rows[0] == PendingAction("e1:2:0", "e1", 2, 0, effect, 0, None)
    assert [a.key for a in store.pending_actions("e2")] == ["e2:1:0"]
    assert [a.key for a in store.pending_actions("e1")] == ["e1:2:0", "e1:2:1", "e1:3:0"]
    assert store.pending_actions("nobody") == []


def test_a_claim_leases_the_earliest_due_rows_up_to_the_limit() -> None:
    store = InMemoryStateStore()
    store.commit(step("e1", 0, "A", actions=(ActionEffect("late"),), owner="c", lease_until=5.0))
    store.commit(step("e2", 0, "A", actions=(ActionEffect("early"),), owner="c", lease_until=1.0))
    store.commit(step("e3", 0, "A", actions=(ActionEffect("mid"),), owner="c", lease_until=3.0))
    assert store.claim("o", 0.5, 100.0, 10) == Claimed(), "nothing is due yet"
    first = store.claim("o", 5.0, 100.0, 2)
    assert first is not None
    assert [a.key for a in first.actions] == ["e2:1:0", "e3:1:0"], "the two earliest"
    assert first.timers == ()
    second = store.claim("p", 5.0, 200.0, 2)
    assert [a.key for a in second.actions] == ["e1:1:0"], "due exactly now"
    assert store.claim("q", 99.0, 300.0, 10) == Claimed(), "leased until 100"
    third = store.claim("q", 100.0, 300.0, 1)
    assert [a.key for a in third.actions] == ["e2:1:0"], "the earliest lease ends first"
    assert store.renew("o", ["e2:1:0", "e3:1:0"], 500.0) == {"e3:1:0"}, "e2 is q's now"


def test_claimed_actions_come_in_step_order_whatever_their_due_order() -> None:
    store = InMemoryStateStore()
    store.commit(step("e2", 0, "A", actions=(ActionEffect("x"),), owner="c", lease_until=1.0))
    store.commit(
        step(
            "e1", 0, "A", actions=(ActionEffect("a"), ActionEffect("b")), owner="c", lease_until=2.0
        )
    )
    store.settle(
        "c",
        failed=[
            FailedAction("e1:1:0", 1, "e", 4.0, keep_claim=True),
            FailedAction("e1:1:1", 1, "e", 3.0, keep_claim=True),
        ],
    )
    claimed = store.claim("o", 10.0, 20.0, 10)
    assert [a.key for a in claimed.actions] == ["e1:1:0", "e1:1:1", "e2:1:0"]


def test_timers_are_claimed_by_arming_time_up_to_the_limit() -> None:
    store = InMemoryStateStore()
    store.commit(
        step(
            "e1",
            0,
            "A",
            timers=(timer("t30", 30.0), timer("t10", 10.0), timer("t20", 20.0)),
            owner="c",
            lease_until=5.0,
            arm_after=1.0,
        )
    )
    assert store.timer_arm_at("t10") == 11.0, "due_at + arm_after"
    assert store.timer_arm_at("t30") == 31.0
    assert store.timer_arm_at("nope") is None
    store.commit(step("e2", 0, "A", timers=(timer("u", 2.0, "e2"),), lease_until=7.0))
    assert store.timer_arm_at("u") == 7.0, "no arm_after: armed when the lease ends"
    assert store.claim("o", 6.9, 50.0, 10) == Claimed()
    claimed = store.claim("o", 21.0, 50.0, 2)
    assert claimed.actions == ()
    assert [t.timer_id for t in claimed.timers] == ["u", "t10"]
    assert claimed.timers[1] == timer("t10", 10.0)
    assert store.timer_arm_at("t10") == 50.0, "leased until 50"
    rest = store.claim("o", 21.0, 60.0, 10)
    assert [t.timer_id for t in rest.timers] == ["t20"], "t30 arms at 31, due exactly now counts"
    assert [t.timer_id for t in store.claim("o", 31.0, 60.0, 10).timers] == ["t30"]
    assert {t.timer_id for t in store.claim("p", 50.0, 70.0, 10).timers} == {"u", "t10"}
    assert store.timer_arm_at("t20") == 60.0


def test_a_commit_replaces_the_timers_and_keeps_the_arming_of_those_still_pending() -> None:
    store = InMemoryStateStore()
    store.commit(
        step("e1", 0, "A", timers=(timer("keep", 10.0), timer("drop", 11.0)), lease_until=5.0)
    )
    store.commit(step("e2", 0, "A", timers=(timer("other", 12.0, "e2"),), lease_until=6.0))
    store.commit(
        step("e1", 1, "B", timers=(timer("keep", 10.0), timer("new", 13.0)), lease_until=8.0)
    )
    assert store.timer_arm_at("keep") == 5.0, "a timer still pending keeps its arming time"
    assert store.timer_arm_at("new") == 8.0
    assert store.timer_arm_at("drop") is None
    assert store.timer_arm_at("other") == 6.0, "another entity's timers are left alone"
    assert [t.timer_id for t in store.load("e1").timers] == ["keep", "new"]  # type: ignore[union-attr]
    store.commit(step("e1", 2, "C"))
    assert store.load("e1").timers == ()  # type: ignore[union-attr]
    assert store.timer_arm_at("keep") is None and store.timer_arm_at("new") is None
    assert [t.timer_id for t in store.claim("o", 100.0, 200.0, 10).timers] == ["other"]


def test_renew_extends_only_the_owners_own_rows() -> None:
    store = InMemoryStateStore()
    store.commit(
        step(
            "e1",
            0,
            "A",
            actions=(ActionEffect("a"), ActionEffect("b")),
            owner="me",
            lease_until=10.0,
        )
    )
    store.commit(step("e2", 0, "A", actions=(ActionEffect("c"),), lease_until=10.0))
    assert store.renew("me", ["e1:1:0", "e2:1:0", "gone"], 20.0) == {"e1:1:0"}
    assert store.renew("", ["e2:1:0"], 20.0) == set(), "a commit without owner leaves none"
    assert [a.key for a in store.claim("o", 10.0, 30.0, 10).actions] == ["e1:1:1", "e2:1:0"]
    assert store.claim("o", 19.0, 30.0, 10) == Claimed()
    assert [a.key for a in store.claim("o", 20.0, 30.0, 10).actions] == ["e1:1:0"]


def test_settle_records_tries_and_releases_or_keeps_the_claim() -> None:
    store = InMemoryStateStore()
    effect = ActionEffect("pay", {"n": 1}, "enter", "B", {"c": 2})
    store.commit(
        step(
            "e1",
            0,
            "A",
            actions=(effect, ActionEffect("b"), ActionEffect("c")),
            owner="me",
            lease_until=10.0,
            timers=(timer("t", 5.0),),
        )
    )
    store.settle(
        "me",
        done=["e1:1:2", "unknown"],
        failed=[
            FailedAction("unknown", 1, "x", 1.0),
            FailedAction("e1:1:0", 2, "boom", 40.0, keep_claim=True),
            FailedAction("e1:1:1", 1, "bang", 30.0),
        ],
        armed={"t": 70.0, "not-a-timer": 1.0},
    )
    assert store.pending_actions("e1") == [
        PendingAction("e1:1:0", "e1", 1, 0, effect, 2, "boom"),
        PendingAction("e1:1:1", "e1", 1, 1, ActionEffect("b"), 1, "bang"),
    ]
    assert store.timer_arm_at("t") == 70.0 and store.timer_arm_at("not-a-timer") is None
    assert store.renew("me", ["e1:1:0", "e1:1:1"], 45.0) == {"e1:1:0"}, "only one claim kept"
    store.settle("other", failed=[FailedAction("e1:1:1", 5, "not mine", 0.0)])
    assert store.pending_actions("e1")[1].attempts == 1, "a row another owner holds is skipped"
    assert store.claim("o", 29.0, 100.0, 10) == Claimed()
    assert [a.key for a in store.claim("o", 30.0, 100.0, 10).actions] == ["e1:1:1"]
    store.settle("o", failed=[FailedAction("e1:1:1", 2, "again", 60.0)])
    assert store.pending_actions("e1")[1].last_error == "again"
    assert [a.key for a in store.claim("p", 45.0, 100.0, 10).actions] == ["e1:1:0"]


def test_dead_letters_are_numbered_in_order_and_only_action_letters_end_a_row() -> None:
    store = InMemoryStateStore()
    store.commit(
        step(
            "e1",
            0,
            "A",
            actions=(ActionEffect("a"), ActionEffect("b")),
            owner="me",
            lease_until=1.0,
        )
    )
    first = letter("action", "e1:1:0", n=1)
    store.settle("me", dead=[first, letter("timer", "e1:1:1", n=2)])
    assert [a.key for a in store.pending_actions()] == ["e1:1:1"], "a timer letter is no row"
    store.settle("me", dead=[letter("action", "e1:1:0", "e1", 3)])  # its row is gone already
    store.commit(step("e2", 0, "A", dead_letters=(letter("timer", "t", "e2", 4),)))
    letters = store.dead_letters()
    assert [d.id for d in letters] == [1, 2, 3, 4]
    assert letters[0] == DeadLetter("action", "e1:1:0", "e1", {"n": 1}, "boom 1", 4, 51.0, 1)
    assert [(d.kind, d.key, d.entity_id) for d in letters] == [
        ("action", "e1:1:0", "e1"),
        ("timer", "e1:1:1", "e1"),
        ("action", "e1:1:0", "e1"),
        ("timer", "t", "e2"),
    ]
    assert [d.id for d in store.dead_letters("e2")] == [4]
    assert store.dead_letters("nobody") == []


def test_outcomes_older_than_the_cut_are_purged(monkeypatch: pytest.MonkeyPatch) -> None:
    store = InMemoryStateStore()
    monkeypatch.setattr(time, "time", lambda: 100.0)
    store.commit(step("e1", 0, "A", event_id="old", outcome={"n": 1}))
    monkeypatch.setattr(time, "time", lambda: 200.0)
    store.commit(step("e1", 1, "B", event_id="new", outcome={"n": 2}))
    assert store.purge_outcomes(100.0) == 0, "recorded at the cut is not older"
    assert store.purge_outcomes(150.0) == 1
    assert store.load_with_outcome("e1", "old")[1] is None
    assert store.load_with_outcome("e1", "new")[1] == {"n": 2}
    assert store.commit(step("e1", 2, "C", event_id="old")) == 3, "a purged id is new again"


# ---------------------------------------------------------------- the conveniences, sync and async


@pytest.fixture(params=["memory", "sqlite"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StateStore]:
    store: StateStore = (
        InMemoryStateStore() if request.param == "memory" else SQLiteStateStore(tmp_path / "s.db")
    )
    yield store
    close = getattr(store, "close", None)
    if close is not None:
        close()


def test_save_writes_every_field_it_is_given(any_store: StateStore) -> None:
    timers = (timer("t", 9.0),)
    audit = AuditEntry("", "A", "create", "e-0", 5.0)
    assert (
        any_store.save("e1", "A", 0, audit, context={"k": 1}, timers=timers, snapshot={"s": 1}) == 1
    )
    assert any_store.load("e1") == StoredState("e1", "A", 1, {"k": 1}, timers, {"s": 1})
    assert any_store.audit_trail("e1") == [AuditRecord("e1", 1, "", "A", "create", "e-0", 5.0)]
    assert any_store.save("e1", "B", 1) == 2
    assert any_store.load("e1") == StoredState("e1", "B", 2, {"k": 1}, (), None)


def test_the_async_forms_pass_every_argument_through(any_store: StateStore) -> None:
    async def main() -> None:
        timers = (timer("t", 9.0),)
        audit = AuditEntry("", "A", "create", "e-0", 5.0)
        saved = await any_store.async_save(
            "e1", "A", 0, audit, context={"k": 1}, timers=timers, snapshot={"s": 1}
        )
        assert saved == 1
        assert await any_store.async_load("e1") == StoredState(
            "e1", "A", 1, {"k": 1}, timers, {"s": 1}
        )
        assert await any_store.async_load("e2") is None
        assert await any_store.async_audit_trail("e1") == [
            AuditRecord("e1", 1, "", "A", "create", "e-0", 5.0)
        ]
        assert await any_store.async_audit_trail("e2") == []
        with pytest.raises(StateConflictError):
            await any_store.async_save("e1", "X", 0)
        commit = step(
            "e1",
            1,
            "B",
            actions=(ActionEffect("a"), ActionEffect("b")),
            event_id="ev",
            outcome={"ok": 1},
            owner="c",
            lease_until=5.0,
            timers=timers,
        )
        (result,) = await any_store.async_commit_many([commit])
        assert result.version == 2
        with pytest.raises(DuplicateEventError):
            await any_store.async_commit(step("e1", 2, "C", event_id="ev"))
        assert await any_store.async_commit(step("e2", 0, "Z")) == 1
        stored, first = await any_store.async_load_with_outcome("e1", "ev")
        assert stored is not None and stored.state == "B" and first == {"ok": 1}
        assert (await any_store.async_load_with_outcome("e1", "nope"))[1] is None
        assert (await any_store.async_load_with_outcome("e2", "ev")) == (
            StoredState("e2", "Z", 1, None, (), None),
            None,
        )

        armed = await any_store.async_claim("o", 4.0, 56.0, 10)
        assert armed.actions == (), "the actions are not due before 5"
        assert [t.timer_id for t in armed.timers] == ["t"], "saved without a lease: due now"
        one = await any_store.async_claim("o", 5.0, 50.0, 1)
        assert [a.key for a in one.actions] == ["e1:2:0"] and one.timers == ()
        two = await any_store.async_claim("p", 5.0, 60.0, 5)
        assert [a.key for a in two.actions] == ["e1:2:1"] and two.timers == ()
        assert await any_store.async_renew("o", ["e1:2:0", "e1:2:1"], 55.0) == {"e1:2:0"}
        assert not await any_store.async_claim("q", 54.0, 70.0, 10), "leases hold"
        again = await any_store.async_claim("q", 55.0, 70.0, 10)
        assert [a.key for a in again.actions] == ["e1:2:0"] and again.timers == ()

        dead = DeadLetter("action", "e1:2:0", "e1", {"name": "a"}, "no", 3, 1.0)
        await any_store.async_settle(
            "p",
            done=[],
            failed=[FailedAction("e1:2:1", 1, "boom", 80.0)],
            armed={"t": 90.0},
        )
        await any_store.async_settle("q", dead=[dead])
        assert [(a.key, a.attempts, a.last_error) for a in any_store.pending_actions("e1")] == [
            ("e1:2:1", 1, "boom")
        ]
        assert not await any_store.async_claim("r", 79.0, 100.0, 10)
        late = await any_store.async_claim("r", 90.0, 100.0, 10)
        assert [a.key for a in late.actions] == ["e1:2:1"]
        assert [t.timer_id for t in late.timers] == ["t"], "armed again at 90"
        await any_store.async_settle("r", done=["e1:2:1"])
        assert any_store.pending_actions("e1") == []
        other = DeadLetter("timer", "u", "e2", {}, "late", 1, 2.0)
        await any_store.async_settle("r", dead=[other])
        assert [d.key for d in await any_store.async_dead_letters("e1")] == ["e1:2:0"]
        assert [d.key for d in await any_store.async_dead_letters("e2")] == ["u"]
        assert [d.key for d in await any_store.async_dead_letters()] == ["e1:2:0", "u"]
        await any_store.aclose()

    asyncio.run(main())
