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
from pathlib import Path
from typing import Any, TypeVar

from pystator.runtime import _sql
from pystator.runtime.errors import StoreUnavailableError
from pystator.runtime.sql_store import SqlStore

__all__ = ["SQLiteStateStore"]

T = TypeVar("T")


class SQLiteStateStore(SqlStore):
    """A SQLite file: state, audit, dedup, timers and outbox in one transaction per step."""

    dialect = _sql.SQLITE

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
