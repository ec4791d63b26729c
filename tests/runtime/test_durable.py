"""What the outbox and the dispatcher guarantee, in one process with an injected clock.

A crash is a ``Crash`` (a ``BaseException``, which nothing in the runtime catches)
raised where a real process would die; what survives is what the store holds, and
a second orchestrator on the same store must finish the work. The kill tests
(test_kill.py) do the same with real processes and SIGKILL.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from pystator import ActionRegistry, GuardRegistry, StateMachine
from pystator.runtime import (
    FALLBACK_TRIGGER,
    IDEMPOTENCY_KEY,
    AsyncioScheduler,
    Orchestrator,
    RetryPolicy,
    ScheduledTimer,
    StoreUnavailableError,
)
from pystator.runtime.state_store import StateStore
from tests.runtime.machines import CYCLE, EXPIRING
from tests.runtime.stores import close_store, open_store


class Crash(BaseException):
    """The process dies here."""


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


PAYING = """
meta: {machine_name: paying}
error_policy: {retry_attempts: RETRIES, default_fallback: broken}
states:
  - {name: idle, type: initial}
  - {name: paid}
  - {name: broken, on_enter: [alert]}
transitions:
  - {trigger: pay, source: idle, dest: paid, actions: [{name: charge, params: {cents: 250}}]}
  - {trigger: expire, source: idle, dest: paid, after: 1000, guards: [flaky_guard]}
