"""``CeleryScheduler``: each timer is a Celery task sent with a countdown.

``register_task()`` registers one task (``pystator.fire_timer`` by default) on the
app. A worker runs it when the countdown ends; the task hands the timer to an
orchestrator that the worker obtains from the factory given to
``set_orchestrator_factory`` (built once per worker process), which processes it
like any event.

Cancelling: Celery's ``revoke`` only reaches workers that are up at that moment
and is forgotten when they restart, so it is not used. ``cancel`` adds the timer
id to a "cancelled" mark in Redis (``cancel_store``, a synchronous
``redis.Redis``) that the task checks before it fires; without a ``cancel_store``
the marks live in this process only, which is right for eager mode and tests.
Independently, the orchestrator drops a timer whose id is no longer pending in
the entity's stored state, so a cancel that did not get through cannot make a
stale timer fire.

Delivery: the task is ``acks_late`` with ``reject_on_worker_lost``, so a worker
killed while it holds a timer (counting down or firing) does not take it along:
with the Redis broker the message comes back after the broker's
``visibility_timeout`` plus the time until a worker's restore sweep runs. The
orchestrator's dispatcher does not wait for that: a timer still pending in the
state store ``rearm_after`` seconds after its due time is sent again (a second
task for a timer is a duplicate and changes nothing). A firing that fails is
retried by the task itself (``countdown`` from the retry policy); after the
policy's attempts it goes to the orchestrator as a dead letter.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pystator.runtime.retry import RetryPolicy
from pystator.runtime.timers import (
    Clock,
    DeadHandler,
    FireHandler,
    ScheduledTimer,
    attempt_firing,
    wall_clock,
)

if TYPE_CHECKING:
    from pystator.runtime.orchestrator import Orchestrator

__all__ = ["CeleryScheduler"]

DEFAULT_TASK_NAME = "pystator.fire_timer"


class CeleryScheduler:
    """Scheduler whose timers are Celery tasks with ``countdown``."""

    def __init__(
        self,
        celery_app: Any,
        *,
        task_name: str = DEFAULT_TASK_NAME,
        cancel_store: Any = None,
        key_prefix: str = "pystator:celery",
        cancel_ttl_seconds: float = 7 * 86_400.0,
        retry: RetryPolicy | None = None,
        clock: Clock = wall_clock,
    ) -> None:
        self.app = celery_app
        self.task_name = task_name
        self.cancel_store = cancel_store
        self.key_prefix = key_prefix
        self.cancel_ttl_seconds = cancel_ttl_seconds
        self.clock = clock
        self.on_fire: FireHandler | None = None  # timers fire in workers, not here
        self.on_dead: DeadHandler | None = None
        self.retry = retry or RetryPolicy()
        self._factory: Callable[[], Orchestrator] | None = None
        self._orchestrator: Orchestrator | None = None
        self._lock = threading.Lock()
        self._cancelled: set[str] = set()
        self._by_entity: dict[str, dict[str, str]] = {}
        self._task: Any = None

    # ---------------------------------------------------------------- worker side
    def set_orchestrator_factory(self, factory: Callable[[], Orchestrator]) -> None:
        """How a worker gets the orchestrator that processes fired timers."""
        self._factory = factory
        self._orchestrator = None

    def orchestrator(self) -> Orchestrator:
        with self._lock:
            if self._orchestrator is None:
                if self._factory is None:
                    raise RuntimeError(
                        "CeleryScheduler has no orchestrator factory: call "
                        "scheduler.set_orchestrator_factory(make_orchestrator) in the module "
                        "the worker imports"
                    )
                self._orchestrator = self._factory()
            return self._orchestrator

    def register_task(self) -> Any:
        """Register the task that fires timers; returns it. Call once per app."""
        scheduler = self

        @self.app.task(  # type: ignore[untyped-decorator]
            name=self.task_name,
            bind=True,
            ignore_result=False,
            shared=False,
            acks_late=True,
            reject_on_worker_lost=True,
            max_retries=None,
        )
        def fire_timer(
            task: Any,
            entity_id: str,
            event: str,
            timer_id: str,
            state: str = "",
            due_at: float = 0.0,
            attempts: int = 0,
            tries: int = 0,
        ) -> dict[str, Any]:
            if scheduler.is_cancelled(timer_id):
                return {"timer_id": timer_id, "status": "cancelled"}
            orchestrator = scheduler.orchestrator()
            timer = ScheduledTimer(timer_id, entity_id, state, event, due_at)
            outcomes: list[Any] = []

            async def on_fire(entity: str, trigger: str, tid: str) -> None:
                outcomes.append(await orchestrator.async_fire_timer(entity, trigger, tid))

            firing = asyncio.run(
                attempt_firing(
                    on_fire,
                    orchestrator.async_bury_timer,
                    orchestrator.retry,
                    timer,
                    attempts,
                    tries,
                )
            )
            if firing.retry_in is not None:
                raise task.retry(
                    kwargs={
                        "state": state,
                        "due_at": due_at,
                        "attempts": firing.attempts,
                        "tries": firing.tries,
                    },
                    countdown=firing.retry_in,
                )
            scheduler._forget(entity_id, timer_id)
            if not outcomes:
                return {"timer_id": timer_id, "status": "dead_letter", "error": firing.error}
            return {"timer_id": timer_id, "status": "fired", **outcomes[0].summary()}

        self._task = fire_timer
        return fire_timer

    # ---------------------------------------------------------------- Scheduler
    async def schedule(self, timer: ScheduledTimer) -> None:
        if self._task is None:
            self.register_task()
        self._remember(timer)
        countdown = max(0.0, timer.due_at - self.clock())
        self._task.apply_async(
            args=[timer.entity_id, timer.event, timer.timer_id],
            kwargs={"state": timer.state, "due_at": timer.due_at},
            countdown=countdown,
            task_id=timer.timer_id,
        )

    async def cancel(self, timer_id: str) -> None:
        if self.cancel_store is not None:
            self.cancel_store.set(
                f"{self.key_prefix}:cancelled:{timer_id}", 1, ex=int(self.cancel_ttl_seconds)
            )
        else:
            self._cancelled.add(timer_id)

    async def cancel_entity(self, entity_id: str, state: str | None = None) -> None:
        for timer_id, timer_state in self._entity_timers(entity_id).items():
            if state is None or timer_state == state:
                await self.cancel(timer_id)
                self._forget(entity_id, timer_id)

    async def start(self) -> None:
        """Nothing to start here: Celery workers run the timers."""

    async def stop(self) -> None:
        """Nothing to stop here: Celery workers run the timers."""

    def is_cancelled(self, timer_id: str) -> bool:
        if self.cancel_store is not None:
            return bool(self.cancel_store.exists(f"{self.key_prefix}:cancelled:{timer_id}"))
        return timer_id in self._cancelled

    # ---------------------------------------------------------------- entity index
    def _entity_key(self, entity_id: str) -> str:
        return f"{self.key_prefix}:entity:{entity_id}"

    def _remember(self, timer: ScheduledTimer) -> None:
        if self.cancel_store is not None:
            self.cancel_store.hset(self._entity_key(timer.entity_id), timer.timer_id, timer.state)
        else:
            self._by_entity.setdefault(timer.entity_id, {})[timer.timer_id] = timer.state

    def _forget(self, entity_id: str, timer_id: str) -> None:
        if self.cancel_store is not None:
            self.cancel_store.hdel(self._entity_key(entity_id), timer_id)
        else:
            self._by_entity.get(entity_id, {}).pop(timer_id, None)

    def _entity_timers(self, entity_id: str) -> dict[str, str]:
        if self.cancel_store is not None:
            raw = self.cancel_store.hgetall(self._entity_key(entity_id))
            return {_text(k): _text(v) for k, v in raw.items()}
        return dict(self._by_entity.get(entity_id, {}))


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
