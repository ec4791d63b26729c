"""One test, both paths: drivers for the public calls that come as a sync and an async twin.

The library offers most calls twice (``process`` and ``async_process``,
``process_event`` and ``async_process_event``, ``execute`` and the
``async_execute_*`` family, ``claim`` and ``async_claim``...). The async twin is
the one production code uses and the one a rewrite is most likely to get wrong,
so a behaviour tested on one path only is half tested. A test takes a driver and
calls through it; parametrised over a ``*_DRIVERS`` list it runs once per path::

    @pytest.mark.parametrize("drive", ENGINE_DRIVERS)
    def test_something(drive: EngineDriver) -> None:
        result = drive.process(machine, "open", "fill", {"qty": 1})

The async drivers run each call in a fresh event loop (``asyncio.run``), so the
test body stays the same on both paths. Tests that need one loop for several
calls (a scheduler, tasks racing) are async by nature and are written as such.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import pytest

from pystator import Event, ParallelStateConfig, StateMachine, TransitionResult
from pystator.actions import ActionExecutor, ExecutionResult
from pystator.guards import GuardRegistry
from pystator.runtime import IdempotencyStore, Orchestrator, OrchestratorResult, StoredState

__all__ = [
    "ACTION_DRIVERS",
    "ENGINE_DRIVERS",
    "GUARD_DRIVERS",
    "IDEMPOTENCY_DRIVERS",
    "ORCHESTRATOR_DRIVERS",
    "ActionDriver",
    "EngineDriver",
    "GuardDriver",
    "IdempotencyDriver",
    "OrchestratorDriver",
]

Context = Mapping[str, Any] | None


class EngineDriver:
    """``StateMachine.process`` / ``process_parallel`` (sync)."""

    is_async = False

    def process(
        self, machine: StateMachine, state: str, event: str | Event, context: Context = None
    ) -> TransitionResult:
        return machine.process(state, event, context)

    def process_parallel(
        self,
        machine: StateMachine,
        config: ParallelStateConfig,
        event: str | Event,
        context: Context = None,
    ) -> tuple[ParallelStateConfig, list[TransitionResult]]:
        return machine.process_parallel(config, event, context)


class AsyncEngineDriver(EngineDriver):
    """``StateMachine.async_process`` / ``async_process_parallel``."""

    is_async = True

    def process(
        self, machine: StateMachine, state: str, event: str | Event, context: Context = None
    ) -> TransitionResult:
        return asyncio.run(machine.async_process(state, event, context))

    def process_parallel(
        self,
        machine: StateMachine,
        config: ParallelStateConfig,
        event: str | Event,
        context: Context = None,
    ) -> tuple[ParallelStateConfig, list[TransitionResult]]:
        return asyncio.run(machine.async_process_parallel(config, event, context))


class GuardDriver:
    """``GuardRegistry.evaluate`` (sync)."""

    is_async = False

    def evaluate(self, guards: GuardRegistry, name: str, context: Mapping[str, Any]) -> bool:
        return guards.evaluate(name, context)


class AsyncGuardDriver(GuardDriver):
    """``GuardRegistry.async_evaluate``."""

    is_async = True

    def evaluate(self, guards: GuardRegistry, name: str, context: Mapping[str, Any]) -> bool:
        return asyncio.run(guards.async_evaluate(name, context))


class ActionDriver:
    """``ActionExecutor.execute`` (sync, sequential) or one of the ``async_execute_*``."""

    def __init__(self, method: str) -> None:
        self.method = method
        self.is_async = method != "execute"

    def execute(
        self, executor: ActionExecutor, result: TransitionResult, context: Context = None
    ) -> ExecutionResult:
        call = getattr(executor, self.method)
        if not self.is_async:
            outcome: ExecutionResult = call(result, context)
            return outcome
        return asyncio.run(call(result, context))


class OrchestratorDriver:
    """``Orchestrator.process_event`` / ``create`` / ``get_state`` / ``service_done`` (sync)."""

    is_async = False

    def process_event(
        self,
        orchestrator: Orchestrator,
        entity_id: str,
        event: str | Event,
        context: Context = None,
        *,
        event_id: str | None = None,
    ) -> OrchestratorResult:
        return orchestrator.process_event(entity_id, event, context, event_id=event_id)

    def create(self, orchestrator: Orchestrator, entity_id: str) -> StoredState:
        return orchestrator.create(entity_id)

    def get_state(self, orchestrator: Orchestrator, entity_id: str) -> StoredState | None:
        return orchestrator.get_state(entity_id)

    def service_done(
        self, orchestrator: Orchestrator, entity_id: str, service_id: str
    ) -> OrchestratorResult | None:
        return orchestrator.service_done(entity_id, service_id)


class AsyncOrchestratorDriver(OrchestratorDriver):
    """The orchestrator's ``async_`` twins of the same calls."""

    is_async = True

    def process_event(
        self,
        orchestrator: Orchestrator,
        entity_id: str,
        event: str | Event,
        context: Context = None,
        *,
        event_id: str | None = None,
    ) -> OrchestratorResult:
        return asyncio.run(
            orchestrator.async_process_event(entity_id, event, context, event_id=event_id)
        )

    def create(self, orchestrator: Orchestrator, entity_id: str) -> StoredState:
        return asyncio.run(orchestrator.async_create(entity_id))

    def get_state(self, orchestrator: Orchestrator, entity_id: str) -> StoredState | None:
        return asyncio.run(orchestrator.async_get_state(entity_id))

    def service_done(
        self, orchestrator: Orchestrator, entity_id: str, service_id: str
    ) -> OrchestratorResult | None:
        return asyncio.run(orchestrator.async_service_done(entity_id, service_id))