"""


def paying(retries: int) -> StateMachine:
    return StateMachine.from_string(PAYING.replace("RETRIES", str(retries)))


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StateStore]:
    opened = open_store(
        "memory:" if request.param == "memory" else f"sqlite:///{tmp_path / 'state.db'}"
    )
    yield opened
    close_store(opened)


def registry(**actions: Any) -> ActionRegistry:
    reg = ActionRegistry()
    for name, func in actions.items():
        reg.register(name, func)
    reg.register("alert", lambda ctx: None) if "alert" not in actions else None
    return reg


def test_a_crash_during_an_action_is_finished_by_the_next_process_with_the_same_key(
    store: StateStore,
) -> None:
    clock = FakeClock()
    keys: list[str] = []
    crash = [True]

    def charge(ctx: Mapping[str, Any]) -> None:
        keys.append(ctx[IDEMPOTENCY_KEY])
        assert ctx["_action_params"] == {"cents": 250} and ctx["entity_id"] == "p1"
        if crash[0]:
            raise Crash

    machine = paying(0)
    first = Orchestrator(
        machine, store, actions=registry(charge=charge), clock=clock, lease_seconds=10
    )
    with pytest.raises(Crash):
        first.process_event("p1", "pay", event_id="order-9")
    assert store.load("p1").state == "paid"  # type: ignore[union-attr]
    (pending,) = store.pending_actions("p1")
    assert pending.effect.name == "charge" and pending.attempts == 0

    crash[0] = False
    second = Orchestrator(
        paying(0), store, actions=registry(charge=charge), clock=clock, lease_seconds=10
    )
    assert second.dispatch_once() == 0, "the dead process's lease still holds it"
    clock.now += 10
    assert second.dispatch_once() == 1
    assert store.pending_actions("p1") == []
    assert keys == ["p1:2:0", "p1:2:0"], "a re-run carries the same idempotency key"
    again = second.process_event("p1", "pay", event_id="order-9")
    assert again.duplicate and again.success and keys == ["p1:2:0", "p1:2:0"]


def test_a_crash_during_a_retry_backoff_loses_nothing(store: StateStore) -> None:
    clock = FakeClock()
    calls: list[str] = []

    def charge(ctx: Mapping[str, Any]) -> None:
        calls.append(ctx[IDEMPOTENCY_KEY])
        if len(calls) == 1:
            raise ConnectionError("payment gateway down")

    def die(seconds: float) -> None:
        raise Crash

    retry = RetryPolicy(max_attempts=3, base_delay=2.0, jitter=0.0, sleep=die)
    first = Orchestrator(
        paying(2), store, actions=registry(charge=charge), retry=retry, clock=clock, lease_seconds=5
    )
    with pytest.raises(Crash):
        first.process_event("p1", "pay")
    (pending,) = store.pending_actions("p1")
    assert (pending.attempts, pending.last_error) == (1, "ConnectionError: payment gateway down")

    second = Orchestrator(
        paying(2), store, actions=registry(charge=charge), clock=clock, lease_seconds=5
    )
    clock.now += 2 + 4.9
    assert second.dispatch_once() == 0, "the backoff plus a lease has not passed yet"
    clock.now += 0.2
    assert second.dispatch_once() == 1
    assert store.pending_actions("p1") == [] and store.dead_letters() == []
    assert calls == ["p1:2:0", "p1:2:0"]


def test_an_action_failing_every_attempt_is_a_dead_letter_and_the_entity_falls_back(
    store: StateStore,
) -> None:
    sleeps: list[float] = []
    alerts: list[Any] = []

    def charge(ctx: Mapping[str, Any]) -> None:
        raise RuntimeError("card declined")

    retry = RetryPolicy.from_error_policy(
        paying(1).spec.error_policy, base_delay=0.5, jitter=0.0, sleep=sleeps.append
    )
    orch = Orchestrator(
        paying(1),
        store,
        retry=retry,
        actions=registry(charge=charge, alert=lambda ctx: alerts.append(ctx)),
    )
    result = orch.process_event("p1", "pay")
    assert result.failed_actions == ("charge",) and result.action_attempts == 2
    assert sleeps == [0.5]
    (letter,) = store.dead_letters("p1")
    assert (letter.kind, letter.key, letter.attempts) == ("action", "p1:2:0", 2)
    assert letter.error == "RuntimeError: card declined"
    assert letter.payload["name"] == "charge" and letter.payload["params"] == {"cents": 250}
    orch.flush()  # the fallback's entry action is done; its mark is written now
    assert store.pending_actions("p1") == []
    assert result.fallback is not None and result.fallback.state == "broken"
    stored = store.load("p1")
    assert stored is not None and stored.state == "broken"
    assert store.audit_trail("p1")[-1].trigger == FALLBACK_TRIGGER
    assert [a["dead_letters"] for a in alerts] == [["p1:2:0"]], "the fallback's entry ran"


def test_the_dispatcher_counts_attempts_and_dead_letters_what_keeps_failing(
    store: StateStore,
) -> None:
    clock = FakeClock()

    def charge(ctx: Mapping[str, Any]) -> None:
        raise RuntimeError("still down")

    def die(seconds: float) -> None:
        raise Crash

    retry = RetryPolicy(max_attempts=3, base_delay=1.0, jitter=0.0, sleep=die, fallback="broken")
    first = Orchestrator(
        paying(2), store, actions=registry(charge=charge), retry=retry, clock=clock, lease_seconds=1
    )
    with pytest.raises(Crash):
        first.process_event("p1", "pay")
    survivor = Orchestrator(
        paying(2), store, actions=registry(charge=charge), retry=retry, clock=clock, lease_seconds=1
    )
    clock.now += 2.0
    assert survivor.dispatch_once() == 1
    (pending,) = store.pending_actions("p1")
    assert pending.attempts == 2, "the dispatcher's try is counted"
    assert store.dead_letters() == []
    clock.now += 2.0
    assert survivor.dispatch_once() == 1
    survivor.flush()
    assert store.pending_actions("p1") == []
    (letter,) = store.dead_letters("p1")
    assert letter.attempts == 3
    assert store.load("p1").state == "broken"  # type: ignore[union-attr]


def test_a_rejected_event_id_is_answered_with_its_rejection_later(store: StateStore) -> None:
    orch = Orchestrator(StateMachine.from_string(CYCLE), store)
    orch.create("c1")
    rejected = orch.process_event("c1", "nope_not_a_trigger", event_id="e1")
    assert not rejected.success and not rejected.duplicate
    again = orch.process_event("c1", "inc", event_id="e1")
    assert again.duplicate and not again.success, "the same id is the same event"
    assert store.load("c1").version == 1  # type: ignore[union-attr]


def test_concurrent_duplicates_apply_once_and_all_get_the_first_outcome(
    store: StateStore,
) -> None:
    guards = GuardRegistry()

    async def slow(ctx: Mapping[str, Any]) -> bool:
        await asyncio.sleep(0.02)  # every delivery is in flight at once
        return True

    guards.register("slow", slow)
    machine = StateMachine.from_string(
        CYCLE.replace(
            "{trigger: inc, source: A, dest: B}",
            "{trigger: inc, source: A, dest: B, guards: [slow]}",
        )
    )
    orch = Orchestrator(machine, store, guards)

    async def main() -> list[Any]:
        await orch.async_create("c1")
        return list(
            await asyncio.gather(
                *(orch.async_process_event("c1", "inc", event_id="same") for _ in range(8))
            )
        )

    results = asyncio.run(main())
    assert all(r.success for r in results)
    assert sum(not r.duplicate for r in results) == 1
    assert {r.version for r in results} == {2} and {r.state for r in results} == {"B"}
    assert [r.trigger for r in store.audit_trail("c1")][1:] == ["inc"]


class FlakyScheduler(AsyncioScheduler):
    """An AsyncioScheduler that can be down (refuses to arm) or forget what it held."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(clock=clock)
        self.down = False

    async def schedule(self, timer: ScheduledTimer) -> None:
        if self.down:
            raise ConnectionError("scheduler unreachable")
        await super().schedule(timer)

    def forget(self) -> None:
        self._timers.clear()


