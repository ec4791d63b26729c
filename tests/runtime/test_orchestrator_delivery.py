"""How a committed step is delivered: actions run inline and retried, the outbox
dispatched, claims held under a lease, completed actions marked done.

The store used here is an ``InMemoryStateStore`` that also writes down every
``settle``, ``renew`` and ``claim`` the orchestrator asks of it (and from which
thread), so a test can read what was put on record, not only the end state. The
clock of the orchestrator is a ``FakeClock``; the lease keeper and the done-mark
writer are threads on real time, driven with short intervals and waited for with a
bounded poll (``wait_until``) on something the test can see.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pytest

from pystator import ActionRegistry, StateMachine
from pystator.runtime import (
    IDEMPOTENCY_KEY,
    AsyncioScheduler,
    Claimed,
    DeadLetter,
    FailedAction,
    InMemoryStateStore,
    Orchestrator,
    RetryPolicy,
    ScheduledTimer,
    StoreUnavailableError,
)
from tests.drivers import ORCHESTRATOR_DRIVERS, OrchestratorDriver
from tests.runtime.adapters import ServiceLog

DRIVE = pytest.mark.parametrize("drive", ORCHESTRATOR_DRIVERS)

SHOP = """
meta: {machine_name: shop}
states:
  - {name: idle, type: initial}
  - {name: paid}
  - {name: broken}
transitions:
  - trigger: pay
    source: idle
    dest: paid
    actions: [{name: charge, params: {cents: 250}}, receipt]
"""
"""``pay`` commits version 2 of an entity with two actions: ``p1:2:0`` (charge), ``p1:2:1``."""

SERVING = """
meta: {machine_name: serving}
states:
  - {name: idle, type: initial}
  - {name: open, invoke: [{id: feed, src: prices}]}
transitions:
  - {trigger: open, source: idle, dest: open, actions: [greet]}
"""
"""A step with an action and a service started after it."""

TIMED = """
meta: {machine_name: timed}
states:
  - {name: idle, type: initial}
  - {name: paid}
  - {name: lapsed}
transitions:
  - {trigger: touch, source: idle, dest: paid}
  - {trigger: pay, source: idle, dest: paid, actions: [charge]}
  - {trigger: cancel, source: paid, dest: idle}
  - {trigger: lapse, source: paid, dest: lapsed, after: 60000}
"""
"""Entering ``paid`` arms a timer due 60 s later; leaving it cancels the timer."""

TICKING = """
meta: {machine_name: ticking}
states:
  - {name: waiting, type: initial}
  - {name: done}
transitions:
  - {trigger: tick, source: waiting, dest: done, after: 1000}
"""

SESSIONS = """
meta: {machine_name: sessions}
states:
  - {name: idle, type: initial}
  - name: session
    initial_child: active
    invoke: [{id: heartbeat, src: pinger}]
  - name: active
    parent: session
    invoke: [{id: feed, src: prices}]
transitions:
  - {trigger: login, source: idle, dest: session}
  - {trigger: logout, source: session, dest: idle}
"""
"""Two nested states with a service each: entered and left together."""

LEASE_KEEPER = "pystator-lease-keeper"
DONE_MARKS = "pystator-done-marks"


class Crash(BaseException):
    """The process dies here (nothing in the runtime catches a BaseException)."""


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class RecordingStore(InMemoryStateStore):
    """An in-memory store that writes down what it is asked to settle, renew and claim.

    ``fail_settle`` / ``fail_renew`` make that many of the next calls fail as an
    unreachable store would.
    """

    def __init__(self) -> None:
        super().__init__()
        self.settles: list[dict[str, Any]] = []
        self.renews: list[dict[str, Any]] = []
        self.claims: list[tuple[str, float, float, int]] = []
        self.fail_settle = 0
        self.fail_renew = 0
        self.closed = 0

    def settle(
        self,
        owner: str,
        *,
        done: Sequence[str] = (),
        failed: Sequence[FailedAction] = (),
        armed: Mapping[str, float] | None = None,
        dead: Sequence[DeadLetter] = (),
    ) -> None:
        self.settles.append(
            {
                "owner": owner,
                "done": done,
                "failed": failed,
                "armed": armed,
                "dead": dead,
                "thread": threading.current_thread().name,
            }
        )
        if self.fail_settle > 0:
            self.fail_settle -= 1
            raise StoreUnavailableError("test store", "settle refused")
        super().settle(owner, done=done, failed=failed, armed=armed, dead=dead)

    def renew(self, owner: str, keys: Sequence[str], lease_until: float) -> set[str]:
        call: dict[str, Any] = {
            "owner": owner,
            "keys": keys,
            "until": lease_until,
            "held": None,
            "thread": threading.current_thread().name,
        }
        self.renews.append(call)
        if self.fail_renew > 0:
            self.fail_renew -= 1
            raise StoreUnavailableError("test store", "renew refused")
        call["held"] = held = super().renew(owner, keys, lease_until)
        return held

    def claim(self, owner: str, now: float, lease_until: float, limit: int) -> Claimed:
        self.claims.append((owner, now, lease_until, limit))
        return super().claim(owner, now, lease_until, limit)

    async def aclose(self) -> None:
        self.closed += 1

    def pending_keys(self) -> list[str]:
        return [a.key for a in self.pending_actions()]

    def kept_renewals(self) -> list[dict[str, Any]]:
        """The lease keeper's renewals that held something."""
        return [r for r in self.renews if r["thread"] == LEASE_KEEPER and r["held"]]