class IdempotencyDriver:
    """An idempotency store's ``get`` / ``claim`` / ``complete`` / ``release`` (sync)."""

    is_async = False

    def get(self, store: IdempotencyStore, key: str) -> dict[str, Any] | None:
        return store.get(key)

    def claim(self, store: IdempotencyStore, key: str) -> bool:
        return store.claim(key)

    def complete(self, store: IdempotencyStore, key: str, outcome: Mapping[str, Any]) -> None:
        store.complete(key, outcome)

    def release(self, store: IdempotencyStore, key: str) -> None:
        store.release(key)


class AsyncIdempotencyDriver(IdempotencyDriver):
    """The same store through its ``async_*`` methods."""

    is_async = True

    def get(self, store: IdempotencyStore, key: str) -> dict[str, Any] | None:
        return asyncio.run(store.async_get(key))

    def claim(self, store: IdempotencyStore, key: str) -> bool:
        return asyncio.run(store.async_claim(key))

    def complete(self, store: IdempotencyStore, key: str, outcome: Mapping[str, Any]) -> None:
        asyncio.run(store.async_complete(key, outcome))

    def release(self, store: IdempotencyStore, key: str) -> None:
        asyncio.run(store.async_release(key))


def _both(sync: Any, asynchronous: Any) -> list[Any]:
    return [pytest.param(sync, id="sync"), pytest.param(asynchronous, id="async")]


ENGINE_DRIVERS = _both(EngineDriver(), AsyncEngineDriver())
GUARD_DRIVERS = _both(GuardDriver(), AsyncGuardDriver())
ORCHESTRATOR_DRIVERS = _both(OrchestratorDriver(), AsyncOrchestratorDriver())
IDEMPOTENCY_DRIVERS = _both(IdempotencyDriver(), AsyncIdempotencyDriver())
ACTION_DRIVERS = [
    pytest.param(ActionDriver(method), id=method)
    for method in (
        "execute",
        "async_execute",
        "async_execute_sequential",
        "async_execute_parallel",
        "async_execute_phased",
    )
]
