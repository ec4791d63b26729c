"""Errors of the runtime layer (orchestrator, stores, schedulers).

::

    PystatorError
    └── RuntimeLayerError               something went wrong persisting or driving a machine
        ├── StateConflictError          the stored version moved under a save (optimistic lock)
        │   └── ConflictRetriesExhausted  the orchestrator retried and kept losing the race
        ├── EventInProgressError        the same event id is being processed elsewhere right now
        └── OrchestratorUsageError      the orchestrator was asked for something it cannot do
"""

from __future__ import annotations

from pystator.errors import PystatorError

__all__ = [
    "ConflictRetriesExhausted",
    "EventInProgressError",
    "OrchestratorUsageError",
    "RuntimeLayerError",
    "StateConflictError",
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


class EventInProgressError(RuntimeLayerError):
    """An event id is claimed by another worker that has not finished with it yet."""

    def __init__(self, key: str) -> None:
        super().__init__(f"event {key!r} is being processed by another worker; try again later")
        self.key = key


class OrchestratorUsageError(RuntimeLayerError):
    """A call the orchestrator cannot serve as configured (e.g. sync call with a scheduler)."""
