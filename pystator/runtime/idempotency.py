"""Idempotency: an event id is processed once; a repeat gets the first outcome.

Processing an event is claim -> process -> complete. ``claim`` succeeds for one
caller only (a pending marker is written if the key is absent), so two workers
that receive the same event at once cannot both apply it; ``complete`` replaces
the marker by a JSON summary of the outcome, which is what a duplicate is
answered with. ``release`` drops a claim whose processing raised, so a retry of
the same event is possible. Keys expire after ``ttl_seconds``; a pending claim
expires after ``claim_ttl_seconds`` so a crashed worker does not block an event
forever.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import sqlite3
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from pystator.runtime._sqlite import Connections
from pystator.runtime.errors import OrchestratorUsageError
from pystator.runtime.timers import Clock, wall_clock

__all__ = [
    "IdempotencyStore",
    "InMemoryIdempotencyStore",
    "RedisIdempotencyStore",
    "SQLiteIdempotencyStore",
]

Outcome = dict[str, Any]


@runtime_checkable
class IdempotencyStore(Protocol):
    """Records which event ids were processed and what came of them."""

    def get(self, key: str) -> Outcome | None: ...

    def claim(self, key: str) -> bool: ...

    def complete(self, key: str, outcome: Mapping[str, Any]) -> None: ...

    def release(self, key: str) -> None: ...

    async def async_get(self, key: str) -> Outcome | None: ...

    async def async_claim(self, key: str) -> bool: ...

    async def async_complete(self, key: str, outcome: Mapping[str, Any]) -> None: ...

    async def async_release(self, key: str) -> None: ...


class InMemoryIdempotencyStore:
    """A dict with expiry times; for one process."""

    def __init__(
        self,
        ttl_seconds: float = 86_400.0,
        *,
        claim_ttl_seconds: float = 60.0,
        clock: Clock = wall_clock,
    ) -> None:
        self.ttl_seconds = ttl_seconds
        self.claim_ttl_seconds = claim_ttl_seconds
        self.clock = clock
        self._entries: dict[str, tuple[float, Outcome | None]] = {}
        self._lock = threading.Lock()

    def _live(self, key: str) -> tuple[float, Outcome | None] | None:
        entry = self._entries.get(key)
        if entry is not None and entry[0] <= self.clock():
            del self._entries[key]
            return None
        return entry

    def get(self, key: str) -> Outcome | None:
        with self._lock:
            entry = self._live(key)
            return dict(entry[1]) if entry is not None and entry[1] is not None else None

    def claim(self, key: str) -> bool:
        with self._lock:
            if self._live(key) is not None:
                return False
            self._entries[key] = (self.clock() + self.claim_ttl_seconds, None)
            return True

    def complete(self, key: str, outcome: Mapping[str, Any]) -> None:
        with self._lock:
            self._entries[key] = (self.clock() + self.ttl_seconds, dict(outcome))

    def release(self, key: str) -> None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[1] is None:
                del self._entries[key]

    def __len__(self) -> int:
        with self._lock:
            return sum(1 for k in list(self._entries) if self._live(k) is not None)

    async def async_get(self, key: str) -> Outcome | None:
        return self.get(key)

    async def async_claim(self, key: str) -> bool:
        return self.claim(key)

    async def async_complete(self, key: str, outcome: Mapping[str, Any]) -> None:
        self.complete(key, outcome)

    async def async_release(self, key: str) -> None:
        self.release(key)


class SQLiteIdempotencyStore:
    """A table in a SQLite file (it may share the file with ``SQLiteStateStore``).

    Each thread has its own connection to a file; ``":memory:"`` is one connection
    all threads share (the ``async_`` methods run in worker threads), as in
    ``SQLiteStateStore`` (``pystator.runtime._sqlite``).
    """

    def __init__(
        self,
        path: str | Path,
        ttl_seconds: float = 86_400.0,
        *,
        claim_ttl_seconds: float = 60.0,
        clock: Clock = wall_clock,
    ) -> None:
        self.path = str(path)
        self.ttl_seconds = ttl_seconds
        self.claim_ttl_seconds = claim_ttl_seconds
        self.clock = clock
        self._connections = Connections(self.path, 10.0, ("PRAGMA journal_mode=WAL",))
        self._lock = self._connections.lock
        self._conn().execute(
            "CREATE TABLE IF NOT EXISTS pystator_idempotency ("
            "key TEXT PRIMARY KEY, outcome TEXT, expires_at REAL NOT NULL)"
        )

    def _conn(self) -> sqlite3.Connection:
        return self._connections.get()

    def get(self, key: str) -> Outcome | None:
        with self._lock:
            row = (
                self._conn()
                .execute(
                    "SELECT outcome FROM pystator_idempotency WHERE key = ? AND expires_at > ?",
                    (key, self.clock()),
                )
                .fetchone()
            )
        if row is None or row[0] is None:
            return None
        outcome: Outcome = json.loads(row[0])
        return outcome

    def claim(self, key: str) -> bool:
        with self._lock:
            conn = self._conn()
            now = self.clock()
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute(
                    "DELETE FROM pystator_idempotency WHERE key = ? AND expires_at <= ?",
                    (key, now),
                )
                cur = conn.execute(
                    "INSERT OR IGNORE INTO pystator_idempotency (key, outcome, expires_at) "
                    "VALUES (?, NULL, ?)",
                    (key, now + self.claim_ttl_seconds),
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            return cur.rowcount == 1

    def complete(self, key: str, outcome: Mapping[str, Any]) -> None:
        with self._lock:
            self._conn().execute(
                "INSERT OR REPLACE INTO pystator_idempotency (key, outcome, expires_at) "
                "VALUES (?, ?, ?)",
                (key, json.dumps(dict(outcome)), self.clock() + self.ttl_seconds),
            )

    def release(self, key: str) -> None:
        with self._lock:
            self._conn().execute(
                "DELETE FROM pystator_idempotency WHERE key = ? AND outcome IS NULL", (key,)
            )

    async def async_get(self, key: str) -> Outcome | None:
        return await asyncio.to_thread(self.get, key)

    async def async_claim(self, key: str) -> bool:
        return await asyncio.to_thread(self.claim, key)

    async def async_complete(self, key: str, outcome: Mapping[str, Any]) -> None:
        await asyncio.to_thread(self.complete, key, outcome)

    async def async_release(self, key: str) -> None:
        await asyncio.to_thread(self.release, key)


_PENDING = json.dumps({"__pending__": True})


class RedisIdempotencyStore:
    """Keys in Redis with ``EX`` expiry; ``SET NX`` makes the claim atomic across machines.

    ``client`` is a ``redis.asyncio.Redis`` (use the ``async_`` methods, as the
    orchestrator's ``async_process_event`` does) or a synchronous ``redis.Redis``
    (both flavours work; the async ones run it in a thread).
    """

    def __init__(
        self,
        client: Any,
        ttl_seconds: float = 86_400.0,
        *,
        claim_ttl_seconds: float = 60.0,
        key_prefix: str = "pystator:idem",
    ) -> None:
        self.client = client
        self.ttl_seconds = ttl_seconds
        self.claim_ttl_seconds = claim_ttl_seconds
        self.key_prefix = key_prefix
        self._is_async = inspect.iscoroutinefunction(getattr(client, "execute_command", None))

    def _key(self, key: str) -> str:
        return f"{self.key_prefix}:{key}"

    def _sync_client(self) -> Any:
        if self._is_async:
            raise OrchestratorUsageError(
                "RedisIdempotencyStore was given a redis.asyncio client: use the async "
                "methods (orchestrator.async_process_event), or pass a redis.Redis client"
            )
        return self.client

    @staticmethod
    def _decode(raw: Any) -> Outcome | None:
        if raw is None:
            return None
        value: Outcome = json.loads(raw)
        return None if value.get("__pending__") else value

    def get(self, key: str) -> Outcome | None:
        return self._decode(self._sync_client().get(self._key(key)))

    def claim(self, key: str) -> bool:
        ok = self._sync_client().set(
            self._key(key), _PENDING, nx=True, px=int(self.claim_ttl_seconds * 1000)
        )
        return bool(ok)

    def complete(self, key: str, outcome: Mapping[str, Any]) -> None:
        self._sync_client().set(
            self._key(key), json.dumps(dict(outcome)), px=int(self.ttl_seconds * 1000)
        )

    def release(self, key: str) -> None:
        client = self._sync_client()
        raw = client.get(self._key(key))
        if raw is not None and self._decode(raw) is None:
            client.delete(self._key(key))

    async def async_get(self, key: str) -> Outcome | None:
        if not self._is_async:
            return await asyncio.to_thread(self.get, key)
        return self._decode(await self.client.get(self._key(key)))

    async def async_claim(self, key: str) -> bool:
        if not self._is_async:
            return await asyncio.to_thread(self.claim, key)
        ok = await self.client.set(
            self._key(key), _PENDING, nx=True, px=int(self.claim_ttl_seconds * 1000)
        )
        return bool(ok)

    async def async_complete(self, key: str, outcome: Mapping[str, Any]) -> None:
        if not self._is_async:
            await asyncio.to_thread(self.complete, key, outcome)
            return
        await self.client.set(
            self._key(key), json.dumps(dict(outcome)), px=int(self.ttl_seconds * 1000)
        )

    async def async_release(self, key: str) -> None:
        if not self._is_async:
            await asyncio.to_thread(self.release, key)
            return
        raw = await self.client.get(self._key(key))
        if raw is not None and self._decode(raw) is None:
            await self.client.delete(self._key(key))
