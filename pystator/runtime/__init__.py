"""The runtime around the pure engine: orchestrator, state stores, the outbox and
its dispatcher, schedulers, idempotency, retry and invoke adapters (see
docs/runtime.md).

Redis, Celery and PostgreSQL are optional: their schedulers import nothing from
those packages and are handed a client or app by the caller, and
``PostgreSQLStateStore`` imports psycopg only when it is created.
"""

from pystator.runtime.asyncio_scheduler import AsyncioScheduler
from pystator.runtime.celery_scheduler import CeleryScheduler
from pystator.runtime.dispatcher import Dispatcher
from pystator.runtime.errors import (
    ConflictRetriesExhausted,
    DuplicateEventError,
    EventInProgressError,
    OrchestratorUsageError,
    RuntimeLayerError,
    StateConflictError,
    StoreUnavailableError,
)
from pystator.runtime.idempotency import (
    IdempotencyStore,
    InMemoryIdempotencyStore,
    RedisIdempotencyStore,
    SQLiteIdempotencyStore,
)
from pystator.runtime.invoke import InvokeAdapter, NoOpInvokeAdapter
from pystator.runtime.orchestrator import (
    CREATE_TRIGGER,
    FALLBACK_TRIGGER,
    Orchestrator,
    OrchestratorResult,
)
from pystator.runtime.outbox import (
    IDEMPOTENCY_KEY,
    ActionEffect,
    CommitResult,
    DeadLetter,
    FailedAction,
    PendingAction,
    StepCommit,
)
from pystator.runtime.postgres_store import PostgreSQLStateStore
from pystator.runtime.redis_scheduler import RedisScheduler
from pystator.runtime.retry import RetryPolicy
from pystator.runtime.sqlite_store import SQLiteStateStore
from pystator.runtime.state_store import (
    AuditEntry,
    AuditRecord,
    Claimed,
    InMemoryStateStore,
    StateStore,
    StoredState,
)
from pystator.runtime.timers import (
    Clock,
    DeadHandler,
    FireHandler,
    ScheduledTimer,
    Scheduler,
    wall_clock,
)

__all__ = [
    "CREATE_TRIGGER",
    "FALLBACK_TRIGGER",
    "IDEMPOTENCY_KEY",
    "ActionEffect",
    "AsyncioScheduler",
    "AuditEntry",
    "AuditRecord",
    "CeleryScheduler",
    "Claimed",
    "Clock",
    "CommitResult",
    "ConflictRetriesExhausted",
    "DeadHandler",
    "DeadLetter",
    "Dispatcher",
    "DuplicateEventError",
    "EventInProgressError",
    "FailedAction",
    "FireHandler",
    "IdempotencyStore",
    "InMemoryIdempotencyStore",
    "InMemoryStateStore",
    "InvokeAdapter",
    "NoOpInvokeAdapter",
    "Orchestrator",
    "OrchestratorResult",
    "OrchestratorUsageError",
    "PendingAction",
    "PostgreSQLStateStore",
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
    "StepCommit",
    "StoreUnavailableError",
    "StoredState",
    "wall_clock",
]
