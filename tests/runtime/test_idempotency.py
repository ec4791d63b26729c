"""Idempotency stores: one claim wins, the outcome is kept, entries expire.

The protocol is checked through the sync methods and through their ``async_`` twins
(``drive``), on every store.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

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


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def check_protocol(store: IdempotencyStore, drive: IdempotencyDriver) -> None:
    assert drive.get(store, "k") is None
    assert drive.claim(store, "k") is True
    assert drive.claim(store, "k") is False, "a second claim must lose while the first is pending"
    assert drive.get(store, "k") is None, "a pending claim is not an outcome"
    drive.complete(store, "k", {"state": "OPEN", "version": 2})
    assert drive.get(store, "k") == {"state": "OPEN", "version": 2}
    assert drive.claim(store, "k") is False
    drive.release(store, "k")
    assert drive.get(store, "k") == {"state": "OPEN", "version": 2}, "release keeps outcomes"
    assert drive.claim(store, "other") is True
    drive.release(store, "other")
    assert drive.claim(store, "other") is True, "a released claim can be taken again"


@DRIVE
def test_in_memory_store_protocol_and_ttl(drive: IdempotencyDriver) -> None:
    clock = FakeClock()
    store = InMemoryIdempotencyStore(ttl_seconds=60, claim_ttl_seconds=5, clock=clock)
    check_protocol(store, drive)
    clock.now += 59
    assert drive.get(store, "k") == {"state": "OPEN", "version": 2}, "not expired yet"
    clock.now += 2
    assert drive.get(store, "k") is None
    assert drive.claim(store, "k") is True
    clock.now += 4
    assert drive.claim(store, "k") is False, "a claim holds for its whole ttl"
    clock.now += 2
    assert drive.claim(store, "k") is True, "a crashed worker's claim expires"


@DRIVE
def test_sqlite_store_protocol_ttl_and_shared_file(
    drive: IdempotencyDriver, tmp_path: Path
) -> None:
    clock = FakeClock()
    path = tmp_path / "idem.db"
    store = SQLiteIdempotencyStore(path, ttl_seconds=60, claim_ttl_seconds=5, clock=clock)
    check_protocol(store, drive)
    other = SQLiteIdempotencyStore(path, clock=clock)
    assert drive.get(other, "k") == {"state": "OPEN", "version": 2}
    clock.now += 59
    assert drive.get(store, "k") == {"state": "OPEN", "version": 2}, "not expired yet"
    clock.now += 2
    assert drive.get(store, "k") is None
    assert drive.claim(other, "k") is True
    assert drive.claim(store, "k") is False, "the other connection's claim holds"


@pytest.fixture
def sync_redis(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.mark.slow
@pytest.mark.redis
@DRIVE
def test_redis_store_with_a_sync_client(
    drive: IdempotencyDriver, sync_redis: redis.Redis, key_prefix: str
) -> None:
    check_protocol(RedisIdempotencyStore(sync_redis, key_prefix=key_prefix), drive)


@pytest.mark.slow
@pytest.mark.redis
def test_redis_store_with_an_async_client_and_expiry(redis_url: str, key_prefix: str) -> None:
    async def main() -> None:
        client = redis.asyncio.Redis.from_url(redis_url)
        try:
            store = RedisIdempotencyStore(client, ttl_seconds=0.3, key_prefix=key_prefix)
            assert await store.async_claim("k")
            assert not await store.async_claim("k")
            await store.async_complete("k", {"state": "OPEN"})
            assert await store.async_get("k") == {"state": "OPEN"}
            await store.async_release("k")
            assert await store.async_get("k") == {"state": "OPEN"}
            # Redis holds the expiry (0.3 s), not a clock of ours: check it was set, then
            # wait for the key to go rather than sleeping a guessed time.
            (key,) = await client.keys(f"{key_prefix}*")
            assert 0 < await client.pttl(key) <= 300
            deadline = time.monotonic() + 10
            while await store.async_get("k") is not None:
                assert time.monotonic() < deadline, "the outcome never expired"
                await asyncio.sleep(0.01)
            assert await store.async_claim("k"), "an expired outcome frees its event id"
            with pytest.raises(OrchestratorUsageError, match=r"redis\.asyncio client"):
                store.get("k")
        finally:
            await client.aclose()

    asyncio.run(main())


@pytest.mark.slow
@pytest.mark.redis
def test_redis_claims_race_and_exactly_one_wins(redis_url: str, key_prefix: str) -> None:
    async def main() -> list[bool]:
        clients = [redis.asyncio.Redis.from_url(redis_url) for _ in range(8)]
        try:
            stores = [RedisIdempotencyStore(c, key_prefix=key_prefix) for c in clients]
            return list(await asyncio.gather(*(s.async_claim("evt") for s in stores)))
        finally:
            for c in clients:
                await c.aclose()

    assert sorted(asyncio.run(main())) == [False] * 7 + [True]
