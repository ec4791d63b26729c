"""``AsyncioScheduler``: timers in this process's event loop, no infrastructure.

One sleeper task keeps the timers in a heap ordered by (due time, arming order)
and sleeps until the earliest is due, waking early when a timer is added. A firing
that fails goes back into the heap for its retry (backoff from ``retry``); after
the policy's attempts it goes to ``on_dead``. Timers die with the process; with a
durable state store the dispatcher hands the pending ones to the next process's
scheduler, and ``RedisScheduler`` keeps them outside any process.

The clock is injectable. With a hand-driven clock call ``wake()`` after moving
it (or ``await fire_due()`` to fire whatever is due right now, in order).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools

from pystator.runtime.retry import RetryPolicy
from pystator.runtime.timers import (
    Clock,
    DeadHandler,
    FireHandler,
    ScheduledTimer,
    attempt_firing,
    stop_task,
    wall_clock,
)

__all__ = ["AsyncioScheduler"]


class AsyncioScheduler:
    """In-process scheduler; ``start()`` is optional (``schedule`` starts it)."""

    def __init__(
        self,
        *,
        clock: Clock = wall_clock,
        max_sleep: float = 1.0,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.clock = clock
        self.on_fire: FireHandler | None = None
        self.on_dead: DeadHandler | None = None
        self.retry = retry or RetryPolicy()
        self.max_sleep = max_sleep
        self._timers: dict[str, ScheduledTimer] = {}
        self._tries: dict[str, tuple[int, int]] = {}  # timer id -> (attempts, tries)
        self._heap: list[tuple[float, int, str]] = []
        self._order = itertools.count()
        self._wakeup: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self.fired: list[ScheduledTimer] = []

    @property
    def pending(self) -> list[ScheduledTimer]:
        """Timers not yet fired or cancelled, earliest first."""
        return sorted(self._timers.values(), key=lambda t: t.due_at)

    async def start(self) -> None:
        if self._task is None or self._task.done():
            self._wakeup = asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        task, self._task = self._task, None
        await stop_task(task)

    async def schedule(self, timer: ScheduledTimer) -> None:
        """Arm ``timer``; arming one already pending (a re-delivery) changes nothing."""
        if timer.timer_id not in self._timers:
            self._push(timer, timer.due_at)
        await self.start()
        self.wake()

    def _push(self, timer: ScheduledTimer, at: float) -> None:
        self._timers[timer.timer_id] = timer
        heapq.heappush(self._heap, (at, next(self._order), timer.timer_id))

    async def cancel(self, timer_id: str) -> None:
        self._timers.pop(timer_id, None)
        self._tries.pop(timer_id, None)

    async def cancel_entity(self, entity_id: str, state: str | None = None) -> None:
        for timer in list(self._timers.values()):
            if timer.entity_id == entity_id and (state is None or timer.state == state):
                await self.cancel(timer.timer_id)

    def wake(self) -> None:
        """Re-check due times now (call after moving an injected clock)."""
        if self._wakeup is not None:
            self._wakeup.set()

    def _pop_due(self) -> ScheduledTimer | None:
        now = self.clock()
        while self._heap:
            due_at, _, timer_id = self._heap[0]
            if timer_id not in self._timers:
                heapq.heappop(self._heap)
                continue
            if due_at > now:
                return None
            heapq.heappop(self._heap)
            return self._timers.pop(timer_id)
        return None

    async def fire_due(self) -> int:
        """Fire every timer due at the current clock time, in order; how many fired."""
        count = 0
        while (timer := self._pop_due()) is not None:
            await self._fire(timer)
            count += 1
        return count

    async def _fire(self, timer: ScheduledTimer) -> None:
        self.fired.append(timer)
        attempts, tries = self._tries.pop(timer.timer_id, (0, 0))
        outcome = await attempt_firing(
            self.on_fire, self.on_dead, self.retry, timer, attempts, tries
        )
        if outcome.retry_in is not None and timer.timer_id not in self._timers:
            self._tries[timer.timer_id] = (outcome.attempts, outcome.tries)
            self._push(timer, self.clock() + outcome.retry_in)

    def _next_delay(self) -> float:
        while self._heap and self._heap[0][2] not in self._timers:
            heapq.heappop(self._heap)
        if not self._heap:
            return self.max_sleep
        return max(0.0, min(self.max_sleep, self._heap[0][0] - self.clock()))

    async def _run(self) -> None:
        assert self._wakeup is not None
        while True:
            self._wakeup.clear()
            await self.fire_due()
            await self._doze(self._wakeup, self._next_delay())

    @staticmethod
    async def _doze(wakeup: asyncio.Event, delay: float) -> None:
        """Sleep until ``wakeup`` is set or ``delay`` passes, and stay cancellable.

        ``asyncio.wait_for`` is not used here: on Python 3.11 it swallows a
        cancellation that arrives while the awaited event is already set, so
        ``stop()`` right after a firing that armed another timer never returned.
        ``asyncio.wait`` leaves the cancellation to this task.
        """
        waiter = asyncio.ensure_future(wakeup.wait())
        try:
            await asyncio.wait((waiter,), timeout=delay)
        finally:
            waiter.cancel()
