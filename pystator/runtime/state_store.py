"""Where entities' states live between events: one protocol, in-memory and SQLite.

A stored state is the engine's state string (a leaf name, or
``"par:region=leaf,..."`` for a parallel configuration), a version that every
commit increments, the optional context, and the timers pending for it. ``save``
is optimistic: it names the version it computed from and raises
``StateConflictError`` when another writer got there first, so two concurrent
events for one entity can never silently overwrite each other.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from pystator.runtime.errors import StateConflictError
from pystator.runtime.timers import ScheduledTimer

__all__ = [
    "AuditEntry",
    "AuditRecord",
    "InMemoryStateStore",
    "SQLiteStateStore",
    "StateStore",
    "StoredState",
]


@dataclass(frozen=True)
class StoredState:
    """An entity as persisted: state string, version, context and pending timers."""

    entity_id: str
    state: str
    version: int
    context: Mapping[str, Any] | None = field(default=None, hash=False)
    timers: tuple[ScheduledTimer, ...] = ()


@dataclass(frozen=True)
class AuditEntry:
    """What the caller records for one transition; the store adds entity and version."""

    from_state: str
    to_state: str
    trigger: str
    event_id: str | None = None
    timestamp: float = field(default_factory=time.time)


@dataclass(frozen=True)
class AuditRecord:
    """One row of the audit trail: the transition that produced ``version``."""

    entity_id: str
    version: int
    from_state: str
    to_state: str
    trigger: str
    event_id: str | None
    timestamp: float


@runtime_checkable
class StateStore(Protocol):
    """Load and save entities; sync and async flavours of the same operations.

    ``save(..., expected_version=0)`` creates the entity. ``context=None`` keeps the
    stored context. ``audit`` (if given) is written in the same transaction as the
    state, so the trail never disagrees with the state.
    """

    def load(self, entity_id: str) -> StoredState | None: ...

    def save(
        self,
        entity_id: str,
        new_state: str,
        expected_version: int,
        audit: AuditEntry | None = None,
        *,
        context: Mapping[str, Any] | None = None,
        timers: Sequence[ScheduledTimer] = (),
    ) -> int: ...

    def audit_trail(self, entity_id: str) -> list[AuditRecord]: ...

    async def async_load(self, entity_id: str) -> StoredState | None: ...

    async def async_save(
        self,
        entity_id: str,
        new_state: str,
        expected_version: int,
        audit: AuditEntry | None = None,
        *,
        context: Mapping[str, Any] | None = None,
        timers: Sequence[ScheduledTimer] = (),
    ) -> int: ...

    async def async_audit_trail(self, entity_id: str) -> list[AuditRecord]: ...


class InMemoryStateStore:
    """A dict behind a lock: for tests, the simulator and single-process apps."""

    def __init__(self) -> None:
        self._entities: dict[str, StoredState] = {}
        self._audit: dict[str, list[AuditRecord]] = {}
        self._lock = threading.Lock()

    def load(self, entity_id: str) -> StoredState | None:
        with self._lock:
            return self._entities.get(entity_id)

    def save(
        self,
        entity_id: str,
        new_state: str,
        expected_version: int,
        audit: AuditEntry | None = None,
        *,
        context: Mapping[str, Any] | None = None,
        timers: Sequence[ScheduledTimer] = (),
    ) -> int:
        with self._lock:
            current = self._entities.get(entity_id)
            actual = current.version if current is not None else 0
            if actual != expected_version:
                raise StateConflictError(entity_id, expected_version, actual)
            version = actual + 1
            kept = context if context is not None else (current.context if current else None)
            self._entities[entity_id] = StoredState(
                entity_id,
                new_state,
                version,
                dict(kept) if kept is not None else None,
                tuple(timers),
            )
            if audit is not None:
                self._audit.setdefault(entity_id, []).append(_record(entity_id, version, audit))
            return version

    def audit_trail(self, entity_id: str) -> list[AuditRecord]:
        with self._lock:
            return list(self._audit.get(entity_id, ()))

    def entity_ids(self) -> list[str]:
        with self._lock:
            return list(self._entities)

    async def async_load(self, entity_id: str) -> StoredState | None:
        return self.load(entity_id)

    async def async_save(
        self,
        entity_id: str,
        new_state: str,
        expected_version: int,
        audit: AuditEntry | None = None,
        *,
        context: Mapping[str, Any] | None = None,
        timers: Sequence[ScheduledTimer] = (),
    ) -> int:
        return self.save(
            entity_id, new_state, expected_version, audit, context=context, timers=timers
        )

    async def async_audit_trail(self, entity_id: str) -> list[AuditRecord]:
        return self.audit_trail(entity_id)


def _record(entity_id: str, version: int, audit: AuditEntry) -> AuditRecord:
    return AuditRecord(
        entity_id,
        version,
        audit.from_state,
        audit.to_state,
        audit.trigger,
        audit.event_id,
        audit.timestamp,
    )


_SCHEMA = """
CREATE TABLE IF NOT EXISTS pystator_entities (
    entity_id  TEXT PRIMARY KEY,
    state      TEXT NOT NULL,
    version    INTEGER NOT NULL,
    context    TEXT,
    timers     TEXT NOT NULL DEFAULT '[]',
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS pystator_audit (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    entity_id  TEXT NOT NULL,
    version    INTEGER NOT NULL,
    from_state TEXT NOT NULL,
    to_state   TEXT NOT NULL,
    trigger    TEXT NOT NULL,
    event_id   TEXT,
    timestamp  REAL NOT NULL,
    UNIQUE (entity_id, version)
);
"""


class SQLiteStateStore:
    """A SQLite file in WAL mode; state, version and audit row commit together.

    Each thread gets its own connection (sqlite3 connections are not shareable),
    so the async methods can run the blocking calls in worker threads. Several
    processes may open the same file: ``BEGIN IMMEDIATE`` takes the write lock
    before the version check, and the version check decides who wins.
    """

    def __init__(self, path: str | Path, *, busy_timeout: float = 10.0) -> None:
        self.path = str(path)
        self._busy_timeout = busy_timeout
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()
        conn = self._conn()
        conn.executescript(_SCHEMA)

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(
                self.path, timeout=self._busy_timeout, isolation_level=None, check_same_thread=False
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
            with self._all_lock:
                self._all.append(conn)
        return conn

    def close(self) -> None:
        """Close every connection this store opened (in any thread)."""
        with self._all_lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()

    def load(self, entity_id: str) -> StoredState | None:
        row = (
            self._conn()
            .execute(
                "SELECT state, version, context, timers FROM pystator_entities WHERE entity_id = ?",
                (entity_id,),
            )
            .fetchone()
        )
        if row is None:
            return None
        state, version, context, timers = row
        return StoredState(
            entity_id,
            state,
            int(version),
            json.loads(context) if context is not None else None,
            tuple(ScheduledTimer.from_dict(t) for t in json.loads(timers)),
        )

    def save(
        self,
        entity_id: str,
        new_state: str,
        expected_version: int,
        audit: AuditEntry | None = None,
        *,
        context: Mapping[str, Any] | None = None,
        timers: Sequence[ScheduledTimer] = (),
    ) -> int:
        conn = self._conn()
        context_json = json.dumps(dict(context)) if context is not None else None
        timers_json = json.dumps([t.to_dict() for t in timers])
        version = expected_version + 1
        now = time.time()
        conn.execute("BEGIN IMMEDIATE")
        try:
            if expected_version == 0:
                cur = conn.execute(
                    "INSERT OR IGNORE INTO pystator_entities "
                    "(entity_id, state, version, context, timers, updated_at) "
                    "VALUES (?, ?, 1, ?, ?, ?)",
                    (entity_id, new_state, context_json, timers_json, now),
                )
            else:
                cur = conn.execute(
                    "UPDATE pystator_entities SET state = ?, version = ?, "
                    "context = COALESCE(?, context), timers = ?, updated_at = ? "
                    "WHERE entity_id = ? AND version = ?",
                    (
                        new_state,
                        version,
                        context_json,
                        timers_json,
                        now,
                        entity_id,
                        expected_version,
                    ),
                )
            if cur.rowcount != 1:
                row = conn.execute(
                    "SELECT version FROM pystator_entities WHERE entity_id = ?", (entity_id,)
                ).fetchone()
                conn.execute("ROLLBACK")
                raise StateConflictError(entity_id, expected_version, int(row[0]) if row else 0)
            if audit is not None:
                conn.execute(
                    "INSERT INTO pystator_audit (entity_id, version, from_state, to_state, "
                    "trigger, event_id, timestamp) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        entity_id,
                        version,
                        audit.from_state,
                        audit.to_state,
                        audit.trigger,
                        audit.event_id,
                        audit.timestamp,
                    ),
                )
            conn.execute("COMMIT")
        except StateConflictError:
            raise
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return version

    def audit_trail(self, entity_id: str) -> list[AuditRecord]:
        rows = (
            self._conn()
            .execute(
                "SELECT entity_id, version, from_state, to_state, trigger, event_id, timestamp "
                "FROM pystator_audit WHERE entity_id = ? ORDER BY version",
                (entity_id,),
            )
            .fetchall()
        )
        return [AuditRecord(r[0], int(r[1]), r[2], r[3], r[4], r[5], float(r[6])) for r in rows]

    async def async_load(self, entity_id: str) -> StoredState | None:
        return await asyncio.to_thread(self.load, entity_id)

    async def async_save(
        self,
        entity_id: str,
        new_state: str,
        expected_version: int,
        audit: AuditEntry | None = None,
        *,
        context: Mapping[str, Any] | None = None,
        timers: Sequence[ScheduledTimer] = (),
    ) -> int:
        return await asyncio.to_thread(
            lambda: self.save(
                entity_id, new_state, expected_version, audit, context=context, timers=timers
            )
        )

    async def async_audit_trail(self, entity_id: str) -> list[AuditRecord]:
        return await asyncio.to_thread(self.audit_trail, entity_id)
