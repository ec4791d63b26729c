"""A recording invoke adapter for the orchestrator tests, sync and its async twin."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pystator import InvokeSpec
from tests.drivers import OrchestratorDriver


class ServiceLog:
    """Writes down every start (with the specs' ids and the context) and every stop."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def start_services(
        self,
        entity_id: str,
        state_name: str,
        invoke_specs: Sequence[InvokeSpec],
        context: Mapping[str, Any],
    ) -> None:
        ids = tuple(s.id for s in invoke_specs)
        self.calls.append(("start", entity_id, state_name, ids, dict(context)))

    def stop_services(self, entity_id: str, state_name: str) -> None:
        self.calls.append(("stop", entity_id, state_name))


class AsyncServiceLog(ServiceLog):
    async def start_services(  # type: ignore[override]
        self,
        entity_id: str,
        state_name: str,
        invoke_specs: Sequence[InvokeSpec],
        context: Mapping[str, Any],
    ) -> None:
        super().start_services(entity_id, state_name, invoke_specs, context)

    async def stop_services(self, entity_id: str, state_name: str) -> None:  # type: ignore[override]
        super().stop_services(entity_id, state_name)


def service_log_for(drive: OrchestratorDriver) -> ServiceLog:
    """The adapter that suits the driver: async methods for the async path."""
    return AsyncServiceLog() if drive.is_async else ServiceLog()