def settled(owner: str, done: Sequence[str] = (), **rest: Any) -> dict[str, Any]:
    """A settle call as ``RecordingStore`` writes it down, from the test's thread."""
    call = {"owner": owner, "done": tuple(done), "failed": (), "armed": {}, "dead": ()}
    call.update(rest)
    call["thread"] = threading.current_thread().name
    return call


def marked(owner: str, done: Sequence[str]) -> dict[str, Any]:
    """The settle that writes done marks (and nothing else)."""
    return settled(owner, done, armed=None)


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Poll ``condition`` until it holds or ``timeout`` seconds pass; whether it held."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def threads_named(name: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == name and t.is_alive()]


def policy(
    sleeps: list[float] | None = None, clock: FakeClock | None = None, **kw: Any
) -> RetryPolicy:
    """A RetryPolicy without jitter whose sleeps are recorded and move the fake clock."""

    def sleep(delay: float) -> None:
        if sleeps is not None:
            sleeps.append(delay)
        if clock is not None:
            clock.now += delay

    async def async_sleep(delay: float) -> None:
        sleep(delay)

    kw.setdefault("jitter", 0.0)
    return RetryPolicy(sleep=sleep, async_sleep=async_sleep, **kw)


def shop(store: InMemoryStateStore, clock: FakeClock, **actions: Any) -> Orchestrator:
    reg = ActionRegistry()
    reg.register("charge", actions.pop("charge", lambda ctx: None))
    reg.register("receipt", actions.pop("receipt", lambda ctx: None))
    options: dict[str, Any] = {"lease_seconds": 10.0, "mark_delay": 30.0}
    options.update(actions)
    return Orchestrator(StateMachine.from_string(SHOP), store, actions=reg, clock=clock, **options)


# ---------------------------------------------------------------- inline: retries


@DRIVE
def test_a_failed_action_is_retried_alone_under_its_claim_and_every_try_is_on_record(
    drive: OrchestratorDriver,
) -> None:
    clock, store = FakeClock(), RecordingStore()
    sleeps: list[float] = []
    seen: list[tuple[str, Any, Any]] = []

    def charge(ctx: Mapping[str, Any]) -> None:
        seen.append((ctx[IDEMPOTENCY_KEY], ctx["_action_params"], ctx["entity_id"]))
        if len(seen) < 3:
            raise ConnectionError("gateway down")

    retry = policy(sleeps, clock, max_attempts=4, base_delay=0.5)
    orch = shop(store, clock, charge=charge, retry=retry)
    result = drive.process_event(orch, "p1", "pay")

    assert result.state == "paid" and result.failed_actions == () and result.fallback is None
    assert result.action_attempts == 3 and result.action_error is None
    assert result.execution is not None
    assert [(r.action_name, r.success) for r in result.execution.results] == [
        ("charge", False),
        ("receipt", True),
    ]
    assert [[(r.action_name, r.success) for r in e.results] for e in result.retry_executions] == [
        [("charge", False)],
        [("charge", True)],
    ], "only the failed action is tried again"
    assert seen == [("p1:2:0", {"cents": 250}, "p1")] * 3, "every try has the same key"
    assert sleeps == [0.5, 1.0]
    error = "ConnectionError: gateway down"
    assert store.settles == [
        settled(
            orch.owner,
            ["p1:2:1"],
            failed=(FailedAction("p1:2:0", 1, error, 1000 + 0.5 + 10, keep_claim=True),),
        ),
        settled(
            orch.owner,
            failed=(FailedAction("p1:2:0", 2, error, 1000.5 + 1.0 + 10, keep_claim=True),),
        ),
    ], "each failed try is recorded, kept by this process until its backoff and a lease"
    assert [(r["owner"], r["keys"], r["until"], r["held"]) for r in store.renews] == [
        (orch.owner, ("p1:2:0",), 1000.5 + 10, {"p1:2:0"}),
        (orch.owner, ("p1:2:0",), 1001.5 + 10, {"p1:2:0"}),
    ], "after each backoff the claim is renewed for a lease before the next try"
    assert store.pending_keys() == ["p1:2:0"], "the last success waits for its mark"
    orch.flush()
    assert store.pending_keys() == []
    assert store.settles[-1] == marked(orch.owner, ["p1:2:0"])


