"""A scheduler stops even when a firing turns its cancellation into another error.

redis-py (and any client reading under a timeout) can turn a cancellation that
arrives just as its own timeout expires into a ``TimeoutError``. A loop that then
treats the error as an outage and carries on never ends, and ``stop()`` waits for
it forever: that is how the long-firing Redis test hung about one run in four.
Here the handler does it on purpose, every time, so the race is certain.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import redis.asyncio

from pystator.runtime import AsyncioScheduler, RedisScheduler, ScheduledTimer


def _timer(due: float) -> ScheduledTimer:
    return ScheduledTimer(entity_id="e1", state="S", event="tick", timer_id="t1", due_at=due)


async def _stops_although_the_firing_swallows_its_cancel(scheduler: Any) -> bool:
    started = asyncio.Event()

    async def on_fire(entity: str, event: str, timer_id: str) -> None:
        started.set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            raise TimeoutError("read timed out") from None  # what a timed read may do

    scheduler.on_fire = on_fire
    await scheduler.schedule(_timer(scheduler.clock()))
    await scheduler.start()
    await asyncio.wait_for(started.wait(), timeout=10)
    stopping = asyncio.ensure_future(scheduler.stop())
    done, _ = await asyncio.wait({stopping}, timeout=10)
    if not done:  # leave no loop behind for the next test
        for task in asyncio.all_tasks() - {asyncio.current_task(), stopping}:
            task.cancel()
        return False
    return True


def test_the_in_process_scheduler_stops() -> None:
    assert asyncio.run(_stops_although_the_firing_swallows_its_cancel(AsyncioScheduler()))


class _RacyRedis(redis.asyncio.Redis):  # type: ignore[type-arg]
    """A client whose every command loses the race: slow, and a cancel becomes a timeout."""

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        try:
            await asyncio.sleep(0.05)
            return await super().execute_command(*args, **options)
        except asyncio.CancelledError:
            raise redis.exceptions.TimeoutError("Timeout reading from socket") from None


@pytest.mark.redis
@pytest.mark.parametrize("where", ["in the firing", "in a Redis command"])
def test_the_redis_scheduler_stops(redis_url: str, key_prefix: str, where: str) -> None:
    async def main() -> bool:
        racy = where == "in a Redis command"
        client = (_RacyRedis if racy else redis.asyncio.Redis).from_url(redis_url)
        try:
            scheduler = RedisScheduler(client, key_prefix=key_prefix, poll_interval=0.0)
            if not racy:
                return await _stops_although_the_firing_swallows_its_cancel(scheduler)
            await scheduler.start()
            await asyncio.sleep(0.3)  # the loop is now nearly always inside a command
            stopping = asyncio.ensure_future(scheduler.stop())
            done, _ = await asyncio.wait({stopping}, timeout=10)
            if not done:
                for task in asyncio.all_tasks() - {asyncio.current_task(), stopping}:
                    task.cancel()
            return bool(done)
        finally:
            await client.aclose()

    assert asyncio.run(main())
