"""``RedisScheduler``: timers kept in Redis, fired once across any number of workers.

Layout under ``key_prefix``:

- ``<prefix>:due``         sorted set, timer id -> when it may fire (clock seconds)
- ``<prefix>:timers``      hash, timer id -> JSON payload (entity, state, event, due,
  attempts so far)
- ``<prefix>:entity:<id>`` set of an entity's pending timer ids (for ``cancel_entity``)
- ``<prefix>:inflight``    sorted set, timer id -> lease expiry, for claimed timers
- ``<prefix>:owner``       hash, timer id -> the claim token of the worker firing it

Each poll claims up to ``batch_size`` due timers in one Lua call (moving them from
``due`` to ``inflight`` under this worker's token, so exactly one worker gets each)
and fires them concurrently, at most ``concurrency`` at a time; a full batch is
followed by another poll at once, so one worker keeps up with thousands of due
timers per second. While firings run, the worker renews their leases every third
of ``lease_seconds``; a worker that dies stops renewing, and when the lease runs
out another worker puts the timer back into ``due``. That is the only claim there
is: nothing else can outlive it. The orchestrator refuses a firing whose timer id
is no longer pending, so a taken-over timer that had in fact been committed
changes nothing.

A firing that fails is never deleted: it goes back into ``due`` at its retry time,
its attempt count in the payload; after the policy's attempts it goes to
``on_dead``. ``schedule`` of a timer Redis already holds is a no-op, so the
dispatcher can hand over again any timer the store still has pending.

If Redis cannot be reached the loop backs off (capped, exponential) and logs once
per outage, not once per poll. Timers survive restarts of the workers because they
live in Redis; for them to survive a restart of Redis itself, run Redis with
``appendonly yes`` and ``appendfsync everysec`` (or ``always``); whatever Redis
loses anyway (the last second with ``everysec``) the dispatcher hands over again
from the state store ``rearm_after`` seconds after it was due.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from typing import Any

from pystator.runtime.outbox import new_owner
from pystator.runtime.retry import RetryPolicy
from pystator.runtime.timers import (
    Clock,
    DeadHandler,
    FireHandler,
    ScheduledTimer,
    attempt_firing,
    being_cancelled,
    stop_task,
    wall_clock,
)

__all__ = ["RedisScheduler"]

log = logging.getLogger("pystator.runtime")

# KEYS: due, timers, entity-prefix-less; ARGV: id, payload, due_at, entity key
_SCHEDULE = """
if redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[2]) == 1 then
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
  redis.call('SADD', ARGV[4], ARGV[1])
  return 1
end
return 0
"""

# KEYS: due, inflight, timers, owner; ARGV: now, limit, lease expiry, token
_CLAIM = """
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1])
for _, id in ipairs(expired) do
  redis.call('ZREM', KEYS[2], id)
  redis.call('HDEL', KEYS[4], id)
  if redis.call('HEXISTS', KEYS[3], id) == 1 then
    redis.call('ZADD', KEYS[1], ARGV[1], id)
  end
end
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
local out = {}
for _, id in ipairs(ids) do
  redis.call('ZREM', KEYS[1], id)
  local payload = redis.call('HGET', KEYS[3], id)
  if payload then
    redis.call('ZADD', KEYS[2], ARGV[3], id)
    redis.call('HSET', KEYS[4], id, ARGV[4])
    table.insert(out, payload)
  end
end
return out
"""

# KEYS: inflight, owner; ARGV: token, expiry, ids...
_RENEW = """
local n = 0
for i = 3, #ARGV do
  if redis.call('HGET', KEYS[2], ARGV[i]) == ARGV[1] then
    redis.call('ZADD', KEYS[1], 'XX', ARGV[2], ARGV[i])
    n = n + 1
  end
end
return n
"""

# KEYS: inflight, timers, owner; ARGV: token, entity prefix, ids...
_DONE = """
for i = 3, #ARGV do
  local id = ARGV[i]
  if redis.call('HGET', KEYS[3], id) == ARGV[1] then
    redis.call('ZREM', KEYS[1], id)
    redis.call('HDEL', KEYS[3], id)
    local payload = redis.call('HGET', KEYS[2], id)
    redis.call('HDEL', KEYS[2], id)
    if payload then
      redis.call('SREM', ARGV[2] .. cjson.decode(payload)['entity_id'], id)
    end
  end
