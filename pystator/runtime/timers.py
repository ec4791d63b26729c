"""Timers and the scheduler protocol.

A delayed transition (``after``) or a state ``timeout`` becomes a ``ScheduledTimer``
when its state is entered. The timer id is fresh for every entry, and the
orchestrator persists the ids of the pending timers with the entity's state; a
firing whose id is no longer pending (the state was left, or re-entered and
re-armed) is discarded. That makes "an old timer never fires" a property of the
stored state rather than of each scheduler's cancel, which matters for backends
where cancelling is best effort (Celery).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

__all__ = [
    "Clock",
    "FireHandler",
    "ScheduledTimer",
    "Scheduler",
    "deliver",
    "new_timer_id",
    "stop_task",
    "wall_clock",
]

log = logging.getLogger("pystator.runtime")

Clock = Callable[[], float]
"""Seconds since the epoch, as ``time.time``; injected so tests can move time."""

FireHandler = Callable[[str, str, str], Awaitable[Any]]
"""``on_fire(entity_id, event, timer_id)``: what a scheduler calls when a timer is due."""


def wall_clock() -> float:
    """The default clock: wall time, comparable across processes and machines."""
    return time.time()


def new_timer_id() -> str:
    """A timer id that is never reused, so a re-armed timer is a different timer."""
    return uuid.uuid4().hex


@dataclass(frozen=True)
class ScheduledTimer:
    """One pending firing of ``event`` for ``entity_id`` at clock time ``due_at``.

    ``state`` is the state whose entry armed the timer; leaving it cancels the timer.
    """

    timer_id: str
    entity_id: str
    state: str
    event: str
    due_at: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "timer_id": self.timer_id,
            "entity_id": self.entity_id,
            "state": self.state,
            "event": self.event,
            "due_at": self.due_at,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ScheduledTimer:
        return cls(
            timer_id=str(data["timer_id"]),
            entity_id=str(data["entity_id"]),
            state=str(data["state"]),
            event=str(data["event"]),
            due_at=float(data["due_at"]),
        )


@runtime_checkable
class Scheduler(Protocol):
    """Fires timers at their due time by calling ``on_fire``.

    The orchestrator sets ``on_fire`` and calls ``schedule`` / ``cancel`` /
    ``cancel_entity`` after each commit. Implementations take an injectable
    ``clock``. All operations are coroutines because the distributed backends talk
    to a server.
    """

    clock: Clock
    on_fire: FireHandler | None

    async def schedule(self, timer: ScheduledTimer) -> None: ...

    async def cancel(self, timer_id: str) -> None: ...

    async def cancel_entity(self, entity_id: str, state: str | None = None) -> None: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


async def deliver(on_fire: FireHandler | None, timer: ScheduledTimer) -> None:
    """Hand a due timer to a scheduler's ``on_fire``; a failure is logged, not raised.

    A scheduler's loop must outlive one failing handler, or every later timer is lost.
    """
    if on_fire is None:
        log.warning("timer %s is due but no handler is set", timer.timer_id)
        return
    try:
        await on_fire(timer.entity_id, timer.event, timer.timer_id)
    except Exception:
        log.exception("timer %s (%s for %s) failed", timer.timer_id, timer.event, timer.entity_id)


async def stop_task(task: asyncio.Task[None] | None) -> None:
    """Cancel a scheduler's background loop (if any) and wait until it has ended."""
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
