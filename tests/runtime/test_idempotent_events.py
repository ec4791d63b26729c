"""An event id is applied once per entity: in flight twice, completed, or failed.

On both drivers and on the in-memory and SQLite idempotency stores, through the
orchestrator only:

* the same event id on two entities is two events (ids are scoped to their entity);
* while one worker has an event id in flight (not committed yet), another worker
  with the same id applies it, and the first is then answered from its record;
* when processing raises, nothing is remembered: the event can be sent again and
  is then applied (once).

The worker "in progress" is a real second caller: a thread blocked inside a guard.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from pystator import ActionRegistry, GuardRegistry, StateMachine
from pystator.runtime import (
    IdempotencyStore,
    InMemoryIdempotencyStore,
    InMemoryStateStore,
    Orchestrator,
    OrchestratorResult,
    SQLiteIdempotencyStore,
)
from tests.drivers import ORCHESTRATOR_DRIVERS, OrchestratorDriver

pytestmark = pytest.mark.parametrize("drive", ORCHESTRATOR_DRIVERS)

ORDERS = """
meta: {machine_name: orders}
states:
  - {name: draft, type: initial}
  - {name: placed, on_enter: [notify]}
  - {name: done, type: terminal}
transitions:
  - {trigger: place, source: draft, dest: placed, guards: [broker_up], actions: [charge]}
  - {trigger: finish, source: placed, dest: done}
"""

Idempotency = Callable[[Path], IdempotencyStore]


@pytest.fixture(params=["memory", "sqlite"])
def idempotency(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[IdempotencyStore]:
    if request.param == "memory":
        yield InMemoryIdempotencyStore()
    else:
        yield SQLiteIdempotencyStore(tmp_path / "idempotency.db")


def orchestrator(
    idempotency: IdempotencyStore, broker_up: Callable[[dict[str, Any]], bool], log: list[str]
) -> tuple[Orchestrator, InMemoryStateStore]:
    guards = GuardRegistry()
    guards.register("broker_up", broker_up)
    actions = ActionRegistry()
    for name in ("charge", "notify"):
        actions.register(name, lambda ctx, name=name: log.append(f"{name} {ctx['entity_id']}"))
    store = InMemoryStateStore()
    orch = Orchestrator(StateMachine.from_string(ORDERS), store, guards, actions,
                        idempotency=idempotency)  # fmt: skip
    return orch, store


def test_the_same_event_id_on_two_entities_is_two_events(
    drive: OrchestratorDriver, idempotency: IdempotencyStore
) -> None:
    log: list[str] = []
    orch, store = orchestrator(idempotency, lambda ctx: True, log)
    first = drive.process_event(orch, "o1", "place", event_id="evt-1")
    other = drive.process_event(orch, "o2", "place", event_id="evt-1")
    again = drive.process_event(orch, "o1", "place", event_id="evt-1")
    assert not first.duplicate and not other.duplicate and again.duplicate
    assert (first.state, other.state, again.state) == ("placed", "placed", "placed")
    assert again.first_outcome == first.summary()
    assert log == ["charge o1", "notify o1", "charge o2", "notify o2"]
    assert [len(store.audit_trail(e)) for e in ("o1", "o2")] == [2, 2]


def test_an_event_delivered_again_while_the_first_is_in_flight_is_applied_once(
    drive: OrchestratorDriver, idempotency: IdempotencyStore
) -> None:
    """The delivery that commits first applies; the other is answered from its record."""
    inside = threading.Event()
    release = threading.Event()
    calls: list[int] = []

    def broker_up(ctx: dict[str, Any]) -> bool:
        calls.append(1)
        if len(calls) == 1:  # the first worker stops here, before it can commit
            inside.set()
            assert release.wait(10), "the test never let the first worker go on"
        return True

    log: list[str] = []
    orch, store = orchestrator(idempotency, broker_up, log)
    drive.create(orch, "o1")
    with ThreadPoolExecutor(max_workers=1) as pool:
        first: Future[OrchestratorResult] = pool.submit(
            drive.process_event, orch, "o1", "place", event_id="evt-1"
        )
        try:
            assert inside.wait(10), "the first worker never reached its guard"
            second = drive.process_event(orch, "o1", "place", event_id="evt-1")
            assert second.success and not second.duplicate and second.state == "placed"
            assert log == ["charge o1", "notify o1"], "the second delivery commits and runs"
        finally:
            release.set()
        late = first.result(timeout=10)
    assert late.duplicate and late.first_outcome == second.summary()
    assert (late.state, late.version) == ("placed", 2)
    stored = drive.get_state(orch, "o1")
    assert stored is not None and (stored.state, stored.version) == ("placed", 2)
    assert log == ["charge o1", "notify o1"] and len(store.audit_trail("o1")) == 2


def test_an_event_whose_processing_raised_can_be_sent_again(
    drive: OrchestratorDriver, idempotency: IdempotencyStore
) -> None:
    down = [True]

    def broker_up(ctx: dict[str, Any]) -> bool:
        if down[0]:
            raise ConnectionError("broker unreachable")
        return True

    log: list[str] = []
    orch, store = orchestrator(idempotency, broker_up, log)
    with pytest.raises(ConnectionError, match="broker unreachable"):
        drive.process_event(orch, "o1", "place", event_id="evt-1")
    stored = drive.get_state(orch, "o1")
    assert stored is not None and (stored.state, stored.version) == ("draft", 1)
    down[0] = False
    retried = drive.process_event(orch, "o1", "place", event_id="evt-1")
    assert retried.success and not retried.duplicate and retried.state == "placed"
    assert drive.process_event(orch, "o1", "place", event_id="evt-1").duplicate
    assert log == ["charge o1", "notify o1"] and len(store.audit_trail("o1")) == 2