end
return 1
"""

# KEYS: due, inflight, timers, owner; ARGV: token, id, payload, retry at
_RETRY = """
if redis.call('HGET', KEYS[4], ARGV[2]) == ARGV[1] then
  redis.call('ZREM', KEYS[2], ARGV[2])
  redis.call('HDEL', KEYS[4], ARGV[2])
  if redis.call('HEXISTS', KEYS[3], ARGV[2]) == 1 then
    redis.call('HSET', KEYS[3], ARGV[2], ARGV[3])
    redis.call('ZADD', KEYS[1], ARGV[4], ARGV[2])
  end
  return 1
end
return 0
"""

# KEYS: due, inflight, timers, owner; ARGV: id, entity prefix
_CANCEL = """
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[4], ARGV[1])
local payload = redis.call('HGET', KEYS[3], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
if payload then
  redis.call('SREM', ARGV[2] .. cjson.decode(payload)['entity_id'], ARGV[1])
end
return payload and 1 or 0
"""


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisScheduler:
    """Distributed scheduler over a ``redis.asyncio.Redis`` client.

    ``start()`` runs the polling loop in the current event loop; several
    processes may run it against the same Redis and prefix. ``retry`` (set by the
    orchestrator to its own policy) decides how failing firings are retried.
    """

    def __init__(
        self,
        redis: Any,
        *,
        key_prefix: str = "pystator:timers",
        poll_interval: float = 0.1,
        lease_seconds: float = 30.0,
        batch_size: int = 500,
        concurrency: int = 64,
        max_backoff: float = 5.0,
        retry: RetryPolicy | None = None,
        clock: Clock = wall_clock,
    ) -> None:
        self.redis = redis
        self.key_prefix = key_prefix
        self.poll_interval = poll_interval
        self.lease_seconds = lease_seconds
        self.batch_size = batch_size
        self.concurrency = concurrency
        self.max_backoff = max_backoff
        self.retry = retry or RetryPolicy()
        self.clock = clock
        self.on_fire: FireHandler | None = None
        self.on_dead: DeadHandler | None = None
        self.token = new_owner()
        self._due = f"{key_prefix}:due"
        self._hash = f"{key_prefix}:timers"
        self._inflight = f"{key_prefix}:inflight"
        self._owner = f"{key_prefix}:owner"
        self._entity_prefix = f"{key_prefix}:entity:"
        self._schedule = redis.register_script(_SCHEDULE)
        self._claim = redis.register_script(_CLAIM)
        self._renew = redis.register_script(_RENEW)
        self._done = redis.register_script(_DONE)
        self._retry = redis.register_script(_RETRY)
        self._cancel = redis.register_script(_CANCEL)
        self._task: asyncio.Task[None] | None = None
        self._running: set[str] = set()
        self.fired_count = 0
        self.failures = 0
        self.last_batch = 0

    # ---------------------------------------------------------------- Scheduler
    async def schedule(self, timer: ScheduledTimer) -> None:
        """Arm ``timer``; a timer Redis already holds (pending or in flight) is left as is."""
        await self._schedule(
            keys=[self._due, self._hash],
            args=[
                timer.timer_id,
                json.dumps(timer.to_dict()),
                timer.due_at,
                self._entity_prefix + timer.entity_id,
            ],
        )

    async def cancel(self, timer_id: str) -> None:
        await self._cancel(
            keys=[self._due, self._inflight, self._hash, self._owner],
            args=[timer_id, self._entity_prefix],
        )

    async def cancel_entity(self, entity_id: str, state: str | None = None) -> None:
        for raw_id in await self.redis.smembers(self._entity_prefix + entity_id):
            timer_id = _text(raw_id)
            if state is not None:
                timer = await self.get(timer_id)
                if timer is None or timer.state != state:
                    continue
            await self.cancel(timer_id)

    async def get(self, timer_id: str) -> ScheduledTimer | None:
        raw = await self.redis.hget(self._hash, timer_id)
        return ScheduledTimer.from_dict(json.loads(raw)) if raw is not None else None

    async def pending(self) -> list[ScheduledTimer]:
        """Every timer not yet fired or cancelled (in flight ones included), earliest first."""
        raw = await self.redis.hgetall(self._hash)
        timers = [ScheduledTimer.from_dict(json.loads(v)) for v in raw.values()]
        return sorted(timers, key=lambda t: t.due_at)

    # ---------------------------------------------------------------- firing
    async def poll_once(self) -> int:
        """Claim and fire the timers due now (one batch); how many this worker fired."""
        now = self.clock()
        payloads = await self._claim(
            keys=[self._due, self._inflight, self._hash, self._owner],
            args=[now, self.batch_size, now + self.lease_seconds, self.token],
        )
        self.last_batch = len(payloads or ())
        if not payloads:
            return 0
        claimed = [json.loads(p) for p in payloads]
        self._running.update(str(p["timer_id"]) for p in claimed)
        limit = asyncio.Semaphore(self.concurrency)

        async def fire(payload: dict[str, Any]) -> str | None:
            async with limit:
                return await self._fire(payload)

        try:
            finished = await asyncio.gather(*(fire(p) for p in claimed))
        finally:
            self._running.difference_update(str(p["timer_id"]) for p in claimed)
        done = [timer_id for timer_id in finished if timer_id is not None]
        if done:
            await self._done(
                keys=[self._inflight, self._hash, self._owner],
                args=[self.token, self._entity_prefix, *done],
            )
        self.fired_count += len(done)
        return len(done)

    async def _fire(self, payload: dict[str, Any]) -> str | None:
        """Fire one claimed timer: its id when finished with, ``None`` when put back."""
        timer = ScheduledTimer.from_dict(payload)
        outcome = await attempt_firing(
            self.on_fire,
            self.on_dead,
            self.retry,
            timer,
            int(payload.get("attempts", 0)),
            int(payload.get("tries", 0)),
        )
        if outcome.retry_in is None:
            return timer.timer_id
        again = {
            **payload,
            "attempts": outcome.attempts,
            "tries": outcome.tries,
            "last_error": outcome.error,
        }
        await self._retry(
            keys=[self._due, self._inflight, self._hash, self._owner],
            args=[self.token, timer.timer_id, json.dumps(again), self.clock() + outcome.retry_in],
        )
        return None

    async def renew(self, timer_ids: Sequence[str] | None = None) -> int:
        """Extend this worker's leases on the timers it is firing; how many it still held."""
        ids = list(self._running if timer_ids is None else timer_ids)
        if not ids:
            return 0
        held = await self._renew(
            keys=[self._inflight, self._owner],
            args=[self.token, self.clock() + self.lease_seconds, *ids],
        )
        return int(held)

    # ---------------------------------------------------------------- the loop
    async def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        task, self._task = self._task, None
        await stop_task(task)

    async def _keep_leases(self) -> None:
        while True:
            await asyncio.sleep(self.lease_seconds / 3)
            try:
                await self.renew()
            except Exception as exc:  # the poll loop reports the outage
                log.debug("redis scheduler: renewing leases failed: %s", exc)

    async def _run(self) -> None:
        keeper = asyncio.get_running_loop().create_task(self._keep_leases())
        try:
            while True:
                try:
                    fired = await self.poll_once()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    if being_cancelled():  # a cancel that a timed read turned into an error
                        raise asyncio.CancelledError from exc
                    if self.failures == 0:
                        log.warning(
                            "redis scheduler: Redis unavailable (%s); retrying with backoff", exc
                        )
                    self.failures += 1
                    await asyncio.sleep(
                        min(self.max_backoff, self.poll_interval * 2 ** min(self.failures, 16))
                    )
                    continue
                if self.failures:
                    log.warning(
                        "redis scheduler: Redis is back after %d failed polls", self.failures
                    )
                    self.failures = 0
                if self.last_batch < self.batch_size or not fired:
                    await asyncio.sleep(self.poll_interval)
        finally:
            await stop_task(keeper)
