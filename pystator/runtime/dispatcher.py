"""The dispatcher: delivers what committed steps left in the store, at least once.

Each pass claims (with a lease) the outbox rows whose time has come and the
pending timers due for (re)arming, then delivers them through its orchestrator:
timers to the scheduler, actions to the executor with their idempotency keys. It
records each outcome: delivered rows are deleted, failed actions get their
attempt count and next try time (exponential backoff from the retry policy),
and actions out of attempts become dead letters (moving the entity to
``error_policy.default_fallback`` when there is one).

It runs when ``Orchestrator.start()`` is called and then every ``interval``
seconds, at once again while passes come back full. So after a crash, a killed
producer, or a scheduler outage, every committed timer is armed again and every
unfinished action re-run, by whichever process runs a dispatcher: any number of
them can share one store, since claims do not overlap. A store or scheduler that
is down is retried with capped exponential backoff, logged once per outage
rather than once per pass. Dedup records older than ``outcome_ttl`` are purged.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from pystator.runtime.timers import being_cancelled, stop_task

if TYPE_CHECKING:
    from pystator.runtime.orchestrator import Orchestrator

__all__ = ["Dispatcher"]

log = logging.getLogger("pystator.runtime")


class Dispatcher:
    """The delivery loop of one orchestrator (see the module docstring)."""

    def __init__(
        self,
        orchestrator: Orchestrator,
        *,
        interval: float = 0.5,
        batch_size: int = 100,
        max_backoff: float = 30.0,
        outcome_ttl: float = 7 * 86_400.0,
    ) -> None:
        self.orchestrator = orchestrator
        self.interval = interval
        self.batch_size = batch_size
        self.max_backoff = max_backoff
        self.outcome_ttl = outcome_ttl
        self.passes = 0
        self.delivered = 0
        self._failures = 0
        self._purged_at = 0.0
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def run_once(self) -> int:
        """One pass: how many outbox rows and timers were claimed and delivered."""
        count = await self.orchestrator.async_dispatch_once(self.batch_size)
        self.passes += 1
        self.delivered += count
        now = time.time()
        if now - self._purged_at > 3600:
            self._purged_at = now
            await asyncio.to_thread(
                self.orchestrator.state_store.purge_outcomes, now - self.outcome_ttl
            )
        return count

    async def start(self) -> None:
        if not self.running:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        task, self._task = self._task, None
        await stop_task(task)

    def _backoff(self) -> float:
        return float(min(self.max_backoff, self.interval * 2 ** min(self._failures, 16)))

    async def _run(self) -> None:
        while True:
            try:
                count = await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if being_cancelled():  # a cancel that a timed read turned into an error
                    raise asyncio.CancelledError from exc
                if self._failures == 0:
                    log.warning("dispatcher: delivery failed (%s); retrying with backoff", exc)
                self._failures += 1
                await asyncio.sleep(self._backoff())
                continue
            if self._failures:
                log.warning("dispatcher: delivering again after %d failed passes", self._failures)
                self._failures = 0
            if count < self.batch_size:
                await asyncio.sleep(self.interval)
