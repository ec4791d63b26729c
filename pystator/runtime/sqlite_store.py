"""``SQLiteStateStore``: one file in WAL mode, shared by the processes of one host.

Every write is one ``BEGIN IMMEDIATE`` transaction: the write lock is taken before
the versions and dedup records are checked, so the checks hold until the commit.
Each thread gets its own connection (sqlite3 connections are not shareable), which
lets the async methods run the blocking calls in worker threads. A lock held past
``busy_timeout`` seconds, or a file that cannot be opened, is a
``StoreUnavailableError``: transient, nothing written.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from pystator.runtime import _sql
from pystator.runtime.errors import StoreUnavailableError
from pystator.runtime.outbox import (
    CommitResult,
    DeadLetter,
    FailedAction,
    PendingAction,
    StepCommit,
)
from pystator.runtime.state_store import AuditRecord, Claimed, StoreConveniences, StoredState

__all__ = ["SQLiteStateStore"]

T = TypeVar("T")


class SQLiteStateStore(StoreConveniences):
    """A SQLite file: state, audit, dedup, timers and outbox in one transaction per step."""

    def __init__(self, path: str | Path, *, busy_timeout: float = 10.0) -> None:
        self.path = str(path)
        self._busy_timeout = busy_timeout
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()
        self._guard(self._create_schema)

    # ---------------------------------------------------------------- connections
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

    def _create_schema(self) -> None:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _sql.schema(_sql.SQLITE):
                conn.execute(statement)
            _migrate(conn)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def _guard(self, func: Any, *args: Any) -> Any:
        try:
            return func(*args)
        except sqlite3.OperationalError as exc:
            raise StoreUnavailableError(f"SQLite file {self.path}", str(exc)) from exc

    def _execute(self, conn: sqlite3.Connection) -> Any:
        def execute(q: _sql.Q) -> _sql.R:
            if q.many:
                cur = conn.executemany(q.sql, q.params)
                return _sql.R([], cur.rowcount)
            cur = conn.execute(q.sql, q.params)
            rows = cur.fetchall() if cur.description is not None else []
            return _sql.R(rows, cur.rowcount)

        return execute

    def _read(self, op: _sql.Op[T]) -> T:
        conn = self._conn()
        result: T = self._guard(_sql.run_sync, op, self._execute(conn))
        return result

    def _write(self, op: _sql.Op[T]) -> T:
        conn = self._conn()

        def transaction() -> T:
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = _sql.run_sync(op, self._execute(conn))
                conn.execute("COMMIT")
                return result
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

        result: T = self._guard(transaction)
        return result

    # ---------------------------------------------------------------- the protocol
    def load_with_outcome(
        self, entity_id: str, event_id: str | None
    ) -> tuple[StoredState | None, dict[str, Any] | None]:
        result: tuple[StoredState | None, dict[str, Any] | None] = self._read(
            _sql.load(entity_id, event_id)
        )
        return result

    def commit_many(self, commits: Sequence[StepCommit]) -> list[CommitResult]:
        if not commits:
            return []
        return self._write(_sql.commit_many(_sql.SQLITE, commits, time.time()))

    def claim(self, owner: str, now: float, lease_until: float, limit: int) -> Claimed:
        result: Claimed = self._write(_sql.claim(_sql.SQLITE, owner, now, lease_until, limit))
        return result

    def renew(self, owner: str, keys: Sequence[str], lease_until: float) -> set[str]:
        return self._write(_sql.renew(owner, keys, lease_until)) if keys else set()

    def settle(
        self,
        owner: str,
        *,
        done: Sequence[str] = (),
        failed: Sequence[FailedAction] = (),
        armed: Mapping[str, float] | None = None,
        dead: Sequence[DeadLetter] = (),
    ) -> None:
        if done or failed or armed or dead:
            self._write(_sql.settle(owner, done, failed, armed or {}, dead))

    def audit_trail(self, entity_id: str) -> list[AuditRecord]:
        result: list[AuditRecord] = self._read(_sql.audit_trail(entity_id))
        return result

    def dead_letters(self, entity_id: str | None = None) -> list[DeadLetter]:
        return self._read(_sql.dead_letters(entity_id))

    def pending_actions(self, entity_id: str | None = None) -> list[PendingAction]:
        return self._read(_sql.pending_actions(entity_id))

    def purge_outcomes(self, before: float) -> int:
        return self._write(_sql.purge_outcomes(before))


def _migrate(conn: sqlite3.Connection) -> None:
    """Bring a file written by pystator 0.1.0 (timers as JSON in the entity row) up to date."""
    columns = {row[1] for row in conn.execute("PRAGMA table_info(pystator_entities)")}
    if "snapshot" not in columns:
        conn.execute("ALTER TABLE pystator_entities ADD COLUMN snapshot TEXT")
    if "timers" in columns:
        import json

        for entity_id, timers in conn.execute(
            "SELECT entity_id, timers FROM pystator_entities WHERE timers != '[]'"
        ).fetchall():
            for t in json.loads(timers):
                conn.execute(
                    "INSERT INTO pystator_timers (timer_id, entity_id, state, event, due_at, "
                    "arm_at) VALUES (?, ?, ?, ?, ?, 0) ON CONFLICT (timer_id) DO NOTHING",
                    (t["timer_id"], entity_id, t["state"], t["event"], t["due_at"]),
                )
        conn.execute("UPDATE pystator_entities SET timers = '[]'")
