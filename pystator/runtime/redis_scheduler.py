"""``RedisScheduler``: timers kept in Redis, fired once across any number of workers.

Layout under ``key_prefix``:

- ``<prefix>:due``        sorted set, timer id -> due time (clock seconds)
- ``<prefix>:timers``     hash, timer id -> JSON payload (entity, state, event, due)
- ``<prefix>:entity:<id>`` set of an entity's pending timer ids (for ``cancel_entity``)
- ``<prefix>:inflight``   sorted set, timer id -> lease expiry, for claimed timers

Every worker polls ``due`` every ``poll_interval`` seconds. A due timer is claimed
by a Lua script that moves it from ``due`` to ``inflight`` only if ``ZREM``
removed it, so exactly one worker wins the claim. After ``on_fire`` returns the
timer is deleted. If a worker dies between claim and completion, the lease runs
out and another worker puts the timer back into ``due``; the orchestrator then
drops it if the first worker had already committed it (its id is no longer
pending in the stored state). Timers survive restarts because they live in Redis.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from pystator.runtime.timers import (
    Clock,
    FireHandler,
    ScheduledTimer,
    deliver,
    stop_task,
    wall_clock,
)

__all__ = ["RedisScheduler"]

log = logging.getLogger("pystator.runtime")

_CLAIM = """
if redis.call('ZREM', KEYS[1], ARGV[1]) == 1 then
  redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
  return redis.call('HGET', KEYS[3], ARGV[1])
end
return false
"""

_DONE = """
redis.call('ZREM', KEYS[1], ARGV[1])
local payload = redis.call('HGET', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
if payload then
  local entity = cjson.decode(payload)['entity_id']
  redis.call('SREM', ARGV[2] .. entity, ARGV[1])
end
return 1
"""

_CANCEL = """
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
local payload = redis.call('HGET', KEYS[3], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
if payload then
  local entity = cjson.decode(payload)['entity_id']
  redis.call('SREM', ARGV[2] .. entity, ARGV[1])
end
return payload and 1 or 0
"""

_RECLAIM = """
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
for _, id in ipairs(expired) do
  redis.call('ZREM', KEYS[1], id)
  if redis.call('HEXISTS', KEYS[3], id) == 1 then
    redis.call('ZADD', KEYS[2], ARGV[1], id)
  end
end
return #expired
"""


class RedisScheduler:
    """Distributed scheduler over a ``redis.asyncio.Redis`` client.

    ``start()`` runs the polling loop in the current event loop; several
    processes may run it against the same Redis and prefix.
    """

    def __init__(
        self,
        redis: Any,
        *,
        key_prefix: str = "pystator:timers",
        poll_interval: float = 0.1,
        lease_seconds: float = 30.0,
        batch_size: int = 100,
        clock: Clock = wall_clock,
    ) -> None:
        self.redis = redis
        self.key_prefix = key_prefix
        self.poll_interval = poll_interval
        self.lease_seconds = lease_seconds
        self.batch_size = batch_size
        self.clock = clock
        self.on_fire: FireHandler | None = None
        self._due = f"{key_prefix}:due"
        self._hash = f"{key_prefix}:timers"
        self._inflight = f"{key_prefix}:inflight"
        self._entity_prefix = f"{key_prefix}:entity:"
        self._claim = redis.register_script(_CLAIM)
        self._done = redis.register_script(_DONE)
        self._cancel = redis.register_script(_CANCEL)
        self._reclaim = redis.register_script(_RECLAIM)
        self._task: asyncio.Task[None] | None = None
        self.fired_count = 0

    async def schedule(self, timer: ScheduledTimer) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(self._hash, timer.timer_id, json.dumps(timer.to_dict()))
            pipe.sadd(self._entity_prefix + timer.entity_id, timer.timer_id)
            pipe.zadd(self._due, {timer.timer_id: timer.due_at})
            await pipe.execute()

    async def cancel(self, timer_id: str) -> None:
        await self._cancel(
            keys=[self._due, self._inflight, self._hash], args=[timer_id, self._entity_prefix]
        )

    async def cancel_entity(self, entity_id: str, state: str | None = None) -> None:
        for raw_id in await self.redis.smembers(self._entity_prefix + entity_id):
            timer_id = raw_id.decode() if isinstance(raw_id, bytes) else str(raw_id)
            if state is not None:
                timer = await self.get(timer_id)
                if timer is None or timer.state != state:
                    continue
            await self.cancel(timer_id)

    async def get(self, timer_id: str) -> ScheduledTimer | None:
        raw = await self.redis.hget(self._hash, timer_id)
        return ScheduledTimer.from_dict(json.loads(raw)) if raw is not None else None

    async def pending(self) -> list[ScheduledTimer]:
        """Every timer not yet fired or cancelled, earliest first."""
        ids = await self.redis.zrange(self._due, 0, -1)
        timers = [await self.get(i.decode() if isinstance(i, bytes) else i) for i in ids]
        return [t for t in timers if t is not None]

    async def poll_once(self) -> int:
        """Claim and fire every timer due now; how many this worker fired."""
        now = self.clock()
        await self._reclaim(keys=[self._inflight, self._due, self._hash], args=[now])
        ids = await self.redis.zrangebyscore(self._due, "-inf", now, start=0, num=self.batch_size)
        fired = 0
        for raw_id in ids:
            timer_id = raw_id.decode() if isinstance(raw_id, bytes) else str(raw_id)
            payload = await self._claim(
                keys=[self._due, self._inflight, self._hash],
                args=[timer_id, now + self.lease_seconds],
            )
            if not payload:
                continue  # another worker claimed it, or it was cancelled
            timer = ScheduledTimer.from_dict(json.loads(payload))
            await deliver(self.on_fire, timer)
            await self._done(
                keys=[self._inflight, self._hash], args=[timer_id, self._entity_prefix]
            )
            fired += 1
        self.fired_count += fired
        return fired

    async def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        task, self._task = self._task, None
        await stop_task(task)

    async def _run(self) -> None:
        while True:
            try:
                await self.poll_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("redis scheduler poll failed; retrying")
            await asyncio.sleep(self.poll_interval)
