"""State stores at the import path the spec shows; they live in ``pystator.runtime``."""

from pystator.runtime.errors import StateConflictError
from pystator.runtime.state_store import (
    AuditEntry,
    AuditRecord,
    InMemoryStateStore,
    SQLiteStateStore,
    StateStore,
    StoredState,
)

__all__ = [
    "AuditEntry",
    "AuditRecord",
    "InMemoryStateStore",
    "SQLiteStateStore",
    "StateConflictError",
    "StateStore",
    "StoredState",
]
