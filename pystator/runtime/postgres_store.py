"""``PostgreSQLStateStore``: the state store for more than one machine (psycopg 3).

Same tables, same statements and the same one-transaction-per-step contract as
``SQLiteStateStore`` (both run the operations of ``pystator.runtime._sql``). A
commit locks the entity rows it checks (``SELECT ... FOR UPDATE``), so two workers
committing for one entity are serialised by PostgreSQL: the second waits for the
first, then finds the version moved (a conflict it recomputes from) or the event id
recorded (a duplicate answered with the first outcome). Claims use
``FOR UPDATE SKIP LOCKED``, so any number of dispatchers share the outbox.

The sync methods use one connection per thread; the async methods a small pool of
``AsyncConnection`` per event loop. A server that cannot be reached, a dropped
connection or a lock held past ``lock_timeout`` is a ``StoreUnavailableError``
(the connection is discarded and reopened on the next call).

Install with ``pip install "pystator[postgres]"``.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import weakref
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from pystator.runtime import _sql
from pystator.runtime.errors import StoreUnavailableError
from pystator.runtime.outbox import (
    CommitResult,
    DeadLetter,
    FailedAction,
    StepCommit,
)
from pystator.runtime.sql_store import SqlStore
from pystator.runtime.state_store import AuditRecord, Claimed, StoredState

__all__ = ["PostgreSQLStateStore"]

T = TypeVar("T")

_PG_SQL: dict[str, str] = {}


def _pg(sql: str) -> str:
    converted = _PG_SQL.get(sql)
    if converted is None:
        converted = _PG_SQL[sql] = sql.replace("?", "%s")
    return converted


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise ImportError(
            'PostgreSQLStateStore needs psycopg 3: pip install "pystator[postgres]"'
        ) from exc
    return psycopg


def _drive(op: _sql.Op[T], round_trip: Any) -> T:
    try:
        batch = next(op)
        while True:
            batch = op.send(round_trip(batch))
    except StopIteration as stop:
        result: T = stop.value
        return result


def _send(cur: Any, q: _sql.Q) -> None:
    if q.many:
        cur.executemany(_pg(q.sql), q.params)
    else:
        cur.execute(_pg(q.sql), q.params)


def _collect(cur: Any) -> _sql.R:
    rows = cur.fetchall() if cur.description is not None else []
    result = _sql.R(rows, cur.rowcount)
    cur.close()
    return result


def _execute(cur: Any, q: _sql.Q) -> _sql.R:
    _send(cur, q)
    return _sql.R(cur.fetchall() if cur.description is not None else [], cur.rowcount)


async def _adrive(op: _sql.Op[T], target: Any, pipeline: Any) -> T:
    """The async ``_drive``: ``target`` is a cursor (reads) or a connection (pipelined)."""
    try:
        batch = next(op)
        while True:
            results: list[_sql.R] = []
            if pipeline is None:
                for q in batch:
                    if q.many:
                        await target.executemany(_pg(q.sql), q.params)
                    else:
                        await target.execute(_pg(q.sql), q.params)
                    rows = await target.fetchall() if target.description is not None else []
                    results.append(_sql.R(rows, target.rowcount))
            else:
                cursors = [target.cursor() for _ in batch]
                for cur, q in zip(cursors, batch, strict=True):
                    if q.many:
                        await cur.executemany(_pg(q.sql), q.params)
                    else:
                        await cur.execute(_pg(q.sql), q.params)
                await pipeline.sync()
                for cur in cursors:
                    rows = await cur.fetchall() if cur.description is not None else []
                    results.append(_sql.R(rows, cur.rowcount))
                    await cur.close()
            batch = op.send(results)
    except StopIteration as stop:
        result: T = stop.value
        return result


class _AsyncPool:
    """Up to ``size`` async connections of one event loop, opened on demand."""

    def __init__(self, store: PostgreSQLStateStore, size: int) -> None:
        self.store = store
        self.size = size
        self.idle: list[Any] = []
        self.opened = 0
        self.available = asyncio.Condition()

    async def acquire(self) -> Any:
        async with self.available:
            while not self.idle and self.opened >= self.size:
                await self.available.wait()
            if self.idle:
                return self.idle.pop()
            self.opened += 1
        try:
            return await self.store._psycopg.AsyncConnection.connect(
                self.store.conninfo, **self.store._connect_kwargs()
            )
        except BaseException:
            async with self.available:
                self.opened -= 1
                self.available.notify()
            raise

    async def release(self, conn: Any, broken: bool) -> None:
        async with self.available:
            if broken or conn.closed:
                self.opened -= 1
                if not conn.closed:
                    await conn.close()
            else:
                self.idle.append(conn)
            self.available.notify()


class PostgreSQLStateStore(SqlStore):
    """State, audit, dedup, timers and outbox in PostgreSQL, one transaction per step.

    ``conninfo`` is a libpq connection string or URL
    (``"postgresql://user@db.internal/orders"``). ``lock_timeout`` bounds how long a
    commit waits for another worker's row lock before the store counts as
    unavailable; ``pool_size`` is the number of async connections per event loop.
    """

    dialect = _sql.POSTGRES

    def __init__(
        self,
        conninfo: str,
        *,
        lock_timeout: float = 10.0,
        connect_timeout: float = 5.0,
        pool_size: int = 4,
    ) -> None:
        self._psycopg = _psycopg()
        self.conninfo = conninfo
        self.lock_timeout = lock_timeout
        self.connect_timeout = connect_timeout
        self.pool_size = pool_size
        self._local = threading.local()
        self._all: list[Any] = []
        self._all_lock = threading.Lock()
        self._pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _AsyncPool] = (
            weakref.WeakKeyDictionary()
        )
        self._write(self._schema())

    def _connect_kwargs(self) -> dict[str, Any]:
        # Keep any ``options`` the connection string already has (a search_path...).
        given = self._psycopg.conninfo.conninfo_to_dict(self.conninfo).get("options") or ""
        return {
            "autocommit": True,
            "connect_timeout": max(1, round(self.connect_timeout)),
            "options": f"{given} -c lock_timeout={int(self.lock_timeout * 1000)}".strip(),
        }

    def _schema(self) -> _sql.Op[None]:
        # Several processes may create the schema at once: take a lock for it.
        yield [_sql.Q("SELECT pg_advisory_xact_lock(7473617)")]
        yield [_sql.Q(statement) for statement in _sql.schema(_sql.POSTGRES)]

    # ---------------------------------------------------------------- sync driver
    def _conn(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None or conn.closed:
            conn = self._psycopg.connect(self.conninfo, **self._connect_kwargs())
            self._local.conn = conn
            with self._all_lock:
                self._all.append(conn)
        return conn

    def _unavailable(self, exc: BaseException) -> StoreUnavailableError:
        return StoreUnavailableError("PostgreSQL", str(exc).strip() or type(exc).__name__)

    def _run(self, op: _sql.Op[T], *, write: bool) -> T:
        """Drive ``op``: each round is sent pipelined, then synced once (one round trip)."""
        try:
            conn = self._conn()
            if not write:
                with conn.cursor() as cur:
                    return _drive(op, lambda batch: [_execute(cur, q) for q in batch])
            with conn.pipeline() as pipeline, conn.transaction():

                def round_trip(batch: list[_sql.Q]) -> list[_sql.R]:
                    cursors = [conn.cursor() for _ in batch]
                    for cur, q in zip(cursors, batch, strict=True):
                        _send(cur, q)
                    pipeline.sync()
                    return [_collect(cur) for cur in cursors]

                return _drive(op, round_trip)
        except self._psycopg.OperationalError as exc:
            self._drop_thread_connection()
            raise self._unavailable(exc) from exc

    def _drop_thread_connection(self) -> None:
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            with self._all_lock:
                if conn in self._all:
                    self._all.remove(conn)
            with contextlib.suppress(Exception):
                conn.close()

    def _read(self, op: _sql.Op[T]) -> T:
        return self._run(op, write=False)

    def _write(self, op: _sql.Op[T]) -> T:
        return self._run(op, write=True)

    # ---------------------------------------------------------------- async driver
    def _pool(self) -> _AsyncPool:
        loop = asyncio.get_running_loop()
        pool = self._pools.get(loop)
        if pool is None:
            pool = self._pools[loop] = _AsyncPool(self, self.pool_size)
        return pool

    async def _arun(self, op: _sql.Op[T], *, write: bool) -> T:
        pool = self._pool()
        try:
            conn = await pool.acquire()
        except self._psycopg.OperationalError as exc:
            raise self._unavailable(exc) from exc
        broken = False
        try:
            if not write:
                async with conn.cursor() as cur:
                    return await _adrive(op, cur, None)
            async with conn.pipeline() as pipeline, conn.transaction():
                return await _adrive(op, conn, pipeline)
        except self._psycopg.OperationalError as exc:
            broken = True
            raise self._unavailable(exc) from exc
        finally:
            await pool.release(conn, broken)

    # The async forms talk to the server directly instead of hopping to a thread.
    async def async_load(self, entity_id: str) -> StoredState | None:
        return (await self.async_load_with_outcome(entity_id, None))[0]

    async def async_load_with_outcome(
        self, entity_id: str, event_id: str | None
    ) -> tuple[StoredState | None, dict[str, Any] | None]:
        result: tuple[StoredState | None, dict[str, Any] | None] = await self._arun(
            _sql.load(entity_id, event_id), write=False
        )
        return result

    async def async_commit_many(self, commits: Sequence[StepCommit]) -> list[CommitResult]:
        if not commits:
            return []
        return await self._arun(_sql.commit_many(_sql.POSTGRES, commits, time.time()), write=True)

    async def async_claim(self, owner: str, now: float, lease_until: float, limit: int) -> Claimed:
        result: Claimed = await self._arun(
            _sql.claim(_sql.POSTGRES, owner, now, lease_until, limit), write=True
        )
        return result

    async def async_renew(self, owner: str, keys: Sequence[str], lease_until: float) -> set[str]:
        if not keys:
            return set()
        return await self._arun(_sql.renew(owner, keys, lease_until), write=True)

    async def async_settle(
        self,
        owner: str,
        *,
        done: Sequence[str] = (),
        failed: Sequence[FailedAction] = (),
        armed: Mapping[str, float] | None = None,
        dead: Sequence[DeadLetter] = (),
    ) -> None:
        if done or failed or armed or dead:
            await self._arun(_sql.settle(owner, done, failed, armed or {}, dead), write=True)

    async def async_audit_trail(self, entity_id: str) -> list[AuditRecord]:
        result: list[AuditRecord] = await self._arun(_sql.audit_trail(entity_id), write=False)
        return result

    async def async_dead_letters(self, entity_id: str | None = None) -> list[DeadLetter]:
        return await self._arun(_sql.dead_letters(entity_id), write=False)

    async def aclose(self) -> None:
        """Close this event loop's async connections (call it before the loop ends)."""
        pool = self._pools.pop(asyncio.get_running_loop(), None)
        if pool is not None:
            for conn in pool.idle:
                await conn.close()
            pool.idle.clear()

    def close(self) -> None:
        """Close every sync connection this store opened (in any thread)."""
        with self._all_lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()
