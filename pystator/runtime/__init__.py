"""The runtime around the pure engine: orchestrator, state stores, schedulers,
idempotency, retry and invoke adapters (see docs/runtime.md).

Redis and Celery are optional: their schedulers import nothing from those
packages and are handed a client or app by the caller.
"""

from pystator.runtime.asyncio_scheduler import AsyncioScheduler
from pystator.runtime.celery_scheduler import CeleryScheduler
from pystator.runtime.errors import (
    ConflictRetriesExhausted,
    EventInProgressError,
    OrchestratorUsageError,
    RuntimeLayerError,
    StateConflictError,
)
from pystator.runtime.idempotency import (
    IdempotencyStore,
    InMemoryIdempotencyStore,
    RedisIdempotencyStore,
    SQLiteIdempotencyStore,
)
from pystator.runtime.invoke import InvokeAdapter, NoOpInvokeAdapter
from pystator.runtime.orchestrator import CREATE_TRIGGER, Orchestrator, OrchestratorResult
from pystator.runtime.redis_scheduler import RedisScheduler
from pystator.runtime.retry import RetryPolicy
from pystator.runtime.state_store import (
    AuditEntry,
    AuditRecord,
    InMemoryStateStore,
    SQLiteStateStore,
    StateStore,
    StoredState,
)
from pystator.runtime.timers import Clock, FireHandler, ScheduledTimer, Scheduler, wall_clock

__all__ = [
    "CREATE_TRIGGER",
    "AsyncioScheduler",
    "AuditEntry",
    "AuditRecord",
    "CeleryScheduler",
    "Clock",
    "ConflictRetriesExhausted",
    "EventInProgressError",
    "FireHandler",
    "IdempotencyStore",
    "InMemoryIdempotencyStore",
    "InMemoryStateStore",
    "InvokeAdapter",
    "NoOpInvokeAdapter",
    "Orchestrator",
    "OrchestratorResult",
    "OrchestratorUsageError",
    "RedisIdempotencyStore",
    "RedisScheduler",
    "RetryPolicy",
    "RuntimeLayerError",
    "SQLiteIdempotencyStore",
    "SQLiteStateStore",
    "ScheduledTimer",
    "Scheduler",
    "StateConflictError",
    "StateStore",
    "StoredState",
    "wall_clock",
]