@DRIVE
def test_actions_that_succeed_at_once_are_neither_retried_nor_settled_one_by_one(
    drive: OrchestratorDriver,
) -> None:
    clock, store = FakeClock(), RecordingStore()
    sleeps: list[float] = []
    retry = policy(sleeps, clock, max_attempts=3, fallback="broken")
    orch = shop(store, clock, retry=retry)
    result = drive.process_event(orch, "p1", "pay")
    assert result.state == "paid" and result.fallback is None, "nothing failed: no fallback"
    assert result.action_attempts == 1 and result.retry_executions == ()
    assert result.failed_actions == () and result.execution is not None
    assert result.execution.all_succeeded and len(result.execution.results) == 2
    assert sleeps == [] and store.settles == [] and store.renews == []
    assert store.load("p1").state == "paid"  # type: ignore[union-attr]
    assert store.pending_keys() == ["p1:2:0", "p1:2:1"], "marked done later, together"

    drive.process_event(orch, "p2", "pay")
    assert store.pending_keys() == ["p2:2:0", "p2:2:1"], "p1's marks rode on p2's commit"
    assert store.settles == []
    orch.flush()
    assert store.pending_keys() == []
    assert store.settles == [marked(orch.owner, ["p2:2:0", "p2:2:1"])]
    orch.flush()
    assert len(store.settles) == 1, "nothing left to write"


@DRIVE
def test_an_action_failing_every_try_is_buried_with_what_it_needs_to_run_again(
    drive: OrchestratorDriver,
) -> None:
    clock, store = FakeClock(), RecordingStore()
    sleeps: list[float] = []

    def charge(ctx: Mapping[str, Any]) -> None:
        raise RuntimeError("card declined")

    orch = shop(store, clock, charge=charge, retry=policy(sleeps, clock, max_attempts=2))
    result = drive.process_event(orch, "p1", "pay")
    assert result.state == "paid" and result.fallback is None
    assert result.failed_actions == ("charge",) and result.action_attempts == 2
    assert len(result.retry_executions) == 1 and sleeps == [0.1]
    (letter,) = store.dead_letters("p1")
    assert (letter.kind, letter.key, letter.entity_id) == ("action", "p1:2:0", "p1")
    assert (letter.error, letter.attempts, letter.failed_at) == (
        "RuntimeError: card declined",
        2,
        1000.1,
    )
    assert letter.payload == {
        "name": "charge",
        "params": {"cents": 250},
        "phase": "transition",
        "state": None,
        "context": {"entity_id": "p1"},
    }
    assert store.pending_keys() == [], "the receipt was marked with the first failure"
    assert store.settles[0]["done"] == ("p1:2:1",)
    last = store.settles[-1]
    assert (last["owner"], last["done"], last["failed"], last["armed"]) == (orch.owner, (), (), {})
    assert [d.key for d in last["dead"]] == ["p1:2:0"]
    assert store.load("p1").state == "paid"  # type: ignore[union-attr]


@DRIVE
def test_with_a_fallback_an_action_failing_every_try_moves_the_entity(
    drive: OrchestratorDriver,
) -> None:
    clock, store = FakeClock(), RecordingStore()

    def charge(ctx: Mapping[str, Any]) -> None:
        raise RuntimeError("card declined")

    retry = policy(None, clock, max_attempts=1, fallback="broken")
    orch = shop(store, clock, charge=charge, retry=retry)
    result = drive.process_event(orch, "p1", "pay")
    assert result.state == "paid" and result.failed_actions == ("charge",)
    assert result.fallback is not None and result.fallback.state == "broken"
    assert store.load("p1").state == "broken"  # type: ignore[union-attr]
    (letter,) = store.dead_letters("p1")
    assert letter.key == "p1:2:0" and letter.attempts == 1
    orch.flush()
    assert store.pending_keys() == [], "the receipt's mark rode on the fallback's commit"


@DRIVE
def test_an_action_a_dispatcher_took_over_during_the_backoff_is_not_run_again(
    drive: OrchestratorDriver,
) -> None:
    clock, store = FakeClock(), RecordingStore()
    calls: list[str] = []

    def charge(ctx: Mapping[str, Any]) -> None:
        calls.append(ctx[IDEMPOTENCY_KEY])
        if len(calls) == 1:
            raise ConnectionError("gateway down")

    other = shop(store, clock, charge=charge)

    def sleep(delay: float) -> None:
        clock.now += delay + 10  # the backoff and the lease run out: another takes over
        assert other.dispatch_once() == 1

    async def async_sleep(delay: float) -> None:
        clock.now += delay + 10
        assert await other.async_dispatch_once() == 1

    retry = RetryPolicy(max_attempts=3, jitter=0.0, sleep=sleep, async_sleep=async_sleep)
    orch = shop(store, clock, charge=charge, retry=retry)
    result = drive.process_event(orch, "p1", "pay")
    assert calls == ["p1:2:0", "p1:2:0"], "run by this process, then by the dispatcher only"
    assert result.failed_actions == () and result.action_attempts == 1
    assert result.retry_executions == () and store.dead_letters() == []
    (renewal,) = store.renews
    assert renewal["owner"] == orch.owner and renewal["held"] == set()
    assert store.pending_keys() == [], "the dispatcher settled what it ran"


