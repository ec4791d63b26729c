"""State stores at the import path the spec shows; they live in ``pystator.runtime``."""

from pystator.runtime.errors import StateConflictError
from pystator.runtime.state_store import (
    AuditEntry,
    AuditRecord,
    InMemoryStateStore,
    PostgreSQLStateStore,
    SQLiteStateStore,
    StateStore,
    StoredState,
)

__all__ = [
    "AuditEntry",
    "AuditRecord",
    "InMemoryStateStore",
    "PostgreSQLStateStore",
    "SQLiteStateStore",
    "StateConflictError",
    "StateStore",
    "StoredState",
]
