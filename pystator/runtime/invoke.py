"""Invoke: long-lived services that live exactly as long as their state.

The orchestrator calls ``start_services`` for each state that was entered and is
still active when the step ends, and ``stop_services`` for each state that was
exited, always after the state is committed. When a service finishes, the
adapter (or the app) sends the state's ``on_done`` event back through the
orchestrator, e.g. ``await orchestrator.async_service_done(entity_id, service_id)``;
that call is ignored once the state that invoked the service is no longer active.
Methods may be plain functions or coroutines.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from pystator.model import InvokeSpec

__all__ = ["InvokeAdapter", "NoOpInvokeAdapter"]


@runtime_checkable
class InvokeAdapter(Protocol):
    """Starts and stops the services declared by ``invoke`` on a state."""

    def start_services(
        self,
        entity_id: str,
        state_name: str,
        invoke_specs: Sequence[InvokeSpec],
        context: Mapping[str, Any],
    ) -> Awaitable[None] | None: ...

    def stop_services(self, entity_id: str, state_name: str) -> Awaitable[None] | None: ...


class NoOpInvokeAdapter:
    """The adapter used when none is given: ``invoke`` declarations do nothing."""

    def start_services(
        self,
        entity_id: str,
        state_name: str,
        invoke_specs: Sequence[InvokeSpec],
        context: Mapping[str, Any],
    ) -> None:
        return None

    def stop_services(self, entity_id: str, state_name: str) -> None:
        return None
