"""``SQLiteStateStore``: one file in WAL mode, shared by the processes of one host.

Every write is one ``BEGIN IMMEDIATE`` transaction: the write lock is taken before
the versions and dedup records are checked, so the checks hold until the commit.
Each thread gets its own connection to a file, which lets the async methods run the
blocking calls in worker threads; ``":memory:"`` is one connection all threads share
(``pystator.runtime._sqlite``). A lock held past
``busy_timeout`` seconds, or a file that cannot be opened, is a
``StoreUnavailableError``: transient, nothing written.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any, TypeVar

from pystator.runtime import _sql
from pystator.runtime._sqlite import Connections
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
        self._connections = self._guard(
            Connections,
            self.path,
            busy_timeout,
            ("PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL"),
        )
        with self._connections.lock:
            self._guard(self._create_schema)

    # ---------------------------------------------------------------- connections
    def _conn(self) -> sqlite3.Connection:
        return self._guard(self._connections.get)  # type: ignore[no-any-return]

    def close(self) -> None:
        """Close every connection this store opened (in any thread)."""
        self._connections.close()

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
        with self._connections.lock:
            conn = self._conn()
            result: T = self._guard(_sql.run_sync, op, self._execute(conn))
        return result

    def _write(self, op: _sql.Op[T]) -> T:
        def transaction() -> T:
            conn = self._conn()
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = _sql.run_sync(op, self._execute(conn))
                conn.execute("COMMIT")
                return result
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

        with self._connections.lock:
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
