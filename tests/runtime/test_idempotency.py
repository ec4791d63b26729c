"""Idempotency stores: one claim wins, the outcome is kept, entries expire."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import redis.asyncio

from pystator.runtime import (
    IdempotencyStore,
    InMemoryIdempotencyStore,
    RedisIdempotencyStore,
    SQLiteIdempotencyStore,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def check_protocol(store: IdempotencyStore) -> None:
    assert store.get("k") is None
    assert store.claim("k") is True
    assert store.claim("k") is False, "a second claim must lose while the first is pending"
    assert store.get("k") is None, "a pending claim is not an outcome"
    store.complete("k", {"state": "OPEN", "version": 2})
    assert store.get("k") == {"state": "OPEN", "version": 2}
    assert store.claim("k") is False
    store.release("k")
    assert store.get("k") == {"state": "OPEN", "version": 2}, "release keeps outcomes"
    assert store.claim("other") is True
    store.release("other")
    assert store.claim("other") is True, "a released claim can be taken again"


def test_in_memory_store_protocol_and_ttl() -> None:
    clock = FakeClock()
    store = InMemoryIdempotencyStore(ttl_seconds=60, claim_ttl_seconds=5, clock=clock)
    check_protocol(store)
    clock.now += 61
    assert store.get("k") is None
    assert store.claim("k") is True
    clock.now += 6
    assert store.claim("k") is True, "a crashed worker's claim expires"


def test_sqlite_store_protocol_ttl_and_shared_file(tmp_path: Path) -> None:
    clock = FakeClock()
    path = tmp_path / "idem.db"
    store = SQLiteIdempotencyStore(path, ttl_seconds=60, claim_ttl_seconds=5, clock=clock)
    check_protocol(store)
    other = SQLiteIdempotencyStore(path, clock=clock)
    assert other.get("k") == {"state": "OPEN", "version": 2}
    clock.now += 61
    assert store.get("k") is None
    assert other.claim("k") is True


def test_async_methods_of_in_memory_and_sqlite(tmp_path: Path) -> None:
    async def main(store: IdempotencyStore) -> None:
        assert await store.async_claim("a")
        assert not await store.async_claim("a")
        await store.async_complete("a", {"ok": True})
        assert await store.async_get("a") == {"ok": True}
        assert await store.async_claim("b")
        await store.async_release("b")
        assert await store.async_claim("b")

    asyncio.run(main(InMemoryIdempotencyStore()))
    asyncio.run(main(SQLiteIdempotencyStore(tmp_path / "i.db")))


@pytest.fixture
def sync_redis(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.mark.slow
@pytest.mark.redis
def test_redis_store_with_a_sync_client(sync_redis: redis.Redis, key_prefix: str) -> None:
    check_protocol(RedisIdempotencyStore(sync_redis, key_prefix=key_prefix))


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
            await asyncio.sleep(0.4)
            assert await store.async_get("k") is None
            with pytest.raises(Exception, match="async"):
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
