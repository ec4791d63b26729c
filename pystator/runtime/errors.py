"""Errors of the runtime layer (orchestrator, stores, schedulers).

::

    PystatorError
    └── RuntimeLayerError               something went wrong persisting or driving a machine
        ├── StateConflictError          the stored version moved under a save (optimistic lock)
        │   └── ConflictRetriesExhausted  the orchestrator retried and kept losing the race
        ├── DuplicateEventError         a commit carried an event id the entity already recorded
        ├── StoreUnavailableError       the store could not be reached or stayed locked too long
        ├── EventInProgressError        an idempotency claim is held elsewhere (idempotency stores)
        └── OrchestratorUsageError      the orchestrator was asked for something it cannot do
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pystator.errors import PystatorError

__all__ = [
    "ConflictRetriesExhausted",
    "DuplicateEventError",
    "EventInProgressError",
    "OrchestratorUsageError",
    "RuntimeLayerError",
    "StateConflictError",
    "StoreUnavailableError",
]


class RuntimeLayerError(PystatorError):
    """Base for errors raised while persisting or driving a machine."""


class StateConflictError(RuntimeLayerError):
    """A save expected one version of an entity but the store holds another.

    Another writer committed in between; the caller reloads and recomputes.
    """

    def __init__(self, entity_id: str, expected_version: int, actual_version: int) -> None:
        super().__init__(
            f"entity {entity_id!r} changed while this event was processed: expected "
            f"version {expected_version}, store has version {actual_version}"
        )
        self.entity_id = entity_id
        self.expected_version = expected_version
        self.actual_version = actual_version


class ConflictRetriesExhausted(StateConflictError):
    """The orchestrator reloaded and recomputed ``attempts`` times and still lost."""

    def __init__(
        self, entity_id: str, expected_version: int, actual_version: int, attempts: int
    ) -> None:
        super().__init__(entity_id, expected_version, actual_version)
        self.attempts = attempts
        self.args = (
            f"entity {entity_id!r}: gave up after {attempts} attempts, other writers kept "
            f"committing first (last seen version {actual_version})",
        )


class DuplicateEventError(RuntimeLayerError):
    """The entity already recorded this event id; ``first_outcome`` is what it did then.

    Raised by ``StateStore.commit`` (the dedup record is part of the step's
    transaction); the orchestrator answers the duplicate with ``first_outcome``.
    """

    def __init__(self, entity_id: str, event_id: str, first_outcome: Mapping[str, Any]) -> None:
        super().__init__(f"entity {entity_id!r} already processed event {event_id!r}")
        self.entity_id = entity_id
        self.event_id = event_id
        self.first_outcome = dict(first_outcome)


class StoreUnavailableError(RuntimeLayerError):
    """The state store could not be reached, or stayed locked past its timeout.

    Nothing was written. It is transient: a timer firing or an outbox delivery that
    meets it is retried with backoff and never counted against the retry policy.
    """

    def __init__(self, store: str, detail: str) -> None:
        super().__init__(f"{store} is unavailable: {detail}")
        self.store = store
        self.detail = detail


class EventInProgressError(RuntimeLayerError):
    """An idempotency store's claim on an event id is held by a worker not yet done.

    Only the standalone idempotency stores raise it; the orchestrator deduplicates
    inside the state store's transaction and never does.
    """

    def __init__(self, key: str) -> None:
        super().__init__(f"event {key!r} is being processed by another worker; try again later")
        self.key = key


class OrchestratorUsageError(RuntimeLayerError):
    """A call the orchestrator cannot serve as configured (e.g. sync call with a scheduler)."""