@DRIVE
def test_actions_that_cannot_be_run_are_left_to_the_dispatcher_and_reported(
    drive: OrchestratorDriver, caplog: pytest.LogCaptureFixture
) -> None:
    class OfflineRegistry(ActionRegistry):
        def has(self, name: str) -> bool:
            raise LookupError("registry offline")

    store = RecordingStore()
    orch = Orchestrator(StateMachine.from_string(SHOP), store, actions=OfflineRegistry())
    with caplog.at_level(logging.ERROR, logger="pystator.runtime"):
        result = drive.process_event(orch, "p1", "pay")
    assert result.state == "paid" and store.load("p1").state == "paid"  # type: ignore[union-attr]
    assert result.action_attempts == 1
    assert result.action_error == repr(LookupError("registry offline"))
    assert result.failed_actions == ("charge", "receipt") and result.execution is None
    assert store.pending_keys() == ["p1:2:0", "p1:2:1"] and store.settles == []
    (record,) = [r for r in caplog.records if r.name == "pystator.runtime"]
    assert record.levelno == logging.ERROR and record.exc_info is not None
    assert record.getMessage() == "actions for p1 failed to run"


@DRIVE
def test_actions_that_cannot_be_run_still_let_the_step_start_its_services(
    drive: OrchestratorDriver,
) -> None:
    # the refused run is handed back to the step, which goes on to its services
    class OfflineRegistry(ActionRegistry):
        def has(self, name: str) -> bool:
            raise LookupError("registry offline")

    adapter = ServiceLog()
    orch = Orchestrator(
        StateMachine.from_string(SERVING),
        InMemoryStateStore(),
        actions=OfflineRegistry(),
        invoke_adapter=adapter,
    )
    result = drive.process_event(orch, "v1", "open")
    assert result is not None and result.action_error == repr(LookupError("registry offline"))
    assert result.services_started == ("open",)
    assert [c[:3] for c in adapter.calls] == [("start", "v1", "open")]


@pytest.mark.parametrize("answer", [True, 0, "started"])
def test_a_sync_adapter_may_answer_anything_on_the_async_path(answer: Any) -> None:
    # only an awaitable answer is awaited: a plain method's return value is ignored
    class Answering(ServiceLog):
        def start_services(self, *args: Any) -> Any:
            super().start_services(*args)
            return answer

        def stop_services(self, *args: Any) -> Any:
            super().stop_services(*args)
            return answer

    adapter = Answering()
    orch = Orchestrator(
        StateMachine.from_string(SESSIONS), InMemoryStateStore(), invoke_adapter=adapter
    )
    asyncio.run(orch.async_process_event("s1", "login"))
    asyncio.run(orch.async_process_event("s1", "logout"))
    assert [c[0] for c in adapter.calls] == ["start", "start", "stop", "stop"]


# ---------------------------------------------------------------- inline: timers and services


class FlakyScheduler(AsyncioScheduler):
    """An AsyncioScheduler that can refuse to arm or to cancel, and says when it ran."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(clock=clock)
        self.down = False
        self.cancel_down = False
        self.lifecycle: list[str] = []

    async def schedule(self, timer: ScheduledTimer) -> None:
        if self.down:
            raise ConnectionError("scheduler unreachable")
        await super().schedule(timer)

    async def cancel(self, timer_id: str) -> None:
        if self.cancel_down:
            raise ConnectionError("cancel refused")
        await super().cancel(timer_id)

    async def start(self) -> None:
        self.lifecycle.append("start")
        await super().start()

    async def stop(self) -> None:
        self.lifecycle.append("stop")
        await super().stop()


def timed(
    store: InMemoryStateStore, clock: FakeClock, scheduler: Any = None, **options: Any
) -> Orchestrator:
    reg = ActionRegistry()
    reg.register("charge", options.pop("charge", lambda ctx: None))
    options.setdefault("retry", policy(None, clock, max_attempts=2, base_delay=1.0))
    return Orchestrator(
        StateMachine.from_string(TIMED),
        store,
        actions=reg,
        scheduler=scheduler,
        clock=clock,
        mark_delay=30.0,
        rearm_after=3.0,
        **options,
    )


def timer_id(store: InMemoryStateStore, entity_id: str) -> str:
    stored = store.load(entity_id)
    assert stored is not None
    (timer,) = stored.timers
    return timer.timer_id


def test_timers_the_scheduler_refused_are_due_again_after_one_backoff() -> None:
    clock, store = FakeClock(), RecordingStore()
    scheduler = FlakyScheduler(clock)
    fails = [1]

    def charge(ctx: Mapping[str, Any]) -> None:
        if fails[0]:
            fails[0] -= 1
            raise ConnectionError("gateway down")

    orch = timed(store, clock, scheduler, charge=charge)

    async def main() -> None:
        scheduler.down = True
        # no actions: the refused timer alone is settled
        await orch.async_process_event("t1", "touch")
        t1 = timer_id(store, "t1")
        assert store.settles == [settled(orch.owner, armed={t1: 1001.0})]
        assert store.timer_arm_at(t1) == 1001.0
        # an action failing once: its first failure carries the timer along
        store.settles.clear()
        await orch.async_process_event("t2", "pay")
        t2 = timer_id(store, "t2")
        assert store.settles[0]["armed"] == {t2: 1001.0}
        assert [s["armed"] for s in store.settles[1:]] == []
        assert store.timer_arm_at(t2) == 1001.0
        await scheduler.stop()

    asyncio.run(main())


def test_a_buried_action_and_a_refused_timer_are_settled_together() -> None:
    clock, store = FakeClock(), RecordingStore()
    scheduler = FlakyScheduler(clock)

    def charge(ctx: Mapping[str, Any]) -> None:
        raise RuntimeError("card declined")

    orch = timed(store, clock, scheduler, charge=charge, retry=policy(None, clock, base_delay=1.0))

    async def main() -> None:
        scheduler.down = True
        result = await orch.async_process_event("t1", "pay")
        assert result.failed_actions == ("charge",) and result.action_attempts == 1
        await scheduler.stop()

    asyncio.run(main())
    t1 = timer_id(store, "t1")
    (call,) = store.settles
    assert (call["owner"], call["done"], call["failed"], call["armed"]) == (
        orch.owner,
        (),
        (),
        {t1: 1001.0},
    )
    assert [d.key for d in call["dead"]] == ["t1:2:0"]
    assert store.timer_arm_at(t1) == 1001.0 and store.pending_keys() == []


SHIFT = """
meta: {machine_name: shift}
states:
  - {name: idle, type: initial}
  - {name: shift, initial_child: working}
  - {name: working, parent: shift}
  - {name: broken, parent: shift}
