"""Idempotency stores held to their numbers: default expiries, the exact moment an entry
expires, what is counted, where Redis keeps each entry and for how long.

The in-memory and SQLite stores run on a fake clock, so an expiry is checked at the
very second it falls. The Redis store runs on a real redis-server (the session's
``redis_url``, started in well under a second): its keys, values and ``PTTL`` are
read back from the server, with a sync client (sync methods, and the async methods
that run them in a thread) and with an asyncio client.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import redis
import redis.asyncio

from pystator.runtime import (
    IdempotencyStore,
    InMemoryIdempotencyStore,
    OrchestratorUsageError,
    RedisIdempotencyStore,
    SQLiteIdempotencyStore,
)
from tests.drivers import IDEMPOTENCY_DRIVERS, IdempotencyDriver

DRIVE = pytest.mark.parametrize("drive", IDEMPOTENCY_DRIVERS)
DAY = 86_400.0


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_store(kind: str, tmp_path: Path, clock: FakeClock) -> IdempotencyStore:
    if kind == "memory":
        return InMemoryIdempotencyStore(clock=clock)
    return SQLiteIdempotencyStore(tmp_path / "idem.db", clock=clock)


# ---------------------------------------------------------------- in memory and SQLite


@DRIVE
@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_by_default_a_claim_holds_a_minute_and_an_outcome_a_day(
    kind: str, drive: IdempotencyDriver, tmp_path: Path
) -> None:
    clock = FakeClock()
    store = make_store(kind, tmp_path, clock)
    assert drive.claim(store, "k") is True
    clock.now = 1000.0 + 59.999
    assert drive.claim(store, "k") is False
    clock.now = 1000.0 + 60.0
    assert drive.claim(store, "k") is True, "a claim has expired at exactly its ttl"
    drive.complete(store, "k", {"state": "done"})
    clock.now = 1060.0 + DAY - 0.001
    assert drive.get(store, "k") == {"state": "done"}
    assert drive.claim(store, "k") is False
    clock.now = 1060.0 + DAY
    assert drive.get(store, "k") is None, "an outcome has expired at exactly its ttl"
    assert drive.claim(store, "k") is True


@DRIVE
def test_the_in_memory_store_counts_live_entries_only(drive: IdempotencyDriver) -> None:
    clock = FakeClock()
    store = InMemoryIdempotencyStore(ttl_seconds=100, claim_ttl_seconds=10, clock=clock)
    assert len(store) == 0
    drive.claim(store, "pending")
    drive.claim(store, "done")
    drive.complete(store, "done", {"ok": True})
    drive.complete(store, "direct", {"ok": True})
    assert len(store) == 3
    clock.now += 10
    assert len(store) == 2, "the pending claim expired"
    drive.release(store, "done")
    assert len(store) == 2, "release keeps outcomes"
    clock.now += 90
    assert len(store) == 0


@DRIVE
def test_a_sqlite_store_in_memory_is_one_database_for_every_thread(
    drive: IdempotencyDriver,
) -> None:
    # ":memory:" is a new empty database for every connection, and the async methods
    # run in worker threads: the store works only if all of them use the connection
    # that created its table.
    clock = FakeClock()
    store = SQLiteIdempotencyStore(":memory:", ttl_seconds=10, clock=clock)
    assert drive.claim(store, "k") is True
    assert drive.claim(store, "k") is False
    drive.complete(store, "k", {"n": 1})
    assert drive.get(store, "k") == {"n": 1}
    drive.release(store, "k")
    assert drive.get(store, "k") == {"n": 1}
    assert store.get("k") == {"n": 1}, "the sync methods read the same database"


@pytest.mark.parametrize("where", ["memory", "file"])
def test_sqlite_claims_from_many_threads_let_one_caller_win(where: str, tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    path = ":memory:" if where == "memory" else tmp_path / "idem.db"
    store = SQLiteIdempotencyStore(path, clock=FakeClock())

    keys = [f"k{i}" for i in range(20)]
    claims = [k for k in keys for _ in range(4)]  # four callers race for each key

    async def race() -> list[bool]:
        return list(await asyncio.gather(*(store.async_claim(k) for k in claims)))

    with ThreadPoolExecutor(4) as pool:
        won = [k for k, w in zip(claims, pool.map(store.claim, claims), strict=True) if w]
    assert not any(asyncio.run(race())), "the async methods see the same claims"
    assert sorted(won) == sorted(keys), "each key claimed exactly once"


def test_a_sqlite_claim_that_fails_rolls_back_and_the_next_one_works(tmp_path: Path) -> None:
    store = SQLiteIdempotencyStore(tmp_path / "idem.db", clock=FakeClock())
    with pytest.raises(sqlite3.ProgrammingError, match="binding parameter"):
        store.claim(("not", "a", "str"))  # type: ignore[arg-type]
    assert store.claim("k") is True, "no transaction was left open"
    other = SQLiteIdempotencyStore(tmp_path / "idem.db", clock=FakeClock())
    assert other.claim("k") is False
    assert other.claim("j") is True, "the file is not left locked"


# ---------------------------------------------------------------- Redis (a real server)


@pytest.fixture
def sync_redis(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


def check_redis_protocol(
    store: IdempotencyStore, drive: IdempotencyDriver, raw: redis.Redis, prefix: str
) -> None:
    """The protocol, with each entry read back from the server under its key."""
    key = f"{prefix}:k"
    assert drive.get(store, "k") is None
    assert drive.claim(store, "k") is True
    assert json.loads(raw.get(key)) == {"__pending__": True}  # type: ignore[arg-type]
    assert 29_000 < raw.pttl(key) <= 30_000, "the claim expires after claim_ttl_seconds"
    assert drive.claim(store, "k") is False, "a second claim loses while the first is pending"
    assert drive.get(store, "k") is None, "a pending claim is not an outcome"
    assert drive.claim(store, "other") is True, "another key is free"
    drive.complete(store, "k", {"state": "OPEN", "version": 2})
    assert json.loads(raw.get(key)) == {"state": "OPEN", "version": 2}  # type: ignore[arg-type]
    assert 99_000 < raw.pttl(key) <= 100_000, "the outcome expires after ttl_seconds"
    assert drive.get(store, "k") == {"state": "OPEN", "version": 2}
    assert drive.claim(store, "k") is False
    drive.release(store, "k")
    assert drive.get(store, "k") == {"state": "OPEN", "version": 2}, "release keeps outcomes"
    drive.release(store, "other")
    assert raw.get(f"{prefix}:other") is None, "a released claim is deleted"
    drive.release(store, "never")
    assert drive.claim(store, "other") is True, "a released claim can be taken again"
    assert sorted(raw.keys(f"{prefix}:*")) == [f"{prefix}:k".encode(), f"{prefix}:other".encode()]


@pytest.mark.slow
@pytest.mark.redis
@DRIVE
def test_redis_entries_with_a_sync_client_have_their_key_value_and_expiry(
    drive: IdempotencyDriver, sync_redis: redis.Redis, key_prefix: str
) -> None:
    store = RedisIdempotencyStore(
        sync_redis, ttl_seconds=100, claim_ttl_seconds=30, key_prefix=key_prefix
    )
    check_redis_protocol(store, drive, sync_redis, key_prefix)


@pytest.mark.slow
@pytest.mark.redis
@DRIVE
def test_redis_defaults_are_a_minute_a_day_and_the_pystator_prefix(
    drive: IdempotencyDriver, sync_redis: redis.Redis
) -> None:
    store = RedisIdempotencyStore(sync_redis)
    name = uuid.uuid4().hex
    key = f"pystator:idem:{name}"
    try:
        assert drive.claim(store, name) is True
        assert 59_000 < sync_redis.pttl(key) <= 60_000
        drive.complete(store, name, {"ok": True})
        assert 86_399_000 < sync_redis.pttl(key) <= 86_400_000
        assert drive.get(store, name) == {"ok": True}
    finally:
        sync_redis.delete(key)


@pytest.mark.slow
@pytest.mark.redis
def test_redis_entries_with_an_asyncio_client_have_their_key_value_and_expiry(
    redis_url: str, sync_redis: redis.Redis, key_prefix: str
) -> None:
    class AsyncDriver(IdempotencyDriver):
        """The store's async methods, all on one event loop (the client's)."""

        def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
            self.loop = loop

        def get(self, store: IdempotencyStore, key: str) -> dict[str, Any] | None:
            return self.loop.run_until_complete(store.async_get(key))

        def claim(self, store: IdempotencyStore, key: str) -> bool:
            return self.loop.run_until_complete(store.async_claim(key))

        def complete(self, store: IdempotencyStore, key: str, outcome: Mapping[str, Any]) -> None:
            self.loop.run_until_complete(store.async_complete(key, outcome))

        def release(self, store: IdempotencyStore, key: str) -> None:
            self.loop.run_until_complete(store.async_release(key))

    loop = asyncio.new_event_loop()
    client = redis.asyncio.Redis.from_url(redis_url)
    try:
        store = RedisIdempotencyStore(
            client, ttl_seconds=100, claim_ttl_seconds=30, key_prefix=key_prefix
        )
        check_redis_protocol(store, AsyncDriver(loop), sync_redis, key_prefix)
        message = (
            "RedisIdempotencyStore was given a redis.asyncio client: use the async "
            "methods (orchestrator.async_process_event), or pass a redis.Redis client"
        )
        for call in (
            lambda: store.get("k"),
            lambda: store.claim("k"),
            lambda: store.complete("k", {}),
            lambda: store.release("k"),
        ):
            with pytest.raises(OrchestratorUsageError) as info:
                call()
            assert str(info.value) == message
    finally:
        loop.run_until_complete(client.aclose())
        loop.close()