def test_timers_the_scheduler_refused_or_lost_are_handed_over_by_the_dispatcher(
    store: StateStore,
) -> None:
    clock = FakeClock()
    scheduler = FlakyScheduler(clock)
    orch = Orchestrator(
        StateMachine.from_string(EXPIRING), store, scheduler=scheduler, rearm_after=3.0
    )

    async def main() -> None:
        scheduler.down = True
        for i in range(3):
            await orch.async_process_event(f"e{i}", "arm")
        assert scheduler.pending == []
        scheduler.down = False
        assert await orch.async_dispatch_once() == 0, "the retry time has not come"
        clock.now += 1
        assert await orch.async_dispatch_once() == 3
        assert len(scheduler.pending) == 3
        scheduler.forget()  # e.g. Redis restarted without its last second
        clock.now += 2 + 3
        assert await orch.async_dispatch_once() == 3, "overdue and still pending: again"
        await scheduler.fire_due()  # (its own loop may have fired some already)
        # The loop may still be inside a firing it took before fire_due looked; let it
        # finish before stop() cancels it (a bounded wait on the outcome, not a timing).
        for _ in range(500):
            if all(store.load(f"e{i}").state == "expired" for i in range(3)):  # type: ignore[union-attr]
                break
            await asyncio.sleep(0.01)
        assert await orch.async_dispatch_once() == 0, "nothing pending any more"
        await scheduler.stop()

    asyncio.run(main())
    for i in range(3):
        assert store.load(f"e{i}").state == "expired"  # type: ignore[union-attr]
        assert [r.trigger for r in store.audit_trail(f"e{i}")].count("expire") == 1


class Unavailable:
    """A store that is unreachable for its first ``n`` loads."""

    def __init__(self, store: StateStore, n: int) -> None:
        self.store, self.n = store, n

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    async def async_load_with_outcome(self, entity_id: str, event_id: str | None) -> Any:
        if self.n > 0:
            self.n -= 1
            raise StoreUnavailableError("test store", "connection refused")
        return await self.store.async_load_with_outcome(entity_id, event_id)


def test_a_firing_is_retried_past_the_policy_while_the_store_is_unavailable(
    store: StateStore,
) -> None:
    clock = FakeClock()
    scheduler = AsyncioScheduler(clock=clock)
    flaky = Unavailable(store, 0)
    orch = Orchestrator(
        StateMachine.from_string(EXPIRING),
        flaky,  # type: ignore[arg-type]
        scheduler=scheduler,
        retry=RetryPolicy(max_attempts=1, jitter=0.0),
    )

    async def main() -> None:
        await orch.async_process_event("e1", "arm")
        flaky.n = 5
        for _ in range(6):
            clock.now += 20
            await scheduler.fire_due()
        await scheduler.stop()

    asyncio.run(main())
    assert store.load("e1").state == "expired"  # type: ignore[union-attr]
    assert store.dead_letters() == []


def test_a_timer_firing_that_keeps_failing_is_a_dead_letter_and_falls_back(
    store: StateStore,
) -> None:
    clock = FakeClock()
    guards = GuardRegistry()
    tries: list[float] = []

    def flaky_guard(ctx: Mapping[str, Any]) -> bool:
        tries.append(clock.now)
        raise RuntimeError("rates service down")

    guards.register("flaky_guard", flaky_guard)
    scheduler = AsyncioScheduler(clock=clock)
    retry = RetryPolicy.from_error_policy(paying(2).spec.error_policy, base_delay=1.0, jitter=0.0)
    orch = Orchestrator(
        paying(2),
        store,
        guards,
        registry(charge=lambda ctx: None),
        scheduler=scheduler,
        retry=retry,
    )

    async def main() -> None:
        created = await orch.async_create("p1")
        (_timer,) = created.timers
        for _ in range(8):
            clock.now += 1
            await scheduler.fire_due()
        assert scheduler.pending == []
        await scheduler.stop()

    asyncio.run(main())
    assert tries == [1001.0, 1002.0, 1004.0], "three attempts, backing off 1 s then 2 s"
    (letter,) = store.dead_letters("p1")
    assert letter.kind == "timer" and letter.attempts == 3
    assert "rates service down" in letter.error
    stored = store.load("p1")
    assert stored is not None and stored.state == "broken" and stored.timers == ()


def test_done_marks_ride_on_the_next_commit_or_are_written_soon_after(
    store: StateStore,
) -> None:
    import time

    orch = Orchestrator(paying(0), store, actions=registry(charge=lambda ctx: None), mark_delay=0.3)
    orch.process_event("p1", "pay")
    assert [a.key for a in store.pending_actions()] == ["p1:2:0"], "not marked yet"
    orch.process_event("p2", "pay")
    assert [a.key for a in store.pending_actions()] == ["p2:2:0"], "p1's mark rode along"
    deadline = time.monotonic() + 5
    while store.pending_actions() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert store.pending_actions() == [], "an idle process writes its marks by itself"