transitions:
  - {trigger: clock_in, source: idle, dest: shift, actions: [charge]}
  - {trigger: clock_out, source: shift, dest: idle, after: 60000}
"""
"""The fallback ``broken`` is inside ``shift``: falling back keeps the shift's timer."""


def test_a_timer_refused_before_a_fallback_that_keeps_it_is_due_again_soon() -> None:
    clock, store = FakeClock(), RecordingStore()
    scheduler = FlakyScheduler(clock)
    reg = ActionRegistry()
    reg.register("charge", lambda ctx: 1 / 0)
    retry = policy(None, clock, base_delay=1.0, fallback="broken")
    orch = Orchestrator(
        StateMachine.from_string(SHIFT),
        store,
        actions=reg,
        scheduler=scheduler,
        clock=clock,
        retry=retry,
        mark_delay=30.0,
    )

    async def main() -> None:
        scheduler.down = True
        result = await orch.async_process_event("s1", "clock_in")
        assert result.fallback is not None and result.fallback.state == "broken"
        await scheduler.stop()

    asyncio.run(main())
    tid = timer_id(store, "s1")
    assert store.timer_arm_at(tid) == 1001.0
    assert store.settles == [settled(orch.owner, armed={tid: 1001.0})]


def test_leaving_a_state_cancels_its_timer_and_a_refused_cancel_is_only_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock, store = FakeClock(), RecordingStore()
    scheduler = FlakyScheduler(clock)
    orch = timed(store, clock, scheduler)

    async def main() -> None:
        await orch.async_process_event("t1", "touch")
        await orch.async_process_event("t2", "touch")
        t1, t2 = timer_id(store, "t1"), timer_id(store, "t2")
        assert [t.timer_id for t in scheduler.pending] == [t1, t2]
        assert store.timer_arm_at(t1) == 1060.0 + 3.0, "handed over: due again after its time"
        cancelled = await orch.async_process_event("t1", "cancel")
        assert [t.timer_id for t in cancelled.cancelled_timers] == [t1]
        assert [t.timer_id for t in scheduler.pending] == [t2]
        scheduler.cancel_down = True
        with caplog.at_level(logging.WARNING, logger="pystator.runtime"):
            refused = await orch.async_process_event("t2", "cancel")
        assert refused.state == "idle" and store.load("t2").state == "idle"  # type: ignore[union-attr]
        assert [r.getMessage() for r in caplog.records if r.name == "pystator.runtime"] == [
            f"could not cancel timer {t2}: cancel refused"
        ]
        await scheduler.stop()

    asyncio.run(main())


@DRIVE
def test_nested_services_start_outside_in_with_the_context_and_stop_inside_out(
    drive: OrchestratorDriver,
) -> None:
    adapter = ServiceLog()
    orch = Orchestrator(
        StateMachine.from_string(SESSIONS), InMemoryStateStore(), invoke_adapter=adapter
    )
    drive.process_event(orch, "s1", "login", {"user": "ada"})
    context = {"user": "ada", "entity_id": "s1"}
    assert adapter.calls == [
        ("start", "s1", "session", ("heartbeat",), context),
        ("start", "s1", "active", ("feed",), context),
    ]
    adapter.calls.clear()
    result = drive.process_event(orch, "s1", "logout")
    # in exit order, innermost first: a child's service never outlives its parent's
    assert result.services_stopped == ("active", "session")
    assert adapter.calls == [("stop", "s1", "active"), ("stop", "s1", "session")]


