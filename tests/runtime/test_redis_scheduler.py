"""RedisScheduler against a real redis-server: exactly-once claims, cancels, leases,
and timers that outlive the process that armed them."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import redis.asyncio

from pystator.core.state_store import SQLiteStateStore
from pystator.runtime import RedisScheduler, ScheduledTimer

pytestmark = [pytest.mark.slow, pytest.mark.redis]

ROOT = Path(__file__).resolve().parents[2]


class FakeClock:
    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now


def timer(timer_id: str, due: float, entity: str = "e1", state: str = "S") -> ScheduledTimer:
    return ScheduledTimer(timer_id, entity, state, "tick", due)


def test_several_workers_fire_each_due_timer_exactly_once(redis_url: str, key_prefix: str) -> None:
    clock = FakeClock()
    fired: Counter[str] = Counter()

    async def main() -> None:
        clients = [redis.asyncio.Redis.from_url(redis_url) for _ in range(4)]
        workers = [RedisScheduler(c, key_prefix=key_prefix, clock=clock) for c in clients]

        async def on_fire(entity: str, event: str, timer_id: str) -> None:
            fired[timer_id] += 1
            await asyncio.sleep(0)

        for w in workers:
            w.on_fire = on_fire
        for i in range(60):
            await workers[i % 4].schedule(timer(f"t{i}", 5001.0 + (i % 3), f"e{i % 7}"))
        assert await workers[0].poll_once() == 0, "nothing is due yet"
        clock.now = 5010.0
        for _ in range(3):
            await asyncio.gather(*(w.poll_once() for w in workers))
        assert await workers[1].pending() == []
        for c in clients:
            await c.aclose()

    asyncio.run(main())
    assert set(fired) == {f"t{i}" for i in range(60)}
    assert set(fired.values()) == {1}


def test_cancel_and_cancel_entity_remove_timers(redis_url: str, key_prefix: str) -> None:
    clock = FakeClock()
    fired: list[str] = []

    async def main() -> None:
        client = redis.asyncio.Redis.from_url(redis_url)
        scheduler = RedisScheduler(client, key_prefix=key_prefix, clock=clock)

        async def on_fire(entity: str, event: str, timer_id: str) -> None:
            fired.append(timer_id)

        scheduler.on_fire = on_fire
        for t in (
            timer("a", 5001, "e1", "X"),
            timer("b", 5001, "e1", "Y"),
            timer("c", 5001, "e2", "X"),
            timer("d", 5001, "e1", "X"),
        ):
            await scheduler.schedule(t)
        await scheduler.cancel("a")
        await scheduler.cancel_entity("e1", state="X")
        await scheduler.cancel_entity("e2")
        assert [t.timer_id for t in await scheduler.pending()] == ["b"]
        clock.now = 5002
        await scheduler.poll_once()
        await client.aclose()

    asyncio.run(main())
    assert fired == ["b"]


def test_a_claim_whose_worker_died_is_released_after_its_lease(
    redis_url: str, key_prefix: str
) -> None:
    clock = FakeClock()
    fired: list[str] = []

    async def main() -> None:
        client = redis.asyncio.Redis.from_url(redis_url)
        doomed = RedisScheduler(client, key_prefix=key_prefix, clock=clock, lease_seconds=5)
        survivor = RedisScheduler(client, key_prefix=key_prefix, clock=clock, lease_seconds=5)

        async def hang(entity: str, event: str, timer_id: str) -> None:
            await asyncio.Event().wait()  # the worker dies mid-fire: it never finishes

        async def on_fire(entity: str, event: str, timer_id: str) -> None:
            fired.append(timer_id)

        doomed.on_fire = hang
        survivor.on_fire = on_fire
        await doomed.schedule(timer("t", 5001))
        clock.now = 5001
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(doomed.poll_once(), 0.2)
        assert await survivor.poll_once() == 0, "still leased to the dead worker"
        clock.now = 5007
        assert await survivor.poll_once() == 1
        await client.aclose()

    asyncio.run(main())
    assert fired == ["t"]


def _spawn(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "tests.runtime.workers", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_ready(proc: subprocess.Popen[str]) -> None:
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if line.strip() != "READY":
        proc.kill()
        _, err = proc.communicate(timeout=10)
        pytest.fail(f"worker did not start: {line!r}\n{err}")


def test_timers_survive_a_killed_process_and_fire_once_on_time(
    redis_url: str, key_prefix: str, tmp_path: Path
) -> None:
    db = str(tmp_path / "state.db")
    entities, poll = 6, 0.1
    common = [
        "--redis",
        redis_url,
        "--prefix",
        key_prefix,
        "--db",
        db,
        "--entities",
        str(entities),
        "--poll",
        str(poll),
    ]
    spawned: list[subprocess.Popen[str]] = []
    try:
        first = _spawn("schedule", *common)
        spawned.append(first)
        _wait_ready(first)
        first.send_signal(signal.SIGKILL)
        first.communicate(timeout=10)

        store = SQLiteStateStore(db)
        due = {}
        for i in range(entities):
            stored = store.load(f"e{i}")
            assert stored is not None and stored.state == "armed"
            (pending,) = stored.timers
            due[f"e{i}"] = pending.due_at

        # A generous deadline: workers exit as soon as every entity expired (~2 s).
        workers = [_spawn("work", *common, "--deadline", "60") for _ in range(2)]
        spawned.extend(workers)
        for w in workers:
            _wait_ready(w)
        # A timer cannot fire before a worker is up to fire it: on a loaded machine
        # starting two interpreters can take longer than the 2 s timer, so lateness is
        # counted from whichever came last, the due time or the workers being ready.
        ready_at = time.time()
        outputs = [w.communicate(timeout=120) for w in workers]
    finally:
        for proc in spawned:
            if proc.poll() is None:
                proc.kill()
                proc.communicate(timeout=10)
    for w, (_out, err) in zip(workers, outputs, strict=True):
        assert w.returncode == 0, err
    fired_total = sum(int(out.split("FIRED")[1]) for out, _ in outputs)
    assert fired_total == entities, "each timer fired once across both workers"

    for entity, due_at in due.items():
        trail = store.audit_trail(entity)
        expiries = [r for r in trail if r.trigger == "expire"]
        assert len(expiries) == 1, f"{entity}: {trail}"
        assert expiries[0].timestamp >= due_at, f"{entity} fired before its due time"
        late = expiries[0].timestamp - max(due_at, ready_at)
        assert late < poll + 0.25, f"{entity} fired {late:.3f}s after its due time"
        final = store.load(entity)
        assert final is not None and final.state == "expired" and final.timers == ()
    store.close()


def test_a_long_firing_keeps_its_lease_and_is_not_taken_over(
    redis_url: str, key_prefix: str
) -> None:
    fired: list[str] = []

    async def main() -> None:
        clients = [redis.asyncio.Redis.from_url(redis_url) for _ in range(2)]
        workers = [
            RedisScheduler(c, key_prefix=key_prefix, poll_interval=0.02, lease_seconds=0.3)
            for c in clients
        ]

        async def slow(entity: str, event: str, timer_id: str) -> None:
            fired.append(timer_id)
            await asyncio.sleep(1.2)  # four leases long

        for w in workers:
            w.on_fire = slow
        await workers[0].schedule(timer("long", workers[0].clock()))
        for w in workers:
            await w.start()
        await asyncio.sleep(2.0)
        for w in workers:
            await w.stop()
        assert await workers[0].pending() == []
        for c in clients:
            await c.aclose()

    asyncio.run(main())
    assert fired == ["long"], "the running firing renewed its lease"


def test_a_batch_fires_concurrently_up_to_the_limit(redis_url: str, key_prefix: str) -> None:
    clock = FakeClock()
    running, most = [0], [0]

    async def main() -> int:
        client = redis.asyncio.Redis.from_url(redis_url)
        scheduler = RedisScheduler(client, key_prefix=key_prefix, clock=clock, concurrency=8)

        async def on_fire(entity: str, event: str, timer_id: str) -> None:
            running[0] += 1
            most[0] = max(most[0], running[0])
            await asyncio.sleep(0.01)
            running[0] -= 1

        scheduler.on_fire = on_fire
        for i in range(50):
            await scheduler.schedule(timer(f"b{i}", 5001.0))
        clock.now = 5002
        fired = await scheduler.poll_once()
        await client.aclose()
        return fired

    assert asyncio.run(main()) == 50, "one poll claims the whole batch"
    assert most[0] == 8


def test_a_failing_firing_is_put_back_with_backoff_then_handed_to_on_dead(
    redis_url: str, key_prefix: str
) -> None:
    from pystator.runtime import RetryPolicy

    clock = FakeClock()
    tries: list[float] = []
    dead: list[tuple[str, str, int]] = []

    async def main() -> None:
        client = redis.asyncio.Redis.from_url(redis_url)
        scheduler = RedisScheduler(
            client,
            key_prefix=key_prefix,
            clock=clock,
            retry=RetryPolicy(max_attempts=3, base_delay=1.0, jitter=0.0),
        )

        async def on_fire(entity: str, event: str, timer_id: str) -> None:
            tries.append(clock.now)
            raise RuntimeError("guard service down")

        async def on_dead(t: ScheduledTimer, error: str, attempts: int) -> None:
            dead.append((t.timer_id, error, attempts))

        scheduler.on_fire, scheduler.on_dead = on_fire, on_dead
        await scheduler.schedule(timer("f", 5001.0))
        for now in (5001.0, 5001.5, 5002.0, 5003.0, 5004.0, 5010.0):
            clock.now = now
            await scheduler.poll_once()
            if now == 5002.0:
                (kept,) = await scheduler.pending()
                assert kept.timer_id == "f", "a failed firing is kept, not deleted"
        assert await scheduler.pending() == []
        await client.aclose()

    asyncio.run(main())
    assert tries == [5001.0, 5002.0, 5004.0]
    assert dead == [("f", "RuntimeError: guard service down", 3)]


def test_an_unreachable_redis_is_retried_with_backoff_and_reported_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    from tests.support import free_port

    async def main() -> int:
        # No retries inside the client (redis-py's own take seconds): the loop's count.
        client = redis.asyncio.Redis(
            port=free_port(), socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0)
        )
        scheduler = RedisScheduler(client, poll_interval=0.01, max_backoff=0.1)
        await scheduler.start()
        await asyncio.sleep(1.0)
        await scheduler.stop()
        await client.aclose()
        return scheduler.failures

    with caplog.at_level("WARNING", logger="pystator.runtime"):
        failures = asyncio.run(main())
    assert failures >= 3, "it kept trying"
    assert failures < 40, "with backoff, not a tight loop"
    reports = [r for r in caplog.records if "Redis unavailable" in r.getMessage()]
    assert len(reports) == 1 and not any(r.exc_info for r in caplog.records)


def test_scheduling_a_timer_redis_holds_changes_nothing(redis_url: str, key_prefix: str) -> None:
    clock = FakeClock()

    async def main() -> None:
        client = redis.asyncio.Redis.from_url(redis_url)
        scheduler = RedisScheduler(client, key_prefix=key_prefix, clock=clock)
        await scheduler.schedule(timer("same", 5001.0))
        await scheduler.schedule(timer("same", 9999.0))  # the dispatcher hands it over again
        (kept,) = await scheduler.pending()
        assert kept.due_at == 5001.0
        await client.aclose()

    asyncio.run(main())