# ---------------------------------------------------------------- the lease keeper


class Keepers:
    """The lease keeper threads started after this was made, as long actions saw them."""

    def __init__(self) -> None:
        self.before = set(threading.enumerate())
        self.seen: set[threading.Thread] = set()

    def note(self) -> None:
        self.seen.update(t for t in threads_named(LEASE_KEEPER) if t not in self.before)

    def idle(self) -> bool:
        return bool(self.seen) and not any(t.is_alive() for t in self.seen)


def long_action(
    store: RecordingStore, clock: FakeClock, renewed: list[bool], keepers: Keepers | None = None
) -> Callable[[Mapping[str, Any]], None]:
    """An action that outlives a renewal period: it returns once its claim was renewed."""

    def run(ctx: Mapping[str, Any]) -> None:
        key = ctx[IDEMPOTENCY_KEY]
        if keepers is not None:
            keepers.note()
        clock.now += 0.2  # the renewal is measured from here
        renewed.append(wait_until(lambda: any(key in r["held"] for r in store.kept_renewals())))

    return run


@DRIVE
def test_a_long_action_keeps_its_claim_and_the_keeper_comes_back_for_the_next(
    drive: OrchestratorDriver, caplog: pytest.LogCaptureFixture
) -> None:
    clock, store, keepers = FakeClock(), RecordingStore(), Keepers()
    renewed: list[bool] = []
    slow = long_action(store, clock, renewed, keepers)
    orch = shop(store, clock, charge=slow, lease_seconds=0.3)
    store.fail_renew = 1  # the first renewal fails: the next period tries again
    with caplog.at_level(logging.WARNING, logger="pystator.runtime"):
        result = drive.process_event(orch, "p1", "pay")
    assert renewed == [True] and result.failed_actions == ()
    failed, kept = store.renews[0], store.kept_renewals()[0]
    assert failed["thread"] == LEASE_KEEPER and failed["held"] is None
    keys = ("p1:2:0", "p1:2:1")
    assert (kept["owner"], kept["keys"], kept["held"]) == (orch.owner, keys, set(keys))
    assert kept["until"] == pytest.approx(1000.2 + 0.3), "a lease from the renewal's now"
    assert not store.claim("thief", 1000.45, 1001.0, 10), "held past its first lease"
    assert [r.getMessage() for r in caplog.records if r.name == "pystator.runtime"] == [
        f"could not renew the lease on {keys}: test store is unavailable: renew refused"
    ]

    assert wait_until(keepers.idle), "idle: the keeper ends"
    store.renews.clear()
    drive.process_event(orch, "p2", "pay")
    assert renewed == [True, True], "a later long action gets a keeper again"
    assert store.kept_renewals()[0]["keys"] == ("p2:2:0", "p2:2:1")


def test_a_long_retry_and_a_long_dispatched_action_keep_their_claims() -> None:
    clock, store = FakeClock(), RecordingStore()
    renewed: list[bool] = []
    slow = long_action(store, clock, renewed)
    tries: list[str] = []

    def charge(ctx: Mapping[str, Any]) -> None:
        tries.append(ctx[IDEMPOTENCY_KEY])
        if len(tries) == 1:
            raise ConnectionError("gateway down")
        slow(ctx)

    retry = policy(None, clock, max_attempts=2)
    orch = shop(store, clock, charge=charge, retry=retry, lease_seconds=0.3)
    result = orch.process_event("p1", "pay")
    assert renewed == [True] and result.action_attempts == 2 and result.failed_actions == ()
    assert store.kept_renewals()[0]["owner"] == orch.owner
    assert store.kept_renewals()[0]["keys"] == ("p1:2:0",), "the retry holds only its own"
    orch.flush()

    def crash(ctx: Mapping[str, Any]) -> None:
        raise Crash

    dying = shop(store, clock, charge=crash, lease_seconds=0.3)
    with pytest.raises(Crash):
        dying.process_event("p2", "pay")
    store.renews.clear()
    clock.now += 1
    dispatcher = shop(store, clock, charge=slow, lease_seconds=0.3)
    assert dispatcher.dispatch_once() == 2
    assert renewed == [True, True]
    claimer = store.claims[-1][0]
    kept = store.kept_renewals()[0]
    assert claimer != dispatcher.owner, "each pass claims under a token of its own"
    assert (kept["owner"], kept["keys"]) == (claimer, ("p2:2:0", "p2:2:1"))


# ---------------------------------------------------------------- done marks


@DRIVE
def test_without_a_mark_delay_completed_actions_are_marked_done_at_once(
    drive: OrchestratorDriver,
) -> None:
    clock, store = FakeClock(), RecordingStore()
    orch = shop(store, clock, mark_delay=0)
    drive.process_event(orch, "p1", "pay")
    assert store.pending_keys() == []
    assert store.settles == [marked(orch.owner, ["p1:2:0", "p1:2:1"])], "by the caller"


def test_marks_wait_in_a_daemon_thread_and_an_idle_writer_ends_and_comes_back() -> None:
    clock, store = FakeClock(), RecordingStore()
    before = set(threading.enumerate())
    waiting = shop(store, clock, mark_delay=30.0)
    waiting.process_event("w1", "pay")
    (writer,) = [t for t in threads_named(DONE_MARKS) if t not in before]
    assert writer.daemon, "waiting marks never keep the process alive"
    assert store.pending_keys() == ["w1:2:0", "w1:2:1"]

    prompt = shop(store, clock, mark_delay=0.01)
    before = set(threading.enumerate())
    prompt.process_event("p1", "pay")
    (writer,) = [t for t in threads_named(DONE_MARKS) if t not in before]
    assert wait_until(lambda: store.pending_keys() == ["w1:2:0", "w1:2:1"])
    assert store.settles[-1]["thread"] == DONE_MARKS
    assert store.settles[-1]["done"] == ("p1:2:0", "p1:2:1")
    assert wait_until(lambda: not writer.is_alive()), "idle: the writer ends"
    prompt.process_event("p2", "pay")
    assert wait_until(lambda: store.pending_keys() == ["w1:2:0", "w1:2:1"]), (
        "a new writer for new marks"
    )
    assert store.settles[-1]["done"] == ("p2:2:0", "p2:2:1")


def test_marks_a_flush_could_not_write_are_kept_for_the_next(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock, store = FakeClock(), RecordingStore()
    orch = shop(store, clock)
    orch.process_event("p1", "pay")
    store.fail_settle = 1
    with caplog.at_level(logging.WARNING, logger="pystator.runtime"):
        orch.flush()
    assert [r.getMessage() for r in caplog.records if r.name == "pystator.runtime"] == [
        "could not mark 2 actions done: test store is unavailable: settle refused"
    ]
    assert store.pending_keys() == ["p1:2:0", "p1:2:1"]
    orch.flush()
    assert store.pending_keys() == []
    assert [s["done"] for s in store.settles] == [("p1:2:0", "p1:2:1")] * 2


class WithoutAclose:
    """A store that has no ``aclose`` (the sync-only stores of other libraries)."""

    def __init__(self, store: InMemoryStateStore) -> None:
        self.store = store

    def __getattr__(self, name: str) -> Any:
        if name == "aclose":
            raise AttributeError(name)
        return getattr(self.store, name)


def test_start_and_stop_run_the_scheduler_and_dispatcher_and_stop_writes_the_marks() -> None:
    clock, store = FakeClock(), RecordingStore()
    scheduler = FlakyScheduler(clock)
    orch = timed(store, clock, scheduler)
    plain_store = RecordingStore()
    plain = shop(plain_store, clock)
    bare = Orchestrator(StateMachine.from_string(SHOP), WithoutAclose(InMemoryStateStore()))

    async def main() -> None:
        await orch.start()
        assert scheduler.lifecycle == ["start"] and orch.dispatcher.running
        await orch.async_process_event("t1", "pay")
        assert store.pending_keys() == ["t1:2:0"]
        await orch.stop()
        assert scheduler.lifecycle[-1] == "stop" and not orch.dispatcher.running
        assert store.pending_keys() == [] and store.closed == 1

        await plain.start()
        await plain.async_process_event("p1", "pay")
        await plain.stop()
        assert plain_store.pending_keys() == [] and plain_store.closed == 1
        await bare.start()
        await bare.stop()
        assert not bare.dispatcher.running

    asyncio.run(main())


# ---------------------------------------------------------------- the dispatcher


class Dispatch:
    """``dispatch_once`` or ``async_dispatch_once``."""

    def __init__(self, is_async: bool) -> None:
        self.is_async = is_async

    def __call__(self, orch: Orchestrator, *limit: int) -> int:
        if self.is_async:
            return asyncio.run(orch.async_dispatch_once(*limit))
        return orch.dispatch_once(*limit)


DISPATCH = pytest.mark.parametrize(
    "dispatch", [pytest.param(Dispatch(False), id="sync"), pytest.param(Dispatch(True), id="async")]
)


def crashed(store: InMemoryStateStore, clock: FakeClock, *entities: str) -> None:
    """Each entity paid, and the process died in its first action: both rows pending."""

    def crash(ctx: Mapping[str, Any]) -> None:
        raise Crash

    dying = shop(store, clock, charge=crash)
    for entity_id in entities:
        with pytest.raises(Crash):
            dying.process_event(entity_id, "pay")


@DISPATCH
def test_the_dispatcher_runs_each_commits_actions_together_in_order(dispatch: Dispatch) -> None:
    clock, store = FakeClock(), RecordingStore()
    crashed(store, clock, "p1", "p2")
    ran: list[str] = []
    stolen: list[bool] = []

    def charge(ctx: Mapping[str, Any]) -> None:
        ran.append(ctx[IDEMPOTENCY_KEY])
        stolen.append(bool(store.claim("thief", clock.now, clock.now + 1, 10)))

    def receipt(ctx: Mapping[str, Any]) -> None:
        ran.append(ctx[IDEMPOTENCY_KEY])

    clock.now += 10
    orch = shop(store, clock, charge=charge, receipt=receipt)
    assert dispatch(orch) == 4
    assert ran == ["p1:2:0", "p1:2:1", "p2:2:0", "p2:2:1"]
    assert stolen == [False, False], "claimed rows are held for a lease"
    (owner, now, until, limit) = store.claims[0]
    assert (now, until, limit) == (1010.0, 1020.0, 100)
    assert store.settles == [settled(owner, ["p1:2:0", "p1:2:1", "p2:2:0", "p2:2:1"])]
    assert store.pending_keys() == []


@DISPATCH
def test_a_dispatched_action_that_fails_again_is_released_until_its_backoff(
    dispatch: Dispatch,
) -> None:
    clock, store = FakeClock(), RecordingStore()
    crashed(store, clock, "p1")

    def charge(ctx: Mapping[str, Any]) -> None:
        raise RuntimeError("still down")

    clock.now += 10
    orch = shop(store, clock, charge=charge, retry=policy(None, clock, max_attempts=3))
    assert dispatch(orch) == 2
    owner = store.claims[0][0]
    assert store.settles == [
        settled(
            owner,
            ["p1:2:1"],
            failed=(FailedAction("p1:2:0", 1, "RuntimeError: still down", 1010.1),),
        )
    ]
    (row,) = store.pending_actions()
    assert (row.key, row.attempts, row.last_error) == ("p1:2:0", 1, "RuntimeError: still down")


@DISPATCH
def test_a_dispatched_action_out_of_tries_is_buried_where_there_is_no_fallback(
    dispatch: Dispatch,
) -> None:
    clock, store = FakeClock(), RecordingStore()
    crashed(store, clock, "p1")

    def charge(ctx: Mapping[str, Any]) -> None:
        raise RuntimeError("still down")

    clock.now += 10
    orch = shop(store, clock, charge=charge, retry=policy(None, clock, max_attempts=1))
    assert dispatch(orch) == 2
    (letter,) = store.dead_letters("p1")
    assert (letter.key, letter.attempts, letter.error) == ("p1:2:0", 1, "RuntimeError: still down")
    assert store.load("p1").state == "paid"  # type: ignore[union-attr]
    assert store.pending_keys() == []


@DISPATCH
def test_without_a_scheduler_a_dispatched_timer_is_held_for_a_lease(dispatch: Dispatch) -> None:
    clock, store = FakeClock(), RecordingStore()
    orch = Orchestrator(StateMachine.from_string(TICKING), store, clock=clock, lease_seconds=10.0)
    orch.create("e1")
    tid = timer_id(store, "e1")
    assert store.timer_arm_at(tid) == 1010.0
    clock.now = 1010.0
    assert dispatch(orch) == 1
    assert store.timer_arm_at(tid) == 1020.0
    clock.now = 1019.5
    assert dispatch(orch) == 0
    clock.now = 1020.0
    assert dispatch(orch) == 1


@DISPATCH
def test_one_pass_delivers_at_most_a_hundred_rows_of_each_kind(dispatch: Dispatch) -> None:
    clock, store = FakeClock(), InMemoryStateStore()
    orch = Orchestrator(StateMachine.from_string(TICKING), store, clock=clock, lease_seconds=10.0)
    for n in range(101):
        orch.create(f"e{n}")
    clock.now += 10
    assert dispatch(orch) == 100
    assert dispatch(orch) == 1


def test_a_dispatched_timer_is_rearmed_after_its_due_time_or_soon_if_refused(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock, store = FakeClock(), RecordingStore()
    scheduler = FlakyScheduler(clock)
    orch = timed(store, clock, scheduler)

    async def main() -> None:
        scheduler.down = True
        await orch.async_process_event("t1", "touch")
        tid = timer_id(store, "t1")
        assert store.timer_arm_at(tid) == 1001.0
        scheduler.down = False
        clock.now = 1001.0
        assert await orch.async_dispatch_once() == 1
        assert [t.timer_id for t in scheduler.pending] == [tid]
        assert store.timer_arm_at(tid) == 1060.0 + 3.0, "due time, then the rearm margin"
        scheduler.down = True
        clock.now = 1063.0
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="pystator.runtime"):
            assert await orch.async_dispatch_once() == 1
        assert [r.getMessage() for r in caplog.records if r.name == "pystator.runtime"] == [
            f"could not arm timer {tid} (scheduler unreachable); will retry"
        ]
        assert store.timer_arm_at(tid) == 1063.0 + 1.0, "one backoff later"
        await scheduler.stop()

    asyncio.run(main())
